// The cs231n sanity check before any real training: a model that works must be able to
// memorize a tiny training set. We train on 50 Fashion-MNIST images until every one of them is
// classified correctly (training accuracy 1.0) while the validation accuracy stays far lower —
// overfitting on purpose. If this fails, something in the model, the loss or the optimizer is
// broken, and no amount of tuning on the full data set will help.
//
//   overfit-small                         # ThreeLayerConvNet, 50 examples, 15 epochs
//   overfit-small --model twolayer        # TwoLayerNet instead
//   overfit-small --quick                 # validate on 200 images instead of 1000 (for CI)
//   overfit-small --epochs N --num-train N --lr LR --lr-decay D --batch-size N
//                 --weight-scale S --out DIR --data DIR
// Try --weight-scale 1e-2 --epochs 30: with smaller initial weights the same net needs about
// 20 epochs instead of 10 to settle at 1.0, a first taste of why initialization matters.
// Prints the loss and accuracy histories and "train accuracy 1.0000" at the end; exit status 1
// when the training accuracy of the last epoch is not 1.0. Saves the curves to
// <out>/curves.svg (default out/overfit_small).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "dagrad/base/command_line.h"
#include "dagrad/data/idx.h"
#include "dagrad/nn/nn.h"
#include "dagrad/train/solver.h"
#include "examples/common.h"

using namespace dagrad;

namespace {

std::unique_ptr<nn::Classifier> make_model(const std::string& name, double weight_scale) {
  if (name == "threelayer") {
    nn::ThreeLayerConvNetConfig c;
    c.input_dim = {1, 28, 28};
    c.num_filters = 16;
    c.filter_size = 7;
    c.hidden_dim = 100;
    c.weight_scale = weight_scale;
    return std::make_unique<nn::ThreeLayerConvNet>(c);
  }
  if (name == "twolayer") {
    nn::TwoLayerNetConfig c;
    c.input_dim = 28 * 28;
    c.hidden_dim = 100;
    c.weight_scale = weight_scale;
    return std::make_unique<nn::TwoLayerNet>(c);
  }
  throw std::invalid_argument(
      fmt::format("unknown model '{}' (expected threelayer or twolayer)", name));
}

std::string history(const std::vector<double>& v, const char* fmt_spec) {
  std::vector<std::string> parts;
  for (double x : v) parts.push_back(fmt::format(fmt::runtime(fmt_spec), x));
  return fmt::format("{}", fmt::join(parts, " "));
}

struct Options {
  std::string model_name;
  int epochs;
  int64_t num_train, num_val, batch_size;
  double learning_rate, lr_decay, weight_scale;
  std::string data_dir, out_dir;
};

Options read_options(base::CommandLine& cli) {
  Options o;
  o.model_name = cli.text("--model", "threelayer");
  const bool quick = cli.flag("--quick");
  o.epochs = static_cast<int>(cli.integer("--epochs", 15));
  o.num_train = cli.integer("--num-train", 50);
  o.num_val = quick ? 200 : 1000;
  o.batch_size = cli.integer("--batch-size", 10);
  o.learning_rate = cli.number("--lr", 2e-3);
  o.lr_decay = cli.number("--lr-decay", 1.0);
  o.weight_scale = cli.number("--weight-scale", 5e-2);
  o.data_dir = cli.text("--data", data::default_fashion_mnist_dir());
  o.out_dir = cli.text("--out", "out/overfit_small");
  cli.finish();
  return o;
}

// No regularization, adam, small batches: nothing should stand in the way of memorizing.
// Training accuracy is measured on the whole tiny set (num_train_samples = N).
train::SolverOptions memorizing_options(const Options& o) {
  train::SolverOptions opts;
  opts.update_rule = "adam";
  opts.optim_config = {{"learning_rate", o.learning_rate}};
  opts.batch_size = o.batch_size;
  opts.lr_decay = o.lr_decay;
  opts.num_epochs = o.epochs;
  opts.num_train_samples = o.num_train;
  opts.print_every = 5;
  opts.seed = 0;
  return opts;
}

void print_histories(const train::Solver& solver) {
  fmt::print("\n== histories\n");
  fmt::print("loss per iteration:\n  {}\n", history(solver.loss_history, "{:.3f}"));
  fmt::print("train accuracy per epoch (epoch 0 = before training):\n  {}\n",
             history(solver.train_acc_history, "{:.2f}"));
  fmt::print("val accuracy per epoch:\n  {}\n", history(solver.val_acc_history, "{:.2f}"));
}

// The claim checked: the LAST epoch's training accuracy is 1.0. It is read from the history, as
// the Solver puts the best-validation parameters back into the model at the end. The exit status.
int print_result(const train::Solver& solver, const Options& o, double seconds) {
  const double final_train = solver.train_acc_history.back();
  const auto first =
      std::find(solver.train_acc_history.begin(), solver.train_acc_history.end(), 1.0);
  fmt::print("\n== result\n");
  if (first != solver.train_acc_history.end())
    fmt::print("100% training accuracy first reached after epoch {}\n",
               first - solver.train_acc_history.begin());
  fmt::print("final loss {:.4f}, val accuracy {:.4f} (overfitting, as intended)\n",
             solver.loss_history.back(), solver.val_acc_history.back());
  fmt::print("wall time {:.1f} s ({:.1f} s training)\n", seconds, solver.train_seconds);
  fmt::print("train accuracy {:.4f}\n", final_train);
  if (final_train < 1.0) {
    fmt::print("FAILED: the model could not memorize {} examples\n", o.num_train);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    base::CommandLine cli(argc, argv);
    if (cli.help("usage: overfit-small [--model threelayer|twolayer] [--quick] [--epochs N]\n"
                 "                     [--num-train N] [--lr LR] [--lr-decay D] [--batch-size N]\n"
                 "                     [--weight-scale S] [--data DIR] [--out DIR]"))
      return 0;
    const Options o = read_options(cli);
    const auto t0 = std::chrono::steady_clock::now();

    const train::SolverData small = examples::load_subset(o.data_dir, o.num_train, o.num_val);
    fmt::print("training on {} examples {}, validating on {}\n", o.num_train,
               to_string(small.X_train.shape()), o.num_val);

    std::unique_ptr<nn::Classifier> model = make_model(o.model_name, o.weight_scale);
    fmt::print("\n== model\n{}", model->summary());

    fmt::print("\n== training (adam, lr {:g}, batch {}, {} epochs)\n", o.learning_rate,
               o.batch_size, o.epochs);
    train::Solver solver(*model, small, memorizing_options(o));
    solver.train();

    print_histories(solver);
    std::filesystem::create_directories(o.out_dir);
    const std::string svg = o.out_dir + "/curves.svg";
    solver.save_curves(svg, fmt::format("overfitting {} examples ({})", o.num_train, o.model_name));
    fmt::print("saved {}\n", svg);
    return print_result(solver, o, examples::seconds_since(t0));
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
