#include "dagrad/autograd/ops/unary.h"

#include <cmath>

#include "dagrad/autograd/kernels/elementwise.h"
#include "dagrad/autograd/node.h"
#include "dagrad/autograd/ops/elementwise.h"

namespace dagrad {

using kernels::map_unary;
namespace fn = kernels::fn;

namespace {
// 0/1 mask of x > 0 (relu's derivative), and the leaky variant.
Tensor positive_mask(const Tensor& x) { return map_unary(x, fn::PositiveMask{}); }
Tensor leaky_mask(const Tensor& x, double slope) { return map_unary(x, fn::LeakyMask{slope}); }
}  // namespace

Tensor exp(const Tensor& x) {
  Tensor out = map_unary(x, fn::Exp{});
  // d/dx e^x = e^x
  return record(
      "exp", out, {x}, [](const Tensor& g, const Tensor& y) -> GradList { return {g * y}; },
      [](const TangentList& t, const Tensor& y) { return t[0] * y; }, KeepOutput::yes);
}

Tensor log(const Tensor& x) {
  Tensor out = map_unary(x, fn::Log{});
  // d/dx log x = 1/x
  return record(
      "log", out, {x},
      [x = SavedTensor(x, "log")](const Tensor& g, const Tensor&) -> GradList {
        return {g / x.get()};
      },
      [&x](const TangentList& t, const Tensor&) { return t[0] / x; });
}

Tensor log1p(const Tensor& x) {
  Tensor out = map_unary(x, fn::Log1p{});
  // d/dx log(1+x) = 1/(1+x)
  return record(
      "log1p", out, {x},
      [x = SavedTensor(x, "log1p")](const Tensor& g, const Tensor&) -> GradList {
        return {g / (x.get() + 1.0)};
      },
      [&x](const TangentList& t, const Tensor&) { return t[0] / (x + 1.0); });
}

Tensor sqrt(const Tensor& x) {
  Tensor out = map_unary(x, fn::Sqrt{});
  // d/dx sqrt(x) = 1 / (2 sqrt(x))
  return record(
      "sqrt", out, {x},
      [](const Tensor& g, const Tensor& y) -> GradList { return {g / (y * 2.0)}; },
      [](const TangentList& t, const Tensor& y) { return t[0] / (y * 2.0); }, KeepOutput::yes);
}

Tensor sign(const Tensor& x) {
  Tensor out = map_unary(x, fn::Sign{});
  // piecewise constant: zero gradient
  return record(
      "sign", out, {x}, [](const Tensor& g, const Tensor&) -> GradList { return {zeros_like(g)}; },
      [](const TangentList& t, const Tensor&) { return zeros_like(t[0]); });
}

Tensor abs(const Tensor& x) {
  Tensor out = map_unary(x, fn::Abs{});
  // d/dx |x| = sign(x)
  return record(
      "abs", out, {x},
      [x = SavedTensor(x, "abs")](const Tensor& g, const Tensor&) -> GradList {
        return {g * sign(x.get())};
      },
      [&x](const TangentList& t, const Tensor&) { return t[0] * sign(x); });
}

Tensor sin(const Tensor& x) {
  Tensor out = map_unary(x, fn::Sin{});
  // d/dx sin x = cos x
  return record(
      "sin", out, {x},
      [x = SavedTensor(x, "sin")](const Tensor& g, const Tensor&) -> GradList {
        return {g * cos(x.get())};
      },
      [&x](const TangentList& t, const Tensor&) { return t[0] * cos(x); });
}

Tensor cos(const Tensor& x) {
  Tensor out = map_unary(x, fn::Cos{});
  // d/dx cos x = -sin x
  return record(
      "cos", out, {x},
      [x = SavedTensor(x, "cos")](const Tensor& g, const Tensor&) -> GradList {
        return {-(g * sin(x.get()))};
      },
      [&x](const TangentList& t, const Tensor&) { return -(t[0] * sin(x)); });
}

Tensor tanh(const Tensor& x) {
  Tensor out = map_unary(x, fn::Tanh{});
  // d/dx tanh x = 1 - tanh(x)^2
  return record(
      "tanh", out, {x},
      [](const Tensor& g, const Tensor& y) -> GradList { return {g * (1.0 - y * y)}; },
      [](const TangentList& t, const Tensor& y) { return t[0] * (1.0 - y * y); }, KeepOutput::yes);
}

Tensor sigmoid(const Tensor& x) {
  // Stable on both sides: e^x / (1 + e^x) for x < 0.
  Tensor out = map_unary(x, fn::Sigmoid{});
  // d/dx s(x) = s(x) (1 - s(x))
  return record(
      "sigmoid", out, {x},
      [](const Tensor& g, const Tensor& y) -> GradList { return {g * y * (1.0 - y)}; },
      [](const TangentList& t, const Tensor& y) { return t[0] * y * (1.0 - y); }, KeepOutput::yes);
}

Tensor relu(const Tensor& x) {
  Tensor out = map_unary(x, fn::Relu{});
  // d/dx relu(x) = [x > 0]
  return record(
      "relu", out, {x},
      [](const Tensor& g, const Tensor& y) -> GradList {
        if (grad_mode_enabled())
          return {g * positive_mask(y)};  // create_graph: stay differentiable
        // Not recorded: one fused pass instead of a mask and a product.
        return {kernels::map_binary(g, y, "relu_backward", fn::ReluBackward{})};
      },
      [](const TangentList& t, const Tensor& y) { return t[0] * positive_mask(y); },
      KeepOutput::yes);
}

Tensor leaky_relu(const Tensor& x, double slope) {
  Tensor out = map_unary(x, fn::LeakyRelu{slope});
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
  Tensor out = map_unary(x, fn::Softplus{});
  // d/dx softplus(x) = sigmoid(x)
  return record(
      "softplus", out, {x},
      [x = SavedTensor(x, "softplus")](const Tensor& g, const Tensor&) -> GradList {
        return {g * sigmoid(x.get())};
      },
      [&x](const TangentList& t, const Tensor&) { return t[0] * sigmoid(x); });
}

}  // namespace dagrad
