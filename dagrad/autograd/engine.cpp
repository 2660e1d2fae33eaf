#include "dagrad/autograd/engine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <queue>
#include <stdexcept>

#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/rules.h"

namespace dagrad {

// The backward rules of the ops recorded here, one line of math each (rules.h).
const BackwardRules engine_rules{
    {"backward_of_once_differentiable",
     "none: the op's backward ran raw kernels, so a second backward is an error"},
};

namespace {
thread_local bool t_grad_enabled = true;
thread_local bool t_anomaly = false;
thread_local uint64_t t_sequence = 0;
thread_local bool t_tangents_suspended = false;
}  // namespace

bool grad_mode_enabled() { return t_grad_enabled; }
uint64_t next_sequence_number() { return ++t_sequence; }

no_grad::no_grad() : prev_(t_grad_enabled) { t_grad_enabled = false; }
no_grad::~no_grad() { t_grad_enabled = prev_; }
enable_grad::enable_grad() : prev_(t_grad_enabled) { t_grad_enabled = true; }
enable_grad::~enable_grad() { t_grad_enabled = prev_; }
detect_anomaly::detect_anomaly() : prev_(t_anomaly) { t_anomaly = true; }
detect_anomaly::~detect_anomaly() { t_anomaly = prev_; }
bool anomaly_mode_enabled() { return t_anomaly; }
void set_anomaly_mode(bool on) { t_anomaly = on; }

bool any_requires_grad(InputList inputs) {
  for (const Tensor& t : inputs)
    if (t.impl().requires_grad) return true;
  return false;
}

// ---------------------------------------------------------------- nodes

Node::Node(const char* op_name) : name(op_name), seq(next_sequence_number()) {}

Node::~Node() {
  // Free the chain behind this node with an explicit stack: a node whose last owner is this
  // chain gives its edges to the stack before it dies, so no destructor recurses deeply.
  std::vector<std::shared_ptr<Node>> stack;
  auto take_edges = [&stack](EdgeList& edges) {
    for (Edge& e : edges)
      if (e.node && e.node.use_count() == 1) stack.push_back(std::move(e.node));
    edges.clear();
  };
  take_edges(next);
  while (!stack.empty()) {
    std::shared_ptr<Node> n = std::move(stack.back());
    stack.pop_back();
    // Saved tensors may own further nodes; free them while edges still hold them.
    if (!n->released) n->release();
    take_edges(n->next);
  }
}

AccumulateGrad::AccumulateGrad(std::shared_ptr<TensorImpl> leaf)
    : Node("accumulate_grad"), leaf_(std::move(leaf)) {
  out_shape = leaf_->shape;
  out_dtype = leaf_->dtype;
}

GradList AccumulateGrad::apply(const Tensor& g) {
  Tensor leaf(leaf_);
  Tensor old = leaf.grad();
  if (!old.defined()) {
    // Keep the incoming buffer when nobody else can see it; otherwise copy so that later
    // in-place accumulation never writes into someone else's tensor.
    // The engine's local handle is then the only one: a count of 2 would mean that another
    // consumer (e.g. a second leaf fed the same tensor by add's backward) holds it too.
    const bool sole_owner =
        g.impl_ptr().use_count() == 1 && g.impl().storage.use_count() == 1 && !g.requires_grad();
    // Under create_graph a gradient with history is kept as it is (its graph is the point),
    // and so is one with a tangent (forward over reverse).
    if (sole_owner || (grad_mode_enabled() && g.requires_grad()) || g.impl().tangent) {
      leaf_->grad = g.impl_ptr();
    } else {
      no_grad guard;
      leaf_->grad = g.detach().clone().impl_ptr();
    }
  } else if (grad_mode_enabled() || old.requires_grad() || old.impl().tangent || g.impl().tangent) {
    leaf_->grad = (old + g).impl_ptr();  // create_graph: the sum is part of the new graph
  } else {
    no_grad guard;
    old.add_(g);
  }
  return {};
}

const Tensor& SavedTensor::get() const {
  if (t_.defined() && t_.version() != version_)
    throw std::runtime_error(fmt::format(
        "backward of '{}': a tensor it saved (shape {}) was modified in place after it was "
        "saved (version {} now, {} when saved); use clone() before changing it",
        op_, to_string(t_.shape()), t_.version(), version_));
  return t_;
}

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  TensorImpl& im = t.impl();
  if (im.grad_fn) return im.grad_fn;
  if (!im.requires_grad) return nullptr;
  std::shared_ptr<Node> acc = im.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    im.grad_accumulator = acc;
  }
  return acc;
}

