#include "dagrad/autograd/ops/unary.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "dagrad/autograd/node.h"
#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/map.h"
#include "dagrad/autograd/rules.h"

namespace dagrad {

// The backward rules of the ops recorded here, one line of math each (rules.h).
const BackwardRules unary_rules{
    {"exp", "d exp(x)/dx = exp(x)"},
    {"log", "d log(x)/dx = 1/x"},
    {"log1p", "d log(1+x)/dx = 1/(1+x)"},
    {"log2", "d log2(x)/dx = 1/(x ln 2)"},
    {"expm1", "d(e^x - 1)/dx = e^x"},
    {"sqrt", "d sqrt(x)/dx = 1/(2 sqrt(x))"},
    {"rsqrt", "d x^(-1/2)/dx = -x^(-3/2)/2"},
    {"abs", "d|x|/dx = sign(x)"},
    {"sign", "piecewise constant: d sign(x)/dx = 0"},
    {"floor", "piecewise constant: d floor(x)/dx = 0"},
    {"ceil", "piecewise constant: d ceil(x)/dx = 0"},
    {"round", "piecewise constant: d round(x)/dx = 0"},
    {"sin", "d sin(x)/dx = cos(x)"},
    {"cos", "d cos(x)/dx = -sin(x)"},
    {"tan", "d tan(x)/dx = 1 + tan(x)^2"},
    {"atan", "d atan(x)/dx = 1/(1+x^2)"},
    {"tanh", "d tanh(x)/dx = 1 - tanh(x)^2"},
    {"sigmoid", "d s(x)/dx = s(x)(1 - s(x))"},
    {"relu", "d relu(x)/dx = 1 if x > 0 else 0"},
    {"leaky_relu", "d/dx = 1 if x > 0 else slope"},
    {"softplus", "d log(1+e^x)/dx = sigmoid(x)"},
    {"elu", "d/dx = 1 if x > 0 else alpha e^x"},
    {"gelu", "d x Phi(x)/dx = Phi(x) + x phi(x)"},
    {"gelu_tanh", "d/dx of x (1 + tanh(u))/2, u = sqrt(2/pi)(x + 0.044715 x^3)"},
    {"silu", "d x s(x)/dx = s(x)(1 + x(1 - s(x)))"},
    {"erf", "d erf(x)/dx = 2/sqrt(pi) e^(-x^2)"},
};

using detail::map_unary;
namespace fn = kernels::fn;

namespace {
// 0/1 mask of x > 0 (relu's derivative), and the leaky variant.
Tensor positive_mask(const Tensor& x) { return map_unary(x, "relu", fn::PositiveMask{}); }
Tensor leaky_mask(const Tensor& x, double slope) {
  return map_unary(x, "leaky_relu", fn::LeakyMask{slope});
}

// y = f(x) elementwise, with dy/dx = deriv(x, y) written in differentiable ops so that
// create_graph and forward mode work: backward g * deriv, tangent t * deriv.
template <typename F, typename D>
Tensor smooth_unary(const Tensor& x, const char* op, const F& f, D deriv) {
  Tensor out = map_unary(x, op, f);
  return record(
      op, out, {x},
      [x = SavedTensor(x, op), deriv](const Tensor& g, const Tensor& y) -> GradList {
        return {g * deriv(x.get(), y)};
      },
      [&x, deriv](const TangentList& t, const Tensor& y) { return t[0] * deriv(x, y); },
      KeepOutput::yes);
}

// y = f(x) piecewise constant: gradient and tangent 0.
template <typename F>
Tensor step_unary(const Tensor& x, const char* op, const F& f) {
  Tensor out = map_unary(x, op, f);
  return record(
      op, out, {x}, [](const Tensor& g, const Tensor&) -> GradList { return {zeros_like(g)}; },
      [](const TangentList& t, const Tensor&) { return zeros_like(t[0]); });
}

constexpr double two_over_sqrt_pi = 1.12837916709551257390;  // 2 / sqrt(pi)
constexpr double inv_sqrt_two = 0.70710678118654752440;      // 1 / sqrt(2)
constexpr double inv_sqrt_two_pi = 0.39894228040143267794;   // 1 / sqrt(2 pi)
constexpr double sqrt_two_over_pi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double gelu_tanh_cubic = 0.044715;
constexpr double ln_two = 0.69314718055994530942;
}  // namespace

Tensor exp(const Tensor& x) {
  Tensor out = map_unary(x, "exp", fn::Exp{});
  // d/dx e^x = e^x
  return record(
      "exp", out, {x}, [](const Tensor& g, const Tensor& y) -> GradList { return {g * y}; },
      [](const TangentList& t, const Tensor& y) { return t[0] * y; }, KeepOutput::yes);
}

Tensor log(const Tensor& x) {
  Tensor out = map_unary(x, "log", fn::Log{});
  // d/dx log x = 1/x
  return record(
      "log", out, {x},
      [x = SavedTensor(x, "log")](const Tensor& g, const Tensor&) -> GradList {
        return {g / x.get()};
      },
      [&x](const TangentList& t, const Tensor&) { return t[0] / x; });
}

Tensor log1p(const Tensor& x) {
  Tensor out = map_unary(x, "log1p", fn::Log1p{});
  // d/dx log(1+x) = 1/(1+x)
  return record(
      "log1p", out, {x},
      [x = SavedTensor(x, "log1p")](const Tensor& g, const Tensor&) -> GradList {
        return {g / (x.get() + 1.0)};
      },
      [&x](const TangentList& t, const Tensor&) { return t[0] / (x + 1.0); });
}

Tensor sqrt(const Tensor& x) {
  Tensor out = map_unary(x, "sqrt", fn::Sqrt{});
  // d/dx sqrt(x) = 1 / (2 sqrt(x))
  return record(
      "sqrt", out, {x},
      [](const Tensor& g, const Tensor& y) -> GradList { return {g / (y * 2.0)}; },
      [](const TangentList& t, const Tensor& y) { return t[0] / (y * 2.0); }, KeepOutput::yes);
}

Tensor sign(const Tensor& x) { return step_unary(x, "sign", fn::Sign{}); }
Tensor floor(const Tensor& x) { return step_unary(x, "floor", fn::Floor{}); }
Tensor ceil(const Tensor& x) { return step_unary(x, "ceil", fn::Ceil{}); }
Tensor round(const Tensor& x) { return step_unary(x, "round", fn::Round{}); }

Tensor abs(const Tensor& x) {
  Tensor out = map_unary(x, "abs", fn::Abs{});
  // d/dx |x| = sign(x)
  return record(
      "abs", out, {x},
      [x = SavedTensor(x, "abs")](const Tensor& g, const Tensor&) -> GradList {
        return {g * sign(x.get())};
      },
      [&x](const TangentList& t, const Tensor&) { return t[0] * sign(x); });
}

Tensor sin(const Tensor& x) {
  Tensor out = map_unary(x, "sin", fn::Sin{});
  // d/dx sin x = cos x
  return record(
      "sin", out, {x},
      [x = SavedTensor(x, "sin")](const Tensor& g, const Tensor&) -> GradList {
        return {g * cos(x.get())};
      },
      [&x](const TangentList& t, const Tensor&) { return t[0] * cos(x); });
}

Tensor cos(const Tensor& x) {
  Tensor out = map_unary(x, "cos", fn::Cos{});
  // d/dx cos x = -sin x
  return record(
      "cos", out, {x},
      [x = SavedTensor(x, "cos")](const Tensor& g, const Tensor&) -> GradList {
        return {-(g * sin(x.get()))};
      },
      [&x](const TangentList& t, const Tensor&) { return -(t[0] * sin(x)); });
}

Tensor tanh(const Tensor& x) {
  Tensor out = map_unary(x, "tanh", fn::Tanh{});
  // d/dx tanh x = 1 - tanh(x)^2
  return record(
      "tanh", out, {x},
      [](const Tensor& g, const Tensor& y) -> GradList { return {g * (1.0 - y * y)}; },
      [](const TangentList& t, const Tensor& y) { return t[0] * (1.0 - y * y); }, KeepOutput::yes);
}

Tensor sigmoid(const Tensor& x) {
  // Stable on both sides: e^x / (1 + e^x) for x < 0.
  Tensor out = map_unary(x, "sigmoid", fn::Sigmoid{});
  // d/dx s(x) = s(x) (1 - s(x))
  return record(
      "sigmoid", out, {x},
      [](const Tensor& g, const Tensor& y) -> GradList { return {g * y * (1.0 - y)}; },
      [](const TangentList& t, const Tensor& y) { return t[0] * y * (1.0 - y); }, KeepOutput::yes);
}

Tensor relu(const Tensor& x) {
  Tensor out = map_unary(x, "relu", fn::Relu{});
  // d/dx relu(x) = [x > 0]
  return record(
      "relu", out, {x},
      [](const Tensor& g, const Tensor& y) -> GradList {
        if (backward_in_ops({g, y}))
          return {g * positive_mask(y)};  // create_graph or tangents: stay differentiable
        // Not recorded: one fused pass instead of a mask and a product.
        return {detail::map_binary(g, y, "relu_backward", fn::ReluBackward{})};
      },
      [](const TangentList& t, const Tensor& y) { return t[0] * positive_mask(y); },
      KeepOutput::yes);
}

Tensor leaky_relu(const Tensor& x, double slope) {
  Tensor out = map_unary(x, "leaky_relu", fn::LeakyRelu{slope});
  // d/dx = 1 for x > 0, slope otherwise
  return record(
      "leaky_relu", out, {x},
      [x = SavedTensor(x, "leaky_relu"), slope](const Tensor& g, const Tensor&) -> GradList {
        return {g * leaky_mask(x.get(), slope)};
      },
      [&x, slope](const TangentList& t, const Tensor&) { return t[0] * leaky_mask(x, slope); });
}

Tensor softplus(const Tensor& x) {
  // log(1 + e^x) = max(x, 0) + log1p(e^-|x|)
  Tensor out = map_unary(x, "softplus", fn::Softplus{});
  // d/dx softplus(x) = sigmoid(x)
  return record(
      "softplus", out, {x},
      [x = SavedTensor(x, "softplus")](const Tensor& g, const Tensor&) -> GradList {
        return {g * sigmoid(x.get())};
      },
      [&x](const TangentList& t, const Tensor&) { return t[0] * sigmoid(x); });
}

Tensor erf(const Tensor& x) {
  // d/dx erf(x) = 2/sqrt(pi) e^(-x^2)
  return smooth_unary(x, "erf", fn::Erf{}, [](const Tensor& v, const Tensor&) {
    return exp(-(v * v)) * two_over_sqrt_pi;
  });
}

Tensor gelu(const Tensor& x, std::string_view approximate) {
  if (approximate == "none") {
    // d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi)
    return smooth_unary(x, "gelu", fn::Gelu{}, [](const Tensor& v, const Tensor&) {
      return (erf(v * inv_sqrt_two) + 1.0) * 0.5 + v * exp(v * v * -0.5) * inv_sqrt_two_pi;
    });
  }
  if (approximate == "tanh") {
    // t = tanh(k (x + c x^3)): d/dx = (1 + t)/2 + x (1 - t^2) k (1 + 3 c x^2) / 2
    return smooth_unary(x, "gelu_tanh", fn::GeluTanh{}, [](const Tensor& v, const Tensor&) {
      const Tensor v2 = v * v;
      const Tensor t = tanh((v + v2 * v * gelu_tanh_cubic) * sqrt_two_over_pi);
      return (t + 1.0) * 0.5 +
             v * (1.0 - t * t) * (v2 * (3 * gelu_tanh_cubic) + 1.0) * (0.5 * sqrt_two_over_pi);
    });
  }
  throw std::invalid_argument(
      fmt::format("gelu: approximate must be \"none\" or \"tanh\", got \"{}\"", approximate));
}

Tensor elu(const Tensor& x, double alpha) {
  // d/dx = 1 for x > 0, alpha e^x otherwise. At 0, as PyTorch: first derivative alpha, second 0
  // (e^(x [x < 0]) is e^x below 0 and has a zero derivative at 0).
  return smooth_unary(x, "elu", fn::Elu{alpha}, [alpha](const Tensor& v, const Tensor&) {
    return where(positive_mask(v), ones_like(v), exp(v * lt(v, 0.0)) * alpha);
  });
}

Tensor silu(const Tensor& x) {
  // d/dx x s(x) = s(x) (1 + x (1 - s(x)))
  return smooth_unary(x, "silu", fn::Silu{}, [](const Tensor& v, const Tensor&) {
    const Tensor s = sigmoid(v);
    return s * (v * (1.0 - s) + 1.0);
  });
}

Tensor tan(const Tensor& x) {
  // d/dx tan x = 1 + tan(x)^2
  return smooth_unary(x, "tan", fn::Tan{},
                      [](const Tensor&, const Tensor& y) { return y * y + 1.0; });
}

Tensor atan(const Tensor& x) {
  // d/dx atan x = 1 / (1 + x^2)
  return smooth_unary(x, "atan", fn::Atan{},
                      [](const Tensor& v, const Tensor&) { return 1.0 / (v * v + 1.0); });
}

Tensor rsqrt(const Tensor& x) {
  // d/dx x^(-1/2) = -x^(-3/2) / 2 = -y^3 / 2
  return smooth_unary(x, "rsqrt", fn::Rsqrt{},
                      [](const Tensor&, const Tensor& y) { return y * y * y * -0.5; });
}

Tensor expm1(const Tensor& x) {
  // d/dx (e^x - 1) = e^x = y + 1
  return smooth_unary(x, "expm1", fn::Expm1{},
                      [](const Tensor&, const Tensor& y) { return y + 1.0; });
}

Tensor log2(const Tensor& x) {
  // d/dx log2 x = 1 / (x ln 2)
  return smooth_unary(x, "log2", fn::Log2{},
                      [](const Tensor& v, const Tensor&) { return 1.0 / (v * ln_two); });
}

}  // namespace dagrad
