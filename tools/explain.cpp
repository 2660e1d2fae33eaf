// dagrad-explain: any function you type, differentiated every way dagrad can, on its real tape.
//
//   dagrad-explain --at w1=1,w2=2
//       'f1 = exp(exp(w1)+exp(w2)) + sin(exp(w1)+exp(w2)); f2 = w1*w2 + sigmoid(w1)'
//
// Prints the values of every step, the tape, the order backward runs it in (Kahn's algorithm),
// forward-mode tangent tables (one per input direction), reverse-mode adjoint tables (one per
// output), and the Jacobian three ways: forward, reverse and numerical, with the relative errors
// between them. --dot/--svg write the graph. The language: dagrad/explain/expression.h.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"
#include "dagrad/base/command_line.h"
#include "dagrad/explain/expression.h"
#include "dagrad/viz/graph.h"

using namespace dagrad;
namespace ex = dagrad::explain;

namespace {

constexpr const char* kUsage = R"(usage: dagrad-explain 'PROGRAM' --at NAME=VALUE,... [options]

PROGRAM   outputs over inputs, e.g. 'f1 = x*y + sin(x); f2 = exp(x) - y^2'
          (numbers, names, + - * / ^ @, unary minus, parentheses, and the functions
          listed by --functions; a lone expression is named f)
--at      the point: w1=1,w2=2   or vectors and matrices: 'x=[1,2,3],A=[[1,2],[3,4]]'
--h H     the numerical Jacobian's step (default 1e-6)
--one-sided   (f(x + h e_j) - f(x)) / h instead of central differences
--anomaly     stop at the first step whose value is NaN/Inf, naming it, and run the
              backward passes in anomaly mode (the first NaN/Inf gradient names its op)
--dot PATH    write the graph as Graphviz DOT;  --svg PATH  render it (needs Graphviz)
--html PATH   write an interactive page: step the forward and backward passes, forward
              mode per input direction, click a node for its details (works offline)
--functions   list the functions and exit)";

void heading(const std::string& title) {
  fmt::print("\n{}\n{}\n", title, std::string(title.size(), '-'));
}

// A value in one cell: a scalar to 10 significant digits, a tensor as its shape and values.
std::string cell(const Tensor& t) {
  auto num = [](double v) {
    return std::isnan(v) ? std::string("nan") : fmt::format("{:.10g}", v);
  };
  if (!t.defined()) return "0 (not reached)";
  const std::vector<double> v = t.to_vector();
  if (t.numel() == 1 && t.dim() == 0) return num(v[0]);
  std::vector<std::string> parts;
  for (std::size_t i = 0; i < v.size() && i < 8; ++i) parts.push_back(num(v[i]));
  if (v.size() > 8) parts.push_back("...");
  const std::string values = fmt::format("[{}]", fmt::join(parts, ", "));
  return t.dim() == 1 ? values : fmt::format("{} {}", to_string(t.shape()), values);
}

// Labels of the flattened elements of named tensors: x, or x[0], x[1], ... (row-major).
std::vector<std::string> element_labels(const std::string& name, const Tensor& t) {
  if (t.dim() == 0) return {name};
  std::vector<std::string> out;
  for (int64_t i = 0; i < t.numel(); ++i) {
    std::vector<std::string> idx;
    int64_t rest = i;
    for (int d = t.dim() - 1; d >= 0; --d) {
      idx.push_back(std::to_string(rest % t.shape()[d]));
      rest /= t.shape()[d];
    }
    std::reverse(idx.begin(), idx.end());
    out.push_back(fmt::format("{}[{}]", name, fmt::join(idx, ",")));
  }
  return out;
}

// The program as a function of one flat vector holding every input element, returning every
// output element: the shape the Jacobian functions work on.
struct Packed {
  const ex::Program& program;
  std::vector<std::pair<std::string, Shape>> inputs;

  Tensor pack(const std::map<std::string, Tensor>& values) const {
    std::vector<Tensor> parts;
    for (const auto& [name, shape] : inputs) parts.push_back(reshape(values.at(name), {-1}));
    return concat(parts);
  }
  Tensor operator()(const Tensor& x) const {
    std::map<std::string, Tensor> values;
    int64_t at = 0;
    for (const auto& [name, shape] : inputs) {
      values[name] = reshape(slice(x, 0, at, at + shape.numel()), shape);
      at += shape.numel();
    }
    std::vector<Tensor> outs;
    for (const Tensor& y : ex::evaluate(program, values).outputs) outs.push_back(reshape(y, {-1}));
    return concat(outs);
  }
};