namespace detail {

void throw_released(const Node& n) {
  throw std::runtime_error(fmt::format(
      "backward through '{}' (node #{}): the graph was already freed by an earlier backward. "
      "Trying to backward through the graph a second time? Pass retain_graph = true to the "
      "first backward",
      n.name, n.seq));
}

void throw_no_forward_rule(const char* op) {
  throw std::runtime_error(
      fmt::format("{}: forward-mode AD (tangents) is not implemented for this op", op));
}

Tensor reattach_output(const Tensor& detached_output, Node& node) {
  if (!grad_mode_enabled()) return detached_output;
  // Under create_graph the saved output must stay connected to this node, so that a second
  // derivative flows through it as well.
  if (!node.owner)
    throw std::logic_error(
        fmt::format("{}: a node's rule ran outside the backward engine", node.name));
  auto p =
      std::allocate_shared<TensorImpl>(block_pool::Allocator<TensorImpl>{}, detached_output.impl());
  p->grad_fn = *node.owner;
  p->requires_grad = true;
  p->grad.reset();  // the tangent stays: forward over reverse needs it
  return Tensor(std::move(p));
}

bool tangents_suspended() { return t_tangents_suspended; }

Tensor compute_tangent_for(const char* op, InputList inputs, const Tensor& out, const void* ctx,
                           Tensor (*call)(const void*, const TangentList&, const Tensor&)) {
  TangentList tangents;
  tangents.reserve(inputs.size());
  for (const Tensor& t : inputs)
    tangents.push_back(t.impl().tangent ? Tensor(t.impl().tangent) : zeros_like(t));
  Tensor result;
  {
    // The rule reads the dual inputs themselves: their tangents must not propagate again.
    struct Suspend {
      bool prev = t_tangents_suspended;
      Suspend() { t_tangents_suspended = true; }
      ~Suspend() { t_tangents_suspended = prev; }
    } suspend;
    no_grad guard;
    result = call(ctx, tangents, out.detach());
  }
  if (result.shape() != out.shape() || result.dtype() != out.dtype())
    throw std::logic_error(
        fmt::format("{}: forward-mode rule gave a tangent of shape {} for an "
                    "output of shape {}",
                    op, to_string(result.shape()), to_string(out.shape())));
  return result.detach();
}

void attach_node(Tensor& out, std::shared_ptr<Node>&& node, InputList inputs) {
  TensorImpl& o = out.impl();
  node->next.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    // An op must return a new tensor: re-recording an input would rewrite its history.
    if (&t.impl() == &o)
      throw std::logic_error(
          fmt::format("{}: record() was given an input as the output", node->name));
    node->next.push_back(Edge{t.impl().requires_grad ? gradient_edge(t) : nullptr});
  }
  node->out_shape = o.shape;
  node->out_dtype = o.dtype;
  node->output = &o;
  // A tensor is one node's output at a time (see OutputLink).
  if (o.grad_fn && o.grad_fn->output.get() == &o) o.grad_fn->output = nullptr;
  o.grad_fn = std::move(node);
  o.requires_grad = true;
}

}  // namespace detail

// ---------------------------------------------------------------- once-differentiable ops

namespace {
// Stands in for the backward of an op whose backward is not itself differentiable.
struct NotTwiceDifferentiable final : Node {
  explicit NotTwiceDifferentiable(const char* op)
      : Node("backward_of_once_differentiable"), op_(op) {}
  GradList apply(const Tensor&) override {
    throw std::runtime_error(fmt::format(
        "double backward through '{}' is not supported: its backward runs raw kernels and is "
        "differentiable only once (create_graph cannot see through it)",
        op_));
  }
  const char* op_;
};
}  // namespace

void mark_once_differentiable(const Tensor& out) {
  if (out.defined() && out.grad_fn()) out.grad_fn()->once_differentiable = true;
}

// ---------------------------------------------------------------- the engine

