// MPI (Open MPI from Debian) behind dist::Communicator; in the library dagrad_mpi, built when
// meson finds MPI (-Dmpi=auto|enabled|disabled).
//   int main(int argc, char** argv) {
//     dist::MpiSession mpi(&argc, &argv);  // MPI_Init_thread ... MPI_Finalize
//     ... mpi.rank(), mpi.size(), allreduce_mean(mpi, grads) ...
//   }
// Every failing MPI call becomes an std::runtime_error naming the call and MPI's message.
#pragma once
#include "dagrad/dist/communicator.h"

namespace dagrad::dist {

class MpiSession : public Communicator {
 public:
  // Initializes MPI (thread level FUNNELED: only the main thread calls MPI) unless it already
  // is, and makes errors on MPI_COMM_WORLD return codes instead of aborting.
  MpiSession(int* argc, char*** argv);
  ~MpiSession() override;  // MPI_Finalize, if this session initialized MPI
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(Tensor& t) override;
  void broadcast(Tensor& t, int root) override;
  void barrier() override;
  std::vector<std::string> all_gather(const std::string& bytes) override;
  // MPI_Abort on MPI_COMM_WORLD: ends every process of the job (after an error on one rank,
  // so the others do not wait forever in a collective).
  [[noreturn]] void abort(int code);

 private:
  int rank_ = 0, size_ = 1;
  bool owns_ = false;
};

}  // namespace dagrad::dist
