// Shape: a small inline vector of dimensions (no heap allocation per tensor).
#pragma once
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <vector>

namespace dagrad {

class Shape {
 public:
  static constexpr int max_dims = 8;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<int64_t>& dims) { assign(dims.begin(), dims.end()); }
  template <typename It>
  Shape(It first, It last) {
    assign(first, last);
  }

  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t operator[](int i) const { return d_[i]; }
  int64_t& operator[](int i) { return d_[i]; }
  const int64_t* begin() const { return d_; }
  const int64_t* end() const { return d_ + n_; }
  int64_t* begin() { return d_; }
  int64_t* end() { return d_ + n_; }
  int64_t back() const { return d_[n_ - 1]; }

  void push_back(int64_t v) {
    if (n_ == max_dims) throw std::invalid_argument("Shape: more than 8 dimensions");
    d_[n_++] = v;
  }
  void insert(int pos, int64_t v) {
    push_back(0);
    for (int i = n_ - 1; i > pos; --i) d_[i] = d_[i - 1];
    d_[pos] = v;
  }
  void erase(int pos) {
    for (int i = pos; i + 1 < n_; ++i) d_[i] = d_[i + 1];
    --n_;
  }
  // The number of elements. When the product of the nonzero dimensions is beyond int64, an
  // std::invalid_argument naming the shape, even if a zero dimension makes the tensor empty:
  // strides are products of dimensions too, and must not overflow either. Every size
  // computation goes through here or through checked_nbytes in tensor.h.
  int64_t numel() const {
    int64_t p = 1;
    bool overflow = false, zero = false;
    for (int i = 0; i < n_; ++i) {
      if (d_[i] == 0) {
        zero = true;
        continue;
      }
      overflow |= __builtin_mul_overflow(p, d_[i], &p);
    }
    if (overflow) throw_numel_overflow();
    return zero ? 0 : p;
  }
  std::vector<int64_t> vec() const { return {begin(), end()}; }

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.n_ == b.n_ && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  [[noreturn]] void throw_numel_overflow() const;
  template <typename It>
  void assign(It first, It last) {
    for (; first != last; ++first) push_back(static_cast<int64_t>(*first));
  }
  int64_t d_[max_dims] = {};
  int n_ = 0;
};

// "(2, 3, 4)" — used in every error message.
std::string to_string(const Shape& s);

// Row-major strides of a contiguous tensor of this shape.
Shape contiguous_strides(const Shape& s);

// NumPy broadcasting of two shapes; throws naming `op` and both shapes when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Normalizes a possibly negative axis into [0, ndim); throws naming `op` when out of range.
int normalize_axis(int64_t axis, int ndim, const char* op);

// `want` with its one -1 dimension (if any) replaced so that it holds `numel` elements, as
// reshape reads it. Throws naming `op` and `from` (the shape being reshaped) when there is more
// than one -1, a dimension below -1, or no such shape.
Shape infer_shape(const Shape& want, int64_t numel, const Shape& from, const char* op);

}  // namespace dagrad
