#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "dagrad/io/checkpoint.h"
#include "dagrad/nn/nn.h"
#include "dagrad/optim/optimizer.h"

using namespace dagrad;

namespace {
std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("dagrad_test_" + name)).string();
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("module: parameters are ordered, named and counted") {
  nn::TwoLayerNet net({.input_dim = 4, .hidden_dim = 3, .num_classes = 2});
  const nn::NamedTensors p = net.named_parameters();
  REQUIRE(p.size() == 4);
  CHECK(p[0].first == "W1");
  CHECK(p[1].first == "b1");
  CHECK(p[2].first == "W2");
  CHECK(p[3].first == "b2");
  CHECK(net.num_parameters() == 4 * 3 + 3 + 3 * 2 + 2);
  CHECK(net.weights().size() == 2);  // biases are not regularized
  for (auto& [n, t] : p) CHECK(t.requires_grad());
}

TEST_CASE("module: nested names, buffers and train/eval reach children") {
  Generator gen(0);
  nn::Sequential s;
  s.add(std::make_shared<nn::Linear>(3, 4, gen));
  s.add(std::make_shared<nn::BatchNorm1d>(4), "bn");
  const nn::NamedTensors p = s.named_parameters();
  REQUIRE(p.size() == 4);
  CHECK(p[0].first == "0.weight");
  CHECK(p[1].first == "0.bias");
  CHECK(p[2].first == "bn.gamma");
  CHECK(p[3].first == "bn.beta");
  const nn::NamedTensors b = s.named_buffers();
  REQUIRE(b.size() == 2);
  CHECK(b[0].first == "bn.running_mean");
  s.eval();
  CHECK_FALSE(s[1].is_training());
  s.train();
  CHECK(s[1].is_training());
}

TEST_CASE("module: zero_grad drops every gradient") {
  nn::TwoLayerNet net({.input_dim = 4, .hidden_dim = 3, .num_classes = 2, .weight_scale = 0.1});
  Tensor X = randn({5, 4}), y = tensor({0, 1, 0, 1, 1});
  net.loss(X, y).backward();
  for (auto& t : net.parameters()) CHECK(t.grad().defined());
  net.zero_grad();
  for (auto& t : net.parameters()) CHECK_FALSE(t.grad().defined());
}

TEST_CASE("module: a frozen module gets no gradient and no update, even with weight decay") {
  Generator gen(21);
  nn::Sequential net;
  auto body = net.add(std::make_shared<nn::Linear>(4, 5, gen));
  net.add(std::make_shared<nn::ReLU>());
  auto head = net.add(std::make_shared<nn::Linear>(5, 2, gen));
  const Tensor X = randn({6, 4}, gen), y = tensor({0, 1, 0, 1, 1, 0});
  auto adamw = optim::make_optimizer("adamw", net.parameters(),
                                     {{"learning_rate", 0.1}, {"weight_decay", 0.5}});
  cross_entropy(net(X), y).backward();  // a gradient first: freeze() drops it
  body->freeze();
  CHECK_FALSE(body->weight.requires_grad());
  CHECK_FALSE(body->weight.grad().defined());
  const Tensor w0 = body->weight.detach().clone(), b0 = body->bias.detach().clone();
  const Tensor h0 = head->weight.detach().clone();
  for (int i = 0; i < 3; ++i) {
    adamw->zero_grad();
    cross_entropy(net(X), y).backward();
    CHECK_FALSE(body->weight.grad().defined());
    CHECK(head->weight.grad().defined());
    adamw->step();
  }
  CHECK(max(abs(body->weight - w0)).item() == 0.0);  // no decay either
  CHECK(max(abs(body->bias - b0)).item() == 0.0);
  CHECK(max(abs(head->weight - h0)).item() > 0.0);
  // No moments were kept for the frozen parameters (indices 0 and 1).
  for (const auto& [name, t] : adamw->state()) {
    CAPTURE(name);
    CHECK((name == "t" || name.ends_with(".2") || name.ends_with(".3")));
  }
  // Unfrozen, it trains again; freezing the whole net leaves nothing to differentiate.
  body->unfreeze();
  adamw->zero_grad();
  cross_entropy(net(X), y).backward();
  adamw->step();
  CHECK(max(abs(body->weight - w0)).item() > 0.0);
  net.freeze();
  for (const Tensor& p : net.parameters()) CHECK_FALSE(p.requires_grad());
  CHECK_FALSE(cross_entropy(net(X), y).requires_grad());
}

