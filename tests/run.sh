#!/usr/bin/env bash
# The test command of the README: installs dependencies, builds, runs every unit test (on every
# kernel path), the layer check (tests/layers/run.sh), the example smoke runs, the install tests
# (tests/install/consumers.sh), the MPI tests (tests/dist/run.sh) and the browser test of
# dagrad-explain's page (tests/browser/run.sh), and ends with "tests: N passed, M failed".
source "$(dirname "${BASH_SOURCE[0]}")/../.ci/setup.sh" graphviz cmake libopenmpi-dev openmpi-bin
set +e
cd "$DAGRAD_ROOT"
passed=0
failed=0
# add_counts LOG PATTERN: adds the last "PATTERN N passed, M failed" line of LOG to the totals,
# or counts a failure when there is none (the step crashed).
add_counts() {
  local line
  line=$(grep -E "^$2 *[0-9]+ passed, [0-9]+ failed" "$1" | tail -1)
  if [ -z "$line" ]; then echo "no result line in $1"; failed=$((failed + 1)); return 1; fi
  passed=$((passed + $(echo "$line" | sed -E 's/.*[^0-9]([0-9]+) passed.*/\1/')))
  failed=$((failed + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
}

echo "== unit tests"
"$DAGRAD_BUILD/tests/dagrad-tests" --no-intro=true --duration=false "$@" | tee /tmp/dagrad-tests.log
summary=$(grep -E "^\[doctest\] test cases:" /tmp/dagrad-tests.log | tail -1)
p=$(echo "$summary" | sed -E 's/.*\| *([0-9]+) passed.*/\1/')
f=$(echo "$summary" | sed -E 's/.*\| *([0-9]+) failed.*/\1/')
if [ -z "$summary" ]; then p=0; f=1; echo "unit test binary crashed"; fi
passed=$((passed + p)); failed=$((failed + f))

# The kernel layer's other paths: the unit tests again under each lower instruction set this CPU
# runs (DAGRAD_ISA), so every path is tested wherever CI lands.
best=$("$DAGRAD_BUILD/tools/dagrad-info" --isa-paths | head -1)
for isa in $("$DAGRAD_BUILD/tools/dagrad-info" --isa-paths | tail -n +2); do
  echo "== unit tests on the $isa kernel path (this CPU's best: $best)"
  DAGRAD_ISA=$isa "$DAGRAD_BUILD/tests/dagrad-tests" --no-intro=true --duration=false "$@" \
    > "/tmp/dagrad-tests-$isa.log" 2>&1
  summary=$(grep -E "^\[doctest\] test cases:" "/tmp/dagrad-tests-$isa.log" | tail -1)
  if [ -z "$summary" ]; then
    echo "unit test binary crashed on the $isa path"; tail -20 "/tmp/dagrad-tests-$isa.log"
    failed=$((failed + 1))
    continue
  fi
  echo "$summary"
  grep -B3 -A12 "ERROR" "/tmp/dagrad-tests-$isa.log" | head -60 || true
  passed=$((passed + $(echo "$summary" | sed -E 's/.*\| *([0-9]+) passed.*/\1/')))
  failed=$((failed + $(echo "$summary" | sed -E 's/.*\| *([0-9]+) failed.*/\1/')))
done

echo "== instruction sets of the portable build"
if grep -q -- "-march=native" "$DAGRAD_BUILD/compile_commands.json" 2>/dev/null; then
  echo "skipped: $DAGRAD_BUILD is a -Dnative=true build"
elif [ "$(uname -m)" = x86_64 ]; then
  if bash "$DAGRAD_ROOT/tests/check_isa_objects.sh" "$DAGRAD_BUILD"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
  fi
fi

echo "== layers: no folder includes one above it (tests/layers/run.sh)"
bash "$DAGRAD_ROOT/tests/layers/run.sh" | tee /tmp/dagrad-layers.log
add_counts /tmp/dagrad-layers.log "layer tests:"

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
echo "== install: a temporary prefix, its headers alone, the consumers (examples/consumer)"
bash "$DAGRAD_ROOT/tests/install/consumers.sh" | tee /tmp/dagrad-install.log
add_counts /tmp/dagrad-install.log "install tests:"
echo "== data parallel over MPI (tests/dist/run.sh)"
if [ -x "$DAGRAD_BUILD/tests/dagrad-dist-check" ]; then
  bash "$DAGRAD_ROOT/tests/dist/run.sh" "$DAGRAD_BUILD" | tee /tmp/dagrad-dist.log
  add_counts /tmp/dagrad-dist.log "dist tests:"
else
  echo "skipped: $DAGRAD_BUILD was configured without MPI"
fi
echo "== dagrad-explain's page in headless Chromium (tests/browser/run.sh)"
DAGRAD_BUILD="$DAGRAD_BUILD" bash "$DAGRAD_ROOT/tests/browser/run.sh" | tee /tmp/dagrad-browser.log
add_counts /tmp/dagrad-browser.log "browser tests:"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
