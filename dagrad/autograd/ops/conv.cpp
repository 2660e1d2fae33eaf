#include "dagrad/autograd/ops/conv.h"

#include <fmt/format.h>

#include <stdexcept>
#include <utility>
#include <vector>

#include "dagrad/autograd/engine.h"
#include "dagrad/autograd/node.h"
#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/map.h"
#include "dagrad/autograd/ops/reduction.h"
#include "dagrad/autograd/ops/shape_ops.h"
#include "dagrad/autograd/rules.h"
#include "dagrad/kernels/conv.h"

namespace dagrad {

// The backward rules of the ops recorded here, one line of math each (rules.h).
const BackwardRules conv_rules{
    {"conv2d",
     "dx = G correlated with the flipped kernels (transposed conv), dW = x correlated with G, db = "
     "sum of G"},
    {"conv2d_backward_input",
     "linear in G and W: its rule is a conv2d and a conv2d_backward_weight"},
    {"conv2d_backward_weight",
     "linear in x and G: its rule is a conv2d_backward_input and a conv2d"},
};

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
  detail::check_same_dtype(x, w, "conv2d");
  if (x.size(1) != w.size(1))
    throw std::invalid_argument(
        fmt::format("conv2d: input {} has {} channels but weight {} expects {}",
                    to_string(x.shape()), x.size(1), to_string(w.shape()), w.size(1)));
  if (b.defined()) {
    detail::check_same_dtype(x, b, "conv2d");
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

// dx and/or dw of conv(x, w) for the upstream gradient gout, by the raw kernel (either of x,
// w may be undefined when its partner gradient is not wanted).
std::pair<Tensor, Tensor> conv_backward_raw(const Tensor& x, const Tensor& w, const Tensor& gout,
                                            const ConvGeom& g, bool want_dx, bool want_dw) {
  Tensor dx = want_dx ? empty({g.N, g.C, g.H, g.W}, gout.dtype()) : Tensor();
  Tensor dw = want_dw ? empty({g.F, g.C, g.KH, g.KW}, gout.dtype()) : Tensor();
  if ((want_dx || want_dw) && g.K() > 0 && gout.numel() > 0) {
    DAGRAD_DISPATCH(gout.dtype(), {
      kernels::conv_backward<T>(want_dw ? x.data<T>() : nullptr, want_dx ? w.data<T>() : nullptr,
                                gout.data<T>(), want_dx ? dx.data<T>() : nullptr,
                                want_dw ? dw.data<T>() : nullptr, g);
    });
  } else {
    if (want_dx) dx.fill_(0.0);
    if (want_dw) dw.fill_(0.0);
  }
  return {dx, dw};
}

// Convolution and its two gradients are bilinear maps, each pair adjoint:
//   <gg, conv(x, w)> = <conv_input_grad(gg, w), x> = <conv_weight_grad(x, gg), w>,
// so each one's backward is written with the other two, and create_graph differentiates
// through any of them again. conv_input_grad is the transposed convolution.
Tensor conv_op(const Tensor& x, const Tensor& w, const ConvGeom& g);
Tensor conv_input_grad_op(const Tensor& gout, const Tensor& w, const ConvGeom& g);
Tensor conv_weight_grad_op(const Tensor& x, const Tensor& gout, const ConvGeom& g);

// t_out of a bilinear f(a, b) from the tangents: f(t_a, b) + f(a, t_b).
template <typename F>
Tensor bilinear_tangent(const TangentList& t, const Tensor& a, const Tensor& b, F f) {
  return f(t[0].detach(), b.detach()).add_(f(a.detach(), t[1].detach()));
}

Tensor conv_op(const Tensor& x, const Tensor& w, const ConvGeom& g) {
  return record(
      "conv2d", conv_raw(x, w, Tensor(), g), {x, w},
      [x = SavedTensor(x, "conv2d"), w = SavedTensor(w, "conv2d"), g](const Tensor& gout,
                                                                      const Tensor&) -> GradList {
        return {conv_input_grad_op(gout, w.get(), g), conv_weight_grad_op(x.get(), gout, g)};
      },
      [&x, &w, g](const TangentList& t, const Tensor&) {
        return bilinear_tangent(t, x, w, [&g](const Tensor& a, const Tensor& b) {
          return conv_raw(a, b, Tensor(), g);
        });
      });
}

Tensor conv_input_grad_op(const Tensor& gout, const Tensor& w, const ConvGeom& g) {
  auto raw = [&g](const Tensor& go, const Tensor& wv) {
    return conv_backward_raw(Tensor(), wv, go, g, true, false).first;
  };
  return record(
      "conv2d_backward_input", raw(gout, w), {gout, w},
      [gout = SavedTensor(gout, "conv2d_backward_input"),
       w = SavedTensor(w, "conv2d_backward_input"),
       g](const Tensor& gg, const Tensor&) -> GradList {
        return {conv_op(gg, w.get(), g), conv_weight_grad_op(gg, gout.get(), g)};
      },
      [&gout, &w, raw](const TangentList& t, const Tensor&) {
        return bilinear_tangent(t, gout, w, raw);
      });
}

Tensor conv_weight_grad_op(const Tensor& x, const Tensor& gout, const ConvGeom& g) {
  auto raw = [&g](const Tensor& xv, const Tensor& go) {
    return conv_backward_raw(xv, Tensor(), go, g, false, true).second;
  };
  return record(
      "conv2d_backward_weight", raw(x, gout), {x, gout},
      [x = SavedTensor(x, "conv2d_backward_weight"),
       gout = SavedTensor(gout, "conv2d_backward_weight"),
       g](const Tensor& gg, const Tensor&) -> GradList {
        return {conv_input_grad_op(gout.get(), gg, g), conv_op(x.get(), gg, g)};
      },
      [&x, &gout, raw](const TangentList& t, const Tensor&) {
        return bilinear_tangent(t, x, gout, raw);
      });
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Size2 stride, Size2 padding) {
  detail::check_floating(x, "conv2d");
  detail::check_floating(w, "conv2d");
  const ConvGeom g = check_conv(x, w, b, stride, padding);
  Tensor out = conv_raw(x, w, b, g);
  const bool gx = x.requires_grad(), gw = w.requires_grad(), gb = b.defined() && b.requires_grad();
  // dx = col2im(w^T dout), dw = sum_n dout_n cols_n^T, db = sum over N, H, W of dout. Without
  // create_graph one raw kernel call gives dx and dw; with it, the adjoint ops above.
  auto backward = [x = SavedTensor(gw ? x : Tensor(), "conv2d"),
                   w = SavedTensor(gx ? w : Tensor(), "conv2d"), g, gx, gw,
                   gb](const Tensor& gout, const Tensor&) -> GradList {
    GradList grads;
    const bool in_ops = backward_in_ops({gout, x.get(), w.get()});
    if (in_ops) {
      grads.push_back(gx ? conv_input_grad_op(gout, w.get(), g) : Tensor());
      grads.push_back(gw ? conv_weight_grad_op(x.get(), gout, g) : Tensor());
    } else {
      auto [dx, dw] =
          conv_backward_raw(gw ? x.get() : Tensor(), gx ? w.get() : Tensor(), gout, g, gx, gw);
      grads.push_back(dx);
      grads.push_back(dw);
    }
    if (gb && in_ops) {
      grads.push_back(sum(gout, std::vector<int64_t>{0, 2, 3}));
    } else if (gb) {
      Tensor db = empty({g.F}, gout.dtype());
      DAGRAD_DISPATCH(gout.dtype(),
                      { kernels::conv_bias_backward<T>(gout.data<T>(), db.data<T>(), g); });
      grads.push_back(db);
    } else {
      grads.push_back(Tensor());
    }
    return grads;
  };
  // Forward mode: conv is bilinear, t_out = conv(t_x, w) + conv(x, t_w) + t_b.
  auto jvp = [&x, &w, &b, g](const TangentList& t, const Tensor&) {
    Tensor r = bilinear_tangent(
        t, x, w, [&g](const Tensor& a, const Tensor& c) { return conv_raw(a, c, Tensor(), g); });
    return b.defined() ? r + reshape(t[2], {1, g.F, 1, 1}) : r;
  };
  if (!b.defined())
    return record(
        "conv2d", out, {x, w},
        [bw = std::move(backward)](const Tensor& gout, const Tensor& o) -> GradList {
          GradList grads = bw(gout, o);
          grads.pop_back();  // no bias
          return grads;
        },
        jvp);
  return record("conv2d", out, {x, w, b}, std::move(backward), jvp);
}

Tensor conv2d(const Tensor& x, const Tensor& w, Size2 stride, Size2 padding) {
  return conv2d(x, w, Tensor(), stride, padding);
}

namespace {
// w (F, C, KH, KW) with dilation - 1 zeros between its taps: (F, C, (KH-1) dh + 1, (KW-1) dw + 1).
// Two index_adds into zeros, so the weight's gradient (of any order) flows back through it.
Tensor dilate_weight(const Tensor& w, Size2 dilation) {
  Tensor out = w;
  for (int axis : {2, 3}) {
    const int64_t d = axis == 2 ? dilation.h : dilation.w, k = out.size(axis);
    if (d == 1) continue;
    std::vector<double> at;
    for (int64_t i = 0; i < k; ++i) at.push_back(static_cast<double>(i * d));
    Shape wide = out.shape();
    wide[axis] = (k - 1) * d + 1;
    out = index_add(zeros(wide, w.dtype()), axis, tensor(at, {k}, w.dtype()), out);
  }
  return out;
}
}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, Size2 stride, Size2 padding,
              Size2 dilation, int64_t groups) {
  detail::check_floating(x, "conv2d");
  detail::check_floating(w, "conv2d");
  if (dilation.h <= 0 || dilation.w <= 0)
    throw std::invalid_argument(
        fmt::format("conv2d: dilation must be positive, got ({}, {})", dilation.h, dilation.w));
  if (groups <= 0)
    throw std::invalid_argument(fmt::format("conv2d: groups must be positive, got {}", groups));
  if (groups == 1)
    return conv2d(x, dilation == Size2{1} ? w : dilate_weight(w, dilation), b, stride, padding);
  if (x.dim() != 4 || w.dim() != 4 || x.size(1) % groups != 0 || w.size(0) % groups != 0 ||
      w.size(1) * groups != x.size(1))
    throw std::invalid_argument(fmt::format(
        "conv2d: {} groups need input (N, C, H, W) and weight (F, C / groups, KH, KW) with C and "
        "F divisible by the groups; got input {} and weight {}",
        groups, to_string(x.shape()), to_string(w.shape())));
  const std::vector<Tensor> xs = chunk(x, groups, 1), ws = chunk(w, groups, 0);
  const std::vector<Tensor> bs = b.defined() ? chunk(b, groups, 0) : std::vector<Tensor>(groups);
  std::vector<Tensor> outs;
  for (int64_t k = 0; k < groups; ++k)
    outs.push_back(conv2d(xs[k], ws[k], bs[k], stride, padding, dilation, 1));
  return concat(outs, 1);
}

Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, int64_t padding,
              int64_t dilation, int64_t groups) {
  detail::check_floating(x, "conv1d");
  detail::check_floating(w, "conv1d");
  if (x.dim() != 3 || w.dim() != 3)
    throw std::invalid_argument(
        fmt::format("conv1d: input must be (N, C, L) and weight (F, C / groups, K), got {} and {}",
                    to_string(x.shape()), to_string(w.shape())));
  const Tensor out = conv2d(unsqueeze(x, 2), unsqueeze(w, 2), b, Size2{1, stride},
                            Size2{0, padding}, Size2{1, dilation}, groups);
  return squeeze(out, 2);
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, Size2 stride,
                        Size2 padding, Size2 output_padding) {
  detail::check_floating(x, "conv_transpose2d");
  detail::check_floating(w, "conv_transpose2d");
  const char* op = "conv_transpose2d";
  if (x.dim() != 4 || w.dim() != 4 || w.size(0) != x.size(1))
    throw std::invalid_argument(fmt::format(
        "{}: input must be (N, F, H, W) and weight (F, C, KH, KW) with the same F, got {} and {}",
        op, to_string(x.shape()), to_string(w.shape())));
  detail::check_same_dtype(x, w, op);
  if (stride.h <= 0 || stride.w <= 0 || padding.h < 0 || padding.w < 0 || output_padding.h < 0 ||
      output_padding.w < 0 || output_padding.h >= stride.h || output_padding.w >= stride.w)
    throw std::invalid_argument(fmt::format(
        "{}: need stride > 0, padding >= 0 and 0 <= output_padding < stride; got stride ({}, {}), "
        "padding ({}, {}), output_padding ({}, {})",
        op, stride.h, stride.w, padding.h, padding.w, output_padding.h, output_padding.w));
  // The geometry of the conv2d whose input gradient this is: from (N, C, H', W') to x's shape.
  ConvGeom g{};
  g.N = x.size(0), g.F = x.size(1), g.OH = x.size(2), g.OW = x.size(3);
  g.C = w.size(1), g.KH = w.size(2), g.KW = w.size(3);
  g.SH = stride.h, g.SW = stride.w, g.PH = padding.h, g.PW = padding.w;
  g.H = (g.OH - 1) * g.SH - 2 * g.PH + g.KH + output_padding.h;
  g.W = (g.OW - 1) * g.SW - 2 * g.PW + g.KW + output_padding.w;
  if (g.H <= 0 || g.W <= 0 || g.KH <= 0 || g.KW <= 0)
    throw std::invalid_argument(fmt::format(
        "{}: input {} with weight {}, stride ({}, {}) and padding ({}, {}) gives an empty output "
        "({} x {})",
        op, to_string(x.shape()), to_string(w.shape()), g.SH, g.SW, g.PH, g.PW, g.H, g.W));
  Tensor out = conv_input_grad_op(x, w, g);
  if (!b.defined()) return out;
  detail::check_same_dtype(x, b, op);
  if (b.shape() != Shape{g.C})
    throw std::invalid_argument(
        fmt::format("{}: bias must have shape ({}), got {}", op, g.C, to_string(b.shape())));
  return out + reshape(b, {1, g.C, 1, 1});
}

}  // namespace dagrad
