// Activation layers (no parameters): ReLU, LeakyReLU, Sigmoid, Tanh, GELU, SiLU, ELU; and Flatten.
#pragma once
#include <string>
#include <utility>

#include "dagrad/nn/module.h"

namespace dagrad::nn {

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return relu(x); }
  std::string type_name() const override { return "ReLU"; }
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double slope = 0.01) : slope_(slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, slope_); }
  std::string type_name() const override { return "LeakyReLU"; }

 private:
  double slope_;
};

class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& x) override { return sigmoid(x); }
  std::string type_name() const override { return "Sigmoid"; }
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override { return tanh(x); }
  std::string type_name() const override { return "Tanh"; }
};

// gelu(x, approximate): "none" (x Phi(x)) or "tanh", as torch.nn.GELU.
class GELU : public Module {
 public:
  explicit GELU(std::string approximate = "none") : approximate_(std::move(approximate)) {
    gelu(scalar_tensor(0.0), approximate_);  // an unknown name fails here, not at forward
  }
  Tensor forward(const Tensor& x) override { return gelu(x, approximate_); }
  std::string type_name() const override { return "GELU"; }

 private:
  std::string approximate_;
};

class SiLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return silu(x); }
  std::string type_name() const override { return "SiLU"; }
};

class ELU : public Module {
 public:
  explicit ELU(double alpha = 1.0) : alpha_(alpha) {}
  Tensor forward(const Tensor& x) override { return elu(x, alpha_); }
  std::string type_name() const override { return "ELU"; }

 private:
  double alpha_;
};

// (N, d1, ..., dk) -> (N, d1*...*dk)
class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override { return flatten(x, 1, -1); }
  std::string type_name() const override { return "Flatten"; }
};

}  // namespace dagrad::nn
