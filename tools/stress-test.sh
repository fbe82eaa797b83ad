#!/usr/bin/env bash
# Issue 15's flake check: RUNS times, `make test` from a fresh clone of HEAD while `stress-ng --cpu CPUS` loads the
# machine; one line per run (exit code, the test summary, seconds) on stdout and in .data/stress-test.log.
# Exit 1 if any run failed. Installs stress-ng from Debian's packages when it is missing (root).
set -uo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-10}
cpus=${CPUS:-2}
command -v stress-ng > /dev/null || apt-get install -y stress-ng > /dev/null || { echo "stress-ng is missing and could not be installed" >&2; exit 2; }
mkdir -p .data
log=.data/stress-test.log
repo=$(pwd)
# The clones live in /tmp, away from ../shared: point the conformance tests at the checkout's copy.
if [ -z "${ONNX_CONFORMANCE_DIR:-}" ] && [ -d "$repo/../shared/onnx-conformance" ]; then
    export ONNX_CONFORMANCE_DIR=$(cd "$repo/../shared/onnx-conformance" && pwd)
fi
failed=0
for i in $(seq 1 "$runs"); do
    dir=$(mktemp -d /tmp/chain-stress-XXXXXX)
    git clone -q "$repo" "$dir/repo"
    stress-ng --cpu "$cpus" --timeout 7200 > /dev/null 2>&1 &
    stress=$!
    start=$(date +%s)
    (cd "$dir/repo" && make test > "$dir/test.log" 2>&1)
    rc=$?
    kill "$stress" 2> /dev/null; wait "$stress" 2> /dev/null
    summary=$(grep -E '^test: ' "$dir/test.log" | tail -1)
    line="run $i/$runs at $(git -C "$dir/repo" rev-parse --short HEAD): exit $rc, ${summary:-no summary}, $(( $(date +%s) - start )) s"
    echo "$line" | tee -a "$log"
    if [ "$rc" -ne 0 ]; then failed=1; cp "$dir/test.log" ".data/stress-test-run$i.log"; echo "  log kept in .data/stress-test-run$i.log"; fi
    rm -rf "$dir"
done
exit "$failed"
