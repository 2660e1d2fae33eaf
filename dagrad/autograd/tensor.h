// Tensor: a cheap shared handle to an n-d, row-major, contiguous array of float32, float64 or
// int64 (labels and indices),
// plus what autograd needs (requires_grad, grad, the node that produced it, a forward-mode
// tangent). Copying a Tensor copies the handle; reshape/flatten/detach share storage.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "dagrad/autograd/dtype.h"
#include "dagrad/base/shape.h"

namespace dagrad {

struct Node;
class Tensor;

// A flat buffer shared by views. `version` counts in-place writes so that backward can
// detect that a value it saved was changed after it was saved.
struct Storage {
  explicit Storage(std::size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data = nullptr;  // 64-byte aligned when heap-allocated; at least 16 when inline
  std::size_t nbytes = 0;
  uint64_t version = 0;
  // Small tensors (scalars, short vectors, their gradients) keep their values here, which
  // saves an aligned allocation per tensor: most of the cost of a tiny op.
  static constexpr std::size_t inline_bytes = 64;
  alignas(16) unsigned char inline_data[inline_bytes];
};

struct TensorImpl {
  TensorImpl() = default;
  TensorImpl(const TensorImpl&) = default;  // a copy is a new tensor: it is no node's output
  TensorImpl& operator=(const TensorImpl&) = delete;
  ~TensorImpl();  // unlinks itself from the node that produced it (Node::output)

  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Dtype dtype = Dtype::float32;
  bool requires_grad = false;
  bool retains_grad = false;
  std::shared_ptr<Node> grad_fn;         // the op that produced this tensor (non-leaf)
  std::weak_ptr<Node> grad_accumulator;  // a leaf's gradient sink, shared by all its uses
  std::shared_ptr<TensorImpl> grad;      // accumulated gradient
  std::shared_ptr<TensorImpl> tangent;   // forward-mode tangent (dual part)
  std::string name;
  const char* op = nullptr;  // the op that computed it, even when no node was recorded
};

class BackwardObserver;  // engine.h

struct BackwardOptions {
  bool retain_graph = false;  // keep saved values so backward can run again
  // Record the backward pass itself (gradients of gradients); implies retain_graph.
  // Note: backward() with create_graph stores a gradient whose graph usually refers back to
  // the leaf (leaf -> .grad -> graph -> leaf): call zero_grad() on the leaves when done, or
  // use dagrad::grad, which never writes .grad (the same caveat as PyTorch).
  bool create_graph = false;
  // Sees every step of the run as the engine takes it (engine.h); null: no observer.
  BackwardObserver* observer = nullptr;
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  explicit operator bool() const = delete;  // use defined(); avoids surprises in conditions

  // --- queries ---
  const Shape& shape() const { return impl().shape; }
  int dim() const { return impl().shape.size(); }
  int64_t size(int64_t axis) const;  // negative axis counts from the end; a 0-d tensor has none
  int64_t numel() const { return impl().shape.numel(); }
  Dtype dtype() const { return impl().dtype; }
  bool is_scalar() const { return numel() == 1; }

  template <typename T>
  T* data() const {
    check_dtype(dtype_of<T>(), "data");
    return static_cast<T*>(impl().storage->data) + impl().offset;
  }
  void* raw_data() const {
    return static_cast<char*>(impl().storage->data) + impl().offset * dtype_size(dtype());
  }
  double item() const;                    // value of a one-element tensor
  std::vector<double> to_vector() const;  // all values, row-major
  double at(std::initializer_list<int64_t> index) const;

  // --- autograd ---
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& requires_grad_(bool on = true);  // only on leaves
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }
  Tensor grad() const { return Tensor(impl().grad); }  // undefined until a backward reaches it
  void set_grad(const Tensor& g);
  void zero_grad();       // drops the gradient (like PyTorch's set_to_none)
  Tensor& retain_grad();  // keep the gradient of a non-leaf after backward
  // Backward from this tensor: a scalar needs no `grad`; otherwise `grad` (the upstream
  // gradient, "dout") must have this tensor's shape.
  void backward(const Tensor& grad = Tensor(), BackwardOptions opts = {}) const;
  Tensor detach() const;  // same storage, no history

  // --- forward mode ---
  Tensor tangent() const { return Tensor(impl().tangent); }  // undefined if none

