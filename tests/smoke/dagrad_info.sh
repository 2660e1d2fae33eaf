# dagrad-info prints the version and the BLAS core it chose.
set -e
"$1/examples/dagrad-info" | tee /dev/stderr | grep -q "dagrad 0.1.0"
