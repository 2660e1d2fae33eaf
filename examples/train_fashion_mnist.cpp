// The main job: train a convnet on Fashion-MNIST with the Solver, report the test accuracy,
// and save the training curves, a picture of the first-layer filters and a checkpoint.
//
//   train-fashion-mnist                     # default settings (>= 0.92 test accuracy):
//       VGGNet stages {32, 64, 128}, fc 128, dropout 0.3; Adam 2e-3 with a cosine schedule
//       over 12 epochs, batch 128
//   train-fashion-mnist --quick             # a small run for CI (under a minute)
//   train-fashion-mnist --eval out/fashion_mnist/model.ckpt   # load a checkpoint, evaluate
//
// Any Solver option can be given as --name=value (e.g. --learning_rate=5e-4 --num_epochs=3).
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "dagrad/data/idx.h"
#include "dagrad/data/loader.h"
#include "dagrad/dist/communicator.h"
#include "dagrad/io/checkpoint.h"
#include "dagrad/io/image.h"
#include "dagrad/runtime/blas.h"
#include "dagrad/runtime/parallel.h"
#include "dagrad/viz/graph.h"
#if DAGRAD_HAVE_MPI
#include "dagrad/dist/mpi.h"
#endif
#include "dagrad/base/command_line.h"
#include "dagrad/nn/nn.h"
#include "dagrad/train/solver.h"
#include "examples/common.h"

using namespace dagrad;

namespace {

const char* const usage_text =
    "usage: train-fashion-mnist [--quick] [--eval CHECKPOINT] [--resume STATE] [--model "
    "vgg|threelayer|lenet|resnet]\n"
    "                           [--data DIR] [--out DIR] [--train-size N]\n"
    "                           [--channels 32,64] [--augment none|flip|crop|flip+crop]\n"
    "                           [--explain PAGE.html]  (the graph of the first minibatch)\n"
    "                           [--name=value ...]\n"
    "  Solver options (--name=value): update_rule, learning_rate, lr_decay, batch_size,\n"
    "  num_epochs, num_train_samples, num_val_samples, print_every, verbose, seed, ...";

// "32,64,128" -> {32, 64, 128}
std::vector<int64_t> parse_channels(const std::string& text) {
  std::vector<int64_t> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 1 || v > 4096)
      throw std::invalid_argument(fmt::format(
          "--channels: expected positive integers separated by commas (e.g. 32,64), got '{}'",
          text));
    out.push_back(v);
    pos = comma + 1;
  }
  return out;
}

// The interactive page of the loss graph on the first minibatch (viz::save_html), in
// evaluation mode so that each leaf's numerical check recomputes the same function (no dropout).
void write_explain_page(nn::Classifier& model, const data::Dataset& ds, int64_t batch_size,
                        const std::string& path) {
  const int64_t n = std::min<int64_t>(batch_size, ds.X_train.shape()[0]);
  const Tensor X = slice(ds.X_train, 0, 0, n), y = slice(ds.y_train, 0, 0, n);
  const bool was_training = model.is_training();
  model.eval();
  Tensor loss;
  {
    viz::NoteSavedTensors note;  // the page shows what each op saved
    loss = model.loss(X, y).set_name("loss");
  }
  viz::save_html({loss}, path,
                 {.title = fmt::format("{}: the loss on the first minibatch ({} images)",
                                       model.type_name(), n),
                  .recompute = [&] { return model.loss(X, y); }});
  model.train(was_training);
  fmt::print("wrote {}: the graph of the first minibatch's loss\n", path);
}

std::string join_channels(const std::vector<int64_t>& ch) {
  return fmt::format("{}", fmt::join(ch, ","));
}