namespace {

[[noreturn]] void throw_no_grad(const Tensor& t) {
  std::string why =
      !is_floating(t.dtype())
          ? fmt::format("it is {}, and integer tensors have no gradient", dtype_name(t.dtype()))
      : t.impl().op ? fmt::format(
                          "it was produced by '{}', none of whose inputs required grad (or it ran "
                          "under no_grad)",
                          t.impl().op)
                    : std::string("it is a leaf created without requires_grad");
  throw std::invalid_argument(
      fmt::format("backward: the tensor of shape {} does not require grad and has no grad_fn: {}",
                  to_string(t.shape()), why));
}

struct ByLaterSeq {
  bool operator()(const Node* a, const Node* b) const { return a->seq < b->seq; }
};

// Discovers every node reachable from `roots` and counts, for each, how many reachable
// consumers will send it a gradient. Returns the discovered nodes.
// Also points each node's `owner` at a handle that keeps it alive during the backward (the
// edges are not touched until the nodes die).
std::vector<Node*> discover(const std::vector<std::shared_ptr<Node>>& roots) {
  std::vector<Node*> found;
  std::vector<Node*> stack;
  for (const auto& root : roots) {
    Node* r = root.get();
    if (!r->queued) {
      r->queued = true;
      r->owner = &root;
      found.push_back(r);
      stack.push_back(r);
    }
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (Edge& e : n->next) {
      Node* m = e.node.get();
      if (!m) continue;
      ++m->pending;
      if (!m->queued) {
        m->queued = true;
        m->owner = &e.node;
        found.push_back(m);
        stack.push_back(m);
      }
    }
  }
  return found;
}

// Kahn's algorithm: repeatedly take the ready node (no consumer still pending) with the
// latest sequence number. Consumes the pending counts set by discover().
std::vector<Node*> kahn_order(const std::vector<Node*>& found) {
  std::priority_queue<Node*, std::vector<Node*>, ByLaterSeq> ready;
  std::vector<int> saved;
  for (Node* n : found)
    if (n->pending == 0) ready.push(n);
  std::vector<Node*> order;
  order.reserve(found.size());
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    order.push_back(n);
    for (Edge& e : n->next)
      if (e.node && --e.node->pending == 0) ready.push(e.node.get());
  }
  return order;
}

void reset_scratch(const std::vector<Node*>& found) {
  for (Node* n : found) {
    n->pending = 0;
    n->queued = false;
    n->owner = nullptr;
    n->grad_buffer = Tensor();
  }
}

bool has_non_finite(const Tensor& t) {
  bool bad = false;
  DAGRAD_DISPATCH(t.dtype(), {
    const T* p = t.data<T>();
    for (int64_t i = 0, n = t.numel(); i < n && !bad; ++i) bad = !std::isfinite(p[i]);
  });
  return bad;
}

// Sums a gradient into a node's input buffer. Without create_graph the sum is done in place
// when nobody else can see the buffer (the engine's handle is its only one), which saves
// an allocation per extra consumer of a tensor.
void accumulate(Tensor& buffer, Tensor g) {
  if (!buffer.defined()) {
    buffer = std::move(g);
  } else if (!grad_mode_enabled() && buffer.impl_ptr().use_count() == 1 &&
             buffer.impl().storage.use_count() == 1 && !buffer.requires_grad() &&
             buffer.shape() == g.shape() && buffer.dtype() == g.dtype() && !buffer.impl().tangent &&
             !g.impl().tangent) {  // add_ would drop tangents
    buffer.add_(g);
  } else {
    buffer = buffer + g;
  }
}

// The root nodes come back as owning handles: a leaf output's accumulator may exist only
// for the duration of this backward.
std::vector<std::shared_ptr<Node>> prepare_roots(const std::vector<Tensor>& outputs,
                                                 const std::vector<Tensor>& grad_outputs,
                                                 std::vector<Tensor>& root_grads, const char* who) {
  if (!grad_outputs.empty() && grad_outputs.size() != outputs.size())
    throw std::invalid_argument(fmt::format("{}: {} outputs but {} upstream gradients", who,
                                            outputs.size(), grad_outputs.size()));
  std::vector<std::shared_ptr<Node>> roots;
  roots.reserve(outputs.size());
  root_grads.reserve(outputs.size());
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    if (!out.requires_grad()) throw_no_grad(out);
    Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[i];
    if (!g.defined()) {
      if (out.numel() != 1)
        throw std::invalid_argument(fmt::format(
            "{}: the output has shape {}, and a gradient can be created implicitly only for a "
            "scalar output; pass the upstream gradient (dout) of that shape",
            who, to_string(out.shape())));
      g = ones_like(out);
    } else if (g.shape() != out.shape() || g.dtype() != out.dtype()) {
      throw std::invalid_argument(fmt::format(
          "{}: upstream gradient of shape {} ({}) does not match the output of shape {} ({})", who,
          to_string(g.shape()), dtype_name(g.dtype()), to_string(out.shape()),
          dtype_name(out.dtype())));
    }
    root_grads.push_back(g);
    roots.push_back(gradient_edge(out));
  }
  return roots;
}

