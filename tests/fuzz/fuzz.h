// Shared by the fuzz targets in tests/fuzz/ (one per file reader; see tests/fuzz/meson.build).
// Each target defines LLVMFuzzerTestOneInput, hands the input to a reader through
// fuzz::expect_clean, and is linked either with libFuzzer (-Dfuzzing=true, clang) or with
// replay_main.cpp (every build: replays the committed corpus as a test).
#pragma once
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

#include "dagrad/autograd/tensor.h"

namespace dagrad::fuzz {

inline std::string_view bytes_of(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// A path naming a file that holds exactly `bytes`, for the readers that only take a path. The
// file is one memfd per process (no disk I/O, nothing left behind), rewritten on every call;
// "/proc/self/fd/N" opens it afresh at offset 0, and stat() on it gives its current size.
inline const std::string& as_file(std::string_view bytes) {
  static const int fd = memfd_create("dagrad-fuzz-input", MFD_CLOEXEC);
  static const std::string path = "/proc/self/fd/" + std::to_string(fd);
  if (fd < 0 || ftruncate(fd, 0) != 0 ||
      pwrite(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    std::perror("fuzz: cannot write the input to a memfd");
    std::abort();
  }
  return path;
}

// Runs `read` on hostile input. The readers document std::exception (runtime_error,
// invalid_argument) for bad input: that is the expected outcome and is ignored. An allocation
// failure is not: the readers promise to check sizes before allocating, so std::bad_alloc or
// std::length_error means a header made one ask for an absurd size. It aborts, which libFuzzer
// and the replay driver report as a crash (under libFuzzer, -malloc_limit_mb usually catches
// such an allocation first). With DAGRAD_FUZZ_VERBOSE set, prints what each read did.
template <typename Read>
void expect_clean(Read&& read) {
  static const bool verbose = std::getenv("DAGRAD_FUZZ_VERBOSE") != nullptr;
  try {
    read();
    if (verbose) std::fprintf(stderr, "  read\n");
  } catch (const std::bad_alloc& e) {
    std::fprintf(stderr, "fuzz: allocation failure (absurd size from the input?): %s\n", e.what());
    std::abort();
  } catch (const std::length_error& e) {
    std::fprintf(stderr, "fuzz: length_error (absurd size from the input?): %s\n", e.what());
    std::abort();
  } catch (const std::exception& e) {
    // A documented error for a bad file: fine.
    if (verbose) std::fprintf(stderr, "  refused: %s\n", e.what());
  }
}

inline volatile unsigned char consumed;  // keeps consume()'s reads from being optimized out

// Reads every byte of a tensor that a reader returned, so that one whose shape promises more
// than its buffer holds is caught: ASan reports the read past the buffer (a plain build may
// crash), and a shape whose byte count overflows 64 bits (an allocation size that wrapped
// around to something small) aborts here.
inline void consume(const Tensor& t) {
  uint64_t bytes = dtype_size(t.dtype());
  for (const int64_t d : t.shape()) {
    if (d < 0 || __builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) {
      std::fprintf(stderr, "fuzz: a reader returned a tensor of shape %s (size overflows)\n",
                   to_string(t.shape()).c_str());
      std::abort();
    }
  }
  const auto* p = static_cast<const unsigned char*>(t.raw_data());
  unsigned char x = 0;
  for (uint64_t i = 0; i < bytes; ++i) x ^= p[i];
  consumed = x;
}

inline void consume(const NamedTensors& tensors) {
  for (const auto& [name, t] : tensors) consume(t);
}

}  // namespace dagrad::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
