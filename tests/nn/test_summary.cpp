// nn::summarize: each layer's output, parameters, multiply-adds and activation memory, against
// the course's numbers and hand counts.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>

#include "dagrad/nn/nn.h"

using namespace dagrad;

TEST_CASE("summary: the Inception 5x5 branch costs 120 M multiply-adds, 12.4 M with a 1x1 cut") {
  Generator gen(1);
  // 28x28x192 in, 32 filters of 5x5: 28 * 28 * 32 * (5 * 5 * 192).
  nn::Conv2d direct(192, 32, 5, gen, {.padding = 2});
  const nn::ModelSummary a = nn::summarize(direct, {192, 28, 28});
  REQUIRE(a.layers.size() == 1);
  CHECK(a.multiply_adds == 120422400);
  CHECK(a.layers[0].output == Shape{1, 32, 28, 28});
  CHECK(a.activation_bytes == 32 * 28 * 28 * 4);
  CHECK(a.parameters == 32 * 192 * 25 + 32);
  // A 1x1 reduction to 16 channels first: 28*28*16*192 + 28*28*32*(5*5*16).
  nn::Sequential reduced;
  reduced.add(std::make_shared<nn::Conv2d>(192, 16, 1, gen), "reduce");
  reduced.add(std::make_shared<nn::ReLU>());
  reduced.add(std::make_shared<nn::Conv2d>(16, 32, 5, gen, nn::Conv2dOptions{.padding = 2}),
              "conv5x5");
  const nn::ModelSummary b = nn::summarize(reduced, {192, 28, 28});
  REQUIRE(b.layers.size() == 3);
  CHECK(b.layers[0].name == "reduce");
  CHECK(b.layers[0].multiply_adds == 2408448);
  CHECK(b.layers[1].multiply_adds == 0);  // relu
  CHECK(b.layers[2].multiply_adds == 10035200);
  CHECK(b.multiply_adds == 12443648);
}

TEST_CASE("summary: LeNet-5 on 32x32, layer by layer, with exact totals") {
  nn::LeNet5 net({.input_dim = {1, 32, 32}, .num_classes = 10}, 0);
  net.train();
  const nn::ModelSummary s = nn::summarize(net, {1, 32, 32});
  REQUIRE(s.layers.size() == 12);
  CHECK(s.layers[0].name == "conv1");
  CHECK(s.layers[0].output == Shape{1, 6, 28, 28});
  CHECK(s.layers[0].multiply_adds == 6 * 28 * 28 * 25);
  CHECK(s.layers[3].multiply_adds == 16 * 10 * 10 * 150);  // conv2
  CHECK(s.layers[6].name == "flatten");
  CHECK(s.layers[6].output == Shape{1, 400});
  CHECK(s.layers[7].multiply_adds == 400 * 120);  // fc1
  CHECK(s.parameters == 61706);
  CHECK(s.multiply_adds == 117600 + 240000 + 48000 + 10080 + 840);
  int64_t bytes = 0;
  for (const auto& l : s.layers) bytes += l.output.numel() * 4;
  CHECK(s.activation_bytes == bytes);
  const std::string t = s.table();
  CHECK(t.find("conv1") != std::string::npos);
  CHECK(t.ends_with(fmt::format(
      "total: 61706 parameters, 416520 multiply-adds, {} bytes of activations\n", bytes)));
  CHECK(net.is_training());  // restored
  for (const Tensor& p : net.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("summary: a model of raw ops is one row; bad inputs name the model") {
  nn::TwoLayerNet net({.input_dim = 6, .hidden_dim = 5, .num_classes = 3});
  const nn::ModelSummary s = nn::summarize(net, {6});
  REQUIRE(s.layers.size() == 1);
  CHECK(s.layers[0].name == "TwoLayerNet");
  CHECK(s.layers[0].output == Shape{1, 3});
  CHECK(s.parameters == 6 * 5 + 5 + 5 * 3 + 3);
  nn::LeNet5 lenet;  // 28x28 by default
  try {
    nn::summarize(lenet, {1, 8, 8});
    FAIL("no error");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).starts_with("summarize: LeNet5 on an input of (1, 8, 8): "));
  }
  CHECK_THROWS_WITH_AS(nn::summarize(lenet, {1, 0, 28}),
                       "summarize: input size (1, 0, 28) of LeNet5 must be positive",
                       std::invalid_argument);
}

TEST_CASE("summary: VGG-16 at 224x224 has the notes' 138 M parameters" *
          doctest::test_suite("slow")) {
  auto vgg = nn::vgg16({.initialize = false});
  const nn::ModelSummary s = nn::summarize(*vgg, {3, 224, 224});
  CHECK(s.parameters == 138357544);  // torchvision's count
  // 13 convolutions (each followed by a ReLU), 5 pools, the adaptive pool, 3 Linear, 2 ReLU
  // and 2 Dropout in the classifier.
  CHECK(s.layers.size() == 13 * 2 + 5 + 1 + 3 + 2 + 2);
  CHECK(s.layers.front().output == Shape{1, 64, 224, 224});
  CHECK(s.layers.back().output == Shape{1, 1000});
  // The classifier's matrix products: 25088*4096 + 4096*4096 + 4096*1000.
  int64_t fc = 0;
  for (const auto& l : s.layers)
    if (l.name.starts_with("classifier")) fc += l.multiply_adds;
  CHECK(fc == 25088LL * 4096 + 4096LL * 4096 + 4096LL * 1000);
  CHECK(s.multiply_adds == 15470264320LL);  // the 15.47 G multiply-adds usually quoted
}
