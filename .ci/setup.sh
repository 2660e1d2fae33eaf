# Sourced by tests/run.sh and examples/train_fashion_mnist.sh: installs what dagrad needs from
# Debian's archive (only when something is missing, so a second run is quick), then builds.
# Usage: source .ci/setup.sh [extra-debian-packages...]
set -euo pipefail
DAGRAD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DAGRAD_BUILD="${DAGRAD_BUILD:-$DAGRAD_ROOT/build}"
dagrad_packages=(g++ meson ninja-build pkg-config libopenblas-dev libfmt-dev doctest-dev
                 zlib1g-dev nlohmann-json3-dev libzip-dev libpng-dev dataset-fashion-mnist ccache
                 "$@")
source "$DAGRAD_ROOT/.ci/install.sh"
dagrad_install "${dagrad_packages[@]}"
if [ ! -f "$DAGRAD_BUILD/build.ninja" ]; then
  # ccache: a fresh clone (CI) recompiles only what changed; meson's relative paths make the
  # cache hit across clones.
  CXX="${CXX:-ccache g++}" meson setup "$DAGRAD_BUILD" "$DAGRAD_ROOT" --buildtype=release >/dev/null
elif dpkg-query -W -f='${Status}' libopenmpi-dev 2>/dev/null | grep -q "install ok installed" &&
     ! grep -q DAGRAD_HAVE_MPI "$DAGRAD_BUILD/build.ninja"; then
  # Configured before MPI was installed (-Dmpi=auto found none then): look again.
  meson setup --reconfigure "$DAGRAD_BUILD" "$DAGRAD_ROOT" >/dev/null
fi
echo "== building ($DAGRAD_BUILD)"
ninja -C "$DAGRAD_BUILD" >/dev/null
