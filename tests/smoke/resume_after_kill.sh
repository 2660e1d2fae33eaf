# A training run killed with SIGKILL in the middle of its second epoch, then resumed from its
# last training state (--resume), ends with the same weights, bit for bit, as a run never
# interrupted (fixed seed, one thread), and the state file it was killed next to still loads.
set -e
bin="$1/examples/train-fashion-mnist"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DAGRAD_NUM_THREADS=1
# 12000 images in batches of 100: 120 iterations per epoch (a few ms each), 360 in all; the
# kill comes at iteration 180, with half an epoch of margin either way.
args=(--model vgg --channels 8,16 --train-size 12000 --batch_size=100 --num_epochs=3
      --num_train_samples=300 --num_val_samples=300 --print_every=1 --augment flip)
"$bin" "${args[@]}" --out "$work/whole" > "$work/whole.log"

"$bin" "${args[@]}" --out "$work/killed" > "$work/killed.log" &
pid=$!
for _ in $(seq 6000); do  # up to 2 minutes
  grep -q "^(Iteration 180 / 360)" "$work/killed.log" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.02
done
kill -9 "$pid"  # fails (and so does the test) if the run already ended
wait "$pid" 2>/dev/null || true
grep -q "^(Epoch 1 / 3)" "$work/killed.log"
if grep -q "^(Epoch 2 / 3)" "$work/killed.log"; then echo "killed too late" >&2; exit 1; fi
test ! -e "$work/killed/model.ckpt"

"$bin" "${args[@]}" --out "$work/killed" --resume "$work/killed/training_state.ckpt" \
  > "$work/resumed.log"
grep "resumed from" "$work/resumed.log"
grep -q "resumed from .* after epoch 1" "$work/resumed.log"
grep "test accuracy" "$work/whole.log" "$work/resumed.log"
cmp "$work/whole/model.ckpt" "$work/killed/model.ckpt"
echo "resumed run is bit-identical to the uninterrupted one"
