#include "dagrad/autograd/ops/linalg.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <stdexcept>
#include <vector>

#include "dagrad/autograd/node.h"
#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/map.h"
#include "dagrad/autograd/ops/reduction.h"
#include "dagrad/autograd/ops/shape_ops.h"
#include "dagrad/autograd/rules.h"
#include "dagrad/runtime/blas.h"

namespace dagrad {

// The backward rules of the ops recorded here, one line of math each (rules.h).
const BackwardRules linalg_rules{
    {"matmul", "d(AB)/dA: G B^T, d(AB)/dB: A^T G"},
    {"affine", "x W + b: dx = G W^T, dW = x^T G, db = sum of G over rows"},
    {"dot", "d(a.b)/da = b, d(a.b)/db = a"},
    {"outer", "a b^T: da = G b, db = G^T a"},
};

namespace {

int as_blas_int(int64_t v, const char* op) {
  if (v > INT_MAX)
    throw std::invalid_argument(
        fmt::format("{}: dimension {} is too large for a BLAS call (max {})", op, v, INT_MAX));
  return static_cast<int>(v);
}

[[noreturn]] void throw_not_aligned(const char* op, const Shape& a, const Shape& b, int64_t ka,
                                    int64_t kb, bool ta, bool tb) {
  std::string flags;
  if (ta || tb) flags = fmt::format(" (trans_a = {}, trans_b = {})", ta, tb);
  throw std::invalid_argument(fmt::format("{}: shapes {} and {} are not aligned ({} != {}){}", op,
                                          to_string(a), to_string(b), ka, kb, flags));
}

// Batch dimensions: all but the last two.
Shape batch_of(const Shape& s) { return Shape(s.begin(), s.end() - 2); }

Shape broadcast_batches(const Shape& a, const Shape& b) {
  const Shape ba = batch_of(a), bb = batch_of(b);
  const int n = std::max(ba.size(), bb.size());
  Shape out;
  for (int i = 0; i < n; ++i) {
    const int ia = ba.size() - n + i, ib = bb.size() - n + i;
    const int64_t da = ia >= 0 ? ba[ia] : 1, db = ib >= 0 ? bb[ib] : 1;
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument(fmt::format(
          "matmul: the batch dimensions of shapes {} and {} cannot be broadcast ({} vs {})",
          to_string(a), to_string(b), da, db));
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

// For each matrix of the broadcast batch, the index of the matrix of `part` it reads.
std::vector<int64_t> batch_sources(const Shape& part, const Shape& batch) {
  const int nd = batch.size();
  Shape st;  // stride (in matrices) of part over the batch's dimensions, 0 where broadcast
  {
    const Shape cs = contiguous_strides(part);
    for (int i = 0; i < nd; ++i) {
      const int ip = part.size() - nd + i;
      st.push_back(ip >= 0 && part[ip] != 1 ? cs[ip] : 0);
    }
  }
  const int64_t n = batch.numel();
  std::vector<int64_t> src(n);
  int64_t index[Shape::max_dims] = {};
  int64_t off = 0;
  for (int64_t i = 0; i < n; ++i) {
    src[i] = off;
    for (int d = nd - 1; d >= 0; --d) {
      off += st[d];
      if (++index[d] < batch[d]) break;
      off -= st[d] * batch[d];
      index[d] = 0;
    }
  }
  return src;
}

// op(a) @ op(b) for a, b with at least 2 dimensions, batch dimensions broadcast: one GEMM per
// output matrix reading the operands in place (broadcasting only repeats a pointer), or a
// single GEMM when b is one matrix shared by the whole batch of a.
Tensor matmul_raw(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const Shape &sa = a.shape(), &sb = b.shape();
  const int na = sa.size(), nb = sb.size();
  const int64_t ar = sa[na - 2], ac = sa[na - 1], br = sb[nb - 2], bc = sb[nb - 1];
  const int64_t n = ta ? ac : ar, k = ta ? ar : ac, kb = tb ? bc : br, m = tb ? br : bc;
  if (k != kb) throw_not_aligned("matmul", sa, sb, k, kb, ta, tb);
  const Shape batch = broadcast_batches(sa, sb);
  Shape os = batch;
  os.push_back(n);
  os.push_back(m);
  if (k == 0) return zeros(os, a.dtype());
  Tensor out = empty(os, a.dtype());
  if (out.numel() == 0) return out;
  const int64_t nbatch = batch.numel();
  const int64_t a_batch = batch_of(sa).numel(), b_batch = batch_of(sb).numel();
  const int64_t a_mat = ar * ac, b_mat = br * bc, c_mat = n * m;
  const int lda = as_blas_int(ac, "matmul"), ldb = as_blas_int(bc, "matmul");
  const int in = as_blas_int(n, "matmul"), im = as_blas_int(m, "matmul"),
            ik = as_blas_int(k, "matmul");
  DAGRAD_DISPATCH(a.dtype(), {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = out.data<T>();
    if (b_batch == 1 && !ta && a_batch == nbatch) {
      // The rows of every op(a) matrix are consecutive rows of a: one (batch*n, k) GEMM.
      blas::gemm(false, tb, as_blas_int(nbatch * n, "matmul"), im, ik, T(1), pa, lda, pb, ldb, T(0),
                 pc, im);
    } else if (a_batch == nbatch && b_batch == nbatch) {
      for (int64_t i = 0; i < nbatch; ++i)
        blas::gemm(ta, tb, in, im, ik, T(1), pa + i * a_mat, lda, pb + i * b_mat, ldb, T(0),
                   pc + i * c_mat, im);
    } else {
      const std::vector<int64_t> ia = batch_sources(batch_of(sa), batch);
      const std::vector<int64_t> ib = batch_sources(batch_of(sb), batch);
      for (int64_t i = 0; i < nbatch; ++i)
        blas::gemm(ta, tb, in, im, ik, T(1), pa + ia[i] * a_mat, lda, pb + ib[i] * b_mat, ldb, T(0),
                   pc + i * c_mat, im);
    }
  });
  return out;
}

Tensor matmul_nd(const Tensor& a, const Tensor& b, bool ta, bool tb);

// Number of matrices in the batch of a tensor with at least 2 dimensions.
int64_t batch_numel(const Tensor& t) { return batch_of(t.shape()).numel(); }

// C = op(A) op(B):  d op(A) = G op(B)^T, so dA = G op(B)^T, or (G op(B)^T)^T = op(B) G^T when
// A enters transposed; the transposes are flags, never copies.
Tensor grad_a(const Tensor& g, const Tensor& b, bool ta, bool tb) {
  return ta ? matmul_nd(b, g, tb, true) : matmul_nd(g, b, false, !tb);
}

// d op(B) = op(A)^T G, so dB = op(A)^T G, or G^T op(A) when B enters transposed. When B is
// one matrix shared by a batch of A (not transposed), the batch sum is one GEMM over the
// stacked rows: sum_i A_i^T G_i = A_flat^T G_flat.
Tensor grad_b(const Tensor& g, const Tensor& a, bool ta, bool tb, const Shape& sb) {
  if (sb.size() == 2 && a.dim() > 2 && !ta && batch_numel(a) == batch_numel(g) && a.numel() > 0 &&
      g.numel() > 0) {
    const Tensor a2 = reshape(a, {-1, a.size(-1)}), g2 = reshape(g, {-1, g.size(-1)});
    return tb ? matmul_nd(g2, a2, true, false) : matmul_nd(a2, g2, true, false);
  }
  return tb ? matmul_nd(g, a, true, ta) : matmul_nd(a, g, !ta, false);
}

Tensor matmul_nd(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  Tensor out = matmul_raw(a, b, ta, tb);
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record(
      "matmul", out, {a, b},
      [a = SavedTensor(gb ? a : Tensor(), "matmul"), b = SavedTensor(ga ? b : Tensor(), "matmul"),
       sa = a.shape(), sb = b.shape(), ta, tb, ga, gb](const Tensor& g, const Tensor&) -> GradList {
        return {ga ? sum_to(grad_a(g, b.get(), ta, tb), sa) : Tensor(),
                gb ? sum_to(grad_b(g, a.get(), ta, tb, sb), sb) : Tensor()};
      },
      // d(op(A) op(B)) = op(dA) op(B) + op(A) op(dB)
      [&a, &b, ta, tb](const TangentList& t, const Tensor&) {
        return matmul_nd(t[0], b, ta, tb) + matmul_nd(a, t[1], ta, tb);
      });
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  detail::check_floating(a, "matmul");
  detail::check_floating(b, "matmul");
  detail::check_same_dtype(a, b, "matmul");
  if (a.dim() == 0 || b.dim() == 0)
    throw std::invalid_argument(
        fmt::format("matmul: shapes {} and {}: a 0-d operand is not allowed (use mul)",
                    to_string(a.shape()), to_string(b.shape())));
  // A transpose flag on a 1-D operand is a no-op (as x.T is for a vector).
  const bool ta = trans_a && a.dim() > 1, tb = trans_b && b.dim() > 1;
  const int na = a.dim(), nb = b.dim();
  const int64_t ka = na == 1 ? a.size(0) : (ta ? a.shape()[na - 2] : a.shape()[na - 1]);
  const int64_t kb = nb == 1 ? b.size(0) : (tb ? b.shape()[nb - 1] : b.shape()[nb - 2]);
  if (ka != kb) throw_not_aligned("matmul", a.shape(), b.shape(), ka, kb, ta, tb);
  if (na == 1 && nb == 1) return dot(a, b);
  if (na >= 2 && nb >= 2) return matmul_nd(a, b, ta, tb);
  // NumPy: a 1-D left operand is a row (1, k), a 1-D right operand a column (k, 1); the
  // added dimension is removed from the result.
  Tensor out = matmul_nd(na == 1 ? unsqueeze(a, 0) : a, nb == 1 ? unsqueeze(b, 1) : b, ta, tb);
  return na == 1 ? squeeze(out, -2) : squeeze(out, -1);
}

Tensor matmul(const Tensor& a, const Tensor& b) { return matmul(a, b, false, false); }

Tensor affine(const Tensor& x, const Tensor& w, const Tensor& b) {
  detail::check_floating(x, "affine");
  detail::check_floating(w, "affine");
  detail::check_same_dtype(x, w, "affine");
  detail::check_same_dtype(x, b, "affine");
  if (x.dim() != 2 || w.dim() != 2)
    throw std::invalid_argument(
        fmt::format("affine: expects x (N, D) and w (D, M), got shapes {} and {}",
                    to_string(x.shape()), to_string(w.shape())));
  const int64_t N = x.shape()[0], D = x.shape()[1], M = w.shape()[1];
  if (w.shape()[0] != D)
    throw_not_aligned("affine", x.shape(), w.shape(), D, w.shape()[0], false, false);
  if (b.dim() != 1 || b.shape()[0] != M)
    throw std::invalid_argument(
        fmt::format("affine: bias of shape {} does not match w of shape {} (expected ({},))",
                    to_string(b.shape()), to_string(w.shape()), M));
  Tensor out = empty({N, M}, x.dtype());
  DAGRAD_DISPATCH(x.dtype(), {
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    // Every output row starts as the bias; the GEMM then adds x w on top (beta = 1).
    for (int64_t i = 0; i < N; ++i) std::copy(pb, pb + M, po + i * M);
    if (N > 0 && M > 0 && D > 0)
      blas::gemm(false, false, as_blas_int(N, "affine"), as_blas_int(M, "affine"),
                 as_blas_int(D, "affine"), T(1), x.data<T>(), as_blas_int(D, "affine"), w.data<T>(),
                 as_blas_int(M, "affine"), T(1), po, as_blas_int(M, "affine"));
  });
  const bool gx = x.requires_grad(), gw = w.requires_grad(), gb = b.requires_grad();
  return record(
      "affine", out, {x, w, b},
      // y = x w + b:  dx = g w^T,  dw = x^T g,  db = sum of g over rows
      [x = SavedTensor(gw ? x : Tensor(), "affine"), w = SavedTensor(gx ? w : Tensor(), "affine"),
       gx, gw, gb](const Tensor& g, const Tensor&) -> GradList {
        return {gx ? matmul_nd(g, w.get(), false, true) : Tensor(),
                gw ? matmul_nd(x.get(), g, true, false) : Tensor(), gb ? sum(g, 0) : Tensor()};
      },
      [&x, &w](const TangentList& t, const Tensor&) {
        return matmul_nd(t[0], w, false, false) + matmul_nd(x, t[1], false, false) + t[2];
      });
}

Tensor dot(const Tensor& a, const Tensor& b) {
  detail::check_floating(a, "dot");
  detail::check_floating(b, "dot");
  detail::check_same_dtype(a, b, "dot");
  if (a.dim() != 1 || b.dim() != 1)
    throw std::invalid_argument(fmt::format("dot: expects two 1-D tensors, got shapes {} and {}",
                                            to_string(a.shape()), to_string(b.shape())));
  if (a.numel() != b.numel())
    throw_not_aligned("dot", a.shape(), b.shape(), a.numel(), b.numel(), false, false);
  Tensor out = empty({}, a.dtype());
  DAGRAD_DISPATCH(a.dtype(), {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    double acc = 0;
    for (int64_t i = 0, n = a.numel(); i < n; ++i) acc += double(pa[i]) * double(pb[i]);
    out.data<T>()[0] = static_cast<T>(acc);
  });
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record(
      "dot", out, {a, b},
      // d(a.b)/da = b, d(a.b)/db = a (times the scalar g)
      [a = SavedTensor(gb ? a : Tensor(), "dot"), b = SavedTensor(ga ? b : Tensor(), "dot"), ga,
       gb](const Tensor& g, const Tensor&) -> GradList {
        return {ga ? g * b.get() : Tensor(), gb ? g * a.get() : Tensor()};
      },
      [&a, &b](const TangentList& t, const Tensor&) { return dot(t[0], b) + dot(a, t[1]); });
}

Tensor outer(const Tensor& a, const Tensor& b) {
  detail::check_floating(a, "outer");
  detail::check_floating(b, "outer");
  detail::check_same_dtype(a, b, "outer");
  if (a.dim() != 1 || b.dim() != 1)
    throw std::invalid_argument(fmt::format("outer: expects two 1-D tensors, got shapes {} and {}",
                                            to_string(a.shape()), to_string(b.shape())));
  const int64_t n = a.numel(), m = b.numel();
  Tensor out = empty({n, m}, a.dtype());
  DAGRAD_DISPATCH(a.dtype(), {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j) po[i * m + j] = pa[i] * pb[j];
  });
  const bool ga = a.requires_grad(), gb = b.requires_grad();
  return record(
      "outer", out, {a, b},
      // out = a b^T:  da = g b,  db = g^T a
      [a = SavedTensor(gb ? a : Tensor(), "outer"), b = SavedTensor(ga ? b : Tensor(), "outer"), ga,
       gb](const Tensor& g, const Tensor&) -> GradList {
        return {ga ? matmul(g, b.get()) : Tensor(), gb ? matmul(a.get(), g) : Tensor()};
      },
      [&a, &b](const TangentList& t, const Tensor&) { return outer(t[0], b) + outer(a, t[1]); });
}

}  // namespace dagrad
