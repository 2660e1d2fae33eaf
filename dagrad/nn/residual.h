// Residual block (ResNet "basic block"): relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)),
// where the shortcut is the identity, or a 1x1 conv + batch norm when the shape changes.
#pragma once
#include <memory>

#include "dagrad/nn/conv.h"
#include "dagrad/nn/norm.h"

namespace dagrad::nn {

class ResidualBlock : public Module {
 public:
  ResidualBlock(int64_t in_channels, int64_t out_channels, int64_t stride, Generator& gen,
                Dtype dtype = float32);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ResidualBlock"; }
  std::string describe() const override;

 private:
  int64_t in_, out_, stride_;
  std::shared_ptr<Conv2d> conv1_, conv2_, proj_;
  std::shared_ptr<BatchNormReLU2d> bn1_;  // bn1 + the first ReLU, fused
  std::shared_ptr<BatchNorm2d> bn2_, proj_bn_;
};

}  // namespace dagrad::nn
