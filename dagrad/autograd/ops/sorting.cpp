#include "dagrad/autograd/ops/sorting.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "dagrad/autograd/ops/shape_ops.h"
#include "dagrad/kernels/reduction.h"

namespace dagrad {

namespace {

// The first `keep` positions of each row along `axis` in sorted order, as int64 (the shape
// of x with that axis cut to `keep`). A stable sort with NaN above every number.
Tensor order_indices(const Tensor& x, int axis, bool descending, int64_t keep) {
  Shape os = x.shape();
  os[axis] = keep;
  Tensor out = empty(os, int64);
  if (out.numel() == 0) return out;
  const kernels::AxisSplit sp = kernels::split_at_axis(x.shape(), axis);
  std::vector<int64_t> perm(sp.len);
  DAGRAD_DISPATCH_ALL(x.dtype(), {
    const T* px = x.data<T>();
    int64_t* po = out.data<int64_t>();
    for (int64_t o = 0; o < sp.outer; ++o)
      for (int64_t i = 0; i < sp.inner; ++i) {
        const T* row = px + o * sp.len * sp.inner + i;
        auto at = [&](int64_t l) { return row[l * sp.inner]; };
        // a before b: a NaN is the largest value; ties keep their order (stable).
        auto before = [&](int64_t a, int64_t b) {
          const T va = at(a), vb = at(b);
          if (std::isnan(va) || std::isnan(vb))
            return descending ? !std::isnan(vb) : !std::isnan(va);
          return descending ? va > vb : va < vb;
        };
        std::iota(perm.begin(), perm.end(), int64_t{0});
        std::stable_sort(perm.begin(), perm.end(), before);
        for (int64_t l = 0; l < keep; ++l) po[(o * keep + l) * sp.inner + i] = perm[l];
      }
  });
  return out;
}

SortResult ordered(const Tensor& x, int64_t axis, bool descending, int64_t keep, const char* op) {
  if (x.dim() == 0) {
    normalize_axis(axis, 0, op);
    return {reshape(x, {}), zeros({}, int64)};
  }
  const int a = normalize_axis(axis, x.dim(), op);
  const Tensor idx = order_indices(x, a, descending, keep < 0 ? x.shape()[a] : keep);
  return {gather(x, a, idx), idx};
}

}  // namespace

SortResult sort(const Tensor& x, int64_t axis, bool descending) {
  return ordered(x, axis, descending, -1, "sort");
}

Tensor argsort(const Tensor& x, int64_t axis, bool descending) {
  return ordered(x, axis, descending, -1, "argsort").indices;
}

SortResult topk(const Tensor& x, int64_t k, int64_t axis, bool largest) {
  const int64_t n = x.dim() == 0 ? 1 : x.shape()[normalize_axis(axis, x.dim(), "topk")];
  if (k < 0 || k > n)
    throw std::out_of_range(
        fmt::format("topk: k = {} is out of range for axis {} of shape {} "
                    "(expected 0 to {})",
                    k, axis, to_string(x.shape()), n));
  // A 0-d x gives itself for k = 0 or 1, as torch.topk.
  return ordered(x, axis, largest, k, "topk");
}

}  // namespace dagrad
