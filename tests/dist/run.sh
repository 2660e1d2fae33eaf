#!/usr/bin/env bash
# Data parallel over MPI (2 processes on this machine), run by tests/run.sh when the build has
# MPI. Ends with "dist tests: N passed, M failed".
#   - tests/dist/dist_check.cpp: the collectives; 2 processes = 1 process (float64, 1e-12);
#     the batch-norm bound;
#   - a 2-process training run whose rank 1 is killed (SIGKILL) mid-epoch: mpirun must end the
#     job non-zero within 60 s naming the lost rank; the last training state still loads, and
#     resuming from it on 2 processes ends bit-identical to a run never interrupted;
#   - resuming that state on 1 process, or with a state from another model, is refused and
#     leaves the state file as it was; an unreachable host is a clear mpirun error.
# Usage: bash tests/dist/run.sh BUILD-DIR
set -uo pipefail
build="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi=(mpirun -np 2 --oversubscribe --bind-to none -x DAGRAD_NUM_THREADS=1)
bin="$build/examples/train-fashion-mnist"
passed=0
failed=0
result() {  # result OK-STATUS DESCRIPTION
  if [ "$1" -eq 0 ]; then echo "dist $2: ok"; passed=$((passed + 1));
  else echo "dist $2: FAILED"; failed=$((failed + 1)); fi
}

"${mpi[@]}" "$build/tests/dagrad-dist-check" > "$work/check.log" 2>&1
cat "$work/check.log" | grep -v "^$"
line=$(grep -E "^dist tests: [0-9]+ passed, [0-9]+ failed" "$work/check.log")
if [ -n "$line" ]; then
  passed=$((passed + $(echo "$line" | sed -E 's/^dist tests: ([0-9]+) passed.*/\1/')))
  failed=$((failed + $(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')))
else
  failed=$((failed + 1))
fi

# 30000 images, global batch 100: 300 steps per epoch (about a second on 2 processes); rank 1
# dies early in the second epoch, just after the first epoch's training state was written.
args=(--model vgg --channels 8,16 --train-size 30000 --batch_size=100 --num_epochs=3
      --num_train_samples=300 --num_val_samples=300)
"${mpi[@]}" "$bin" "${args[@]}" --out "$work/whole" > "$work/whole.log" 2>&1
result $? "2-process training run"

"${mpi[@]}" "$bin" "${args[@]}" --out "$work/killed" > "$work/killed.log" 2>&1 &
launcher=$!
for _ in $(seq 6000); do
  [ -e "$work/killed/training_state.ckpt" ] && break
  kill -0 "$launcher" 2>/dev/null || break
  sleep 0.02
done
sleep 0.2
rank1=""
for pid in $(pgrep -f "$work/killed"); do
  tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && rank1=$pid
done
kill -9 "$rank1"
start=$(date +%s)
for _ in $(seq 600); do kill -0 "$launcher" 2>/dev/null || break; sleep 0.1; done
wait "$launcher"
status=$?
seconds=$(( $(date +%s) - start ))
echo "rank 1 (pid $rank1) killed: mpirun exited with status $status after ${seconds} s"
grep -m1 -i "rank 1" "$work/killed.log"
[ -n "$rank1" ] && [ "$status" -ne 0 ] && [ "$seconds" -le 60 ] && grep -qi "rank 1" "$work/killed.log" &&
  ! grep -aq "(Epoch 2 / 3)" "$work/killed.log"
result $? "a lost rank ends the job non-zero within 60 s, naming it"

state="$work/killed/training_state.ckpt"
cp "$state" "$work/state.copy"
"$bin" "${args[@]}" --out "$work/killed" --resume "$state" > "$work/one.log" 2>&1
one=$?
grep "saved with world size 2 but this run has 1" "$work/one.log"
[ "$one" -ne 0 ] && grep -q "saved with world size 2 but this run has 1" "$work/one.log" &&
  cmp -s "$state" "$work/state.copy"
result $? "resuming on another number of processes is refused, the state untouched"

"${mpi[@]}" "$bin" --model lenet --train-size 30000 --batch_size=100 --num_epochs=3 \
  --out "$work/other" --resume "$state" > "$work/other.log" 2>&1
other=$?
[ "$other" -ne 0 ] && grep -q "it was saved with the model VGGNet" "$work/other.log" &&
  cmp -s "$state" "$work/state.copy"
result $? "resuming another model's state is refused"

"${mpi[@]}" "$bin" "${args[@]}" --out "$work/killed" --resume "$state" > "$work/resumed.log" 2>&1 &&
  grep -q "resumed from .* after epoch 1" "$work/resumed.log" &&
  cmp "$work/whole/model.ckpt" "$work/killed/model.ckpt"
result $? "resumed on 2 processes: bit-identical to the uninterrupted run"

timeout 60 mpirun -np 2 --host dagrad-unreachable-host:2 "$bin" --quick > "$work/host.log" 2>&1
host=$?
[ "$host" -ne 0 ] && [ "$host" -ne 124 ] && grep -q "unable to reliably start" "$work/host.log"
result $? "an unreachable host is an mpirun error, not a hang"

echo "dist tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
