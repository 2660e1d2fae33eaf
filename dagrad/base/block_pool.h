// A per-thread cache of small fixed-size blocks for the objects every op creates (tensor
// handles, storages, nodes). A tiny op allocates and frees several of them; glibc's own
// per-thread cache holds only 7 blocks per size, so a graph of a thousand ops spills into
// its slower paths. Blocks come from operator new and are interchangeable: one freed on
// another thread simply joins that thread's cache (or goes back to the heap), so objects may
// die on any thread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <new>

// Under AddressSanitizer (tests/sanitize/run.sh) a cached block is poisoned until it is handed
// out again, so that a use after free of a tensor handle, storage or node is still reported
// although its block does not go back to the heap. No-ops in every other build.
#if defined(__SANITIZE_ADDRESS__)
#define DAGRAD_BLOCK_POOL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DAGRAD_BLOCK_POOL_ASAN 1
#endif
#endif
#if defined(DAGRAD_BLOCK_POOL_ASAN)
#include <sanitizer/asan_interface.h>
#define DAGRAD_BLOCK_POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define DAGRAD_BLOCK_POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define DAGRAD_BLOCK_POOL_POISON(p, n) ((void)0)
#define DAGRAD_BLOCK_POOL_UNPOISON(p, n) ((void)0)
#endif

namespace dagrad::block_pool {

inline constexpr std::size_t granule = 16;
inline constexpr std::size_t max_block = 1024;  // larger requests go straight to the heap
inline constexpr std::size_t classes = max_block / granule;
inline constexpr std::size_t cache_bytes = 1 << 20;  // per size class and thread

struct FreeBlock {
  FreeBlock* next;
};

// Trivially destructible, so it is usable at any point of a thread's life, even after the
// drainer below has run (then `state` says so and blocks go to the heap).
struct Cache {
  FreeBlock* head[classes];
  uint32_t count[classes];
  uint8_t state;  // 0: not yet used on this thread, 1: live, 2: drained at thread exit
};

// initial-exec: dagrad is linked statically, so each access is one TLS-relative load.
extern thread_local Cache t_cache __attribute__((tls_model("initial-exec")));

void* allocate_slow(std::size_t cls);      // empty cache, or first use on this thread
void free_slow(void* p, std::size_t cls);  // full cache, or a thread without a live cache

inline std::size_t class_of(std::size_t bytes) { return (bytes + granule - 1) / granule - 1; }

inline void* allocate(std::size_t bytes) {
  if (bytes > max_block) return ::operator new(bytes);
  const std::size_t cls = class_of(bytes);
  Cache& c = t_cache;
  if (FreeBlock* b = c.head[cls]) [[likely]] {
    DAGRAD_BLOCK_POOL_UNPOISON(b, (cls + 1) * granule);
    c.head[cls] = b->next;
    --c.count[cls];
    return b;
  }
  return allocate_slow(cls);
}

inline void deallocate(void* p, std::size_t bytes) noexcept {
  if (bytes > max_block) {
    ::operator delete(p);
    return;
  }
  const std::size_t cls = class_of(bytes);
  Cache& c = t_cache;
  if (c.state == 1 && c.count[cls] * (cls + 1) * granule < cache_bytes) [[likely]] {
    auto* b = static_cast<FreeBlock*>(p);
    b->next = c.head[cls];
    c.head[cls] = b;
    ++c.count[cls];
    DAGRAD_BLOCK_POOL_POISON(b, (cls + 1) * granule);
    return;
  }
  free_slow(p, cls);
}

// Blocks cached on this thread of the size class that holds `bytes` (for tests).
std::size_t cached_blocks(std::size_t bytes);

// A stateless allocator over the cache, for std::allocate_shared.
template <typename T>
struct Allocator {
  using value_type = T;
  static_assert(alignof(T) <= granule, "pool blocks are 16-byte aligned");
  Allocator() = default;
  template <typename U>
  Allocator(const Allocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(block_pool::allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { block_pool::deallocate(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const Allocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace dagrad::block_pool
