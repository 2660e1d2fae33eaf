#include "autograd/ops/shape_ops.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "autograd/node.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/kernels.h"
#include "autograd/ops/reduction.h"

namespace dagrad {

namespace {

// A new handle on the same storage with another shape (no copy).
Tensor view_as_shape(const Tensor& x, const Shape& s) {
  auto p = std::make_shared<TensorImpl>();
  p->storage = x.impl().storage;
  p->offset = x.impl().offset;
  p->shape = s;
  p->dtype = x.dtype();
  return Tensor(std::move(p));
}

Shape infer_shape(const Shape& want, int64_t numel, const Shape& from) {
  Shape s = want;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0)
        throw std::invalid_argument(
            fmt::format("reshape: only one dimension can be -1, got {}", to_string(want)));
      infer = i;
    } else if (s[i] < 0) {
      throw std::invalid_argument(
          fmt::format("reshape: invalid dimension in {}", to_string(want)));
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0)
      throw std::invalid_argument(fmt::format("reshape: cannot reshape {} ({} elements) into {}",
                                              to_string(from), numel, to_string(want)));
    s[infer] = numel / known;
  }
  if (s.numel() != numel)
    throw std::invalid_argument(fmt::format("reshape: cannot reshape {} ({} elements) into {}",
                                            to_string(from), numel, to_string(want)));
  return s;
}

// Raw permuted copy: out.shape[i] = x.shape[perm[i]].
Tensor permute_raw(const Tensor& x, const std::vector<int>& perm) {
  const int nd = x.dim();
  Shape os;
  for (int i = 0; i < nd; ++i) os.push_back(x.shape()[perm[i]]);
  Tensor out = empty(os, x.dtype());
  if (x.numel() == 0) return out;
  const Shape xs = contiguous_strides(x.shape());
  Shape st;  // stride in x of each output axis
  for (int i = 0; i < nd; ++i) st.push_back(xs[perm[i]]);
  DAGRAD_DISPATCH(x.dtype(), {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const int64_t n = out.numel();
    const int64_t inner = os[nd - 1], istep = st[nd - 1];
    int64_t index[Shape::max_dims] = {};
    int64_t off = 0;
    for (int64_t base = 0; base < n; base += inner) {
      for (int64_t j = 0; j < inner; ++j) po[base + j] = px[off + j * istep];
      for (int d = nd - 2; d >= 0; --d) {
        off += st[d];
        if (++index[d] < os[d]) break;
        off -= st[d] * os[d];
        index[d] = 0;
      }
    }
  });
  return out;
}

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  const Shape s = infer_shape(shape, x.numel(), x.shape());
  if (s == x.shape() && !x.requires_grad() && !x.tangent().defined()) return x;
  Tensor out = view_as_shape(x, s);
  return record(
      "reshape", out, {x},
      [xs = x.shape()](const Tensor& g, const Tensor&) -> GradList { return {reshape(g, xs)}; },
      [s](const TangentList& t, const Tensor&) { return reshape(t[0], s); });
}

Tensor flatten(const Tensor& x, int64_t start_axis, int64_t end_axis) {
  if (x.dim() == 0) return reshape(x, {1});
  const int a = normalize_axis(start_axis, x.dim(), "flatten");
  const int b = normalize_axis(end_axis, x.dim(), "flatten");
  if (a > b)
    throw std::invalid_argument(
        fmt::format("flatten: start axis {} comes after end axis {}", start_axis, end_axis));
  Shape s;
  for (int i = 0; i < a; ++i) s.push_back(x.shape()[i]);
  int64_t m = 1;
  for (int i = a; i <= b; ++i) m *= x.shape()[i];
  s.push_back(m);
  for (int i = b + 1; i < x.dim(); ++i) s.push_back(x.shape()[i]);
  return reshape(x, s);
}

Tensor squeeze(const Tensor& x, int64_t axis) {
  const int a = normalize_axis(axis, x.dim(), "squeeze");
  if (x.shape()[a] != 1)
    throw std::invalid_argument(fmt::format("squeeze: axis {} of shape {} has size {}, not 1",
                                            axis, to_string(x.shape()), x.shape()[a]));
  Shape s = x.shape();
  s.erase(a);
  return reshape(x, s);
}

Tensor unsqueeze(const Tensor& x, int64_t axis) {
  const int a = normalize_axis(axis, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(a, 1);
  return reshape(x, s);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  if (static_cast<int>(dims.size()) != x.dim())
    throw std::invalid_argument(fmt::format("permute: {} axes given for a tensor of shape {}",
                                            dims.size(), to_string(x.shape())));
  std::vector<int> perm, seen(x.dim(), 0);
  for (int64_t d : dims) {
    const int a = normalize_axis(d, x.dim(), "permute");
    if (seen[a]++)
      throw std::invalid_argument(fmt::format("permute: axis {} repeated", d));
    perm.push_back(a);
  }
  std::vector<int64_t> inverse(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
  Tensor out = permute_raw(x, perm);
  // the gradient of a permutation is the inverse permutation of the gradient
  return record(
      "permute", out, {x},
      [inverse](const Tensor& g, const Tensor&) -> GradList { return {permute(g, inverse)}; },
      [dims](const TangentList& t, const Tensor&) { return permute(t[0], dims); });
}

Tensor transpose(const Tensor& x, int64_t a, int64_t b) {
  const int ia = normalize_axis(a, x.dim(), "transpose");
  const int ib = normalize_axis(b, x.dim(), "transpose");
  std::vector<int64_t> dims(x.dim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[ia], dims[ib]);
  return permute(x, dims);
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  const Shape s = broadcast_shapes(x.shape(), shape, "broadcast_to");
  if (s != shape)
    throw std::invalid_argument(fmt::format("broadcast_to: shape {} cannot be broadcast to {}",
                                            to_string(x.shape()), to_string(shape)));
  Tensor out = kernels::map_binary(x, zeros(shape, x.dtype()), "broadcast_to",
                                   [](auto v, auto z) { return v + z; });
  // d broadcast(x)/dx: sum the gradient back over the broadcast axes
  return record(
      "broadcast_to", out, {x},
      [xs = x.shape()](const Tensor& g, const Tensor&) -> GradList { return {sum_to(g, xs)}; },
      [shape](const TangentList& t, const Tensor&) { return broadcast_to(t[0], shape); });
}

}  // namespace dagrad
