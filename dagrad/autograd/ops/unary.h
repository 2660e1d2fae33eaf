// Unary math and activations, elementwise.
#pragma once
#include <string_view>

#include "dagrad/autograd/tensor.h"

namespace dagrad {

Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);   // gradient sign(x), 0 at 0
Tensor sign(const Tensor& x);  // not differentiable (gradient 0)
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);  // gradient 0 at 0
Tensor leaky_relu(const Tensor& x, double slope = 0.01);
Tensor softplus(const Tensor& x);  // log(1 + e^x), stable
Tensor erf(const Tensor& x);
// x Phi(x) with Phi the standard normal CDF; approximate "tanh" uses
// x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2, as torch.nn.functional.gelu.
Tensor gelu(const Tensor& x, std::string_view approximate = "none");
Tensor elu(const Tensor& x,
           double alpha = 1.0);  // x > 0 ? x : alpha (e^x - 1); gradient alpha at 0
Tensor silu(const Tensor& x);    // x sigmoid(x), also called swish
Tensor tan(const Tensor& x);
Tensor atan(const Tensor& x);
Tensor rsqrt(const Tensor& x);  // 1 / sqrt(x)
Tensor expm1(const Tensor& x);  // e^x - 1, accurate near 0
Tensor log2(const Tensor& x);
// Piecewise constant (gradient 0, as PyTorch). round takes halves to the even integer.
Tensor floor(const Tensor& x);
Tensor ceil(const Tensor& x);
Tensor round(const Tensor& x);

}  // namespace dagrad
