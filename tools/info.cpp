// dagrad-info: prints the dagrad version, the kernel path in use (ISA) and which BLAS it runs
// on (core, threads).
//
//   dagrad-info [--version]
//   dagrad-info --isa-paths     the kernel paths this CPU runs, best first, one per line
#include <cstdio>
#include <cstring>
#include <exception>

#include "dagrad/runtime/blas.h"
#include "dagrad/runtime/isa.h"

namespace {
// TODO(lead): move to a generated/shared version header once one exists.
constexpr const char* version = "dagrad 0.1.0";
}  // namespace

int main(int argc, char** argv) {
  using dagrad::runtime::Isa;
  if (argc == 2 && std::strcmp(argv[1], "--isa-paths") == 0) {
    for (Isa i : {Isa::avx512, Isa::avx2, Isa::baseline})
      if (static_cast<int>(i) <= static_cast<int>(dagrad::runtime::cpu_isa()))
        std::printf("%s\n", dagrad::runtime::isa_name(i));
    return 0;
  }
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") != 0) {
      std::fprintf(stderr, "usage: %s [--version | --isa-paths]\n", argv[0]);
      return 2;
    }
  }
  std::printf("%s\n", version);
  try {
    std::printf("ISA path: %s\n", dagrad::runtime::isa_description().c_str());
  } catch (const std::exception& e) {  // a DAGRAD_ISA this CPU cannot run
    std::fprintf(stderr, "dagrad-info: %s\n", e.what());
    return 1;
  }
  try {
    std::printf("%s\n", dagrad::blas::info().c_str());
  } catch (const std::exception& e) {
    // The version is still useful when OpenBLAS is missing; say why BLAS is unavailable.
    std::printf("BLAS: unavailable (%s)\n", e.what());
    return 1;
  }
  return 0;
}
