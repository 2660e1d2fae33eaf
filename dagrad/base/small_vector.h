// SmallVector: a vector that keeps up to N elements inside itself and moves to the heap only
// beyond that. A node's edges and the gradients its backward returns are almost always 1-3
// entries; a std::vector would cost one allocation each per op.
#pragma once
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace dagrad {

template <typename T, std::size_t N>
class SmallVector {
 public:
  using value_type = T;
  using size_type = std::size_t;
  using iterator = T*;
  using const_iterator = const T*;
  using reference = T&;
  using const_reference = const T&;

  SmallVector() = default;
  explicit SmallVector(std::size_t n) {
    reserve(n);
    for (; size_ < n; ++size_) ::new (data_ + size_) T();
  }
  // Brace lists ({dx, dw}) construct the elements in place from the arguments: an
  // initializer_list would copy each element twice (atomic reference counts for tensors).
  template <typename... U>
  requires(sizeof...(U) > 0 && (std::is_constructible_v<T, U&&> && ...)) SmallVector(U&&... v) {
    reserve(sizeof...(U));
    (::new (data_ + size_++) T(std::forward<U>(v)), ...);
  }
  SmallVector(const std::vector<T>& v) {  // so code written for std::vector still returns one
    reserve(v.size());
    for (const T& x : v) ::new (data_ + size_++) T(x);
  }
  SmallVector(std::vector<T>&& v) {
    reserve(v.size());
    for (T& x : v) ::new (data_ + size_++) T(std::move(x));
  }
  SmallVector(const SmallVector& o) {
    reserve(o.size_);
    for (const T& x : o) ::new (data_ + size_++) T(x);
  }
  SmallVector(SmallVector&& o) noexcept { take(std::move(o)); }
  SmallVector& operator=(const SmallVector& o) {
    if (this != &o) {
      clear();
      reserve(o.size_);
      for (const T& x : o) ::new (data_ + size_++) T(x);
    }
    return *this;
  }
  SmallVector& operator=(SmallVector&& o) noexcept {
    if (this != &o) {
      destroy();
      take(std::move(o));
    }
    return *this;
  }
  ~SmallVector() { destroy(); }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::size_t capacity() const { return cap_; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }
  T& back() { return data_[size_ - 1]; }
  const T& back() const { return data_[size_ - 1]; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }

  void reserve(std::size_t n) {
    if (n <= cap_) return;
    T* p = static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{alignof(T)}));
    for (std::size_t i = 0; i < size_; ++i) {
      ::new (p + i) T(std::move(data_[i]));
      data_[i].~T();
    }
    release_heap();
    data_ = p;
    cap_ = n;
  }
  void push_back(const T& v) { emplace_back(v); }
  void push_back(T&& v) { emplace_back(std::move(v)); }
  template <typename... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == cap_) {
      T tmp(std::forward<Args>(args)...);  // args may refer into this vector
      reserve(cap_ * 2);
      return *::new (data_ + size_++) T(std::move(tmp));
    }
    return *::new (data_ + size_++) T(std::forward<Args>(args)...);
  }
  void pop_back() { data_[--size_].~T(); }
  void clear() {
    for (std::size_t i = 0; i < size_; ++i) data_[i].~T();
    size_ = 0;
  }

 private:
  bool on_heap() const { return data_ != inline_ptr(); }
  T* inline_ptr() { return reinterpret_cast<T*>(inline_); }
  const T* inline_ptr() const { return reinterpret_cast<const T*>(inline_); }
  void release_heap() {
    if (on_heap()) ::operator delete (data_, std::align_val_t{alignof(T)});
  }
  void destroy() {
    clear();
    release_heap();
    data_ = inline_ptr();
    cap_ = N;
  }
  // Requires this to be empty and inline.
  void take(SmallVector&& o) {
    if (o.on_heap()) {
      data_ = o.data_;
      cap_ = o.cap_;
      size_ = o.size_;
      o.data_ = o.inline_ptr();
      o.cap_ = N;
      o.size_ = 0;
    } else {
      for (std::size_t i = 0; i < o.size_; ++i) {
        ::new (data_ + i) T(std::move(o.data_[i]));
        o.data_[i].~T();
      }
      size_ = o.size_;
      o.size_ = 0;
    }
  }

  T* data_ = inline_ptr();
  std::size_t size_ = 0;
  std::size_t cap_ = N;
  alignas(T) unsigned char inline_[N * sizeof(T)];
};

}  // namespace dagrad
