#!/usr/bin/env bash
# Checks that every tracked C++ file is formatted as .clang-format says (clang-format 14, from
# Debian), lists the files that drift, and ends with "format tests: N passed, M failed" (one
# check). To fix: clang-format -i FILE. Usage: bash tests/format/check.sh
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$root/.ci/install.sh"
dagrad_install clang-format
cd "$root"
mapfile -t files < <(git ls-files '*.cpp' '*.h' | grep -v '^tests/fuzz/corpus/')
drift=()
for f in "${files[@]}"; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || drift+=("$f")
done
echo "clang-format: ${#files[@]} files checked, ${#drift[@]} not formatted"
for f in "${drift[@]}"; do echo "  not formatted: $f (clang-format -i $f)"; done
if [ ${#drift[@]} -eq 0 ]; then
  echo "format tests: 1 passed, 0 failed"
else
  echo "format tests: 0 passed, 1 failed"
  exit 1
fi
