// PyTorch state_dict names and layouts (nn/pytorch.h), name-matched loading (Module::load_state)
// and the module file formats (nn/serialize.h).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "dagrad/io/safetensors.h"
#include "dagrad/nn/nn.h"
#include "tests/data/data_test_util.h"

using namespace dagrad;
using namespace dagrad::test_util;

namespace {

std::vector<std::string> names_of(const NamedTensors& state) {
  std::vector<std::string> out;
  for (const auto& [n, t] : state) out.push_back(n);
  return out;
}

const Tensor& find(const NamedTensors& state, const std::string& name) {
  for (const auto& [n, t] : state)
    if (n == name) return t;
  FAIL("no tensor " << name);
  throw;
}

// Every parameter and buffer set to distinct values, so that a swapped or transposed copy shows.
void fill_distinct(nn::Module& m, double offset) {
  no_grad guard;
  double v = offset;
  for (auto& [n, t] : m.state()) {
    std::vector<double> values(static_cast<std::size_t>(t.numel()));
    for (double& x : values) x = (v += 0.001);
    t.copy_(tensor(values, t.shape(), t.dtype()));
  }
}

nn::VGGNet small_vgg(uint64_t seed) {
  nn::VGGConfig c;
  c.input_dim = {1, 8, 8};
  c.stage_channels = {2, 3};
  c.hidden_dim = 5;
  c.num_classes = 4;
  c.seed = seed;
  return nn::VGGNet(c);
}

}  // namespace

TEST_CASE("pytorch: state_dict names follow torch.nn.Sequential numbering") {
  SUBCASE("TwoLayerNet: Flatten, Linear, ReLU, Linear; weights (out, in)") {
    nn::TwoLayerNet net({.input_dim = 4, .hidden_dim = 3, .num_classes = 2});
    fill_distinct(net, 0);
    const NamedTensors sd = nn::pytorch_state_dict(net);
    CHECK(names_of(sd) == std::vector<std::string>{"1.weight", "1.bias", "3.weight", "3.bias"});
    CHECK(find(sd, "1.weight").shape() == Shape{3, 4});
    CHECK(find(sd, "1.weight").to_vector() == transpose(net.W1, 0, 1).to_vector());
    CHECK(find(sd, "3.bias").to_vector() == net.b2.to_vector());
  }
  SUBCASE("LeNet5: features and classifier") {
    nn::LeNet5 net;
    CHECK(names_of(nn::pytorch_state_dict(net)) ==
          std::vector<std::string>{"features.0.weight", "features.0.bias", "features.3.weight",
                                   "features.3.bias", "classifier.0.weight", "classifier.0.bias",
                                   "classifier.2.weight", "classifier.2.bias",
                                   "classifier.4.weight", "classifier.4.bias"});
  }
  SUBCASE("VGGNet: BatchNormReLU2d is BatchNorm2d then ReLU") {
    nn::VGGNet net = small_vgg(0);
    const std::vector<std::string> names = names_of(nn::pytorch_state_dict(net));
    const std::vector<std::string> bn1 = {"features.1.weight", "features.1.bias",
                                          "features.1.running_mean", "features.1.running_var",
                                          "features.1.num_batches_tracked"};
    CHECK(names[0] == "features.0.weight");  // the convs have no bias
    CHECK(std::vector<std::string>(names.begin() + 1, names.begin() + 6) == bn1);
    CHECK(names[6] == "features.4.weight");  // conv, bn, relu, pool, conv
    CHECK(names[7] == "features.5.weight");
    CHECK(names[12] == "classifier.0.weight");
    CHECK(names.back() == "classifier.2.bias");
  }
  SUBCASE("FullyConnectedNet with batch norm and dropout") {
    nn::FullyConnectedNet net({.hidden_dims = {5, 4},
                               .input_dim = 6,
                               .num_classes = 3,
                               .dropout_keep_ratio = 0.5,
                               .normalization = "batchnorm"});
    const std::vector<std::string> names = names_of(nn::pytorch_state_dict(net));
    // Flatten 0, Linear 1, BN 2, ReLU 3, Dropout 4, Linear 5, BN 6, ReLU 7, Dropout 8, Linear 9
    CHECK(names[0] == "1.weight");
    CHECK(names[2] == "2.weight");
    CHECK(names[6] == "2.num_batches_tracked");
    CHECK(names[7] == "5.weight");
    CHECK(names.back() == "9.bias");
    CHECK(names.size() == 2 + 5 + 2 + 5 + 2);
  }
  SUBCASE("ThreeLayerConvNet: Conv2d, ReLU, MaxPool2d, Flatten, Linear, ReLU, Linear") {
    nn::ThreeLayerConvNet net({.input_dim = {1, 6, 6},
                               .num_filters = 2,
                               .filter_size = 3,
                               .hidden_dim = 5,
                               .num_classes = 3});
    const NamedTensors sd = nn::pytorch_state_dict(net);
    CHECK(names_of(sd) == std::vector<std::string>{"0.weight", "0.bias", "4.weight", "4.bias",
                                                   "6.weight", "6.bias"});
    CHECK(find(sd, "4.weight").shape() == Shape{5, 2 * 3 * 3});
  }
}

