#include "dagrad/runtime/isa.h"

#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace dagrad::runtime {

namespace {

constexpr int unset = -1;
std::atomic<int> g_active{unset};

Isa detect_cpu() {
#if defined(__x86_64__)
  // __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0).
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return Isa::avx512;
  if (avx2) return Isa::avx2;
#endif
  return Isa::baseline;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512:
      return "avx512";
    case Isa::avx2:
      return "avx2";
    case Isa::baseline:
      break;
  }
  return "baseline";
}

std::optional<Isa> parse_isa(std::string_view name) {
  for (Isa i : {Isa::baseline, Isa::avx2, Isa::avx512})
    if (name == isa_name(i)) return i;
  return std::nullopt;
}

Isa cpu_isa() {
  static const Isa cpu = detect_cpu();
  return cpu;
}

Isa choose_isa(const char* request, Isa cpu) {
  if (request == nullptr || *request == '\0') return cpu;
  const std::optional<Isa> want = parse_isa(request);
  if (!want)
    throw std::invalid_argument(fmt::format(
        "DAGRAD_ISA='{}' is not a kernel path (valid: avx512, avx2, baseline)", request));
  if (static_cast<int>(*want) > static_cast<int>(cpu))
    throw std::invalid_argument(
        fmt::format("DAGRAD_ISA={} asks for kernels this CPU cannot run (its best path is {})",
                    request, isa_name(cpu)));
  return *want;
}

Isa active_isa() {
  int v = g_active.load(std::memory_order_relaxed);
  if (v == unset) {
    v = static_cast<int>(choose_isa(std::getenv("DAGRAD_ISA"), cpu_isa()));
    g_active.store(v, std::memory_order_relaxed);
  }
  return static_cast<Isa>(v);
}

void set_isa(Isa isa) {
  if (static_cast<int>(isa) > static_cast<int>(cpu_isa()))
    throw std::invalid_argument(
        fmt::format("set_isa: this CPU cannot run the {} kernels (best: {})", isa_name(isa),
                    isa_name(cpu_isa())));
  g_active.store(static_cast<int>(isa), std::memory_order_relaxed);
}

std::string isa_description() {
  const char* env = std::getenv("DAGRAD_ISA");
  std::string s =
      fmt::format("{} (best on this CPU: {}", isa_name(active_isa()), isa_name(cpu_isa()));
  if (env != nullptr && *env != '\0') s += fmt::format("; DAGRAD_ISA={}", env);
  return s + ")";
}

}  // namespace dagrad::runtime
