// Sequential: runs its children in order. Children are named "0", "1", ... unless named.
#pragma once
#include <memory>
#include <vector>

#include "dagrad/nn/module.h"

namespace dagrad::nn {

class Sequential : public Module {
 public:
  Sequential() = default;
  // Adds a layer; returns it so the caller can keep a typed handle.
  template <typename M>
  std::shared_ptr<M> add(std::shared_ptr<M> m, std::string name = "") {
    if (name.empty()) name = std::to_string(layers_.size());
    layers_.push_back(m);
    return register_module(name, std::move(m));
  }
  Tensor forward(const Tensor& x) override {
    Tensor h = x;
    for (auto& l : layers_) h = l->forward(h);
    return h;
  }
  std::string type_name() const override { return "Sequential"; }
  std::size_t size() const { return layers_.size(); }
  Module& operator[](std::size_t i) { return *layers_.at(i); }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

}  // namespace dagrad::nn
