# Sourced by .ci/setup.sh and tests/cross/aarch64.sh: dagrad_install [--arch A] PACKAGES...
# installs the Debian packages that are missing (none: nothing runs, so a second call is
# quick), after enabling the foreign architecture A (e.g. arm64 for multiarch packages).
dagrad_install() {
  local arch=""
  if [ "${1:-}" = "--arch" ]; then arch="$2"; shift 2; fi
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ -n "$arch" ] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    $sudo dpkg --add-architecture "$arch"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}
