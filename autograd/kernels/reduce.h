// Sums for the reductions and the normalization kernels: float partial sums kept short and
// folded into double, and the (outer, axis, inner) view of a tensor around one axis.
#pragma once
#include <algorithm>
#include <cstdint>

#include "autograd/shape.h"

namespace dagrad::kernels {

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

// Views a tensor as (outer, axis, inner) around `axis` for axis-wise kernels.
struct AxisSplit {
  int64_t outer = 1, len = 1, inner = 1;
};
inline AxisSplit split_at_axis(const Shape& s, int axis) {
  AxisSplit r;
  for (int i = 0; i < axis; ++i) r.outer *= s[i];
  r.len = s[axis];
  for (int i = axis + 1; i < s.size(); ++i) r.inner *= s[i];
  return r;
}

}  // namespace dagrad::kernels
