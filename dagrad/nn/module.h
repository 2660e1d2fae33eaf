// Module: the base of every layer and model. A module owns ordered, named parameters and
// buffers and its child modules; its forward is an ordinary expression of autograd ops, so
// no module ever contains backward code.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dagrad/autograd/autograd.h"

namespace dagrad::nn {

using NamedTensors = dagrad::NamedTensors;

// What loading a state left out: names the module has that the state lacks (`missing`), names
// the state has that the module lacks (`unexpected`), and names in both whose shape or dtype
// differ (`mismatched`, each "name: <what the module has> vs <what the state has>").
struct LoadReport {
  std::vector<std::string> missing, unexpected, mismatched;
  bool complete() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
  std::string to_string() const;  // "missing: a, b; unexpected: c" or "complete"
};

// One tensor a state can be loaded into: its name, the shape and dtype an incoming tensor must
// have, and how to store it (a copy, a transposed copy, a counter, ...).
struct LoadTarget {
  std::string name;
  Shape shape;
  Dtype dtype;
  std::function<void(const Tensor&)> assign;
};

// Matches `incoming` to `targets` by name and assigns, with Module::load_state's strict and
// non-strict rules; `what` starts the error message (e.g. "load_state: TwoLayerNet").
LoadReport load_into(const std::vector<LoadTarget>& targets, const NamedTensors& incoming,
                     bool strict, const std::string& what);

class Module;

// Sees every module call made through Module::operator() on this thread, after the forward:
// how a summary reads each layer's output. Installed by a ScopedForwardHook; none by default
// (a call then costs one thread-local test).
class ForwardHook {
 public:
  virtual ~ForwardHook() = default;
  virtual void after_forward(const Module& m, const Tensor& input, const Tensor& output) = 0;
};

// Installs `hook` for this thread while alive (the previous one comes back after).
class ScopedForwardHook {
 public:
  explicit ScopedForwardHook(ForwardHook& hook);
  ~ScopedForwardHook();
  ScopedForwardHook(const ScopedForwardHook&) = delete;
  ScopedForwardHook& operator=(const ScopedForwardHook&) = delete;

 private:
  ForwardHook* previous_;
};

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  // forward(x), seen by the thread's ForwardHook if one is installed. Containers call their
  // children this way.
  Tensor operator()(const Tensor& x);
  // The multiply-adds one call costs, for summaries: a layer's convolutions and matrix
  // products (elementwise work, norms and pooling count 0, as the course's tables do).
  virtual int64_t multiply_adds(const Tensor& input, const Tensor& output) const {
    (void)input, (void)output;
    return 0;
  }
  // A short description for summaries, e.g. "Linear(784 -> 100)".
  virtual std::string describe() const { return type_name(); }
  virtual std::string type_name() const = 0;

  // Parameters (and buffers) of this module and its children, in registration order, with
  // dotted names for children: "conv1.weight", "fc.b".
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;
  // The weights that L2 regularization applies to (not biases, not norm scale/shift).
  std::vector<Tensor> weights() const;
  int64_t num_parameters() const;

  // Transfer learning: the parameters of this module and its children stop requiring
  // gradients and drop any they hold, so backward does not reach them and optimizers, which
  // skip a parameter without a gradient, leave them alone (no update, weight decay or moment
  // change). Buffers are not touched: call eval() on a frozen batch norm to keep its running
  // statistics too. unfreeze() makes them trainable again.
  void freeze();
  void unfreeze();

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();

  // Parameters and buffers together: what a checkpoint holds.
  NamedTensors state() const;
  // Copies `state` into this module's tensors in place, matching by name (any order).
  // Strict: every tensor of the module present, nothing else, shapes and dtypes equal, or an
  // std::invalid_argument listing every problem, and nothing is changed. Not strict: copies the
  // tensors that match and reports the rest (as PyTorch's load_state_dict(strict=False)).
  LoadReport load_state(const NamedTensors& state, bool strict = true);
  // Checkpoint files (dagrad/io/checkpoint.h): versioned, checksummed, written atomically.
  void save(const std::string& path, const std::map<std::string, std::string>& meta = {}) const;
  void load(const std::string& path);

  // One line per module with its parameter count.
  std::string summary() const;
  // The random generators of this module and its children (dropout masks), with dotted names
  // ("dropout.rng"): what a training state saves so that a resumed run draws the same masks.
  std::vector<std::pair<std::string, Generator*>> named_generators();
  // Direct submodules with their names, in registration order.
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
    return children_;
  }

 protected:
  // `decay` marks a weight that L2 regularization applies to.
  Tensor& register_parameter(const std::string& name, Tensor t, bool decay = true);
  Tensor& register_buffer(const std::string& name, Tensor t);
  // `gen` must live as long as the module (a member of it).
  void register_generator(const std::string& name, Generator& gen);
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  struct Param {
    std::string name;
    Tensor tensor;
    bool decay;
  };
  void collect(const std::string& prefix, NamedTensors* params, NamedTensors* buffers,
               std::vector<Tensor>* decayed) const;
  void summarize(std::string& out, const std::string& prefix, int depth) const;

  std::vector<Param> params_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, Generator*>> generators_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// 0.5 * reg * sum(W^2) over the module's weights (the cs231n convention).
Tensor l2_regularization(const Module& m, double reg);

// A classification model: forward gives scores; loss adds the L2 term to the data loss.
class Classifier : public Module {
 public:
  double reg = 0.0;
  // Data loss (softmax cross-entropy by default) plus 0.5 * reg * sum(W^2).
  virtual Tensor loss(const Tensor& X, const Tensor& y);
  virtual Tensor data_loss(const Tensor& scores, const Tensor& y);
  // Predicted class of every row (float indices).
  virtual Tensor predict(const Tensor& X);
};

}  // namespace dagrad::nn
