#include "dagrad/autograd/ops/shape_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <numeric>

#include "dagrad/autograd/engine.h"
#include "dagrad/autograd/node.h"
#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/map.h"
#include "dagrad/autograd/ops/reduction.h"
#include "dagrad/autograd/rules.h"
#include "dagrad/kernels/reduction.h"

namespace dagrad {

// The backward rules of the ops recorded here, one line of math each (rules.h).
const BackwardRules shape_rules{
    {"reshape", "the adjoint is reshaped back"},
    {"permute", "the adjoint is permuted back (the inverse permutation)"},
    {"broadcast_to", "the adjoint is summed over the broadcast axes"},
    {"concat", "the adjoint is sliced back into the inputs' parts"},
    {"slice", "the adjoint is placed back into zeros of x's shape"},
    {"slice_backward", "linear: its adjoint is sliced"},
    {"pad", "the adjoint is cropped back to x's shape"},
    {"pad_backward", "linear: its adjoint is padded"},
    {"gather", "dx = the adjoint scatter-added to the gathered positions"},
    {"gather_backward", "linear: its adjoint is gathered"},
    {"index_select", "dx = the adjoint added into the selected rows"},
    {"embedding", "d weight = the adjoint's rows added into the looked-up rows"},
    {"index_select_backward", "linear: its adjoint is index-selected"},
    {"masked_select", "dx = the adjoint at the selected positions, 0 elsewhere"},
    {"flip", "the adjoint is flipped back"},
    {"roll", "the adjoint is rolled back"},
};

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

// Raw permuted copy: out.shape[i] = x.shape[perm[i]].
Tensor permute_raw(const Tensor& x, const std::vector<int>& perm) {
  const int nd = x.dim();
  Shape os;
  for (int i = 0; i < nd; ++i) os.push_back(x.shape()[perm[i]]);
  Tensor out = empty(os, x.dtype());
  if (x.numel() == 0) return out;
  if (nd == 0) {  // a 0-d tensor: its one value (the loop below needs an innermost axis)
    std::memcpy(out.raw_data(), x.raw_data(), dtype_size(x.dtype()));
    return out;
  }
  if (nd == 2 && perm[0] == 1) {  // a matrix transpose: in tiles, so reads and writes stay cached
    DAGRAD_DISPATCH_ALL(x.dtype(), {
      const T* px = x.data<T>();
      T* po = out.data<T>();
      const int64_t rows = os[0], cols = os[1];  // out (rows, cols) = x (cols, rows) transposed
      constexpr int64_t tile = 32;
      for (int64_t i0 = 0; i0 < rows; i0 += tile)
        for (int64_t j0 = 0; j0 < cols; j0 += tile)
          for (int64_t i = i0; i < std::min(i0 + tile, rows); ++i)
            for (int64_t j = j0; j < std::min(j0 + tile, cols); ++j)
              po[i * cols + j] = px[j * rows + i];
    });
    return out;
  }
  const Shape xs = contiguous_strides(x.shape());
  Shape st;  // stride in x of each output axis
  for (int i = 0; i < nd; ++i) st.push_back(xs[perm[i]]);
  DAGRAD_DISPATCH_ALL(x.dtype(), {
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
  const Shape s = infer_shape(shape, x.numel(), x.shape(), "reshape");
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
  // As torch.squeeze: an axis whose size is not 1, and the axis 0/-1 of a 0-d tensor, stay.
  if (x.dim() == 0 || x.shape()[a] != 1) return reshape(x, x.shape());
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
    if (seen[a]++) throw std::invalid_argument(fmt::format("permute: axis {} repeated", d));
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
  if (x.dim() == 0) return permute(x, {});  // as PyTorch: axis 0 or -1 of a 0-d tensor is itself
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
  Tensor out = detail::map_binary(x, zeros(shape, x.dtype()), "broadcast_to", kernels::fn::First{});
  // d broadcast(x)/dx: sum the gradient back over the broadcast axes
  return record(
      "broadcast_to", out, {x},
      [xs = x.shape()](const Tensor& g, const Tensor&) -> GradList { return {sum_to(g, xs)}; },
      [shape](const TangentList& t, const Tensor&) { return broadcast_to(t[0], shape); });
}

// ================================================================ slicing, indexing, joining

namespace {

using IndexList = std::shared_ptr<const std::vector<int64_t>>;
using PadWidths = std::shared_ptr<const std::vector<std::pair<int64_t, int64_t>>>;

// Copies the box `extent` of src starting at `src_at` into dst starting at `dst_at` (per-axis
// offsets, unit steps; same rank and dtype). One memcpy per innermost row.
void copy_box(const Tensor& src, const Shape& src_at, const Tensor& dst, const Shape& dst_at,
              const Shape& extent) {
  const int nd = extent.size();
  if (extent.numel() == 0) return;
  const std::size_t es = dtype_size(src.dtype());
  const char* ps = static_cast<const char*>(src.raw_data());
  char* pd = static_cast<char*>(dst.raw_data());
  if (nd == 0) {
    std::memcpy(pd, ps, es);
    return;
  }
  const Shape ss = contiguous_strides(src.shape()), ds = contiguous_strides(dst.shape());
  int64_t so = 0, dof = 0;
  for (int i = 0; i < nd; ++i) {
    so += src_at[i] * ss[i];
    dof += dst_at[i] * ds[i];
  }
  const int64_t run = extent[nd - 1];
  kernels::for_each_row(extent, ss, ds, so, dof, [&](int64_t s_off, int64_t d_off, int64_t) {
    std::memcpy(pd + d_off * es, ps + s_off * es, run * es);
  });
}

// ---------------------------------------------------------------- slice

// x[start : start + count*step : step] along `axis`, already normalized.
struct SliceSpec {
  int axis;
  int64_t start, count, step;
};

Tensor slice_raw(const Tensor& x, const SliceSpec& s) {
  Shape os = x.shape();
  os[s.axis] = s.count;
  Tensor out = empty(os, x.dtype());
  if (out.numel() == 0) return out;
  const auto sp = kernels::split_at_axis(x.shape(), s.axis);
  DAGRAD_DISPATCH_ALL(x.dtype(), {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < sp.outer; ++o) {
      const T* src = px + (o * sp.len + s.start) * sp.inner;
      T* dst = po + o * s.count * sp.inner;
      if (s.step == 1) {
        std::memcpy(dst, src, s.count * sp.inner * sizeof(T));
        continue;
      }
      for (int64_t c = 0; c < s.count; ++c)
        for (int64_t i = 0; i < sp.inner; ++i)
          dst[c * sp.inner + i] = src[c * s.step * sp.inner + i];
    }
  });
  return out;
}

// Zeros of shape xs with g written into the sliced positions.
Tensor slice_scatter_raw(const Tensor& g, const Shape& xs, const SliceSpec& s) {
  Tensor out = zeros(xs, g.dtype());
  if (g.numel() == 0) return out;
  const auto sp = kernels::split_at_axis(xs, s.axis);
  DAGRAD_DISPATCH(g.dtype(), {
    const T* pg = g.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < sp.outer; ++o) {
      const T* src = pg + o * s.count * sp.inner;
      T* dst = po + (o * sp.len + s.start) * sp.inner;
      for (int64_t c = 0; c < s.count; ++c)
        std::memcpy(dst + c * s.step * sp.inner, src + c * sp.inner, sp.inner * sizeof(T));
    }
  });
  return out;
}

Tensor slice_backward_op(const Tensor& g, const Shape& xs, const SliceSpec& s);

Tensor slice_op(const Tensor& x, const SliceSpec& s) {
  Tensor out = slice_raw(x, s);
  // d slice(x)/dx: the gradient goes back to the sliced positions of a zero tensor
  return record(
      "slice", out, {x},
      [xs = x.shape(), s](const Tensor& g, const Tensor&) -> GradList {
        return {slice_backward_op(g, xs, s)};
      },
      [s](const TangentList& t, const Tensor&) { return slice_op(t[0], s); });
}

// The scatter of a slice's gradient; it is linear, and its own adjoint is the slice.
Tensor slice_backward_op(const Tensor& g, const Shape& xs, const SliceSpec& s) {
  Tensor out = slice_scatter_raw(g, xs, s);
  return record(
      "slice_backward", out, {g},
      [s](const Tensor& gg, const Tensor&) -> GradList { return {slice_op(gg, s)}; },
      [xs, s](const TangentList& t, const Tensor&) { return slice_backward_op(t[0], xs, s); });
}

// ---------------------------------------------------------------- index_select

// Checks one index value (held as a double) against [0, size): integral and in range.
int64_t check_index(double v, const char* op, int axis, int64_t size) {
  if (!(v == std::floor(v)))
    throw std::invalid_argument(fmt::format("{}: index {} is not an integer", op, v));
  if (v < 0 || v >= static_cast<double>(size))
    throw std::out_of_range(
        fmt::format("{}: index {} is out of range for axis {} of size {}", op, v, axis, size));
  return static_cast<int64_t>(v);
}

IndexList index_list(const Tensor& idx, const char* op, int axis, int64_t size) {
  auto out = std::make_shared<std::vector<int64_t>>();
  out->reserve(idx.numel());
  DAGRAD_DISPATCH_ALL(idx.dtype(), {
    const T* p = idx.data<T>();
    for (int64_t i = 0, n = idx.numel(); i < n; ++i)
      out->push_back(check_index(static_cast<double>(p[i]), op, axis, size));
  });
  return out;
}

Tensor index_select_raw(const Tensor& x, int axis, const std::vector<int64_t>& idx) {
  Shape os = x.shape();
  const int64_t k = static_cast<int64_t>(idx.size());
  os[axis] = k;
  Tensor out = empty(os, x.dtype());
  if (out.numel() == 0) return out;
  const auto sp = kernels::split_at_axis(x.shape(), axis);
  DAGRAD_DISPATCH_ALL(x.dtype(), {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < sp.outer; ++o)
      for (int64_t c = 0; c < k; ++c) {
        const T* src = px + (o * sp.len + idx[c]) * sp.inner;
        T* dst = po + (o * k + c) * sp.inner;
        if (sp.inner == 1)
          *dst = *src;
        else
          std::memcpy(dst, src, sp.inner * sizeof(T));
      }
  });
  return out;
}

// Zeros of shape xs; g's slices added at the indexed positions (repeats accumulate).
Tensor index_add_raw(const Tensor& g, const Shape& xs, int axis, const std::vector<int64_t>& idx) {
  Tensor out = zeros(xs, g.dtype());
  if (g.numel() == 0) return out;
  const auto sp = kernels::split_at_axis(xs, axis);
  const int64_t k = static_cast<int64_t>(idx.size());
  DAGRAD_DISPATCH(g.dtype(), {
    const T* pg = g.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < sp.outer; ++o)
      for (int64_t c = 0; c < k; ++c) {
        const T* src = pg + (o * k + c) * sp.inner;
        T* dst = po + (o * sp.len + idx[c]) * sp.inner;
        for (int64_t i = 0; i < sp.inner; ++i) dst[i] += src[i];
      }
  });
  return out;
}

