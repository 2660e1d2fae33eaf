// viz::html_page: the recorded graph as one interactive, self-contained HTML page. The C++
// side gathers the data (nodes, values, a backward run per output by calling each node's rule,
// forward-mode runs given by the caller) as JSON; the page's script (kScript below) lays out
// the DAG and steps through the passes.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dagrad/autograd/engine.h"
#include "dagrad/autograd/gradcheck.h"
#include "dagrad/viz/graph.h"
#include "dagrad/viz/graph_walk.h"
#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/reduction.h"
#include "dagrad/base/file.h"
#include "dagrad/base/json.h"

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

// The local derivative rule of an op, for the node's details.
std::string rule_of(const Node* n) {
  if (n->is_accumulator()) return "a leaf: its adjoint is accumulated into .grad";
  static const std::map<std::string, std::string> rules = {
      {"add", "d(a+b)/da = 1, d(a+b)/db = 1 (summed over broadcast axes)"},
      {"sub", "d(a-b)/da = 1, d(a-b)/db = -1"},
      {"mul", "d(ab)/da = b, d(ab)/db = a"},
      {"div", "d(a/b)/da = 1/b, d(a/b)/db = -a/b^2"},
      {"neg", "d(-x)/dx = -1"},
      {"add_scalar", "d(x+s)/dx = 1"},
      {"mul_scalar", "d(sx)/dx = s"},
      {"div_scalar", "d(x/s)/dx = 1/s"},
      {"rsub_scalar", "d(s-x)/dx = -1"},
      {"rdiv_scalar", "d(s/x)/dx = -s/x^2"},
      {"pow", "d(x^p)/dx = p x^(p-1)"},
      {"pow_tensor", "d(x^p)/dx = p x^(p-1), d(x^p)/dp = x^p log x"},
      {"exp", "d exp(x)/dx = exp(x)"},
      {"log", "d log(x)/dx = 1/x"},
      {"log1p", "d log(1+x)/dx = 1/(1+x)"},
      {"log2", "d log2(x)/dx = 1/(x ln 2)"},
      {"expm1", "d(e^x - 1)/dx = e^x"},
      {"sqrt", "d sqrt(x)/dx = 1/(2 sqrt(x))"},
      {"rsqrt", "d x^(-1/2)/dx = -x^(-3/2)/2"},
      {"abs", "d|x|/dx = sign(x)"},
      {"sin", "d sin(x)/dx = cos(x)"},
      {"cos", "d cos(x)/dx = -sin(x)"},
      {"tan", "d tan(x)/dx = 1 + tan(x)^2"},
      {"atan", "d atan(x)/dx = 1/(1+x^2)"},
      {"atan2", "d atan2(a,b)/da = b/(a^2+b^2), /db = -a/(a^2+b^2)"},
      {"tanh", "d tanh(x)/dx = 1 - tanh(x)^2"},
      {"sigmoid", "d s(x)/dx = s(x)(1 - s(x))"},
      {"relu", "d relu(x)/dx = 1 if x > 0 else 0"},
      {"leaky_relu", "d/dx = 1 if x > 0 else slope"},
      {"softplus", "d log(1+e^x)/dx = sigmoid(x)"},
      {"elu", "d/dx = 1 if x > 0 else alpha e^x"},
      {"gelu", "d x Phi(x)/dx = Phi(x) + x phi(x)"},
      {"silu", "d x s(x)/dx = s(x)(1 + x(1 - s(x)))"},
      {"erf", "d erf(x)/dx = 2/sqrt(pi) e^(-x^2)"},
      {"maximum", "the gradient goes to the larger input (split on ties)"},
      {"minimum", "the gradient goes to the smaller input (split on ties)"},
      {"matmul", "d(AB)/dA: G B^T, d(AB)/dB: A^T G"},
      {"sum", "d sum(x)/dx = 1 (the adjoint is broadcast back)"},
      {"mean", "d mean(x)/dx = 1/n"},
      {"clone", "identity"},
      {"make_dual", "identity (the tangent rides along)"},
      {"reshape", "the adjoint is reshaped back"},
      {"softmax", "dx = y (g - sum(g y))"},
      {"log_softmax", "dx = g - softmax(x) sum(g)"},
      {"cross_entropy", "d/dscores = softmax(scores) - onehot(labels), over N"},
  };
  const auto it = rules.find(n->name);
  return it != rules.end() ? it->second : "see docs/ops.md for this op's backward";
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
  std::vector<Node*> order;
  std::unordered_map<const Node*, Tensor> adjoint;
  std::vector<Contribution> edges;
  std::string error;
};

