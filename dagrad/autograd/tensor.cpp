#include "dagrad/autograd/tensor.h"

#include <fmt/format.h>

#include <malloc.h>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <stdexcept>

#include "dagrad/autograd/engine.h"
#include "dagrad/autograd/node.h"
#include "dagrad/autograd/ops/elementwise.h"
#include "dagrad/autograd/ops/reduction.h"
#include "dagrad/autograd/ops/shape_ops.h"
#include "dagrad/autograd/rules.h"
#include "dagrad/base/block_pool.h"

namespace dagrad {

// The backward rules of the ops recorded here, one line of math each (rules.h).
const BackwardRules tensor_rules{
    {"clone", "identity"},
    {"to", "the adjoint is converted back to x's dtype"},
};

// ---------------------------------------------------------------- storage

namespace {
// Training loops free and reallocate the same large activation buffers every step. glibc
// serves blocks above its mmap threshold with fresh mmaps, so every step would page-fault
// its activations in again (measured: ~11% of an epoch, most of the run's system time).
// Keep such blocks in the heap for reuse instead.
void tune_allocator_once() {
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 64 << 20);
    return true;
  }();
  (void)done;
}
}  // namespace

Storage::Storage(std::size_t n) : nbytes(n) {
  if (n <= inline_bytes) {
    data = inline_data;
    return;
  }
  tune_allocator_once();
  // 64-byte alignment for AVX-512 loads; aligned_alloc needs a multiple of the alignment.
  const std::size_t rounded = ((n + 63) / 64) * 64;
  data = std::aligned_alloc(64, rounded);
  if (!data) throw std::bad_alloc();
}

Storage::~Storage() {
  if (data != inline_data) std::free(data);
}

// ---------------------------------------------------------------- tensor basics

TensorImpl::~TensorImpl() {
  // grad_fn keeps the node alive here, so the link can be cleared safely.
  if (grad_fn && grad_fn->output.get() == this) grad_fn->output = nullptr;
}

namespace {
// Tensor handles and storages come from the per-thread block cache (dagrad/base/block_pool.h).
std::shared_ptr<TensorImpl> new_impl() {
  return std::allocate_shared<TensorImpl>(block_pool::Allocator<TensorImpl>{});
}
}  // namespace

void Tensor::throw_undefined() { throw std::logic_error("dagrad: use of an undefined tensor"); }

void throw_not_floating(const char* op) {
  throw std::invalid_argument(fmt::format(
      "{}: int64 tensors are not supported here (this computes in float32 or float64); convert "
      "with .to(dagrad::float32) or .to(dagrad::float64)",
      op ? op : "dagrad"));
}

int64_t to_int64(double v, const char* op) {
  // The range of doubles that truncate to an int64: [-2^63, 2^63).
  if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0))
    throw std::invalid_argument(
        fmt::format("{}: {} cannot be converted to int64 (not finite or out of range)", op, v));
  return static_cast<int64_t>(v);
}

void Tensor::throw_dtype_mismatch(Dtype d, const char* op) const {
  throw std::invalid_argument(
      fmt::format("{}: tensor has dtype {}, expected {}", op, dtype_name(dtype()), dtype_name(d)));
}

int64_t Tensor::size(int64_t axis) const {
  if (dim() == 0) throw std::out_of_range(fmt::format("size: a 0-d tensor has no axis {}", axis));
  return shape()[normalize_axis(axis, dim(), "size")];
}

double Tensor::item() const {
  if (numel() != 1)
    throw std::invalid_argument(
        fmt::format("item: only a one-element tensor can be converted to a number, got shape {}",
                    to_string(shape())));
  double v = 0;
  DAGRAD_DISPATCH_ALL(dtype(), v = static_cast<double>(data<T>()[0]));
  return v;
}

std::vector<double> Tensor::to_vector() const {
  std::vector<double> out(numel());
  DAGRAD_DISPATCH_ALL(dtype(), {
    const T* p = data<T>();
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = p[i];
  });
  return out;
}

