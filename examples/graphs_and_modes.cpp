// Computation graphs and the two modes of automatic differentiation, on one small example:
//
//     f(x1, x2) = (y1, y2) = (x1*x2 + sin(x1),  exp(x1) - x2^2)   at (x1, x2) = (1.5, 0.5)
//
// It prints the tape, writes the graph as Graphviz DOT (and SVG when Graphviz is installed),
// shows the order backward visits the nodes, runs forward mode (tangents, one pass per input
// direction) and reverse mode (adjoints, one pass per output), and builds the Jacobian three
// ways: forward, reverse, and by central differences.
//
// Usage: graphs-and-modes [output_dir]   (default: out/)
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"
#include "dagrad/base/command_line.h"
#include "dagrad/viz/graph.h"

using namespace dagrad;

namespace {

constexpr double kX1 = 1.5, kX2 = 0.5;

// Every intermediate of f, named, so that the tape and the graph can show them.
struct Trace {
  Tensor a, b, y1, c, d, y2;
  std::vector<std::pair<const char*, Tensor*>> all() {
    return {{"a", &a}, {"b", &b}, {"y1", &y1}, {"c", &c}, {"d", &d}, {"y2", &y2}};
  }
};

Trace evaluate(const Tensor& x1, const Tensor& x2) {
  Trace t;
  t.a = (x1 * x2).set_name("a");      // a  = x1 * x2
  t.b = sin(x1).set_name("b");        // b  = sin(x1)
  t.y1 = (t.a + t.b).set_name("y1");  // y1 = a + b
  t.c = exp(x1).set_name("c");        // c  = exp(x1)
  t.d = square(x2).set_name("d");     // d  = x2^2
  t.y2 = (t.c - t.d).set_name("y2");  // y2 = c - d
  return t;
}

Tensor leaf(double v, const char* name) {
  Tensor t = scalar_tensor(v, float64);
  t.set_name(name);
  return t;
}

void heading(const std::string& title) {
  fmt::print("\n{}\n{}\n", title, std::string(title.size(), '='));
}

std::string indent(const std::string& text, const std::string& pad = "  ") {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    out += pad + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

void print_matrix(const char* title, const Tensor& m) {
  fmt::print("  {}\n", title);
  for (int64_t i = 0; i < m.shape()[0]; ++i) {
    fmt::print("    [");
    for (int64_t j = 0; j < m.shape()[1]; ++j)
      fmt::print("{}{:>14.10f}", j ? ", " : "", m.at({i, j}));
    fmt::print(" ]\n");
  }
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector(), vb = b.to_vector();
  double m = 0;
  for (std::size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

// 1. Evaluates f on the leaves (recording the tape) and prints the values and the tape.
Trace forward_pass(const Tensor& x1, const Tensor& x2) {
  heading("1. The forward pass records a tape");
  Trace t = evaluate(x1, x2);
  fmt::print("Intermediate values:\n");
  for (auto& [name, v] : t.all()) fmt::print("  {:<3} = {:+.10f}\n", name, v->item());
  fmt::print(
      "\nThe tape: every recorded op in creation order, with the nodes it reads from.\n"
      "A leaf is an input that requires grad. '#n' is the creation number of an op; the\n"
      "missing numbers went to the leaves' gradient sinks, created when an op first used "
      "them.\n\n");
  fmt::print("{}", indent(viz::tape_listing(std::vector<Tensor>{t.y1, t.y2})));
  return t;
}

// 2. The DOT file of the recorded graph, and its SVG when Graphviz is installed.
void write_graph(const Trace& t, const std::filesystem::path& out_dir) {
  heading("2. The graph as a picture (Graphviz DOT)");
  viz::DotOptions opts;
  opts.title = "f(x1, x2) = (x1*x2 + sin(x1), exp(x1) - x2^2)";
  const std::string dot_path = (out_dir / "graphs_and_modes.dot").string();
  viz::save_dot(std::vector<Tensor>{t.y1, t.y2}, dot_path, opts);
  fmt::print("wrote {}  (boxes are ops, ellipses are leaves, arrows follow the data)\n", dot_path);
  const std::string svg_path = (out_dir / "graphs_and_modes.svg").string();
  try {
    if (viz::dot_to_svg(dot_path, svg_path))
      fmt::print("wrote {}\n", svg_path);
    else
      fmt::print("Graphviz is not installed: render it elsewhere with  dot -Tsvg {} -o {}\n",
                 dot_path, svg_path);
  } catch (const std::exception& e) {
    fmt::print("could not render the SVG: {}\n", e.what());
  }
}

// 3. The order backward visits the nodes, from each output.
void print_backward_order(const Trace& t) {
  heading("3. The order backward runs (Kahn's algorithm)");
  fmt::print(
      "Backward starts at the output and takes a node only when every node that consumed\n"
      "its value has already sent it a gradient (a topological order of the reversed graph).\n");
  for (const Tensor* y : {&t.y1, &t.y2}) {
    fmt::print("\nfrom {}:\n", y->name());
    fmt::print("{}", viz::backward_order_listing(*y));
  }
}

// 4. One forward-mode pass per input direction; the Jacobian it builds, column by column.
Tensor forward_mode() {
  heading("4. Forward mode: tangents, one pass per input direction");
  fmt::print(
      "Each input carries a tangent (dx1, dx2); every op updates the tangent of its output\n"
      "with its own derivative as it computes the value (dual numbers). One pass gives\n"
      "d(everything)/d(direction): for direction e_j, the j-th column of the Jacobian.\n");
  const char* rules[] = {"da  = dx1*x2 + x1*dx2", "db  = cos(x1)*dx1", "dy1 = da + db",
                         "dc  = exp(x1)*dx1",     "dd  = 2*x2*dx2",    "dy2 = dc - dd"};
  Tensor J_by_tangents = zeros({2, 2}, float64);
  for (int j = 0; j < 2; ++j) {
    const double dx1 = j == 0 ? 1 : 0, dx2 = j == 1 ? 1 : 0;
    const Tensor p1 = make_dual(leaf(kX1, "x1"), scalar_tensor(dx1, float64));
    const Tensor p2 = make_dual(leaf(kX2, "x2"), scalar_tensor(dx2, float64));
    Trace ft = evaluate(p1, p2);
    fmt::print("\ndirection (dx1, dx2) = ({}, {}):\n", dx1, dx2);
    fmt::print("  {:<24} {:>16} {:>16}\n", "tangent rule", "value", "tangent");
    int r = 0;
    for (auto& [name, v] : ft.all())
      fmt::print("  {:<24} {:>+16.10f} {:>+16.10f}\n", rules[r++], primal_of(*v).item(),
                 tangent_of(*v).item());
    fmt::print("  => column {} of the Jacobian: (dy1/dx{}, dy2/dx{}) = ({:+.10f}, {:+.10f})\n",
               j + 1, j + 1, j + 1, tangent_of(ft.y1).item(), tangent_of(ft.y2).item());
    J_by_tangents.data<double>()[0 * 2 + j] = tangent_of(ft.y1).item();
    J_by_tangents.data<double>()[1 * 2 + j] = tangent_of(ft.y2).item();
  }
  return J_by_tangents;
}

// 5. One backward pass per output; the Jacobian it builds, row by row.
Tensor reverse_mode(const std::filesystem::path& out_dir) {
  heading("5. Reverse mode: adjoints, one pass per output");
  fmt::print(
      "Backward from one output y_k sends its adjoint vbar = dy_k/dv to every node v, from\n"
      "the output down to the leaves (retain_grad keeps it on the intermediates). One pass\n"
      "gives the gradient of y_k with respect to every input: the k-th row of the Jacobian.\n");
  // The chain rule node by node, from the output down (each adjoint sums over consumers).
  struct Step {
    const char* name;
    const char* rule;
  };
  const std::vector<Step> steps[2] = {
      {{"y1", "y1bar = 1 (the seed)"},
       {"b", "bbar  = y1bar"},
       {"a", "abar  = y1bar"},
       {"x1", "x1bar = abar*x2 + bbar*cos(x1)"},
       {"x2", "x2bar = abar*x1"}},
      {{"y2", "y2bar = 1 (the seed)"},
       {"d", "dbar  = -y2bar"},
       {"c", "cbar  = y2bar"},
       {"x1", "x1bar = cbar*exp(x1)"},
       {"x2", "x2bar = dbar*2*x2"}},
  };
  Tensor J_by_adjoints = zeros({2, 2}, float64);
  for (int k = 0; k < 2; ++k) {
    Tensor r1 = leaf(kX1, "x1").requires_grad_();
    Tensor r2 = leaf(kX2, "x2").requires_grad_();
    Trace rt = evaluate(r1, r2);
    for (auto& [name, v] : rt.all()) v->retain_grad();
    const Tensor& y = k == 0 ? rt.y1 : rt.y2;
    y.backward();
    fmt::print("\nbackward from {}:\n", y.name());
    fmt::print("  {:<32} {:>16}\n", "rule", "adjoint");
    auto adjoint_of = [&](const std::string& name) -> Tensor {
      if (name == "x1") return r1.grad();
      if (name == "x2") return r2.grad();
      for (auto& [n, v] : rt.all())
        if (name == n) return v->grad();
      return Tensor();
    };
    for (const Step& st : steps[k])
      fmt::print("  {:<32} {:>+16.10f}\n", st.rule, adjoint_of(st.name).item());
    std::string off_path;
    for (auto& [name, v] : rt.all())
      if (!v->grad().defined()) off_path += fmt::format("{}{}", off_path.empty() ? "" : ", ", name);
    fmt::print("  not on a path to {} (adjoint 0, never visited): {}\n", y.name(), off_path);
    fmt::print("  => row {} of the Jacobian: (d{}/dx1, d{}/dx2) = ({:+.10f}, {:+.10f})\n", k + 1,
               y.name(), y.name(), r1.grad().item(), r2.grad().item());
    J_by_adjoints.data<double>()[k * 2 + 0] = r1.grad().item();
    J_by_adjoints.data<double>()[k * 2 + 1] = r2.grad().item();
    if (k == 0) {
      // The graph with the adjoints of y1 written into its labels.
      const std::string adj_path = (out_dir / "graphs_and_modes_adjoints_y1.dot").string();
      viz::DotOptions adj;
      adj.title = "after y1.backward(): value and adjoint (grad) of every node";
      viz::save_dot(y, adj_path, adj);
      fmt::print("  (graph with these adjoints: {})\n", adj_path);
    }
  }
  return J_by_adjoints;
}

// 6. The Jacobian by jacobian_forward, jacobian_reverse and central differences, against the
// one by hand and sections 4 and 5; true when all agree.
bool compare_jacobians(const Tensor& J_by_tangents, const Tensor& J_by_adjoints) {
  heading("6. The Jacobian three ways");
  fmt::print(
      "Packing x = (x1, x2) and y = (y1, y2) into vectors, J[i][j] = dy_i/dx_j, a (2, 2)\n"
      "matrix: forward mode builds it column by column (one pass per input), reverse mode\n"
      "row by row (one pass per output), central differences column by column.\n\n");
  auto f = [](const Tensor& x) {
    Trace p = evaluate(slice(x, 0, 0, 1), slice(x, 0, 1, 2));
    return concat({p.y1, p.y2});
  };
  const Tensor x = tensor({kX1, kX2}, {-1}, float64);
  const Tensor J_fwd = jacobian_forward(f, x);
  const Tensor J_rev = jacobian_reverse(f, x);
  const Tensor J_num = jacobian_numerical(f, x, 1e-6);
  const Tensor J_exact =
      tensor({kX2 + std::cos(kX1), kX1, std::exp(kX1), -2 * kX2}, {2, 2}, float64);
  print_matrix("by hand: [[x2 + cos(x1), x1], [exp(x1), -2*x2]]", J_exact);
  print_matrix("forward mode (jacobian_forward)", J_fwd);
  print_matrix("reverse mode (jacobian_reverse)", J_rev);
  print_matrix("central differences (jacobian_numerical, eps = 1e-6)", J_num);

  fmt::print("\nmax |difference|:\n");
  const double d_fr = max_abs_diff(J_fwd, J_rev), d_fn = max_abs_diff(J_fwd, J_num),
               d_rn = max_abs_diff(J_rev, J_num), d_fe = max_abs_diff(J_fwd, J_exact),
               d_t = max_abs_diff(J_by_tangents, J_fwd), d_a = max_abs_diff(J_by_adjoints, J_rev);
  fmt::print("  forward   vs reverse      {:.3e}\n", d_fr);
  fmt::print("  forward   vs numerical    {:.3e}\n", d_fn);
  fmt::print("  reverse   vs numerical    {:.3e}\n", d_rn);
  fmt::print("  forward   vs by hand      {:.3e}\n", d_fe);
  fmt::print("  section 4 tangents vs forward Jacobian   {:.3e}\n", d_t);
  fmt::print("  section 5 adjoints vs reverse Jacobian   {:.3e}\n", d_a);
  fmt::print("  relative error (forward vs numerical)    {:.3e}\n", rel_error(J_fwd, J_num));

  return d_fr < 1e-12 && d_fe < 1e-12 && d_t < 1e-12 && d_a < 1e-12 &&
         rel_error(J_fwd, J_num) < 1e-7;
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path out_dir = "out";
  try {
    base::CommandLine cli(argc, argv);
    if (cli.help(
            "usage: graphs-and-modes [OUT_DIR]   (the DOT/SVG graphs go to OUT_DIR, default out/)"))
      return 0;
    const std::vector<std::string> dirs = cli.positionals();
    cli.finish();
    if (dirs.size() > 1)
      throw std::invalid_argument(fmt::format("one output directory at most, got {}", dirs.size()));
    if (!dirs.empty()) out_dir = dirs[0];
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) {
    fmt::print(stderr, "cannot create the output directory '{}': {}\n", out_dir.string(),
               ec.message());
    return 2;
  }

  fmt::print("f(x1, x2) = (y1, y2) = (x1*x2 + sin(x1), exp(x1) - x2^2)\n");
  fmt::print("at x1 = {}, x2 = {}, in float64\n", kX1, kX2);

  Tensor x1 = leaf(kX1, "x1").requires_grad_();
  Tensor x2 = leaf(kX2, "x2").requires_grad_();
  Trace t = forward_pass(x1, x2);
  write_graph(t, out_dir);
  print_backward_order(t);
  const Tensor J_by_tangents = forward_mode();
  const Tensor J_by_adjoints = reverse_mode(out_dir);
  const bool ok = compare_jacobians(J_by_tangents, J_by_adjoints);
  fmt::print("\n{}\n", ok ? "All three Jacobians agree." : "MISMATCH: the Jacobians disagree!");
  return ok ? 0 : 1;
}
