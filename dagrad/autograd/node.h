// Node: one recorded operation. `record` is how every op attaches its backward rule (and its
// forward-mode rule) to its output; ops are written once, forward and backward together.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "dagrad/autograd/tensor.h"
#include "dagrad/base/block_pool.h"
#include "dagrad/base/small_vector.h"

namespace dagrad {

// One gradient per input; undefined = no gradient. Inline up to 3: no allocation per node.
using GradList = SmallVector<Tensor, 3>;
using TangentList = std::vector<Tensor>;  // one tangent per input (zeros when none was given)

struct Edge {
  std::shared_ptr<Node> node;  // null when that input does not require grad
};
using EdgeList = SmallVector<Edge, 3>;  // inline for the usual 1-3 inputs (concat has more)

// A node's non-owning link to its output tensor, for names and graph pictures. The output
// owns the node (grad_fn), so the node is alive whenever the output is; the output clears
// the link when it dies (~TensorImpl). Cheaper than a weak_ptr, which costs atomic counts
// on every op and keeps the tensor's memory block alive as long as the node.
class OutputLink {
 public:
  OutputLink& operator=(const std::shared_ptr<TensorImpl>& p) {
    impl_ = p.get();
    return *this;
  }
  OutputLink& operator=(TensorImpl* p) {
    impl_ = p;
    return *this;
  }
  TensorImpl* get() const { return impl_; }

 private:
  TensorImpl* impl_ = nullptr;
};

// Not enable_shared_from_this: its weak self-reference costs atomic counts on every node.
// The engine knows an owning handle of each node it runs (Node::owner).
// A hook on what ops save for their backward, in the spirit of PyTorch's saved-tensor hooks:
// null by default (one thread-local pointer read per op and per saved tensor), installed by
// tools that watch the graph (viz::NoteSavedTensors). On the thread that installed it:
//   on_save(t):   an op is making a SavedTensor of t (before the op's record());
//   on_record():  record() is attaching the op whose output is `out`; every on_save since the
//                 previous on_record belongs to it. The note it returns stays with the op's
//                 node (Node::note) and dies with it; no node (nothing requires grad): dropped.
class InputList;
struct NodeNote {
  virtual ~NodeNote() = default;
};
class SavedTensorHook {
 public:
  virtual ~SavedTensorHook() = default;
  virtual void on_save(const Tensor& t) = 0;
  virtual std::unique_ptr<NodeNote> on_record(const Tensor& out, InputList inputs,
                                              bool keeps_output) = 0;
};
namespace detail {
inline thread_local SavedTensorHook* t_saved_tensor_hook = nullptr;
}  // namespace detail
inline SavedTensorHook* saved_tensor_hook() { return detail::t_saved_tensor_hook; }
// Installs `hook` on this thread (null: none) and returns the one it replaces.
inline SavedTensorHook* set_saved_tensor_hook(SavedTensorHook* hook) {
  return std::exchange(detail::t_saved_tensor_hook, hook);
}

struct Node {
  explicit Node(const char* op_name);
  virtual ~Node();  // iterative: a 100,000-node chain is freed without deep recursion
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Gradients with respect to the inputs, given the gradient of the output.
  virtual GradList apply(const Tensor& grad_output) = 0;
  // Drops saved values (after a backward without retain_graph).
  virtual void release() {}
  virtual bool is_accumulator() const { return false; }
  // The leaf a gradient accumulator feeds (null for op nodes).
  virtual TensorImpl* leaf() const { return nullptr; }

  const char* name;
  uint64_t seq;   // creation order: the position on the tape
  EdgeList next;  // one per input
  Shape out_shape;
  Dtype out_dtype = Dtype::float32;
  bool released = false;
  bool once_differentiable = false;  // its backward runs raw kernels: no double backward
  OutputLink output;                 // for names and graph pictures
  // What a SavedTensorHook noted about this op (null without a hook: nodes stay small).
  std::unique_ptr<NodeNote> note;
  std::weak_ptr<TensorImpl> retained;  // set by retain_grad(): where backward keeps the grad

  // Scratch state of the engine during one backward.
  int pending = 0;
  bool queued = false;
  Tensor grad_buffer;
  const std::shared_ptr<Node>* owner = nullptr;  // the edge (or root) it was discovered by
};

// The sink of a leaf's gradient: sums every incoming gradient into leaf.grad.
struct AccumulateGrad final : Node {
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf);
  GradList apply(const Tensor& grad_output) override;
  bool is_accumulator() const override { return true; }
  TensorImpl* leaf() const override { return leaf_.get(); }
  std::shared_ptr<TensorImpl> leaf_;
};

// A tensor saved for backward, with the version it had when saved: using it after an
// in-place change is an error naming the op.
class SavedTensor {
 public:
  SavedTensor() = default;
  SavedTensor(const Tensor& t, const char* op)
      : t_(t), version_(t.defined() ? t.version() : 0), op_(op) {
    if (SavedTensorHook* hook = saved_tensor_hook()) [[unlikely]]
      hook->on_save(t);
  }
  const Tensor& get() const;
  bool defined() const { return t_.defined(); }

 private:
  Tensor t_;
  uint64_t version_ = 0;
  const char* op_ = "";
};

// One input of record(): a reference, not a copy (each Tensor copy costs two atomic
// reference-count updates). A temporary input lives until the op's full expression ends.
class InputRef {
 public:
  InputRef(const Tensor& t) : t_(&t) {}
  operator const Tensor&() const { return *t_; }

 private:
  const Tensor* t_;
};