double Tensor::at(std::initializer_list<int64_t> index) const {
  if (static_cast<int>(index.size()) != dim())
    throw std::invalid_argument(
        fmt::format("at: {} indices for a tensor of shape {}", index.size(), to_string(shape())));
  int64_t flat = 0;
  int i = 0;
  for (int64_t ix : index) {
    const int64_t n = shape()[i];
    if (ix < -n || ix >= n)
      throw std::out_of_range(
          fmt::format("at: index {} is out of range for axis {} of size {}", ix, i, n));
    flat = flat * n + (ix < 0 ? ix + n : ix);
    ++i;
  }
  double v = 0;
  DAGRAD_DISPATCH_ALL(dtype(), v = static_cast<double>(data<T>()[flat]));
  return v;
}

Tensor& Tensor::requires_grad_(bool on) {
  if (on && !is_floating(dtype()))
    throw std::invalid_argument(
        fmt::format("requires_grad_: only floating-point tensors can require gradients, this one "
                    "is {} of shape {}",
                    dtype_name(dtype()), to_string(shape())));
  if (!is_leaf())
    throw std::invalid_argument(fmt::format(
        "requires_grad_: only leaf tensors can change requires_grad (this one was produced by "
        "'{}'); use detach() first",
        impl().grad_fn->name));
  impl().requires_grad = on;
  return *this;
}

void Tensor::set_grad(const Tensor& g) {
  if (g.defined() && (g.shape() != shape() || g.dtype() != dtype()))
    throw std::invalid_argument(fmt::format(
        "set_grad: gradient of shape {} ({}) does not match tensor of shape {} ({})",
        to_string(g.shape()), dtype_name(g.dtype()), to_string(shape()), dtype_name(dtype())));
  impl().grad = g.impl_ptr();
}

void Tensor::zero_grad() { impl().grad.reset(); }

Tensor& Tensor::retain_grad() {
  if (!requires_grad())
    throw std::invalid_argument("retain_grad: the tensor does not require grad");
  if (is_leaf()) return *this;  // leaves keep their gradient anyway
  impl().retains_grad = true;
  impl().grad_fn->output = impl_;
  impl().grad_fn->retained = impl_;
  return *this;
}

void Tensor::backward(const Tensor& grad, BackwardOptions opts) const {
  dagrad::backward({*this}, {grad}, opts);
}

Tensor Tensor::detach() const {
  auto p = new_impl();
  p->storage = impl().storage;
  p->offset = impl().offset;
  p->shape = impl().shape;
  p->dtype = impl().dtype;
  p->name = impl().name;
  return Tensor(std::move(p));
}

Tensor& Tensor::set_name(std::string n) {
  impl().name = std::move(n);
  return *this;
}

Tensor Tensor::reshape(const Shape& s) const { return dagrad::reshape(*this, s); }
Tensor Tensor::flatten(int64_t a, int64_t b) const { return dagrad::flatten(*this, a, b); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return dagrad::transpose(*this, a, b); }
Tensor Tensor::t() const {
  if (dim() != 2)
    throw std::invalid_argument(
        fmt::format("t: expects a 2-D tensor, got shape {}", to_string(shape())));
  return dagrad::transpose(*this, 0, 1);
}
Tensor Tensor::sum() const { return dagrad::sum(*this); }
Tensor Tensor::mean() const { return dagrad::mean(*this); }

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype());
  std::memcpy(out.raw_data(), raw_data(), numel() * dtype_size(dtype()));
  return record(
      "clone", out, {*this}, [](const Tensor& g, const Tensor&) -> GradList { return {g}; },
      [](const TangentList& t, const Tensor&) { return t[0].clone(); });
}

Tensor Tensor::to(Dtype d) const {
  if (d == dtype()) return *this;
  Tensor out = empty(shape(), d);
  DAGRAD_DISPATCH_ALL(dtype(), {
    using Src = T;
    const Src* s = data<Src>();
    DAGRAD_DISPATCH_ALL(d, {
      T* o = out.data<T>();
      const int64_t n = numel();
      for (int64_t i = 0; i < n; ++i) {
        if constexpr (std::is_same_v<T, int64_t>)
          o[i] = to_int64(static_cast<double>(s[i]), "to");  // truncates toward zero
        else
          o[i] = static_cast<T>(s[i]);
      }
    });
  });
  const Dtype src = dtype();
  // To int64 nothing is recorded (record() stops at integer outputs); from int64 there is no
  // gradient to send back.
  return record(
      "to", out, {*this}, [src](const Tensor& g, const Tensor&) -> GradList { return {g.to(src)}; },
      [d](const TangentList& t, const Tensor&) { return t[0].to(d); });
}

// ---------------------------------------------------------------- in-place

