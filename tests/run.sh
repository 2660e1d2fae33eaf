#!/usr/bin/env bash
# The test command of the README: installs dependencies, builds, runs every unit test and the
# example smoke runs, and ends with "tests: N passed, M failed".
source "$(dirname "${BASH_SOURCE[0]}")/../.ci/setup.sh" graphviz
set +e
cd "$DAGRAD_ROOT"
passed=0
failed=0

echo "== unit tests"
"$DAGRAD_BUILD/tests/dagrad-tests" --no-intro=true --duration=false "$@" | tee /tmp/dagrad-tests.log
summary=$(grep -E "^\[doctest\] test cases:" /tmp/dagrad-tests.log | tail -1)
p=$(echo "$summary" | sed -E 's/.*\| *([0-9]+) passed.*/\1/')
f=$(echo "$summary" | sed -E 's/.*\| *([0-9]+) failed.*/\1/')
if [ -z "$summary" ]; then p=0; f=1; echo "unit test binary crashed"; fi
passed=$((passed + p)); failed=$((failed + f))

# Each example must run to the end (exit 0); its output goes to a log.
smoke() {
  local name="$1"; shift
  if "$@" > "/tmp/dagrad-smoke-$name.log" 2>&1; then
    echo "example $name: ok"; passed=$((passed + 1))
  else
    echo "example $name: FAILED (log: /tmp/dagrad-smoke-$name.log)"; tail -20 "/tmp/dagrad-smoke-$name.log"
    failed=$((failed + 1))
  fi
}
echo "== examples"
for ex in "$DAGRAD_ROOT"/tests/smoke/*.sh; do
  [ -e "$ex" ] || continue
  smoke "$(basename "$ex" .sh)" bash "$ex" "$DAGRAD_BUILD"
done
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
