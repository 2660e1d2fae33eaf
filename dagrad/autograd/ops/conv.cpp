#include "dagrad/autograd/ops/conv.h"

#include <fmt/format.h>

#include <stdexcept>

#include "dagrad/autograd/engine.h"
#include "dagrad/autograd/kernels/conv.h"
#include "dagrad/autograd/kernels/elementwise.h"
#include "dagrad/autograd/node.h"

namespace dagrad {

namespace {

using kernels::ConvGeom;

ConvGeom check_conv(const Tensor& x, const Tensor& w, const Tensor& b, Size2 stride,
                    Size2 padding) {
  if (x.dim() != 4)
    throw std::invalid_argument(
        fmt::format("conv2d: input must be 4-D (N, C, H, W), got shape {}", to_string(x.shape())));
  if (w.dim() != 4)
    throw std::invalid_argument(fmt::format(
        "conv2d: weight must be 4-D (F, C, KH, KW), got shape {}", to_string(w.shape())));
  kernels::check_same_dtype(x, w, "conv2d");
  if (x.size(1) != w.size(1))
    throw std::invalid_argument(
        fmt::format("conv2d: input {} has {} channels but weight {} expects {}",
                    to_string(x.shape()), x.size(1), to_string(w.shape()), w.size(1)));
  if (b.defined()) {
    kernels::check_same_dtype(x, b, "conv2d");
    if (b.dim() != 1 || b.size(0) != w.size(0))
      throw std::invalid_argument(
          fmt::format("conv2d: bias must have shape {} for weight {}, got {}",
                      to_string(Shape{w.size(0)}), to_string(w.shape()), to_string(b.shape())));
  }
  if (stride.h <= 0 || stride.w <= 0)
    throw std::invalid_argument(
        fmt::format("conv2d: stride must be positive, got ({}, {})", stride.h, stride.w));
  if (padding.h < 0 || padding.w < 0)
    throw std::invalid_argument(
        fmt::format("conv2d: padding must be non-negative, got ({}, {})", padding.h, padding.w));
  ConvGeom g{};
  g.N = x.size(0), g.C = x.size(1), g.H = x.size(2), g.W = x.size(3);
  g.F = w.size(0), g.KH = w.size(2), g.KW = w.size(3);
  g.SH = stride.h, g.SW = stride.w, g.PH = padding.h, g.PW = padding.w;
  if (g.KH < 1 || g.KW < 1)
    throw std::invalid_argument(
        fmt::format("conv2d: weight {} has an empty kernel", to_string(w.shape())));
  if (g.KH > g.H + 2 * g.PH || g.KW > g.W + 2 * g.PW)
    throw std::invalid_argument(fmt::format(
        "conv2d: kernel {}x{} (weight {}) is larger than the padded input {}x{} (input {}, "
        "padding ({}, {}))",
        g.KH, g.KW, to_string(w.shape()), g.H + 2 * g.PH, g.W + 2 * g.PW, to_string(x.shape()),
        g.PH, g.PW));
  g.OH = conv_output_size(g.H, g.KH, g.SH, g.PH);
  g.OW = conv_output_size(g.W, g.KW, g.SW, g.PW);
  return g;
}

// Raw convolution of plain tensors (no recording): used by the forward pass and the
// forward-mode rule.
Tensor conv_raw(const Tensor& x, const Tensor& w, const Tensor& b, const ConvGeom& g) {
  Tensor out = empty({g.N, g.F, g.OH, g.OW}, x.dtype());
  if (out.numel() == 0) return out;
  DAGRAD_DISPATCH(x.dtype(), {
    if (g.K() == 0) {  // no input channels: only the bias remains
      T* po = out.data<T>();
      for (int64_t i = 0, n = out.numel(); i < n; ++i)
        po[i] = b.defined() ? b.data<T>()[(i / g.P()) % g.F] : T(0);
      return out;
    }
    kernels::conv_forward<T>(x.data<T>(), w.data<T>(), b.defined() ? b.data<T>() : nullptr,
                             out.data<T>(), g);
  });
  return out;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Size2 stride, Size2 padding) {
  const ConvGeom g = check_conv(x, w, b, stride, padding);
  Tensor out = conv_raw(x, w, b, g);

  const bool gx = x.requires_grad(), gw = w.requires_grad();
  // dx = col2im(w^T dout), dw = sum_n dout_n cols_n^T, db = sum over N, H, W of dout
  auto backward_xw = [x = SavedTensor(gw ? x : Tensor(), "conv2d"),
                      w = SavedTensor(gx ? w : Tensor(), "conv2d"), g, gx,
                      gw](const Tensor& gout) -> std::pair<Tensor, Tensor> {
    Tensor dx = gx ? empty({g.N, g.C, g.H, g.W}, gout.dtype()) : Tensor();
    Tensor dw = gw ? empty({g.F, g.C, g.KH, g.KW}, gout.dtype()) : Tensor();
    if ((gx || gw) && g.K() > 0 && gout.numel() > 0) {
      DAGRAD_DISPATCH(gout.dtype(), {
        kernels::conv_backward<T>(gw ? x.get().data<T>() : nullptr,
                                  gx ? w.get().data<T>() : nullptr, gout.data<T>(),
                                  gx ? dx.data<T>() : nullptr, gw ? dw.data<T>() : nullptr, g);
      });
    } else {
      if (gx) dx.fill_(0.0);
      if (gw) dw.fill_(0.0);
    }
    return {dx, dw};
  };
  // Forward mode: conv is bilinear, t_out = conv(t_x, w) + conv(x, t_w) + t_b.
  const bool tx = x.tangent().defined(), tw = w.tangent().defined();
  auto jvp_xw = [xd = x.detach(), wd = w.detach(), g, tx, tw](const TangentList& t) {
    Tensor r;
    if (tx) r = conv_raw(t[0].detach(), wd, Tensor(), g);
    if (tw) {
      Tensor s = conv_raw(xd, t[1].detach(), Tensor(), g);
      r = r.defined() ? r.add_(s) : s;
    }
    return r.defined() ? r : zeros({g.N, g.F, g.OH, g.OW}, xd.dtype());
  };

  if (!b.defined()) {
    out = record(
        "conv2d", out, {x, w},
        [bw = std::move(backward_xw)](const Tensor& gout, const Tensor&) -> GradList {
          auto [dx, dw] = bw(gout);
          return {dx, dw};
        },
        [jv = std::move(jvp_xw)](const TangentList& t, const Tensor&) { return jv(t); });
  } else {
    const bool gb = b.requires_grad(), tb = b.tangent().defined();
    out = record(
        "conv2d", out, {x, w, b},
        [bw = std::move(backward_xw), g, gb](const Tensor& gout, const Tensor&) -> GradList {
          auto [dx, dw] = bw(gout);
          Tensor db;
          if (gb) {
            db = empty({g.F}, gout.dtype());
            DAGRAD_DISPATCH(gout.dtype(),
                            { kernels::conv_bias_backward<T>(gout.data<T>(), db.data<T>(), g); });
          }
          return {dx, dw, db};
        },
        [jv = std::move(jvp_xw), g, tb](const TangentList& t, const Tensor&) {
          Tensor r = jv(t);
          if (tb) {
            DAGRAD_DISPATCH(r.dtype(), {
              T* pr = r.data<T>();
              const T* pb = t[2].data<T>();
              const int64_t P = g.P();
              for (int64_t n = 0; n < g.N; ++n)
                for (int64_t f = 0; f < g.F; ++f) {
                  T* d = pr + (n * g.F + f) * P;
                  for (int64_t i = 0; i < P; ++i) d[i] += pb[f];
                }
            });
          }
          return r;
        });
  }
  mark_once_differentiable(out);
  return out;
}

Tensor conv2d(const Tensor& x, const Tensor& w, Size2 stride, Size2 padding) {
  return conv2d(x, w, Tensor(), stride, padding);
}

}  // namespace dagrad
