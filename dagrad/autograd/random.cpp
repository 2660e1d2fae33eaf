#include "dagrad/autograd/random.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "dagrad/autograd/ops/elementwise.h"

namespace dagrad {

double Generator::uniform() {
  // 53 random bits -> a double in [0, 1).
  return static_cast<double>(engine_() >> 11) * (1.0 / 9007199254740992.0);
}

double Generator::normal() {
  // Box-Muller, keeping the second value for the next call.
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();
  const double u2 = uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = r * std::sin(2.0 * M_PI * u2);
  has_spare_ = true;
  return r * std::cos(2.0 * M_PI * u2);
}

std::string Generator::state() const {
  std::ostringstream out;
  out << engine_;
  // The spare normal as a hex float: exact, whatever the locale's decimal digits.
  out << fmt::format(" {} {:a}", has_spare_ ? 1 : 0, spare_);
  return out.str();
}

void Generator::set_state(const std::string& text) {
  std::istringstream in(text);
  std::mt19937_64 engine;
  int has_spare = -1;
  std::string spare;
  in >> engine >> has_spare >> spare;
  char* end = nullptr;
  const double value = spare.empty() ? 0.0 : std::strtod(spare.c_str(), &end);
  std::string rest;
  if (in.fail() || (has_spare != 0 && has_spare != 1) || spare.empty() || *end != '\0' ||
      (in >> rest))
    throw std::invalid_argument(fmt::format(
        "Generator::set_state: not a generator state ({} characters of text)", text.size()));
  engine_ = engine;
  has_spare_ = has_spare == 1;
  spare_ = value;
}

int64_t Generator::randint(int64_t low, int64_t high) {
  if (high <= low)
    throw std::invalid_argument(
        fmt::format("Generator::randint: empty range [{}, {}) (need low < high)", low, high));
  // The span as unsigned: high - low may not fit int64 (e.g. [-2^62, 2^62]).
  const uint64_t span = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  return static_cast<int64_t>(static_cast<uint64_t>(low) + engine_() % span);
}

Generator& default_generator() {
  static thread_local Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().seed(seed); }

template <typename F>
static Tensor fill_with(const char* op, const Shape& shape, Dtype dtype, F f) {
  if (!is_floating(dtype)) throw_not_floating(op);
  Tensor t = empty(shape, dtype);
  DAGRAD_DISPATCH(dtype, {
    T* p = t.data<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = static_cast<T>(f());
  });
  return t;
}

// The largest float below `high` (towards `low`): a double draw in [low, high) may round up
// to `high` in float32 (u > 1 - 2^-25 gives 1.0f), which would break the half-open range.
static double below(double v, double high, double low, Dtype dtype) {
  if (!(high > low)) return v;
  if (dtype == float32 && static_cast<float>(v) >= static_cast<float>(high))
    return std::nextafter(static_cast<float>(high), static_cast<float>(low));
  if (v >= high) return std::nextafter(high, low);
  return v;
}

Tensor rand(const Shape& shape, Generator& gen, Dtype dtype) {
  return fill_with("rand", shape, dtype, [&] { return below(gen.uniform(), 1.0, 0.0, dtype); });
}
Tensor randn(const Shape& shape, Generator& gen, Dtype dtype) {
  return fill_with("randn", shape, dtype, [&] { return gen.normal(); });
}
Tensor rand(const Shape& shape, Dtype dtype) { return rand(shape, default_generator(), dtype); }
Tensor randn(const Shape& shape, Dtype dtype) { return randn(shape, default_generator(), dtype); }
Tensor uniform(const Shape& shape, double low, double high, Generator& gen, Dtype dtype) {
  return fill_with("uniform", shape, dtype,
                   [&] { return below(low + (high - low) * gen.uniform(), high, low, dtype); });
}
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator& gen, Dtype dtype) {
  if (high <= low)
    throw std::invalid_argument(fmt::format("randint: empty range [{}, {})", low, high));
  Tensor t = empty(shape, dtype);
  DAGRAD_DISPATCH_ALL(dtype, {  // exact in int64; in a float dtype, as it rounds
    T* p = t.data<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = static_cast<T>(gen.randint(low, high));
  });
  return t;
}

}  // namespace dagrad
