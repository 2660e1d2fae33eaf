// Update rules side by side, as in the cs231n optimization notebook: the same
// FullyConnectedNet (same seed: same initial weights, same minibatch order) trained on a
// Fashion-MNIST subset with sgd, sgd_momentum, rmsprop and adam, each at cs231n's learning
// rate. Prints a table of the final training loss and train/val accuracy of each rule and
// saves the loss curves (loss.svg) and the accuracy curves (accuracy.svg).
//
//   compare-optimizers                 # 4000 training images, 5 epochs
//   compare-optimizers --quick         # 1000 images, 2 epochs (for CI)
//   compare-optimizers --num-train 10000 --epochs 8 --out DIR --data DIR
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "dagrad/base/command_line.h"
#include "dagrad/data/idx.h"
#include "dagrad/nn/nn.h"
#include "dagrad/train/solver.h"
#include "dagrad/viz/chart.h"
#include "examples/common.h"

using namespace dagrad;

namespace {

struct Rule {
  std::string name;
  double learning_rate;
  std::string color;
};

struct Run {
  Rule rule;
  std::vector<double> loss, train_acc, val_acc;
  double seconds = 0;
};

// The mean over a sliding window of k iterations: per-minibatch losses are noisy.
std::vector<double> smooth(const std::vector<double>& v, std::size_t k) {
  std::vector<double> out;
  double acc = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    acc += v[i];
    if (i >= k) acc -= v[i - k];
    out.push_back(acc / static_cast<double>(std::min(i + 1, k)));
  }
  return out;
}

struct Options {
  int64_t num_train, num_val;
  int epochs;
  std::string data_dir, out_dir;
};

Options read_options(base::CommandLine& cli) {
  Options o;
  const bool quick = cli.flag("--quick");
  o.num_train = cli.integer("--num-train", quick ? 1000 : 4000);
  o.num_val = cli.integer("--num-val", quick ? 500 : 1000);
  o.epochs = static_cast<int>(cli.integer("--epochs", quick ? 2 : 5));
  o.data_dir = cli.text("--data", data::default_fashion_mnist_dir());
  o.out_dir = cli.text("--out", "out/compare_optimizers");
  cli.finish();
  return o;
}

// cs231n's network for this comparison: five hidden layers of 100, weights N(0, 5e-2^2).
nn::FullyConnectedNetConfig network() {
  nn::FullyConnectedNetConfig net;
  net.hidden_dims = {100, 100, 100, 100, 100};
  net.input_dim = 28 * 28;
  net.num_classes = 10;
  net.weight_scale = 5e-2;
  net.seed = 0;
  return net;
}

// A fresh copy of the network (the same initial weights for every rule) trained with one rule.
Run train_with(const Rule& rule, const nn::FullyConnectedNetConfig& net,
               const train::SolverData& data, int epochs) {
  fmt::print("\n== {} (learning rate {:g})\n", rule.name, rule.learning_rate);
  nn::FullyConnectedNet model(net);
  train::Solver solver(model, data,
                       examples::comparison_options(rule.name, rule.learning_rate, epochs));
  solver.train();
  return {rule, solver.loss_history, solver.train_acc_history, solver.val_acc_history,
          solver.train_seconds};
}

// The loss averaged over the last epoch's iterations, the accuracies of the last epoch.
void print_table(const std::vector<Run>& runs, int epochs) {
  fmt::print("\n== results after {} epochs (loss: mean over the last epoch)\n", epochs);
  fmt::print("{:<14} {:>8} {:>12} {:>10} {:>10} {:>9}\n", "update rule", "lr", "loss", "train acc",
             "val acc", "seconds");
  const std::size_t per_epoch = runs[0].loss.size() / static_cast<std::size_t>(std::max(epochs, 1));
  for (const Run& r : runs) {
    const std::vector<double> s = smooth(r.loss, std::max<std::size_t>(per_epoch, 1));
    fmt::print("{:<14} {:>8.0e} {:>12.4f} {:>10.4f} {:>10.4f} {:>9.1f}\n", r.rule.name,
               r.rule.learning_rate, s.empty() ? 0.0 : s.back(), r.train_acc.back(),
               r.val_acc.back(), r.seconds);
  }
}

// loss.svg: the smoothed loss per iteration; accuracy.svg: train and val accuracy per epoch.
void save_figures(const std::vector<Run>& runs, const std::string& out_dir) {
  std::filesystem::create_directories(out_dir);
  viz::Chart loss{"training loss (mean of the last 10 iterations)", "iteration", "loss", {}};
  viz::Chart train{"training accuracy", "epoch", "accuracy", {}};
  viz::Chart val{"validation accuracy", "epoch", "accuracy", {}};
  for (const Run& r : runs) {
    loss.series.push_back({r.rule.name, {}, smooth(r.loss, 10), r.rule.color, false});
    const std::vector<double> ep = examples::epoch_axis(r.train_acc.size());
    train.series.push_back({r.rule.name, ep, r.train_acc, r.rule.color, true});
    val.series.push_back({r.rule.name, ep, r.val_acc, r.rule.color, true});
  }
  viz::save_svg(loss, out_dir + "/loss.svg");
  viz::save_svg({train, val}, out_dir + "/accuracy.svg", 2, 480, 360);
  fmt::print("\nsaved {0}/loss.svg and {0}/accuracy.svg\n", out_dir);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    base::CommandLine cli(argc, argv);
    if (cli.help("usage: compare-optimizers [--quick] [--num-train N] [--num-val N] [--epochs N]\n"
                 "                          [--data DIR] [--out DIR]"))
      return 0;
    const Options o = read_options(cli);
    const auto t0 = std::chrono::steady_clock::now();

    const train::SolverData subset = examples::load_subset(o.data_dir, o.num_train, o.num_val);
    fmt::print("{} training and {} validation images, {} epochs of batches of 100\n", o.num_train,
               o.num_val, o.epochs);
    const nn::FullyConnectedNetConfig net = network();
    fmt::print("\n== model\n{}", nn::FullyConnectedNet(net).summary());

    const std::vector<Rule> rules = {{"sgd", 1e-2, "#1f77b4"},
                                     {"sgd_momentum", 1e-2, "#ff7f0e"},
                                     {"rmsprop", 1e-4, "#2ca02c"},
                                     {"adam", 1e-3, "#d62728"}};
    std::vector<Run> runs;
    for (const Rule& rule : rules) runs.push_back(train_with(rule, net, subset, o.epochs));
    print_table(runs, o.epochs);
    save_figures(runs, o.out_dir);
    fmt::print("wall time {:.1f} s\n", examples::seconds_since(t0));
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
