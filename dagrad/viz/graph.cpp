#include "dagrad/viz/graph.h"

#include "dagrad/base/file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <unordered_set>

#include "dagrad/autograd/engine.h"
#include "dagrad/autograd/node.h"
#include "dagrad/viz/graph_walk.h"

extern char** environ;

namespace dagrad::viz {

namespace detail {

std::vector<Node*> reachable(const std::vector<std::shared_ptr<Node>>& roots) {
  std::vector<Node*> found, stack;
  std::unordered_set<Node*> seen;
  for (const auto& r : roots)
    if (r && seen.insert(r.get()).second) stack.push_back(r.get());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    found.push_back(n);
    for (const Edge& e : n->next)
      if (e.node && seen.insert(e.node.get()).second) stack.push_back(e.node.get());
  }
  std::sort(found.begin(), found.end(), [](Node* a, Node* b) { return a->seq < b->seq; });
  return found;
}

std::vector<std::shared_ptr<Node>> roots_of(const std::vector<Tensor>& outputs) {
  std::vector<std::shared_ptr<Node>> roots;
  for (const Tensor& t : outputs)
    if (t.defined() && t.requires_grad()) roots.push_back(gradient_edge(t));
  return roots;
}

const TensorImpl* tensor_of(const Node* n) {
  return n->is_accumulator() ? n->leaf() : n->output.get();
}

}  // namespace detail

namespace {

using detail::reachable;
using detail::roots_of;
using detail::tensor_of;

std::string name_of(const Node* n) {
  auto t = tensor_of(n);
  return t ? t->name : std::string();
}

std::string quoted(const std::string& name) { return name.empty() ? "" : " '" + name + "'"; }

// "#12 mul 'h'" for an op, "leaf 'W' (2, 3)" for a leaf: how an input is referred to.
std::string reference(const Node* n) {
  if (n->is_accumulator())
    return fmt::format("leaf{} {}", quoted(name_of(n)), to_string(n->out_shape));
  return fmt::format("#{} {}{}", n->seq, n->name, quoted(name_of(n)));
}

// The head of a node's own line: "#12 mul 'h'" or "leaf 'W'" (a leaf's sink is numbered when
// an op first uses it, which says nothing to a reader, so leaves go unnumbered).
std::string head(const Node* n) {
  if (n->is_accumulator()) return "leaf" + quoted(name_of(n));
  return fmt::format("#{} {}{}", n->seq, n->name, quoted(name_of(n)));
}

bool is_root(const Node* n, const std::vector<std::shared_ptr<Node>>& roots) {
  return std::any_of(roots.begin(), roots.end(), [n](const auto& r) { return r.get() == n; });
}

// Compact nested values: 1.5, [1, 2, 3], [[1, 2],\n [3, 4]] (one line per innermost row).
void format_nested(std::string& out, const std::vector<double>& v, const Shape& s, int axis,
                   std::size_t& k, int precision) {
  out += '[';
  for (int64_t i = 0; i < s[axis]; ++i) {
    if (i > 0) out += axis + 1 < s.size() ? ",\n" + std::string(axis + 1, ' ') : ", ";
    if (axis + 1 < s.size()) {
      format_nested(out, v, s, axis + 1, k, precision);
    } else {
      out += fmt::format("{:.{}g}", v[k++], precision);
    }
  }
  out += ']';
}

std::string format_values(const Tensor& t, int precision) {
  const std::vector<double> v = t.to_vector();
  if (t.dim() == 0) return fmt::format("{:.{}g}", v[0], precision);
  std::string out;
  std::size_t k = 0;
  format_nested(out, v, t.shape(), 0, k, precision);
  return out;
}

// A DOT double-quoted string: escape backslashes and quotes; newlines become \n.
std::string dot_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string no_graph_note(const Tensor& t) {
  if (!t.defined()) return "(no tape: the tensor is undefined)\n";
  return fmt::format("(no tape: the tensor{} of shape {} does not require grad)\n",
                     quoted(t.name()), to_string(t.shape()));
}

}  // namespace

// ---------------------------------------------------------------- listings

