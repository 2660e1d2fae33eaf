// Graph tools for teaching: print the tape, print the order backward runs it in, and draw
// the DAG with Graphviz.
//
// The graph of an output is every node reachable from it: op nodes (one per recorded op,
// numbered #seq in creation order) and leaf nodes (the gradient sinks of leaves that require
// grad). Inputs that do not require grad are constants: they have no node.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dagrad/autograd/node.h"
#include "dagrad/autograd/tensor.h"

namespace dagrad::viz {

// Every node reachable from the output(s), one line each: first the leaves, then the ops in
// creation (sequence) order, which is the order the forward pass ran them:
//   leaf 'W'     (2, 3) float64
//   #12 mul 'h'  (2, 3) float64  <- #10 add, leaf 'W' (2, 3)
// An input without a node (it does not require grad) is `const`; an output's own line ends
// with `[output]`. A tensor without a graph gives a one-line note.
std::string tape_listing(const Tensor& output);
std::string tape_listing(const std::vector<Tensor>& outputs);

// The nodes in the order backward runs them (dagrad::backward_order: Kahn's algorithm, ties
// broken by the later sequence number), numbered from 1; the first is the output's node.
std::string backward_order_listing(const Tensor& output);

struct DotOptions {
  // Show values and gradients in the labels. Unset: show them when every tensor in the graph
  // has at most `max_elements` elements.
  std::optional<bool> show_values;
  int64_t max_elements = 16;
  int precision = 4;           // significant digits of printed values
  std::string title;           // drawn under the graph when not empty
  bool left_to_right = false;  // rankdir=LR instead of top to bottom
};

// Graphviz DOT: one box per op (#seq, op name, output name, shape), one ellipse per leaf
// (name, shape), edges in the data-flow direction (input -> consumer), the outputs drawn
// with a double border. With values on, an op box shows its output value when the output
// tensor is still alive and its retained gradient, and a leaf shows its value and .grad.
std::string to_dot(const Tensor& output, const DotOptions& opts = {});
std::string to_dot(const std::vector<Tensor>& outputs, const DotOptions& opts = {});

// Writes to_dot(...) to `path` atomically (a temporary file renamed into place); throws
// std::runtime_error naming the path when it cannot write.
void save_dot(const Tensor& output, const std::string& path, const DotOptions& opts = {});
void save_dot(const std::vector<Tensor>& outputs, const std::string& path,
              const DotOptions& opts = {});

// ---- the interactive page (graph_page.cpp)

// What an op saved for its backward, as graph pages show it.
struct SavedInfo {
  std::string role;  // "input 0", "output", or "other" (an intermediate of the op)
  Shape shape;
  Dtype dtype = Dtype::float32;
};

// While one lives on this thread, every op notes what it saves for its backward (which input,
// or its output, with shapes), so that graph pages can show it: it installs a SavedTensorHook
// (autograd/node.h) and puts back the one before it when it ends. Off otherwise (it costs a
// vector per node). Create it before building the graph you will draw.
class NoteSavedTensors {
 public:
  NoteSavedTensors();
  ~NoteSavedTensors();
  NoteSavedTensors(const NoteSavedTensors&) = delete;
  NoteSavedTensors& operator=(const NoteSavedTensors&) = delete;

 private:
  std::unique_ptr<SavedTensorHook> hook_;
  SavedTensorHook* previous_;
};

// What the op of `node` saved: empty unless its graph was built under NoteSavedTensors.
const std::vector<SavedInfo>& saved_tensors_of(const Node& node);

// One forward-mode run to show on the page: for the tensors of the recorded graph (`node`: a
// leaf, or an op's output), their tangents in the direction `direction` (a label such as
// "dw1 = 1"), typically computed by evaluating the same function again on dual inputs.
struct TangentRun {
  std::string direction;
  std::vector<std::pair<Tensor, Tensor>> tangents;  // (node, its tangent)
};

struct HtmlOptions {
  std::string title;
  std::vector<TangentRun> tangent_runs;
  int64_t max_values = 64;  // a tensor with more elements shows statistics only
  // When set: recomputes the first output from the leaves' current values (e.g. the model's
  // loss on the same minibatch, deterministic: dropout off). Each leaf then carries a sparse
  // numerical check: at `checks_per_leaf` elements, the central difference of sum(output) with
  // step h = cbrt(eps) max(1, |x|) (eps of the leaf's dtype) against the page's adjoint, with
  // the relative error |a - n| / (|a| + |n|). The leaf is restored exactly afterwards.
  std::function<Tensor()> recompute;
  int checks_per_leaf = 3;
};

// One self-contained HTML page (inline SVG, JavaScript and CSS; no network) for the graph of
// `outputs`, which must not have been freed by a backward (use it before backward, or after
// one with retain_graph). The page draws the DAG (leaves at the top, outputs at the bottom)
// and lets a reader
//   - step the forward pass in tape order (values appear on the nodes);
//   - step the backward pass of one output in Kahn order: each node's adjoint, the gradient
//     it sends along each edge (a `sum_to` mark where broadcasting is summed back), and how
//     many consumers each node still waits for;
//   - show a forward-mode run (options.tangent_runs) as tangents on the nodes;
//   - click a node for its op, inputs, value, adjoint, tangent and local derivative rule.
// The adjoints come from running each node's backward rule once per output (seed: ones), not
// from .grad, so the page works before any backward. With options.recompute, each leaf shows
// a numerical-vs-analytic check of a few of its elements. Tensors show their values (up to
// max_values elements) or min/mean/max/norm. A page draws at most 2000 nodes: of a larger
// graph, the 1999 nearest the outputs, with everything farther collapsed into one node.
std::string to_html(const std::vector<Tensor>& outputs, const HtmlOptions& options = {});
// Writes to_html(...) to `path` atomically; std::runtime_error naming the path on failure.
void save_html(const std::vector<Tensor>& outputs, const std::string& path,
               const HtmlOptions& options = {});

// True when Graphviz's `dot` is on the PATH.
bool graphviz_available();
// Runs `dot -Tsvg dot_path -o svg_path`. Returns false (and does nothing) when Graphviz is not
// installed; throws std::runtime_error when dot is there but fails.
bool dot_to_svg(const std::string& dot_path, const std::string& svg_path);

}  // namespace dagrad::viz
