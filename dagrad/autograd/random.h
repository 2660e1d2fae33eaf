// Seedable random numbers: the same seed gives the same tensors on every machine
// (our own normal transform, not std::normal_distribution, whose output is unspecified).
#pragma once
#include <cstdint>
#include <random>
#include <string>

#include "dagrad/autograd/tensor.h"

namespace dagrad {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : engine_(seed) {}
  void seed(uint64_t s) {
    engine_.seed(s);
    has_spare_ = false;
  }
  double uniform();  // [0, 1)
  double normal();   // N(0, 1)
  uint64_t next_u64() { return engine_(); }
  int64_t randint(int64_t low, int64_t high);  // [low, high)

  // The whole state as text (the engine's words, then the cached second normal draw), for
  // training that resumes bit for bit; set_state restores it exactly, or throws
  // std::invalid_argument on text that is not a state (and leaves the generator unchanged).
  std::string state() const;
  void set_state(const std::string& text);

 private:
  std::mt19937_64 engine_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

// The generator used when none is passed. There is one per thread (thread_local), each
// starting from seed 0, so threads never share one unsynchronized; manual_seed seeds only the
// calling thread's. Pass a Generator explicitly for streams shared across threads.
Generator& default_generator();
void manual_seed(uint64_t seed);

Tensor rand(const Shape& shape, Dtype dtype = float32);   // U[0, 1)
Tensor randn(const Shape& shape, Dtype dtype = float32);  // N(0, 1)
Tensor rand(const Shape& shape, Generator& gen, Dtype dtype = float32);
Tensor randn(const Shape& shape, Generator& gen, Dtype dtype = float32);
Tensor uniform(const Shape& shape, double low, double high, Generator& gen, Dtype dtype = float32);
// Integers in [low, high): class labels, indices. dtype int64 holds them exactly (PyTorch's
// default); the float default is kept for the code written before dagrad had int64.
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen,
               Dtype dtype = float32);

}  // namespace dagrad
