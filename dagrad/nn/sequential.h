// Containers: Sequential runs its children in order; Concat runs each on the same input and
// joins their outputs (an Inception module's branches). Children are named "0", "1", ... unless
// named.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "dagrad/nn/module.h"

namespace dagrad::nn {

// The children a container runs, in the order added.
class Container : public Module {
 public:
  // Adds a layer; returns it so the caller can keep a typed handle.
  template <typename M>
  std::shared_ptr<M> add(std::shared_ptr<M> m, std::string name = "") {
    if (name.empty()) name = std::to_string(layers_.size());
    layers_.push_back(m);
    return register_module(name, std::move(m));
  }
  std::size_t size() const { return layers_.size(); }
  Module& operator[](std::size_t i) { return *layers_.at(i); }
  // "Sequential(Linear(6 -> 16), ReLU, Linear(16 -> 3))": what a training state checks on
  // resume, so two containers of different layers never pass for each other.
  std::string describe() const override;

 protected:
  std::vector<std::string> child_descriptions() const;
  std::vector<std::shared_ptr<Module>> layers_;
};

class Sequential : public Container {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
};

// Every child on the same input, the outputs joined along `axis` (Lua Torch's nn.Concat; the
// channels, axis 1, by default): out = concat({child_0(x), child_1(x), ...}, axis).
class Concat : public Container {
 public:
  explicit Concat(int64_t axis = 1) : axis_(axis) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Concat"; }
  std::string describe() const override;

 private:
  int64_t axis_;
};

}  // namespace dagrad::nn
