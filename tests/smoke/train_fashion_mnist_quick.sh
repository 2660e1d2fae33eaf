# The main job in its --quick setting: trains, saves curves, filters and a checkpoint, and a
# second run loads the checkpoint and evaluates it to the same test accuracy. Then a run with
# other stage widths and augmentation, whose checkpoints (final and per epoch) --eval rebuilds
# from their metadata, and the errors for bad flags.
set -e
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bin="$1/examples/train-fashion-mnist"
"$bin" --quick --out "$out" | tee "$out/log.txt"
test -s "$out/model.ckpt" && test -s "$out/curves.svg" && test -s "$out/filters.png"
trained=$(sed -n 's/^test accuracy \([0-9.]*\).*/\1/p' "$out/log.txt")
"$bin" --eval "$out/model.ckpt" | tee "$out/eval.txt"
evaluated=$(sed -n 's/.*, test accuracy \([0-9.]*\)$/\1/p' "$out/eval.txt")
echo "trained $trained, evaluated $evaluated"
test -n "$trained" && test "$trained" = "$evaluated"

"$bin" --quick --train-size 2000 --channels 8,16 --augment flip+crop --out "$out/small" \
  --explain "$out/small/first_batch.html" | tee "$out/small.txt"
grep -q "augmentation: flip+crop" "$out/small.txt"
# --explain: the page of the first minibatch's loss, with a backward run and leaf checks.
grep -q '"label":"loss","order":\[' "$out/small/first_batch.html"
grep -q '"checks":\[{"index":0,' "$out/small/first_batch.html"
"$bin" --eval "$out/small/model.ckpt" | grep -q "test accuracy"
# The per-epoch checkpoints are model_epoch_<e>.ckpt and say which model they hold, so --eval
# needs no --channels either.
test ! -e "$out/small/epoch_epoch_1.ckpt"
"$bin" --eval "$out/small/model_epoch_1.ckpt" | grep -q "test accuracy"

for bad in "--channels 0,16" "--channels 8,x" "--augment sideways" "--model lenet --channels 8"; do
  if "$bin" --quick $bad --out "$out/bad" > "$out/bad.txt" 2>&1; then
    echo "expected '$bad' to fail"; exit 1
  fi
  grep -q "error: .*\(channels\|augment\)" "$out/bad.txt" || { cat "$out/bad.txt"; exit 1; }
done
