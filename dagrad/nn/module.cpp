#include "dagrad/nn/module.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <map>
#include <stdexcept>

#include "dagrad/autograd/ops/loss.h"
#include "dagrad/io/checkpoint.h"

namespace dagrad::nn {

namespace {
thread_local ForwardHook* forward_hook = nullptr;
}  // namespace

ScopedForwardHook::ScopedForwardHook(ForwardHook& hook) : previous_(forward_hook) {
  forward_hook = &hook;
}
ScopedForwardHook::~ScopedForwardHook() { forward_hook = previous_; }

Tensor Module::operator()(const Tensor& x) {
  Tensor out = forward(x);
  if (forward_hook) forward_hook->after_forward(*this, x, out);
  return out;
}

Tensor& Module::register_parameter(const std::string& name, Tensor t, bool decay) {
  for (const Param& p : params_)
    if (p.name == name)
      throw std::invalid_argument(
          fmt::format("{}: parameter '{}' registered twice", type_name(), name));
  if (t.is_leaf() && !t.requires_grad()) t.requires_grad_();
  t.set_name(name);
  params_.push_back(Param{name, std::move(t), decay});
  return params_.back().tensor;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t) {
  t.set_name(name);
  buffers_.emplace_back(name, std::move(t));
  return buffers_.back().second;
}

void Module::register_generator(const std::string& name, Generator& gen) {
  generators_.emplace_back(name, &gen);
}

std::vector<std::pair<std::string, Generator*>> Module::named_generators() {
  std::vector<std::pair<std::string, Generator*>> out = generators_;
  for (const auto& [n, child] : children_)
    for (auto& [name, gen] : child->named_generators()) out.emplace_back(n + "." + name, gen);
  return out;
}

void Module::collect(const std::string& prefix, NamedTensors* params, NamedTensors* buffers,
                     std::vector<Tensor>* decayed) const {
  for (const Param& p : params_) {
    if (params) params->emplace_back(prefix + p.name, p.tensor);
    if (decayed && p.decay) decayed->push_back(p.tensor);
  }
  if (buffers)
    for (const auto& [n, b] : buffers_) buffers->emplace_back(prefix + n, b);
  for (const auto& [n, child] : children_)
    child->collect(prefix + n + ".", params, buffers, decayed);
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  collect("", &out, nullptr, nullptr);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  collect("", nullptr, &out, nullptr);
  return out;
}

std::vector<Tensor> Module::weights() const {
  std::vector<Tensor> out;
  collect("", nullptr, nullptr, &out);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

void Module::freeze() {
  for (Tensor& p : parameters()) {
    p.zero_grad();
    p.requires_grad_(false);
  }
}

void Module::unfreeze() {
  for (Tensor& p : parameters()) p.requires_grad_(true);
}

void Module::zero_grad() {
  for (Tensor& p : parameters()) p.zero_grad();
}

NamedTensors Module::state() const {
  NamedTensors out;
  collect("", &out, &out, nullptr);
  return out;
}

std::string LoadReport::to_string() const {
  std::string out;
  auto part = [&](const char* label, const std::vector<std::string>& names) {
    if (names.empty()) return;
    out += fmt::format("{}{}: {}", out.empty() ? "" : "; ", label, fmt::join(names, ", "));
  };
  part("missing", missing);
  part("unexpected", unexpected);
  part("mismatched", mismatched);
  return out.empty() ? "complete" : out;
}

LoadReport load_into(const std::vector<LoadTarget>& targets, const NamedTensors& incoming,
                     bool strict, const std::string& what) {
  // Check everything first so that a strict failure leaves the module untouched.
  LoadReport report;
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, t] : incoming)
    if (!given.emplace(name, &t).second)
      throw std::invalid_argument(fmt::format("{}: the state holds '{}' twice", what, name));
  std::vector<std::pair<const LoadTarget*, const Tensor*>> matched;
  std::map<std::string, bool> known;
  for (const LoadTarget& target : targets) {
    known[target.name] = true;
    auto it = given.find(target.name);
    if (it == given.end()) {
      report.missing.push_back(target.name);
      continue;
    }
    const Tensor& t = *it->second;
    if (!t.defined() || t.shape() != target.shape || t.dtype() != target.dtype) {
      report.mismatched.push_back(fmt::format(
          "{}: {} {} vs {}", target.name, to_string(target.shape), dtype_name(target.dtype),
          t.defined() ? fmt::format("{} {}", to_string(t.shape()), dtype_name(t.dtype()))
                      : std::string("an undefined tensor")));
      continue;
    }
    matched.emplace_back(&target, &t);
  }
  for (const auto& [name, t] : incoming)
    if (!known.count(name)) report.unexpected.push_back(name);
  if (strict && !report.complete())
    throw std::invalid_argument(fmt::format("{}: {}", what, report.to_string()));
  no_grad guard;
  for (const auto& [target, t] : matched) target->assign(*t);
  return report;
}

LoadReport Module::load_state(const NamedTensors& incoming, bool strict) {
  std::vector<LoadTarget> targets;
  for (const auto& [name, t] : state())
    targets.push_back(
        {name, t.shape(), t.dtype(), [dst = t](const Tensor& src) mutable { dst.copy_(src); }});
  return load_into(targets, incoming, strict, fmt::format("load_state: {}", type_name()));
}

void Module::save(const std::string& path, const std::map<std::string, std::string>& meta) const {
  io::Checkpoint ck;
  ck.meta = meta;
  ck.meta["model"] = describe();
  ck.tensors = state();
  io::save_checkpoint(ck, path);
}

void Module::load(const std::string& path) {
  io::Checkpoint ck = io::load_checkpoint(path);
  try {
    load_state(ck.tensors);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("checkpoint {}: {}", path, e.what()));
  }
}

void Module::summarize(std::string& out, const std::string& prefix, int depth) const {
  int64_t own = 0;
  for (const Param& p : params_) own += p.tensor.numel();
  out += fmt::format("{:{}}{}{}  [{} params]\n", "", depth * 2, prefix.empty() ? "" : prefix + ": ",
                     describe(), own);
  for (const auto& [n, c] : children_) c->summarize(out, n, depth + 1);
}

std::string Module::summary() const {
  std::string out;
  summarize(out, "", 0);
  out += fmt::format("total parameters: {}\n", num_parameters());
  return out;
}

Tensor l2_regularization(const Module& m, double reg) {
  const std::vector<Tensor> ws = m.weights();
  Tensor total;
  for (const Tensor& w : ws) {
    Tensor s = sum(w * w);
    total = total.defined() ? total + s : s;
  }
  if (!total.defined()) return Tensor();
  return total * (0.5 * reg);
}

Tensor Classifier::data_loss(const Tensor& scores, const Tensor& y) {
  return cross_entropy(scores, y);
}

Tensor Classifier::loss(const Tensor& X, const Tensor& y) {
  Tensor l = data_loss(forward(X), y);
  if (reg != 0.0) {
    Tensor r = l2_regularization(*this, reg);
    if (r.defined()) l = l + r;
  }
  return l;
}

Tensor Classifier::predict(const Tensor& X) {
  no_grad guard;
  return argmax(forward(X), 1);
}

}  // namespace dagrad::nn
