// Unary math and activations, elementwise.
#pragma once
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

}  // namespace dagrad
