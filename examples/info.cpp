// dagrad-info: prints the dagrad version and which BLAS it runs on (core, threads).
//
//   dagrad-info [--version]
#include <cstdio>
#include <cstring>
#include <exception>

#include "autograd/blas.h"

namespace {
// TODO(lead): move to a generated/shared version header once one exists.
constexpr const char* version = "dagrad 0.1.0";
}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") != 0) {
      std::fprintf(stderr, "usage: %s [--version]\n", argv[0]);
      return 2;
    }
  }
  std::printf("%s\n", version);
  try {
    std::printf("%s\n", dagrad::blas::info().c_str());
  } catch (const std::exception& e) {
    // The version is still useful when OpenBLAS is missing; say why BLAS is unavailable.
    std::printf("BLAS: unavailable (%s)\n", e.what());
    return 1;
  }
  return 0;
}
