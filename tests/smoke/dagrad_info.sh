# dagrad-info prints the version, the kernel path in use and the BLAS core; a forced path this
# CPU cannot run, or an unknown one, is an error that names it.
set -e
out=$("$1/tools/dagrad-info")
echo "$out"
echo "$out" | grep -q "dagrad 0.1.0"
echo "$out" | grep -qE "^ISA path: (avx512|avx2|baseline) "
DAGRAD_ISA=baseline "$1/tools/dagrad-info" | grep -q "^ISA path: baseline .*DAGRAD_ISA=baseline"
if DAGRAD_ISA=sse9 "$1/tools/dagrad-info" 2> /tmp/dagrad-info-err.txt; then exit 1; fi
grep -q "DAGRAD_ISA='sse9' is not a kernel path" /tmp/dagrad-info-err.txt
# A forced lower path takes OpenBLAS down with it, unless the user chose a core (some machines
# set OPENBLAS_CORETYPE in their environment: both cases are checked whatever this one has).
best=$("$1/tools/dagrad-info" --isa-paths | head -1)
if [ "$best" != baseline ]; then
  DAGRAD_ISA=baseline env -u OPENBLAS_CORETYPE "$1/tools/dagrad-info" |
    grep -q "core Prescott (set by dagrad for DAGRAD_ISA=baseline)"
fi
DAGRAD_ISA=baseline OPENBLAS_CORETYPE=Prescott "$1/tools/dagrad-info" |
  grep -q "core Prescott (OPENBLAS_CORETYPE set by the user: Prescott)"
