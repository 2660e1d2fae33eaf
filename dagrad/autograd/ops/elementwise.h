// Arithmetic with NumPy broadcasting, comparisons, where/masking, elementwise max/min, clamp.
#pragma once
#include "dagrad/autograd/tensor.h"

namespace dagrad {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double s);
Tensor mul(const Tensor& a, double s);
Tensor rsub(double s, const Tensor& a);  // s - a
Tensor rdiv(double s, const Tensor& a);  // s / a
Tensor neg(const Tensor& a);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double s);
Tensor operator-(const Tensor& a, double s);
Tensor operator*(const Tensor& a, double s);
Tensor operator/(const Tensor& a, double s);
Tensor operator+(double s, const Tensor& a);
Tensor operator-(double s, const Tensor& a);
Tensor operator*(double s, const Tensor& a);
Tensor operator/(double s, const Tensor& a);
Tensor operator-(const Tensor& a);

// x^p. d/dx x^p = p x^(p-1); with a tensor exponent also d/dp x^p = x^p log x.
Tensor pow(const Tensor& x, double p);
Tensor pow(const Tensor& x, const Tensor& p);
Tensor square(const Tensor& x);
// The angle of the point (b, a) in (-pi, pi], with broadcasting (torch.atan2(a, b)).
Tensor atan2(const Tensor& a, const Tensor& b);

// Elementwise max/min with broadcasting; on ties the gradient is split equally (as PyTorch).
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
// Gradient 1 where lo <= x <= hi, else 0 (as PyTorch).
Tensor clamp(const Tensor& x, double lo, double hi);
// cond != 0 ? a : b, broadcasting all three; no gradient to cond.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// Comparisons give 0/1 tensors of the operands' dtype (not differentiable).
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, double s);
Tensor lt(const Tensor& a, double s);
Tensor ge(const Tensor& a, double s);
Tensor le(const Tensor& a, double s);
Tensor eq(const Tensor& a, double s);

}  // namespace dagrad