Tensor index_add_op(const Tensor& g, const Shape& xs, int axis, const IndexList& idx);

Tensor index_select_op(const Tensor& x, int axis, const IndexList& idx,
                       const char* op = "index_select") {
  Tensor out = index_select_raw(x, axis, *idx);
  // d index_select(x)/dx: each picked slice's gradient is added back at its index
  return record(
      op, out, {x},
      [xs = x.shape(), axis, idx](const Tensor& g, const Tensor&) -> GradList {
        return {index_add_op(g, xs, axis, idx)};
      },
      [axis, idx](const TangentList& t, const Tensor&) {
        return index_select_op(t[0], axis, idx);
      });
}

// index_select's backward: linear in g, and its adjoint is index_select again.
Tensor index_add_op(const Tensor& g, const Shape& xs, int axis, const IndexList& idx) {
  Tensor out = index_add_raw(g, xs, axis, *idx);
  return record(
      "index_select_backward", out, {g},
      [axis, idx](const Tensor& gg, const Tensor&) -> GradList {
        return {index_select_op(gg, axis, idx)};
      },
      [xs, axis, idx](const TangentList& t, const Tensor&) {
        return index_add_op(t[0], xs, axis, idx);
      });
}

// ---------------------------------------------------------------- gather

struct GatherIndex {
  int axis;
  IndexList idx;  // row-major over `shape`
  Shape shape;    // the index tensor's shape (= gather's output shape)
};