// channels: the stage widths of vgg and resnet (empty: the model's default).
std::unique_ptr<nn::Classifier> make_model(const std::string& name,
                                           const std::vector<int64_t>& channels, uint64_t seed) {
  if (!channels.empty() && name != "vgg" && name != "resnet")
    throw std::invalid_argument(
        fmt::format("--channels applies to vgg and resnet, not to '{}'", name));
  if (name == "vgg") {
    nn::VGGConfig c;
    c.stage_channels = channels.empty() ? std::vector<int64_t>{32, 64, 128} : channels;
    c.hidden_dim = 128;
    c.dropout = 0.3;
    c.seed = seed;
    return std::make_unique<nn::VGGNet>(c);
  }
  if (name == "threelayer") {
    nn::ThreeLayerConvNetConfig c;
    c.input_dim = {1, 28, 28};
    c.filter_size = 5;
    c.num_filters = 32;
    c.hidden_dim = 256;
    c.weight_scale = 1e-2;
    c.seed = seed;
    return std::make_unique<nn::ThreeLayerConvNet>(c);
  }
  if (name == "lenet") {
    nn::ConvNetConfig c;
    c.seed = seed;
    return std::make_unique<nn::LeNet5>(c);
  }
  if (name == "resnet") {
    nn::ResNetConfig c;
    if (!channels.empty()) c.stage_channels = channels;
    c.seed = seed;
    return std::make_unique<nn::SmallResNet>(c);
  }
  throw std::invalid_argument(
      fmt::format("unknown model '{}' (expected vgg, threelayer, lenet or resnet)", name));
}

// The first conv layer's weights, whatever the model calls them.
Tensor first_conv_weight(const nn::Module& m) {
  for (auto& [name, t] : m.named_parameters())
    if (t.dim() == 4) return t;
  return Tensor();
}

struct Options {
  bool quick;
  std::string eval_path, resume_path, model_name, data_dir, out_dir, augment, explain_path;
  std::vector<int64_t> channels;
  int64_t train_size;
  std::map<std::string, std::string> solver_kv;  // the Solver's --name=value options
};

Options read_options(base::CommandLine& cli) {
  Options o;
  o.quick = cli.flag("--quick");  // CI setting: a slice of the data, one epoch
  o.eval_path = cli.text("--eval", "");
  // The training state written after every epoch (<out>/training_state.ckpt); a run
  // continued from one ends with the same weights as a run never interrupted.
  o.resume_path = cli.text("--resume", "");
  o.model_name = cli.text("--model", "vgg");
  o.data_dir = cli.text("--data", data::default_fashion_mnist_dir());
  o.out_dir = cli.text("--out", "out/fashion_mnist");
  if (const std::string c = cli.text("--channels", ""); !c.empty()) o.channels = parse_channels(c);
  o.augment = cli.text("--augment", "none");
  o.explain_path = cli.text("--explain", "");
  if (o.augment != "none" && o.augment != "flip" && o.augment != "crop" && o.augment != "flip+crop")
    throw std::invalid_argument(fmt::format(
        "--augment: unknown mode '{}' (expected none, flip, crop or flip+crop)", o.augment));
  o.train_size = cli.integer("--train-size", o.quick ? 6000 : -1);
  o.solver_kv = {{"update_rule", "adam"},
                 {"learning_rate", "2e-3"},
                 {"lr_schedule", "cosine"},
                 {"batch_size", "128"},
                 {"num_epochs", o.quick ? "1" : "12"},
                 {"num_train_samples", "2000"},
                 {"print_every", o.quick ? "10" : "50"},
                 {"seed", "0"}};
  if (o.quick) o.solver_kv["num_val_samples"] = "1000";
  for (const auto& [k, v] : cli.key_values()) o.solver_kv[k] = v;  // Solver options win
  cli.finish();
  // The cosine schedule ends with the run unless told otherwise.
  if (o.solver_kv["lr_schedule"] == "cosine" && !o.solver_kv.count("total_epochs"))
    o.solver_kv["total_epochs"] = o.solver_kv["num_epochs"];
  return o;
}

