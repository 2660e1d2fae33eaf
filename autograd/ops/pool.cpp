#include "autograd/ops/pool.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "autograd/engine.h"
#include "autograd/node.h"
#include "autograd/parallel.h"

namespace dagrad {

namespace {

struct PoolGeom {
  int64_t planes, H, W;  // planes = N * C
  int64_t KH, KW, SH, SW, PH, PW;
  int64_t OH, OW;
  bool fast2x2() const {  // the common 2x2 / stride 2 / no padding case
    return KH == 2 && KW == 2 && SH == 2 && SW == 2 && PH == 0 && PW == 0;
  }
};

PoolGeom check_pool(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding, const char* op) {
  if (x.dim() != 4)
    throw std::invalid_argument(
        fmt::format("{}: input must be 4-D (N, C, H, W), got shape {}", op, to_string(x.shape())));
  if (stride.h == 0 && stride.w == 0) stride = kernel;
  if (kernel.h <= 0 || kernel.w <= 0)
    throw std::invalid_argument(
        fmt::format("{}: kernel size must be positive, got ({}, {})", op, kernel.h, kernel.w));
  if (stride.h <= 0 || stride.w <= 0)
    throw std::invalid_argument(
        fmt::format("{}: stride must be positive, got ({}, {})", op, stride.h, stride.w));
  if (padding.h < 0 || padding.w < 0 || 2 * padding.h > kernel.h || 2 * padding.w > kernel.w)
    throw std::invalid_argument(fmt::format(
        "{}: padding ({}, {}) must be non-negative and at most half the kernel ({}, {})", op,
        padding.h, padding.w, kernel.h, kernel.w));
  PoolGeom g{};
  g.planes = x.size(0) * x.size(1), g.H = x.size(2), g.W = x.size(3);
  g.KH = kernel.h, g.KW = kernel.w, g.SH = stride.h, g.SW = stride.w;
  g.PH = padding.h, g.PW = padding.w;
  if (g.KH > g.H + 2 * g.PH || g.KW > g.W + 2 * g.PW)
    throw std::invalid_argument(fmt::format(
        "{}: kernel ({}, {}) is larger than the padded input {}x{} (input {}, padding ({}, {}))",
        op, g.KH, g.KW, g.H + 2 * g.PH, g.W + 2 * g.PW, to_string(x.shape()), g.PH, g.PW));
  g.OH = conv_output_size(g.H, g.KH, g.SH, g.PH);
  g.OW = conv_output_size(g.W, g.KW, g.SW, g.PW);
  return g;
}

Shape out_shape(const Tensor& x, const PoolGeom& g) {
  return {x.size(0), x.size(1), g.OH, g.OW};
}

// Runs kernel(sub_geometry, first_plane) over ranges of planes on the pool; planes are
// independent in every pooling kernel.
template <typename K>
void for_planes(const PoolGeom& g, K kernel) {
  const int64_t per_plane = std::max<int64_t>(g.H * g.W + g.OH * g.OW * g.KH * g.KW, 1);
  parallel_for(g.planes, std::max<int64_t>(1, (int64_t{1} << 15) / per_plane),
               [&](int64_t lo, int64_t hi) {
                 PoolGeom sub = g;
                 sub.planes = hi - lo;
                 kernel(sub, lo);
               });
}

// The max-pool update: v (at index k) replaces the current best when strictly larger or NaN
// (PyTorch's rule, so the first maximum wins ties).
template <typename T, typename I>
inline void take(T& best, I& bi, T v, I k) {
  // Bit-mask selects: branch-free, so random data does not mispredict.
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  const bool win = (v > best) | (v != v);
  const U mask = U(0) - static_cast<U>(win);
  U vb, bb;
  std::memcpy(&vb, &v, sizeof(T));
  std::memcpy(&bb, &best, sizeof(T));
  bb = (vb & mask) | (bb & ~mask);
  std::memcpy(&best, &bb, sizeof(T));
  const I imask = -static_cast<I>(win);
  bi = (k & imask) | (bi & ~imask);
}

// Max pooling; idx gets the argmax's offset within its plane (first maximum, NaN wins).
template <typename T>
void max_pool_forward(const T* x, T* out, int32_t* idx, const PoolGeom& g) {
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  const bool padded = g.PH > 0 || g.PW > 0;
  const int64_t Wp = g.W + 2 * g.PW;
  std::vector<T> xp(padded ? (g.H + 2 * g.PH) * Wp : 0, -std::numeric_limits<T>::infinity());
  std::vector<T> best(g.OW);
  std::vector<int32_t> bidx(g.OW);  // int32 like the floats: one vector lane each
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    const T* xs = x + pl * HW;
    T* o = out + pl * OP;
    int32_t* id = idx + pl * OP;
    if (g.fast2x2()) {
      for (int64_t i = 0; i < g.OH; ++i) {
        const T* r0 = xs + 2 * i * g.W;
        const T* r1 = r0 + g.W;
        const int32_t row = static_cast<int32_t>(2 * i * g.W), W = static_cast<int32_t>(g.W);
        for (int32_t j = 0; j < static_cast<int32_t>(g.OW); ++j) {
          const int32_t w0 = 2 * j;
          // Same order and rule as the general loop: a later entry wins only if strictly
          // larger (or NaN).
          const int32_t top = row + w0, bottom = top + W;
          T best = r0[w0];
          int32_t bi = top;
          take(best, bi, r0[w0 + 1], top + 1);
          take(best, bi, r1[w0], bottom);
          take(best, bi, r1[w0 + 1], bottom + 1);
          o[i * g.OW + j] = best;
          id[i * g.OW + j] = bi;
        }
      }
      continue;
    }
    // General windows: the plane padded with -inf (which never wins), then for each output
    // row every window offset (p, q) updates all output columns at once. The columns are
    // independent, so the select chains overlap instead of running one after another.
    const T* src = xs;
    if (padded) {
      for (int64_t h = 0; h < g.H; ++h)
        std::copy(xs + h * g.W, xs + (h + 1) * g.W, xp.data() + (h + g.PH) * Wp + g.PW);
      src = xp.data();
    }
    for (int64_t i = 0; i < g.OH; ++i) {
      const int64_t hs = std::max<int64_t>(i * g.SH - g.PH, 0);
      for (int64_t j = 0; j < g.OW; ++j) {  // start at the window's first real entry
        best[j] = -std::numeric_limits<T>::infinity();
        bidx[j] = static_cast<int32_t>(hs * g.W + std::max<int64_t>(j * g.SW - g.PW, 0));
      }
      for (int64_t p = 0; p < g.KH; ++p) {
        const int64_t h = i * g.SH + p;  // row in the padded plane
        for (int64_t q = 0; q < g.KW; ++q) {
          const T* r = src + h * Wp + q;
          // index of column j = 0 in the unpadded plane
          const int32_t base = static_cast<int32_t>((h - g.PH) * g.W + q - g.PW);
          const int32_t sw = static_cast<int32_t>(g.SW);
          for (int32_t j = 0; j < static_cast<int32_t>(g.OW); ++j)
            take(best[j], bidx[j], r[j * sw], base + j * sw);
        }
      }
      for (int64_t j = 0; j < g.OW; ++j) {
        o[i * g.OW + j] = best[j];
        id[i * g.OW + j] = bidx[j];
      }
    }
  }
}

// dx[plane, idx[o]] += dout[plane, o]: the max-pool backward.
template <typename T>
void max_pool_scatter(const T* g_out, const int32_t* idx, T* dx, const PoolGeom& g) {
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  std::fill(dx, dx + g.planes * HW, T(0));
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    T* d = dx + pl * HW;
    const T* s = g_out + pl * OP;
    const int32_t* id = idx + pl * OP;
    for (int64_t o = 0; o < OP; ++o) d[id[o]] += s[o];
  }
}