// Calls f(linear position in the index, offset in a tensor of shape xs) for every index
// element: the offset uses the element's own coordinates, except idx on the gather axis.
template <typename F>
void for_each_gather(const Shape& xs, const GatherIndex& gi, F f) {
  const int nd = xs.size();
  const Shape& is = gi.shape;
  const int64_t n = is.numel();
  if (n == 0) return;
  Shape st = contiguous_strides(xs);
  const int64_t axis_stride = st[gi.axis];
  st[gi.axis] = 0;
  const std::vector<int64_t>& idx = *gi.idx;
  int64_t index[Shape::max_dims] = {};
  int64_t base = 0;
  for (int64_t i = 0; i < n; ++i) {
    f(i, base + idx[i] * axis_stride);
    for (int d = nd - 1; d >= 0; --d) {
      base += st[d];
      if (++index[d] < is[d]) break;
      base -= st[d] * is[d];
      index[d] = 0;
    }
  }
}

Tensor scatter_add_op(const Tensor& g, const Shape& xs, const GatherIndex& gi);

Tensor gather_op(const Tensor& x, const GatherIndex& gi) {
  Tensor out = empty(gi.shape, x.dtype());
  DAGRAD_DISPATCH_ALL(x.dtype(), {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_each_gather(x.shape(), gi, [&](int64_t i, int64_t off) { po[i] = px[off]; });
  });
  // d gather(x)/dx: each output's gradient is added at the position it was read from
  return record(
      "gather", out, {x},
      [xs = x.shape(), gi](const Tensor& g, const Tensor&) -> GradList {
        return {scatter_add_op(g, xs, gi)};
      },
      [gi](const TangentList& t, const Tensor&) { return gather_op(t[0], gi); });
}