// The adjoints of every node for the output seeded with ones, by calling each rule once in
// Kahn order (nothing is accumulated into .grad, nothing is freed).
BackwardRun run_backward(const Tensor& output) {
  BackwardRun run;
  run.order = backward_order(output);
  no_grad guard;
  run.adjoint[run.order.front()] = ones_like(output);
  try {
    for (Node* n : run.order) {
      if (n->is_accumulator()) continue;
      const GradList grads = n->apply(run.adjoint.at(n));
      for (std::size_t i = 0; i < grads.size() && i < n->next.size(); ++i) {
        const Node* m = n->next[i].node.get();
        if (!m || !grads[i].defined()) continue;
        run.edges.push_back({n, m, static_cast<int>(i), grads[i]});
        Tensor& a = run.adjoint[m];
        a = a.defined() ? a + grads[i] : grads[i];
      }
    }
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
      inputs.push_back(e.node ? fmt::format("{{\"id\":{}}}", base::json::quote(id_.at(e.node.get())))
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

// ---------------------------------------------------------------- the page

constexpr const char* kStyle = R"CSS(
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; }
#bar { position: sticky; top: 0; background: #f4f4f6; border-bottom: 1px solid #ccc;
       padding: 6px 10px; display: flex; flex-wrap: wrap; gap: 6px; align-items: center; z-index: 2; }
#bar button, #bar select { font: inherit; }
#status { margin-left: 8px; color: #444; }
#main { display: flex; }
#canvas { flex: 1; overflow: auto; }
#side { width: 320px; border-left: 1px solid #ccc; padding: 8px 12px; font-size: 13px;
        white-space: pre-wrap; word-break: break-word; }