template <typename T>
void avg_pool_forward(const T* x, T* out, const PoolGeom& g) {
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  const T inv = T(1) / static_cast<T>(g.KH * g.KW);
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    const T* xs = x + pl * HW;
    T* o = out + pl * OP;
    if (g.fast2x2()) {
      for (int64_t i = 0; i < g.OH; ++i) {
        const T* r0 = xs + 2 * i * g.W;
        const T* r1 = r0 + g.W;
        for (int64_t j = 0; j < g.OW; ++j)
          o[i * g.OW + j] = (r0[2 * j] + r0[2 * j + 1] + r1[2 * j] + r1[2 * j + 1]) * inv;
      }
      continue;
    }
    for (int64_t i = 0; i < g.OH; ++i) {
      const int64_t h0 = std::max<int64_t>(i * g.SH - g.PH, 0),
                    h1 = std::min(i * g.SH - g.PH + g.KH, g.H);
      for (int64_t j = 0; j < g.OW; ++j) {
        const int64_t w0 = std::max<int64_t>(j * g.SW - g.PW, 0),
                      w1 = std::min(j * g.SW - g.PW + g.KW, g.W);
        T acc = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) acc += xs[h * g.W + w];
        o[i * g.OW + j] = acc * inv;
      }
    }
  }
}

