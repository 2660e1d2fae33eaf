// viz::to_html: the page's data (nodes, values, a backward run per output computed by the
// rules, tangent runs) and its limits; the browser test (tests/browser/) drives the page itself.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <string>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/forward_mode.h"
#include "dagrad/autograd/node.h"
#include "dagrad/viz/graph.h"

using namespace dagrad;

namespace {
// The JSON between the data script's tags.
std::string data_of(const std::string& page) {
  const std::string open = "<script id=\"data\" type=\"application/json\">";
  const std::size_t a = page.find(open) + open.size();
  return page.substr(a, page.find("</script>", a) - a);
}
bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("to_html: nodes, values, adjoints from the rules, broadcast edges, tangents") {
  Tensor x = tensor({1, 2}, {-1}, float64).set_name("x").requires_grad_();
  Tensor w = scalar_tensor(3, float64).set_name("w").requires_grad_();
  Tensor h = (x * w).set_name("h");  // w is broadcast: its gradient is summed back
  Tensor y = sum(exp(h)).set_name("y");
  viz::TangentRun run{"dx = (1, 0)", {{x, tensor({1, 0}, {-1}, float64)}}};
  const std::string page = viz::to_html({y}, {.title = "demo", .tangent_runs = {run}});
  const std::string d = data_of(page);
  CHECK(page.starts_with("<!DOCTYPE html>"));
  // Offline: the only URL is the SVG namespace.
  std::string rest = page;
  for (std::size_t at; (at = rest.find("http://www.w3.org/2000/svg")) != std::string::npos;)
    rest.erase(at, 26);
  CHECK_FALSE(has(rest, "http"));
  CHECK(has(d, "\"title\":\"demo\""));
  CHECK(has(d, "\"label\":\"h\""));
  CHECK(has(d, "\"value\":{\"shape\":[2],\"values\":[3,6]}"));
  // The backward run of y: dy/dh = exp(h); dy/dw = sum(exp(h) * x), edge marked sum_to.
  CHECK(has(d, "\"label\":\"y\",\"order\":["));
  const double dw = std::exp(3.0) + 2 * std::exp(6.0);
  CHECK(has(d, fmt::format("{:.17g}", dw)));
  CHECK(has(d, "\"sum_to\":true"));
  CHECK(has(d, "\"direction\":\"dx = (1, 0)\""));
  CHECK(has(d, "\"error\":\"\""));
  // Nothing was accumulated into .grad, and a real backward still works afterwards.
  CHECK_FALSE(x.grad().defined());
  y.backward();
  CHECK(w.grad().item() == doctest::Approx(dw).epsilon(1e-15));
}

TEST_CASE("to_html: what each op saved, noted only under NoteSavedTensors") {
  Tensor a = tensor({1, 2}, {-1}, float64).requires_grad_(), b = tensor({3, 4}, {-1}, float64);
  b.requires_grad_();
  Tensor plain = a * b;
  CHECK(viz::saved_tensors_of(*plain.grad_fn()).empty());
  Tensor prod, e;
  {
    viz::NoteSavedTensors note;
    prod = a * b;   // saves both inputs
    e = exp(prod);  // keeps its output
  }
  const auto& saved = viz::saved_tensors_of(*prod.grad_fn());
  REQUIRE(saved.size() == 2);
  CHECK(saved[0].role == "input 0");  // a, for d/db
  CHECK(saved[1].role == "input 1");
  CHECK(saved[0].shape == Shape{2});
  REQUIRE(viz::saved_tensors_of(*e.grad_fn()).size() == 1);
  CHECK(viz::saved_tensors_of(*e.grad_fn())[0].role == "output");
  CHECK(has(data_of(viz::to_html({sum(e)})),
            "\"saved\":[{\"role\":\"input 0\",\"shape\":[2],\"dtype\":\"float64\"}"));
  // After the guard, nothing is noted.
  CHECK(viz::saved_tensors_of(*(a * b).grad_fn()).empty());
}

TEST_CASE("to_html: each leaf's sparse numerical check against the page's adjoints") {
  for (const Dtype dtype : {float64, float32}) {
    CAPTURE(dtype_name(dtype));
    Tensor x = tensor({0.3, -0.2, 0.5, 0.1}, {-1}, dtype).set_name("x").requires_grad_();
    Tensor w = tensor({0.7, 1.1, -0.4, 0.9}, {-1}, dtype).set_name("w").requires_grad_();
    auto f = [&] { return sum(exp(x * w) * x); };
    const Tensor y = f();
    const uint64_t version = x.version();
    const std::string d = data_of(viz::to_html({y}, {.recompute = f, .checks_per_leaf = 2}));
    // Two checks per leaf; the relative errors are what the step allows: about
    // h^2 |f'''| / |f'| + eps |f| / (h |f'|) with h = cbrt(eps): ~1e-10 in float64, ~1e-4 in
    // float32.
    const double bound = dtype == float64 ? 1e-8 : 1e-2;
    std::size_t checks = 0;
    for (std::size_t at = 0; (at = d.find("\"rel\":", at)) != std::string::npos; ++checks) {
      at += 6;
      CHECK(std::stod(d.substr(at)) <= bound);
    }
    CHECK(checks == 4);
    CHECK(has(d, "\"index\":2"));
    // The leaves are restored exactly, without a version bump: the graph still backpropagates.
    CHECK(x.version() == version);
    CHECK(x.to_vector() == tensor({0.3, -0.2, 0.5, 0.1}, {-1}, dtype).to_vector());
    y.backward();
    CHECK(x.grad().defined());
  }
}

TEST_CASE("to_html: hostile names, freed graphs and too many nodes") {
  Tensor x = scalar_tensor(1, float64).set_name("</script><b>\xff").requires_grad_();
  Tensor y = exp(x);
  const std::string page = viz::to_html({y});
  CHECK_FALSE(has(data_of(page), "</script>"));  // the data cannot end its element early
  CHECK(has(page, "<\\/script><b>?"));           // invalid UTF-8 replaced
  // After a backward that freed the graph the page still comes out, and says why there are
  // no adjoints.
  y.backward();
  CHECK(has(viz::to_html({y}), "already freed"));
  // A graph of more than 2000 nodes: the 1999 nodes nearest the output are drawn, the rest
  // (here the leaf and the first ops of the chain) become one collapsed node feeding them.
  Tensor z = scalar_tensor(1, float64).requires_grad_();
  Tensor acc = z;
  for (int i = 0; i < 2100; ++i) acc = acc * 1.01;
  const std::string big = data_of(viz::to_html({acc}));
  std::size_t drawn = 0;
  for (std::size_t at = 0; (at = big.find("\"seq\":", at)) != std::string::npos; ++at) ++drawn;
  CHECK(drawn == 2000);
  CHECK(has(big, "\"label\":\"102 earlier nodes\""));
  CHECK(has(big, "\"inputs\":[{\"id\":\"collapsed\"}]"));
  CHECK(has(big, "\"error\":\"\""));  // the backward run went through the whole chain
  // Outputs without a graph give an empty page, not an error.
  CHECK(has(data_of(viz::to_html({scalar_tensor(2.0)})), "\"nodes\":[]"));
}
