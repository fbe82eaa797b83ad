#!/usr/bin/env bash
# Runs one fuzz target of tools/Chain.Fuzz under afl++ for a while (SharpFuzz instruments the project's assemblies).
# usage: tools/fuzz.sh TARGET SECONDS [OUT_DIR]      (make fuzz TARGET=block SECONDS=600)
# Sets itself up: afl++ from Debian's packages, the SharpFuzz instrumenter from the NuGet feed (a local tool path).
# Findings land in OUT_DIR/default/crashes; reproduce one with: dotnet artifacts/fuzz/chain-fuzz.dll run TARGET FILE
set -euo pipefail
target=${1:?usage: tools/fuzz.sh TARGET SECONDS [OUT_DIR]}
seconds=${2:-600}
root=$(cd "$(dirname "$0")/.." && pwd)
out=${3:-$root/artifacts/fuzz-findings/$target}
# FUZZ_BUILD: a separate build folder per concurrent campaign (two targets at once on one machine).
build=${FUZZ_BUILD:-$root/artifacts/fuzz}
tool=$root/artifacts/sharpfuzz-tool

if ! command -v afl-fuzz >/dev/null; then
  echo "installing afl++ (Debian package)"
  if [ "$(id -u)" = 0 ]; then apt-get install -y afl++ >/dev/null; else sudo apt-get install -y afl++ >/dev/null; fi
fi
if [ ! -x "$tool/sharpfuzz" ]; then
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tool" >/dev/null
fi

rm -rf "$build"
dotnet publish "$root/tools/Chain.Fuzz" -c Release -o "$build" --nologo -v quiet
seeds=$(mktemp -d)
dotnet "$build/chain-fuzz.dll" seeds "$target" "$seeds"   # the plain build: instrumented code runs only under afl
# Instrument a copy: what strangers' bytes reach (never the tool code itself).
rm -rf "$build-afl" && cp -r "$build" "$build-afl"
for dll in Chain.Core Chain.Network Chain.Consensus Chain.Inference Chain.Node; do
  "$tool/sharpfuzz" "$build-afl/$dll.dll" >/dev/null
done
mkdir -p "$out"
# No CPU binding: afl-fuzz binds each instance to a free core and refuses a third on two cores; campaigns here share.
export AFL_NO_AFFINITY=1 AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1
afl-fuzz -V "$seconds" -i "$seeds" -o "$out" -t 10000 -m none -- dotnet "$build-afl/chain-fuzz.dll" afl "$target" 2>&1 | grep -v "Fuzzing test case" | tail -n 6 || true
stats="$out/default/fuzzer_stats"
if [ -f "$stats" ]; then
  grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg)' "$stats"
  crashes=$(grep '^saved_crashes' "$stats" | awk '{print $3}')
  [ "${crashes:-0}" = 0 ] || { echo "FINDINGS: $crashes crash(es) in $out/default/crashes"; exit 1; }
fi