std::string tape_listing(const std::vector<Tensor>& outputs) {
  const auto roots = roots_of(outputs);
  if (roots.empty())
    return outputs.size() == 1 ? no_graph_note(outputs[0])
                               : std::string("(no tape: no output requires grad)\n");
  // Leaves first (they exist before any op that uses them), then ops in creation order.
  std::vector<Node*> nodes = reachable(roots);
  std::stable_partition(nodes.begin(), nodes.end(), [](Node* n) { return n->is_accumulator(); });
  std::size_t w_head = 0, w_shape = 0;
  for (Node* n : nodes) {
    w_head = std::max(w_head, head(n).size());
    w_shape = std::max(w_shape, to_string(n->out_shape).size());
  }
  std::string out;
  for (Node* n : nodes) {
    std::string line = fmt::format("{:<{}}  {:<{}} {}", head(n), w_head, to_string(n->out_shape),
                                   w_shape, dtype_name(n->out_dtype));
    if (!n->is_accumulator()) {
      line += "  <- ";
      for (std::size_t i = 0; i < n->next.size(); ++i) {
        if (i > 0) line += ", ";
        line += n->next[i].node ? reference(n->next[i].node.get()) : "const";
      }
    }
    if (is_root(n, roots)) line += "  [output]";
    out += line + "\n";
  }
  return out;
}

std::string tape_listing(const Tensor& output) { return tape_listing(std::vector<Tensor>{output}); }

std::string backward_order_listing(const Tensor& output) {
  if (!output.defined() || !output.requires_grad()) return no_graph_note(output);
  const std::vector<Node*> order = backward_order(output);
  std::string out;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const Node* n = order[i];
    out += fmt::format("{:>4}. {}  {}{}\n", i + 1, head(n), to_string(n->out_shape),
                       n->is_accumulator() ? "  (accumulate into .grad)" : "");
  }
  return out;
}

// ---------------------------------------------------------------- DOT

namespace {

// Whether the picture prints values: every tensor within max_elements, unless the caller says.
bool dot_shows_values(const std::vector<Node*>& nodes, const std::vector<Tensor>& outputs,
                      const DotOptions& opts) {
  if (opts.show_values) return *opts.show_values;
  bool values = true;
  for (const Node* n : nodes) values &= n->out_shape.numel() <= opts.max_elements;
  for (const Tensor& t : outputs) values &= !t.defined() || t.numel() <= opts.max_elements;
  return values;
}

std::string dot_header(const DotOptions& opts) {
  std::string out = "digraph dagrad {\n";
  out += fmt::format("  rankdir={};\n", opts.left_to_right ? "LR" : "TB");
  out += "  graph [fontname=\"Helvetica\", fontsize=11];\n";
  out += "  node [fontname=\"Helvetica\", fontsize=10];\n";
  out += "  edge [color=\"#555555\"];\n";
  if (!opts.title.empty())
    out += fmt::format("  label={};\n  labelloc=b;\n", dot_string(opts.title));
  return out;
}

// "\nvalue ...\ngrad ..." for a node's label, or nothing.
std::string value_lines(const TensorImpl* t, bool values, int precision) {
  std::string s;
  if (!values || !t) return s;
  Tensor tv(std::make_shared<TensorImpl>(*t));  // a handle for printing only
  s += "\nvalue " + format_values(tv, precision);
  if (t->grad) s += "\ngrad " + format_values(Tensor(t->grad), precision);
  return s;
}

// A leaf as a blue ellipse, an op as an orange box; the outputs get a double border.
std::string dot_node(const Node* n, const std::vector<std::shared_ptr<Node>>& roots, bool values,
                     int precision) {
  const std::string shape = fmt::format("{} {}", to_string(n->out_shape), dtype_name(n->out_dtype));
  const std::string values_text = value_lines(tensor_of(n), values, precision);
  const char* border = is_root(n, roots) ? ", peripheries=2" : "";
  if (n->is_accumulator()) {
    const std::string nm = name_of(n);
    const std::string label = fmt::format("{}\n{}", nm.empty() ? "leaf" : nm, shape) + values_text;
    return fmt::format("  n{} [shape=ellipse, style=filled, fillcolor=\"#dbe9f6\", label={}{}];\n",
                       n->seq, dot_string(label), border);
  }
  const std::string label =
      fmt::format("#{} {}{}\n{}", n->seq, n->name, quoted(name_of(n)), shape) + values_text;
  return fmt::format(
      "  n{} [shape=box, style=\"rounded,filled\", fillcolor=\"#fdf1d6\", label={}{}];\n", n->seq,
      dot_string(label), border);
}

// An edge from each input's node; an input without one (a constant) gets a grey stub.
std::string dot_edges(const Node* n) {
  std::string out;
  for (std::size_t i = 0; i < n->next.size(); ++i) {
    const Node* m = n->next[i].node.get();
    if (m) {
      out += fmt::format("  n{} -> n{};\n", m->seq, n->seq);
    } else {
      out +=
          fmt::format("  c{}_{} [shape=plaintext, fontcolor=gray, label=\"const\"];\n", n->seq, i);
      out += fmt::format("  c{}_{} -> n{} [style=dashed, color=gray];\n", n->seq, i, n->seq);
    }
  }
  return out;
}

// An output without a graph, drawn alone.
std::string dot_loose_output(const Tensor& t, std::size_t k, bool values, int precision) {
  const std::string label =
      fmt::format("{}\n{} {}\n(no graph)", t.name().empty() ? "tensor" : t.name(),
                  to_string(t.shape()), dtype_name(t.dtype())) +
      value_lines(&t.impl(), values, precision);
  return fmt::format("  t{} [shape=ellipse, peripheries=2, label={}];\n", k, dot_string(label));
}

}  // namespace