// Column j of the Jacobian by differences of f along e_j: central, or one-sided as the course.
Tensor jacobian_by_differences(const Packed& f, const Tensor& x, double h, bool one_sided) {
  no_grad guard;
  const Tensor xc = x.clone();  // perturbed in place
  const int64_t m = f(xc).numel(), n = xc.numel();
  Tensor J = zeros({m, n}, float64);
  for (int64_t j = 0; j < n; ++j) {
    const std::vector<double> col =
        difference_quotient([&] { return f(xc).to(float64).to_vector(); }, xc, j, h,
                            one_sided ? Difference::forward : Difference::central);
    for (int64_t i = 0; i < m; ++i) J.data<double>()[i * n + j] = col[static_cast<std::size_t>(i)];
  }
  return J;
}

void print_matrix(const std::string& title, const Tensor& J, const std::vector<std::string>& rows,
                  const std::vector<std::string>& cols) {
  fmt::print("  {}\n", title);
  std::size_t w = 6;
  for (const auto& r : rows) w = std::max(w, r.size());
  fmt::print("    {:<{}}", "", w);
  for (const auto& c : cols) fmt::print(" {:>18}", c);
  fmt::print("\n");
  for (std::size_t i = 0; i < rows.size(); ++i) {
    fmt::print("    {:<{}}", rows[i], w);
    for (std::size_t j = 0; j < cols.size(); ++j)
      fmt::print(" {:>18.10g}", J.at({static_cast<int64_t>(i), static_cast<int64_t>(j)}));
    fmt::print("\n");
  }
}

struct Options {
  std::string program, at, dot, svg, html;
  double h = 1e-6;
  bool one_sided = false, anomaly = false;
};

// The table of every step: label, value, and (when `column` is given) one more column.
void print_steps(const std::vector<ex::Step>& steps, const std::string& column = "",
                 const std::function<Tensor(const ex::Step&)>& extra = {}) {
  std::size_t w = 4;
  for (const auto& s : steps) w = std::max(w, std::min<std::size_t>(s.label.size(), 48));
  std::string head = fmt::format("  {:<{}}  {:>20}", "step", w, "value");
  if (!column.empty()) head += fmt::format("  {:>20}", column);
  fmt::print("{}\n", head);
  for (const auto& s : steps) {
    const std::string label = s.label.size() > 48 ? s.label.substr(0, 45) + "..." : s.label;
    std::string line = fmt::format("  {:<{}}  {:>20}", label, w, cell(primal_of(s.value)));
    if (!column.empty()) line += fmt::format("  {:>20}", cell(extra(s)));
    fmt::print("{}\n", line);
  }
}

// The first step whose value has a NaN or an infinity, computed from finite values.
const ex::Step* first_non_finite(const std::vector<ex::Step>& steps) {
  for (const auto& s : steps) {
    const auto v = s.value.to_vector();
    if (std::any_of(v.begin(), v.end(), [](double x) { return !std::isfinite(x); })) return &s;
  }
  return nullptr;
}

// The program and its point, checked against each other: every input has a value and every
// value is an input.
std::map<std::string, Tensor> point_of(const ex::Program& program, const Options& o) {
  if (program.inputs.empty())
    throw std::invalid_argument("the program has no inputs, so there is nothing to differentiate");
  if (o.at.empty())
    throw std::invalid_argument(
        fmt::format("--at is missing: give the point, e.g. --at {}=1", program.inputs[0]));
  std::map<std::string, Tensor> values = ex::parse_values(o.at);
  for (const auto& [name, v] : values)
    if (std::find(program.inputs.begin(), program.inputs.end(), name) == program.inputs.end())
      throw std::invalid_argument(
          fmt::format("--at gives '{}', which the program does not use (its inputs: {})", name,
                      fmt::join(program.inputs, ", ")));
  for (const std::string& name : program.inputs)
    if (!values.count(name))
      throw std::invalid_argument(
          fmt::format("no value for input '{}': give it with --at {}=...", name, name));
  return values;
}

// Sections 1-3: values (naming the first non-finite step), the tape, the backward orders.
void print_forward_pass(const ex::Evaluation& ev, const Options& o) {
  heading("1. Values, in the order the forward pass computed them");
  print_steps(ev.steps);
  if (const ex::Step* bad = first_non_finite(ev.steps)) {
    const std::string what =
        fmt::format("'{}' (op {}) is the first step with a non-finite value", bad->label,
                    bad->value.impl().op ? bad->value.impl().op : "?");
    if (o.anomaly) throw std::runtime_error("anomaly: " + what);
    fmt::print("\n  note: {}; the steps that read it are non-finite too (--anomaly stops here).\n",
               what);
  }
  heading("2. The tape (every recorded op, in creation order)");
  fmt::print("{}", viz::tape_listing(ev.outputs));
  heading("3. The order backward runs (Kahn's algorithm), from each output");
  for (const Tensor& y : ev.outputs)
    fmt::print("from {}:\n{}", y.name(), viz::backward_order_listing(y));
}

