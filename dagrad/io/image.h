// Pictures in and out: PNG and PGM/PPM decoding, PNG encoding, and helpers that turn float
// maps and conv-weight stacks into viewable images. Independent of the tensor library so that
// examples and tools can use it on plain buffers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dagrad::io {

struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // row-major, interleaved channels: (y * width + x) * channels + c

  uint8_t& at(int x, int y, int c = 0) {
    return pixels[(static_cast<size_t>(y) * width + x) * channels + c];
  }
  uint8_t at(int x, int y, int c = 0) const {
    return pixels[(static_cast<size_t>(y) * width + x) * channels + c];
  }
};

// Reads a PNG (with libpng: bit depths 1-16; gray, gray+alpha, RGB, RGBA, palette; plain or
// Adam7-interlaced) or a PGM/PPM (P2, P3, P5, P6), chosen by the file's magic bytes. Samples
// deeper than 8 bits are rounded to 8 bits; a palette becomes RGB, or RGBA when the file has
// transparency (tRNS), and a tRNS colour key on gray/RGB likewise adds an alpha channel. Throws
// std::runtime_error naming `path` and the problem (missing file, unknown format, truncation,
// bad CRC, bad header, ...; for PNG, libpng's description of it).
Image load_image(const std::string& path);

// Writes an 8-bit PNG (channels 1 = gray, 2 = gray+alpha, 3 = RGB, 4 = RGBA), encoded by libpng.
// Writes to `path + ".tmp"` and renames, so a failure never leaves a half-written file. Throws
// std::invalid_argument for an inconsistent image and std::runtime_error for I/O failures,
// both naming `path`.
void save_png(const Image& img, const std::string& path);

// ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B), one channel; alpha is dropped.
Image to_grayscale(const Image& img);

// A deterministic RGB picture (colour gradient, stripes, a rectangle, a circle, a diagonal line)
// with plenty of sharp edges in different orientations, for trying out filters.
Image make_test_image(int width, int height);

// Lays out n images of c channels (c == 1 or 3; `data` ordered n, c, h, w like a conv weight)
// in a near-square grid (columns = ceil(sqrt(n))), like cs231n's visualize_grid. Each image is
// min-max normalized to 0..255 on its own (a constant image becomes mid-grey 128), then every
// pixel is repeated `upscale` x `upscale` times; `padding` output pixels of black separate the
// cells. Non-finite values are ignored for the range and drawn as 0. Output has c channels.
Image tile_grid(const std::vector<float>& data, int n, int c, int h, int w, int padding = 1,
                int upscale = 4);

// One-channel image of an h x w float map. normalize: min-max to 0..255 (constant -> 128);
// otherwise values are rounded and clamped to 0..255. Non-finite values become 0.
Image from_float(const float* data, int h, int w, bool normalize);

}  // namespace dagrad::io