// Fashion-MNIST, its training split cut to the first train_size images when given.
data::Dataset load_data(const Options& o) {
  fmt::print("loading Fashion-MNIST from {} ...\n", o.data_dir);
  data::Dataset ds = data::load_fashion_mnist(o.data_dir);
  if (o.train_size > 0 && o.train_size < ds.X_train.shape()[0]) {
    ds.X_train = slice(ds.X_train, 0, 0, o.train_size);
    ds.y_train = slice(ds.y_train, 0, 0, o.train_size);
  }
  fmt::print("train {} | val {} | test {}\n", to_string(ds.X_train.shape()),
             to_string(ds.X_val.shape()), to_string(ds.X_test.shape()));
  return ds;
}

// --eval: the checkpoint's weights, their validation and test accuracy.
void evaluate_checkpoint(nn::Classifier& model, const data::Dataset& ds, const std::string& path) {
  model.load(path);
  train::SolverOptions o;
  o.verbose = false;
  train::Solver s(model, {ds.X_train, ds.y_train, ds.X_val, ds.y_val}, o);
  const double val = s.check_accuracy(ds.X_val, ds.y_val);
  const double test = s.check_accuracy(ds.X_test, ds.y_test);
  fmt::print("checkpoint {}: validation accuracy {:.4f}, test accuracy {:.4f}\n", path, val, test);
}

// The Solver options of the training run: the --name=value ones, the checkpoint and state files
// in the output directory, and the augmentation.
train::SolverOptions training_options(const Options& o,
                                      const std::shared_ptr<dist::Communicator>& comm) {
  train::SolverOptions opts = train::SolverOptions::from_map(o.solver_kv);
  opts.comm = comm;
  if (comm) fmt::print("data parallel: {} processes\n", comm->size());
  opts.checkpoint_name = o.out_dir + "/model";  // model_epoch_<e>.ckpt
  opts.checkpoint_meta = {{"arch", o.model_name}, {"channels", join_channels(o.channels)}};
  opts.state_path = o.out_dir + "/training_state.ckpt";
  // Augmentation: mirror left-right and/or shift by up to 2 pixels (zero padding), drawn by the
  // minibatch loader from a generator seeded by the run's seed (saved in the training state).
  if (o.augment != "none") {
    opts.augmentation.random_flip = o.augment.find("flip") != std::string::npos;
    opts.augmentation.random_crop_padding = o.augment.find("crop") != std::string::npos ? 2 : 0;
    fmt::print("augmentation: {}\n", o.augment);
  }
  return opts;
}

// The files of a finished run: the checkpoint, the curves and the first-layer filters.
void save_results(const nn::Classifier& model, const train::Solver& solver, const Options& o,
                  double test_acc) {
  const std::string ckpt = o.out_dir + "/model.ckpt";
  model.save(ckpt, {{"arch", o.model_name},
                    {"channels", join_channels(o.channels)},
                    {"test_acc", fmt::format("{:.6f}", test_acc)},
                    {"best_val_acc", fmt::format("{:.6f}", solver.best_val_acc)}});
  solver.save_curves(o.out_dir + "/curves.svg", "Fashion-MNIST " + o.model_name);
  if (Tensor w = first_conv_weight(model); w.defined()) {
    Tensor wf = w.detach().to(float32);
    const float* p = wf.data<float>();
    std::vector<float> v(p, p + wf.numel());
    io::save_png(
        io::tile_grid(v, static_cast<int>(wf.shape()[0]), static_cast<int>(wf.shape()[1]),
                      static_cast<int>(wf.shape()[2]), static_cast<int>(wf.shape()[3]), 1, 8),
        o.out_dir + "/filters.png");
  }
  fmt::print("saved {0}/model.ckpt, {0}/curves.svg, {0}/filters.png\n", o.out_dir);
  fmt::print("evaluate it later with: train-fashion-mnist --eval {}\n", ckpt);
}

}  // namespace