TEST_CASE("pytorch: export then import gives the same model, counters included") {
  nn::VGGNet a = small_vgg(1), b = small_vgg(2);
  fill_distinct(a, 0.5);
  Generator gen(3);
  const Tensor x = randn({2, 1, 8, 8}, gen);
  a.train();
  a.forward(x);
  a.forward(x);  // two training batches: num_batches_tracked = 2
  const NamedTensors sd = nn::pytorch_state_dict(a);
  CHECK(find(sd, "features.1.num_batches_tracked").item() == 2);
  CHECK(find(sd, "features.1.num_batches_tracked").dtype() == int64);
  const nn::LoadReport report = nn::load_pytorch_state_dict(b, sd);
  CHECK(report.complete());
  a.eval();
  b.eval();
  CHECK(a.forward(x).to_vector() == b.forward(x).to_vector());
  for (std::size_t i = 0; i < a.state().size(); ++i)
    CHECK(a.state()[i].second.to_vector() == b.state()[i].second.to_vector());
  const auto* bn = dynamic_cast<const nn::BatchNorm*>(b.children()[1].second.get());
  REQUIRE(bn != nullptr);
  CHECK(bn->num_batches_tracked == 2);
}

TEST_CASE("pytorch: strict loading lists every problem and changes nothing") {
  nn::TwoLayerNet net({.input_dim = 4, .hidden_dim = 3, .num_classes = 2, .seed = 1});
  const std::vector<double> before = net.W1.to_vector();
  NamedTensors sd = nn::pytorch_state_dict(net);
  sd[0].second = zeros({4, 3});  // a Linear weight in dagrad's (in, out) layout
  sd.erase(sd.begin() + 3);      // 3.bias
  sd.emplace_back("5.weight", zeros({1}));
  const std::string msg = error_of([&] { nn::load_pytorch_state_dict(net, sd); });
  CHECK(msg ==
        "load PyTorch state_dict into TwoLayerNet: missing: 3.bias; unexpected: 5.weight; "
        "mismatched: 1.weight: (3, 4) float32 vs (4, 3) float32");
  CHECK(net.W1.to_vector() == before);

  SUBCASE("not strict: loads what matches, reports the rest") {
    sd[1].second = full({3}, 7.0);  // 1.bias
    const nn::LoadReport r = nn::load_pytorch_state_dict(net, sd, false);
    CHECK(r.missing == std::vector<std::string>{"3.bias"});
    CHECK(r.unexpected == std::vector<std::string>{"5.weight"});
    CHECK(r.mismatched.size() == 1);
    CHECK(net.b1.to_vector() == std::vector<double>{7, 7, 7});
    CHECK(net.W1.to_vector() == before);
  }
  SUBCASE("a dtype mismatch is named") {
    NamedTensors good = nn::pytorch_state_dict(net);
    good[1].second = zeros({3}, float64);
    CHECK(error_of([&] { nn::load_pytorch_state_dict(net, good); }) ==
          "load PyTorch state_dict into TwoLayerNet: mismatched: 1.bias: (3,) float32 vs (3,) "
          "float64");
  }
  SUBCASE("a name given twice") {
    NamedTensors twice = nn::pytorch_state_dict(net);
    twice.push_back(twice[0]);
    CHECK(error_of([&] { nn::load_pytorch_state_dict(net, twice); }).find("'1.weight' twice") !=
          std::string::npos);
  }
}