static void check_inplace(const Tensor& t, const char* op) {
  if (t.requires_grad() && grad_mode_enabled())
    throw std::invalid_argument(fmt::format(
        "{}: in-place change of a tensor that requires grad{}; wrap it in no_grad or use "
        "detach()",
        op, t.is_leaf() ? " (a leaf)" : ""));
}

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  DAGRAD_DISPATCH_ALL(dtype(), {
    T* p = data<T>();
    const T v = cast_value<T>(value, "fill_");
    for (int64_t i = 0, n = numel(); i < n; ++i) p[i] = v;
  });
  bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  if (src.shape() != shape())
    throw std::invalid_argument(fmt::format("copy_: source shape {} does not match {}",
                                            to_string(src.shape()), to_string(shape())));
  Tensor s;
  {
    no_grad guard;  // a raw copy: nothing to record even if src requires grad
    s = src.to(dtype());
  }
  std::memmove(raw_data(), s.raw_data(), numel() * dtype_size(dtype()));
  bump_version();
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace(*this, "add_");
  if (!is_floating(dtype())) throw_not_floating("add_");
  if (other.shape() != shape() || other.dtype() != dtype())
    throw std::invalid_argument(fmt::format(
        "add_: operand of shape {} ({}) does not match shape {} ({})", to_string(other.shape()),
        dtype_name(other.dtype()), to_string(shape()), dtype_name(dtype())));
  DAGRAD_DISPATCH(dtype(), {
    T* p = data<T>();
    const T* q = other.data<T>();
    const T a = static_cast<T>(alpha);
    if (alpha == 1.0) {
      for (int64_t i = 0, n = numel(); i < n; ++i) p[i] += q[i];
    } else {
      for (int64_t i = 0, n = numel(); i < n; ++i) p[i] += a * q[i];
    }
  });
  bump_version();
  return *this;
}

Tensor& Tensor::mul_(double s) {
  check_inplace(*this, "mul_");
  if (!is_floating(dtype())) throw_not_floating("mul_");
  DAGRAD_DISPATCH(dtype(), {
    T* p = data<T>();
    const T v = static_cast<T>(s);
    for (int64_t i = 0, n = numel(); i < n; ++i) p[i] *= v;
  });
  bump_version();
  return *this;
}

// ---------------------------------------------------------------- printing

namespace {

// How every element of one tensor is written: one width for all, so that columns line up.
// Fixed point with `precision` decimals, or scientific notation when that would hide values
// (a nonzero that would print as 0.0000, or magnitudes of 1e8 and more).
struct ValueFormat {
  bool sci = false;
  int width = 0;
  int precision = 4;

  ValueFormat(const std::vector<double>& v, int prec) : precision(prec) {
    double maxabs = 0, minabs = 0;
    bool neg = false;
    for (double x : v) {
      if (!std::isfinite(x)) {
        neg |= x < 0;
        continue;
      }
      const double a = std::abs(x);
      maxabs = std::max(maxabs, a);
      if (a > 0 && (minabs == 0 || a < minabs)) minabs = a;
      neg |= x < 0;
    }
    sci = maxabs >= 1e8 || (minabs > 0 && minabs < 0.5 * std::pow(10.0, -precision));
    const int fraction = precision > 0 ? precision + 1 : 0;  // ".dddd"
    if (sci) {
      width = 1 + fraction + 4;  // d.dddde+xx
      if (maxabs >= 1e100 || (minabs > 0 && minabs < 1e-99)) ++width;
    } else {
      // Digits of the largest value as printed: 9.99996 shows as 10.0000.
      const double scale = std::pow(10.0, precision);
      const double shown = std::round(maxabs * scale) / scale;
      const int digits = shown >= 1 ? static_cast<int>(std::floor(std::log10(shown))) + 1 : 1;
      width = digits + fraction;
    }
    width += neg ? 1 : 0;
  }

  // Integers: right-aligned to the widest, as PyTorch prints int64 tensors.
  explicit ValueFormat(const std::vector<int64_t>& v) : precision(0) {
    for (int64_t x : v) width = std::max(width, static_cast<int>(fmt::formatted_size("{}", x)));
  }
  void append(std::string& out, int64_t x) const { out += fmt::format("{:>{}}", x, width); }

