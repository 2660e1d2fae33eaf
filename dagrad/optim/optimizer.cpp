// The optimizer base (bookkeeping, state, config checks) and the update kernels of every rule.
#include "dagrad/optim/optimizer.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "dagrad/autograd/engine.h"
#include "dagrad/kernels/optimizer.h"

namespace dagrad::optim {

namespace {

std::string join_keys(const Config& c) {
  std::string out;
  for (const auto& [k, v] : c) out += (out.empty() ? "" : ", ") + k;
  return out;
}

// Range checks by key; every rule shares the meaning of a key.
void check_value(const std::string& rule, const std::string& key, double v) {
  auto bad = [&](const char* want) {
    throw std::invalid_argument(
        fmt::format("{}: config '{}' = {} is out of range (must be {})", rule, key, v, want));
  };
  if (!std::isfinite(v)) bad("finite");
  if (key == "learning_rate" || key == "epsilon" || key == "weight_decay") {
    if (v < 0) bad(">= 0");
  } else if (key == "momentum" || key == "beta1" || key == "beta2") {
    if (v < 0 || v >= 1) bad("in [0, 1)");
  } else if (key == "decay_rate") {
    if (v < 0 || v > 1) bad("in [0, 1]");
  }
}

// Splits "m.12" into ("m", 12); false when the name has no numeric index.
bool split_state_name(const std::string& name, std::string& slot, std::size_t& index) {
  const auto dot = name.rfind('.');
  if (dot == std::string::npos || dot + 1 == name.size()) return false;
  std::size_t idx = 0;
  for (std::size_t j = dot + 1; j < name.size(); ++j) {
    if (name[j] < '0' || name[j] > '9') return false;
    idx = idx * 10 + static_cast<std::size_t>(name[j] - '0');
  }
  slot = name.substr(0, dot);
  index = idx;
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Base

ParamGroups::ParamGroups(std::vector<Tensor> params) : groups{{std::move(params), {}}} {}
ParamGroups::ParamGroups(std::initializer_list<Tensor> params)
    : ParamGroups(std::vector<Tensor>(params)) {}
ParamGroups::ParamGroups(std::vector<ParamGroup> g) : groups(std::move(g)) {}

Optimizer::Optimizer(ParamGroups params, Config config) : config_(std::move(config)) {
  for (std::size_t g = 0; g < params.groups.size(); ++g) {
    for (Tensor& p : params.groups[g].params) {
      params_.push_back(std::move(p));
      group_of_.push_back(g);
    }
    group_configs_.push_back(std::move(params.groups[g].config));
  }
  if (group_configs_.empty()) group_configs_.emplace_back();  // no groups: one empty group
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.defined())
      throw std::invalid_argument(fmt::format("optimizer: parameter {} is undefined", i));
    if (!p.is_leaf())
      throw std::invalid_argument(fmt::format(
          "optimizer: parameter {} (shape {}) is not a leaf tensor; optimize the leaves "
          "(or pass detach() with requires_grad_())",
          i, to_string(p.shape())));
    for (std::size_t j = 0; j < i; ++j)
      if (params_[j].impl_ptr() == p.impl_ptr())
        throw std::invalid_argument(fmt::format(
            "optimizer: parameter {} is the same tensor as parameter {}; it would be updated "
            "twice per step",
            i, j));
  }
  param_steps_.assign(params_.size(), 0);
  auto it = config_.find("learning_rate");
  if (it != config_.end()) lr_ = it->second;
}

Optimizer::~Optimizer() = default;

void Optimizer::apply_defaults(const Config& defaults) {
  const std::string rule = name();
  auto check_keys = [&](const Config& c, const std::string& where) {
    for (const auto& [k, v] : c) {
      if (!defaults.count(k))
        throw std::invalid_argument(fmt::format("{}: unknown config key '{}'{} (valid: {})", rule,
                                                k, where, join_keys(defaults)));
      check_value(rule, k, v);
    }
  };
  check_keys(config_, "");
  for (const auto& [k, v] : defaults) config_.emplace(k, v);
  // Each group: its own keys over the optimizer's (which now hold every default).
  for (std::size_t g = 0; g < group_configs_.size(); ++g) {
    check_keys(group_configs_[g], fmt::format(" in parameter group {}", g));
    for (const auto& [k, v] : config_) group_configs_[g].emplace(k, v);
  }
  group_base_lr_.clear();
  for (const Config& c : group_configs_) group_base_lr_.push_back(c.at("learning_rate"));
  lr_ = group_base_lr_[0];
}

void Optimizer::set_slots(std::vector<std::string> names) {
  slot_names_ = std::move(names);
  slots_.assign(slot_names_.size(), std::vector<Tensor>(params_.size()));
}

Tensor& Optimizer::slot(std::size_t k, std::size_t i) {
  Tensor& s = slots_[k][i];
  if (!s.defined()) s = zeros_like(params_[i]);
  return s;
}

double Optimizer::hyper(const std::string& key) const {
  auto it = config_.find(key);
  if (it == config_.end())
    throw std::invalid_argument(
        fmt::format("{}: no config key '{}' (valid: {})", name(), key, join_keys(config_)));
  return it->second;
}

double Optimizer::learning_rate() const { return lr_; }

// The first group's current rate, and the others' in proportion to where they started; from
// the starting rates each time, so a resumed run computes the same rates as an unbroken one.
double Optimizer::group_learning_rate(std::size_t group) const {
  if (group >= group_base_lr_.size())
    throw std::out_of_range(fmt::format("{}: no parameter group {} (there are {})", name(), group,
                                        group_base_lr_.size()));
  if (group == 0) return lr_;
  return group_base_lr_[0] == 0 ? group_base_lr_[group]
                                : group_base_lr_[group] * (lr_ / group_base_lr_[0]);
}

void Optimizer::set_learning_rate(double lr) {
  check_value(name(), "learning_rate", lr);
  if (group_base_lr_.size() > 1 && group_base_lr_[0] == 0)
    throw std::invalid_argument(fmt::format(
        "{}: set_learning_rate: the first parameter group started at learning rate 0, so the "
        "other groups' rates cannot follow it in proportion",
        name()));
  lr_ = lr;
  config_["learning_rate"] = lr;
}

void Optimizer::step() {
  no_grad guard;  // the updates are not part of any graph
  ++t_;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    if (g.shape() != p.shape() || g.dtype() != p.dtype())
      throw std::invalid_argument(
          fmt::format("{}: gradient of parameter {} has shape {} ({}) but the parameter is {} ({})",
                      name(), i, to_string(g.shape()), dtype_name(g.dtype()), to_string(p.shape()),
                      dtype_name(p.dtype())));
    ++param_steps_[i];
    update(i, p, g);
    p.bump_version();
  }
}

