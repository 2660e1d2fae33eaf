#include "dagrad/nn/module.h"

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>

#include "dagrad/autograd/ops/loss.h"
#include "dagrad/nn/checkpoint.h"

namespace dagrad::nn {

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

void Module::zero_grad() {
  for (Tensor& p : parameters()) p.zero_grad();
}

NamedTensors Module::state() const {
  NamedTensors out;
  collect("", &out, &out, nullptr);
  return out;
}

void Module::load_state(const NamedTensors& incoming) {
  const NamedTensors mine = state();
  // Check everything first so that a mismatch leaves the module untouched.
  if (incoming.size() != mine.size()) {
    std::string missing;
    for (const auto& [n, t] : mine) {
      bool found = false;
      for (const auto& [m, u] : incoming) found |= (m == n);
      if (!found) missing += (missing.empty() ? "" : ", ") + n;
    }
    throw std::invalid_argument(fmt::format(
        "load_state: {} holds {} tensors but the state has {}{}", type_name(), mine.size(),
        incoming.size(), missing.empty() ? "" : fmt::format(" (missing: {})", missing)));
  }
  for (std::size_t i = 0; i < mine.size(); ++i) {
    const auto& [name, t] = mine[i];
    const auto& [iname, it] = incoming[i];
    if (name != iname)
      throw std::invalid_argument(
          fmt::format("load_state: {} expects tensor #{} to be '{}' but the state has '{}' "
                      "(another architecture?)",
                      type_name(), i, name, iname));
    if (t.shape() != it.shape())
      throw std::invalid_argument(fmt::format(
          "load_state: '{}' has shape {} in {} but {} in the state (another architecture?)", name,
          to_string(t.shape()), type_name(), to_string(it.shape())));
  }
  no_grad guard;
  for (std::size_t i = 0; i < mine.size(); ++i) {
    Tensor dst = mine[i].second;
    dst.copy_(incoming[i].second);
  }
}

void Module::save(const std::string& path, const std::map<std::string, std::string>& meta) const {
  Checkpoint ck;
  ck.meta = meta;
  ck.meta["model"] = describe();
  ck.tensors = state();
  save_checkpoint(path, ck);
}

void Module::load(const std::string& path) {
  Checkpoint ck = load_checkpoint(path);
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
