#!/usr/bin/env bash
# The layer check on this tree, and on a copy with one include turned upward (kernels/ including
# autograd/), which it must refuse naming the file and the line. Ends with
# "layer tests: N passed, M failed".
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
passed=0
failed=0
result() { if [ "$1" -eq 0 ]; then passed=$((passed + 1)); echo "ok: $2"; else failed=$((failed + 1)); echo "FAILED: $2"; fi; }

bash "$here/check_layers.sh" "$root"
result $? "the tree keeps the layer rule"

copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
mkdir -p "$copy/dagrad"
cp -r "$root/dagrad/." "$copy/dagrad/"
sed -i '0,/^#include "dagrad\//s//#include "dagrad\/autograd\/tensor.h"\n#include "dagrad\//' \
  "$copy/dagrad/kernels/pool.h"
out=$(bash "$here/check_layers.sh" "$copy" 2>&1)
status=$?
echo "$out"
[ "$status" -ne 0 ] && echo "$out" | grep -q "dagrad/kernels/pool.h:[0-9]* includes dagrad/autograd/"
result $? "an upward include (kernels/ -> autograd/) is refused, naming the file and line"

mkdir -p "$copy/dagrad/misc" && echo '#pragma once' > "$copy/dagrad/misc/x.h"
cp "$root/dagrad/kernels/pool.h" "$copy/dagrad/kernels/pool.h"
out=$(bash "$here/check_layers.sh" "$copy" 2>&1)
status=$?
[ "$status" -ne 0 ] && echo "$out" | grep -q "dagrad/misc/, which is not a layer"
result $? "a folder outside the layer list is refused"

echo "layer tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