// gather's backward (scatter-add into zeros); its adjoint is gather again.
Tensor scatter_add_op(const Tensor& g, const Shape& xs, const GatherIndex& gi) {
  Tensor out = zeros(xs, g.dtype());
  DAGRAD_DISPATCH(g.dtype(), {
    const T* pg = g.data<T>();
    T* po = out.data<T>();
    for_each_gather(xs, gi, [&](int64_t i, int64_t off) { po[off] += pg[i]; });
  });
  return record(
      "gather_backward", out, {g},
      [gi](const Tensor& gg, const Tensor&) -> GradList { return {gather_op(gg, gi)}; },
      [xs, gi](const TangentList& t, const Tensor&) { return scatter_add_op(t[0], xs, gi); });
}

// ---------------------------------------------------------------- pad

Tensor crop_op(const Tensor& g, const PadWidths& w);

Tensor pad_op(const Tensor& x, const PadWidths& w, double value) {
  Shape os = x.shape(), at = x.shape(), origin = x.shape();
  for (int i = 0; i < x.dim(); ++i) {
    os[i] += (*w)[i].first + (*w)[i].second;
    at[i] = (*w)[i].first;
    origin[i] = 0;
  }
  Tensor out = full(os, value, x.dtype());
  copy_box(x, origin, out, at, x.shape());
  // d pad(x)/dx: the gradient is the interior of g (the padding is constant)
  return record(
      "pad", out, {x}, [w](const Tensor& g, const Tensor&) -> GradList { return {crop_op(g, w)}; },
      [w](const TangentList& t, const Tensor&) { return pad_op(t[0], w, 0.0); });
}

// pad's backward: the interior of g; its adjoint is zero padding.
Tensor crop_op(const Tensor& g, const PadWidths& w) {
  Shape os = g.shape(), at = g.shape(), origin = g.shape();
  for (int i = 0; i < g.dim(); ++i) {
    os[i] -= (*w)[i].first + (*w)[i].second;
    at[i] = (*w)[i].first;
    origin[i] = 0;
  }
  Tensor out = empty(os, g.dtype());
  copy_box(g, at, out, origin, os);
  return record(
      "pad_backward", out, {g},
      [w](const Tensor& gg, const Tensor&) -> GradList { return {pad_op(gg, w, 0.0)}; },
      [w](const TangentList& t, const Tensor&) { return crop_op(t[0], w); });
}

}  // namespace

Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t stop, int64_t step) {
  if (x.dim() == 0) throw std::invalid_argument("slice: cannot slice a 0-d tensor");
  const int a = normalize_axis(axis, x.dim(), "slice");
  if (step <= 0)
    throw std::invalid_argument(
        fmt::format("slice: step must be positive, got {} (shape {}, axis {})", step,
                    to_string(x.shape()), axis));
  const int64_t n = x.shape()[a];
  // Python's rules: negative counts from the end, then clamp into [0, n].
  auto norm = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  const int64_t b = norm(start), e = norm(stop);
  const int64_t count = e > b ? 1 + (e - b - 1) / step : 0;
  return slice_op(x, SliceSpec{a, b, count, step});
}

Tensor index_select(const Tensor& x, int64_t axis, const Tensor& indices) {
  if (indices.dim() > 1)
    throw std::invalid_argument(fmt::format(
        "index_select: indices must be 0-d or 1-D, got shape {}", to_string(indices.shape())));
  if (x.dim() == 0) return index_select(reshape(x, {1}), axis, indices);
  const int a = normalize_axis(axis, x.dim(), "index_select");
  return index_select_op(x, a, index_list(indices, "index_select", a, x.shape()[a]));
}