void Optimizer::zero_grad() {
  for (Tensor& p : params_) p.zero_grad();
}

std::vector<std::pair<std::string, Tensor>> Optimizer::state() const {
  std::vector<std::pair<std::string, Tensor>> out;
  out.emplace_back("t", scalar_tensor(static_cast<double>(t_), float64));
  for (std::size_t i = 0; i < params_.size(); ++i) {
    if (param_steps_[i] == 0) continue;
    out.emplace_back(fmt::format("t.{}", i),
                     scalar_tensor(static_cast<double>(param_steps_[i]), float64));
    for (std::size_t k = 0; k < slot_names_.size(); ++k)
      if (slots_[k][i].defined())
        out.emplace_back(fmt::format("{}.{}", slot_names_[k], i), slots_[k][i]);
  }
  return out;
}

void Optimizer::load_state(const std::vector<std::pair<std::string, Tensor>>& state) {
  const std::string rule = name();
  // Validate everything first so that a bad checkpoint leaves the optimizer unchanged.
  auto slot_index = [&](const std::string& s) -> std::ptrdiff_t {
    for (std::size_t k = 0; k < slot_names_.size(); ++k)
      if (slot_names_[k] == s) return static_cast<std::ptrdiff_t>(k);
    return -1;
  };
  auto count_of = [&](const std::string& n, const Tensor& v) {
    if (!v.defined() || v.numel() != 1)
      throw std::invalid_argument(
          fmt::format("{}: load_state: '{}' must be a one-element tensor", rule, n));
    const double c = v.item();
    if (!(c >= 0) || c != std::floor(c))
      throw std::invalid_argument(
          fmt::format("{}: load_state: '{}' = {} is not a step count", rule, n, c));
    return static_cast<int64_t>(c);
  };
  for (const auto& [n, v] : state) {
    if (n == "t") {
      count_of(n, v);
      continue;
    }
    std::string s;
    std::size_t i = 0;
    if (!split_state_name(n, s, i) || (s != "t" && slot_index(s) < 0))
      throw std::invalid_argument(fmt::format(
          "{}: load_state: unknown state entry '{}' (expected t, t.<i>{})", rule, n, [&] {
            std::string r;
            for (const auto& sn : slot_names_) r += fmt::format(", {}.<i>", sn);
            return r;
          }()));
    if (i >= params_.size())
      throw std::invalid_argument(
          fmt::format("{}: load_state: '{}' refers to parameter {} but there are {}", rule, n, i,
                      params_.size()));
    if (s == "t") {
      count_of(n, v);
    } else if (!v.defined() || v.shape() != params_[i].shape() || v.dtype() != params_[i].dtype()) {
      throw std::invalid_argument(
          fmt::format("{}: load_state: '{}' has shape {} ({}) but parameter {} is {} ({})", rule, n,
                      v.defined() ? to_string(v.shape()) : "undefined",
                      v.defined() ? dtype_name(v.dtype()) : "-", i, to_string(params_[i].shape()),
                      dtype_name(params_[i].dtype())));
    }
  }
  for (const auto& [n, v] : state) {
    if (n == "t") {
      t_ = count_of(n, v);
      continue;
    }
    std::string s;
    std::size_t i = 0;
    split_state_name(n, s, i);
    if (s == "t") {
      param_steps_[i] = count_of(n, v);
    } else {
      Tensor& dst = slots_[slot_index(s)][i];
      if (!dst.defined()) dst = empty_like(params_[i]);
      dst.copy_(v.detach());
    }
  }
}

