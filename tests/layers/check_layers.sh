#!/usr/bin/env bash
# The layer rule (docs/design.md, "Layers"): each folder of dagrad/ includes only folders below
# it in this list, and itself. Prints every include that points up (or to an unknown folder)
# and fails; prints "layer check: ok" otherwise.
#   bash tests/layers/check_layers.sh [SOURCE_ROOT]
set -euo pipefail
root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
layers=(base runtime kernels autograd io nn optim data dist viz train explain)
declare -A level
for i in "${!layers[@]}"; do level[${layers[$i]}]=$i; done
top=${#layers[@]}  # dagrad/dagrad.h, the umbrella of everything
bad=0
while IFS= read -r file; do
  rel="${file#"$root"/dagrad/}"
  if [[ "$rel" == */* ]]; then from="${rel%%/*}"; else from=""; fi
  if [ -n "$from" ] && [ -z "${level[$from]+x}" ]; then
    echo "layer check: dagrad/$rel is in dagrad/$from/, which is not a layer (add it to the list)"
    bad=1
    continue
  fi
  from_level=$([ -n "$from" ] && echo "${level[$from]}" || echo "$top")
  while IFS=: read -r line to; do
    if [ -z "${level[$to]+x}" ]; then
      echo "layer check: dagrad/$rel:$line includes dagrad/$to/, which is not a layer"
      bad=1
    elif [ "${level[$to]}" -gt "$from_level" ]; then
      echo "layer check: dagrad/$rel:$line includes dagrad/$to/ (layer ${level[$to]}), above" \
           "dagrad/$from/ (layer $from_level)"
      bad=1
    fi
  done < <(grep -nE '^\s*#\s*include\s*[<"]dagrad/[a-z_]+/' "$file" |
           sed -E 's/^([0-9]+):.*dagrad\/([a-z_]+)\/.*/\1:\2/')
done < <(find "$root/dagrad" -type f \( -name '*.h' -o -name '*.cpp' \) | sort)
if [ "$bad" -ne 0 ]; then exit 1; fi
echo "layer check: ok (${layers[*]})"
