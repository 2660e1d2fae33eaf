// viz::to_html: the recorded graph as one interactive, self-contained HTML page. The C++ side
// gathers the data (nodes, values, the engine's backward run per output, forward-mode runs given
// by the caller) as JSON; the page's script and style (graph_page.js, graph_page.css, embedded
// at build time) lay out the DAG and step through the passes.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dagrad/autograd/engine.h"
#include "dagrad/autograd/gradcheck.h"
#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/reduction.h"
#include "dagrad/autograd/rules.h"
#include "dagrad/base/file.h"
#include "dagrad/base/json.h"
#include "dagrad/viz/graph.h"
#include "dagrad/viz/graph_page_assets.h"
#include "dagrad/viz/graph_walk.h"

namespace dagrad::viz {

namespace {

// Nodes a page draws; the rest of a larger graph (the part farthest from the outputs) is
// collapsed into one node, so that the layout never freezes the browser.
constexpr std::size_t max_nodes = 2000;
constexpr const char* collapsed_id = "collapsed";

// ---------------------------------------------------------------- JSON pieces

std::string number(double v) {
  if (std::isnan(v)) return "\"nan\"";
  if (std::isinf(v)) return v > 0 ? "\"inf\"" : "\"-inf\"";
  return fmt::format("{:.17g}", v);
}

// Text from user names can be anything: keep it valid UTF-8 for the JSON writer.
std::string text(std::string_view s) {
  if (base::json::is_valid_utf8(s)) return base::json::quote(s);
  std::string ascii(s);
  for (char& c : ascii)
    if (static_cast<unsigned char>(c) >= 0x80) c = '?';
  return base::json::quote(ascii);
}

std::string shape_json(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ",")); }

// {"shape": [...], "values": [...]} or, for a large tensor, {"shape", "stats": {min, mean, max,
// norm}}; null for an undefined tensor.
std::string tensor_json(const Tensor& t, int64_t max_values) {
  if (!t.defined()) return "null";
  const std::vector<double> v = t.to_vector();
  std::string out = "{\"shape\":" + shape_json(t.shape());
  if (t.numel() <= max_values) {
    std::vector<std::string> parts;
    for (double x : v) parts.push_back(number(x));
    return out + fmt::format(",\"values\":[{}]}}", fmt::join(parts, ","));
  }
  double lo = INFINITY, hi = -INFINITY, sum = 0, sq = 0;
  for (double x : v) {
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    sum += x;
    sq += x * x;
  }
  return out + fmt::format(",\"stats\":{{\"min\":{},\"mean\":{},\"max\":{},\"norm\":{}}}}}",
                           number(lo), number(sum / static_cast<double>(v.size())), number(hi),
                           number(std::sqrt(sq)));
}

// The local derivative rule of an op, for the node's details: its one line in the registry
// beside the op (autograd/rules.h).
std::string rule_of(const Node* n) {
  if (n->is_accumulator()) return "a leaf: its adjoint is accumulated into .grad";
  const std::string_view math = backward_rule(n->name);
  return math.empty() ? "see docs/ops.md for this op's backward" : std::string(math);
}

// A non-owning handle (aliasing an empty owner) on the tensor a node stands for, or undefined:
// the node only links to it, and the graph keeps it alive while a page is built.
Tensor tensor_of_node(const Node* n) {
  const TensorImpl* t = detail::tensor_of(n);
  return t ? Tensor(
                 std::shared_ptr<TensorImpl>(std::shared_ptr<void>(), const_cast<TensorImpl*>(t)))
           : Tensor();
}

// ---------------------------------------------------------------- one backward run

struct Contribution {
  const Node* from;
  const Node* to;
  int input;
  Tensor value;
};

struct BackwardRun {
  std::vector<const Node*> order;  // the engine's steps
  std::unordered_map<const Node*, Tensor> adjoint;
  std::vector<Contribution> edges;
  std::string error;
};

