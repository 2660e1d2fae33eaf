// Optimizers: first-order update rules that change parameters in place from their .grad.
//
// The rules follow the cs231n update formulas (SPEC.md "optim"); w is a parameter, dw its
// gradient, t the number of updates that parameter has had (counting from 1):
//   sgd           w -= lr*dw
//   sgd_momentum  v = mu*v - lr*dw;  w += v
//   nesterov      v_prev = v;  v = mu*v - lr*dw;  w += -mu*v_prev + (1+mu)*v
//   rmsprop       cache = d*cache + (1-d)*dw²;  w -= lr*dw/(sqrt(cache)+eps)
//   adagrad       cache += dw²;  w -= lr*dw/(sqrt(cache)+eps)
//   adam          m = b1*m + (1-b1)*dw;  v = b2*v + (1-b2)*dw²;
//                 mt = m/(1-b1^t);  vt = v/(1-b2^t);  w -= lr*mt/(sqrt(vt)+eps)
//   adamw         w -= lr*wd*w, then the adam step with the raw gradient (PyTorch's AdamW)
// Weight decay for every rule but adamw is L2 folded into the gradient, dw += wd*w (like
// PyTorch's weight_decay argument); .grad itself is never modified.
//
// Choices (documented, PyTorch-compatible where PyTorch has the same rule):
// - Momentum/Nesterov use the cs231n velocity form above, not PyTorch's `v = mu*v + dw;
//   w -= lr*v` (the two agree only at a constant learning rate, up to the scale of v).
// - t is counted per parameter (like PyTorch's state["step"]): a parameter skipped because it
//   had no gradient does not advance its own bias correction. step_count() counts step() calls.
// - State (velocity, caches, moments) is created lazily on a parameter's first update with
//   its shape and dtype, and updated in place afterwards: no allocation per step.
// - Arithmetic runs in the parameter's dtype (float32 parameters update in float32).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dagrad/autograd/tensor.h"

namespace dagrad::optim {

// Hyper-parameters by name, cs231n's optim_config: {"learning_rate", 1e-2}, {"momentum", 0.9}.
using Config = std::map<std::string, double>;

class Optimizer {
 public:
  // params: leaf tensors (normally with requires_grad). Each rule's constructor fills in
  // its defaults and rejects keys it does not know (std::invalid_argument listing the valid
  // ones) and out-of-range values.
  Optimizer(std::vector<Tensor> params, Config config);
  virtual ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient; the others are skipped. Runs under
  // no_grad and bumps each updated parameter's version counter.
  void step();
  // Drops every parameter's .grad (PyTorch's set_to_none).
  void zero_grad();

  double learning_rate() const;
  void set_learning_rate(double lr);
  // The resolved hyper-parameters (defaults filled in); hyper("beta1") reads one.
  const Config& config() const { return config_; }
  double hyper(const std::string& key) const;

  const std::vector<Tensor>& params() const { return params_; }
  virtual std::string name() const = 0;      // "sgd", "sgd_momentum", ..., "adamw"
  int64_t step_count() const { return t_; }  // number of step() calls

  // State for checkpoints: "t" (step_count, a float64 scalar), and for every parameter i that
  // has been updated: "t.i" (its own update count) and one tensor per state slot, named
  // "<slot>.i" — "v.i" (sgd_momentum, nesterov), "cache.i" (rmsprop, adagrad), "m.i" and
  // "v.i" (adam, adamw). Tensors are the live state (not copies).
  virtual std::vector<std::pair<std::string, Tensor>> state() const;
  // Restores what state() returned (values are copied). Unknown names, parameter indices
  // out of range, and shape/dtype mismatches are std::invalid_argument.
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state);

 protected:
  // One parameter's update with its gradient g (same shape and dtype as p); i indexes
  // params(). Called under no_grad; the base bumps p's version afterwards.
  virtual void update(std::size_t i, Tensor& p, const Tensor& g) = 0;

