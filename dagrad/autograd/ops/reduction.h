// Reductions over all elements or one axis (negative axes count from the end).
#pragma once
#include <vector>

#include "dagrad/autograd/tensor.h"

namespace dagrad {

Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor sum(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim = false);
// max/min: the gradient is shared equally among tied maxima, as torch.amax/amin and the
// full torch.max(x) (note: torch.max(x, dim) instead sends it all to the returned index).
// NaN propagates; reducing over zero elements is an error.
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor min(const Tensor& x);
Tensor min(const Tensor& x, int64_t axis, bool keepdim = false);
// Over several axes at once (torch.amax / torch.amin with a tuple of dims).
Tensor max(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim = false);
Tensor min(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim = false);
// Variance; unbiased divides by n-1 (PyTorch's default), else by n. One element with
// unbiased gives NaN (0/0), as PyTorch. Forward is two-pass (deviations from the mean).
Tensor var(const Tensor& x, bool unbiased = true);
Tensor var(const Tensor& x, int64_t axis, bool keepdim = false, bool unbiased = true);
// `var(x, 1)` would be ambiguous between the two overloads above: an int literal is an axis.
inline Tensor var(const Tensor& x, int axis, bool keepdim = false, bool unbiased = true) {
  return var(x, static_cast<int64_t>(axis), keepdim, unbiased);
}
Tensor var(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim = false,
           bool unbiased = true);
// log(sum(exp(x))) computed as m + log(sum(exp(x - m))); gradient softmax(x). All -inf gives
// -inf, any +inf gives +inf.
Tensor logsumexp(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor logsumexp(const Tensor& x);
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim = false);
// Standard deviation, sqrt(var) with var's conventions (torch.std). Call it dagrad::std: after
// `using namespace dagrad`, a bare std(...) is ambiguous with namespace std.
Tensor std(const Tensor& x, bool unbiased = true);
Tensor std(const Tensor& x, int64_t axis, bool keepdim = false, bool unbiased = true);
inline Tensor std(const Tensor& x, int axis, bool keepdim = false, bool unbiased = true) {
  return std(x, static_cast<int64_t>(axis), keepdim, unbiased);
}
Tensor std(const Tensor& x, const std::vector<int64_t>& axes, bool keepdim = false,
           bool unbiased = true);
// The vector p-norm over `axes` (all when empty), as torch.linalg.vector_norm: p = 2 (default),
// 1, inf (max |x|), -inf (min |x|), 0 (the count of nonzeros, no gradient) or any other p,
// (sum |x|^p)^(1/p). The gradient is 0 where the norm is 0, as PyTorch.
Tensor norm(const Tensor& x, double p = 2, const std::vector<int64_t>& axes = {},
            bool keepdim = false);
// Running sums along `axis` (torch.cumsum), accumulated in double.
Tensor cumsum(const Tensor& x, int64_t axis);
// Product of all elements, or along one axis (torch.prod); 1 over zero elements. Gradient:
// the product of the others, exact with zeros (and differentiable again through them).
Tensor prod(const Tensor& x);
Tensor prod(const Tensor& x, int64_t axis, bool keepdim = false);
// Index of the largest (smallest) value along an axis, as an int64 tensor (not
// differentiable). Ties: the first occurrence; NaN counts as the extreme (as PyTorch).
Tensor argmax(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t axis, bool keepdim = false);

// Sums a broadcast gradient back to `shape` (the one shared helper for broadcasting ops).
Tensor sum_to(const Tensor& g, const Shape& shape);

}  // namespace dagrad
