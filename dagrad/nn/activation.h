// Activation layers (no parameters): ReLU, LeakyReLU, Sigmoid, Tanh; and Flatten.
#pragma once
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

// (N, d1, ..., dk) -> (N, d1*...*dk)
class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override { return flatten(x, 1, -1); }
  std::string type_name() const override { return "Flatten"; }
};

}  // namespace dagrad::nn
