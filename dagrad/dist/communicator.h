// Communicator: the collective operations data-parallel training needs, on dagrad tensors. The
// core library knows only this interface (and SingleProcess); dist/mpi.h implements it over MPI
// in the separate library dagrad_mpi, so nothing else depends on MPI.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "dagrad/autograd/tensor.h"

namespace dagrad::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // In place, element by element over all processes (float32/float64 tensors, same shape and
  // dtype on every process).
  virtual void allreduce_sum(Tensor& t) = 0;
  virtual void broadcast(Tensor& t, int root) = 0;
  virtual void barrier() = 0;
  // Every process's `bytes`, indexed by rank.
  virtual std::vector<std::string> all_gather(const std::string& bytes) = 0;
};

// One process: rank 0 of 1, every operation the identity.
class SingleProcess : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(Tensor&) override {}
  void broadcast(Tensor&, int) override {}
  void barrier() override {}
  std::vector<std::string> all_gather(const std::string& bytes) override { return {bytes}; }
};

// The mean over processes of each tensor, in place, with one allreduce per dtype: the tensors
// are packed into one flat buffer (a bucket), reduced, and unpacked. Undefined tensors are
// skipped.
void allreduce_mean(Communicator& comm, const std::vector<Tensor>& tensors);
// Rank `root`'s values of every tensor on every process, in place (one broadcast per dtype).
void broadcast_all(Communicator& comm, const std::vector<Tensor>& tensors, int root = 0);

// The number of processes the launcher (mpirun) started, from its environment
// (OMPI_COMM_WORLD_SIZE, PMI_SIZE); 1 when not launched by one. A build
// without MPI uses it to refuse running as N independent copies.
int launcher_world_size();

}  // namespace dagrad::dist