Tensor index_select(const Tensor& x, int64_t axis, const std::vector<int64_t>& indices) {
  if (x.dim() == 0) return index_select(reshape(x, {1}), axis, indices);
  const int a = normalize_axis(axis, x.dim(), "index_select");
  for (int64_t i : indices) check_index(static_cast<double>(i), "index_select", a, x.shape()[a]);
  return index_select_op(x, a, std::make_shared<const std::vector<int64_t>>(indices));
}

Tensor gather(const Tensor& x, int64_t axis, const Tensor& index) {
  if (index.dim() != x.dim())
    throw std::invalid_argument(
        fmt::format("gather: index of shape {} must have the rank of the input of shape {}",
                    to_string(index.shape()), to_string(x.shape())));
  if (x.dim() == 0) {  // a scalar gathers itself (index 0)
    Tensor r = gather(reshape(x, {1}), axis, reshape(index, {1}));
    return reshape(r, {});
  }
  const int a = normalize_axis(axis, x.dim(), "gather");
  for (int d = 0; d < x.dim(); ++d)
    if (d != a && index.shape()[d] > x.shape()[d])
      throw std::invalid_argument(fmt::format(
          "gather: index of shape {} is larger than the input of shape {} on axis {} (only the "
          "gather axis {} may be larger)",
          to_string(index.shape()), to_string(x.shape()), d, a));
  return gather_op(x, GatherIndex{a, index_list(index, "gather", a, x.shape()[a]), index.shape()});
}

Tensor concat(const std::vector<Tensor>& xs, int64_t axis) {
  if (xs.empty()) throw std::invalid_argument("concat: no tensors given");
  const Tensor& x0 = xs[0];
  if (x0.dim() == 0)
    throw std::invalid_argument(
        "concat: input 0 is 0-d; concat needs at least one dimension "
        "(use stack for scalars)");
  const int a = normalize_axis(axis, x0.dim(), "concat");
  Shape os = x0.shape();
  int64_t total = 0;
  std::vector<int64_t> lens;
  lens.reserve(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    if (x.dtype() != x0.dtype())
      throw std::invalid_argument(fmt::format("concat: input {} is {} but input 0 is {}", i,
                                              dtype_name(x.dtype()), dtype_name(x0.dtype())));
    bool ok = x.dim() == x0.dim();
    for (int d = 0; ok && d < x.dim(); ++d) ok = d == a || x.shape()[d] == x0.shape()[d];
    if (!ok)
      throw std::invalid_argument(fmt::format(
          "concat: input {} has shape {} but input 0 has shape {}; shapes must match except on "
          "axis {}",
          i, to_string(x.shape()), to_string(x0.shape()), a));
    lens.push_back(x.shape()[a]);
    total += x.shape()[a];
  }
  os[a] = total;
  Tensor out = empty(os, x0.dtype());
  const auto sp = kernels::split_at_axis(os, a);
  const std::size_t es = dtype_size(x0.dtype());
  char* po = static_cast<char*>(out.raw_data());
  int64_t at = 0;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const int64_t block = lens[i] * sp.inner;
    const char* px = static_cast<const char*>(xs[i].raw_data());
    if (block > 0)
      for (int64_t o = 0; o < sp.outer; ++o)
        std::memcpy(po + (o * total + at) * sp.inner * es, px + o * block * es, block * es);
    at += lens[i];
  }
  std::vector<bool> needs;
  needs.reserve(xs.size());
  for (const Tensor& x : xs) needs.push_back(x.requires_grad());
  // d concat/dx_i: the slice of g that x_i occupies
  return record(
      "concat", out, xs,
      [lens = std::move(lens), needs = std::move(needs), a](const Tensor& g,
                                                            const Tensor&) -> GradList {
        GradList r(lens.size());
        int64_t at = 0;
        for (std::size_t i = 0; i < lens.size(); ++i) {
          if (needs[i]) r[i] = slice_op(g, SliceSpec{a, at, lens[i], 1});
          at += lens[i];
        }
        return r;
      },
      [a](const TangentList& t, const Tensor&) { return concat(t, a); });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t axis) {
  if (xs.empty()) throw std::invalid_argument("stack: no tensors given");
  const int a = normalize_axis(axis, xs[0].dim() + 1, "stack");
  for (std::size_t i = 1; i < xs.size(); ++i) {
    if (xs[i].shape() != xs[0].shape())
      throw std::invalid_argument(
          fmt::format("stack: input {} has shape {} but input 0 has shape {}; stack needs equal "
                      "shapes",
                      i, to_string(xs[i].shape()), to_string(xs[0].shape())));
    if (xs[i].dtype() != xs[0].dtype())
      throw std::invalid_argument(fmt::format("stack: input {} is {} but input 0 is {}", i,
                                              dtype_name(xs[i].dtype()),
                                              dtype_name(xs[0].dtype())));
  }
  std::vector<Tensor> parts;
  parts.reserve(xs.size());
  for (const Tensor& x : xs) parts.push_back(unsqueeze(x, a));
  return concat(parts, a);
}

