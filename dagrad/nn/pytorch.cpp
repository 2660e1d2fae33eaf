#include "dagrad/nn/pytorch.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "dagrad/autograd/ops/shape_ops.h"
#include "dagrad/nn/activation.h"
#include "dagrad/nn/conv.h"
#include "dagrad/nn/dropout.h"
#include "dagrad/nn/embedding.h"
#include "dagrad/nn/linear.h"
#include "dagrad/nn/models/convnets.h"
#include "dagrad/nn/models/fully_connected_net.h"
#include "dagrad/nn/models/three_layer_convnet.h"
#include "dagrad/nn/models/two_layer_net.h"
#include "dagrad/nn/norm.h"
#include "dagrad/nn/sequential.h"

namespace dagrad::nn {

namespace {

// One entry of a PyTorch state_dict and the dagrad tensor (or counter) behind it.
struct TorchKey {
  enum class Kind { same, transposed, counter };
  std::string name;
  Kind kind;
  Tensor tensor;               // same, transposed
  int64_t* counter = nullptr;  // counter
};

// Walks a model the way torch.nn.Sequential numbers its modules: every torch module takes the
// next index of the current section, parameterless ones included.
class TorchKeys {
 public:
  void section(const std::string& name) {
    prefix_ = name.empty() ? "" : name + ".";
    index_ = 0;
    indexed_ = true;
  }
  // The next layer's entries go under `path` itself ("layer1.0.conv1.weight"), not numbered.
  void at(const std::string& path) {
    prefix_ = path + ".";
    indexed_ = false;
  }
  void skip(int modules = 1) { index_ += modules; }
  void linear(const Tensor& W, const Tensor& b) {  // torch weight (out, in) = W^T
    add("weight", TorchKey::Kind::transposed, W);
    if (b.defined()) add("bias", TorchKey::Kind::same, b);
    ++index_;
  }
  void conv(const Tensor& W, const Tensor& b) {
    add("weight", TorchKey::Kind::same, W);
    if (b.defined()) add("bias", TorchKey::Kind::same, b);
    ++index_;
  }
  void batch_norm(const Tensor& gamma, const Tensor& beta, const Tensor& mean, const Tensor& var,
                  int64_t* batches) {
    add("weight", TorchKey::Kind::same, gamma);
    add("bias", TorchKey::Kind::same, beta);
    add("running_mean", TorchKey::Kind::same, mean);
    add("running_var", TorchKey::Kind::same, var);
    keys.push_back({entry("num_batches_tracked"), TorchKey::Kind::counter, Tensor(), batches});
    ++index_;
  }
  void layer_norm(const Tensor& gamma, const Tensor& beta) {  // also GroupNorm's
    add("weight", TorchKey::Kind::same, gamma);
    add("bias", TorchKey::Kind::same, beta);
    ++index_;
  }
  void embedding(const Tensor& weight) {
    add("weight", TorchKey::Kind::same, weight);
    ++index_;
  }
  std::vector<TorchKey> keys;

