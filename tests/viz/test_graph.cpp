#include <doctest/doctest.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/viz/graph.h"

using namespace dagrad;

namespace {

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Collapses runs of spaces, so that column padding does not matter to the checks.
std::string squeeze_spaces(const std::string& s) {
  std::string out;
  for (char c : s)
    if (!(c == ' ' && !out.empty() && out.back() == ' ')) out += c;
  return out;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::filesystem::path temp_dir() {
  auto d = std::filesystem::temp_directory_path() / fmt::format("dagrad-graph-test-{}", ::getpid());
  std::filesystem::create_directories(d);
  return d;
}

// A small affine-like graph: y = sum((x * W + b) * 2), with a constant c mixed in.
struct SmallGraph {
  Tensor x = tensor({1, 2, 3, 4, 5, 6}, {2, 3}, float64).set_name("x");
  Tensor W = tensor({0.5, -1, 2, 0, 1, -0.5}, {2, 3}, float64).set_name("W");
  Tensor b = tensor({0.1, 0.2, 0.3}, {3}, float64).set_name("b");
  Tensor c = tensor({1, 1, 1}, {3}, float64).set_name("c");  // a constant: no requires_grad
  Tensor h, z, y;
  SmallGraph() {
    x.requires_grad_();
    W.requires_grad_();
    b.requires_grad_();
    h = (x * W).set_name("h");
    z = h + b;
    y = ((z - c) * 2.0).sum().set_name("y");
  }
};

}  // namespace

TEST_CASE("graph: tape listing shows leaves, then ops in creation order") {
  SmallGraph g;
  const std::string tape = viz::tape_listing(g.y);
  const auto lines = lines_of(tape);
  // 3 leaves + mul, add, sub, mul_scalar, sum
  REQUIRE(lines.size() == 8);
  CHECK(squeeze_spaces(lines[0]) == "leaf 'x' (2, 3) float64");
  CHECK(squeeze_spaces(lines[1]) == "leaf 'W' (2, 3) float64");
  CHECK(squeeze_spaces(lines[2]) == "leaf 'b' (3,) float64");
  const uint64_t s_mul = g.h.grad_fn()->seq, s_add = g.z.grad_fn()->seq;
  CHECK(squeeze_spaces(lines[3]) ==
        fmt::format("#{} mul 'h' (2, 3) float64 <- leaf 'x' (2, 3), leaf 'W' (2, 3)", s_mul));
  CHECK(squeeze_spaces(lines[4]) ==
        fmt::format("#{} add (2, 3) float64 <- #{} mul 'h', leaf 'b' (3,)", s_add, s_mul));
  CHECK(contains(lines[5], " sub "));
  CHECK(contains(lines[5], fmt::format("<- #{} add, const", s_add)));
  CHECK(contains(lines[6], " mul_scalar "));
  CHECK(contains(lines[7], fmt::format("#{} sum 'y'", g.y.grad_fn()->seq)));
  CHECK(contains(lines[7], "[output]"));
  CHECK_FALSE(contains(lines[6], "[output]"));
  // Ops are numbered in increasing creation order.
  uint64_t prev = 0;
  for (int i = 3; i < 8; ++i) {
    const uint64_t seq = std::stoull(lines[i].substr(1));
    CHECK(seq > prev);
    prev = seq;
  }
}

TEST_CASE("graph: tape listing of several outputs and of tensors without a graph") {
  Tensor a = tensor({1, 2}, {-1}, float64).requires_grad_().set_name("a");
  Tensor y1 = sin(a).set_name("y1");
  Tensor y2 = exp(a).set_name("y2");
  const std::string tape = viz::tape_listing(std::vector<Tensor>{y1, y2});
  CHECK(lines_of(tape).size() == 3);
  CHECK(contains(tape, "sin 'y1'"));
  CHECK(contains(tape, "exp 'y2'"));
  // Two outputs, both marked.
  CHECK(std::count(tape.begin(), tape.end(), '[') >= 2);
  CHECK(contains(viz::tape_listing(tensor({1, 2})), "does not require grad"));
  // A leaf output: the listing is just that leaf.
  CHECK(squeeze_spaces(viz::tape_listing(a)) == "leaf 'a' (2,) float64 [output]\n");
}

TEST_CASE("graph: backward order starts at the output and visits consumers first") {
  SmallGraph g;
  const auto lines = lines_of(viz::backward_order_listing(g.y));
  const std::vector<Node*> order = backward_order(g.y);
  REQUIRE(lines.size() == order.size());
  REQUIRE(lines.size() == 8);
  CHECK(contains(lines[0], fmt::format("1. #{} sum 'y'", g.y.grad_fn()->seq)));
  CHECK(order[0] == g.y.grad_fn().get());
  // Every op appears before the nodes it feeds gradients to.
  auto pos = [&order](const Node* n) {
    return std::find(order.begin(), order.end(), n) - order.begin();
  };
  for (Node* n : order)
    for (const Edge& e : n->next)
      if (e.node) CHECK(pos(n) < pos(e.node.get()));
  // The leaves come last and say where their gradient goes.
  CHECK(contains(lines[7], "leaf"));
  CHECK(contains(lines[7], "accumulate"));
  CHECK(contains(viz::backward_order_listing(tensor({1.0})), "does not require grad"));
}

TEST_CASE("graph: DOT has a box per op, an ellipse per leaf and data-flow edges") {
  SmallGraph g;
  const std::string dot = viz::to_dot(g.y);
  CHECK(dot.rfind("digraph dagrad {", 0) == 0);
  CHECK(dot.back() == '\n');
  CHECK(contains(dot, "}\n"));
  const uint64_t s_mul = g.h.grad_fn()->seq, s_add = g.z.grad_fn()->seq;
  const uint64_t s_x = gradient_edge(g.x)->seq, s_W = gradient_edge(g.W)->seq;
  // Op box with number, name, output name and shape.
  CHECK(contains(dot, fmt::format("n{} [shape=box", s_mul)));
  CHECK(contains(dot, fmt::format("label=\"#{} mul 'h'\\n(2, 3) float64", s_mul)));
  // Leaf ellipse with name and shape.
  CHECK(contains(dot, fmt::format("n{} [shape=ellipse", s_x)));
  CHECK(contains(dot, "label=\"W\\n(2, 3) float64"));
  // Edges go from inputs to consumers.
  CHECK(contains(dot, fmt::format("n{} -> n{};", s_x, s_mul)));
  CHECK(contains(dot, fmt::format("n{} -> n{};", s_W, s_mul)));
  CHECK(contains(dot, fmt::format("n{} -> n{};", s_mul, s_add)));
  CHECK_FALSE(contains(dot, fmt::format("n{} -> n{};", s_mul, s_x)));
  // The constant input is drawn as such; the output has a double border.
  CHECK(contains(dot, "label=\"const\""));
  CHECK(contains(dot, "peripheries=2"));
  // Small graph: values are shown by default.
  CHECK(contains(dot, "value [[1, 2, 3],\\n [4, 5, 6]]"));
  CHECK(contains(dot, "value [0.1, 0.2, 0.3]"));
  CHECK_FALSE(contains(dot, "grad ["));
  // Values can be turned off.
  viz::DotOptions off;
  off.show_values = false;
  CHECK_FALSE(contains(viz::to_dot(g.y, off), "value"));
}

TEST_CASE("graph: DOT shows gradients after backward, retained ones for non-leaves") {
  SmallGraph g;
  g.h.retain_grad();
  g.y.backward();
  const std::string dot = viz::to_dot(g.y);
  // dy/dW = 2x, dy/db = 2 * 2 rows = 4, dy/dh = 2
  CHECK(contains(dot, "grad [[2, 4, 6],\\n [8, 10, 12]]"));
  CHECK(contains(dot, "grad [4, 4, 4]"));
  CHECK(contains(dot, "grad [[2, 2, 2],\\n [2, 2, 2]]"));
}

TEST_CASE("graph: DOT hides values of big tensors and escapes names") {
  Tensor big = ones({5, 5}, float64).requires_grad_().set_name("big \"matrix\"\\");
  Tensor y = (big * 3.0).sum();
  const std::string dot = viz::to_dot(y);
  CHECK_FALSE(contains(dot, "value"));
  CHECK(contains(dot, "label=\"big \\\"matrix\\\"\\\\\\n(5, 5) float64\""));
  viz::DotOptions on;
  on.show_values = true;
  on.title = "a \"title\"";
  const std::string forced = viz::to_dot(y, on);
  CHECK(contains(forced, "value [[1, 1, 1, 1, 1],"));
  CHECK(contains(forced, "label=\"a \\\"title\\\"\";"));
  // A tensor without a graph still gives valid DOT with one node.
  const std::string lone = viz::to_dot(tensor({1, 2}).set_name("t"));
  CHECK(contains(lone, "(no graph)"));
  CHECK(contains(lone, "value [1, 2]"));
}

TEST_CASE("graph: viz::save_dot writes atomically and Graphviz accepts the file") {
  SmallGraph g;
  g.y.backward();
  const auto dir = temp_dir();
  const auto path = dir / "g.dot";
  viz::save_dot(g.y, path.string());
  CHECK(read_file(path) == viz::to_dot(g.y));
  for (const auto& e : std::filesystem::directory_iterator(dir))
    CHECK(e.path().filename() == "g.dot");  // no temporary left behind
  CHECK_THROWS_WITH_AS(viz::save_dot(g.y, (dir / "missing" / "g.dot").string()),
                       doctest::Contains("missing/g.dot"), std::runtime_error);
  if (viz::graphviz_available()) {
    const auto svg = dir / "g.svg";
    CHECK(viz::dot_to_svg(path.string(), svg.string()));
    CHECK(contains(read_file(svg), "<svg"));
    // Labels with quotes and backslashes must still parse.
    Tensor odd = ones({2}, float64).requires_grad_().set_name("odd \"name\" \\ x");
    viz::save_dot(std::vector<Tensor>{odd * 2.0, exp(odd)}, (dir / "odd.dot").string());
    CHECK(viz::dot_to_svg((dir / "odd.dot").string(), (dir / "odd.svg").string()));
    // A file dot cannot parse is an error, not a silent false.
    std::ofstream(dir / "bad.dot") << "digraph { this is not dot";
    CHECK_THROWS_WITH_AS(viz::dot_to_svg((dir / "bad.dot").string(), (dir / "bad.svg").string()),
                         doctest::Contains("syntax error"), std::runtime_error);
    CHECK_FALSE(std::filesystem::exists(dir / "bad.svg"));
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("graph: dot_to_svg returns false when Graphviz is missing") {
  const char* old = std::getenv("PATH");
  const std::string saved = old ? old : "";
  ::setenv("PATH", "/nonexistent-dagrad-dir", 1);
  const bool available = viz::graphviz_available();
  const bool rendered = viz::dot_to_svg("/nonexistent.dot", "/nonexistent.svg");
  ::setenv("PATH", saved.c_str(), 1);
  CHECK_FALSE(available);
  CHECK_FALSE(rendered);
}

TEST_CASE("graph: tools handle a 100,000-op chain") {
  Tensor x = tensor({0.5}, {-1}, float64).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = y * 1.0;
  const std::string tape = viz::tape_listing(y);
  CHECK(std::count(tape.begin(), tape.end(), '\n') == 100001);
  CHECK(lines_of(viz::backward_order_listing(y)).size() == 100001);
  viz::DotOptions no_values;
  no_values.show_values = false;
  CHECK_FALSE(contains(viz::to_dot(y, no_values), "value"));
}