Tensor pad(const Tensor& x, const std::vector<std::pair<int64_t, int64_t>>& widths, double value) {
  auto w = std::make_shared<std::vector<std::pair<int64_t, int64_t>>>(widths);
  // NumPy: a single (before, after) pair applies to every axis.
  if (w->size() == 1 && x.dim() != 1) w->assign(x.dim(), widths[0]);
  if (static_cast<int>(w->size()) != x.dim())
    throw std::invalid_argument(
        fmt::format("pad: {} (before, after) pairs given for a tensor of shape {} (expected {})",
                    widths.size(), to_string(x.shape()), x.dim()));
  for (int i = 0; i < x.dim(); ++i)
    if ((*w)[i].first < 0 || (*w)[i].second < 0)
      throw std::invalid_argument(fmt::format("pad: negative width ({}, {}) on axis {} of shape {}",
                                              (*w)[i].first, (*w)[i].second, i,
                                              to_string(x.shape())));
  return pad_op(x, w, value);
}

// ================================================================ reordering and repeating

namespace {
// Normalized, checked axes of a reordering op (flip, roll): each once; on a 0-d tensor only
// 0 and -1 are valid and there is nothing to reorder.
std::vector<int> distinct_axes(const std::vector<int64_t>& axes, int ndim, const char* op) {
  std::vector<int> out;
  for (int64_t a : axes) {
    const int n = normalize_axis(a, ndim, op);
    if (std::find(out.begin(), out.end(), n) != out.end())
      throw std::invalid_argument(fmt::format("{}: axis {} is repeated", op, a));
    out.push_back(n);
  }
  return out;
}

// x with its slices along `axis` permuted: out[i] = x[perm[i]] (an index_select, so the
// gradient scatters back and create_graph and forward mode come with it).
Tensor reorder(const Tensor& x, int axis, std::vector<int64_t> perm, const char* op) {
  return index_select_op(x, axis, std::make_shared<const std::vector<int64_t>>(std::move(perm)),
                         op);
}
}  // namespace

