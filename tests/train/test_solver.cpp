#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "dagrad/io/checkpoint.h"
#include "dagrad/nn/nn.h"
#include "dagrad/train/solver.h"

using namespace dagrad;

namespace {
// A separable toy problem: the class is the index of the largest of the first 3 features.
void toy_data(int64_t n, uint64_t seed, Tensor& X, Tensor& y) {
  Generator gen(seed);
  X = randn({n, 6}, gen);
  y = argmax(slice(X, 1, 0, 3), 1);
}
}  // namespace

TEST_CASE("solver: histories, lr decay, best parameters restored") {
  Tensor Xt, yt, Xv, yv;
  toy_data(200, 1, Xt, yt);
  toy_data(100, 2, Xv, yv);
  nn::TwoLayerNet net({.input_dim = 6, .hidden_dim = 16, .num_classes = 3, .weight_scale = 0.1});
  train::SolverOptions o;
  o.update_rule = "sgd_momentum";
  o.optim_config = {{"learning_rate", 0.05}};
  o.lr_decay = 0.9;
  o.batch_size = 20;
  o.num_epochs = 10;
  o.verbose = false;
  train::Solver s(net, {Xt, yt, Xv, yv}, o);
  s.train();
  CHECK(s.loss_history.size() == 10 * 10);
  CHECK(s.train_acc_history.size() == 11);  // before training + after each epoch
  CHECK(s.val_acc_history.size() == 11);
  CHECK(s.optimizer().learning_rate() == doctest::Approx(0.05 * std::pow(0.9, 10)));
  CHECK(s.loss_history.back() < s.loss_history.front());
  CHECK(s.best_val_acc == *std::max_element(s.val_acc_history.begin(), s.val_acc_history.end()));
  // the model now holds the best-validation parameters
  CHECK(s.check_accuracy(Xv, yv) == doctest::Approx(s.best_val_acc));
  CHECK(s.best_val_acc > 0.6);
}

namespace {
// A Sequential of Linear - ReLU - Linear, its weights drawn from `seed`.
std::shared_ptr<nn::Sequential> mlp(uint64_t seed) {
  Generator gen(seed);
  auto s = std::make_shared<nn::Sequential>();
  s->add(std::make_shared<nn::Linear>(6, 16, gen));
  s->add(std::make_shared<nn::ReLU>());
  s->add(std::make_shared<nn::Linear>(16, 3, gen));
  return s;
}
// The same Sequential as a Classifier (its own loss and predict, cross-entropy and argmax).
struct Wrapped : nn::Classifier {
  explicit Wrapped(std::shared_ptr<nn::Sequential> b) : body(register_module("body", b)) {}
  Tensor forward(const Tensor& x) override { return body->forward(x); }
  std::string type_name() const override { return "Wrapped"; }
  std::shared_ptr<nn::Sequential> body;
};
train::SolverOptions quick_adam() {
  train::SolverOptions o;
  o.update_rule = "adam";
  o.optim_config = {{"learning_rate", 1e-2}};
  o.batch_size = 20;
  o.num_epochs = 5;
  o.verbose = false;
  return o;
}
}  // namespace

TEST_CASE("solver: trains any module whose forward gives scores, as a Classifier of it") {
  Tensor Xt, yt, Xv, yv;
  toy_data(200, 1, Xt, yt);
  toy_data(100, 2, Xv, yv);
  auto plain = mlp(5);
  Wrapped wrapped(mlp(5));
  train::Solver a(*plain, {Xt, yt, Xv, yv}, quick_adam());
  train::Solver b(wrapped, {Xt, yt, Xv, yv}, quick_adam());
  a.train();
  b.train();
  // Cross-entropy on the forward's scores and argmax predictions: the same run bit for bit.
  REQUIRE(a.loss_history.size() == 50);
  CHECK(a.loss_history == b.loss_history);
  CHECK(a.val_acc_history == b.val_acc_history);
  CHECK(a.best_val_acc > 0.8);
  CHECK(a.check_accuracy(Xv, yv) == doctest::Approx(a.best_val_acc));  // best restored
  // One score per row for 3 classes: cross_entropy's error names the problem.
  Generator gen(6);
  auto narrow = std::make_shared<nn::Sequential>();
  narrow->add(std::make_shared<nn::Linear>(6, 1, gen));
  train::Solver bad(*narrow, {Xt, yt, Xv, yv}, quick_adam());
  try {
    bad.train();
    FAIL("no error");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()) ==
          "cross_entropy: label 2 at index 1 is out of range for 1 classes (expected 0 to 0)");
  }
}

