// Fuzz target: NumPy .npy files (dagrad/io/npy.h), parsed in memory.
#include "dagrad/io/npy.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dagrad::fuzz::expect_clean([&] {
    dagrad::fuzz::consume(dagrad::io::parse_npy(dagrad::fuzz::bytes_of(data, size), "fuzz"));
  });
  return 0;
}
