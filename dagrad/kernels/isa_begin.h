// Opens the instruction-set region of a kernel file: everything after it, up to isa_end.h, is
// compiled for the path this copy of the file is built for (meson builds every kernel file
// three times, with DAGRAD_ISA_NS = baseline, avx2, avx512). Include it after every other
// header: a standard-library function instantiated inside the region would be compiled for
// AVX-512 too, and the linker could hand that copy to baseline code. Functions defined before
// the region keep the baseline target and can still be inlined into the region's functions.
#if !defined(DAGRAD_ISA_NS) || !defined(DAGRAD_ISA_LEVEL)
#error "kernel files are compiled by meson once per path, with DAGRAD_ISA_NS and DAGRAD_ISA_LEVEL"
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <cstdint>
#include <cstring>

#define DAGRAD_ISA_REGION 1
#if defined(__clang__)
// clang ignores `#pragma GCC target`; its equivalent gives every function declared in the region
// (the kernels, simd.h's wrappers, lambdas) the path's target attribute. Used by the sanitizer
// builds (tests/sanitize/run.sh). Same effect on the code, except that standard-library templates
// instantiated here keep the baseline target (clang attaches the attribute where a function is
// declared, not where it is instantiated).
#if DAGRAD_ISA_LEVEL == 2
#pragma clang attribute push( \
    __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
#elif DAGRAD_ISA_LEVEL == 1
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#endif  // the baseline path (level 0) pushes nothing, and isa_end.h pops nothing
#else
#pragma GCC push_options
#if DAGRAD_ISA_LEVEL == 2
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
#elif DAGRAD_ISA_LEVEL == 1
#pragma GCC target("avx2,fma")
#endif
#endif

#include "dagrad/kernels/simd.h"