// --dot and --svg.
void write_graph_files(const ex::Evaluation& ev, const Options& o) {
  if (o.dot.empty() && o.svg.empty()) return;
  viz::DotOptions d;
  d.title = o.program;
  const std::string dot = !o.dot.empty() ? o.dot : o.svg + ".dot";
  viz::save_dot(ev.outputs, dot, d);
  if (!o.dot.empty()) fmt::print("\nwrote {}\n", dot);
  if (!o.svg.empty()) {
    if (!viz::dot_to_svg(dot, o.svg))
      throw std::runtime_error("--svg needs Graphviz's dot (apt-get install graphviz)");
    fmt::print("wrote {}\n", o.svg);
    if (o.dot.empty()) std::filesystem::remove(dot);
  }
}

// Section 4: one dual evaluation per input element, printed; returned as the page's tangent
// runs (step i of each run is step i of `ev`, the page's graph).
std::vector<viz::TangentRun> print_forward_mode(const ex::Program& program,
                                                const std::map<std::string, Tensor>& values,
                                                const std::map<std::string, Tensor>& leaves,
                                                const ex::Evaluation& ev,
                                                const std::vector<std::string>& cols) {
  heading("4. Forward mode: tangents, one pass per input direction");
  std::vector<viz::TangentRun> runs;
  int col = 0;
  for (const std::string& name : program.inputs)
    for (int64_t j = 0; j < values.at(name).numel(); ++j, ++col) {
      std::map<std::string, Tensor> duals;
      for (const auto& [n, v] : values) {
        Tensor t = zeros_like(v);
        if (n == name) t.data<double>()[j] = 1;
        duals[n] = make_dual(v.detach().set_name(n), t);
      }
      const ex::Evaluation fe = ex::evaluate(program, duals);
      fmt::print("\ndirection d{} = 1 (every other input's tangent 0):\n", cols[col]);
      print_steps(fe.steps, "tangent", [](const ex::Step& s) { return tangent_of(s.value); });
      viz::TangentRun run{fmt::format("d{} = 1", cols[col]), {}};
      for (const auto& [n, leaf] : leaves) run.tangents.push_back({leaf, tangent_of(duals[n])});
      for (std::size_t i = 0; i < fe.steps.size(); ++i)
        run.tangents.push_back({ev.steps[i].value, tangent_of(fe.steps[i].value)});
      runs.push_back(std::move(run));
    }
  return runs;
}

// Section 5: one backward pass per output element (a fresh graph each; intermediates retain
// their gradients). Returns the output elements' labels (the Jacobian's rows).
std::vector<std::string> print_reverse_mode(const ex::Program& program,
                                            const std::map<std::string, Tensor>& values,
                                            const ex::Evaluation& ev, const Options& o) {
  heading("5. Reverse mode: adjoints, one pass per output");
  std::vector<std::string> rows;
  for (std::size_t k = 0; k < program.outputs.size(); ++k) {
    const std::vector<std::string> labels = element_labels(program.outputs[k].name, ev.outputs[k]);
    for (int64_t i = 0; i < ev.outputs[k].numel(); ++i) {
      rows.push_back(labels[i]);
      std::map<std::string, Tensor> fresh;
      for (const auto& [n, v] : values) fresh[n] = v.detach().set_name(n).requires_grad_();
      ex::Evaluation re = ex::evaluate(program, fresh);
      for (auto& s : re.steps)
        if (s.value.requires_grad()) s.value.retain_grad();
      Tensor seed = zeros_like(re.outputs[k]);
      seed.data<double>()[i] = 1;
      fmt::print("\nbackward from {} (its adjoint seeded with 1):\n", labels[i]);
      try {
        std::optional<detect_anomaly> guard;
        if (o.anomaly) guard.emplace();
        re.outputs[k].backward(seed, {.retain_graph = true});
      } catch (const std::exception& e) {
        fmt::print("  anomaly: {}\n", e.what());
        continue;
      }
      print_steps(re.steps, "adjoint", [](const ex::Step& s) { return s.value.grad(); });
      for (const std::string& n : program.inputs)
        fmt::print("  {:<10} adjoint {}\n", n, cell(fresh.at(n).grad()));
    }
  }
  return rows;
}

