#!/usr/bin/env bash
# The benchmark suite in one command: dagrad and PyTorch side by side, a markdown table at the end.
#
#   bash bench/run.sh [run_benchmarks.py options...]     e.g. bash bench/run.sh --rounds 5 --only mlp,cnn
#   bash bench/run.sh --isa all                          every ISA path this CPU runs, one table each
#
# Installs what is missing (dagrad's build dependencies and Debian's python3-torch), builds
# the release build (build/, or $DAGRAD_BUILD) with the bench programs, then runs
# bench/run_benchmarks.py. Works on any x86-64 CPU: each side is held to the ISA path of the
# table (--isa; default: the best path, plus avx2 on an AVX-512 CPU) and PyTorch's OpenBLAS core
# is set only where Debian's OpenBLAS would misdetect the CPU, never to one the CPU cannot run.
# On the best path it also runs a -Dnative=true build of the bench programs (build-native/, or
# $DAGRAD_NATIVE_BUILD) alternated with the portable one, and prints their ratio.
# Run it on an otherwise idle machine.
source "$(dirname "${BASH_SOURCE[0]}")/../.ci/setup.sh" python3-torch libopenmpi-dev openmpi-bin
cd "$DAGRAD_ROOT"
native="${DAGRAD_NATIVE_BUILD:-$DAGRAD_ROOT/build-native}"
if [ ! -f "$native/build.ninja" ]; then
  meson setup "$native" "$DAGRAD_ROOT" --buildtype=release -Dnative=true >/dev/null
fi
targets=()
for b in bench/bench_*.cpp; do targets+=("bench/$(basename "$b" .cpp)"); done
echo "== building the -march=native bench programs ($native)"
ninja -C "$native" "${targets[@]}" >/dev/null
/usr/bin/python3 bench/run_benchmarks.py --build "$DAGRAD_BUILD" --native-build "$native" "$@" || exit $?
# The data-parallel row: the main-job epoch on 2 MPI processes against 1 (bench/data_parallel.py).
/usr/bin/python3 bench/data_parallel.py --build "$DAGRAD_BUILD"