  // --- names (shown in printed tapes and graphs) ---
  const std::string& name() const { return impl().name; }
  Tensor& set_name(std::string name);

  // --- conversions and views ---
  Tensor clone() const;                      // differentiable copy with its own storage
  Tensor to(Dtype d) const;                  // differentiable dtype conversion
  Tensor reshape(const Shape& shape) const;  // one dimension may be -1
  Tensor flatten(int64_t start_axis = 0, int64_t end_axis = -1) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor t() const;  // 2-D transpose
  Tensor sum() const;
  Tensor mean() const;

  // --- in-place (not recorded; they bump the version counter) ---
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);                       // same shape and dtype
  Tensor& add_(const Tensor& other, double alpha = 1.0);  // this += alpha * other (same shape)
  Tensor& mul_(double s);

  // --- printing ---
  // NumPy-like and aligned: fixed point with `precision` decimals (scientific when that
  // would hide values), the shape unless the brackets show it, dtype if float64, then
  // grad_fn / requires_grad and the name; more than 1000 elements are summarized with "...".
  //   tensor([[1.0000, 2.0000],
  //           [3.0000, 4.0000]], shape=(2, 2))
  //   tensor([ 1.5000, -2.2500], dtype=float64, requires_grad=true)
  //   tensor(2.5000, grad_fn=sum)      tensor([], shape=(0, 3))
  std::string str(int precision = 4) const;

  // Internal access.
  // Inline: every query goes through it, and tiny ops make millions of queries.
  TensorImpl& impl() const {
    if (!impl_) [[unlikely]]
      throw_undefined();
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  void bump_version() const { ++impl().storage->version; }
  uint64_t version() const { return impl().storage->version; }
  void check_dtype(Dtype d, const char* op) const {
    if (dtype() != d) [[unlikely]]
      throw_dtype_mismatch(d, op);
  }

 private:
  [[noreturn]] static void throw_undefined();
  [[noreturn]] void throw_dtype_mismatch(Dtype d, const char* op) const;

  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Tensors with names, in order: a module's state, the contents of a checkpoint or a
// safetensors/npz file.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// The bytes a tensor of this shape and dtype holds; an std::invalid_argument naming `op` and
// the shape when a dimension is negative or the size does not fit a 64-bit count. Every
// allocation of tensor storage goes through it.
int64_t checked_nbytes(const Shape& shape, Dtype dtype, const char* op);

// v as an int64, truncated toward zero; an std::invalid_argument naming `op` when v is not
// finite or outside int64's range (the cast would be undefined).
int64_t to_int64(double v, const char* op);
// v as a T of a tensor (float, double or int64_t), for factories and fill_.
template <typename T>
T cast_value(double v, const char* op) {
  if constexpr (std::is_same_v<T, int64_t>)
    return to_int64(v, op);
  else
    return static_cast<T>(v);
}

// ---- factories ----
// Uninitialized. Sizes are checked (checked_nbytes); memory the system cannot give is an
// std::invalid_argument naming the shape and the bytes, not a bare std::bad_alloc.
Tensor empty(const Shape& shape, Dtype dtype = float32);
Tensor zeros(const Shape& shape, Dtype dtype = float32);
Tensor ones(const Shape& shape, Dtype dtype = float32);
Tensor full(const Shape& shape, double value, Dtype dtype = float32);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor empty_like(const Tensor& t);
Tensor scalar_tensor(double value, Dtype dtype = float32);  // shape ()
Tensor arange(double start, double stop, double step = 1.0, Dtype dtype = float32);
Tensor arange(int64_t n, Dtype dtype = float32);
Tensor linspace(double start, double stop, int64_t num, Dtype dtype = float32);
Tensor eye(int64_t n, Dtype dtype = float32);
// From values and a shape (row-major), read as reshape reads it: the default {-1} is 1-D with
// values.size() elements, {} is 0-d (one value), {2, -1} infers the second dimension.
Tensor tensor(const std::vector<double>& values, const Shape& shape = {-1}, Dtype dtype = float32);
Tensor tensor(std::initializer_list<double> values, const Shape& shape = {-1},
              Dtype dtype = float32);
Tensor from_blob(const float* data, const Shape& shape);    // copies
Tensor from_blob(const double* data, const Shape& shape);   // copies
Tensor from_blob(const int64_t* data, const Shape& shape);  // copies

}  // namespace dagrad
