// 2-D pooling over NCHW tensors, with raw forward and backward kernels. Each backward is an op
// whose own backward is the pooling again (they are adjoint linear maps; for max pooling with
// the argmax fixed), so create_graph and second derivatives work. Output size follows
// PyTorch's floor rule (ceil_mode = false): (H + 2*pad - kernel) / stride + 1.
#pragma once
#include "dagrad/autograd/ops/conv.h"  // Size2
#include "dagrad/autograd/tensor.h"

namespace dagrad {

// out[n, c, i, j] = max over the window at (i*sh - ph, j*sw - pw) of size kernel, padded
// positions never win (PyTorch pads with -inf). stride 0 (the default) means stride = kernel.
// The gradient goes to the argmax only: the FIRST maximum in row-major window order, like
// PyTorch (a NaN counts as the maximum). Padding must be at most half the kernel.
// Forward mode: t_out = t_x at the argmax.
// ceil_mode (as PyTorch's): the output size rounds up, (H + 2*pad - kernel + stride - 1) /
// stride + 1, less one when the last window would start past the right padding.
Tensor max_pool2d(const Tensor& x, Size2 kernel, Size2 stride = 0, Size2 padding = 0,
                  bool ceil_mode = false);

// out[n, c, i, j] = mean of the window, padded zeros included in the count
// (PyTorch's default count_include_pad = true, so the divisor is always kh*kw).
// Backward: every input in a window gets dout / (kh*kw). Forward mode: avg_pool2d(t_x).
// count_include_pad = false divides by the input elements in the window only; with ceil_mode,
// a window reaching past the right padding divides by what lies within it (PyTorch's rules).
// Either option runs as padding + the pooling above + a division (differentiable to any order).
Tensor avg_pool2d(const Tensor& x, Size2 kernel, Size2 stride = 0, Size2 padding = 0,
                  bool ceil_mode = false, bool count_include_pad = true);
// Average pooling of x (N, C, H, W) (or (C, H, W)) to an output of `size` (F.adaptive_avg_pool2d):
// output cell i averages rows floor(i H / oh) to ceil((i + 1) H / oh), and likewise columns.
// Two matrix products with the averaging matrices, so double backward and forward mode work.
Tensor adaptive_avg_pool2d(const Tensor& x, Size2 size);
// Max over the same windows (F.adaptive_max_pool2d): the gradient goes to the first maximum
// of each window, as max_pool2d's. One max_pool2d when the sizes divide evenly, else one per
// window, joined; so double backward and forward mode work as for max_pool2d.
Tensor adaptive_max_pool2d(const Tensor& x, Size2 size);

}  // namespace dagrad
