// Long float sums for the reductions and the normalization kernels: partial sums kept short
// and folded into double.
//
// A kernel file (compiled per path, DAGRAD_ISA_NS defined) gets its own copy in its path's
// namespace and must include this after isa_begin.h: the sums take the caller's lambda, and a
// lambda compiled for AVX2 cannot be inlined into a function compiled outside the region (each
// element would become a call).
#pragma once
#include <algorithm>
#include <cstdint>

#if defined(DAGRAD_ISA_NS) && !defined(DAGRAD_ISA_REGION)
#error "a kernel file includes block_sum.h after isa_begin.h (and its other headers before it)"
#endif

namespace dagrad::kernels {
#if defined(DAGRAD_ISA_NS)
namespace DAGRAD_ISA_NS {
#endif

// Sum of f(s) for s in [0, n): vector-wide partial sums in T within blocks of 1024, each block
// folded into a double (float accumulators stay short; the pragma allows the reassociation
// that vectorizing needs, for this loop only).
template <typename T, typename F>
double block_sum(int64_t n, F f) {
  double total = 0;
  for (int64_t b = 0; b < n; b += 1024) {
    const int64_t e = std::min(n, b + 1024);
    T acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t s = b; s < e; ++s) acc += f(s);
    total += acc;
  }
  return total;
}

// The sums of f and of h in one pass; added to out_f and out_h.
template <typename T, typename F, typename H>
void block_sum2(int64_t n, F f, H h, double& out_f, double& out_h) {
  for (int64_t b = 0; b < n; b += 1024) {
    const int64_t e = std::min(n, b + 1024);
    T af = 0, ah = 0;
#pragma omp simd reduction(+ : af, ah)
    for (int64_t s = b; s < e; ++s) af += f(s), ah += h(s);
    out_f += af;
    out_h += ah;
  }
}

#if defined(DAGRAD_ISA_NS)
}  // namespace DAGRAD_ISA_NS
#endif
}  // namespace dagrad::kernels
