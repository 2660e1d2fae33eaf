// Image processing by convolution, the way the cs231n conv notebook shows what a conv layer
// computes: we write the filter weights by hand instead of learning them.
//
//   1. grayscale: one 1x1 filter over the R, G, B channels with weights 0.299, 0.587, 0.114
//      (ITU-R BT.601 luma), conv weight shape (1, 3, 1, 1);
//   2. Sobel: two 3x3 filters on the grayscale image in ONE conv weight of shape (2, 1, 3, 3):
//      filter 0 responds to horizontal changes (vertical edges), filter 1 to vertical ones;
//   3. edge strength: sqrt(gx^2 + gy^2), with ordinary tensor ops.
//
// The Sobel conv runs without padding ("valid" convolution), so its outputs are 2 pixels
// smaller than the input: zero padding would invent strong edges along the image border.
// Because every step before the square root is linear, the two convs also fuse into one conv
// over RGB with weight w[f, c, p, q] = luma[c] * sobel_f[p, q]; we check that they agree.
//
//   image-filters                     # on io::make_test_image (320x240)
//   image-filters photo.png           # on your own PNG / PPM / PGM
//   image-filters --out DIR --size 640x480
// Writes input.png, grayscale.png, sobel_x.png, sobel_y.png, edges.png to --out
// (default out/image_filters).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "dagrad/autograd/autograd.h"
#include "dagrad/autograd/ops/conv.h"
#include "dagrad/base/command_line.h"
#include "dagrad/io/image.h"
#include "examples/common.h"

using namespace dagrad;

namespace {

// An 8-bit image (gray, gray+alpha, RGB or RGBA) as a (1, 3, H, W) float32 tensor with values
// 0..255; a gray image is repeated into the three channels, alpha is dropped.
Tensor to_tensor(const io::Image& img) {
  const int H = img.height, W = img.width;
  std::vector<float> chw(3 * static_cast<size_t>(H) * W);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < H; ++y)
      for (int x = 0; x < W; ++x) {
        const int src = img.channels >= 3 ? c : 0;
        chw[(static_cast<size_t>(c) * H + y) * W + x] = img.at(x, y, src);
      }
  return from_blob(chw.data(), {1, 3, H, W});
}

// The RGB part of an image (what the filters actually saw).
io::Image to_rgb(const io::Image& img) {
  io::Image out{img.width, img.height, 3, std::vector<uint8_t>(size_t(img.width) * img.height * 3)};
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      for (int c = 0; c < 3; ++c) out.at(x, y, c) = img.at(x, y, img.channels >= 3 ? c : 0);
  return out;
}

// A (1, 1, H, W) map as a picture. gray: values are already 0..255. signed_map: 0 becomes
// mid-grey, +-max|v| white/black. otherwise: 0 is black and the largest value white.
enum class Scale { gray, signed_map, magnitude };

io::Image to_image(const Tensor& map, Scale scale) {
  const int H = static_cast<int>(map.shape()[2]), W = static_cast<int>(map.shape()[3]);
  std::vector<float> v(map.data<float>(), map.data<float>() + map.numel());
  float peak = 1e-12f;
  for (float f : v) peak = std::max(peak, std::abs(f));
  for (float& f : v) {
    if (scale == Scale::signed_map) f = 127.5f + 127.5f * f / peak;
    if (scale == Scale::magnitude) f = 255.0f * f / peak;
  }
  return io::from_float(v.data(), H, W, /*normalize=*/false);
}

std::string save(const std::string& dir, const std::string& name, const io::Image& img) {
  const std::string path = dir + "/" + name;
  io::save_png(img, path);
  return path;
}

struct Options {
  std::string out_dir, image_path;  // image_path empty: the built-in test image
  int width = 0, height = 0;        // of the test image
};

Options read_options(base::CommandLine& cli) {
  Options o;
  o.out_dir = cli.text("--out", "out/image_filters");
  const std::string size = cli.text("--size", "320x240");
  if (std::sscanf(size.c_str(), "%dx%d", &o.width, &o.height) != 2 || o.width < 3 || o.height < 3)
    throw std::invalid_argument(fmt::format("--size wants WxH (at least 3x3), got '{}'", size));
  const std::vector<std::string> images = cli.positionals();
  cli.finish();
  if (images.size() > 1)
    throw std::invalid_argument(fmt::format("one image at most, got {} ('{}', '{}', ...)",
                                            images.size(), images[0], images[1]));
  o.image_path = images.empty() ? "" : images[0];
  return o;
}

io::Image load_input(const Options& o) {
  const io::Image img =
      o.image_path.empty() ? io::make_test_image(o.width, o.height) : io::load_image(o.image_path);
  if (img.width < 3 || img.height < 3)
    throw std::invalid_argument(fmt::format(
        "the image is {}x{}; the 3x3 Sobel filters need at least 3x3", img.width, img.height));
  fmt::print("== input\n{}: {}x{}, {} channel(s)\n",
             o.image_path.empty() ? "io::make_test_image" : o.image_path, img.width, img.height,
             img.channels);
  return img;
}

constexpr double kLuma[3] = {0.299, 0.587, 0.114};

