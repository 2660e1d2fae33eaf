// Shape changes, slicing, indexing, joining and padding.
// Index tensors are float tensors holding integer values (dagrad has float dtypes only).
#pragma once
#include <utility>
#include <vector>

#include "dagrad/autograd/tensor.h"

namespace dagrad {

Tensor reshape(const Tensor& x, const Shape& shape);  // shares storage; one dim may be -1
Tensor flatten(const Tensor& x, int64_t start_axis = 0, int64_t end_axis = -1);
// Drops `axis` when its size is 1; otherwise (and on a 0-d tensor) returns x's shape unchanged,
// as torch.squeeze.
Tensor squeeze(const Tensor& x, int64_t axis);
Tensor unsqueeze(const Tensor& x, int64_t axis);
Tensor transpose(const Tensor& x, int64_t a, int64_t b);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor broadcast_to(const Tensor& x, const Shape& shape);  // a copy; gradient sum_to
// x[start:stop:step] along `axis` (negative start/stop count from the end; clamped like Python;
// pass INT64_MAX as stop for "to the end"). step must be > 0. Returns a copy. The gradient is
// scattered into zeros of x's shape (differentiable again: create_graph works).
Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop, int64_t step = 1);
// Picks whole slices along `axis`; indices may repeat (their gradients add up). As in PyTorch,
// indices must be integers in [0, size) (negative indices are an error); a tensor of indices
// must be 0-d or 1-D.
Tensor index_select(const Tensor& x, int64_t axis, const Tensor& indices);
Tensor index_select(const Tensor& x, int64_t axis, const std::vector<int64_t>& indices);
// out[i][j] = x[i][index[i][j]] for axis 1 (torch.gather), any axis: index has x's rank, and
// on every axis but `axis` it may be smaller than x (never larger); the output has index's
// shape. Index values must be integers in [0, x.size(axis)). The gradient scatter-adds.
Tensor gather(const Tensor& x, int64_t axis, const Tensor& index);
// out = x with src[i][j] added at [index[i][j]][j] for axis 0 (any axis; torch.scatter_add):
// index, src and x have one rank; index is no larger than src anywhere, nor than x off `axis`.
// Gradients: g for x, gather(g, axis, index) for src.
Tensor scatter_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src);
// The same positions overwritten with src (torch.scatter); an index that writes a position
// twice is an error (PyTorch leaves the result undefined). x's gradient is 0 where written.
Tensor scatter(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src);
// x with alpha * source's slices added at index along `axis` (torch.index_add); index 0-d or
// 1-D, source shaped as x with that axis of index's length; repeated indices accumulate.
Tensor index_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& source,
                 double alpha = 1.0);
// The elements of x where mask != 0 (x and mask broadcast), row-major, as a 1-D tensor.
Tensor masked_select(const Tensor& x, const Tensor& mask);
// Rows of weight (num, dim) picked by integer indices of any shape: indices.shape + (dim,)
// (torch.nn.functional.embedding); the gradient adds into the picked rows.
Tensor embedding(const Tensor& weight, const Tensor& indices);
// Joins along an existing axis: same rank and dtype, shapes equal except on `axis`.
Tensor concat(const std::vector<Tensor>& xs, int64_t axis = 0);
// Joins along a new axis: equal shapes and dtypes.
Tensor stack(const std::vector<Tensor>& xs, int64_t axis = 0);
// NumPy-style pad: one (before, after) pair per axis (or a single pair for every axis),
// filled with `value`; widths must be >= 0. The gradient is the interior of the upstream one.
Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& widths,
           double value = 0.0);
// Reversed along each of `axes` (torch.flip).
Tensor flip(const Tensor& x, const std::vector<int64_t>& axes);
// Rotated by shifts[k] along axes[k]: out[i] = x[(i - shift) mod n] (torch.roll); with no
// axes, one shift over the flattened tensor.
Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts,
            const std::vector<int64_t>& axes = {});
// Pieces along `axis`: of `size` each (the last may be smaller), or of the given sizes, which
// must add up to the axis (torch.split). Each piece is a slice (a copy).
std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t axis = 0);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis = 0);
// `chunks` pieces of ceil(n / chunks) along `axis`; fewer when they run out (torch.chunk).
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t axis = 0);
// broadcast_to where -1 keeps that dimension of x (torch.Tensor.expand; here a copy).
Tensor expand(const Tensor& x, const Shape& shape);
// Tiled repeats[i] times along each dimension; extra leading counts add dimensions
// (torch.Tensor.repeat).
Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats);

}  // namespace dagrad
