// Which instruction set dagrad's own kernels run with, chosen at run time.
//
// The library is built for baseline x86-64; the kernel files in dagrad/kernels/ are compiled
// once per instruction set (baseline, AVX2+FMA, AVX-512) into namespaces of those names, and
// every call picks the version for the active path: the best this CPU runs, or a lower one
// asked for with DAGRAD_ISA=avx512|avx2|baseline. Other CPUs (aarch64) have the baseline only.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace dagrad::runtime {

enum class Isa { baseline = 0, avx2 = 1, avx512 = 2 };

const char* isa_name(Isa isa);
std::optional<Isa> parse_isa(std::string_view name);  // "avx512", "avx2", "baseline"

// The best path this CPU (and its OS) can run.
Isa cpu_isa();

// The path in use: DAGRAD_ISA when set (read once, at the first kernel call), else cpu_isa().
// An unknown name, or a path this CPU cannot run, is an std::invalid_argument naming both.
Isa active_isa();

// Picks the path from DAGRAD_ISA's value (null when unset) for a CPU whose best is `cpu`; the
// rule active_isa() applies, exposed for tests.
Isa choose_isa(const char* request, Isa cpu);

// Switches the path for this process (tests compare paths in one run; benchmarks). Throws
// std::invalid_argument if the CPU cannot run it. Not safe while kernels are running.
void set_isa(Isa isa);

// "avx512 (best on this CPU: avx512)", or with "; DAGRAD_ISA=avx2" when forced: what
// dagrad-info prints.
std::string isa_description();

}  // namespace dagrad::runtime

// Declares its argument in each path's namespace (the kernel files define them, one per path).
#define DAGRAD_FOR_EACH_ISA(...) \
  namespace baseline {           \
  __VA_ARGS__                    \
  }                              \
  namespace avx2 {               \
  __VA_ARGS__                    \
  }                              \
  namespace avx512 {             \
  __VA_ARGS__                    \
  }

// The call evaluated in the namespace of the active path, e.g. DAGRAD_ISA_PICK(pool_table<T>()).
#if defined(__x86_64__)
#define DAGRAD_ISA_PICK(...)                                                               \
  (::dagrad::runtime::active_isa() == ::dagrad::runtime::Isa::avx512 ? avx512::__VA_ARGS__ \
   : ::dagrad::runtime::active_isa() == ::dagrad::runtime::Isa::avx2 ? avx2::__VA_ARGS__   \
                                                                     : baseline::__VA_ARGS__)
#else
#define DAGRAD_ISA_PICK(...) (baseline::__VA_ARGS__)
#endif
