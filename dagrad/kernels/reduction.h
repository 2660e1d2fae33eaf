// Reductions along one axis on raw buffers, per path (reduction.cpp): the kernels of sum,
// max/min, argmax/argmin, cumsum and prod (dagrad/autograd/ops/reduction.cpp).
#pragma once
#include <cstdint>

#include "dagrad/base/shape.h"
#include "dagrad/runtime/isa.h"

namespace dagrad::kernels {

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

template <typename T>
struct ReductionKernels {
  // out[o, i] = sum over l of x[o, l, i]; a whole-row sum (inner == 1) is added in double
  void (*sum_axis)(const T* x, const AxisSplit& s, T* out);
  // out[o, i] = max (larger) or min over l; NaN propagates; an empty axis gives -inf / +inf
  void (*extreme_axis)(const T* x, const AxisSplit& s, bool larger, T* out);
  // out[o, i] = the first l of the max (larger) or min, as T; a NaN counts as the extreme
  void (*arg_extreme_axis)(const T* x, const AxisSplit& s, bool larger, int64_t* out);
  // out[o, l, i] = sum over l' <= l of x[o, l', i], accumulated in double
  void (*cumsum_axis)(const T* x, const AxisSplit& s, T* out);
  // out[o, i] = product over l of x[o, l, i], accumulated in double (1 for an empty axis)
  void (*prod_axis)(const T* x, const AxisSplit& s, T* out);
  // out[o, l, i] = product over l' != l of x[o, l', i], without dividing (exact with zeros)
  void (*others_prod_axis)(const T* x, const AxisSplit& s, T* out);
};
DAGRAD_FOR_EACH_ISA(template <typename T> const ReductionKernels<T>& reduction_kernels();)
template <typename T>
const ReductionKernels<T>& reduction_kernels() {
  return DAGRAD_ISA_PICK(reduction_kernels<T>());
}

}  // namespace dagrad::kernels
