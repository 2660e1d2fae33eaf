#include "dagrad/dist/communicator.h"

#include <cstdlib>
#include <cstring>

namespace dagrad::dist {

namespace {

// Packs the defined tensors of one dtype into a flat buffer, runs `op` on it, and unpacks.
template <typename Op>
void through_buckets(const std::vector<Tensor>& tensors, Op&& op) {
  for (Dtype dtype : {float32, float64, int64}) {
    int64_t total = 0;
    for (const Tensor& t : tensors)
      if (t.defined() && t.dtype() == dtype) total += t.numel();
    if (total == 0) continue;
    Tensor flat = empty({total}, dtype);
    char* dst = static_cast<char*>(flat.raw_data());
    const std::size_t elem = dtype_size(dtype);
    for (const Tensor& t : tensors)
      if (t.defined() && t.dtype() == dtype) {
        std::memcpy(dst, t.raw_data(), t.numel() * elem);
        dst += t.numel() * elem;
      }
    op(flat);
    const char* src = static_cast<const char*>(flat.raw_data());
    for (const Tensor& t : tensors)
      if (t.defined() && t.dtype() == dtype) {
        Tensor target = t;  // a handle: writes go to the shared storage
        std::memcpy(target.raw_data(), src, t.numel() * elem);
        target.bump_version();
        src += t.numel() * elem;
      }
  }
}

}  // namespace

void allreduce_mean(Communicator& comm, const std::vector<Tensor>& tensors) {
  for (const Tensor& t : tensors)  // a mean of integers has no int64 answer (as torch.mean)
    if (t.defined() && !is_floating(t.dtype())) throw_not_floating("allreduce_mean");
  if (comm.size() == 1) return;
  const double scale = 1.0 / comm.size();
  through_buckets(tensors, [&](Tensor& flat) {
    comm.allreduce_sum(flat);
    DAGRAD_DISPATCH(flat.dtype(), {
      T* p = flat.data<T>();
      for (int64_t i = 0; i < flat.numel(); ++i) p[i] = static_cast<T>(p[i] * scale);
    });
  });
}

void broadcast_all(Communicator& comm, const std::vector<Tensor>& tensors, int root) {
  if (comm.size() == 1) return;
  through_buckets(tensors, [&](Tensor& flat) { comm.broadcast(flat, root); });
}

int launcher_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {  // Open MPI; MPICH's Hydra
    const char* v = std::getenv(name);
    if (v && *v) {
      const int n = std::atoi(v);
      if (n > 1) return n;
    }
  }
  return 1;
}

}  // namespace dagrad::dist
