// Matrix products through BLAS (transposes passed as flags, never copied).
#pragma once
#include "autograd/tensor.h"

namespace dagrad {

// NumPy matmul: 1-D·1-D dot, 2-D, 1-D/2-D mixes, and batched (..., n, k) @ (..., k, m) with
// broadcasting of the batch dimensions.
Tensor matmul(const Tensor& a, const Tensor& b);
// op(a) @ op(b) where op transposes the last two axes when the flag is set.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b);
// x @ w + b for x (N, D), w (D, M), b (M): the affine layer, bias fused into the GEMM.
Tensor affine(const Tensor& x, const Tensor& w, const Tensor& b);
Tensor dot(const Tensor& a, const Tensor& b);
Tensor outer(const Tensor& a, const Tensor& b);

}  // namespace dagrad
