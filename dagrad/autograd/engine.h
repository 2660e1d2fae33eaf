// The backward engine: Kahn's algorithm over the nodes reachable from the outputs.
#pragma once
#include <string>
#include <vector>

#include "dagrad/autograd/node.h"
#include "dagrad/autograd/tensor.h"

namespace dagrad {

// Recording switch, like PyTorch's `with torch.no_grad():` — scoped and thread-local.
class no_grad {
 public:
  no_grad();
  ~no_grad();
  no_grad(const no_grad&) = delete;
  no_grad& operator=(const no_grad&) = delete;

 private:
  bool prev_;
};

class enable_grad {
 public:
  enable_grad();
  ~enable_grad();
  enable_grad(const enable_grad&) = delete;
  enable_grad& operator=(const enable_grad&) = delete;

 private:
  bool prev_;
};

// Anomaly mode: after every backward rule, check its gradients for NaN/Inf and throw naming
// the forward op (and its node number) whose backward produced the first one.
class detect_anomaly {
 public:
  detect_anomaly();
  ~detect_anomaly();
  detect_anomaly(const detect_anomaly&) = delete;
  detect_anomaly& operator=(const detect_anomaly&) = delete;

 private:
  bool prev_;
};
bool anomaly_mode_enabled();
void set_anomaly_mode(bool on);

// Watches a backward run step by step as the engine takes it, e.g. to draw it (the graph page
// does). Set through BackwardOptions::observer; null by default, when the engine only tests the
// pointer. Not reported: nodes no gradient reaches, and under grad() the nodes that lead to
// none of its inputs (which it does not run).
class BackwardObserver {
 public:
  virtual ~BackwardObserver() = default;
  // n's turn: g is the sum of every gradient that reached it (for the outputs, the seed).
  virtual void on_gradient(const Node& n, const Tensor& g) = 0;
  // n's rule returned `grads`, one per input of n (undefined: nothing for that input).
  virtual void on_rule(const Node& n, const GradList& grads) = 0;
};

// Runs backward from `outputs` (each with its upstream gradient; undefined = ones for a
// scalar) and accumulates into the .grad of every leaf that requires grad. Outputs may
// depend on each other. Without retain_graph every node it ran is freed, and running a freed
// node again is an error naming the op and retain_graph (stricter than PyTorch, which only
// fails for nodes that saved tensors).
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              BackwardOptions opts = {});

// Functional form (torch.autograd.grad): returns d(outputs)/d(inputs) contracted with
// grad_outputs, without touching any .grad (nor the .grad of retain_grad tensors). Inputs
// may be leaves or intermediates, and may repeat. Only the nodes that lead to an input run
// (and are freed without retain_graph). An input the outputs do not depend on gets zeros
// unless allow_unused is false (then it is an error).
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, BackwardOptions opts = {},
                         bool allow_unused = true);

// The order in which backward would run the nodes reachable from `output` (Kahn's
// algorithm, ties broken by the later sequence number).
std::vector<Node*> backward_order(const Tensor& output);

// Marks the op that produced `out` as differentiable only once: its backward runs raw
// kernels, so a create_graph backward through it yields gradients whose own backward is
// a clear error.
void mark_once_differentiable(const Tensor& out);

}  // namespace dagrad