TEST_CASE("module: L2 regularization is 0.5 * reg * sum(W^2) over weights only") {
  nn::TwoLayerNet net({.input_dim = 2, .hidden_dim = 2, .num_classes = 2, .dtype = float64});
  {
    no_grad g;
    net.W1.copy_(tensor({1, 2, 3, 4}, {2, 2}, float64));
    net.W2.copy_(tensor({1, 0, 0, 1}, {2, 2}, float64));
    net.b1.copy_(tensor({5, 5}, {2}, float64));
  }
  Tensor r = nn::l2_regularization(net, 0.1);
  CHECK(r.item() == doctest::Approx(0.5 * 0.1 * (1 + 4 + 9 + 16 + 1 + 1)));
}

TEST_CASE("checkpoint: round trip restores every parameter and buffer") {
  nn::FullyConnectedNetConfig c{.hidden_dims = {5},
                                .input_dim = 4,
                                .num_classes = 3,
                                .normalization = "batchnorm",
                                .seed = 1};
  nn::FullyConnectedNet a(c);
  c.seed = 2;
  nn::FullyConnectedNet b(c);
  const std::string path = temp_path("roundtrip.ckpt");
  a.save(path, {{"note", "hello"}});
  const io::Checkpoint ck = io::load_checkpoint(path);
  CHECK(ck.meta.at("note") == "hello");
  CHECK(ck.meta.at("model") == a.describe());
  b.load(path);
  const auto sa = a.state(), sb = b.state();
  REQUIRE(sa.size() == sb.size());
  for (std::size_t i = 0; i < sa.size(); ++i) {
    CHECK(sa[i].first == sb[i].first);
    CHECK(sa[i].second.to_vector() == sb[i].second.to_vector());
  }
  std::filesystem::remove(path);
}

TEST_CASE("checkpoint: corrupted, truncated and foreign files are refused, model untouched") {
  nn::TwoLayerNet a({.input_dim = 4, .hidden_dim = 3, .num_classes = 2, .seed = 1});
  nn::TwoLayerNet b({.input_dim = 4, .hidden_dim = 3, .num_classes = 2, .seed = 2});
  const std::string path = temp_path("corrupt.ckpt");
  a.save(path);
  const std::vector<double> before = b.W1.to_vector();
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto write = [&](const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  };

  SUBCASE("flipped byte") {
    std::string bad = bytes;
    bad[bad.size() / 2] ^= 0x5a;
    write(bad);
    const std::string msg = message_of([&] { b.load(path); });
    CHECK(msg.find(path) != std::string::npos);
    CHECK(msg.find("checksum") != std::string::npos);
  }
  SUBCASE("truncated") {
    write(bytes.substr(0, bytes.size() / 3));
    const std::string msg = message_of([&] { b.load(path); });
    CHECK(msg.find(path) != std::string::npos);
    CHECK_FALSE(msg.empty());
  }
  SUBCASE("wrong magic") {
    write("not a checkpoint at all");
    const std::string msg = message_of([&] { b.load(path); });
    CHECK(msg.find("wrong magic") != std::string::npos);
  }
  SUBCASE("missing file") {
    const std::string msg = message_of([&] { b.load(path + ".nope"); });
    CHECK(msg.find("cannot open") != std::string::npos);
  }
  SUBCASE("another architecture") {
    nn::TwoLayerNet other({.input_dim = 4, .hidden_dim = 7, .num_classes = 2});
    other.save(path);
    const std::string msg = message_of([&] { b.load(path); });
    CHECK(msg.find("W1") != std::string::npos);
    CHECK(msg.find("(4, 7)") != std::string::npos);
  }
  CHECK(b.W1.to_vector() == before);
  std::filesystem::remove(path);
}

TEST_CASE("checkpoint: writing is atomic (no temp file left, old file replaced whole)") {
  nn::TwoLayerNet a({.input_dim = 4, .hidden_dim = 3, .num_classes = 2});
  const std::string path = temp_path("atomic.ckpt");
  a.save(path);
  a.save(path);
  CHECK(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  CHECK_THROWS(a.save("/nonexistent-dir/x.ckpt"));
  std::filesystem::remove(path);
}