std::string to_dot(const std::vector<Tensor>& outputs, const DotOptions& opts) {
  const auto roots = roots_of(outputs);
  const std::vector<Node*> nodes = reachable(roots);
  const bool values = dot_shows_values(nodes, outputs, opts);
  std::string out = dot_header(opts);
  for (const Node* n : nodes) out += dot_node(n, roots, values, opts.precision);
  for (const Node* n : nodes) out += dot_edges(n);
  for (std::size_t k = 0; k < outputs.size(); ++k)
    if (outputs[k].defined() && !outputs[k].requires_grad())
      out += dot_loose_output(outputs[k], k, values, opts.precision);
  return out + "}\n";
}

std::string to_dot(const Tensor& output, const DotOptions& opts) {
  return to_dot(std::vector<Tensor>{output}, opts);
}

void save_dot(const std::vector<Tensor>& outputs, const std::string& path, const DotOptions& opts) {
  base::write_file_atomically(to_dot(outputs, opts), path, fmt::format("save_dot {}", path));
}

void save_dot(const Tensor& output, const std::string& path, const DotOptions& opts) {
  save_dot(std::vector<Tensor>{output}, path, opts);
}

// ---------------------------------------------------------------- Graphviz

bool graphviz_available() {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::filesystem::path dir = end > start ? dirs.substr(start, end - start) : ".";
    if (::access((dir / "dot").c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

bool dot_to_svg(const std::string& dot_path, const std::string& svg_path) {
  if (!graphviz_available()) return false;
  if (!std::filesystem::exists(dot_path))
    throw std::runtime_error(fmt::format("dot_to_svg: '{}' does not exist", dot_path));
  if (const auto parent = std::filesystem::path(svg_path).parent_path();
      !parent.empty() && !std::filesystem::is_directory(parent))
    throw std::runtime_error(
        fmt::format("dot_to_svg: the directory of '{}' does not exist", svg_path));
  const std::string tmp = fmt::format("{}.tmp{}", svg_path, ::getpid());
  std::vector<std::string> args = {"dot", "-Tsvg", dot_path, "-o", tmp};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // dot's complaints go to a side file and into our error message.
  const std::string err_path = tmp + ".err";
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
  pid_t pid = 0;
  const int err = ::posix_spawnp(&pid, "dot", &actions, nullptr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  std::error_code ec;
  if (err != 0) {
    std::filesystem::remove(err_path, ec);
    throw std::runtime_error(fmt::format("dot_to_svg: cannot run dot: {}", std::strerror(err)));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::runtime_error("dot_to_svg: waiting for dot failed");
  }
  std::string complaint;
  {
    std::ifstream f(err_path);
    std::getline(f, complaint);
  }
  std::filesystem::remove(err_path, ec);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error(fmt::format("dot_to_svg: 'dot -Tsvg {}' failed (exit status {}){}{}",
                                         dot_path, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                                         complaint.empty() ? "" : ": ", complaint));
  }
  std::filesystem::rename(tmp, svg_path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error(
        fmt::format("dot_to_svg: cannot write '{}': {}", svg_path, ec.message()));
  }
  return true;
}

}  // namespace dagrad::viz
