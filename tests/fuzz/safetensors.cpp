// Fuzz target: safetensors files (dagrad/io/safetensors.h), parsed in memory.
#include "dagrad/io/safetensors.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dagrad::fuzz::expect_clean([&] {
    dagrad::fuzz::consume(
        dagrad::io::parse_safetensors(dagrad::fuzz::bytes_of(data, size), "fuzz").tensors);
  });
  return 0;
}
