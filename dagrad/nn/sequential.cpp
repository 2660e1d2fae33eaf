#include "dagrad/nn/sequential.h"

#include <fmt/format.h>

#include <stdexcept>

#include "dagrad/autograd/ops/shape_ops.h"

namespace dagrad::nn {

std::vector<std::string> Container::child_descriptions() const {
  std::vector<std::string> parts;
  for (const auto& l : layers_) parts.push_back(l->describe());
  return parts;
}

std::string Container::describe() const {
  return fmt::format("{}({})", type_name(), fmt::join(child_descriptions(), ", "));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& l : layers_) h = (*l)(h);
  return h;
}

Tensor Concat::forward(const Tensor& x) {
  if (layers_.empty()) throw std::invalid_argument("Concat: no branches to run");
  std::vector<Tensor> outs;
  for (auto& l : layers_) outs.push_back((*l)(x));
  return concat(outs, axis_);
}

std::string Concat::describe() const {
  std::vector<std::string> parts = child_descriptions();
  if (axis_ != 1) parts.push_back(fmt::format("axis={}", axis_));
  return fmt::format("Concat({})", fmt::join(parts, ", "));
}

}  // namespace dagrad::nn