// 1. A 1x1 conv that mixes the three channels, checked against io::to_grayscale.
Tensor grayscale(const Tensor& x, const io::Image& img) {
  const Tensor w_gray = tensor({kLuma[0], kLuma[1], kLuma[2]}, {1, 3, 1, 1});
  const Tensor gray = conv2d(x, w_gray);  // (1, 1, H, W)
  fmt::print("\n== 1. grayscale: conv2d(x {}, w {}) -> {}\n", to_string(x.shape()),
             to_string(w_gray.shape()), to_string(gray.shape()));
  fmt::print("w[0, :, 0, 0] = {}\n", w_gray.reshape({3}).str());
  // The same luma formula as io::to_grayscale, which rounds to 8 bits: they agree to 0.5.
  const io::Image ref = io::to_grayscale(img);
  double worst = 0;
  for (int y = 0; y < img.height; ++y)
    for (int xx = 0; xx < img.width; ++xx)
      worst =
          std::max(worst, std::abs(double(gray.data<float>()[y * img.width + xx]) - ref.at(xx, y)));
  fmt::print("largest difference from io::to_grayscale: {:.3f} (of 255)\n", worst);
  if (worst > 1.0) throw std::runtime_error("the grayscale conv disagrees with io::to_grayscale");
  return gray;
}

// Cross-correlation (what conv2d computes): gx grows when brightness grows to the right, gy when
// it grows downwards.
const std::vector<double> kSobelX = {-1, 0, 1, -2, 0, 2, -1, 0, 1};
const std::vector<double> kSobelY = {-1, -2, -1, 0, 0, 0, 1, 2, 1};

// 2. Both Sobel filters in one weight, (2 filters, 1 channel, 3, 3): the (1, 2, H-2, W-2) output.
Tensor sobel(const Tensor& gray) {
  std::vector<double> both = kSobelX;
  both.insert(both.end(), kSobelY.begin(), kSobelY.end());
  const Tensor w_sobel = tensor(both, {2, 1, 3, 3});
  const Tensor g = conv2d(gray, w_sobel);  // no padding
  fmt::print("\n== 2. Sobel: conv2d(gray {}, w {}) -> {}  (no padding: 2 pixels smaller)\n",
             to_string(gray.shape()), to_string(w_sobel.shape()), to_string(g.shape()));
  fmt::print("w[0, 0] (Sobel x) =\n{}\nw[1, 0] (Sobel y) =\n{}\n",
             slice(w_sobel, 0, 0, 1).reshape({3, 3}).str(0),
             slice(w_sobel, 0, 1, 2).reshape({3, 3}).str(0));
  return g;
}

// 3. Edge strength, with ordinary tensor ops.
Tensor edge_strength(const Tensor& gx, const Tensor& gy) {
  const Tensor edges = sqrt(gx * gx + gy * gy);
  fmt::print("\n== 3. edges = sqrt(gx^2 + gy^2)\n");
  fmt::print(
      "gx in [{:.1f}, {:.1f}], gy in [{:.1f}, {:.1f}], edge strength: mean {:.2f}, max {:.1f}\n",
      min(gx).item(), max(gx).item(), min(gy).item(), max(gy).item(), mean(edges).item(),
      max(edges).item());
  return edges;
}

// The fused version: one conv over RGB, w[f, c] = luma[c] * sobel_f, must match the two steps.
void check_fused(const Tensor& x, const Tensor& g) {
  std::vector<double> fused;
  for (const auto* k : {&kSobelX, &kSobelY})
    for (double luma : kLuma)
      for (double s : *k) fused.push_back(luma * s);
  const Tensor g_fused = conv2d(x, tensor(fused, {2, 3, 3, 3}));
  const double diff = max(abs(g_fused - g)).item();
  fmt::print("one fused conv over RGB, w (2, 3, 3, 3) = luma x Sobel: largest difference {:.2e}\n",
             diff);
  if (diff > 1e-2) throw std::runtime_error("the fused conv disagrees with the two-step version");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    base::CommandLine cli(argc, argv);
    if (cli.help("usage: image-filters [IMAGE.png|ppm|pgm] [--out DIR] [--size WxH]")) return 0;
    const Options o = read_options(cli);
    const auto t0 = std::chrono::steady_clock::now();

    const io::Image img = load_input(o);
    no_grad guard;                    // nothing here is trained
    const Tensor x = to_tensor(img);  // (1, 3, H, W), 0..255
    const Tensor gray = grayscale(x, img);
    const Tensor g = sobel(gray);
    const Tensor gx = slice(g, 1, 0, 1), gy = slice(g, 1, 1, 2);
    const Tensor edges = edge_strength(gx, gy);
    check_fused(x, g);

    std::filesystem::create_directories(o.out_dir);
    fmt::print("\n== output\n");
    for (const std::string& p : {save(o.out_dir, "input.png", to_rgb(img)),
                                 save(o.out_dir, "grayscale.png", to_image(gray, Scale::gray)),
                                 save(o.out_dir, "sobel_x.png", to_image(gx, Scale::signed_map)),
                                 save(o.out_dir, "sobel_y.png", to_image(gy, Scale::signed_map)),
                                 save(o.out_dir, "edges.png", to_image(edges, Scale::magnitude))})
      fmt::print("wrote {}\n", p);
    fmt::print(
        "(sobel_x/sobel_y: mid-grey is 0, white positive, black negative; edges: black is 0)\n");
    fmt::print("done in {:.2f} s\n", examples::seconds_since(t0));
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
