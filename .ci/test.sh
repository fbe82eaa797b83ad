#!/usr/bin/env bash
# Runs every test project and ends with one summary line: "test: N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
dotnet test Chain.sln -c "${CONFIG:-Debug}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# dotnet test prints one line per test assembly: "Passed!  - Failed: 0, Passed: 76, Skipped: 0, ..."
read -r passed failed skipped < <(grep -E '^(Passed|Failed)!' "$log" | sed -E 's/.*Failed: *([0-9]+), Passed: *([0-9]+), Skipped: *([0-9]+).*/\2 \1 \3/' \
    | awk '{p+=$1; f+=$2; s+=$3} END {print p+0, f+0, s+0}')
assemblies=$(grep -cE '^(Passed|Failed)!' "$log")
echo
echo "test assemblies: $assemblies"
echo "test: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then
    echo "no test ran: failing" >&2
    exit 1
fi
exit "$status"