TEST_CASE("pytorch: models without a torch.nn equivalent are refused by name") {
  nn::SmallResNet resnet;
  CHECK(error_of([&] { nn::pytorch_state_dict(resnet); }).find("layer 'block1_1'") !=
        std::string::npos);
  nn::SoftmaxClassifier softmax({});
  CHECK(error_of([&] { nn::pytorch_state_dict(softmax); }).find("no PyTorch equivalent") !=
        std::string::npos);
}

TEST_CASE("module: load_state matches by name in any order") {
  nn::TwoLayerNet a({.input_dim = 4, .hidden_dim = 3, .num_classes = 2, .seed = 1});
  nn::TwoLayerNet b({.input_dim = 4, .hidden_dim = 3, .num_classes = 2, .seed = 2});
  NamedTensors state = a.state();
  std::reverse(state.begin(), state.end());
  CHECK(b.load_state(state).complete());
  CHECK(b.W2.to_vector() == a.W2.to_vector());
  state.pop_back();  // W1
  CHECK(error_of([&] { b.load_state(state); }) == "load_state: TwoLayerNet: missing: W1");
  CHECK(b.load_state(state, false).missing == std::vector<std::string>{"W1"});
}

TEST_CASE("serialize: safetensors and npz files of a module, both name sets") {
  TempDir dir;
  nn::VGGNet a = small_vgg(1), b = small_vgg(2);
  fill_distinct(a, 0.25);
  a.train();
  Generator gen(0);
  a.forward(randn({2, 1, 8, 8}, gen));

  SUBCASE("PyTorch names: I64 counters, format pt") {
    const std::string path = dir.file("vgg.safetensors");
    nn::save_pytorch_safetensors(a, path);
    const io::SafetensorsContents file = io::load_safetensors(path);
    CHECK(file.metadata.at("format") == "pt");
    CHECK(file.int64_names == std::vector<std::string>{"features.1.num_batches_tracked",
                                                       "features.5.num_batches_tracked"});
    CHECK(nn::load_pytorch_safetensors(b, path).complete());
    CHECK(b.state()[3].second.to_vector() == a.state()[3].second.to_vector());
    // dagrad names are not PyTorch names: strict loading says so, naming the file.
    const std::string native = dir.file("vgg-native.safetensors");
    nn::save_safetensors(a, native);
    const std::string msg = error_of([&] { nn::load_pytorch_safetensors(b, native); });
    CHECK(msg.find("safetensors " + native +
                   ": load PyTorch state_dict into VGGNet: missing: "
                   "features.0.weight") == 0);
  }
  SUBCASE("dagrad names") {
    const std::string path = dir.file("vgg.safetensors");
    nn::save_safetensors(a, path, {{"note", "x"}});
    CHECK(io::load_safetensors(path).metadata.at("model") == a.describe());
    CHECK(nn::load_safetensors(b, path).complete());
    for (std::size_t i = 0; i < a.state().size(); ++i)
      CHECK(a.state()[i].second.to_vector() == b.state()[i].second.to_vector());
  }
  SUBCASE("npz, stored and deflated") {
    for (bool compress : {false, true}) {
      const std::string path = dir.file("vgg.npz");
      nn::save_npz(a, path, compress);
      nn::VGGNet c = small_vgg(5);
      CHECK(nn::load_npz(c, path).complete());
      for (std::size_t i = 0; i < a.state().size(); ++i)
        CHECK(a.state()[i].second.to_vector() == c.state()[i].second.to_vector());
    }
    nn::TwoLayerNet other({.input_dim = 4, .hidden_dim = 3, .num_classes = 2});
    const std::string path = dir.file("vgg.npz");
    const std::string msg = error_of([&] { nn::load_npz(other, path); });
    CHECK(msg.find("npz " + path + ": load_state: TwoLayerNet: missing: W1, b1, W2, b2") == 0);
  }
}
