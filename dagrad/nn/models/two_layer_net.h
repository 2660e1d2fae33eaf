// TwoLayerNet (cs231n): affine - relu - affine - softmax. Parameters W1, b1, W2, b2.
#pragma once
#include "dagrad/nn/module.h"

namespace dagrad::nn {

struct TwoLayerNetConfig {
  int64_t input_dim = 3 * 32 * 32;
  int64_t hidden_dim = 100;
  int64_t num_classes = 10;
  double weight_scale = 1e-3;
  double reg = 0.0;
  Dtype dtype = float32;
  uint64_t seed = 0;
};

class TwoLayerNet : public Classifier {
 public:
  explicit TwoLayerNet(const TwoLayerNetConfig& config = {});
  Tensor forward(const Tensor& X) override;
  std::string type_name() const override { return "TwoLayerNet"; }
  std::string describe() const override;

  Tensor W1, b1, W2, b2;

 private:
  TwoLayerNetConfig cfg_;
};

}  // namespace dagrad::nn
