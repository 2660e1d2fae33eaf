// 2-D convolution over NCHW tensors (cross-correlation, like PyTorch's conv2d and the course's
// conv_forward_naive). Forward and backward are raw im2col + GEMM kernels. Under create_graph
// the input and weight gradients are recorded as ops themselves (conv2d_backward_input, the
// transposed convolution, and conv2d_backward_weight), each differentiated with the others, so
// gradients of any order work (gradient penalties, Hessian-vector products).
#pragma once
#include <cstdint>

#include "dagrad/autograd/tensor.h"

namespace dagrad {

// A (height, width) pair; one integer means the same value for both: conv2d(x, w, b, 2, 1)
// or conv2d(x, w, b, {2, 1}, {1, 0}).
struct Size2 {
  int64_t h = 0, w = 0;
  constexpr Size2(int64_t v = 0) : h(v), w(v) {}  // NOLINT: implicit on purpose
  constexpr Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  friend constexpr bool operator==(Size2 a, Size2 b) { return a.h == b.h && a.w == b.w; }
};

// Output length of a sliding window, PyTorch's floor rule: (in + 2*pad - kernel) / stride + 1.
constexpr int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  return (in + 2 * pad - kernel) / stride + 1;
}

// out[n, f, i, j] = b[f] + sum_{c, p, q} x[n, c, i*sh - ph + p, j*sw - pw + q] * w[f, c, p, q]
//   x (N, C, H, W), w (F, C, KH, KW), b (F) or an undefined Tensor for no bias;
//   out (N, F, (H + 2ph - KH) / sh + 1, (W + 2pw - KW) / sw + 1), zero padding.
// Backward: dw = sum_n dout_n . cols_n^T, dx = col2im(w^T . dout_n), db = sum over N, H, W.
// Forward mode (bilinear): t_out = conv(t_x, w) + conv(x, t_w) + t_b.
// Errors name the op and shapes: wrong ranks, channel mismatch, bias shape, dtype mismatch,
// non-positive stride, negative padding, a kernel larger than the padded input.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Size2 stride = 1,
              Size2 padding = 0);
Tensor conv2d(const Tensor& x, const Tensor& w, Size2 stride = 1, Size2 padding = 0);  // no bias

// With dilation (kernel taps dilation apart) and groups (input and output channels split into
// `groups` independent convolutions; w is (F, C / groups, KH, KW)), as F.conv2d. Built on the
// conv2d above: the weight is spread out with zeros for dilation, and groups run one conv each.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Size2 stride, Size2 padding,
              Size2 dilation, int64_t groups = 1);

// 1-D convolution of x (N, C, L) with w (F, C / groups, K) (F.conv1d): conv2d over a height of 1.
Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), int64_t stride = 1,
              int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);

// Transposed convolution (F.conv_transpose2d), the adjoint of conv2d in x: x (N, F, H, W),
// w (F, C, KH, KW) (PyTorch's layout: input channels first), b (C) or undefined; the output is
// (N, C, (H - 1) sh - 2 ph + KH + oph, likewise for the width). output_padding (< stride) adds
// rows and columns at the end that the stride would otherwise leave out.
// Same kernels as conv2d's input gradient, so gradients of any order and forward mode work.
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(),
                        Size2 stride = 1, Size2 padding = 0, Size2 output_padding = 0);

}  // namespace dagrad
