// Pooling kernels on raw NCHW buffers, per path (pool.cpp). Planes (n, c) are independent;
// every kernel runs over g.planes consecutive planes, and the op splits planes across threads.
#pragma once
#include <cstdint>

#include "dagrad/runtime/isa.h"

namespace dagrad::kernels {

struct PoolGeom {
  int64_t planes, H, W;  // planes = N * C
  int64_t KH, KW, SH, SW, PH, PW;
  int64_t OH, OW;
  bool fast2x2() const {  // the common 2x2 / stride 2 / no padding case
    return KH == 2 && KW == 2 && SH == 2 && SW == 2 && PH == 0 && PW == 0;
  }
};

template <typename T>
struct PoolKernels {
  // out = the window maxima; idx = the argmax's offset within its plane (the first maximum in
  // row-major window order; NaN wins; padded positions never do)
  void (*max_pool)(const T* x, T* out, int32_t* idx, const PoolGeom& g);
  // dx[plane, idx[o]] += dout[plane, o], dx fully overwritten
  void (*max_pool_backward)(const T* dout, const int32_t* idx, T* dx, const PoolGeom& g);
  // out = the window means, padded zeros counted (divisor kh*kw)
  void (*avg_pool)(const T* x, T* out, const PoolGeom& g);
  // dx[window] += dout / (kh*kw), dx fully overwritten
  void (*avg_pool_backward)(const T* dout, T* dx, const PoolGeom& g);
};
DAGRAD_FOR_EACH_ISA(template <typename T> const PoolKernels<T>& pool_kernels();)
template <typename T>
const PoolKernels<T>& pool_kernels() {
  return DAGRAD_ISA_PICK(pool_kernels<T>());
}

}  // namespace dagrad::kernels
