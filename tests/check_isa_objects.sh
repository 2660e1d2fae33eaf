# Checks that the portable build keeps every instruction set in its place: the library's own
# objects and the baseline kernels use no AVX (VEX/EVEX-encoded) instructions, and the AVX2
# kernels no AVX-512 registers. A standard-library function instantiated inside a kernel's
# target region would show up here (and crash older CPUs at run time). Then the same for the
# linked test binary, function by function: only functions of the avx2 and avx512 kernel
# namespaces may use AVX, which also catches the linker keeping an AVX copy of an inline
# function that two kinds of objects both define.
#   bash tests/check_isa_objects.sh BUILD_DIR
set -euo pipefail
build="$1"
disasm() { objdump -d --no-show-raw-insn "$1"; }
vex='^\s+[0-9a-f]+:\s+v[a-z0-9]+\s'
bad=0
check() {  # check OBJECT PATTERN WHAT
  local n
  n=$(disasm "$1" | grep -cE "$2" || true)
  if [ "$n" -ne 0 ]; then
    echo "ISA check: $1 has $n $3 instructions:"
    disasm "$1" | grep -E "$2" | sed -n 1,5p
    bad=1
  fi
}
shopt -s nullglob
# libdagrad.a and libdagrad.so share one set of (PIC) objects, kept under the shared one.
lib_objs=("$build"/dagrad/libdagrad.so.*.p/*.o)
base_objs=("$build"/dagrad/libdagrad-kernels-baseline.a.p/*.o)
avx2_objs=("$build"/dagrad/libdagrad-kernels-avx2.a.p/*.o)
avx512_objs=("$build"/dagrad/libdagrad-kernels-avx512.a.p/*.o)
if [ ${#lib_objs[@]} -eq 0 ] || [ ${#avx512_objs[@]} -eq 0 ]; then
  echo "ISA check: no objects under $build (not an x86-64 meson build?)"
  exit 1
fi
for o in "${lib_objs[@]}" "${base_objs[@]}"; do check "$o" "$vex" "AVX"; done
for o in "${avx2_objs[@]}"; do check "$o" "%zmm|%k[0-7]" "AVX-512"; done
# The AVX-512 kernels must really be AVX-512 (a lost pragma would compile them for baseline).
n=$(for o in "${avx512_objs[@]}"; do disasm "$o"; done | grep -c "%zmm" || true)
if [ "$n" -eq 0 ]; then echo "ISA check: the avx512 kernels use no zmm registers"; bad=1; fi
# The linked binary: AVX only inside functions of the kernels' avx2/avx512 namespaces.
binary="$build/tests/dagrad-tests"
leaks=$(objdump -d --no-show-raw-insn -C "$binary" | awk -v vex="$vex" '
  /^[0-9a-f]+ <.*>:$/ { fn = $0; next }
  $0 ~ vex && fn !~ /::avx2::|::avx512::/ { print fn }' | sort -u)
if [ -n "$leaks" ]; then
  echo "ISA check: functions of $binary outside the AVX kernel namespaces use AVX:"
  echo "$leaks" | sed -n 1,10p
  bad=1
fi
[ "$bad" -eq 0 ] && echo "ISA check: ${#lib_objs[@]} library objects and $((${#base_objs[@]} + ${#avx2_objs[@]} + ${#avx512_objs[@]})) kernel objects in place; AVX in $(basename "$binary") only inside the avx2/avx512 kernels"
exit "$bad"
