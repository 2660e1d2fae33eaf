# compare-optimizers trains one FullyConnectedNet with four update rules and saves two SVGs.
set -e
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
log=$("$1/examples/compare-optimizers" --quick --out "$out")
echo "$log"
for rule in sgd sgd_momentum rmsprop adam; do
  echo "$log" | grep -qE "^$rule +[0-9.e+-]+ +[0-9.]+ +[0-9.]+ +[0-9.]+" ||
    { echo "no result row for $rule" >&2; exit 1; }
done
# Even the quick run separates the rules: adam is well above chance (0.1) on validation.
adam_val=$(echo "$log" | awk '$1 == "adam" && NF == 6 {print $5}')
awk -v v="$adam_val" 'BEGIN { exit !(v > 0.3) }'
test -s "$out/loss.svg"
test -s "$out/accuracy.svg"
grep -q "rmsprop" "$out/loss.svg"