Tensor flip(const Tensor& x, const std::vector<int64_t>& axes) {
  const std::vector<int> norm = distinct_axes(axes, x.dim(), "flip");
  Tensor out = reshape(x, x.shape());
  if (x.dim() == 0) return out;
  for (int a : norm) {
    const int64_t n = x.shape()[a];
    std::vector<int64_t> perm(n);
    for (int64_t i = 0; i < n; ++i) perm[i] = n - 1 - i;
    out = reorder(out, a, std::move(perm), "flip");
  }
  return out;
}

Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& axes) {
  if (axes.empty()) {  // the flattened tensor, rolled, in x's shape
    if (shifts.size() != 1)
      throw std::invalid_argument(
          fmt::format("roll: without axes, give exactly one shift (got {})", shifts.size()));
    return reshape(roll(flatten(x), shifts, {0}), x.shape());
  }
  if (shifts.size() != axes.size())
    throw std::invalid_argument(
        fmt::format("roll: {} shifts for {} axes", shifts.size(), axes.size()));
  const std::vector<int> norm = distinct_axes(axes, x.dim(), "roll");
  Tensor out = reshape(x, x.shape());
  if (x.dim() == 0) return out;
  for (std::size_t k = 0; k < norm.size(); ++k) {
    const int64_t n = x.shape()[norm[k]];
    if (n == 0) continue;
    const int64_t s = ((shifts[k] % n) + n) % n;  // out[i] = x[(i - s) mod n]
    std::vector<int64_t> perm(n);
    for (int64_t i = 0; i < n; ++i) perm[i] = (i - s + n) % n;
    out = reorder(out, norm[k], std::move(perm), "roll");
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis) {
  if (x.dim() == 0) throw std::invalid_argument("split: cannot split a 0-d tensor");
  const int a = normalize_axis(axis, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) throw std::invalid_argument(fmt::format("split: negative size {} in the sizes", s));
    if (__builtin_add_overflow(total, s, &total))
      throw std::invalid_argument("split: the sizes add up to more than a 64-bit count");
  }
  if (total != x.shape()[a])
    throw std::invalid_argument(
        fmt::format("split: sizes add up to {}, but axis {} of shape {} has size {}", total, axis,
                    to_string(x.shape()), x.shape()[a]));
  std::vector<Tensor> out;
  int64_t at = 0;
  for (int64_t s : sizes) {
    out.push_back(slice(x, a, at, at + s));
    at += s;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, int64_t size, int64_t axis) {
  if (x.dim() == 0) throw std::invalid_argument("split: cannot split a 0-d tensor");
  const int a = normalize_axis(axis, x.dim(), "split");
  const int64_t n = x.shape()[a];
  if (size <= 0 && !(size == 0 && n == 0))
    throw std::invalid_argument(fmt::format("split: the size must be positive, got {}", size));
  if (n == 0) return {slice(x, a, 0, 0)};  // as PyTorch: one empty piece
  std::vector<int64_t> sizes;
  for (int64_t at = 0; at < n; at += size) sizes.push_back(std::min(size, n - at));
  return split(x, sizes, a);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t axis) {
  if (chunks <= 0)
    throw std::invalid_argument(
        fmt::format("chunk: the number of chunks must be positive, got {}", chunks));
  if (x.dim() == 0) throw std::invalid_argument("chunk: cannot chunk a 0-d tensor");
  const int a = normalize_axis(axis, x.dim(), "chunk");
  const int64_t n = x.shape()[a];
  // torch.chunk: pieces of ceil(n / chunks), so there may be fewer than `chunks`; an empty axis
  // gives `chunks` empty pieces.
  if (n == 0) return std::vector<Tensor>(chunks, slice(x, a, 0, 0));
  return split(x, n / chunks + (n % chunks != 0), a);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  const int lead = shape.size() - x.dim();
  if (lead < 0)
    throw std::invalid_argument(fmt::format("expand: shape {} has fewer dimensions than {}",
                                            to_string(shape), to_string(x.shape())));
  Shape target = shape;
  for (int i = 0; i < shape.size(); ++i) {
    if (shape[i] != -1) continue;
    if (i < lead)
      throw std::invalid_argument(fmt::format(
          "expand: -1 is not allowed for a new leading dimension (shape {})", to_string(shape)));
    target[i] = x.shape()[i - lead];
  }
  return broadcast_to(x, target);
}

Tensor repeat(const Tensor& x, const std::vector<int64_t>& repeats) {
  const int nd = static_cast<int>(repeats.size());
  if (nd < x.dim())
    throw std::invalid_argument(fmt::format(
        "repeat: {} repeat counts for a tensor of shape {} (need at least one per dimension)", nd,
        to_string(x.shape())));
  for (int64_t r : repeats)
    if (r < 0) throw std::invalid_argument(fmt::format("repeat: negative count {}", r));
  // x seen as (1, s0, 1, s1, ...), broadcast to (r0, s0, r1, s1, ...), then merged pairwise.
  Shape spread, wide, out;
  for (int i = 0; i < nd; ++i) {
    const int64_t s = i < nd - x.dim() ? 1 : x.shape()[i - (nd - x.dim())];
    spread.push_back(1);
    spread.push_back(s);
    wide.push_back(repeats[i]);
    wide.push_back(s);
    int64_t size = 0;
    if (__builtin_mul_overflow(repeats[i], s, &size))
      throw std::invalid_argument(fmt::format(
          "repeat: {} copies of a dimension of size {} do not fit a 64-bit count", repeats[i], s));
    out.push_back(size);
  }
  (void)wide.numel();  // refuses a total beyond 64 bits before anything is allocated
  return reshape(broadcast_to(reshape(x, spread), wide), out);
}

// ================================================================ scattering

namespace {
// The index of scatter/scatter_add checked against the destination x and the source src, as
// torch.scatter: same rank; on every axis index is no larger than src, and no larger than x
// except on `axis`. The source is cut to index's shape (only that part is read).
std::pair<GatherIndex, Tensor> scatter_index(const Tensor& x, int64_t axis, const Tensor& index,
                                             const Tensor& src, const char* op) {
  if (index.dim() != x.dim() || src.dim() != x.dim())
    throw std::invalid_argument(
        fmt::format("{}: input {}, index {} and src {} must have the same rank", op,
                    to_string(x.shape()), to_string(index.shape()), to_string(src.shape())));
  if (x.dim() == 0) throw std::invalid_argument(fmt::format("{}: the input is 0-d", op));
  const int a = normalize_axis(axis, x.dim(), op);
  Tensor cut = src;
  for (int d = 0; d < x.dim(); ++d) {
    if (index.shape()[d] > src.shape()[d] || (d != a && index.shape()[d] > x.shape()[d]))
      throw std::invalid_argument(fmt::format(
          "{}: index of shape {} is larger than src {} or (off axis {}) the input {} on axis {}",
          op, to_string(index.shape()), to_string(src.shape()), a, to_string(x.shape()), d));
    if (index.shape()[d] < src.shape()[d]) cut = slice(cut, d, 0, index.shape()[d]);
  }
  return {GatherIndex{a, index_list(index, op, a, x.shape()[a]), index.shape()}, cut};
}
}  // namespace

Tensor scatter_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src) {
  detail::check_floating(x, "scatter_add");
  detail::check_same_dtype(x, src, "scatter_add");
  auto [gi, cut] = scatter_index(x, axis, index, src, "scatter_add");
  // x + (src added at the indexed positions): gradients g for x, gather(g) for src
  return x + scatter_add_op(cut, x.shape(), gi);
}

