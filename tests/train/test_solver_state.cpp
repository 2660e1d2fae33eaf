// Resumable training: Generator and loader states, Solver::save_state / resume.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "dagrad/nn/nn.h"
#include "dagrad/train/solver.h"
#include "tests/data/data_test_util.h"

using namespace dagrad;
using namespace dagrad::test_util;

TEST_CASE("generator: state() restores the exact stream, cached normal included") {
  Generator a(42);
  a.normal();  // leaves a spare normal cached
  const std::string s = a.state();
  std::vector<double> expected;
  for (int i = 0; i < 5; ++i) expected.push_back(a.normal() + a.uniform());
  Generator b(7);
  b.set_state(s);
  for (double e : expected) CHECK(b.normal() + b.uniform() == e);
  CHECK(error_of([&] { b.set_state("1 2 3"); }).find("not a generator state") != std::string::npos);
  CHECK(error_of([&] { b.set_state(s + " extra"); }).find("not a generator state") !=
        std::string::npos);
  CHECK(b.state() != s);  // the failed calls left it as it was, mid-stream
}

namespace {

// Images (N, 1, 6, 6) whose class is the quadrant with the largest sum.
void image_data(int64_t n, uint64_t seed, Tensor& X, Tensor& y) {
  Generator gen(seed);
  X = randn({n, 1, 6, 6}, gen);
  Tensor q = reshape(X, {n, 2, 3, 2, 3});
  y = argmax(reshape(sum(sum(q, 4), 2), {n, 4}), 1);
}

// Dropout, batch norm, augmentation and a decaying learning rate: every source of state.
// `plain`: no dropout or batch norm (whose running statistics move the validation accuracy).
nn::FullyConnectedNetConfig net_config(bool plain) {
  if (plain)
    return {.hidden_dims = {12},
            .input_dim = 36,
            .num_classes = 4,
            .weight_scale = 0.1,
            .dtype = float64,
            .seed = 3};
  return {.hidden_dims = {12, 8},
          .input_dim = 36,
          .num_classes = 4,
          .dropout_keep_ratio = 0.8,
          .normalization = "batchnorm",
          .weight_scale = 0.1,
          .dtype = float64,
          .seed = 3};
}

struct Run {
  Tensor Xt, yt, Xv, yv;
  nn::FullyConnectedNet net;
  train::SolverOptions opts;
  Run(int epochs, const std::string& state_path, bool plain = false) : net(net_config(plain)) {
    image_data(120, 1, Xt, yt);
    image_data(40, 2, Xv, yv);
    Xt = Xt.to(float64);
    Xv = Xv.to(float64);
    opts.update_rule = "adam";
    opts.optim_config = {{"learning_rate", 1e-2}};
    opts.lr_decay = 0.8;
    opts.batch_size = 25;  // 120 rows: 4 batches, 20 rows dropped each epoch
    opts.num_epochs = epochs;
    opts.num_train_samples = 50;  // subsampled: the Solver's generator matters
    opts.augmentation = {.random_flip = true, .random_crop_padding = 1};
    opts.state_path = state_path;
    opts.verbose = false;
    opts.seed = 5;
  }
};

std::vector<std::vector<double>> values(const nn::Module& m) {
  std::vector<std::vector<double>> out;
  for (const auto& [n, t] : m.state()) out.push_back(t.to_vector());
  return out;
}

}  // namespace

