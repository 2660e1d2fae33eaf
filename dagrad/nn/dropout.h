// Dropout layer (inverted dropout): drops each activation with probability p in training and
// scales the rest by 1/(1-p); identity in eval. cs231n's FullyConnectedNet speaks of the KEEP
// probability instead: p = 1 - keep.
#pragma once
#include "dagrad/autograd/random.h"
#include "dagrad/nn/module.h"

namespace dagrad::nn {

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, uint64_t seed = 0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string describe() const override;

 private:
  double p_;
  Generator gen_;
};

}  // namespace dagrad::nn