// Writes down each step of an engine run: the adjoint reaching a node, and what its rule sends
// to each input.
class BackwardTrace final : public BackwardObserver {
 public:
  explicit BackwardTrace(BackwardRun& run) : run_(run) {}
  void on_gradient(const Node& n, const Tensor& g) override {
    run_.order.push_back(&n);
    run_.adjoint[&n] = g;
  }
  void on_rule(const Node& n, const GradList& grads) override {
    for (std::size_t i = 0; i < grads.size() && i < n.next.size(); ++i)
      if (const Node* m = n.next[i].node.get(); m && grads[i].defined())
        run_.edges.push_back({&n, m, static_cast<int>(i), grads[i]});
  }

 private:
  BackwardRun& run_;
};

// The leaves that require grad in the graph of `output`, as handles grad() can take.
std::vector<Tensor> leaves_of(const Tensor& output) {
  std::vector<Tensor> leaves;
  for (const Node* n : backward_order(output))
    if (n->is_accumulator())
      if (Tensor t = tensor_of_node(n); t.defined()) leaves.push_back(t);
  return leaves;
}

// The engine's own backward pass from `output`, seeded with ones, traced step by step: grad()
// with every leaf as an input, so nothing is accumulated into .grad, and retain_graph, so
// nothing is freed. A rule that throws ends the run; the steps before it stay.
BackwardRun run_backward(const Tensor& output) {
  BackwardRun run;
  BackwardTrace trace(run);
  try {
    grad({output}, leaves_of(output), {ones_like(output)},
         BackwardOptions{.retain_graph = true, .observer = &trace});
  } catch (const std::exception& e) {
    run.error = e.what();
  }
  return run;
}

// ---------------------------------------------------------------- the data

class PageData {
 public:
  PageData(const std::vector<Tensor>& outputs, const HtmlOptions& o) : outputs_(outputs), o_(o) {
    nodes_ = detail::reachable(detail::roots_of(outputs));
    if (nodes_.size() > max_nodes) collapse_far_nodes();
    // Leaves first (in the order they were first used), then the ops in tape order.
    std::stable_partition(nodes_.begin(), nodes_.end(),
                          [](const Node* n) { return n->is_accumulator(); });
    for (const Node* n : nodes_)
      id_[n] = fmt::format("{}{}", n->is_accumulator() ? "leaf" : "n", n->seq);
  }

  std::string json() const {
    std::vector<std::string> nodes, forward, runs, tangents;
    std::vector<BackwardRun> backward;
    for (const Tensor& y : outputs_)
      if (y.defined() && y.requires_grad()) {
        backward.push_back(run_backward(y));
        runs.push_back(backward_json(y, backward.back()));
      }
    if (collapsed_ > 0) {
      nodes.push_back(fmt::format(
          "{{\"id\":\"{}\",\"seq\":0,\"kind\":\"group\",\"op\":\"collapsed\",\"label\":\"{} "
          "earlier nodes\",\"shape\":[],\"dtype\":\"\",\"output\":false,\"inputs\":[],"
          "\"rule\":\"the part of the graph farthest from the outputs, collapsed: a page draws at "
          "most {} nodes\",\"value\":null,\"checks\":[],\"saved\":[]}}",
          collapsed_id, collapsed_, max_nodes - 1, max_nodes));
      forward.push_back(fmt::format("\"{}\"", collapsed_id));
    }
    for (const Node* n : nodes_) {
      std::string checks = "[]";
      if (o_.recompute && n->is_accumulator() && !backward.empty() && collapsed_ == 0)
        checks = leaf_checks(n, backward.front());
      nodes.push_back(node_json(n, checks));
      forward.push_back(base::json::quote(id_.at(n)));
    }
    for (const TangentRun& r : o_.tangent_runs) tangents.push_back(tangent_json(r));
    return fmt::format(
        "{{\"title\":{},\"nodes\":[{}],\"forward\":[{}],\"backward\":[{}],\"tangents\":[{}]}}",
        text(o_.title), fmt::join(nodes, ","), fmt::join(forward, ","), fmt::join(runs, ","),
        fmt::join(tangents, ","));
  }

