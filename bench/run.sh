#!/bin/sh
# The benchmark suite in one command: dagrad and PyTorch side by side, a markdown table at the end.
#
#   bench/run.sh [run_benchmarks.py options...]      e.g. bench/run.sh --rounds 5 --only mlp,cnn
#
# Installs Debian's python3-torch if /usr/bin/python3 cannot import torch, builds a release
# build in $BUILD (default build-release), then runs bench/run_benchmarks.py.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-release}
PY=/usr/bin/python3

if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "installing python3-torch (PyTorch from Debian) ..."
  if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update
  $SUDO apt-get install -y python3-torch
fi

test -d "$BUILD" || meson setup "$BUILD" --buildtype=release
ninja -C "$BUILD"

# Until every bench program is listed in bench/meson.build, build the missing ones by hand
# against the library meson just built.
mkdir -p "$BUILD/bench"
for src in bench/bench_*.cpp; do
  prog=$(basename "$src" .cpp)
  if [ ! -x "$BUILD/bench/$prog" ] || [ "$src" -nt "$BUILD/bench/$prog" ]; then
    echo "building $prog by hand"
    g++ -std=c++20 -O3 -march=native -DNDEBUG -I. "$src" "$BUILD/libdagrad.a" \
      -lfmt -lz -ldl -lpthread -o "$BUILD/bench/$prog"
  fi
done

exec "$PY" bench/run_benchmarks.py --build "$BUILD" "$@"
