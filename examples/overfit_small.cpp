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

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "data/idx.h"
#include "nn/nn.h"
#include "optim/solver.h"

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
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i)
    s += (i ? " " : "") + fmt::format(fmt::runtime(fmt_spec), v[i]);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string model_name = "threelayer", data_dir = data::default_fashion_mnist_dir();
    std::string out_dir = "out/overfit_small";
    int epochs = 15;
    int64_t num_train = 50, num_val = 1000, batch_size = 10;
    double learning_rate = 2e-3, lr_decay = 1.0, weight_scale = 5e-2;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&](const char* flag) -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(fmt::format("{} needs a value", flag));
        return argv[++i];
      };
      if (a == "--help" || a == "-h") {
        fmt::print("usage: overfit-small [--model threelayer|twolayer] [--quick] [--epochs N]\n"
                   "                     [--num-train N] [--lr LR] [--lr-decay D] [--batch-size N]\n"
                   "                     [--weight-scale S] [--data DIR] [--out DIR]\n");
        return 0;
      } else if (a == "--model") {
        model_name = value("--model");
      } else if (a == "--quick") {
        num_val = 200;
      } else if (a == "--epochs") {
        epochs = std::stoi(value("--epochs"));
      } else if (a == "--lr") {
        learning_rate = std::stod(value("--lr"));
      } else if (a == "--weight-scale") {
        weight_scale = std::stod(value("--weight-scale"));
      } else if (a == "--lr-decay") {
        lr_decay = std::stod(value("--lr-decay"));
      } else if (a == "--batch-size") {
        batch_size = std::stoll(value("--batch-size"));
      } else if (a == "--num-train") {
        num_train = std::stoll(value("--num-train"));
      } else if (a == "--data") {
        data_dir = value("--data");
      } else if (a == "--out") {
        out_dir = value("--out");
      } else {
        throw std::invalid_argument(fmt::format("unknown argument '{}'", a));
      }
    }
    const auto t0 = std::chrono::steady_clock::now();

    fmt::print("== data\nloading Fashion-MNIST from {} ...\n", data_dir);
    data::Dataset ds = data::load_fashion_mnist(data_dir);
    optim::SolverData small{slice(ds.X_train, 0, 0, num_train), slice(ds.y_train, 0, 0, num_train),
                            slice(ds.X_val, 0, 0, num_val), slice(ds.y_val, 0, 0, num_val)};
    fmt::print("training on {} examples {}, validating on {}\n", num_train,
               to_string(small.X_train.shape()), num_val);

    std::unique_ptr<nn::Classifier> model = make_model(model_name, weight_scale);
    fmt::print("\n== model\n{}", model->summary());

    // No regularization, adam, small batches: nothing should stand in the way of memorizing.
    // Training accuracy is measured on the whole tiny set (num_train_samples = N).
    optim::SolverOptions opts;
    opts.update_rule = "adam";
    opts.optim_config = {{"learning_rate", learning_rate}};
    opts.batch_size = batch_size;
    opts.lr_decay = lr_decay;
    opts.num_epochs = epochs;
    opts.num_train_samples = num_train;
    opts.print_every = 5;
    opts.seed = 0;
    fmt::print("\n== training (adam, lr {:g}, batch {}, {} epochs)\n", learning_rate, batch_size, epochs);
    optim::Solver solver(*model, small, opts);
    solver.train();

    // The Solver puts the best-VALIDATION parameters back into the model at the end; the claim
    // checked here is about the last epoch, so it is read from the history.
    const double final_train = solver.train_acc_history.back();
    const double final_val = solver.val_acc_history.back();
    int reached = -1;
    for (std::size_t e = 0; e < solver.train_acc_history.size(); ++e)
      if (solver.train_acc_history[e] == 1.0) {
        reached = static_cast<int>(e);
        break;
      }

    fmt::print("\n== histories\n");
    fmt::print("loss per iteration:\n  {}\n", history(solver.loss_history, "{:.3f}"));
    fmt::print("train accuracy per epoch (epoch 0 = before training):\n  {}\n",
               history(solver.train_acc_history, "{:.2f}"));
    fmt::print("val accuracy per epoch:\n  {}\n", history(solver.val_acc_history, "{:.2f}"));

    std::filesystem::create_directories(out_dir);
    const std::string svg = out_dir + "/curves.svg";
    solver.save_curves(svg, fmt::format("overfitting {} examples ({})", num_train, model_name));
    fmt::print("saved {}\n", svg);

    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("\n== result\n");
    if (reached >= 0) fmt::print("100% training accuracy first reached after epoch {}\n", reached);
    fmt::print("final loss {:.4f}, val accuracy {:.4f} (overfitting, as intended)\n",
               solver.loss_history.back(), final_val);
    fmt::print("wall time {:.1f} s ({:.1f} s training)\n", seconds, solver.train_seconds);
    fmt::print("train accuracy {:.4f}\n", final_train);
    if (final_train < 1.0) {
      fmt::print("FAILED: the model could not memorize {} examples\n", num_train);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
