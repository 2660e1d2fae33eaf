#!/usr/bin/env bash
# Installs dagrad into a temporary prefix and uses it the way another project would:
#   - every installed header compiles on its own with -Wall -Wextra -pedantic -Werror;
#   - examples/consumer/{cmake,meson,make} build against the prefix and train (shared library;
#     CMake once more with dagrad::dagrad_static);
#   - the meson consumer once more with no installed dagrad, taking this tree as its subproject.
# Needs cmake (installed by tests/run.sh). Ends with "install tests: N passed, M failed".
# Usage: bash tests/install/consumers.sh [WORKDIR]   (default: <root>/build-install)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
work="${1:-$root/build-install}"
prefix="$work/prefix"
passed=0
failed=0
mkdir -p "$work"
check() {  # check NAME COMMAND...: runs it with its output in a log, counts the result
  local name="$1"; shift
  if "$@" > "$work/$name.log" 2>&1; then
    echo "install $name: ok ($(tail -1 "$work/$name.log"))"; passed=$((passed + 1))
  else
    echo "install $name: FAILED (log: $work/$name.log)"; tail -20 "$work/$name.log"
    failed=$((failed + 1))
  fi
}

# The library built on its own for this prefix: the same compile commands as build/, so ccache
# makes it a link step; only what `meson install` installs is built.
install_prefix() {
  if [ ! -f "$work/lib/build.ninja" ]; then
    CXX="${CXX:-ccache g++}" meson setup "$work/lib" "$root" --buildtype=release \
      --prefix="$prefix" || return 1
  fi
  local targets=(dagrad/libdagrad.a "dagrad/libdagrad.so.$(meson introspect --projectinfo \
    "$work/lib" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')"
    tools/dagrad-info tools/dagrad-explain)
  # With MPI found, the separate dagrad_mpi library is installed too.
  grep -q "^build dagrad/libdagrad_mpi.a:" "$work/lib/build.ninja" && targets+=(dagrad/libdagrad_mpi.a)
  ninja -C "$work/lib" "${targets[@]}" || return 1
  rm -rf "$prefix"
  meson install -C "$work/lib" --no-rebuild --quiet || return 1
  "$prefix/bin/dagrad-info"
  # The installed explorer runs from the prefix.
  "$prefix/bin/dagrad-explain" 'f = x*y + sin(x)' --at x=1,y=2 | grep -q "forward vs reverse"
}

# Each installed header alone in a translation unit, with only the prefix on the include path.
headers_alone() {
  local inc="$prefix/include" h n=0
  for h in $(cd "$inc" && find dagrad -name '*.h' | sort); do
    echo "#include <$h>" | g++ -std=c++20 -Wall -Wextra -pedantic -Werror -fsyntax-only \
      -x c++ -I"$inc" - || { echo "header $h does not compile alone"; return 1; }
    n=$((n + 1))
  done
  [ -n "$(find "$inc/dagrad" -path '*kernels*')" ] && { echo "private kernel headers installed"; return 1; }
  echo "$n installed headers compile alone"
}

pc_dir() { dirname "$(find "$prefix" -name dagrad.pc | head -1)"; }

consumer_cmake() {  # consumer_cmake BUILD-DIR [extra cmake args]
  local dir="$1"; shift
  rm -rf "$dir"
  cmake -S "$root/examples/consumer/cmake" -B "$dir" -DCMAKE_PREFIX_PATH="$prefix" "$@" &&
    cmake --build "$dir" && "$dir/train_two_layer"
}
consumer_meson() {
  rm -rf "$work/meson"
  PKG_CONFIG_PATH="$(pc_dir)" meson setup "$work/meson" "$root/examples/consumer/meson" \
    --wrap-mode=nofallback && ninja -C "$work/meson" && "$work/meson/train_two_layer"
}
consumer_make() {
  rm -rf "$work/make" && cp -r "$root/examples/consumer/make" "$work/make" &&
    cp "$root/examples/consumer/train_two_layer.cpp" "$work/" &&
    PKG_CONFIG_PATH="$(pc_dir)" make -C "$work/make" && "$work/make/train_two_layer"
}
# No dagrad.pc in sight: meson takes subprojects/dagrad (a link to this tree) and builds it.
consumer_meson_subproject() {
  local src="$work/subproject-src"
  rm -rf "$src" "$work/meson-sub"
  mkdir -p "$src/meson/subprojects" && cp "$root/examples/consumer/meson/meson.build" "$src/meson/" &&
    cp "$root/examples/consumer/train_two_layer.cpp" "$src/" &&
    ln -s "$root" "$src/meson/subprojects/dagrad" &&
    CXX="${CXX:-ccache g++}" meson setup "$work/meson-sub" "$src/meson" --force-fallback-for=dagrad &&
    grep -q "Executing subproject dagrad" "$work/meson-sub/meson-logs/meson-log.txt" &&
    ninja -C "$work/meson-sub" && "$work/meson-sub/train_two_layer"
}

check prefix install_prefix
if [ "$failed" -eq 0 ]; then
  check headers headers_alone
  check consumer-cmake consumer_cmake "$work/cmake"
  check consumer-cmake-static consumer_cmake "$work/cmake-static" -DDAGRAD_STATIC=ON
  check consumer-meson consumer_meson
  check consumer-make consumer_make
fi
check consumer-meson-subproject consumer_meson_subproject
echo "install tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
