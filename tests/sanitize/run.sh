#!/usr/bin/env bash
# Sanitizer builds of the library, the unit tests and the examples, with clang 16
# (docs/design.md, "Sanitizer builds"):
#   build-asan/  -fsanitize=address,undefined: every unit test on every kernel path this CPU runs,
#                then every example smoke run (tests/smoke/*.sh);
#   build-tsan/  -fsanitize=thread: every unit test (any op may run on the thread pool), then the
#                smoke runs of the examples that train (the pool under real training steps).
# Installs what it needs (only when something is missing), reuses the build dirs, compiles
# through ccache, and ends with "sanitizer tests: N passed, M failed": doctest's test cases
# summed over the runs, one test per smoke run, and one more failure for each run in which a
# sanitizer reported anything or that crashed. Exit status non-zero on any failure.
# Usage: bash tests/sanitize/run.sh [asan] [tsan]   (both when none is named)
# Environment: DAGRAD_SAN_TIMEOUT (seconds per run, default 900); DAGRAD_SAN_DOCTEST, extra
# doctest options for the unit test runs (e.g. -tc='parallel*'); DAGRAD_SAN_SMOKE=0 skips the
# smoke runs.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/tests/sanitize"
t0=$(date +%s)
builds=("$@")
[ ${#builds[@]} -eq 0 ] && builds=(asan tsan)
for b in "${builds[@]}"; do
  case "$b" in asan | tsan) ;; *) echo "unknown build '$b' (asan, tsan)"; exit 2 ;; esac
done

# clang 16, not Debian 12's default clang 14: clang 14 cannot compile the tests that capture a
# structured binding in a lambda (C++20; doctest's CAPTURE/INFO do it). llvm-16 brings
# llvm-symbolizer for the reports' stacks.
source "$root/.ci/install.sh"
set -e
dagrad_install clang-16 libclang-rt-16-dev llvm-16 meson ninja-build pkg-config \
  libopenblas-dev libfmt-dev doctest-dev zlib1g-dev nlohmann-json3-dev libzip-dev libpng-dev \
  dataset-fashion-mnist ccache
set +e
cxx="${DAGRAD_SAN_CXX:-clang++-16}"
# -g puts the build directory into ccache's key; CI builds in a fresh clone each time, so leave
# it out (the debug info's directory only matters to a debugger, not to the symbolized stacks).
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true
symbolizer=/usr/lib/llvm-16/bin/llvm-symbolizer

# Flags of both builds (the sanitizer itself comes from meson's b_sanitize):
#   -O1 -g (optimization=1, debug=true): usual for sanitizers, readable stacks, quick enough;
#     asserts stay on (b_ndebug=if-release drops them only in release builds);
#   -fno-omit-frame-pointer: complete stacks from the fast unwinder;
#   -fno-openmp-simd: cancels the project's -fopenmp-simd, with which clang 16 rejects lambdas
#     that capture structured bindings ("not yet supported in OpenMP"); at -O1 clang does not
#     vectorize those loops anyway;
#   -Wno-unknown-warning-option: node.h silences a g++-only warning by name.
common_args="-fno-omit-frame-pointer -fno-openmp-simd -Wno-unknown-warning-option"

passed=0
failed=0
results=()

# count LABEL PASSED FAILED: adds to the totals and to the closing summary.
count() {
  results+=("$1: $2 passed, $3 failed")
  passed=$((passed + $2))
  failed=$((failed + $3))
}

# configure NAME SANITIZERS EXTRA_CPP_ARGS: sets up build-NAME once and builds the unit tests and
# the examples (not the benchmarks). b_lundef=false: clang links its sanitizer runtimes into
# executables only, so the shared libdagrad has undefined sanitizer symbols by design.
configure() {
  local dir="$root/build-$1"
  if [ ! -f "$dir/build.ninja" ]; then
    CXX="ccache $cxx" meson setup "$dir" "$root" -Doptimization=1 -Ddebug=true \
      -Db_sanitize="$2" -Db_lundef=false -Dmpi=disabled -Dcpp_args="$common_args $3" \
      >"$root/build-$1.setup.log" 2>&1 || { cat "$root/build-$1.setup.log"; return 1; }
    rm -f "$root/build-$1.setup.log"
  fi
  echo "== building build-$1 (clang -fsanitize=$2)"
  local examples  # the examples and the tools (the smoke runs use both)
  examples=$(ninja -C "$dir" -t targets all | sed -nE 's#^((examples|tools)/[^/: ]+): .*#\1#p' | sort -u)
  # shellcheck disable=SC2086
  ninja -C "$dir" tests/dagrad-tests $examples >"$dir/build.log" 2>&1 ||
    { grep -E "error|FAILED" "$dir/build.log" | head -30; return 1; }
}

# A sanitizer's report in LOG (or in the files of log_path, for the smoke runs).
report_pattern="^(==[0-9]+==ERROR: |WARNING: ThreadSanitizer|SUMMARY: [A-Za-z]+Sanitizer)|runtime error:"