TEST_CASE("solver: a resumed run ends bit-identical to an uninterrupted one") {
  TempDir dir;
  Run whole(3, dir.file("whole.state"));
  train::Solver a(whole.net, {whole.Xt, whole.yt, whole.Xv, whole.yv}, whole.opts);
  a.train();

  Run first(1, dir.file("part.state"));  // "killed" after epoch 1
  train::Solver b(first.net, {first.Xt, first.yt, first.Xv, first.yv}, first.opts);
  b.train();

  Run rest(3, dir.file("part.state"));
  train::Solver c(rest.net, {rest.Xt, rest.yt, rest.Xv, rest.yv}, rest.opts);
  c.resume(dir.file("part.state"));
  CHECK(c.epoch == 1);
  c.train();

  CHECK(values(rest.net) == values(whole.net));
  CHECK(c.loss_history == a.loss_history);
  CHECK(c.train_acc_history == a.train_acc_history);
  CHECK(c.val_acc_history == a.val_acc_history);
  CHECK(c.best_val_acc == a.best_val_acc);
  CHECK(c.optimizer().learning_rate() == a.optimizer().learning_rate());
  CHECK(c.loss_history.size() == 3 * 4);
}

TEST_CASE("solver: plateau and early-stopping state resume bit-identical") {
  // A learning rate so small that the accuracy stalls: the plateau cuts the rate and early
  // stopping ends the run, both mid-way, and both carry over a resume.
  TempDir dir;
  auto setup = [](Run& r) {
    r.opts.augmentation = {};
    r.opts.lr_schedule = "plateau";
    r.opts.optim_config = {{"learning_rate", 1e-9}};
    r.opts.lr_decay = 1.0;
    r.opts.schedule_config = {{"patience", 0}, {"factor", 0.5}, {"cooldown", 1}};
    r.opts.early_stopping_patience = 4;
  };
  Run whole(8, dir.file("whole.state"), true);
  setup(whole);
  train::Solver a(whole.net, {whole.Xt, whole.yt, whole.Xv, whole.yv}, whole.opts);
  a.train();
  // Epoch 1 sets the best; 2-5 do not beat it: stopped after epoch 5. The plateau (patience 0,
  // cooldown 1) halves the rate after epochs 2 and 4.
  CHECK(a.stopped_early);
  CHECK(a.epoch == 5);
  CHECK(a.val_acc_history.size() == 6);
  CHECK(a.optimizer().learning_rate() == 1e-9 * 0.25);

  Run first(3, dir.file("part.state"), true);
  setup(first);
  train::Solver b(first.net, {first.Xt, first.yt, first.Xv, first.yv}, first.opts);
  b.train();
  CHECK_FALSE(b.stopped_early);
  Run rest(8, dir.file("part.state"), true);
  setup(rest);
  train::Solver c(rest.net, {rest.Xt, rest.yt, rest.Xv, rest.yv}, rest.opts);
  c.resume(dir.file("part.state"));
  c.train();
  CHECK(c.stopped_early);
  CHECK(c.epoch == 5);
  CHECK(c.loss_history == a.loss_history);
  CHECK(c.val_acc_history == a.val_acc_history);
  CHECK(c.optimizer().learning_rate() == a.optimizer().learning_rate());
  CHECK(values(rest.net) == values(whole.net));
  // Resuming the finished run trains no further.
  Run again(8, dir.file("whole.state"), true);
  setup(again);
  train::Solver d(again.net, {again.Xt, again.yt, again.Xv, again.yv}, again.opts);
  d.resume(dir.file("whole.state"));
  d.train();
  CHECK(d.loss_history.size() == a.loss_history.size());
  CHECK(values(again.net) == values(whole.net));
}

