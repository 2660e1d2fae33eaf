#!/usr/bin/env bash
# Cross-compiles dagrad and its unit tests for aarch64 with Debian's cross g++, runs the test
# binary under qemu-user and ends with "aarch64 tests: N passed, M failed". Installs what it needs
# (only when something is missing) and reuses the build dir, so a second run is harmless.
# Usage: bash tests/cross/aarch64.sh [doctest options...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${DAGRAD_CROSS_BUILD:-$root/build-aarch64}"
log="${DAGRAD_CROSS_LOG:-$build/dagrad-tests.log}"
t0=$(date +%s)

# arm64 -dev packages come from Debian's multiarch archive; doctest and nlohmann/json are
# header-only (arch: all, their .pc files in /usr/share/pkgconfig, which the cross file searches),
# so the host's copy serves both. The tests run on the multiarch runtime (libc6:arm64, libstdc++6:arm64), see
# aarch64-linux-gnu.ini. binfmt may be unusable in a container, so qemu-aarch64 is run by name.
host_packages=(g++-aarch64-linux-gnu qemu-user meson ninja-build pkg-config doctest-dev
               nlohmann-json3-dev ccache)
arm64_packages=(libopenblas-dev:arm64 libfmt-dev:arm64 zlib1g-dev:arm64 libzip-dev:arm64
                libpng-dev:arm64 libc6:arm64 libstdc++6:arm64)
source "$root/.ci/install.sh"
dagrad_install "${host_packages[@]}"
dagrad_install --arch arm64 "${arm64_packages[@]}"
t1=$(date +%s)

if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" "$root" --cross-file "$root/tests/cross/aarch64-linux-gnu.ini" \
    --buildtype=release >/dev/null
fi
echo "== building the library and the unit tests ($build)"
# Only what the tests need: the examples and benchmarks would double the build time.
ninja -C "$build" tests/dagrad-tests >/dev/null
t2=$(date +%s)

echo "== unit tests under qemu-aarch64 (log: $log)"
set +e
# -L /: the same runtime as the exe_wrapper of the cross file. doctest's exit code is not used:
# the summary line is the verdict, and its absence means the binary crashed or hung. A guest
# deadlocked in futexes once outlived SIGTERM, hence the KILL 30 s later. -tse=slow: the tests
# of full-size models (gigabytes of float64 weights) run natively only.
(cd "$root" && timeout -k 30 "${DAGRAD_CROSS_TIMEOUT:-1800}" \
  qemu-aarch64 -L / "$build/tests/dagrad-tests" --no-intro=true -tse=slow "$@") >"$log" 2>&1
t3=$(date +%s)
grep -E "FAILED|ERROR|CRASHED" "$log" | head -40
summary=$(grep -E "^\[doctest\] test cases:" "$log" | tail -1)
if [ -n "$summary" ]; then
  passed=$(echo "$summary" | sed -E 's/.*\| *([0-9]+) passed.*/\1/')
  failed=$(echo "$summary" | sed -E 's/.*\| *([0-9]+) failed.*/\1/')
else
  echo "the test binary crashed or hung (no doctest summary); see $log"
  tail -20 "$log"
  passed=0 failed=1
fi
echo "times: install (or check) $((t1 - t0)) s, configure+build $((t2 - t1)) s, tests $((t3 - t2)) s," \
  "total $((t3 - t0)) s"
echo "aarch64 tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
