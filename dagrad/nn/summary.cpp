#include "dagrad/nn/summary.h"

#include <fmt/format.h>

#include <map>
#include <stdexcept>

namespace dagrad::nn {

namespace {

// Every module of the tree by address, with its dotted name ("" for the root).
void name_modules(const Module& m, const std::string& prefix,
                  std::map<const Module*, std::string>& names) {
  names.emplace(&m, prefix);
  for (const auto& [n, child] : m.children())
    name_modules(*child, prefix.empty() ? n : prefix + "." + n, names);
}

// Records each call of a leaf module (one without children), in call order, and the root's
// call (the only row when the root computes with raw ops).
class Recorder final : public ForwardHook {
 public:
  explicit Recorder(const Module& root) : root_(root) { name_modules(root, "", names_); }
  void after_forward(const Module& m, const Tensor& in, const Tensor& out) override {
    if (&m == &root_) root_row = row_of(m, in, out);
    if (m.children().empty() && &m != &root_) rows.push_back(row_of(m, in, out));
  }
  std::vector<LayerSummary> rows;
  LayerSummary root_row;

 private:
  LayerSummary row_of(const Module& m, const Tensor& in, const Tensor& out) const {
    const auto it = names_.find(&m);
    LayerSummary row;
    row.name = it == names_.end() || it->second.empty() ? m.type_name() : it->second;
    row.layer = m.describe();
    row.output = out.shape();
    row.parameters = m.num_parameters();
    row.multiply_adds = m.multiply_adds(in, out);
    row.activation_bytes = out.numel() * static_cast<int64_t>(dtype_size(out.dtype()));
    return row;
  }
  const Module& root_;
  std::map<const Module*, std::string> names_;
};

// Restores the model's training mode, however the forward ends.
struct ModeGuard {
  Module& m;
  bool was_training;
  ~ModeGuard() { m.train(was_training); }
};

}  // namespace

ModelSummary summarize(Module& model, const Shape& input) {
  const std::vector<Tensor> params = model.parameters();
  const Dtype dtype = params.empty() ? float32 : params.front().dtype();
  std::vector<int64_t> dims{1};
  for (int64_t d : input) {
    if (d <= 0)
      throw std::invalid_argument(fmt::format("summarize: input size {} of {} must be positive",
                                              to_string(input), model.type_name()));
    dims.push_back(d);
  }
  Recorder rec(model);
  {
    ModeGuard mode{model, model.is_training()};
    model.eval();
    no_grad off;
    ScopedForwardHook hook(rec);
    try {
      model(zeros(Shape(dims), dtype));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("summarize: {} on an input of {}: {}",
                                              model.type_name(), to_string(input), e.what()));
    }
  }
  ModelSummary s;
  s.layers = std::move(rec.rows);
  if (s.layers.empty()) s.layers.push_back(rec.root_row);
  s.parameters = model.num_parameters();
  for (const LayerSummary& l : s.layers) {
    s.multiply_adds += l.multiply_adds;
    s.activation_bytes += l.activation_bytes;
  }
  return s;
}

std::string ModelSummary::table() const {
  std::size_t name_w = 5, layer_w = 5;
  for (const LayerSummary& l : layers) {
    name_w = std::max(name_w, l.name.size());
    layer_w = std::max(layer_w, l.layer.size());
  }
  std::string out =
      fmt::format("{:<{}}  {:<{}}  {:<18}  {:>12}  {:>15}  {:>13}\n", "layer", name_w, "what",
                  layer_w, "output", "parameters", "multiply-adds", "activations");
  for (const LayerSummary& l : layers)
    out += fmt::format("{:<{}}  {:<{}}  {:<18}  {:>12}  {:>15}  {:>13}\n", l.name, name_w, l.layer,
                       layer_w, to_string(l.output), l.parameters, l.multiply_adds,
                       l.activation_bytes);
  out += fmt::format("total: {} parameters, {} multiply-adds, {} bytes of activations\n",
                     parameters, multiply_adds, activation_bytes);
  return out;
}

}  // namespace dagrad::nn
