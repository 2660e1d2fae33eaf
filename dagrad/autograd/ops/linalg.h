// Matrix products through BLAS (transposes passed as flags, never copied).
#pragma once
#include "dagrad/autograd/tensor.h"

namespace dagrad {

// NumPy matmul: 1-D·1-D dot, 2-D, 1-D/2-D mixes, and batched (..., n, k) @ (..., k, m) with
// broadcasting of the batch dimensions. A 1-D left operand is a row (1, k) and a 1-D right
// operand a column (k, 1), the added axis removed from the result. 0-d operands are an error.
// One GEMM per output matrix (broadcast operands are read in place, never copied); a 2-D
// product, or a batch times one shared 2-D matrix, is a single GEMM.
// Backward: for C = A B, dA = G Bᵀ and dB = Aᵀ G (through the transpose flags, summed over
// broadcast batch axes); differentiable again, so create_graph works.
Tensor matmul(const Tensor& a, const Tensor& b);
// op(a) @ op(b) where op transposes the last two axes when the flag is set (passed to BLAS,
// not copied). A flag on a 1-D operand is a no-op, as a vector's transpose is itself.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b);
// x @ w + b for x (N, D), w (D, M), b (M) exactly (no flattening): the affine layer, bias
// fused into the GEMM (beta = 1). dx = g wᵀ, dw = xᵀ g, db = sum of g over rows.
Tensor affine(const Tensor& x, const Tensor& w, const Tensor& b);
// Both 1-D: dot of equal lengths (a 0-d result), outer (n, m) = a_i b_j.
Tensor dot(const Tensor& a, const Tensor& b);
Tensor outer(const Tensor& a, const Tensor& b);

}  // namespace dagrad
