// dagrad-info: prints the dagrad version, the kernel path in use (ISA) and which BLAS it runs
// on (core, threads).
//
//   dagrad-info [--version]
//   dagrad-info --isa-paths     the kernel paths this CPU runs, best first, one per line
#include <cstdio>
#include <exception>
#include <stdexcept>

#include "dagrad/base/command_line.h"
#include "dagrad/runtime/blas.h"
#include "dagrad/runtime/isa.h"

namespace {
// TODO(lead): move to a generated/shared version header once one exists.
constexpr const char* version = "dagrad 0.1.0";
}  // namespace

int main(int argc, char** argv) {
  using dagrad::runtime::Isa;
  bool isa_paths = false;
  try {
    dagrad::base::CommandLine cli(argc, argv);
    if (cli.help("usage: dagrad-info [--version | --isa-paths]")) return 0;
    const bool version_flag = cli.flag("--version");  // the plain run prints it anyway
    isa_paths = cli.flag("--isa-paths");
    cli.finish();
    if (version_flag && isa_paths)
      throw std::invalid_argument("--version and --isa-paths do not go together");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dagrad-info: %s\n", e.what());
    return 2;
  }
  if (isa_paths) {
    for (Isa i : {Isa::avx512, Isa::avx2, Isa::baseline})
      if (static_cast<int>(i) <= static_cast<int>(dagrad::runtime::cpu_isa()))
        std::printf("%s\n", dagrad::runtime::isa_name(i));
    return 0;
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