 private:
  // Keeps the max_nodes - 1 nodes nearest the outputs (in edges; ties: the later op) and maps
  // every other node to the one collapsed node.
  void collapse_far_nodes() {
    std::unordered_map<const Node*, std::size_t> distance;
    std::vector<const Node*> frontier;
    for (const auto& r : detail::roots_of(outputs_))
      if (distance.emplace(r.get(), 0).second) frontier.push_back(r.get());
    for (std::size_t d = 1; !frontier.empty(); ++d) {
      std::vector<const Node*> next;
      for (const Node* n : frontier)
        for (const Edge& e : n->next)
          if (e.node && distance.emplace(e.node.get(), d).second) next.push_back(e.node.get());
      frontier = std::move(next);
    }
    std::stable_sort(nodes_.begin(), nodes_.end(), [&](const Node* a, const Node* b) {
      const std::size_t da = distance.at(a), db = distance.at(b);
      return da != db ? da < db : a->seq > b->seq;
    });
    for (std::size_t i = max_nodes - 1; i < nodes_.size(); ++i) id_[nodes_[i]] = collapsed_id;
    collapsed_ = nodes_.size() - (max_nodes - 1);
    nodes_.resize(max_nodes - 1);
    std::sort(nodes_.begin(), nodes_.end(),
              [](const Node* a, const Node* b) { return a->seq < b->seq; });
  }

  bool drawn(const Node* n) const { return id_.at(n) != collapsed_id; }

  std::string label_of(const Node* n) const {
    const TensorImpl* t = detail::tensor_of(n);
    if (t && !t->name.empty()) return t->name;
    return n->is_accumulator() ? "leaf" : n->name;
  }

  bool is_output(const Node* n) const {
    return std::any_of(outputs_.begin(), outputs_.end(), [n](const Tensor& y) {
      return y.defined() && y.requires_grad() && gradient_edge(y).get() == n;
    });
  }

  // The numerical check of a few elements of a leaf against the first output's adjoint.
  std::string leaf_checks(const Node* n, const BackwardRun& run) const {
    const auto it = run.adjoint.find(n);
    if (it == run.adjoint.end() || !it->second.defined()) return "[]";
    const Tensor leaf = tensor_of_node(n);
    const std::vector<double> analytic = it->second.to_vector();
    const int64_t count = leaf.numel();
    std::vector<std::string> out;
    no_grad guard;
    auto f = [&] { return sum(o_.recompute()).to(float64).item(); };
    for (int k = 0; k < o_.checks_per_leaf && k < count; ++k) {
      const int64_t i = count * k / std::min<int64_t>(o_.checks_per_leaf, count);
      // h ~ cbrt(machine eps) balances the O(h^2) truncation against rounding in f.
      double h = 0;
      DAGRAD_DISPATCH(leaf.dtype(), {
        h = std::cbrt(std::numeric_limits<T>::epsilon()) *
            std::max(1.0, std::abs(static_cast<double>(leaf.data<T>()[i])));
      });
      const double numerical = difference_quotient(f, leaf, i, h);
      const double a = analytic[i];
      const double rel =
          std::abs(a - numerical) / std::max(1e-300, std::abs(a) + std::abs(numerical));
      out.push_back(fmt::format(
          "{{\"index\":{},\"analytic\":{},\"numerical\":{},\"abs\":{},\"rel\":{}}}", i, number(a),
          number(numerical), number(std::abs(a - numerical)), a == numerical ? "0" : number(rel)));
    }
    return fmt::format("[{}]", fmt::join(out, ","));
  }

  std::string node_json(const Node* n, const std::string& checks) const {
    std::vector<std::string> inputs;
    for (const Edge& e : n->next)
      inputs.push_back(e.node
                           ? fmt::format("{{\"id\":{}}}", base::json::quote(id_.at(e.node.get())))
                           : "{\"id\":null}");
    const Tensor value = tensor_of_node(n);
    std::vector<std::string> saved;
    for (const SavedInfo& s : saved_tensors_of(*n))
      saved.push_back(fmt::format("{{\"role\":{},\"shape\":{},\"dtype\":\"{}\"}}", text(s.role),
                                  shape_json(s.shape), dtype_name(s.dtype)));
    return fmt::format(
        "{{\"id\":{},\"seq\":{},\"kind\":\"{}\",\"op\":{},\"label\":{},\"shape\":{},"
        "\"dtype\":\"{}\",\"output\":{},\"inputs\":[{}],\"rule\":{},\"value\":{},\"checks\":{},"
        "\"saved\":[{}]}}",
        base::json::quote(id_.at(n)), n->seq, n->is_accumulator() ? "leaf" : "op",
        text(n->is_accumulator() ? "leaf" : n->name), text(label_of(n)), shape_json(n->out_shape),
        dtype_name(n->out_dtype), is_output(n) ? "true" : "false", fmt::join(inputs, ","),
        text(rule_of(n)), tensor_json(value, o_.max_values), checks, fmt::join(saved, ","));
  }