// The steps of one backward run, in the order execute() takes them (PyTorch's engine has the
// same ones: compute dependencies, call the rule, validate its outputs, accumulate).

// grad() runs only the nodes that lead to a captured one (like PyTorch): the rest of the graph
// is neither executed nor freed. `order` lists consumers before their inputs, so one reverse
// sweep finds them. Returns needed[position in order].
std::vector<char> nodes_leading_to(const std::vector<Node*>& order,
                                   const std::vector<Node*>& capture) {
  auto captured = [&capture](const Node* n) {  // capture lists are short: a linear scan
    return std::find(capture.begin(), capture.end(), n) != capture.end();
  };
  // kahn_order left every pending count at 0: borrow it as the node's position in `order`.
  for (std::size_t i = 0; i < order.size(); ++i) order[i]->pending = static_cast<int>(i);
  std::vector<char> needed(order.size(), 0);
  for (std::size_t i = order.size(); i-- > 0;)
    for (const Edge& e : order[i]->next)
      if (e.node && (needed[e.node->pending] || captured(e.node.get()))) needed[i] = 1;
  return needed;
}

// Records the gradient arriving at n in every capture slot that names it (an input may be
// listed twice); false when none does.
bool capture_gradient(const Node* n, const Tensor& g, const std::vector<Node*>& capture,
                      std::vector<Tensor>& captured) {
  bool found = false;
  for (std::size_t k = 0; k < capture.size(); ++k)
    if (capture[k] == n) {
      captured[k] = captured[k].defined() ? captured[k] + g : g;
      found = true;
    }
  return found;
}

// Calls n's backward rule on g. A once-differentiable rule runs under no_grad; under
// create_graph its results get a stub node that refuses a second backward, naming the op.
GradList call_rule(Node& n, const Tensor& g, bool create_graph) {
  if (n.released) detail::throw_released(n);
  if (!n.once_differentiable) return n.apply(g);
  GradList grads;
  {
    no_grad guard;
    grads = n.apply(g);
  }
  if (!create_graph) return grads;
  for (Tensor& gi : grads) {
    if (!gi.defined()) continue;
    gi = gi.detach();
    auto stub = std::make_shared<NotTwiceDifferentiable>(n.name);
    stub->next = n.next;
    if (g.requires_grad()) stub->next.push_back(Edge{gradient_edge(g)});
    stub->out_shape = gi.shape();
    stub->out_dtype = gi.dtype();
    gi.impl().grad_fn = stub;
    gi.impl().requires_grad = true;
  }
  return grads;
}

// One gradient per input, each of its input's shape and dtype; in anomaly mode, finite.
void validate_outputs(const Node& n, const GradList& grads) {
  if (grads.size() != n.next.size())
    throw std::logic_error(fmt::format("backward of '{}' returned {} gradients for {} inputs",
                                       n.name, grads.size(), n.next.size()));
  for (std::size_t i = 0; i < grads.size(); ++i) {
    const Node* m = n.next[i].node.get();
    if (!m || !grads[i].defined()) continue;
    if (grads[i].shape() != m->out_shape || grads[i].dtype() != m->out_dtype)
      throw std::logic_error(fmt::format(
          "backward of '{}' (node #{}) returned a gradient of shape {} ({}) for input {} of "
          "shape {} ({})",
          n.name, n.seq, to_string(grads[i].shape()), dtype_name(grads[i].dtype()), i,
          to_string(m->out_shape), dtype_name(m->out_dtype)));
    if (anomaly_mode_enabled() && has_non_finite(grads[i]))
      throw std::runtime_error(fmt::format(
          "anomaly detected: the backward of '{}' (node #{}, output shape {}) produced NaN or "
          "Inf in the gradient of its input {} (shape {}); the forward op '{}' is where the bad "
          "values start",
          n.name, n.seq, to_string(n.out_shape), i, to_string(grads[i].shape()), n.name));
  }
}

// retain_grad: the output of n keeps the gradient that reached it in its .grad.
void retain_output_grad(const Node& n, const Tensor& g, bool create_graph) {
  auto out = n.retained.lock();
  if (!out || !out->retains_grad) return;
  Tensor o(out);
  Tensor keep_g = create_graph ? g : g.detach();
  o.impl().grad = (o.grad().defined() ? o.grad() + keep_g : keep_g.clone()).impl_ptr();
}

