#include "dagrad/base/shape.h"

#include <fmt/format.h>

namespace dagrad {

std::string to_string(const Shape& s) {
  std::string out = "(";
  for (int i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  if (s.size() == 1) out += ",";
  return out + ")";
}

Shape contiguous_strides(const Shape& s) {
  Shape st = s;
  int64_t acc = 1;
  for (int i = s.size() - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  if (a == b) return a;
  const int n = std::max(a.size(), b.size());
  Shape out;
  for (int i = 0; i < n; ++i) {
    const int ia = a.size() - n + i, ib = b.size() - n + i;
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument(fmt::format(
          "{}: shapes {} and {} cannot be broadcast together (dimension {} is {} vs {})", op,
          to_string(a), to_string(b), i, da, db));
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

void Shape::throw_numel_overflow() const {
  throw std::invalid_argument(
      fmt::format("shape {} has more elements than a 64-bit count can hold", to_string(*this)));
}

int normalize_axis(int64_t axis, int ndim, const char* op) {
  const int64_t lo = -std::max(ndim, 1), hi = std::max(ndim, 1) - 1;
  if (axis < lo || axis > hi)
    throw std::out_of_range(fmt::format(
        "{}: axis {} is out of range for a tensor with {} dimension(s) (expected {} to {})", op,
        axis, ndim, lo, hi));
  return static_cast<int>(axis < 0 ? axis + std::max(ndim, 1) : axis);
}

Shape infer_shape(const Shape& want, int64_t numel, const Shape& from, const char* op) {
  auto impossible = [&] {
    return std::invalid_argument(fmt::format("{}: cannot reshape {} ({} elements) into {}", op,
                                             to_string(from), numel, to_string(want)));
  };
  Shape s = want;
  int infer = -1;
  int64_t known = 1;  // product of the given dimensions, checked: they may come from a file
  for (int i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0)
        throw std::invalid_argument(
            fmt::format("{}: only one dimension can be -1, got {}", op, to_string(want)));
      infer = i;
    } else if (s[i] < 0) {
      throw std::invalid_argument(fmt::format("{}: invalid dimension in {}", op, to_string(want)));
    } else if (__builtin_mul_overflow(known, s[i], &known)) {
      throw impossible();
    }
  }
  if (infer >= 0) {
    if (known == 0 || numel % known != 0) throw impossible();
    s[infer] = numel / known;
  }
  if (s.numel() != numel) throw impossible();
  return s;
}

}  // namespace dagrad