 private:
  std::string entry(const char* field) const {
    return indexed_ ? fmt::format("{}{}.{}", prefix_, index_, field) : prefix_ + field;
  }
  void add(const char* field, TorchKey::Kind kind, const Tensor& t) {
    keys.push_back({entry(field), kind, t});
  }
  std::string prefix_;
  int index_ = 0;
  bool indexed_ = true;
};

bool parameterless_torch_layer(const Module* m) {
  return dynamic_cast<const ReLU*>(m) || dynamic_cast<const LeakyReLU*>(m) ||
         dynamic_cast<const Sigmoid*>(m) || dynamic_cast<const Tanh*>(m) ||
         dynamic_cast<const MaxPool2d*>(m) || dynamic_cast<const AvgPool2d*>(m) ||
         dynamic_cast<const Dropout*>(m) || dynamic_cast<const Flatten*>(m) ||
         dynamic_cast<const GELU*>(m) || dynamic_cast<const SiLU*>(m) ||
         dynamic_cast<const ELU*>(m) || dynamic_cast<const AdaptiveAvgPool2d*>(m) ||
         dynamic_cast<const AdaptiveMaxPool2d*>(m) || dynamic_cast<const LocalResponseNorm*>(m);
}

// One layer's entries at the keys' current place; false for a layer with no torch.nn
// equivalent here.
bool layer_keys(TorchKeys& keys, Module* layer) {
  if (auto* conv = dynamic_cast<Conv2d*>(layer)) {
    keys.conv(conv->weight, conv->bias);
  } else if (auto* c1 = dynamic_cast<Conv1d*>(layer)) {
    keys.conv(c1->weight, c1->bias);
  } else if (auto* ct = dynamic_cast<ConvTranspose2d*>(layer)) {
    keys.conv(ct->weight, ct->bias);
  } else if (auto* lin = dynamic_cast<Linear*>(layer)) {
    keys.linear(lin->weight, lin->bias);
  } else if (auto* bn = dynamic_cast<BatchNorm*>(layer)) {
    keys.batch_norm(bn->gamma, bn->beta, bn->running_mean, bn->running_var,
                    &bn->num_batches_tracked);
    if (bn->fused_relu()) keys.skip();  // the ReLU after BatchNorm2d in torch
  } else if (auto* ln = dynamic_cast<LayerNorm*>(layer)) {
    keys.layer_norm(ln->gamma, ln->beta);
  } else if (auto* gn = dynamic_cast<GroupNorm*>(layer)) {
    keys.layer_norm(gn->gamma, gn->beta);  // the same two names: weight, bias
  } else if (auto* emb = dynamic_cast<Embedding*>(layer)) {
    keys.embedding(emb->weight);
  } else if (parameterless_torch_layer(layer)) {
    keys.skip();
  } else {
    return false;
  }
  return true;
}

[[noreturn]] void no_equivalent(const Module& model, const std::string& name, const Module& layer) {
  throw std::invalid_argument(
      fmt::format("PyTorch state_dict: {} has no torch.nn equivalent here (layer '{}', {})",
                  model.type_name(), name, layer.describe()));
}

// A stack of layers (LayerStackClassifier, Sequential); `split` puts the layers before Flatten
// in `features` and the rest in `classifier`.
void stack_keys(TorchKeys& keys, const Module& model, bool split) {
  if (split) keys.section("features");
  for (const auto& [name, child] : model.children()) {
    if (split && dynamic_cast<Flatten*>(child.get()))
      keys.section("classifier");
    else if (!layer_keys(keys, child.get()))
      no_equivalent(model, name, *child);
  }
}

// A model whose modules carry PyTorch's names (torchvision's: features.0, layer1.0.conv1, ...):
// every layer's entries under its dotted path.
void tree_keys(TorchKeys& keys, const Module& root, const Module& m, const std::string& path) {
  for (const auto& [name, child] : m.children()) {
    const std::string at = path.empty() ? name : path + "." + name;
    if (!child->children().empty()) {
      tree_keys(keys, root, *child, at);
      continue;
    }
    keys.at(at);
    if (!layer_keys(keys, child.get())) no_equivalent(root, at, *child);
  }
}

// A tensor of the model by its dagrad name (the cs231n models keep theirs as W1, b1, ...).
Tensor named(const Module& model, const std::string& name) {
  for (const auto& [n, t] : model.state())
    if (n == name) return t;
  throw std::logic_error(fmt::format("{} has no tensor '{}'", model.type_name(), name));
}

void fully_connected_keys(TorchKeys& keys, FullyConnectedNet& net) {
  const FullyConnectedNetConfig& c = net.config();
  keys.skip();  // Flatten
  for (int i = 1; i <= net.num_layers(); ++i) {
    const std::string k = std::to_string(i);
    keys.linear(named(net, "W" + k), named(net, "b" + k));
    if (i == net.num_layers()) break;
    if (c.normalization == "batchnorm")
      keys.batch_norm(named(net, "gamma" + k), named(net, "beta" + k),
                      named(net, "running_mean" + k), named(net, "running_var" + k),
                      &net.num_batches_tracked);
    else if (c.normalization == "layernorm")
      keys.layer_norm(named(net, "gamma" + k), named(net, "beta" + k));
    keys.skip();                                  // ReLU
    if (c.dropout_keep_ratio < 1.0) keys.skip();  // Dropout
  }
}

// The model's PyTorch keys. Export reads through them, import writes, so the model is taken
// mutable here; pytorch_state_dict only reads.
std::vector<TorchKey> torch_keys(Module& model) {
  TorchKeys keys;
  if (auto* net = dynamic_cast<TwoLayerNet*>(&model)) {
    keys.skip();  // Flatten
    keys.linear(net->W1, net->b1);
    keys.skip();  // ReLU
    keys.linear(net->W2, net->b2);
  } else if (auto* net = dynamic_cast<ThreeLayerConvNet*>(&model)) {
    keys.conv(net->W1, net->b1);
    keys.skip(3);  // ReLU, MaxPool2d, Flatten
    keys.linear(net->W2, net->b2);
    keys.skip();  // ReLU
    keys.linear(net->W3, net->b3);
  } else if (auto* net = dynamic_cast<FullyConnectedNet*>(&model)) {
    fully_connected_keys(keys, *net);
  } else if (dynamic_cast<LayerStackClassifier*>(&model)) {
    stack_keys(keys, model, true);
  } else if (dynamic_cast<Sequential*>(&model)) {
    stack_keys(keys, model, false);
  } else if (!model.children().empty()) {
    tree_keys(keys, model, model, "");
  } else {
    throw std::invalid_argument(fmt::format(
        "PyTorch state_dict: no PyTorch equivalent is defined for {} (there is one for "
        "TwoLayerNet, FullyConnectedNet, ThreeLayerConvNet, LeNet5, VGGNet, Sequential and "
        "models of named modules)",
        model.type_name()));
  }
  return keys.keys;
}

}  // namespace

NamedTensors pytorch_state_dict(const Module& model) {
  NamedTensors out;
  for (const TorchKey& key : torch_keys(const_cast<Module&>(model))) {
    switch (key.kind) {
      case TorchKey::Kind::same:
        out.emplace_back(key.name, key.tensor.detach().clone());
        break;
      case TorchKey::Kind::transposed:
        out.emplace_back(key.name, transpose(key.tensor.detach(), 0, 1).clone());
        break;
      case TorchKey::Kind::counter:
        out.emplace_back(key.name, from_blob(key.counter, Shape{}));
        break;
    }
  }
  return out;
}

LoadReport load_pytorch_state_dict(Module& model, const NamedTensors& state, bool strict) {
  std::vector<LoadTarget> targets;
  for (const TorchKey& key : torch_keys(model)) {
    switch (key.kind) {
      case TorchKey::Kind::same:
        targets.push_back({key.name, key.tensor.shape(), key.tensor.dtype(),
                           [dst = key.tensor](const Tensor& src) mutable { dst.copy_(src); }});
        break;
      case TorchKey::Kind::transposed: {
        const Shape& s = key.tensor.shape();
        targets.push_back(
            {key.name, Shape{s[1], s[0]}, key.tensor.dtype(),
             [dst = key.tensor](const Tensor& src) mutable { dst.copy_(transpose(src, 0, 1)); }});
        break;
      }
      case TorchKey::Kind::counter:
        targets.push_back({key.name, Shape{}, int64, [counter = key.counter](const Tensor& src) {
                             // A count: a negative one from a foreign file becomes 0.
                             *counter = std::max<int64_t>(*src.data<int64_t>(), 0);
                           }});
        break;
    }
  }
  return load_into(targets, state, strict,
                   fmt::format("load PyTorch state_dict into {}", model.type_name()));
}

}  // namespace dagrad::nn
