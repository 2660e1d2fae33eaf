# gradcheck-tour checks every op in float64 and exits non-zero if any fails.
set -e
"$1/examples/gradcheck-tour"
