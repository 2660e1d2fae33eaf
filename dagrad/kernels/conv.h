// Convolution kernels: im2col lowering + GEMM, on raw NCHW buffers. The op (dagrad/autograd/ops/
// conv.cpp) checks shapes and records; conv.cpp here splits images across the thread pool and
// runs the GEMMs; conv_lowering.cpp has the per-path lowering loops.
#pragma once
#include <cstdint>

#include "dagrad/runtime/isa.h"

namespace dagrad::kernels {

// Everything the kernels need to know about one convolution.
struct ConvGeom {
  int64_t N, C, H, W;                        // input
  int64_t F, KH, KW;                         // weight
  int64_t SH, SW, PH, PW;                    // stride, padding
  int64_t OH, OW;                            // output
  int64_t P() const { return OH * OW; }      // output positions per image
  int64_t K() const { return C * KH * KW; }  // rows of the im2col matrix
  bool pointwise() const {  // 1x1, stride 1, no padding: the image itself is the im2col matrix
    return KH == 1 && KW == 1 && SH == 1 && SW == 1 && PH == 0 && PW == 0;
  }
  bool stride1() const { return SH == 1 && SW == 1; }
  // Strided convs with padding lower from a zero-padded copy of the image.
  int64_t padded_size() const {
    return !stride1() && (PH > 0 || PW > 0) ? C * (H + 2 * PH) * (W + 2 * PW) : 0;
  }
};

// out = conv(x, w) + b (b may be null). K() must be > 0.
template <typename T>
void conv_forward(const T* x, const T* w, const T* b, T* out, const ConvGeom& g);
// dx and/or dw (each may be null) from dout, both fully overwritten. K() must be > 0.
template <typename T>
void conv_backward(const T* x, const T* w, const T* dout, T* dx, T* dw, const ConvGeom& g);
// db[f] = sum over n, i, j of dout[n, f, i, j]
template <typename T>
void conv_bias_backward(const T* dout, T* db, const ConvGeom& g);

// The lowering of one image, per path. `scratch` holds padded_size() elements.
template <typename T>
struct ConvLowering {
  // cols[(c, p, q), (i, j)] = x[c, i*sh - ph + p, j*sw - pw + q] (0 outside), row stride ld
  void (*lower)(const T* x, const ConvGeom& g, T* cols, int64_t ld, T* scratch);
  // dx = the adjoint of lower applied to cols (dx fully overwritten)
  void (*raise)(const T* cols, int64_t ld, const ConvGeom& g, T* dx, T* scratch);
};
DAGRAD_FOR_EACH_ISA(template <typename T> const ConvLowering<T>& conv_lowering();)
template <typename T>
const ConvLowering<T>& conv_lowering() {
  return DAGRAD_ISA_PICK(conv_lowering<T>());
}

}  // namespace dagrad::kernels
