// dagrad's half of tests/interop/pytorch_roundtrip.sh. The models are the five with a PyTorch
// equivalent (nn/pytorch.h), sized for Fashion-MNIST; pytorch_roundtrip.py builds the same ones.
//   dagrad-interop train MODEL NUM_TRAIN OUT.safetensors OUT.npz
//       trains one epoch on the first NUM_TRAIN training images, saves PyTorch names
//       (safetensors) and dagrad names (npz)
//   dagrad-interop logits MODEL WEIGHTS OUT.npy
//       loads WEIGHTS (.safetensors: PyTorch names, strict; .npz: dagrad names, strict) and
//       writes the eval-mode logits of the first 1,000 test images, float32 (1000, 10)
// Images are scaled to [0, 1] and not normalized further, so the Python side needs no statistics.
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "dagrad/dagrad.h"
#include "dagrad/io/npy.h"

using namespace dagrad;

namespace {

std::unique_ptr<nn::Classifier> make_model(const std::string& name) {
  if (name == "two_layer")
    return std::make_unique<nn::TwoLayerNet>(
        nn::TwoLayerNetConfig{.input_dim = 784, .hidden_dim = 100, .weight_scale = 1e-2});
  if (name == "fc_batchnorm")
    return std::make_unique<nn::FullyConnectedNet>(nn::FullyConnectedNetConfig{
        .hidden_dims = {100, 50}, .input_dim = 784, .normalization = "batchnorm"});
  if (name == "three_layer")
    return std::make_unique<nn::ThreeLayerConvNet>(nn::ThreeLayerConvNetConfig{
        .input_dim = {1, 28, 28}, .num_filters = 16, .filter_size = 5, .hidden_dim = 100});
  if (name == "lenet5") return std::make_unique<nn::LeNet5>();
  if (name == "vgg") return std::make_unique<nn::VGGNet>();
  throw std::invalid_argument("unknown model '" + name +
                              "' (two_layer, fc_batchnorm, three_layer, lenet5, vgg)");
}

// The first n images of a Fashion-MNIST split, (n, 1, 28, 28) in [0, 1], and their labels.
std::pair<Tensor, Tensor> images(const std::string& split, int64_t n) {
  const std::string dir = data::default_fashion_mnist_dir();
  auto [X, y] = data::read_mnist_pair(dir + "/" + split + "-images-idx3-ubyte.gz",
                                      dir + "/" + split + "-labels-idx1-ubyte.gz");
  return {slice(X, 0, 0, n) / 255.0, slice(y, 0, 0, n)};
}

void train_model(const std::string& model_name, int64_t n, const std::string& st_path,
                 const std::string& npz_path) {
  auto model = make_model(model_name);
  auto [X, y] = images("train", n);
  train::SolverOptions opts;
  opts.update_rule = "adam";
  opts.optim_config = {{"learning_rate", 1e-3}};
  opts.batch_size = 100;
  opts.num_epochs = 1;
  opts.verbose = false;
  train::Solver solver(*model, {X, y, slice(X, 0, 0, 1000), slice(y, 0, 0, 1000)}, opts);
  solver.train();
  nn::save_pytorch_safetensors(*model, st_path);
  nn::save_npz(*model, npz_path);
  std::printf("dagrad %s: trained one epoch on %lld images (accuracy on the first 1,000: %.3f)\n",
              model_name.c_str(), static_cast<long long>(n), solver.best_val_acc);
}

void logits(const std::string& model_name, const std::string& weights, const std::string& out) {
  auto model = make_model(model_name);
  if (weights.ends_with(".npz"))
    nn::load_npz(*model, weights);
  else
    nn::load_pytorch_safetensors(*model, weights);
  model->eval();
  Tensor X = images("t10k", 1000).first;
  no_grad guard;
  io::save_npy(model->forward(X), out);
}

}  // namespace

int main(int argc, char** argv) try {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "train" && argc == 6) {
    train_model(argv[2], std::stoll(argv[3]), argv[4], argv[5]);
  } else if (cmd == "logits" && argc == 5) {
    logits(argv[2], argv[3], argv[4]);
  } else {
    std::fprintf(stderr,
                 "usage: dagrad-interop train MODEL NUM_TRAIN OUT.safetensors OUT.npz\n"
                 "       dagrad-interop logits MODEL WEIGHTS OUT.npy\n");
    return 2;
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "dagrad-interop: %s\n", e.what());
  return 1;
}