# unit_tests LABEL LOG BIN: runs the unit tests (with the environment the caller exported);
# their doctest summary goes to the totals, plus one failure for a sanitizer report or a crash.
unit_tests() {
  local label="$1" log="$2" bin="$3" s rc summary p=0 f=0
  s=$(date +%s)
  # -tse=slow: the suite for tests too slow under a sanitizer (none so far, docs/design.md).
  # shellcheck disable=SC2086
  (cd "$root" && timeout -k 30 "${DAGRAD_SAN_TIMEOUT:-900}" "$bin" --no-intro=true \
    --duration=true -tse=slow ${DAGRAD_SAN_DOCTEST:-}) >"$log" 2>&1
  rc=$?
  summary=$(grep -E "^\[doctest\] test cases:" "$log" | tail -1)
  if [ -n "$summary" ]; then
    p=$(echo "$summary" | sed -E 's/.*\| *([0-9]+) passed.*/\1/')
    f=$(echo "$summary" | sed -E 's/.*\| *([0-9]+) failed.*/\1/')
  fi
  grep -E -B2 -A12 "^\[doctest\] .*ERROR|^.*: ERROR: " "$log" | head -60
  if grep -qE "$report_pattern" "$log" || [ -z "$summary" ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
    echo "$label: a sanitizer report or a crash (exit $rc); log: $log"
    grep -E -A40 "$report_pattern" "$log" | head -100
    [ -z "$summary" ] && tail -20 "$log"
    f=$((f + 1))
  fi
  echo "$label: $p passed, $f failed ($(($(date +%s) - s)) s)"
  count "$label" "$p" "$f"
}

# smoke LABEL BUILD SCRIPTS...: runs each tests/smoke script on BUILD; one test each, failed when
# the script fails or any process it started left a sanitizer report (log_path files: the
# scripts capture or discard the examples' output, and some runs are expected to fail).
smoke() {
  local label="$1" dir="$2" p=0 f=0 name s reports
  shift 2
  [ "${DAGRAD_SAN_SMOKE:-1}" = 0 ] && return 0
  for script in "$@"; do
    name=$(basename "$script" .sh)
    reports="$dir/smoke/$name"
    rm -rf "$reports"
    mkdir -p "$reports"
    s=$(date +%s)
    (cd "$root" && set_options ":log_path=$reports/report" &&
      timeout -k 30 "${DAGRAD_SAN_TIMEOUT:-900}" bash "$script" "$dir") >"$reports/log.txt" 2>&1
    local rc=$?
    if [ "$rc" -eq 0 ] && ! ls "$reports"/report.* >/dev/null 2>&1; then
      echo "$label $name: ok ($(($(date +%s) - s)) s)"
      p=$((p + 1))
    else
      echo "$label $name: FAILED (exit $rc; log and reports in $reports)"
      cat "$reports"/report.* 2>/dev/null | head -80
      tail -15 "$reports/log.txt"
      f=$((f + 1))
    fi
  done
  count "$label smoke runs" "$p" "$f"
}

for b in "${builds[@]}"; do
  if [ "$b" = asan ]; then
    # float-cast-overflow: an out-of-range float-to-integer conversion (UB); not in g++'s
    # -fsanitize=undefined, in clang's, named here so that it stays on. -fno-sanitize-recover=all: any UBSan
    # report stops the program, so it cannot pass unnoticed.
    if ! configure asan address,undefined "-fsanitize=float-cast-overflow -fno-sanitize-recover=all"; then
      count "asan: build failed" 0 1
      continue
    fi
    # set_options [:log_path=P]: the smoke runs write reports to files (see smoke()), the unit
    # tests to stderr, next to the test case.
    # allocator_may_return_null=1: an allocation beyond memory returns null, as malloc does,
    # instead of aborting; dagrad turns that into its "cannot allocate" error, which
    # tests/autograd/test_sizes.cpp checks.
    set_options() {
      export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:strict_string_checks=1:external_symbolizer_path=$symbolizer${1:-}"
      export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
      export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$here/ubsan.supp:external_symbolizer_path=$symbolizer${1:-}"
    }
    set_options
    bin="$root/build-asan/tests/dagrad-tests"
    # Every kernel path this CPU runs, as tests/run.sh does (the first is the default one).
    for isa in $("$root/build-asan/tools/dagrad-info" --isa-paths); do
      echo "== ASan+UBSan: unit tests on the $isa kernel path"
      DAGRAD_ISA=$isa unit_tests "asan+ubsan ($isa)" "$root/build-asan/tests-$isa.log" "$bin"
    done
    echo "== ASan+UBSan: example smoke runs"
    smoke "asan+ubsan" "$root/build-asan" "$root"/tests/smoke/*.sh
    unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
  else
    if ! configure tsan thread ""; then
      count "tsan: build failed" 0 1
      continue
    fi
    set_options() {
      # halt_on_error=0: every race is listed; the run still fails (exit code 66).
      export TSAN_OPTIONS="allocator_may_return_null=1:halt_on_error=0:exitcode=66:second_deadlock_stack=1:suppressions=$here/tsan.supp:external_symbolizer_path=$symbolizer${1:-}"
    }
    set_options
    echo "== TSan: unit tests"
    unit_tests "tsan" "$root/build-tsan/tests.log" "$root/build-tsan/tests/dagrad-tests"
    echo "== TSan: smoke runs of the examples that train"
    smoke "tsan" "$root/build-tsan" "$root"/tests/smoke/{overfit_small,compare_optimizers,fc_batchnorm_dropout}.sh
    unset TSAN_OPTIONS
  fi
done

printf '%s\n' "${results[@]}"
echo "time: $(($(date +%s) - t0)) s"
echo "sanitizer tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