// Section 6: the Jacobian by forward mode, reverse mode and differences, and how they differ.
void print_jacobians(const ex::Program& program, const std::map<std::string, Tensor>& values,
                     const std::vector<std::string>& rows, const std::vector<std::string>& cols,
                     const Options& o) {
  heading("6. The Jacobian three ways");
  Packed f{program, {}};
  for (const std::string& name : program.inputs)
    f.inputs.push_back({name, values.at(name).shape()});
  const Tensor x = f.pack(values);
  const Tensor Jf = jacobian_forward(f, x), Jr = jacobian_reverse(f, x);
  const Tensor Jn = jacobian_by_differences(f, x, o.h, o.one_sided);
  fmt::print("J[i][j] = d output_i / d input_j\n\n");
  print_matrix("forward mode (columns: one pass per input)", Jf, rows, cols);
  print_matrix("reverse mode (rows: one pass per output)", Jr, rows, cols);
  print_matrix(fmt::format("numerical, {} differences with h = {:g}",
                           o.one_sided ? "one-sided" : "central", o.h),
               Jn, rows, cols);
  fmt::print("\n  relative error (max over entries of |a - b| / (|a| + |b|)):\n");
  fmt::print("    forward vs reverse    {:.3e}\n", rel_error(Jf, Jr));
  fmt::print("    forward vs numerical  {:.3e}\n", rel_error(Jf, Jn));
  fmt::print("    reverse vs numerical  {:.3e}\n", rel_error(Jr, Jn));
  fmt::print(
      "  (forward and reverse are exact up to rounding; the numerical error is about {} "
      "here)\n",
      o.one_sided ? "h |f''| / 2" : "h^2 |f'''| / 6 + eps |f| / h");
}

int run(const Options& o) {
  const ex::Program program = ex::parse(o.program);
  const std::map<std::string, Tensor> values = point_of(program, o);
  fmt::print("Program\n");
  for (const auto& d : program.outputs) fmt::print("  {} = {}\n", d.name, program.text(*d.expr));
  fmt::print("at (float64)\n");
  for (const std::string& name : program.inputs)
    fmt::print("  {} = {}\n", name, cell(values.at(name)));

  // The forward pass on the tape: the graph every section and the page refer to.
  std::map<std::string, Tensor> leaves;
  for (const auto& [name, v] : values) leaves[name] = v.detach().set_name(name).requires_grad_();
  const ex::Evaluation ev = [&] {
    viz::NoteSavedTensors note;  // the page shows what each op saved
    return ex::evaluate(program, leaves);
  }();
  print_forward_pass(ev, o);
  write_graph_files(ev, o);

  std::vector<std::string> cols;
  for (const std::string& name : program.inputs)
    for (const auto& l : element_labels(name, values.at(name))) cols.push_back(l);
  const std::vector<viz::TangentRun> tangent_runs =
      print_forward_mode(program, values, leaves, ev, cols);
  const std::vector<std::string> rows = print_reverse_mode(program, values, ev, o);
  print_jacobians(program, values, rows, cols, o);

  if (!o.html.empty()) {
    // Each leaf's numerical check re-evaluates the program on the (perturbed) leaves.
    viz::save_html(ev.outputs, o.html,
                   {.title = o.program, .tangent_runs = tangent_runs, .recompute = [&] {
                      return ex::evaluate(program, leaves).outputs[0];
                    }});
    fmt::print("\nwrote {} (open it in a browser; it needs no network)\n", o.html);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    base::CommandLine cli(argc, argv);
    if (cli.help(kUsage)) return 0;
    if (cli.flag("--functions")) {
      fmt::print("{}\n", fmt::join(ex::function_names(), " "));
      return 0;
    }
    o.at = cli.text("--at", "");
    o.h = cli.number("--h", 1e-6);
    o.one_sided = cli.flag("--one-sided");
    o.anomaly = cli.flag("--anomaly");
    o.dot = cli.text("--dot", "");
    o.svg = cli.text("--svg", "");
    o.html = cli.text("--html", "");
    const std::vector<std::string> programs = cli.positionals();
    cli.finish();
    if (programs.size() != 1)
      throw std::invalid_argument(
          fmt::format("give one program (in quotes), got {}; see --help", programs.size()));
    if (!(o.h > 0) || !std::isfinite(o.h))
      throw std::invalid_argument(fmt::format("--h must be a positive number, got {}", o.h));
    o.program = programs[0];
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
