// Fuzz target: dagrad-explain's language (dagrad/explain/expression.h). The input up to its
// first NUL byte is the program, the rest the --at text; both are parsed, and a program whose
// inputs all have values is evaluated, so the ops see whatever shapes the text asks for.
#include <algorithm>
#include <map>
#include <string>

#include "dagrad/autograd/autograd.h"
#include "dagrad/explain/expression.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace ex = dagrad::explain;
  using dagrad::fuzz::expect_clean;
  const std::string_view in = dagrad::fuzz::bytes_of(data, size);
  const size_t nul = std::min(in.find('\0'), in.size());
  const std::string program_text(in.substr(0, nul));
  const std::string at_text(nul < in.size() ? in.substr(nul + 1) : std::string_view());
  expect_clean([&] {
    const ex::Program program = ex::parse(program_text);
    const std::map<std::string, dagrad::Tensor> values = ex::parse_values(at_text);
    // Broadcasting can multiply the inputs' sizes: keep every evaluation small.
    double product = 1;
    for (const auto& [name, v] : values) product *= 1.0 + static_cast<double>(v.numel());
    if (product > 1 << 16) return;
    for (const dagrad::Tensor& y : ex::evaluate(program, values).outputs) dagrad::fuzz::consume(y);
  });
  return 0;
}
