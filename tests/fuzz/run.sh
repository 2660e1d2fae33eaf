#!/usr/bin/env bash
# Fuzzes the file readers with libFuzzer, clang's ASan and UBSan:
#   tests/fuzz/run.sh [SECONDS_PER_TARGET (600)] [TARGET...]   (targets: tests/fuzz/targets.sh)
#
# Configures and builds the libFuzzer build in build-fuzz/ (DAGRAD_FUZZ_BUILD overrides):
# CXX="ccache clang++-16" (the sanitizer builds' compiler, tests/sanitize/run.sh), -Dfuzzing=true
# (coverage instrumentation, tests/fuzz/meson.build links libFuzzer), -Db_sanitize=address,undefined,
# debugoptimized. A portable build like CI's: clang compiles the kernels' AVX2/AVX-512 copies
# through the `#pragma clang attribute` regions of dagrad/kernels/isa_begin.h.
#
# Each target runs on a scratch copy of its committed corpus (tests/fuzz/corpus/<target>/, which
# is never grown automatically) in build-fuzz/fuzz-runs/<target>/, where its log and any crash
# file stay. A finding is anything libFuzzer stops on: a sanitizer report, a crash or abort
# (including the targets' own on std::bad_alloc), a leak, an input running over 10 s, more than
# 2 GB of memory or a single allocation above it. Prints one line per target, then
# "fuzz: N targets clean, M with findings"; exits 1 when there are findings.
#
# A finding is reproduced by running the fuzzer on the crash file, minimized with
#   build-fuzz/tests/fuzz/dagrad-fuzz-<target> -minimize_crash=1 -runs=10000 CRASH_FILE
# and, once fixed, added to tests/fuzz/corpus/<target>/ as repro-<what> so that every build
# replays it (tests/fuzz/ci.sh).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
source "$here/targets.sh"
seconds="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${fuzz_targets[@]}")
build="${DAGRAD_FUZZ_BUILD:-$root/build-fuzz}"

for t in "${targets[@]}"; do
  [ -n "${fuzz_max_len[$t]:-}" ] || { echo "run.sh: unknown target '$t' (${fuzz_targets[*]})"; exit 2; }
done

source "$root/.ci/install.sh"
dagrad_install clang-16 libclang-rt-16-dev meson ninja-build pkg-config libopenblas-dev libfmt-dev \
  doctest-dev zlib1g-dev nlohmann-json3-dev libzip-dev libpng-dev ccache
# -g puts the build directory into ccache's key; CI builds in a fresh clone each time, so leave
# it out (the debug info's directory is only cosmetic for the sanitizers' symbolized stacks).
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true
if [ ! -f "$build/build.ninja" ]; then
  echo "== configuring the libFuzzer build ($build)"
  CXX="ccache clang++-16" meson setup "$build" "$root" --buildtype=debugoptimized -Dfuzzing=true \
    -Db_sanitize=address,undefined -Dmpi=disabled > /tmp/dagrad-fuzz-setup.log 2>&1 ||
    { cat /tmp/dagrad-fuzz-setup.log; echo "fuzz: 0 targets clean, ${#targets[@]} with findings (configure failed)"; exit 1; }
fi
echo "== building the fuzz targets ($build)"
if ! ninja -C "$build" "${targets[@]/#/tests/fuzz/dagrad-fuzz-}" > "$build/fuzz-build.log" 2>&1; then
  grep -E "error|FAILED" "$build/fuzz-build.log" | head -30
  echo "fuzz: 0 targets clean, ${#targets[@]} with findings (build failed: $build/fuzz-build.log)"
  exit 1
fi

clean=0
findings=0
for t in "${targets[@]}"; do
  work="$build/fuzz-runs/$t"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  cp "$root/tests/fuzz/corpus/$t/"* "$work/corpus/"
  dict=()
  [ -f "$here/dict/$t.dict" ] && dict=("-dict=$here/dict/$t.dict")
  # -close_fd_mask=1: the targets' stdout (the cli target's --help) is noise; libFuzzer reports
  # on stderr. Leaks are findings too (ASan's leak check runs at each crash and at exit).
  "$build/tests/fuzz/dagrad-fuzz-$t" "$work/corpus" "${dict[@]}" \
    -max_total_time="$seconds" -max_len="${fuzz_max_len[$t]}" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -close_fd_mask=1 -artifact_prefix="$work/artifacts/" \
    > "$work/log" 2>&1
  rc=$?
  execs=$(grep -E "^stat::number_of_executed_units:" "$work/log" | tail -1 | awk '{print $2}')
  crash=$(ls "$work/artifacts/" 2>/dev/null | grep -Ev "^slow-unit-" | head -1)
  if [ "$rc" -eq 0 ] && [ -z "$crash" ]; then
    echo "fuzz $t: clean, ${execs:-?} executions in ${seconds} s"
    clean=$((clean + 1))
  else
    echo "fuzz $t: FINDING (exit $rc) after ${execs:-?} executions: ${crash:+$work/artifacts/$crash}"
    # The report and its first frames in dagrad's code (libFuzzer's own frames left out).
    grep -E "^(==[0-9]+==ERROR|SUMMARY|fuzz: |.*runtime error)|^    #[0-9]+ .* in (dagrad|LLVMFuzzer)" \
      "$work/log" | head -12
    echo "  log: $work/log"
    findings=$((findings + 1))
  fi
done
echo "fuzz: $clean targets clean, $findings with findings"
[ "$findings" -eq 0 ]
