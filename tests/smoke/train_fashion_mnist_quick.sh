# The main job in its --quick setting: trains, saves curves, filters and a checkpoint, and a
# second run loads the checkpoint and evaluates it.
set -e
out=$(mktemp -d)
"$1/examples/train-fashion-mnist" --quick --out "$out" | tee "$out/log.txt"
grep -q "test accuracy" "$out/log.txt"
test -s "$out/model.ckpt" && test -s "$out/curves.svg" && test -s "$out/filters.png"
"$1/examples/train-fashion-mnist" --eval "$out/model.ckpt" | tee "$out/eval.txt"
grep -q "test accuracy" "$out/eval.txt"
rm -rf "$out"