  void append(std::string& out, double x) const {
    if (!std::isfinite(x))  // right-aligned like the numbers (fmt pads "inf" on the right)
      out += fmt::format("{:>{}}", std::isnan(x) ? "nan" : (x > 0 ? "inf" : "-inf"), width);
    else if (sci)
      out += fmt::format("{:{}.{}e}", x, width, precision);
    else
      out += fmt::format("{:{}.{}f}", x, width, precision);
  }
};

// Nested brackets like NumPy: rows aligned under each other, one blank line between blocks,
// and "..." for the middle of a long axis when summarizing.
template <typename V>
void format_values(std::string& out, const Shape& s, const std::vector<V>& v, int axis,
                   int64_t offset, int indent, const ValueFormat& f, bool summarize) {
  const int64_t n = s[axis];
  const bool last = axis + 1 == s.size();
  int64_t stride = 1;
  for (int i = axis + 1; i < s.size(); ++i) stride *= s[i];
  auto separator = [&] {
    if (last) {
      out += ", ";
    } else {
      out += ',';
      out.append(s.size() - axis - 1, '\n');
      out.append(indent + 1, ' ');
    }
  };
  out += '[';
  const int64_t edge = 3;
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * edge && i == edge) {
      out += "...";
      separator();
      i = n - edge;
    }
    if (last)
      f.append(out, v[offset + i]);
    else
      format_values(out, s, v, axis + 1, offset + i * stride, indent + 1, f, summarize);
    if (i + 1 < n) separator();
  }
  out += ']';
}

}  // namespace

// Examples: tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]], shape=(2, 2)),
// tensor([0.5000, 1.5000], dtype=float64), tensor(2.5000), tensor([], shape=(0, 3)).
// The shape is shown unless the brackets already say it (a vector, or a scalar).
std::string Tensor::str(int precision) const {
  if (!defined()) return "tensor(undefined)";
  std::string out = "tensor(";
  auto values = [&](const auto& v, const ValueFormat& f) {
    if (dim() == 0) {
      ValueFormat scalar = f;
      scalar.width = 0;
      scalar.append(out, v[0]);
    } else if (numel() == 0) {
      out += "[]";
    } else {
      format_values(out, shape(), v, 0, 0, 7, f, numel() > 1000);
    }
  };
  if (dtype() == int64) {
    const std::vector<int64_t> v(data<int64_t>(), data<int64_t>() + numel());
    values(v, ValueFormat(v));
  } else {
    const std::vector<double> v = to_vector();
    values(v, ValueFormat(v, precision));
  }
  if (dim() > 1 || numel() == 0) out += fmt::format(", shape={}", to_string(shape()));
  if (dtype() == float64) out += ", dtype=float64";
  if (grad_fn()) {
    out += fmt::format(", grad_fn={}", grad_fn()->name);
  } else if (requires_grad()) {
    out += ", requires_grad=true";
  }
  if (!name().empty()) out += fmt::format(", name='{}'", name());
  return out + ")";
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

// ---------------------------------------------------------------- factories

int64_t checked_nbytes(const Shape& shape, Dtype dtype, const char* op) {
  for (int64_t d : shape)
    if (d < 0)
      throw std::invalid_argument(
          fmt::format("{}: negative dimension in shape {}", op, to_string(shape)));
  // The bytes of the nonzero dimensions must fit, even when a zero dimension makes the tensor
  // empty: byte offsets along those dimensions must not overflow either (as in Shape::numel).
  int64_t bytes = static_cast<int64_t>(dtype_size(dtype));
  bool overflow = false, zero = false;
  for (int64_t d : shape) {
    if (d == 0)
      zero = true;
    else
      overflow |= __builtin_mul_overflow(bytes, d, &bytes);
  }
  if (overflow)
    throw std::invalid_argument(
        fmt::format("{}: shape {} of {} is too large (its size in bytes "
                    "does not fit a 64-bit count)",
                    op, to_string(shape), dtype_name(dtype)));
  return zero ? 0 : bytes;
}

Tensor empty(const Shape& shape, Dtype dtype) {
  const int64_t bytes = checked_nbytes(shape, dtype, "empty");
  auto p = new_impl();
  try {
    p->storage = std::allocate_shared<Storage>(block_pool::Allocator<Storage>{},
                                               static_cast<std::size_t>(bytes));
  } catch (const std::bad_alloc&) {
    throw std::invalid_argument(fmt::format("empty: cannot allocate {} bytes for shape {} of {}",
                                            bytes, to_string(shape), dtype_name(dtype)));
  }
  p->shape = shape;
  p->dtype = dtype;
  return Tensor(std::move(p));
}

Tensor full(const Shape& shape, double value, Dtype dtype) {
  Tensor t = empty(shape, dtype);
  DAGRAD_DISPATCH_ALL(dtype, {
    T* p = t.data<T>();
    const T v = cast_value<T>(value, "full");
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = v;
  });
  return t;
}

Tensor zeros(const Shape& shape, Dtype dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.raw_data(), 0, t.numel() * dtype_size(dtype));
  return t;
}
Tensor ones(const Shape& shape, Dtype dtype) { return full(shape, 1.0, dtype); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
Tensor full_like(const Tensor& t, double v) { return full(t.shape(), v, t.dtype()); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype()); }
Tensor scalar_tensor(double value, Dtype dtype) { return full(Shape{}, value, dtype); }

