# overfit-small must memorize 50 Fashion-MNIST images (training accuracy 1.0) and save curves.
set -e
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
log=$("$1/examples/overfit-small" --quick --out "$out")
echo "$log"
echo "$log" | grep -q "^train accuracy 1.0000$"
test -s "$out/curves.svg"
