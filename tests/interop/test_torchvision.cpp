// The torchvision-structured models against torchvision 0.14 (tests/interop/fixtures/
// torchvision.json, written by torchvision_fixtures.py): the same state_dict names, the same
// parameter counts, and, with weights set by a formula both sides compute, the same eval-mode
// logits in float64.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "dagrad/base/file.h"
#include "dagrad/base/json.h"
#include "dagrad/nn/nn.h"

using namespace dagrad;
namespace json = dagrad::base::json;

namespace {

const json::Value& fixtures() {
  static const json::Value v = json::parse(base::read_file(
      std::string(DAGRAD_SOURCE_ROOT) + "/tests/interop/fixtures/torchvision.json", "fixture"));
  return v;
}

double number(const json::Value& v) { return std::stod(v.number_text()); }

// The formula of torchvision_fixtures.py for entry k of the state_dict.
Tensor formula(const std::string& name, const Shape& shape, int64_t k) {
  std::vector<double> v(shape.numel());
  const auto ends = [&name](const char* s) { return name.ends_with(s); };
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double x = static_cast<double>(i), kk = static_cast<double>(k);
    if (ends("running_mean"))
      v[i] = 0.1 * std::sin(0.3 * x + kk);
    else if (ends("running_var"))
      v[i] = 1 + 0.25 * std::sin(0.7 * x + kk);
    else if (shape.size() == 1 && ends("weight"))
      v[i] = 1 + 0.1 * std::sin(0.5 * x + kk);
    else if (shape.size() == 1)
      v[i] = 0.05 * std::sin(0.9 * x + kk);
    else
      v[i] = 2 / std::sqrt(static_cast<double>(shape.numel() / shape[0])) * std::sin(0.61 * x + kk);
  }
  return tensor(v, shape, float64);
}

}  // namespace

TEST_CASE("torchvision: AlexNet and VGG-11 (plain and _bn) give torchvision's logits" *
          doctest::test_suite("slow")) {
  const std::vector<std::pair<std::string, std::function<std::shared_ptr<nn::FeaturesClassifier>(
                                               const nn::TorchvisionOptions&)>>>
      models = {{"alexnet", nn::alexnet}, {"vgg11", nn::vgg11}, {"vgg11_bn", nn::vgg11_bn}};
  for (const auto& [name, make] : models) {
    INFO("model " << name);
    const json::Value& f = *fixtures().find("models")->find(name);
    auto net = make({.num_classes = 10, .dtype = float64, .initialize = false});
    // The names, in torchvision's order.
    const NamedTensors sd = nn::pytorch_state_dict(*net);
    const json::Array& keys = f.find("keys")->as_array();
    REQUIRE(sd.size() == keys.size());
    for (std::size_t k = 0; k < sd.size(); ++k) CHECK(sd[k].first == keys[k].as_string());
    // The formula's weights, loaded by those names.
    NamedTensors weights;
    for (std::size_t k = 0; k < sd.size(); ++k) {
      const auto& [n, t] = sd[k];
      weights.emplace_back(n, n.ends_with("num_batches_tracked")
                                  ? t
                                  : formula(n, t.shape(), static_cast<int64_t>(k)));
    }
    CHECK(nn::load_pytorch_state_dict(*net, weights).complete());
    net->eval();
    std::vector<int64_t> dims;
    for (const json::Value& d : f.find("input")->as_array()) dims.push_back(*d.as_uint64());
    const Shape in_shape(dims);
    std::vector<double> x(in_shape.numel());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37 * static_cast<double>(i));
    const std::vector<double> got = (*net)(tensor(x, in_shape, float64)).to_vector();
    const json::Array& want = f.find("logits")->as_array();
    REQUIRE(got.size() == want.size());
    double scale = 0;
    for (const json::Value& w : want) scale = std::max(scale, std::abs(number(w)));
    // float64 both sides, sums taken in other orders: ~1e-15 relative per layer.
    for (std::size_t i = 0; i < got.size(); ++i)
      CHECK(std::abs(got[i] - number(want[i])) <= 1e-10 * scale);
  }
}

TEST_CASE("torchvision: parameter counts equal torchvision's, 1000 classes" *
          doctest::test_suite("slow")) {
  const json::Value& counts = *fixtures().find("parameters");
  const std::vector<std::pair<std::string, std::function<std::shared_ptr<nn::FeaturesClassifier>(
                                               const nn::TorchvisionOptions&)>>>
      models = {{"alexnet", nn::alexnet},   {"vgg11", nn::vgg11},       {"vgg13", nn::vgg13},
                {"vgg16", nn::vgg16},       {"vgg19", nn::vgg19},       {"vgg11_bn", nn::vgg11_bn},
                {"vgg13_bn", nn::vgg13_bn}, {"vgg16_bn", nn::vgg16_bn}, {"vgg19_bn", nn::vgg19_bn}};
  for (const auto& [name, make] : models) {
    INFO("model " << name);
    CHECK(static_cast<uint64_t>(make({.initialize = false})->num_parameters()) ==
          *counts.find(name)->as_uint64());
  }
}

TEST_CASE("torchvision: the models' errors") {
  CHECK_THROWS_WITH_AS(nn::vgg(12, false), "vgg: depth must be 11, 13, 16 or 19, got 12",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(nn::alexnet({.num_classes = 0}),
                       "alexnet: num_classes (0) must be positive and dropout (0.5) in [0, 1)",
                       std::invalid_argument);
  auto net = nn::vgg11({.num_classes = 3, .initialize = false});
  CHECK(net->describe() == "VGG11(3 classes)");
  // Too small for five 2x2 poolings: the pooling's error names the sizes.
  CHECK_THROWS_AS((*net)(zeros({1, 3, 16, 16})), std::invalid_argument);
}
