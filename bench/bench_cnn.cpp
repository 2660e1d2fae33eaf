// Workload 3: a small CNN on MNIST-sized input, one Adam step.
//   conv3x3 1->32 pad 1, ReLU, max-pool 2, conv3x3 32->64 pad 1, ReLU, max-pool 2,
//   Linear 3136->128, ReLU, Linear 128->10; batch 64 of 1x28x28; softmax cross-entropy.
// One run = forward, loss, zero_grad, backward, optimizer step, loss.item().
//
//   bench_cnn [--repeats N] [--warmup N] [--threads N] [--batch 64]
#include <cstdio>
#include <exception>

#include "bench/bench_common.h"
#include "dagrad/autograd/ops/loss.h"
#include "dagrad/nn/nn.h"
#include "dagrad/optim/optimizer.h"

using namespace dagrad;

int main(int argc, char** argv) {
  try {
    bench::Args args(argc, argv, "bench_cnn", "[--batch N]");
    const bench::Common c = bench::common_flags(args, 30, 3);
    const int batch = args.get_int("--batch", 64, 1);
    args.finish();

    Generator gen(0);
    const nn::Init he{nn::InitScheme::he, 0.0};
    nn::Sequential model;
    model.add(
        std::make_shared<nn::Conv2d>(1, 32, 3, gen, nn::Conv2dOptions{.padding = 1, .init = he}));
    model.add(std::make_shared<nn::ReLU>());
    model.add(std::make_shared<nn::MaxPool2d>(2));
    model.add(
        std::make_shared<nn::Conv2d>(32, 64, 3, gen, nn::Conv2dOptions{.padding = 1, .init = he}));
    model.add(std::make_shared<nn::ReLU>());
    model.add(std::make_shared<nn::MaxPool2d>(2));
    model.add(std::make_shared<nn::Flatten>());
    model.add(std::make_shared<nn::Linear>(3136, 128, gen, he));
    model.add(std::make_shared<nn::ReLU>());
    model.add(std::make_shared<nn::Linear>(128, 10, gen, he));
    auto opt = optim::make_optimizer("adam", model.parameters(), {{"learning_rate", 1e-3}});

    const Tensor X = randn({batch, 1, 28, 28}, gen);
    const Tensor y = randint(0, 10, {batch}, gen);
    const bench::TrainingRuns r = bench::time_training_steps(model, *opt, X, y, c);

    std::printf("CNN 1x28x28 conv32-pool-conv64-pool-fc128-fc10, batch %d, adam: last loss %.4f\n",
                batch, r.last_loss);
    bench::print_training("cnn", r, batch, c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cnn: %s\n", e.what());
    return 1;
  }
  return 0;
}
