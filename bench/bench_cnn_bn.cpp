// Workload 4: a CNN with batch norm and dropout on CIFAR-sized input, one SGD-momentum step.
//   conv3x3 3->32 pad 1 + BN + ReLU + max-pool 2, conv3x3 32->64 pad 1 + BN + ReLU + max-pool 2,
//   Linear 4096->256 + ReLU + dropout 0.5, Linear 256->10; batch 64 of 3x32x32.
// One run = forward, loss, zero_grad, backward, optimizer step, loss.item().
//
//   bench_cnn_bn [--repeats N] [--warmup N] [--threads N] [--batch 64]
#include <cstdio>
#include <exception>

#include "bench/bench_common.h"
#include "dagrad/autograd/ops/loss.h"
#include "dagrad/nn/nn.h"
#include "dagrad/optim/optimizer.h"

using namespace dagrad;

int main(int argc, char** argv) {
  try {
    bench::Args args(argc, argv, "bench_cnn_bn", "[--batch N]");
    const bench::Common c = bench::common_flags(args, 30, 3);
    const int batch = args.get_int("--batch", 64, 1);
    args.finish();

    Generator gen(0);
    const nn::Init he{nn::InitScheme::he, 0.0};
    nn::Sequential model;
    model.add(
        std::make_shared<nn::Conv2d>(3, 32, 3, gen, nn::Conv2dOptions{.padding = 1, .init = he}));
    model.add(std::make_shared<nn::BatchNorm2d>(32));
    model.add(std::make_shared<nn::ReLU>());
    model.add(std::make_shared<nn::MaxPool2d>(2));
    model.add(
        std::make_shared<nn::Conv2d>(32, 64, 3, gen, nn::Conv2dOptions{.padding = 1, .init = he}));
    model.add(std::make_shared<nn::BatchNorm2d>(64));
    model.add(std::make_shared<nn::ReLU>());
    model.add(std::make_shared<nn::MaxPool2d>(2));
    model.add(std::make_shared<nn::Flatten>());
    model.add(std::make_shared<nn::Linear>(4096, 256, gen, he));
    model.add(std::make_shared<nn::ReLU>());
    model.add(std::make_shared<nn::Dropout>(0.5, 1));
    model.add(std::make_shared<nn::Linear>(256, 10, gen, he));
    auto opt = optim::make_optimizer("sgd_momentum", model.parameters(),
                                     {{"learning_rate", 1e-2}, {"momentum", 0.9}});

    const Tensor X = randn({batch, 3, 32, 32}, gen);
    const Tensor y = randint(0, 10, {batch}, gen);
    const bench::TrainingRuns r = bench::time_training_steps(model, *opt, X, y, c);

    std::printf(
        "CNN+BN 3x32x32 conv32-bn-pool-conv64-bn-pool-fc256-dropout-fc10, batch %d, "
        "sgd_momentum: last loss %.4f\n",
        batch, r.last_loss);
    bench::print_training("cnn_bn", r, batch, c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_cnn_bn: %s\n", e.what());
    return 1;
  }
  return 0;
}
