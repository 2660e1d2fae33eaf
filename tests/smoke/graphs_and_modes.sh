# graphs-and-modes prints the tape and all three Jacobians, and writes the DOT graph.
set -e
out=$(mktemp -d)
"$1/examples/graphs-and-modes" "$out" > "$out/log.txt"
cat "$out/log.txt"
grep -qi "tape" "$out/log.txt"
grep -qi "jacobian" "$out/log.txt"
test -s "$out/graphs_and_modes.dot"
rm -rf "$out"
