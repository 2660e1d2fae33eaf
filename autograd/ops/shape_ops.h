// Shape changes, slicing, indexing, joining and padding.
// Index tensors are float tensors holding integer values (dagrad has float dtypes only).
#pragma once
#include <utility>
#include <vector>

#include "autograd/tensor.h"

namespace dagrad {

Tensor reshape(const Tensor& x, const Shape& shape);  // shares storage; one dim may be -1
Tensor flatten(const Tensor& x, int64_t start_axis = 0, int64_t end_axis = -1);
Tensor squeeze(const Tensor& x, int64_t axis);
Tensor unsqueeze(const Tensor& x, int64_t axis);
Tensor transpose(const Tensor& x, int64_t a, int64_t b);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor broadcast_to(const Tensor& x, const Shape& shape);  // a copy; gradient sum_to
// x[start:stop:step] along `axis` (negative start/stop count from the end; clamped like Python).
Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop, int64_t step = 1);
// Picks whole slices along `axis`; indices may repeat (their gradients add up).
Tensor index_select(const Tensor& x, int64_t axis, const Tensor& indices);
Tensor index_select(const Tensor& x, int64_t axis, const std::vector<int64_t>& indices);
// out[i][j] = x[i][index[i][j]] for axis 1 (torch.gather): index has x's rank.
Tensor gather(const Tensor& x, int64_t axis, const Tensor& index);
Tensor concat(const std::vector<Tensor>& xs, int64_t axis = 0);
Tensor stack(const std::vector<Tensor>& xs, int64_t axis = 0);
// NumPy-style pad: one (before, after) pair per axis, filled with `value`.
Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& widths,
           double value = 0.0);

}  // namespace dagrad
