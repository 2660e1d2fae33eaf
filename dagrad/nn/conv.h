// Conv2d (NCHW), Conv1d, ConvTranspose2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d layers.
#pragma once
#include "dagrad/nn/init.h"
#include "dagrad/nn/module.h"

namespace dagrad::nn {

// The settings of a Conv2d, named at the call site with designated initializers; each size is
// one integer for both axes or a (height, width) pair, as torch.nn.Conv2d's:
//   Conv2d(3, 16, 3, gen, {.padding = 1, .init = {InitScheme::he, 0}, .bias = false})
//   Conv2d(64, 64, {1, 7}, gen, {.padding = {0, 3}})  // Inception v3's factorized 7x7
struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  int64_t groups = 1;  // the weight is then (out, in / groups, kh, kw)
  Init init = {};
  Dtype dtype = float32;
  bool bias = true;
};

class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Generator& gen,
         const Conv2dOptions& options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  std::string describe() const override;
  // Each output sums (in / groups) * kh * kw products.
  int64_t multiply_adds(const Tensor&, const Tensor& out) const override {
    return out.numel() * (in_ / o_.groups) * k_.h * k_.w;
  }

  Tensor weight;  // (out, in / groups, kh, kw)
  Tensor bias;    // (out) or undefined

 private:
  int64_t in_, out_;
  Size2 k_;
  Conv2dOptions o_;
};

// The settings of a Conv1d, read along the length:
//   Conv1d(4, 8, 5, gen, {.padding = 2, .dilation = 2})
struct Conv1dOptions {
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t dilation = 1;
  int64_t groups = 1;  // the weight is then (out, in / groups, k)
  Init init = {};
  Dtype dtype = float32;
  bool bias = true;
};

// Conv1d(in, out, k, gen, options): conv1d over (N, C, L) (torch.nn.Conv1d).
class Conv1d : public Module {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& gen,
         const Conv1dOptions& options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv1d"; }
  std::string describe() const override;
  int64_t multiply_adds(const Tensor&, const Tensor& out) const override {
    return out.numel() * (in_ / o_.groups) * k_;
  }

  Tensor weight;  // (out, in / groups, k)
  Tensor bias;    // (out) or undefined

 private:
  int64_t in_, out_, k_;
  Conv1dOptions o_;
};

struct ConvTranspose2dOptions {
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t output_padding = 0;
  Init init = {};
  Dtype dtype = float32;
  bool bias = true;
};

// ConvTranspose2d(in, out, k, gen, options): conv_transpose2d (torch.nn.ConvTranspose2d), the
// upsampling layer of decoders; weight (in, out, k, k) as PyTorch's.
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& gen,
                  const ConvTranspose2dOptions& options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ConvTranspose2d"; }
  std::string describe() const override;
  // Each input element scatters into out * k * k outputs.
  int64_t multiply_adds(const Tensor& in, const Tensor&) const override {
    return in.numel() * out_ * k_ * k_;
  }

  Tensor weight;  // (in, out, k, k)
  Tensor bias;    // (out) or undefined

 private:
  int64_t in_, out_, k_;
  ConvTranspose2dOptions o_;
};

// The settings of MaxPool2d and AvgPool2d, as torch.nn's: e.g.
//   nn::MaxPool2d({.kernel_size = 3, .stride = 2, .padding = 1, .ceil_mode = true})
struct Pool2dOptions {
  Size2 kernel_size = 2;
  Size2 stride = 0;  // 0: the kernel size (torch's default)
  Size2 padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;  // AvgPool2d only
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(int64_t kernel_size, int64_t stride = 0)
      : MaxPool2d(Pool2dOptions{.kernel_size = kernel_size, .stride = stride}) {}
  explicit MaxPool2d(const Pool2dOptions& o);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MaxPool2d"; }
  std::string describe() const override;

 private:
  Pool2dOptions o_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int64_t kernel_size, int64_t stride = 0)
      : AvgPool2d(Pool2dOptions{.kernel_size = kernel_size, .stride = stride}) {}
  explicit AvgPool2d(const Pool2dOptions& o);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AvgPool2d"; }
  std::string describe() const override;

 private:
  Pool2dOptions o_;
};

// (N, C, H, W) -> (N, C): the mean over each feature map.
class GlobalAvgPool : public Module {
 public:
  Tensor forward(const Tensor& x) override { return mean(x, std::vector<int64_t>{2, 3}); }
  std::string type_name() const override { return "GlobalAvgPool"; }
};

// adaptive_avg_pool2d to a fixed output size (torch.nn.AdaptiveAvgPool2d); 1 is global
// average pooling.
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 size) : size_(size) {}
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, size_); }
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string describe() const override;

 private:
  Size2 size_;
};

class AdaptiveMaxPool2d : public Module {
 public:
  explicit AdaptiveMaxPool2d(Size2 size) : size_(size) {}
  Tensor forward(const Tensor& x) override { return adaptive_max_pool2d(x, size_); }
  std::string type_name() const override { return "AdaptiveMaxPool2d"; }
  std::string describe() const override;

 private:
  Size2 size_;
};

}  // namespace dagrad::nn
