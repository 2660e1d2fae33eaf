// The program all three consumer projects build against an installed dagrad: a two-layer net
// trained on the first 600 Fashion-MNIST training images, tested on the first 1,000 test images.
// It prints the test accuracy and exits non-zero if training did not learn (accuracy <= 0.5;
// chance is 0.1).
#include <dagrad/dagrad.h>

#include <cstdio>
#include <exception>

using namespace dagrad;

int main() try {
  const std::string dir = data::default_fashion_mnist_dir();
  auto [X_all, y_all] = data::read_mnist_pair(dir + "/train-images-idx3-ubyte.gz",
                                              dir + "/train-labels-idx1-ubyte.gz");
  auto [X_t, y_t] =
      data::read_mnist_pair(dir + "/t10k-images-idx3-ubyte.gz", dir + "/t10k-labels-idx1-ubyte.gz");
  // Rows flattened to 784 pixels scaled to [0, 1].
  auto rows = [](const Tensor& X, int64_t begin, int64_t end) {
    return reshape(slice(X, 0, begin, end), {end - begin, 784}) / 255.0;
  };
  train::SolverData split{rows(X_all, 0, 500), slice(y_all, 0, 0, 500), rows(X_all, 500, 600),
                          slice(y_all, 0, 500, 600)};
  // Fields set one by one: g++ 12's -Wextra warns about designated initializers that leave
  // fields to their defaults (-Wmissing-field-initializers).
  nn::TwoLayerNetConfig config;
  config.input_dim = 784;
  config.hidden_dim = 64;
  config.weight_scale = 1e-2;
  nn::TwoLayerNet model(config);
  train::SolverOptions options;
  options.update_rule = "adam";
  options.optim_config = {{"learning_rate", 2e-3}};
  options.batch_size = 50;
  options.num_epochs = 15;
  options.verbose = false;
  train::Solver solver(model, split, options);
  solver.train();
  const double acc = solver.check_accuracy(rows(X_t, 0, 1000), slice(y_t, 0, 0, 1000));
  std::printf("dagrad %s: two-layer net, 500 training images, test accuracy %.3f\n", version, acc);
  return acc > 0.5 ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 2;
}