Tensor scatter(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& src) {
  detail::check_floating(x, "scatter");
  detail::check_same_dtype(x, src, "scatter");
  auto [gi, cut] = scatter_index(x, axis, index, src, "scatter");
  // How many times each position of x is written: more than once has no single answer.
  const Tensor count = scatter_add_op(ones(gi.shape, x.dtype()), x.shape(), gi);
  const std::vector<double> c = count.to_vector();
  if (std::any_of(c.begin(), c.end(), [](double v) { return v > 1; }))
    throw std::invalid_argument(
        fmt::format("scatter: index writes a position of the input {} more than once (the "
                    "result would depend on the order; use scatter_add)",
                    to_string(x.shape())));
  return where(count, scatter_add_op(cut, x.shape(), gi), x);
}

Tensor index_add(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& source,
                 double alpha) {
  detail::check_floating(x, "index_add");
  detail::check_same_dtype(x, source, "index_add");
  if (index.dim() > 1)
    throw std::invalid_argument(
        fmt::format("index_add: index must be 0-d or 1-D, got shape {}", to_string(index.shape())));
  if (x.dim() == 0) throw std::invalid_argument("index_add: the input is 0-d");
  const int a = normalize_axis(axis, x.dim(), "index_add");
  Shape want = x.shape();
  want[a] = index.numel();
  if (source.shape() != want)
    throw std::invalid_argument(fmt::format(
        "index_add: source of shape {} must have shape {} (the input {} with axis {} of the "
        "index's length {})",
        to_string(source.shape()), to_string(want), to_string(x.shape()), axis, index.numel()));
  const IndexList idx = index_list(index, "index_add", a, x.shape()[a]);
  return x + index_add_op(alpha == 1 ? source : source * alpha, x.shape(), a, idx);
}

Tensor masked_select(const Tensor& x, const Tensor& mask) {
  const Shape s = broadcast_shapes(x.shape(), mask.shape(), "masked_select");
  const Tensor xb = x.shape() == s ? x : broadcast_to(x, s);
  const std::vector<double> m = (mask.shape() == s ? mask : broadcast_to(mask, s)).to_vector();
  std::vector<int64_t> picked;
  for (std::size_t i = 0; i < m.size(); ++i)
    if (m[i] != 0) picked.push_back(static_cast<int64_t>(i));
  return index_select_op(flatten(xb), 0, std::make_shared<const std::vector<int64_t>>(picked),
                         "masked_select");
}

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  detail::check_floating(weight, "embedding");
  if (weight.dim() != 2)
    throw std::invalid_argument(
        fmt::format("embedding: weight must be 2-D (num, dim), got {}", to_string(weight.shape())));
  Shape out = indices.shape();
  out.push_back(weight.shape()[1]);
  const IndexList idx = index_list(indices, "embedding", 0, weight.shape()[0]);
  return reshape(index_select_op(weight, 0, idx, "embedding"), out);
}

}  // namespace dagrad