// dx[window] += dout / (kh*kw)
template <typename T>
void avg_pool_backward(const T* gout, T* dx, const PoolGeom& g) {
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  const T inv = T(1) / static_cast<T>(g.KH * g.KW);
  std::fill(dx, dx + g.planes * HW, T(0));
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    T* d = dx + pl * HW;
    const T* s = gout + pl * OP;
    if (g.fast2x2()) {
      for (int64_t i = 0; i < g.OH; ++i) {
        T* r0 = d + 2 * i * g.W;
        T* r1 = r0 + g.W;
        for (int64_t j = 0; j < g.OW; ++j) {
          const T v = s[i * g.OW + j] * inv;
          r0[2 * j] = v, r0[2 * j + 1] = v, r1[2 * j] = v, r1[2 * j + 1] = v;
        }
      }
      continue;
    }
    for (int64_t i = 0; i < g.OH; ++i) {
      const int64_t h0 = std::max<int64_t>(i * g.SH - g.PH, 0),
                    h1 = std::min(i * g.SH - g.PH + g.KH, g.H);
      for (int64_t j = 0; j < g.OW; ++j) {
        const int64_t w0 = std::max<int64_t>(j * g.SW - g.PW, 0),
                      w1 = std::min(j * g.SW - g.PW + g.KW, g.W);
        const T v = s[i * g.OW + j] * inv;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) d[h * g.W + w] += v;
      }
    }
  }
}

Tensor avg_pool_raw(const Tensor& x, const PoolGeom& g) {
  Tensor out = empty(out_shape(x, g), x.dtype());
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  DAGRAD_DISPATCH(x.dtype(), {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_planes(g, [&](const PoolGeom& sub, int64_t p0) {
      avg_pool_forward<T>(px + p0 * HW, po + p0 * OP, sub);
    });
  });
  return out;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding) {
  const PoolGeom g = check_pool(x, kernel, stride, padding, "max_pool2d");
  Tensor out = empty(out_shape(x, g), x.dtype());
  auto idx = std::make_shared<std::vector<int32_t>>(static_cast<std::size_t>(out.numel()));
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  DAGRAD_DISPATCH(x.dtype(), {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    int32_t* pi = idx->data();
    for_planes(g, [&](const PoolGeom& sub, int64_t p0) {
      max_pool_forward<T>(px + p0 * HW, po + p0 * OP, pi + p0 * OP, sub);
    });
  });
  out = record(
      "max_pool2d", out, {x},
      // d out / d x = 1 at the window's argmax, 0 elsewhere
      [idx, g, xs = x.shape()](const Tensor& gout, const Tensor&) -> GradList {
        Tensor dx = empty(xs, gout.dtype());
        const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
        DAGRAD_DISPATCH(gout.dtype(), {
          const T* pg = gout.data<T>();
          T* pd = dx.data<T>();
          const int32_t* pi = idx->data();
          for_planes(g, [&](const PoolGeom& sub, int64_t p0) {
            max_pool_scatter<T>(pg + p0 * OP, pi + p0 * OP, pd + p0 * HW, sub);
          });
        });
        return {dx};
      },
      [idx, g](const TangentList& t, const Tensor& o) {
        Tensor r = empty_like(o);
        const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
        DAGRAD_DISPATCH(r.dtype(), {
          const T* s = t[0].data<T>();
          T* d = r.data<T>();
          for (int64_t pl = 0; pl < g.planes; ++pl)
            for (int64_t k = 0; k < OP; ++k) d[pl * OP + k] = s[pl * HW + (*idx)[pl * OP + k]];
        });
        return r;
      });
  mark_once_differentiable(out);
  return out;
}

Tensor avg_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding) {
  const PoolGeom g = check_pool(x, kernel, stride, padding, "avg_pool2d");
  Tensor out = avg_pool_raw(x, g);
  out = record(
      "avg_pool2d", out, {x},
      // d out / d x = 1 / (kh*kw) for every input in the window
      [g, xs = x.shape()](const Tensor& gout, const Tensor&) -> GradList {
        Tensor dx = empty(xs, gout.dtype());
        const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
        DAGRAD_DISPATCH(gout.dtype(), {
          const T* pg = gout.data<T>();
          T* pd = dx.data<T>();
          for_planes(g, [&](const PoolGeom& sub, int64_t p0) {
            avg_pool_backward<T>(pg + p0 * OP, pd + p0 * HW, sub);
          });
        });
        return {dx};
      },
      [g](const TangentList& t, const Tensor&) { return avg_pool_raw(t[0], g); });
  mark_once_differentiable(out);
  return out;
}

}  // namespace dagrad