// The inputs of record(): a view of InputRefs, from a brace list `{a, b}` (the usual case) or
// from an array (the overload of record() for a run-time number of inputs builds one).
class InputList {
 public:
  // The brace list's array lives until the end of the full expression that calls record(),
  // which is as long as this view is used; g++ warns about the pattern in general.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
  InputList(std::initializer_list<InputRef> refs) : p_(refs.begin()), n_(refs.size()) {}
#pragma GCC diagnostic pop
  InputList(const InputRef* p, std::size_t n) : p_(p), n_(n) {}
  std::size_t size() const { return n_; }
  const InputRef* begin() const { return p_; }
  const InputRef* end() const { return p_ + n_; }

 private:
  const InputRef* p_;
  std::size_t n_;
};

// The edge a tensor's gradient flows into: its producer, or its leaf accumulator.
std::shared_ptr<Node> gradient_edge(const Tensor& t);
uint64_t next_sequence_number();
bool grad_mode_enabled();
bool any_requires_grad(InputList inputs);

// Whether a backward rule must compute in recorded ops rather than take a raw-kernel fast
// path: under create_graph (its results need history), or when one of `ts` carries a
// forward-mode tangent (forward over reverse: the tangent of the gradient must flow).
inline bool backward_in_ops(std::initializer_list<std::reference_wrapper<const Tensor>> ts) {
  if (grad_mode_enabled()) return true;
  for (const Tensor& t : ts)
    if (t.defined() && t.impl().tangent) return true;
  return false;
}

namespace detail {

template <typename Backward>
struct LambdaNode final : Node {
  LambdaNode(const char* n, Backward&& b) : Node(n), backward(std::move(b)) {}
  GradList apply(const Tensor& g) override;
  void release() override {
    backward.reset();
    saved_output = SavedTensor();
  }
  std::optional<Backward> backward;
  SavedTensor saved_output;  // detached output, when the op asked to keep it
};

// True while a forward-mode rule runs: tangents are first order, so the ops inside a jvp rule
// compute values only (otherwise a rule reading a dual input would recurse forever).
bool tangents_suspended();

[[noreturn]] void throw_released(const Node& n);
[[noreturn]] void throw_no_forward_rule(const char* op);
Tensor reattach_output(const Tensor& detached_output, Node& node);
Tensor compute_tangent_for(const char* op, InputList inputs, const Tensor& out, const void* jvp_ctx,
                           Tensor (*call)(const void*, const TangentList&, const Tensor&));
void attach_node(Tensor& out, std::shared_ptr<Node>&& node, InputList inputs);

template <typename Backward>
GradList LambdaNode<Backward>::apply(const Tensor& g) {
  if (!backward) throw_released(*this);
  Tensor out;
  if (saved_output.defined()) out = reattach_output(saved_output.get(), *this);
  return (*backward)(g, out);
}

struct NoJvp {};

}  // namespace detail

inline constexpr detail::NoJvp no_jvp{};
enum class KeepOutput : bool { no = false, yes = true };

// Attaches `backward` (and the forward-mode rule `jvp`) to `out`, computed from `inputs`.
//   backward: (const Tensor& grad_out, const Tensor& out) -> GradList, one entry per input.
//             `out` is defined only with KeepOutput::yes (then it is the op's output, linked
//             to this node under create_graph so second derivatives flow through it).
//   jvp:      (const TangentList& tangents, const Tensor& out) -> Tensor, the output tangent.
// Backward rules are written with Tensor ops so that create_graph can record them.
template <typename Backward, typename Jvp>
Tensor record(const char* op, Tensor out, InputList inputs, Backward&& backward, Jvp&& jvp,
              KeepOutput keep = KeepOutput::no) {
  out.impl().op = op;
  std::unique_ptr<NodeNote> note;
  if (SavedTensorHook* hook = saved_tensor_hook()) [[unlikely]]
    note = hook->on_record(out, inputs, keep == KeepOutput::yes);
  if (!is_floating(out.dtype()))
    return out;  // an integer result (argmax, .to(int64)): no derivative
  bool has_tangent = false;
  for (const Tensor& t : inputs) has_tangent |= t.impl().tangent != nullptr;
  if (has_tangent && !detail::tangents_suspended()) {
    if constexpr (std::is_same_v<std::decay_t<Jvp>, detail::NoJvp>) {
      detail::throw_no_forward_rule(op);
    } else {
      using J = std::decay_t<Jvp>;
      out.impl().tangent =
          detail::compute_tangent_for(op, inputs, out, &jvp,
                                      [](const void* ctx, const TangentList& t, const Tensor& o) {
                                        return (*static_cast<const J*>(ctx))(t, o);
                                      })
              .impl_ptr();
    }
  }
  if (!grad_mode_enabled() || !any_requires_grad(inputs)) return out;
  using N = detail::LambdaNode<std::decay_t<Backward>>;
  auto node =
      std::allocate_shared<N>(block_pool::Allocator<N>{}, op, std::forward<Backward>(backward));
  if (keep == KeepOutput::yes) {
    // Detached (no cycle through the node), but with its tangent: forward over reverse reads
    // the tangent of a kept output in the backward rule.
    Tensor saved = out.detach();
    saved.impl().tangent = out.impl().tangent;
    node->saved_output = SavedTensor(saved, op);
  }
  node->note = std::move(note);
  detail::attach_node(out, std::move(node), inputs);
  return out;
}

// record() for a run-time number of inputs (e.g. concat of a vector of tensors).
template <typename Backward, typename Jvp>
Tensor record(const char* op, Tensor out, std::span<const Tensor> inputs, Backward&& backward,
              Jvp&& jvp, KeepOutput keep = KeepOutput::no) {
  std::vector<InputRef> refs(inputs.begin(), inputs.end());
  return record(op, std::move(out), InputList(refs.data(), refs.size()),
                std::forward<Backward>(backward), std::forward<Jvp>(jvp), keep);
}

}  // namespace dagrad
