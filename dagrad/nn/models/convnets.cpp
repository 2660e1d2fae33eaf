#include "dagrad/nn/models/convnets.h"

#include <fmt/format.h>

#include "dagrad/nn/activation.h"
#include "dagrad/nn/conv.h"
#include "dagrad/nn/dropout.h"
#include "dagrad/nn/linear.h"
#include "dagrad/nn/norm.h"
#include "dagrad/nn/residual.h"

namespace dagrad::nn {

Tensor LayerStackClassifier::forward(const Tensor& X) {
  check_input(X);
  Tensor h = X;
  for (auto& l : layers_) h = (*l)(h);
  return h;
}

void LayerStackClassifier::check_input(const Tensor& X) const {
  const auto [C, H, W] = input_dim_;
  if (X.dim() != 4 || X.shape()[1] != C || X.shape()[2] != H || X.shape()[3] != W)
    throw std::invalid_argument(fmt::format("{}: expected input (N, {}, {}, {}), got {}",
                                            type_name(), C, H, W, to_string(X.shape())));
}

namespace {
// Output size of a conv/pool along one axis.
int64_t out_size(int64_t in, int64_t k, int64_t stride, int64_t pad) {
  return (in + 2 * pad - k) / stride + 1;
}
}  // namespace

LeNet5::LeNet5(const ConvNetConfig& c, int64_t conv1_padding) : padding_(conv1_padding) {
  if (conv1_padding < 0)
    throw std::invalid_argument(
        fmt::format("LeNet5: conv1_padding must be >= 0, got {}", conv1_padding));
  reg = c.reg;
  input_dim_ = c.input_dim;
  Generator gen(c.seed);
  const Init he{InitScheme::he, 0.0};
  const auto [C, H, W] = c.input_dim;
  const int64_t p = conv1_padding;
  int64_t h = out_size(out_size(H, 5, 1, p), 2, 2, 0), w = out_size(out_size(W, 5, 1, p), 2, 2, 0);
  h = out_size(out_size(h, 5, 1, 0), 2, 2, 0);
  w = out_size(out_size(w, 5, 1, 0), 2, 2, 0);
  if (h < 1 || w < 1)
    throw std::invalid_argument(fmt::format("LeNet5: input {}x{} is too small", H, W));
  add("conv1", std::make_shared<Conv2d>(C, 6, 5, gen,
                                        Conv2dOptions{.padding = p, .init = he, .dtype = c.dtype}));
  add("relu1", std::make_shared<ReLU>());
  add("pool1", std::make_shared<MaxPool2d>(2));
  add("conv2",
      std::make_shared<Conv2d>(6, 16, 5, gen, Conv2dOptions{.init = he, .dtype = c.dtype}));
  add("relu2", std::make_shared<ReLU>());
  add("pool2", std::make_shared<MaxPool2d>(2));
  add("flatten", std::make_shared<Flatten>());
  add("fc1", std::make_shared<Linear>(16 * h * w, 120, gen, he, c.dtype));
  add("relu3", std::make_shared<ReLU>());
  add("fc2", std::make_shared<Linear>(120, 84, gen, he, c.dtype));
  add("relu4", std::make_shared<ReLU>());
  add("fc3",
      std::make_shared<Linear>(84, c.num_classes, gen, Init{InitScheme::xavier, 0.0}, c.dtype));
}

VGGNet::VGGNet(const VGGConfig& c) : cfg_(c) {
  reg = c.reg;
  input_dim_ = c.input_dim;
  Generator gen(c.seed);
  const Init he{InitScheme::he, 0.0};
  auto [channels, h, w] = c.input_dim;
  int idx = 1;
  for (std::size_t s = 0; s < c.stage_channels.size(); ++s) {
    for (int k = 0; k < c.convs_per_stage; ++k) {
      const std::string n = std::to_string(idx++);
      add("conv" + n,
          std::make_shared<Conv2d>(
              channels, c.stage_channels[s], 3, gen,
              Conv2dOptions{.padding = 1, .init = he, .dtype = c.dtype, .bias = false}));
      // batch norm + ReLU as one fused op (named bn<n>: checkpoints of the unfused pair load)
      add("bn" + n, std::make_shared<BatchNormReLU2d>(c.stage_channels[s], 0.9, 1e-5, c.dtype));
      channels = c.stage_channels[s];
    }
    add("pool" + std::to_string(s + 1), std::make_shared<MaxPool2d>(2));
    h /= 2;
    w /= 2;
    if (h < 1 || w < 1)
      throw std::invalid_argument("VGGNet: too many pooling stages for the input size");
  }
  add("flatten", std::make_shared<Flatten>());
  add("fc1", std::make_shared<Linear>(channels * h * w, c.hidden_dim, gen, he, c.dtype));
  add("relu_fc", std::make_shared<ReLU>());
  if (c.dropout > 0) add("dropout", std::make_shared<Dropout>(c.dropout, c.seed + 1));
  add("fc2", std::make_shared<Linear>(c.hidden_dim, c.num_classes, gen,
                                      Init{InitScheme::xavier, 0.0}, c.dtype));
}

std::string LeNet5::describe() const {
  // The default keeps its old description (training states written before the option).
  return padding_ == 2 ? "LeNet5" : fmt::format("LeNet5(conv1 padding {})", padding_);
}

std::string VGGNet::describe() const {
  std::string st;
  for (int64_t ch : cfg_.stage_channels) st += (st.empty() ? "" : ", ") + std::to_string(ch);
  return fmt::format("VGGNet(stages [{}] x {} conv, fc {}, {} classes)", st, cfg_.convs_per_stage,
                     cfg_.hidden_dim, cfg_.num_classes);
}

SmallResNet::SmallResNet(const ResNetConfig& c) : cfg_(c) {
  reg = c.reg;
  input_dim_ = c.input_dim;
  Generator gen(c.seed);
  const Init he{InitScheme::he, 0.0};
  const int64_t C = c.input_dim[0];
  int64_t ch = c.stage_channels.at(0);
  add("stem",
      std::make_shared<Conv2d>(
          C, ch, 3, gen, Conv2dOptions{.padding = 1, .init = he, .dtype = c.dtype, .bias = false}));
  add("stem_bn", std::make_shared<BatchNorm2d>(ch, 0.9, 1e-5, c.dtype));
  add("stem_relu", std::make_shared<ReLU>());
  for (std::size_t s = 0; s < c.stage_channels.size(); ++s) {
    for (int b = 0; b < c.blocks_per_stage; ++b) {
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      add(fmt::format("block{}_{}", s + 1, b + 1),
          std::make_shared<ResidualBlock>(ch, c.stage_channels[s], stride, gen, c.dtype));
      ch = c.stage_channels[s];
    }
  }
  add("pool", std::make_shared<GlobalAvgPool>());
  add("fc",
      std::make_shared<Linear>(ch, c.num_classes, gen, Init{InitScheme::xavier, 0.0}, c.dtype));
}

std::string SmallResNet::describe() const {
  std::string st;
  for (int64_t ch : cfg_.stage_channels) st += (st.empty() ? "" : ", ") + std::to_string(ch);
  return fmt::format("SmallResNet(stages [{}] x {} blocks, {} classes)", st, cfg_.blocks_per_stage,
                     cfg_.num_classes);
}

}  // namespace dagrad::nn
