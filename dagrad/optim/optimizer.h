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
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dagrad/autograd/tensor.h"

namespace dagrad::optim {

// Hyper-parameters by name, cs231n's optim_config: {"learning_rate", 1e-2}, {"momentum", 0.9}.
using Config = std::map<std::string, double>;

// Parameters with hyper-parameters of their own (PyTorch's param_groups): `config` overrides
// the optimizer's config for them, e.g. {{"learning_rate", 1e-4}} for a pretrained backbone
// beside a new head that takes the optimizer's rate. Every key must be one the rule knows.
struct ParamGroup {
  std::vector<Tensor> params;
  Config config;
};

// What an optimizer is given: a plain list of parameters (one group) or several groups.
struct ParamGroups {
  ParamGroups(std::vector<Tensor> params);            // NOLINT: implicit on purpose
  ParamGroups(std::initializer_list<Tensor> params);  // NOLINT: make_optimizer(r, {w, b})
  ParamGroups(std::vector<ParamGroup> groups);        // NOLINT: implicit on purpose
  std::vector<ParamGroup> groups;
};

class Optimizer {
 public:
  // params: leaf tensors (normally with requires_grad), in one group or several. Each rule's
  // constructor fills in its defaults and rejects keys it does not know (std::invalid_argument
  // listing the valid ones) and out-of-range values, in `config` and in every group's.
  Optimizer(ParamGroups params, Config config);
  virtual ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter that has a gradient; the others are skipped. Runs under
  // no_grad and bumps each updated parameter's version counter.
  void step();
  // Drops every parameter's .grad (PyTorch's set_to_none).
  void zero_grad();

  // The learning rate of the first group. Setting it moves every group's in proportion (a
  // group that started at 10x the first stays at 10x), as PyTorch's schedulers scale each
  // group's; with several groups the first one's must then not start at 0.
  double learning_rate() const;
  void set_learning_rate(double lr);
  // The resolved hyper-parameters (defaults filled in); hyper("beta1") reads one.
  const Config& config() const { return config_; }
  double hyper(const std::string& key) const;
  // Parameter groups: how many, each one's config as resolved at construction (its
  // learning_rate is where the group started) and its current learning rate.
  std::size_t num_groups() const { return group_configs_.size(); }
  const Config& group_config(std::size_t group) const { return group_configs_.at(group); }
  double group_learning_rate(std::size_t group) const;

  // Every group's parameters, in order: state() and load_state() index them.
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
  // Parameter i's hyper-parameters: those of its group.
  double hyper_of(std::size_t i, const std::string& key) const {
    return group_configs_[group_of_[i]].at(key);
  }
  double learning_rate_of(std::size_t i) const { return group_learning_rate(group_of_[i]); }

 private:
  std::vector<Tensor> params_;
  std::vector<std::size_t> group_of_;  // per parameter
  std::vector<Config> group_configs_;  // each group's overrides, resolved by apply_defaults
  std::vector<double> group_base_lr_;  // each group's learning rate at the start
  Config config_;
  double lr_ = 1e-2;  // the first group's current rate
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
  Sgd(ParamGroups params, Config config = {});
  std::string name() const override { return "sgd"; }

 protected:
  void update(std::size_t i, Tensor& p, const Tensor& g) override;
};

class SgdMomentum : public Optimizer {
 public:
  SgdMomentum(ParamGroups params, Config config = {});
  std::string name() const override { return "sgd_momentum"; }

 protected:
  void update(std::size_t i, Tensor& p, const Tensor& g) override;
};

class Nesterov : public Optimizer {
 public:
  Nesterov(ParamGroups params, Config config = {});
  std::string name() const override { return "nesterov"; }

 protected:
  void update(std::size_t i, Tensor& p, const Tensor& g) override;
};

class RmsProp : public Optimizer {
 public:
  RmsProp(ParamGroups params, Config config = {});
  std::string name() const override { return "rmsprop"; }

 protected:
  void update(std::size_t i, Tensor& p, const Tensor& g) override;
};

class Adagrad : public Optimizer {
 public:
  Adagrad(ParamGroups params, Config config = {});
  std::string name() const override { return "adagrad"; }

 protected:
  void update(std::size_t i, Tensor& p, const Tensor& g) override;
};

class Adam : public Optimizer {
 public:
  Adam(ParamGroups params, Config config = {});
  std::string name() const override { return "adam"; }

 protected:
  Adam(ParamGroups params, Config config, bool decoupled);
  void update(std::size_t i, Tensor& p, const Tensor& g) override;

 private:
  bool decoupled_;  // adamw: weight decay shrinks w directly instead of joining dw
};

class AdamW : public Adam {
 public:
  AdamW(ParamGroups params, Config config = {});
  std::string name() const override { return "adamw"; }
};

// The valid update rule names, in a fixed order.
const std::vector<std::string>& update_rules();

// Builds a rule by name ("sgd", "sgd_momentum", "nesterov", "rmsprop", "adagrad", "adam",
// "adamw"); an unknown name is std::invalid_argument listing the valid ones.
std::unique_ptr<Optimizer> make_optimizer(const std::string& update_rule, ParamGroups params,
                                          const Config& config = {});

}  // namespace dagrad::optim
