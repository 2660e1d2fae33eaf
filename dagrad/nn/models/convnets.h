// Convolutional classifiers built from layers: LeNet-5, a VGG-style net with batch norm, and a
// small ResNet. Parameter names are dotted: "conv1.weight", "bn1.gamma", "fc.bias".
#pragma once
#include <array>
#include <memory>
#include <vector>

#include "dagrad/autograd/random.h"
#include "dagrad/nn/module.h"

namespace dagrad::nn {

// A classifier that runs named layers in order.
class LayerStackClassifier : public Classifier {
 public:
  Tensor forward(const Tensor& X) override;

 protected:
  template <typename M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> m) {
    layers_.push_back(m);
    return register_module(name, std::move(m));
  }
  // Checks (C, H, W) of the input against the configured size.
  void check_input(const Tensor& X) const;
  std::array<int64_t, 3> input_dim_{};

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

struct ConvNetConfig {
  std::array<int64_t, 3> input_dim = {1, 28, 28};  // (C, H, W)
  int64_t num_classes = 10;
  double reg = 0.0;
  Dtype dtype = float32;
  uint64_t seed = 0;
};

// LeNet-5: conv5x5(6, pad p) - relu - pool - conv5x5(16) - relu - pool - fc120 - relu - fc84 -
// relu - fc. Padding 2 (the default) makes 28x28 inputs behave like LeCun's 32x32; padding 0 on
// 32x32 inputs is the original (the course's: 16 x 5 x 5 = 400 features into fc120).
class LeNet5 : public LayerStackClassifier {
 public:
  explicit LeNet5(const ConvNetConfig& config = {}, int64_t conv1_padding = 2);
  std::string type_name() const override { return "LeNet5"; }
  std::string describe() const override;

 private:
  int64_t padding_;
};

// VGG-style: for each stage, convs_per_stage x {conv3x3 - batchnorm - relu}, then 2x2 max pool;
// then fc(hidden) - relu - [dropout] - fc(classes).
struct VGGConfig : ConvNetConfig {
  std::vector<int64_t> stage_channels = {32, 64};
  int convs_per_stage = 1;
  int64_t hidden_dim = 128;
  double dropout = 0.0;  // drop probability before the last layer
};

class VGGNet : public LayerStackClassifier {
 public:
  explicit VGGNet(const VGGConfig& config = {});
  std::string type_name() const override { return "VGGNet"; }
  std::string describe() const override;

 private:
  VGGConfig cfg_;
};

// Small ResNet: conv3x3 stem - bn - relu, residual blocks per stage (the first of each later
// stage downsamples with stride 2), global average pool, fc.
struct ResNetConfig : ConvNetConfig {
  std::vector<int64_t> stage_channels = {16, 32, 64};
  int blocks_per_stage = 1;
};

class SmallResNet : public LayerStackClassifier {
 public:
  explicit SmallResNet(const ResNetConfig& config = {});
  std::string type_name() const override { return "SmallResNet"; }
  std::string describe() const override;

 private:
  ResNetConfig cfg_;
};

}  // namespace dagrad::nn