Tensor arange(double start, double stop, double step, Dtype dtype) {
  if (step == 0 || !std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step))
    throw std::invalid_argument(
        fmt::format("arange: invalid range start={} stop={} step={}", start, stop, step));
  const double count = std::ceil((stop - start) / step);
  // Checked before the conversion: a count beyond int64 (or inf) is undefined behaviour to cast.
  if (!(count < 9.2e18))
    throw std::invalid_argument(
        fmt::format("arange: start={} stop={} step={} gives {} elements, too many for a tensor",
                    start, stop, step, count));
  const int64_t n = count > 0 ? static_cast<int64_t>(count) : 0;
  Tensor t = empty({n}, dtype);
  DAGRAD_DISPATCH_ALL(dtype, {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = cast_value<T>(start + i * step, "arange");
  });
  return t;
}

Tensor arange(int64_t n, Dtype dtype) { return arange(0.0, static_cast<double>(n), 1.0, dtype); }

Tensor linspace(double start, double stop, int64_t num, Dtype dtype) {
  if (num < 0) throw std::invalid_argument(fmt::format("linspace: negative count {}", num));
  if (!is_floating(dtype)) throw_not_floating("linspace");
  Tensor t = empty({num}, dtype);
  DAGRAD_DISPATCH(dtype, {
    T* p = t.data<T>();
    const double step = num > 1 ? (stop - start) / static_cast<double>(num - 1) : 0.0;
    for (int64_t i = 0; i < num; ++i) p[i] = static_cast<T>(start + i * step);
    if (num > 1) p[num - 1] = static_cast<T>(stop);
  });
  return t;
}

Tensor eye(int64_t n, Dtype dtype) {
  Tensor t = zeros({n, n}, dtype);
  DAGRAD_DISPATCH_ALL(dtype, {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i * n + i] = T(1);
  });
  return t;
}

Tensor tensor(const std::vector<double>& values, const Shape& shape, Dtype dtype) {
  const int64_t n = static_cast<int64_t>(values.size());
  const bool plain = std::none_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; });
  if (plain && shape.numel() != n)  // the usual mistake, said in terms of values
    throw std::invalid_argument(fmt::format("tensor: {} values do not fill shape {} ({} elements)",
                                            n, to_string(shape), shape.numel()));
  const Shape s = infer_shape(shape, n, Shape{n}, "tensor");
  Tensor t = empty(s, dtype);
  DAGRAD_DISPATCH_ALL(dtype, {
    T* p = t.data<T>();
    for (std::size_t i = 0; i < values.size(); ++i) p[i] = cast_value<T>(values[i], "tensor");
  });
  return t;
}

Tensor tensor(std::initializer_list<double> values, const Shape& shape, Dtype dtype) {
  return tensor(std::vector<double>(values), shape, dtype);
}

Tensor from_blob(const float* data, const Shape& shape) {
  Tensor t = empty(shape, float32);
  std::memcpy(t.raw_data(), data, shape.numel() * sizeof(float));
  return t;
}

Tensor from_blob(const double* data, const Shape& shape) {
  Tensor t = empty(shape, float64);
  std::memcpy(t.raw_data(), data, shape.numel() * sizeof(double));
  return t;
}

Tensor from_blob(const int64_t* data, const Shape& shape) {
  Tensor t = empty(shape, int64);
  std::memcpy(t.raw_data(), data, shape.numel() * sizeof(int64_t));
  return t;
}

}  // namespace dagrad
