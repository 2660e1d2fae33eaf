// Linear (affine) layer: y = x W + b, with x (N, d1, ..., dk) flattened to (N, D).
#pragma once
#include "dagrad/nn/init.h"
#include "dagrad/nn/module.h"

namespace dagrad::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Generator& gen, Init init = {},
         Dtype dtype = float32, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  std::string describe() const override;
  int64_t multiply_adds(const Tensor&, const Tensor& out) const override {
    return out.numel() * in_;  // each output is a dot product of length in
  }

  Tensor weight;  // (in, out): x @ W, the cs231n layout
  Tensor bias;    // (out) or undefined

 private:
  int64_t in_, out_;
};

}  // namespace dagrad::nn