TEST_CASE("solver: plateau and early-stopping options are checked") {
  Run r(1, "");
  auto make = [&r](train::SolverOptions o) {
    return error_of([&] { train::Solver s(r.net, {r.Xt, r.yt, r.Xv, r.yv}, o); });
  };
  train::SolverOptions o = r.opts;
  o.lr_schedule = "plateau";
  o.schedule_config = {{"factor", 1.0}};
  CHECK(make(o) == "plateau schedule: 'factor' = 1 must be in (0, 1)");
  o.schedule_config = {{"patience", 1.5}};
  CHECK(make(o) == "plateau schedule: 'patience' = 1.5 must be a whole number >= 0");
  o.schedule_config = {{"gamma", 0.1}};
  CHECK(make(o) ==
        "plateau schedule: unknown config key 'gamma' (valid: cooldown, factor, min_lr, patience, "
        "threshold)");
  o = r.opts;
  o.early_stopping_patience = -1;
  CHECK(make(o) ==
        "Solver: early_stopping_patience (-1) and early_stopping_min_delta (0) must be >= 0");
  const auto parsed = train::SolverOptions::from_map({{"early_stopping_patience", "3"},
                                                      {"early_stopping_min_delta", "0.01"},
                                                      {"lr_schedule", "plateau"},
                                                      {"patience", "2"},
                                                      {"factor", "0.5"}});
  CHECK(parsed.early_stopping_patience == 3);
  CHECK(parsed.early_stopping_min_delta == 0.01);
  CHECK(parsed.schedule_config.at("patience") == 2);
}

TEST_CASE("solver: resume refuses what does not fit, and changes nothing") {
  TempDir dir;
  Run saved(1, dir.file("s.state"));
  train::Solver s(saved.net, {saved.Xt, saved.yt, saved.Xv, saved.yv}, saved.opts);
  s.train();

  Run target(2, "");
  train::Solver t(target.net, {target.Xt, target.yt, target.Xv, target.yv}, target.opts);
  const auto before = values(target.net);
  auto resume_error = [&](const std::string& path) { return error_of([&] { t.resume(path); }); };

  SUBCASE("a model checkpoint, not a training state") {
    saved.net.save(dir.file("model.ckpt"));
    CHECK(resume_error(dir.file("model.ckpt")) ==
          "resume " + dir.file("model.ckpt") +
              ": not a training state (a model checkpoint? load those with Module::load)");
  }
  SUBCASE("another model") {
    Run other(1, dir.file("o.state"));
    nn::FullyConnectedNet net(
        {.hidden_dims = {12}, .input_dim = 36, .num_classes = 4, .dtype = float64});
    train::Solver o(net, {other.Xt, other.yt, other.Xv, other.yv}, other.opts);
    o.train();
    const std::string msg = resume_error(dir.file("o.state"));
    CHECK(msg.find("it was saved with the model FullyConnectedNet(36 -> 12 -> 4)") !=
          std::string::npos);
  }
  SUBCASE("another batch size") {
    Run other(2, "");
    other.opts.batch_size = 20;
    train::Solver o(other.net, {other.Xt, other.yt, other.Xv, other.yv}, other.opts);
    CHECK(error_of([&] {
            o.resume(dir.file("s.state"));
          }).find("saved with batch size 25 but this run has 20") != std::string::npos);
  }
  SUBCASE("a missing file") {
    CHECK(error_of<std::runtime_error>([&] {
            t.resume(dir.file("none"));
          }).find("cannot open file") != std::string::npos);
  }
  CHECK(values(target.net) == before);
  CHECK(t.epoch == 0);
  CHECK(t.loss_history.empty());
}

TEST_CASE("dist: the launcher's process count, and a batch that does not split") {
  ::unsetenv("PMI_SIZE");
  ::setenv("OMPI_COMM_WORLD_SIZE", "4", 1);
  CHECK(dist::launcher_world_size() == 4);
  ::unsetenv("OMPI_COMM_WORLD_SIZE");
  CHECK(dist::launcher_world_size() == 1);

  // A communicator of 3 processes that never communicates: enough for the Solver's checks.
  struct Three : dist::SingleProcess {
    int size() const override { return 3; }
  };
  Tensor X = zeros({12, 6}), y = zeros({12});
  nn::TwoLayerNet net({.input_dim = 6, .hidden_dim = 4, .num_classes = 3});
  train::SolverOptions o;
  o.batch_size = 4;
  o.comm = std::make_shared<Three>();
  CHECK(error_of([&] {
          train::Solver s(net, {X, y, X, y}, o);
        }) == "Solver: batch_size 4 does not split evenly across 3 processes");
}
