#include "dagrad/nn/conv.h"

#include <fmt/format.h>

#include "dagrad/autograd/ops/conv.h"
#include "dagrad/autograd/ops/pool.h"

namespace dagrad::nn {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Generator& gen,
               const Conv2dOptions& o)
    : in_(in_channels),
      out_(out_channels),
      k_(kernel_size),
      stride_(o.stride),
      padding_(o.padding) {
  weight = register_parameter("weight", init_weight({out_, in_, k_, k_}, in_ * k_ * k_,
                                                    out_ * k_ * k_, o.init, gen, o.dtype));
  if (o.bias) bias = register_parameter("bias", zeros({out_}, o.dtype), false);
}

Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, weight, bias, stride_, padding_); }

std::string Conv2d::describe() const {
  return fmt::format("Conv2d({} -> {}, {}x{}, stride {}, padding {})", in_, out_, k_, k_, stride_,
                     padding_);
}

Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, k_, stride_); }
std::string MaxPool2d::describe() const {
  return fmt::format("MaxPool2d({}x{}, stride {})", k_, k_, stride_);
}

Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, k_, stride_); }
std::string AvgPool2d::describe() const {
  return fmt::format("AvgPool2d({}x{}, stride {})", k_, k_, stride_);
}

std::string AdaptiveAvgPool2d::describe() const {
  return fmt::format("AdaptiveAvgPool2d({}x{})", size_.h, size_.w);
}

}  // namespace dagrad::nn