// ---------------------------------------------------------------------------------------
// Rules. Each update sets its constants and runs its loop from the kernel layer
// (dagrad/kernels/optimizer.cpp, one version per instruction-set path).

Sgd::Sgd(ParamGroups params, Config config) : Optimizer(std::move(params), std::move(config)) {
  apply_defaults({{"learning_rate", 1e-2}, {"weight_decay", 0.0}});
}

void Sgd::update(std::size_t i, Tensor& p, const Tensor& g) {
  const double lr = learning_rate_of(i), wd = hyper_of(i, "weight_decay");
  DAGRAD_DISPATCH(p.dtype(), {
    kernels::UpdateHyper<T> h;
    h.lr = static_cast<T>(lr), h.wd = static_cast<T>(wd), h.l2 = wd != 0;
    kernels::optimizer_kernels<T>().sgd(p.data<T>(), g.data<T>(), p.numel(), h);
  });
}

SgdMomentum::SgdMomentum(ParamGroups params, Config config)
    : Optimizer(std::move(params), std::move(config)) {
  apply_defaults({{"learning_rate", 1e-2}, {"momentum", 0.9}, {"weight_decay", 0.0}});
  set_slots({"v"});
}

// v = mu*v - lr*dw;  w += v
void SgdMomentum::update(std::size_t i, Tensor& p, const Tensor& g) {
  const double lr = learning_rate_of(i), mu = hyper_of(i, "momentum");
  const double wd = hyper_of(i, "weight_decay");
  Tensor& vel = slot(0, i);
  DAGRAD_DISPATCH(p.dtype(), {
    kernels::UpdateHyper<T> h;
    h.lr = static_cast<T>(lr), h.mu = static_cast<T>(mu);
    h.wd = static_cast<T>(wd), h.l2 = wd != 0;
    kernels::optimizer_kernels<T>().momentum(p.data<T>(), vel.data<T>(), g.data<T>(), p.numel(), h);
  });
}

