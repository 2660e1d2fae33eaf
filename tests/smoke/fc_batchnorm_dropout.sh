# fc-batchnorm-dropout trains a FullyConnectedNet with and without batch norm + dropout.
set -e
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
log=$("$1/examples/fc-batchnorm-dropout" --quick --out "$out")
echo "$log"
echo "$log" | grep -qE "^plain +[0-9.]+ +[0-9.]+" || { echo "no result row: plain" >&2; exit 1; }
echo "$log" | grep -qE "^batchnorm_dropout +[0-9.]+ +[0-9.]+" ||
  { echo "no result row: batchnorm_dropout" >&2; exit 1; }
for f in plain batchnorm_dropout comparison; do test -s "$out/$f.svg"; done