// Sends each input's gradient on to the node that produced that input.
void send_to_inputs(const Node& n, GradList& grads) {
  for (std::size_t i = 0; i < grads.size(); ++i)
    if (Node* m = n.next[i].node.get(); m && grads[i].defined())
      accumulate(m->grad_buffer, std::move(grads[i]));
}

// Runs the graph. With `capture` non-empty, records the gradient arriving at those nodes
// instead of accumulating into leaves (the functional grad()).
void execute(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
             BackwardOptions opts, const std::vector<Node*>& capture, std::vector<Tensor>* captured,
             const char* who) {
  std::vector<Tensor> root_grads;
  // Owning handles keep the roots alive while we run, whatever the caller does with its own.
  const std::vector<std::shared_ptr<Node>> roots =
      prepare_roots(outputs, grad_outputs, root_grads, who);
  const bool retain = opts.retain_graph || opts.create_graph;
  std::vector<Node*> found = discover(roots);
  struct Cleanup {
    const std::vector<Node*>& f;
    ~Cleanup() { reset_scratch(f); }
  } cleanup{found};
  const std::vector<Node*> order = kahn_order(found);
  for (std::size_t i = 0; i < roots.size(); ++i)
    accumulate(roots[i]->grad_buffer, std::move(root_grads[i]));
  const std::vector<char> needed =
      capture.empty() ? std::vector<char>{} : nodes_leading_to(order, capture);

  std::optional<no_grad> off;
  std::optional<enable_grad> on;
  if (opts.create_graph)
    on.emplace();
  else
    off.emplace();

  for (std::size_t step = 0; step < order.size(); ++step) {
    Node* n = order[step];
    Tensor g = std::move(n->grad_buffer);
    n->grad_buffer = Tensor();
    if (!g.defined()) continue;  // nothing flowed here (e.g. only undefined gradients)
    // grad() runs only the nodes on the way to an input.
    const bool is_input = !capture.empty() && capture_gradient(n, g, capture, *captured);
    const bool runs = capture.empty() || needed[step];
    if (opts.observer && (runs || is_input)) opts.observer->on_gradient(*n, g);
    if (!runs) continue;
    if (n->is_accumulator()) {
      n->apply(g);
      continue;
    }
    GradList grads = call_rule(*n, g, opts.create_graph);
    validate_outputs(*n, grads);
    if (opts.observer) opts.observer->on_rule(*n, grads);
    if (capture.empty()) retain_output_grad(*n, g, opts.create_graph);  // not grad()'s job
    send_to_inputs(*n, grads);
    if (!retain) {
      n->release();
      n->released = true;
    }
  }
}

}  // namespace

void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs,
              BackwardOptions opts) {
  execute(outputs, grad_outputs, opts, {}, nullptr, "backward");
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, BackwardOptions opts,
                         bool allow_unused) {
  std::vector<Node*> capture;
  std::vector<std::shared_ptr<Node>> keep;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!is_floating(inputs[i].dtype()))
      throw std::invalid_argument(
          fmt::format("grad: input {} (shape {}) is {}: integer tensors have no gradient", i,
                      to_string(inputs[i].shape()), dtype_name(inputs[i].dtype())));
    if (!inputs[i].requires_grad())
      throw std::invalid_argument(fmt::format("grad: input {} (shape {}) does not require grad", i,
                                              to_string(inputs[i].shape())));
    keep.push_back(gradient_edge(inputs[i]));
    capture.push_back(keep.back().get());
  }
  std::vector<Tensor> result(inputs.size());
  execute(outputs, grad_outputs, opts, capture, &result, "grad");
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (result[i].defined()) continue;
    if (!allow_unused)
      throw std::invalid_argument(fmt::format(
          "grad: input {} (shape {}) is not used by the outputs", i, to_string(inputs[i].shape())));
    result[i] = zeros_like(inputs[i]);
  }
  return result;
}

std::vector<Node*> backward_order(const Tensor& output) {
  if (!output.requires_grad()) throw_no_grad(output);
  const std::vector<std::shared_ptr<Node>> roots{gradient_edge(output)};
  std::vector<Node*> found = discover(roots);
  std::vector<Node*> order = kahn_order(found);
  reset_scratch(found);
  return order;
}

}  // namespace dagrad