  std::string backward_json(const Tensor& y, const BackwardRun& run) const {
    std::vector<std::string> order, adjoints, edges;
    bool collapsed_listed = false;
    for (const Node* n : run.order) {
      if (!drawn(n) && std::exchange(collapsed_listed, true)) continue;  // listed once
      order.push_back(base::json::quote(id_.at(n)));
    }
    for (const auto& [n, a] : run.adjoint)
      if (drawn(n))
        adjoints.push_back(
            fmt::format("{}:{}", base::json::quote(id_.at(n)), tensor_json(a, o_.max_values)));
    for (const Contribution& c : run.edges)
      if (drawn(c.from))
        edges.push_back(
            fmt::format("{{\"from\":{},\"to\":{},\"input\":{},\"sum_to\":{},\"value\":{}}}",
                        base::json::quote(id_.at(c.from)), base::json::quote(id_.at(c.to)), c.input,
                        c.value.shape() != c.from->out_shape ? "true" : "false",
                        tensor_json(c.value, o_.max_values)));
    return fmt::format(
        "{{\"output\":{},\"label\":{},\"order\":[{}],\"adjoint\":{{{}}},\"edges\":[{}],"
        "\"error\":{}}}",
        base::json::quote(id_.at(gradient_edge(y).get())), text(label_of(gradient_edge(y).get())),
        fmt::join(order, ","), fmt::join(adjoints, ","), fmt::join(edges, ","), text(run.error));
  }

  std::string tangent_json(const TangentRun& r) const {
    std::vector<std::string> values;
    for (const auto& [node, tangent] : r.tangents) {
      if (!node.defined() || !node.requires_grad()) continue;
      const auto it = id_.find(gradient_edge(node).get());
      if (it == id_.end() || it->second == collapsed_id) continue;  // not drawn
      values.push_back(
          fmt::format("{}:{}", base::json::quote(it->second), tensor_json(tangent, o_.max_values)));
    }
    return fmt::format("{{\"direction\":{},\"values\":{{{}}}}}", text(r.direction),
                       fmt::join(values, ","));
  }

  const std::vector<Tensor>& outputs_;
  const HtmlOptions& o_;
  std::vector<Node*> nodes_;
  std::unordered_map<const Node*, std::string> id_;
  std::size_t collapsed_ = 0;  // nodes mapped to the collapsed node
};

}  // namespace

std::string to_html(const std::vector<Tensor>& outputs, const HtmlOptions& options) {
  std::string data = PageData(outputs, options).json();
  // Inside <script>, "</" could end the element early.
  for (std::size_t at = 0; (at = data.find("</", at)) != std::string::npos; at += 3)
    data.replace(at, 2, "<\\/");
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<title>dagrad graph</title>\n<style>\n{}</style></head>\n<body>\n"
      "<div id=\"bar\"><b id=\"title\"></b>\n"
      "<button id=\"fstep\">forward step</button><button id=\"fall\">forward all</button>\n"
      "<select id=\"run\" title=\"output to differentiate\"></select>"
      "<button id=\"bstep\">backward step</button><button id=\"ball\">backward all</button>\n"
      "<select id=\"dir\" title=\"input direction\"></select>"
      "<button id=\"tangent\">forward mode</button>\n"
      "<button id=\"reset\">reset</button><span id=\"status\"></span></div>\n"
      "<div id=\"main\"><div id=\"canvas\"></div><div id=\"side\">Click a node for its "
      "details.</div></div>\n"
      "<script id=\"data\" type=\"application/json\">{}</script>\n<script>\n{}</script>\n"
      "</body></html>\n",
      assets::graph_page_css, data, assets::graph_page_js);
}

void save_html(const std::vector<Tensor>& outputs, const std::string& path,
               const HtmlOptions& options) {
  base::write_file_atomically(to_html(outputs, options), path, "html page " + path);
}

}  // namespace dagrad::viz
