// Networks with torchvision's structure and state_dict names (torchvision 0.14), for any number
// of classes and any input their pooling allows: AlexNet and VGG-11/13/16/19 (with or without
// batch norm). Load torchvision's weights with load_pytorch_safetensors (nn/serialize.h):
//   auto net = nn::vgg16(1000);
//   nn::load_pytorch_safetensors(*net, "vgg16.safetensors");
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "dagrad/nn/conv.h"
#include "dagrad/nn/sequential.h"

namespace dagrad::nn {

struct TorchvisionOptions {
  int64_t num_classes = 1000;
  double dropout = 0.5;  // the classifier's drop probability
  uint64_t seed = 0;     // initialization and dropout masks
  Dtype dtype = float32;
  // false: weights start at zero, for a model about to load torchvision's (skips drawing
  // 100 M+ random numbers).
  bool initialize = true;
};

// features -> avgpool (adaptive: any input the features leave at least 1x1 of) -> flatten ->
// classifier, with those three names, as torchvision's AlexNet and VGG.
class FeaturesClassifier : public Module {
 public:
  FeaturesClassifier(std::string type, std::shared_ptr<Sequential> features, Size2 pool,
                     std::shared_ptr<Sequential> classifier, int64_t num_classes);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return type_; }
  std::string describe() const override;

  std::shared_ptr<Sequential> features;
  std::shared_ptr<AdaptiveAvgPool2d> avgpool;
  std::shared_ptr<Sequential> classifier;

 private:
  std::string type_;
  int64_t num_classes_;
};

// AlexNet as torchvision has it (the one-GPU variant: 64-192-384-256-256 channels, no LRN),
// 61,100,840 parameters for 1000 classes.
std::shared_ptr<FeaturesClassifier> alexnet(const TorchvisionOptions& options = {});
// VGG of 11, 13, 16 or 19 layers (configurations A, B, D, E of Simonyan and Zisserman), with a
// BatchNorm2d after every convolution when batch_norm. VGG-16: 138,357,544 parameters.
std::shared_ptr<FeaturesClassifier> vgg(int depth, bool batch_norm,
                                        const TorchvisionOptions& options = {});
inline std::shared_ptr<FeaturesClassifier> vgg11(const TorchvisionOptions& o = {}) {
  return vgg(11, false, o);
}
inline std::shared_ptr<FeaturesClassifier> vgg13(const TorchvisionOptions& o = {}) {
  return vgg(13, false, o);
}
inline std::shared_ptr<FeaturesClassifier> vgg16(const TorchvisionOptions& o = {}) {
  return vgg(16, false, o);
}
inline std::shared_ptr<FeaturesClassifier> vgg19(const TorchvisionOptions& o = {}) {
  return vgg(19, false, o);
}
inline std::shared_ptr<FeaturesClassifier> vgg11_bn(const TorchvisionOptions& o = {}) {
  return vgg(11, true, o);
}
inline std::shared_ptr<FeaturesClassifier> vgg13_bn(const TorchvisionOptions& o = {}) {
  return vgg(13, true, o);
}
inline std::shared_ptr<FeaturesClassifier> vgg16_bn(const TorchvisionOptions& o = {}) {
  return vgg(16, true, o);
}
inline std::shared_ptr<FeaturesClassifier> vgg19_bn(const TorchvisionOptions& o = {}) {
  return vgg(19, true, o);
}

}  // namespace dagrad::nn