.node rect { fill: #fff; stroke: #556; stroke-width: 1.2; rx: 6; }
.node.leaf rect { fill: #eef6ff; }
.node.group rect { fill: #f0f0f0; stroke-dasharray: 5 3; }
.node.output rect { stroke-width: 3; }
.node.done rect { fill: #eaf7ea; }
.node.ready rect { stroke: #d08000; stroke-width: 3; }
.node.fired rect { fill: #fff1e0; }
.node.selected rect { stroke: #c00; stroke-width: 3; }
.node text { font-size: 12px; }
.node .op { fill: #667; font-size: 11px; }
.node .val { fill: #064; }
.node .adj { fill: #a40; }
.node .tan { fill: #206; }
.node .pend { fill: #a40; font-size: 11px; }
.edge { fill: none; stroke: #99a; stroke-width: 1.2; }
.edge.flow { stroke: #d08000; stroke-width: 2.5; }
.elabel { font-size: 11px; fill: #a40; }
h3 { margin: 4px 0; }
)CSS";

constexpr const char* kScript = R"JS(
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const byId = {};
D.nodes.forEach(n => { byId[n.id] = n; n.consumers = []; });
D.nodes.forEach(n => n.inputs.forEach((e, i) => { if (e.id) byId[e.id].consumers.push(n.id); }));

// ---- numbers
function num(v) {
  if (typeof v === "string") return v;
  if (v === 0) return "0";
  const a = Math.abs(v);
  return (a >= 1e6 || a < 1e-4) ? v.toExponential(4) : String(Number(v.toPrecision(7)));
}
function show(t) {
  if (!t) return "";
  if (t.values) {
    if (t.shape.length === 0) return num(t.values[0]);
    const vs = t.values.slice(0, 4).map(num);
    if (t.values.length > 4) vs.push("\u2026");
    return "[" + vs.join(", ") + "]";
  }
  return "mean " + num(t.stats.mean) + ", norm " + num(t.stats.norm);
}
function full(t) {
  if (!t) return "(none)";
  const shape = "(" + t.shape.join(", ") + (t.shape.length === 1 ? "," : "") + ")";
  if (t.values && t.shape.length === 0) return num(t.values[0]);
  if (t.values) return shape + " " + JSON.stringify(t.values.map(num)).replace(/"/g, "");
  const s = t.stats;
  return shape + " min " + num(s.min) + ", mean " + num(s.mean) + ", max " + num(s.max) +
         ", norm " + num(s.norm);
}
// Full precision, for tests that read the page: "v0,v1,...", or "" for statistics only.
function exact(t) { return t && t.values ? t.values.join(",") : ""; }
function add(a, b) {  // partial sums of adjoints shown while they accumulate
  if (!a) return b;
  if (!a.values || !b.values || a.values.length !== b.values.length) return b;
  return {shape: a.shape, values: a.values.map((x, i) => (+x) + (+b.values[i]))};
}

// ---- layout: layers by longest path from the leaves, ordered by the barycenter of inputs
const layer = {};
D.forward.forEach(id => {
  const n = byId[id];
  layer[id] = 0;
  n.inputs.forEach(e => { if (e.id) layer[id] = Math.max(layer[id], layer[e.id] + 1); });
});
const layers = [];
D.forward.forEach(id => { (layers[layer[id]] = layers[layer[id]] || []).push(id); });
const W = {}, X = {}, Y = {}, H = 64, GAP = 28, ROW = 120;
D.nodes.forEach(n => { W[n.id] = Math.min(240, Math.max(160, 7.2 * Math.min(n.label.length, 30) + 20)); });
function place() {
  layers.forEach((ids, k) => {
    let x = 20;
    ids.forEach(id => { X[id] = x + W[id] / 2; x += W[id] + GAP; Y[id] = 20 + k * ROW; });
  });
}
place();
for (let sweep = 0; sweep < 4; ++sweep) {
  layers.forEach((ids, k) => {
    if (k === 0) return;
    const bc = id => {
      const ins = byId[id].inputs.filter(e => e.id);
      return ins.length ? ins.reduce((s, e) => s + X[e.id], 0) / ins.length : X[id];
    };
    ids.sort((a, b) => bc(a) - bc(b));
  });
  place();
}
const width = Math.max(...layers.map(ids => ids.reduce((s, id) => s + W[id] + GAP, 40)));
const height = 40 + layers.length * ROW;

// ---- drawing
const NS = "http://www.w3.org/2000/svg";
function el(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
const svg = el("svg", {width, height, id: "graph"}, document.getElementById("canvas"));
const defs = el("defs", {}, svg);
const marker = el("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
                             markerWidth: 8, markerHeight: 8, markerUnits: "userSpaceOnUse",
                             orient: "auto"}, defs);
el("path", {d: "M0,0 L10,5 L0,10 z", fill: "#99a"}, marker);
const edgeEls = {};
D.nodes.forEach(n => n.inputs.forEach((e, i) => {
  if (!e.id) return;
  const x1 = X[e.id], y1 = Y[e.id] + H, x2 = X[n.id], y2 = Y[n.id];
  const p = el("path", {class: "edge", d: `M${x1},${y1} C${x1},${y1 + 40} ${x2},${y2 - 40} ${x2},${y2}`,
                        "marker-end": "url(#arrow)"}, svg);
  const t = el("text", {class: "elabel", x: (x1 + x2) / 2 + 4, y: (y1 + y2) / 2}, svg);
  edgeEls[n.id + ">" + i] = {path: p, label: t, from: e.id};
}));
const nodeEls = {};
D.nodes.forEach(n => {
  const g = el("g", {class: "node " + n.kind + (n.output ? " output" : ""), "data-id": n.id,
                     transform: `translate(${X[n.id] - W[n.id] / 2},${Y[n.id]})`}, svg);
  el("rect", {width: W[n.id], height: H}, g);
  const label = n.label.length > 30 ? n.label.slice(0, 29) + "\u2026" : n.label;
  el("text", {x: 8, y: 15}, g).textContent = label;
  el("text", {x: 8, y: 29, class: "op"}, g).textContent = n.kind === "group" ? "collapsed" :
      (n.kind === "leaf" ? "leaf " : "#" + n.seq + " " + n.op) + "  (" + n.shape.join(", ") + ")";
  const info = el("text", {x: 8, y: 44, class: "val"}, g);
  const extra = el("text", {x: 8, y: 58, class: "pend"}, g);
  g.addEventListener("click", () => select(n.id));
  nodeEls[n.id] = {g, info, extra};
});

// ---- state and controls
const S = {mode: "forward", fstep: 0, run: 0, bstep: 0, tan: 0, selected: null};
const $ = id => document.getElementById(id);
function fillSelect(sel, items) {
  items.forEach((t, i) => { const o = document.createElement("option"); o.value = i; o.textContent = t; sel.appendChild(o); });
}
fillSelect($("run"), D.backward.map(r => r.label));
fillSelect($("dir"), D.tangents.map(t => t.direction));
if (!D.tangents.length) { $("dir").disabled = true; $("tangent").disabled = true; }
if (!D.backward.length) { $("bstep").disabled = true; $("ball").disabled = true; }

// Each run's contributions by edge ("consumer>input index"), found once.
D.backward.forEach(run => { run.byEdge = {}; run.edges.forEach(e => { run.byEdge[e.from + ">" + e.input] = e; }); });

function backwardState() {
  const run = D.backward[S.run];
  const fired = new Set(run.order.slice(0, S.bstep));
  const onPath = new Set(run.order);
  const partial = {}, waiting = {};
  run.order.forEach(id => { waiting[id] = 0; });
  run.edges.forEach(e => {
    if (fired.has(e.from)) partial[e.to] = add(partial[e.to], e.value);
    else waiting[e.to] = (waiting[e.to] || 0) + 1;
  });
  return {run, fired, onPath, partial, waiting};
}

function render() {
  const st = S.mode === "backward" && D.backward.length ? backwardState() : null;
  const revealed = new Set(D.forward.slice(0, S.fstep));
  D.nodes.forEach(n => {
    const E = nodeEls[n.id];
    const cls = ["node", n.kind]; if (n.output) cls.push("output");
    if (S.selected === n.id) cls.push("selected");
    let info = "", extra = "", kind = "val", attrs = {};
    if (S.mode === "forward") {
      if (revealed.has(n.id)) { cls.push("done"); info = "= " + show(n.value); attrs["data-value"] = exact(n.value); }
    } else if (st) {
      const adj = st.run.adjoint[n.id];
      kind = "adj";
      if (st.fired.has(n.id)) {
        cls.push("fired"); info = "adjoint " + show(adj); attrs["data-adjoint"] = exact(adj);
        if (n.saved.length) extra = "released " + n.saved.length + " saved tensor" + (n.saved.length > 1 ? "s" : "");
      } else if (st.onPath.has(n.id)) {
        const w = st.waiting[n.id] || 0;
        if (st.partial[n.id]) info = "so far " + show(st.partial[n.id]);
        if (w === 0 && n.id === st.run.order[S.bstep]) cls.push("ready");
        extra = w ? "waiting for " + w + " consumer" + (w > 1 ? "s" : "") : "ready";
        attrs["data-pending"] = String(w);
      } else {
        info = "not on a path to " + st.run.label;
      }
    } else if (S.mode === "tangent") {
      const t = D.tangents[S.tan].values[n.id];
      kind = "tan";
      if (t) { info = "tangent " + show(t); attrs["data-tangent"] = exact(t); }
    }
    E.g.setAttribute("class", cls.join(" "));
    ["data-value", "data-adjoint", "data-tangent", "data-pending"].forEach(a => E.g.removeAttribute(a));
    for (const a in attrs) E.g.setAttribute(a, attrs[a]);
    if (!extra && n.checks.length && S.mode === "forward")
      extra = "check: rel. error \u2264 " + num(Math.max(...n.checks.map(c => +c.rel)));
    E.info.textContent = info;
    E.info.setAttribute("class", kind);
    E.extra.textContent = extra;
  });
  for (const key in edgeEls) {
    const E = edgeEls[key], [to, i] = key.split(">");
    let flow = false, label = "";
    if (st && st.fired.has(to)) {
      const c = st.run.byEdge[key];
      if (c) { flow = true; label = (c.sum_to ? "sum_to: " : "") + show(c.value); }
    }
    E.path.setAttribute("class", "edge" + (flow ? " flow" : ""));
    E.label.textContent = label;
  }
  let status = "";
  if (S.mode === "forward") status = `forward: ${S.fstep} of ${D.forward.length} nodes computed (tape order)`;
  else if (st) status = `backward from ${st.run.label}: ${S.bstep} of ${st.run.order.length} nodes done (Kahn order)` +
      (st.run.error ? " \u2014 " + st.run.error : "");
  else if (S.mode === "tangent") status = "forward mode, direction " + D.tangents[S.tan].direction;
  $("status").textContent = status;
  if (S.selected) details(S.selected);
}

function details(id) {
  const n = byId[id];
  const lines = [];
  lines.push(n.kind === "leaf" ? "leaf " + n.label : "#" + n.seq + " " + n.op + "  " + n.label);
  lines.push("shape (" + n.shape.join(", ") + ") " + n.dtype + (n.output ? "  [output]" : ""));
  lines.push("inputs: " + (n.inputs.length ? n.inputs.map(e => e.id ? byId[e.id].label : "const").join(", ") : "none"));
  lines.push("consumers: " + (n.consumers.length ? n.consumers.map(c => byId[c].label).join(", ") : "none"));
  lines.push("value: " + full(n.value));
  if (D.backward.length) {
    const run = D.backward[S.run];
    lines.push("adjoint d" + run.label + "/d(this): " + full(run.adjoint[n.id]));
  }
  if (D.tangents.length) lines.push("tangent (" + D.tangents[S.tan].direction + "): " + full(D.tangents[S.tan].values[n.id]));
  lines.push("local rule: " + n.rule);
  if (n.saved.length)
    lines.push("saved for backward: " + n.saved.map(s => s.role + " (" + s.shape.join(", ") + ") " +
               s.dtype).join(", ") + "\n  (released once this node's backward has run, unless " +
               "retain_graph)");
  if (n.checks.length) {
    lines.push("numerical check (central differences of sum(" + (D.backward[0] || {}).label + ")):");
    n.checks.forEach(c => lines.push("  [" + c.index + "] analytic " + num(c.analytic) +
                                     ", numerical " + num(c.numerical) + ", abs. error " +
                                     num(c.abs) + ", rel. error " + num(c.rel)));
    if (n.dtype === "float32")
      lines.push("  (float32: the loss's rounding divided by the step limits the numerical\n" +
                 "   derivative to about 1e-2 relative; float64 checks reach 1e-8)");
  }
  $("side").textContent = lines.join("\n");
}
function select(id) { S.selected = id; render(); }

$("fstep").onclick = () => { S.mode = "forward"; S.fstep = Math.min(D.forward.length, S.fstep + 1); render(); };
$("fall").onclick = () => { S.mode = "forward"; S.fstep = D.forward.length; render(); };
$("bstep").onclick = () => {
  if (S.mode !== "backward") { S.mode = "backward"; S.bstep = 0; }
  S.bstep = Math.min(D.backward[S.run].order.length, S.bstep + 1); render();
};
$("ball").onclick = () => { S.mode = "backward"; S.bstep = D.backward[S.run].order.length; render(); };
$("run").onchange = e => { S.run = +e.target.value; S.bstep = 0; S.mode = "backward"; render(); };
$("tangent").onclick = () => { S.mode = "tangent"; render(); };
$("dir").onchange = e => { S.tan = +e.target.value; S.mode = "tangent"; render(); };
$("reset").onclick = () => { S.mode = "forward"; S.fstep = 0; S.bstep = 0; render(); };
document.title = D.title || "dagrad graph";
$("title").textContent = D.title;
render();
)JS";

}  // namespace

std::string to_html(const std::vector<Tensor>& outputs, const HtmlOptions& options) {
  std::string data = PageData(outputs, options).json();
  // Inside <script>, "</" could end the element early.
  for (std::size_t at = 0; (at = data.find("</", at)) != std::string::npos; at += 3)
    data.replace(at, 2, "<\\/");
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
      "<title>dagrad graph</title>\n<style>{}</style></head>\n<body>\n"
      "<div id=\"bar\"><b id=\"title\"></b>\n"
      "<button id=\"fstep\">forward step</button><button id=\"fall\">forward all</button>\n"
      "<select id=\"run\" title=\"output to differentiate\"></select>"
      "<button id=\"bstep\">backward step</button><button id=\"ball\">backward all</button>\n"
      "<select id=\"dir\" title=\"input direction\"></select>"
      "<button id=\"tangent\">forward mode</button>\n"
      "<button id=\"reset\">reset</button><span id=\"status\"></span></div>\n"
      "<div id=\"main\"><div id=\"canvas\"></div><div id=\"side\">Click a node for its "
      "details.</div></div>\n"
      "<script id=\"data\" type=\"application/json\">{}</script>\n<script>{}</script>\n"
      "</body></html>\n",
      kStyle, data, kScript);
}

void save_html(const std::vector<Tensor>& outputs, const std::string& path,
                const HtmlOptions& options) {
  base::write_file_atomically(to_html(outputs, options), path, "html page " + path);
}

}  // namespace dagrad::viz