  // Called by every rule's public constructor (so name() is the final rule's): validates
  // the user's keys against `defaults` (the complete list of valid keys) and their values,
  // and fills in the missing ones.
  void apply_defaults(const Config& defaults);
  // Declares the rule's per-parameter state slots (e.g. {"m", "v"}), in the constructor.
  void set_slots(std::vector<std::string> names);
  // The state tensor of slot k for parameter i, created as zeros like p on first use.
  Tensor& slot(std::size_t k, std::size_t i);
  // How many updates parameter i has had, including the current one (t, from 1).
  int64_t param_step(std::size_t i) const { return param_steps_[i]; }

 private:
  std::vector<Tensor> params_;
  Config config_;
  double lr_ = 1e-2;
  int64_t t_ = 0;
  std::vector<int64_t> param_steps_;
  std::vector<std::string> slot_names_;
  std::vector<std::vector<Tensor>> slots_;  // [slot][param]
};

// The rules. Valid config keys (and defaults) of each:
//   sgd:                     learning_rate 1e-2, weight_decay 0
//   sgd_momentum, nesterov:  learning_rate 1e-2, momentum 0.9, weight_decay 0
//   rmsprop:                 learning_rate 1e-2, decay_rate 0.99, epsilon 1e-8, weight_decay 0
//   adagrad:                 learning_rate 1e-2, epsilon 1e-8, weight_decay 0
//   adam:                    learning_rate 1e-2, beta1 0.9, beta2 0.999, epsilon 1e-8,
//                            weight_decay 0
//   adamw:                   as adam, but weight_decay 1e-2 (decoupled)
class Sgd : public Optimizer {
 public:
  Sgd(std::vector<Tensor> params, Config config = {});
  std::string name() const override { return "sgd"; }

 protected:
  void update(std::size_t i, Tensor& p, const Tensor& g) override;

 private:
  double wd_;
};

class SgdMomentum : public Optimizer {
 public:
  SgdMomentum(std::vector<Tensor> params, Config config = {});
  std::string name() const override { return "sgd_momentum"; }

 protected:
  void update(std::size_t i, Tensor& p, const Tensor& g) override;

 private:
  double mu_, wd_;
};

class Nesterov : public Optimizer {
 public:
  Nesterov(std::vector<Tensor> params, Config config = {});
  std::string name() const override { return "nesterov"; }

 protected:
  void update(std::size_t i, Tensor& p, const Tensor& g) override;

 private:
  double mu_, wd_;
};

class RmsProp : public Optimizer {
 public:
  RmsProp(std::vector<Tensor> params, Config config = {});
  std::string name() const override { return "rmsprop"; }

 protected:
  void update(std::size_t i, Tensor& p, const Tensor& g) override;

 private:
  double decay_, eps_, wd_;
};

class Adagrad : public Optimizer {
 public:
  Adagrad(std::vector<Tensor> params, Config config = {});
  std::string name() const override { return "adagrad"; }

 protected:
  void update(std::size_t i, Tensor& p, const Tensor& g) override;

 private:
  double eps_, wd_;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Tensor> params, Config config = {});
  std::string name() const override { return "adam"; }

 protected:
  Adam(std::vector<Tensor> params, Config config, bool decoupled);
  void read_hypers();
  void update(std::size_t i, Tensor& p, const Tensor& g) override;

 private:
  bool decoupled_;  // adamw: weight decay shrinks w directly instead of joining dw
  double b1_ = 0, b2_ = 0, eps_ = 0, wd_ = 0;
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<Tensor> params, Config config = {});
  std::string name() const override { return "adamw"; }
};

// The valid update rule names, in a fixed order.
const std::vector<std::string>& update_rules();

// Builds a rule by name ("sgd", "sgd_momentum", "nesterov", "rmsprop", "adagrad", "adam",
// "adamw"); an unknown name is std::invalid_argument listing the valid ones.
std::unique_ptr<Optimizer> make_optimizer(const std::string& update_rule,
                                          std::vector<Tensor> params, const Config& config = {});

}  // namespace dagrad::optim
