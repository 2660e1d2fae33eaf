// Ordering and selection along one axis: sort, argsort, topk. Indices are int64 tensors, as
// PyTorch's; the values are gathered from x,
// so their gradient flows back to the positions they came from (create_graph and forward mode
// included).
#pragma once
#include "dagrad/autograd/tensor.h"

namespace dagrad {

// (values, indices), as the named tuple torch.sort and torch.topk return.
struct SortResult {
  Tensor values;
  Tensor indices;
};

// Sorted along `axis`, ascending or descending. Stable: equal values keep their order. NaN
// sorts above every number (last ascending, first descending), as PyTorch.
SortResult sort(const Tensor& x, int64_t axis = -1, bool descending = false);
Tensor argsort(const Tensor& x, int64_t axis = -1, bool descending = false);
// The k largest (or smallest) along `axis`, in sorted order; ties keep their original order
// (torch.topk leaves the order of ties unspecified).
SortResult topk(const Tensor& x, int64_t k, int64_t axis = -1, bool largest = true);

}  // namespace dagrad