Nesterov::Nesterov(ParamGroups params, Config config)
    : Optimizer(std::move(params), std::move(config)) {
  apply_defaults({{"learning_rate", 1e-2}, {"momentum", 0.9}, {"weight_decay", 0.0}});
  set_slots({"v"});
}

// v_prev = v;  v = mu*v - lr*dw;  w += -mu*v_prev + (1+mu)*v
void Nesterov::update(std::size_t i, Tensor& p, const Tensor& g) {
  const double lr = learning_rate_of(i), mu = hyper_of(i, "momentum");
  const double wd = hyper_of(i, "weight_decay");
  Tensor& vel = slot(0, i);
  DAGRAD_DISPATCH(p.dtype(), {
    kernels::UpdateHyper<T> h;
    h.lr = static_cast<T>(lr), h.mu = static_cast<T>(mu);
    h.one_plus_mu = static_cast<T>(1 + mu), h.wd = static_cast<T>(wd), h.l2 = wd != 0;
    kernels::optimizer_kernels<T>().nesterov(p.data<T>(), vel.data<T>(), g.data<T>(), p.numel(), h);
  });
}

RmsProp::RmsProp(ParamGroups params, Config config)
    : Optimizer(std::move(params), std::move(config)) {
  apply_defaults(
      {{"learning_rate", 1e-2}, {"decay_rate", 0.99}, {"epsilon", 1e-8}, {"weight_decay", 0.0}});
  set_slots({"cache"});
}

// cache = d*cache + (1-d)*dw²;  w -= lr*dw/(sqrt(cache)+eps)
void RmsProp::update(std::size_t i, Tensor& p, const Tensor& g) {
  const double lr = learning_rate_of(i), decay = hyper_of(i, "decay_rate");
  const double eps = hyper_of(i, "epsilon"), wd = hyper_of(i, "weight_decay");
  Tensor& cache = slot(0, i);
  DAGRAD_DISPATCH(p.dtype(), {
    kernels::UpdateHyper<T> h;
    h.lr = static_cast<T>(lr), h.decay = static_cast<T>(decay);
    h.one_minus_decay = static_cast<T>(1 - decay), h.eps = static_cast<T>(eps);
    h.wd = static_cast<T>(wd), h.l2 = wd != 0;
    kernels::optimizer_kernels<T>().rmsprop(p.data<T>(), cache.data<T>(), g.data<T>(), p.numel(),
                                            h);
  });
}

Adagrad::Adagrad(ParamGroups params, Config config)
    : Optimizer(std::move(params), std::move(config)) {
  apply_defaults({{"learning_rate", 1e-2}, {"epsilon", 1e-8}, {"weight_decay", 0.0}});
  set_slots({"cache"});
}

// cache += dw²;  w -= lr*dw/(sqrt(cache)+eps)
void Adagrad::update(std::size_t i, Tensor& p, const Tensor& g) {
  const double lr = learning_rate_of(i), eps = hyper_of(i, "epsilon");
  const double wd = hyper_of(i, "weight_decay");
  Tensor& cache = slot(0, i);
  DAGRAD_DISPATCH(p.dtype(), {
    kernels::UpdateHyper<T> h;
    h.lr = static_cast<T>(lr), h.eps = static_cast<T>(eps);
    h.wd = static_cast<T>(wd), h.l2 = wd != 0;
    kernels::optimizer_kernels<T>().adagrad(p.data<T>(), cache.data<T>(), g.data<T>(), p.numel(),
                                            h);
  });
}