// Several processes under mpirun (examples/train_fashion_mnist_mpi.sh): MPI, and only rank 0
// prints and writes files. One process otherwise.
std::shared_ptr<dist::Communicator> start_processes(int* argc, char*** argv) {
  const int launched = dist::launcher_world_size();
#if DAGRAD_HAVE_MPI
  if (launched == 1) return nullptr;
  auto mpi = std::make_shared<dist::MpiSession>(argc, argv);
  if (mpi->rank() != 0 && !std::freopen("/dev/null", "w", stdout))
    throw std::runtime_error("cannot silence stdout on a rank other than 0");
  return mpi;
#else
  (void)argc;
  (void)argv;
  if (launched > 1)
    throw std::runtime_error(fmt::format(
        "started by mpirun as {} processes, but this build has no MPI support (install "
        "libopenmpi-dev and reconfigure with -Dmpi=enabled); refusing to train {} independent "
        "copies",
        launched, launched));
  return nullptr;
#endif
}

// After an error on one process, end them all: the others would wait in a collective forever.
[[noreturn]] void abort_processes(dist::Communicator* comm) {
#if DAGRAD_HAVE_MPI
  if (auto* mpi = dynamic_cast<dist::MpiSession*>(comm)) mpi->abort(1);
#else
  (void)comm;
#endif
  std::exit(1);
}

int main(int argc, char** argv) {
  std::shared_ptr<dist::Communicator> comm;
  try {
    comm = start_processes(&argc, &argv);
    const bool leader = !comm || comm->rank() == 0;
    base::CommandLine cli(argc, argv);
    if (cli.help(usage_text)) return 0;
    Options o = read_options(cli);
    // Training drives Adam's moments and many gradients into the denormal range, where each
    // operation costs ~100 cycles (epochs slowed 2x as training went on); flush them to zero.
    set_flush_denormal(true);
    fmt::print("dagrad {} | {} | denormals flushed to zero\n", version, blas::info());
    const data::Dataset ds = load_data(o);

    if (!o.eval_path.empty()) {
      // The checkpoint says which architecture it holds.
      const io::Checkpoint ck = io::load_checkpoint(o.eval_path);
      if (auto it = ck.meta.find("arch"); it != ck.meta.end()) o.model_name = it->second;
      if (auto it = ck.meta.find("channels"); it != ck.meta.end() && !it->second.empty())
        o.channels = parse_channels(it->second);
    }
    const uint64_t seed = std::stoull(o.solver_kv["seed"]);
    std::unique_ptr<nn::Classifier> model = make_model(o.model_name, o.channels, seed);
    fmt::print("{}", model->summary());
    std::filesystem::create_directories(o.out_dir);

    if (!o.eval_path.empty()) {
      evaluate_checkpoint(*model, ds, o.eval_path);
      return 0;
    }
    if (!o.explain_path.empty() && leader)
      write_explain_page(*model, ds, std::stoll(o.solver_kv["batch_size"]), o.explain_path);

    train::Solver solver(*model, {ds.X_train, ds.y_train, ds.X_val, ds.y_val},
                         training_options(o, comm));
    if (!o.resume_path.empty()) {
      solver.resume(o.resume_path);
      fmt::print("resumed from {} after epoch {}\n", o.resume_path, solver.epoch);
    }
    const auto t0 = std::chrono::steady_clock::now();
    solver.train();
    const double seconds = examples::seconds_since(t0);

    const double test_acc = solver.check_accuracy(ds.X_test, ds.y_test);
    fmt::print("best validation accuracy {:.4f}\n", solver.best_val_acc);
    fmt::print("test accuracy {:.4f}  ({} epochs, {:.1f} s of training)\n", test_acc, solver.epoch,
               seconds);
    if (leader) save_results(*model, solver, o, test_acc);  // rank 0 writes the files
    return 0;
  } catch (const std::exception& e) {
    if (comm && comm->size() > 1) {
      fmt::print(stderr, "error on rank {} of {}: {}\n", comm->rank(), comm->size(), e.what());
      abort_processes(comm.get());
    }
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
