# graphs-and-modes prints the tape and all three Jacobians, and writes the DOT graph.
set -e
out=$(mktemp -d)
"$1/examples/graphs-and-modes" "$out" > "$out/log.txt"
cat "$out/log.txt"
grep -qi "tape" "$out/log.txt"
grep -qi "jacobian" "$out/log.txt"
test -s "$out/graphs_and_modes.dot"
# Arguments: --help, and a clear error for what it does not take.
"$1/examples/graphs-and-modes" --help | grep -q "^usage: graphs-and-modes"
if "$1/examples/graphs-and-modes" --bogus 2> "$out/err"; then exit 1; fi
grep -q "unknown argument '--bogus'" "$out/err"
rm -rf "$out"
