// Files written by PyTorch and NumPy (tests/interop/pytorch_roundtrip.py --fixtures): torch's
// state_dict as safetensors with its I64 num_batches_tracked, np.savez's zip64 members and
// np.savez_compressed's deflated ones. The models are rebuilt in dagrad, loaded strictly, and
// must give torch's logits.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "dagrad/io/npy.h"
#include "dagrad/io/safetensors.h"
#include "dagrad/nn/nn.h"

using namespace dagrad;

namespace {

std::string fixture(const std::string& name) {
  return std::string(DAGRAD_SOURCE_ROOT) + "/tests/interop/fixtures/" + name;
}

const Tensor& get(const NamedTensors& all, const std::string& name) {
  for (const auto& [n, t] : all)
    if (n == name) return t;
  FAIL("fixture has no '" << name << "'");
  throw;
}

// float64 throughout; each logit sums at most 18 products of O(1) values, computed in another
// order than torch's, so they agree to a few hundred ulps of the largest magnitude at worst.
void check_logits(const Tensor& ours, const Tensor& torch_logits) {
  REQUIRE(ours.shape() == torch_logits.shape());
  const std::vector<double> a = ours.to_vector(), b = torch_logits.to_vector();
  double scale = 1, worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::abs(b[i]));
    worst = std::max(worst, std::abs(a[i] - b[i]));
  }
  CHECK(worst <= 512 * 2.2e-16 * scale);
}

}  // namespace

TEST_CASE("interop: a torch state_dict in safetensors loads into VGGNet and gives torch's logits") {
  nn::VGGConfig c;
  c.input_dim = {1, 8, 8};
  c.stage_channels = {2, 3};
  c.hidden_dim = 5;
  c.num_classes = 4;
  c.dtype = float64;
  nn::VGGNet net(c);
  const nn::LoadReport report = nn::load_pytorch_safetensors(net, fixture("vgg_small.safetensors"));
  CHECK(report.complete());
  const auto* bn = dynamic_cast<const nn::BatchNorm*>(net.children()[1].second.get());
  REQUIRE(bn != nullptr);
  CHECK(bn->num_batches_tracked == 3);
  const io::SafetensorsContents io = io::load_safetensors(fixture("vgg_small_io.safetensors"));
  net.eval();
  check_logits(net.forward(get(io.tensors, "x")), get(io.tensors, "logits"));
  // And back: our export of it holds torch's tensors, bit for bit.
  const io::SafetensorsContents theirs = io::load_safetensors(fixture("vgg_small.safetensors"));
  const NamedTensors ours = nn::pytorch_state_dict(net);
  REQUIRE(ours.size() == theirs.tensors.size());
  for (const auto& [name, t] : ours) CHECK(t.to_vector() == get(theirs.tensors, name).to_vector());
}

TEST_CASE("interop: np.savez parameters under cs231n names load into FullyConnectedNet") {
  nn::FullyConnectedNet net({.hidden_dims = {5},
                             .input_dim = 6,
                             .num_classes = 3,
                             .normalization = "batchnorm",
                             .dtype = float64});
  CHECK(nn::load_npz(net, fixture("mlp_small.npz")).complete());
  const NamedTensors io = io::load_npz(fixture("mlp_small_io.npz"));  // np.savez_compressed
  net.eval();
  check_logits(net.forward(get(io, "x")), get(io, "logits"));
}