TEST_CASE("solver: overfits 50 examples to 100% training accuracy") {
  Generator gen(3);
  Tensor X = randn({50, 1, 8, 8}, gen), y = randint(0, 10, {50}, gen);
  nn::ThreeLayerConvNet net({.input_dim = {1, 8, 8},
                             .num_filters = 8,
                             .filter_size = 3,
                             .hidden_dim = 64,
                             .num_classes = 10,
                             .weight_scale = 1e-1});
  train::SolverOptions o;
  o.update_rule = "adam";
  o.optim_config = {{"learning_rate", 5e-3}};
  o.batch_size = 25;
  o.num_epochs = 30;
  o.verbose = false;
  train::Solver s(net, {X, y, X, y}, o);
  s.train();
  CHECK(s.check_accuracy(X, y) == doctest::Approx(1.0));
}

TEST_CASE("solver: per-epoch checkpoints and option parsing") {
  Tensor Xt, yt;
  toy_data(40, 4, Xt, yt);
  nn::TwoLayerNet net({.input_dim = 6, .hidden_dim = 4, .num_classes = 3});
  const std::string base = (std::filesystem::temp_directory_path() / "dagrad_solver_test").string();
  train::SolverOptions o = train::SolverOptions::from_map({{"update_rule", "adam"},
                                                           {"learning_rate", "1e-3"},
                                                           {"num_epochs", "2"},
                                                           {"batch_size", "20"},
                                                           {"verbose", "false"},
                                                           {"checkpoint_name", base}});
  CHECK(o.optim_config.at("learning_rate") == doctest::Approx(1e-3));
  train::Solver s(net, {Xt, yt, Xt, yt}, o);
  s.train();
  for (int e = 1; e <= 2; ++e) {
    const std::string p = base + "_epoch_" + std::to_string(e) + ".ckpt";
    CHECK(std::filesystem::exists(p));
    CHECK(io::load_checkpoint(p).meta.at("epoch") == std::to_string(e));
    std::filesystem::remove(p);
  }
}

TEST_CASE("solver: bad options are clear errors") {
  Tensor Xt, yt;
  toy_data(10, 5, Xt, yt);
  nn::TwoLayerNet net({.input_dim = 6, .hidden_dim = 4, .num_classes = 3});
  CHECK_THROWS_WITH_AS(train::SolverOptions::from_map({{"learnin_rate", "1"}}),
                       doctest::Contains("learnin_rate"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(train::SolverOptions::from_map({{"batch_size", "ten"}}),
                       doctest::Contains("batch_size"), std::invalid_argument);
  train::SolverOptions o;
  o.update_rule = "adamax";
  CHECK_THROWS_WITH_AS(train::Solver(net, {Xt, yt, Xt, yt}, o), doctest::Contains("adamax"),
                       std::invalid_argument);
  train::SolverOptions ok;
  CHECK_THROWS_WITH_AS(train::Solver(net, {Xt, slice(yt, 0, 0, 5), Xt, yt}, ok),
                       doctest::Contains("training"), std::invalid_argument);
}

TEST_CASE("solver: careless calls and options are errors, not hangs or overflows") {
  Tensor X, y;
  toy_data(40, 1, X, y);
  nn::TwoLayerNet net({.input_dim = 6, .hidden_dim = 4, .num_classes = 3});
  train::SolverOptions o;
  o.verbose = false;
  o.batch_size = 10;
  train::Solver s(net, {X, y, X, y}, o);
  CHECK_THROWS_WITH_AS(s.check_accuracy(X, y, -1, 0),
                       "check_accuracy: batch_size must be positive, got 0", std::invalid_argument);
  CHECK_THROWS_WITH_AS(s.check_accuracy(X, slice(y, 0, 0, 30)),
                       "check_accuracy: inputs of shape (40, 6) do not match labels of shape (30,)",
                       std::invalid_argument);
  Tensor none = slice(X, 0, 0, 0), no_labels = slice(y, 0, 0, 0);
  CHECK_THROWS_WITH_AS(train::Solver(net, {none, no_labels, X, y}, o),
                       "Solver: the training set is empty (0 rows)", std::invalid_argument);
  using train::SolverOptions;
  CHECK_THROWS_WITH_AS(
      SolverOptions::from_map({{"batch_size", "1e300"}}),
      "Solver option 'batch_size': '1e300' is not a whole number in [1, 1000000000000000]",
      std::invalid_argument);
  CHECK_THROWS_WITH_AS(SolverOptions::from_map({{"num_epochs", "nan"}}),
                       "Solver option 'num_epochs': 'nan' is not a whole number in [0, 1000000000]",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(SolverOptions::from_map({{"seed", "-1"}}),
                       "Solver option 'seed': '-1' is not a whole number in [0, 9007199254740992]",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(
      SolverOptions::from_map({{"batch_size", "2.5"}}),
      "Solver option 'batch_size': '2.5' is not a whole number in [1, 1000000000000000]",
      std::invalid_argument);
  CHECK(SolverOptions::from_map({{"batch_size", "64"}, {"seed", "7"}}).seed == 7);
}
