#include "autograd/ops/pool.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "autograd/engine.h"
#include "autograd/node.h"

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

// The max-pool update: v (at index k) replaces the current best when strictly larger or NaN
// (PyTorch's rule, so the first maximum wins ties).
template <typename T>
inline void take(T& best, int64_t& bi, T v, int64_t k) {
  const bool win = v > best || v != v;
  best = win ? v : best;
  bi = win ? k : bi;
}

// Max pooling; idx gets the argmax's offset within its plane (first maximum, NaN wins).
template <typename T>
void max_pool_forward(const T* x, T* out, int32_t* idx, const PoolGeom& g) {
  const int64_t HW = g.H * g.W, OP = g.OH * g.OW;
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    const T* xs = x + pl * HW;
    T* o = out + pl * OP;
    int32_t* id = idx + pl * OP;
    if (g.fast2x2()) {
      for (int64_t i = 0; i < g.OH; ++i) {
        const T* r0 = xs + 2 * i * g.W;
        const T* r1 = r0 + g.W;
        for (int64_t j = 0; j < g.OW; ++j) {
          const int64_t w0 = 2 * j;
          // Same order and rule as the general loop: a later entry wins only if strictly
          // larger (or NaN). Written as selects so random data does not mispredict branches.
          const int64_t top = 2 * i * g.W + w0, bottom = top + g.W;
          T best = r0[w0];
          int64_t bi = top;
          take(best, bi, r0[w0 + 1], top + 1);
          take(best, bi, r1[w0], bottom);
          take(best, bi, r1[w0 + 1], bottom + 1);
          o[i * g.OW + j] = best;
          id[i * g.OW + j] = static_cast<int32_t>(bi);
        }
      }
      continue;
    }
    for (int64_t i = 0; i < g.OH; ++i) {
      const int64_t h0 = i * g.SH - g.PH, h1 = std::min(h0 + g.KH, g.H), hs = std::max<int64_t>(h0, 0);
      for (int64_t j = 0; j < g.OW; ++j) {
        const int64_t w0 = j * g.SW - g.PW, w1 = std::min(w0 + g.KW, g.W),
                      ws = std::max<int64_t>(w0, 0);
        T best = -std::numeric_limits<T>::infinity();
        int64_t bi = hs * g.W + ws;
        for (int64_t h = hs; h < h1; ++h)
          for (int64_t w = ws; w < w1; ++w) {
            take(best, bi, xs[h * g.W + w], h * g.W + w);
          }
        o[i * g.OW + j] = best;
        id[i * g.OW + j] = static_cast<int32_t>(bi);
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
  DAGRAD_DISPATCH(x.dtype(), { avg_pool_forward<T>(x.data<T>(), out.data<T>(), g); });
  return out;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, Size2 kernel, Size2 stride, Size2 padding) {
  const PoolGeom g = check_pool(x, kernel, stride, padding, "max_pool2d");
  Tensor out = empty(out_shape(x, g), x.dtype());
  auto idx = std::make_shared<std::vector<int32_t>>(static_cast<std::size_t>(out.numel()));
  DAGRAD_DISPATCH(x.dtype(), { max_pool_forward<T>(x.data<T>(), out.data<T>(), idx->data(), g); });
  out = record(
      "max_pool2d", out, {x},
      // d out / d x = 1 at the window's argmax, 0 elsewhere
      [idx, g, xs = x.shape()](const Tensor& gout, const Tensor&) -> GradList {
        Tensor dx = empty(xs, gout.dtype());
        DAGRAD_DISPATCH(gout.dtype(),
                        { max_pool_scatter<T>(gout.data<T>(), idx->data(), dx.data<T>(), g); });
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
        DAGRAD_DISPATCH(gout.dtype(), { avg_pool_backward<T>(gout.data<T>(), dx.data<T>(), g); });
        return {dx};
      },
      [g](const TangentList& t, const Tensor&) { return avg_pool_raw(t[0], g); });
  mark_once_differentiable(out);
  return out;
}

}  // namespace dagrad
