#!/usr/bin/env bash
# What CI runs for the fuzz targets: tests/fuzz/ci.sh BUILD_DIR
#  (a) replays every committed corpus, tests/fuzz/corpus/<target>/, through the replay drivers
#      of the normal build in BUILD_DIR (tests/fuzz/dagrad-fuzz-replay-<target>; built here if
#      missing), one test per target;
#  (b) builds the clang libFuzzer build (tests/fuzz/run.sh, in build-fuzz/) and fuzzes each
#      target for DAGRAD_FUZZ_SECONDS (20) seconds, one test per target.
# Ends with "fuzz tests: N passed, M failed"; exits 1 when something failed.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$here/targets.sh"
build="${1:?usage: tests/fuzz/ci.sh BUILD_DIR}"
build="$(cd "$build" && pwd)"
passed=0
failed=0

echo "== fuzz corpus replay ($build)"
ninja -C "$build" "${fuzz_targets[@]/#/tests/fuzz/dagrad-fuzz-replay-}" > /tmp/dagrad-fuzz-replay-build.log 2>&1 ||
  { tail -20 /tmp/dagrad-fuzz-replay-build.log; echo "building the replay drivers failed"; }
for t in "${fuzz_targets[@]}"; do
  log="/tmp/dagrad-fuzz-replay-$t.log"
  if "$build/tests/fuzz/dagrad-fuzz-replay-$t" "$root/tests/fuzz/corpus/$t" > "$log" 2>&1; then
    echo "replay $t: ok ($(tail -1 "$log"))"
    passed=$((passed + 1))
  else
    echo "replay $t: FAILED (log: $log)"
    tail -15 "$log"
    failed=$((failed + 1))
  fi
done

echo "== fuzzing, ${DAGRAD_FUZZ_SECONDS:-20} s per target"
bash "$here/run.sh" "${DAGRAD_FUZZ_SECONDS:-20}" | tee /tmp/dagrad-fuzz-run.log
for t in "${fuzz_targets[@]}"; do
  if grep -qE "^fuzz $t: clean" /tmp/dagrad-fuzz-run.log; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))  # a finding, or the fuzz build failed
  fi
done
echo "fuzz tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
