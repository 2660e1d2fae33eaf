// Fuzz target: NumPy .npz archives (dagrad/io/npy.h: the zip reader, then .npy per member),
// parsed in memory. Members' CRC-32s are checked before their .npy is parsed, so mutations
// mostly exercise the zip layer; the npy target covers the member parser.
#include "dagrad/io/npy.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dagrad::fuzz::expect_clean([&] {
    dagrad::fuzz::consume(dagrad::io::parse_npz(dagrad::fuzz::bytes_of(data, size), "fuzz"));
  });
  return 0;
}
