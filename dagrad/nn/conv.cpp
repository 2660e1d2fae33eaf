#include "dagrad/nn/conv.h"

#include <fmt/format.h>

#include <stdexcept>

#include "dagrad/autograd/ops/conv.h"
#include "dagrad/autograd/ops/pool.h"

namespace dagrad::nn {

namespace {
void check_groups(const char* layer, int64_t in, int64_t out, int64_t groups) {
  if (in <= 0 || out <= 0 || groups <= 0 || in % groups != 0 || out % groups != 0)
    throw std::invalid_argument(
        fmt::format("{}: {} input and {} output channels cannot be split into {} groups", layer, in,
                    out, groups));
}

// "2" for a square size, "2x1" otherwise.
std::string pair_text(Size2 s) {
  return s.h == s.w ? fmt::format("{}", s.h) : fmt::format("{}x{}", s.h, s.w);
}

// ", stride s, padding p" and the dilation and groups when they are not 1.
std::string conv_settings(Size2 stride, Size2 padding, Size2 dilation, int64_t groups) {
  std::string s = fmt::format(", stride {}, padding {}", pair_text(stride), pair_text(padding));
  if (!(dilation == Size2(1))) s += fmt::format(", dilation {}", pair_text(dilation));
  if (groups != 1) s += fmt::format(", groups {}", groups);
  return s;
}

// A sliding window's sizes, checked when the layer is made rather than at its first forward.
void check_window(const char* layer, Size2 kernel, Size2 stride, Size2 padding, Size2 dilation) {
  if (kernel.h <= 0 || kernel.w <= 0 || stride.h <= 0 || stride.w <= 0 || dilation.h <= 0 ||
      dilation.w <= 0 || padding.h < 0 || padding.w < 0)
    throw std::invalid_argument(
        fmt::format("{}: kernel_size ({}, {}), stride ({}, {}) and dilation ({}, {}) must be "
                    "positive, padding ({}, {}) not negative",
                    layer, kernel.h, kernel.w, stride.h, stride.w, dilation.h, dilation.w,
                    padding.h, padding.w));
}
}  // namespace

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Generator& gen,
               const Conv2dOptions& o)
    : in_(in_channels), out_(out_channels), k_(kernel_size), o_(o) {
  check_groups("Conv2d", in_, out_, o.groups);
  check_window("Conv2d", k_, o.stride, o.padding, o.dilation);
  const int64_t area = k_.h * k_.w;
  const int64_t fan_in = in_ / o.groups * area, fan_out = out_ / o.groups * area;
  weight = register_parameter("weight", init_weight({out_, in_ / o.groups, k_.h, k_.w}, fan_in,
                                                    fan_out, o.init, gen, o.dtype));
  if (o.bias) bias = register_parameter("bias", zeros({out_}, o.dtype), false);
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, weight, bias, o_.stride, o_.padding, o_.dilation, o_.groups);
}

std::string Conv2d::describe() const {
  return fmt::format("Conv2d({} -> {}, {}x{}{})", in_, out_, k_.h, k_.w,
                     conv_settings(o_.stride, o_.padding, o_.dilation, o_.groups));
}

Conv1d::Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& gen,
               const Conv1dOptions& o)
    : in_(in_channels), out_(out_channels), k_(kernel_size), o_(o) {
  check_groups("Conv1d", in_, out_, o.groups);
  const int64_t fan_in = in_ / o.groups * k_, fan_out = out_ / o.groups * k_;
  weight = register_parameter(
      "weight", init_weight({out_, in_ / o.groups, k_}, fan_in, fan_out, o.init, gen, o.dtype));
  if (o.bias) bias = register_parameter("bias", zeros({out_}, o.dtype), false);
}

Tensor Conv1d::forward(const Tensor& x) {
  return conv1d(x, weight, bias, o_.stride, o_.padding, o_.dilation, o_.groups);
}

std::string Conv1d::describe() const {
  return fmt::format("Conv1d({} -> {}, {}{})", in_, out_, k_,
                     conv_settings(o_.stride, o_.padding, o_.dilation, o_.groups));
}

ConvTranspose2d::ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                                 Generator& gen, const ConvTranspose2dOptions& o)
    : in_(in_channels), out_(out_channels), k_(kernel_size), o_(o) {
  check_groups("ConvTranspose2d", in_, out_, 1);
  // PyTorch's fan for this layout: weight (in, out, k, k) counts out * k * k as fan-in.
  weight = register_parameter("weight", init_weight({in_, out_, k_, k_}, out_ * k_ * k_,
                                                    in_ * k_ * k_, o.init, gen, o.dtype));
  if (o.bias) bias = register_parameter("bias", zeros({out_}, o.dtype), false);
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return conv_transpose2d(x, weight, bias, o_.stride, o_.padding, o_.output_padding);
}

std::string ConvTranspose2d::describe() const {
  return fmt::format("ConvTranspose2d({} -> {}, {}x{}, stride {}, padding {})", in_, out_, k_, k_,
                     o_.stride, o_.padding);
}

namespace {
// Pool2dOptions with the stride filled in, checked once at construction.
Pool2dOptions resolved(Pool2dOptions o, const char* layer) {
  if (o.stride == Size2(0)) o.stride = o.kernel_size;
  if (o.kernel_size.h <= 0 || o.kernel_size.w <= 0 || o.stride.h <= 0 || o.stride.w <= 0 ||
      o.padding.h < 0 || o.padding.w < 0)
    throw std::invalid_argument(fmt::format(
        "{}: kernel_size ({}, {}) and stride ({}, {}) must be positive, padding ({}, {}) not "
        "negative",
        layer, o.kernel_size.h, o.kernel_size.w, o.stride.h, o.stride.w, o.padding.h, o.padding.w));
  return o;
}

// "MaxPool2d(3x3, stride 2, padding 1, ceil_mode)": the settings that differ from the defaults.
std::string describe_pool(const char* layer, const Pool2dOptions& o, bool average) {
  std::string s = fmt::format("{}({}x{}, stride {}", layer, o.kernel_size.h, o.kernel_size.w,
                              pair_text(o.stride));
  if (!(o.padding == Size2(0))) s += fmt::format(", padding {}x{}", o.padding.h, o.padding.w);
  if (o.ceil_mode) s += ", ceil_mode";
  if (average && !o.count_include_pad) s += ", count_include_pad=false";
  return s + ")";
}
}  // namespace

MaxPool2d::MaxPool2d(const Pool2dOptions& o) : o_(resolved(o, "MaxPool2d")) {}
Tensor MaxPool2d::forward(const Tensor& x) {
  return max_pool2d(x, o_.kernel_size, o_.stride, o_.padding, o_.ceil_mode);
}
std::string MaxPool2d::describe() const { return describe_pool("MaxPool2d", o_, false); }

AvgPool2d::AvgPool2d(const Pool2dOptions& o) : o_(resolved(o, "AvgPool2d")) {}
Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(x, o_.kernel_size, o_.stride, o_.padding, o_.ceil_mode, o_.count_include_pad);
}
std::string AvgPool2d::describe() const { return describe_pool("AvgPool2d", o_, true); }

std::string AdaptiveAvgPool2d::describe() const {
  return fmt::format("AdaptiveAvgPool2d({}x{})", size_.h, size_.w);
}
std::string AdaptiveMaxPool2d::describe() const {
  return fmt::format("AdaptiveMaxPool2d({}x{})", size_.h, size_.w);
}

}  // namespace dagrad::nn
