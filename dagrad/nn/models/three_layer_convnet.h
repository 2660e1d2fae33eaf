// ThreeLayerConvNet (cs231n): conv - relu - 2x2 max pool - affine - relu - affine - softmax.
// Parameters W1, b1 (conv), W2, b2, W3, b3. The conv keeps the spatial size (stride 1,
// padding (filter_size - 1) / 2).
#pragma once
#include <array>

#include "dagrad/nn/module.h"

namespace dagrad::nn {

struct ThreeLayerConvNetConfig {
  std::array<int64_t, 3> input_dim = {3, 32, 32};  // (C, H, W)
  int64_t num_filters = 32;
  int64_t filter_size = 7;
  int64_t hidden_dim = 100;
  int64_t num_classes = 10;
  double weight_scale = 1e-3;
  double reg = 0.0;
  Dtype dtype = float32;
  uint64_t seed = 0;
};

class ThreeLayerConvNet : public Classifier {
 public:
  explicit ThreeLayerConvNet(const ThreeLayerConvNetConfig& config = {});
  Tensor forward(const Tensor& X) override;
  std::string type_name() const override { return "ThreeLayerConvNet"; }
  std::string describe() const override;

  Tensor W1, b1, W2, b2, W3, b3;

 private:
  ThreeLayerConvNetConfig cfg_;
};

}  // namespace dagrad::nn
