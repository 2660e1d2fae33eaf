#include "dagrad/base/block_pool.h"

namespace dagrad::block_pool {

thread_local Cache t_cache __attribute__((tls_model("initial-exec"))) = {};

namespace {

// Gives the thread's cached blocks back to the heap when the thread ends. Separate from the
// (trivially destructible) cache so that frees after this point still find a valid `state`.
struct Drainer {
  bool armed = false;
  ~Drainer() {
    Cache& c = t_cache;
    c.state = 2;
    for (std::size_t k = 0; k < classes; ++k) {
      while (FreeBlock* b = c.head[k]) {
        DAGRAD_BLOCK_POOL_UNPOISON(b, (k + 1) * granule);
        c.head[k] = b->next;
        ::operator delete(b);
      }
      c.count[k] = 0;
    }
  }
};
thread_local Drainer t_drainer;

}  // namespace

void* allocate_slow(std::size_t cls) {
  Cache& c = t_cache;
  if (c.state == 0) {
    t_drainer.armed = true;  // first use of the drainer registers its destructor
    c.state = 1;
  }
  return ::operator new((cls + 1) * granule);
}

void free_slow(void* p, std::size_t) { ::operator delete(p); }

std::size_t cached_blocks(std::size_t bytes) {
  return bytes > max_block ? 0 : t_cache.count[class_of(bytes)];
}

}  // namespace dagrad::block_pool
