#include "dagrad/nn/models/torchvision.h"

#include <fmt/format.h>

#include <stdexcept>
#include <vector>

#include "dagrad/nn/activation.h"
#include "dagrad/nn/dropout.h"
#include "dagrad/nn/linear.h"
#include "dagrad/nn/norm.h"

namespace dagrad::nn {

FeaturesClassifier::FeaturesClassifier(std::string type, std::shared_ptr<Sequential> f, Size2 pool,
                                       std::shared_ptr<Sequential> c, int64_t num_classes)
    : type_(std::move(type)), num_classes_(num_classes) {
  features = register_module("features", std::move(f));
  avgpool = register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(pool));
  classifier = register_module("classifier", std::move(c));
}

Tensor FeaturesClassifier::forward(const Tensor& x) {
  return (*classifier)(flatten((*avgpool)((*features)(x)), 1));
}

std::string FeaturesClassifier::describe() const {
  return fmt::format("{}({} classes)", type_, num_classes_);
}

namespace {

void check_options(const char* model, const TorchvisionOptions& o) {
  if (o.num_classes <= 0 || !(o.dropout >= 0 && o.dropout < 1))
    throw std::invalid_argument(
        fmt::format("{}: num_classes ({}) must be positive and dropout ({}) in [0, 1)", model,
                    o.num_classes, o.dropout));
}

// `usual`, or zeros when the caller will load weights (options.initialize false).
InitScheme scheme(const TorchvisionOptions& o, InitScheme usual) {
  return o.initialize ? usual : InitScheme::zeros;
}

// Conv2d with torchvision's He-style initialization (biases 0).
std::shared_ptr<Conv2d> conv(int64_t in, int64_t out, int64_t k, Generator& gen,
                             const TorchvisionOptions& o, int64_t stride, int64_t padding) {
  return std::make_shared<Conv2d>(in, out, k, gen,
                                  Conv2dOptions{.stride = stride,
                                                .padding = padding,
                                                .init = {scheme(o, InitScheme::he), 0.0},
                                                .dtype = o.dtype});
}

// Two blocks of {Dropout, Linear(4096), ReLU} (AlexNet) or {Linear(4096), ReLU, Dropout} (VGG),
// then Linear(num_classes): torchvision's classifiers.
std::shared_ptr<Sequential> classifier(int64_t in, bool dropout_first, Generator& gen,
                                       const TorchvisionOptions& o) {
  auto c = std::make_shared<Sequential>();
  const Init small{scheme(o, InitScheme::gaussian), 0.01};
  uint64_t drop_seed = o.seed + 1;
  auto block = [&](int64_t from) {
    if (dropout_first) c->add(std::make_shared<Dropout>(o.dropout, drop_seed++));
    c->add(std::make_shared<Linear>(from, 4096, gen, small, o.dtype));
    c->add(std::make_shared<ReLU>());
    if (!dropout_first) c->add(std::make_shared<Dropout>(o.dropout, drop_seed++));
  };
  block(in);
  block(4096);
  c->add(std::make_shared<Linear>(4096, o.num_classes, gen, small, o.dtype));
  return c;
}

}  // namespace

std::shared_ptr<FeaturesClassifier> alexnet(const TorchvisionOptions& o) {
  check_options("alexnet", o);
  Generator gen(o.seed);
  auto f = std::make_shared<Sequential>();
  auto pool = [&] {
    f->add(std::make_shared<MaxPool2d>(Pool2dOptions{.kernel_size = 3, .stride = 2}));
  };
  f->add(conv(3, 64, 11, gen, o, 4, 2));
  f->add(std::make_shared<ReLU>());
  pool();
  f->add(conv(64, 192, 5, gen, o, 1, 2));
  f->add(std::make_shared<ReLU>());
  pool();
  f->add(conv(192, 384, 3, gen, o, 1, 1));
  f->add(std::make_shared<ReLU>());
  f->add(conv(384, 256, 3, gen, o, 1, 1));
  f->add(std::make_shared<ReLU>());
  f->add(conv(256, 256, 3, gen, o, 1, 1));
  f->add(std::make_shared<ReLU>());
  pool();
  return std::make_shared<FeaturesClassifier>("AlexNet", f, Size2(6),
                                              classifier(256 * 6 * 6, true, gen, o), o.num_classes);
}

std::shared_ptr<FeaturesClassifier> vgg(int depth, bool batch_norm, const TorchvisionOptions& o) {
  // Output channels per convolution, 0 for a 2x2 max pool (the paper's configurations).
  std::vector<int64_t> plan;
  if (depth == 11)
    plan = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
  else if (depth == 13)
    plan = {64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
  else if (depth == 16)
    plan = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
  else if (depth == 19)
    plan = {64,  64,  0,   128, 128, 0,   256, 256, 256, 256, 0,
            512, 512, 512, 512, 0,   512, 512, 512, 512, 0};
  else
    throw std::invalid_argument(fmt::format("vgg: depth must be 11, 13, 16 or 19, got {}", depth));
  const std::string name = fmt::format("VGG{}{}", depth, batch_norm ? "_BN" : "");
  check_options(name.c_str(), o);
  Generator gen(o.seed);
  auto f = std::make_shared<Sequential>();
  int64_t in = 3;
  for (int64_t out : plan) {
    if (out == 0) {
      f->add(std::make_shared<MaxPool2d>(2));
      continue;
    }
    f->add(conv(in, out, 3, gen, o, 1, 1));
    if (batch_norm) f->add(std::make_shared<BatchNorm2d>(out, 0.9, 1e-5, o.dtype));
    f->add(std::make_shared<ReLU>());
    in = out;
  }
  return std::make_shared<FeaturesClassifier>(
      name, f, Size2(7), classifier(512 * 7 * 7, false, gen, o), o.num_classes);
}

}  // namespace dagrad::nn