Adam::Adam(ParamGroups params, Config config) : Adam(std::move(params), std::move(config), false) {
  apply_defaults({{"learning_rate", 1e-2},
                  {"beta1", 0.9},
                  {"beta2", 0.999},
                  {"epsilon", 1e-8},
                  {"weight_decay", 0.0}});
}

Adam::Adam(ParamGroups params, Config config, bool decoupled)
    : Optimizer(std::move(params), std::move(config)), decoupled_(decoupled) {
  set_slots({"m", "v"});
}

AdamW::AdamW(ParamGroups params, Config config) : Adam(std::move(params), std::move(config), true) {
  apply_defaults({{"learning_rate", 1e-2},
                  {"beta1", 0.9},
                  {"beta2", 0.999},
                  {"epsilon", 1e-8},
                  {"weight_decay", 1e-2}});
}

// adam:  dw += wd*w;  m = b1*m + (1-b1)*dw;  v = b2*v + (1-b2)*dw²;
//        w -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)
// adamw: w *= 1 - lr*wd first (decoupled decay), then the same step with the raw dw.
void Adam::update(std::size_t i, Tensor& p, const Tensor& g) {
  Tensor& m = slot(0, i);
  Tensor& v = slot(1, i);
  const double t = static_cast<double>(param_step(i));
  const double lr = learning_rate_of(i), b1 = hyper_of(i, "beta1"), b2 = hyper_of(i, "beta2");
  const double eps = hyper_of(i, "epsilon"), wd = hyper_of(i, "weight_decay");
  DAGRAD_DISPATCH(p.dtype(), {
    kernels::UpdateHyper<T> h;
    h.lr = static_cast<T>(lr), h.b1 = static_cast<T>(b1), h.b2 = static_cast<T>(b2);
    h.one_minus_b1 = static_cast<T>(1 - b1), h.one_minus_b2 = static_cast<T>(1 - b2);
    h.bias1 = static_cast<T>(1 - std::pow(b1, t)), h.bias2 = static_cast<T>(1 - std::pow(b2, t));
    h.eps = static_cast<T>(eps), h.wd = static_cast<T>(wd);
    h.shrink = static_cast<T>(1 - lr * wd);
    h.l2 = !decoupled_ && wd != 0, h.decoupled = decoupled_ && wd != 0;
    kernels::optimizer_kernels<T>().adam(p.data<T>(), m.data<T>(), v.data<T>(), g.data<T>(),
                                         p.numel(), h);
  });
}

// ---------------------------------------------------------------------------------------

const std::vector<std::string>& update_rules() {
  static const std::vector<std::string> rules = {"sgd",     "sgd_momentum", "nesterov", "rmsprop",
                                                 "adagrad", "adam",         "adamw"};
  return rules;
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& update_rule, ParamGroups params,
                                          const Config& config) {
  if (update_rule == "sgd") return std::make_unique<Sgd>(std::move(params), config);
  if (update_rule == "sgd_momentum")
    return std::make_unique<SgdMomentum>(std::move(params), config);
  if (update_rule == "nesterov") return std::make_unique<Nesterov>(std::move(params), config);
  if (update_rule == "rmsprop") return std::make_unique<RmsProp>(std::move(params), config);
  if (update_rule == "adagrad") return std::make_unique<Adagrad>(std::move(params), config);
  if (update_rule == "adam") return std::make_unique<Adam>(std::move(params), config);
  if (update_rule == "adamw") return std::make_unique<AdamW>(std::move(params), config);
  std::string valid;
  for (const auto& r : update_rules()) valid += (valid.empty() ? "" : ", ") + r;
  throw std::invalid_argument(
      fmt::format("make_optimizer: unknown update rule '{}' (valid: {})", update_rule, valid));
}

}  // namespace dagrad::optim
