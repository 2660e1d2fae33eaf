#include "dagrad/dist/mpi.h"

// Only MPI's C API is used: skip Open MPI's (deprecated) C++ bindings, whose header does not
// compile cleanly with -Wextra -Werror.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <fmt/format.h>
#include <mpi.h>

#include <climits>
#include <stdexcept>

namespace dagrad::dist {

namespace {

void check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw std::runtime_error(fmt::format("{} failed: {}", call, std::string(text, len)));
}

MPI_Datatype mpi_type(const Tensor& t) {
  return t.dtype() == float32 ? MPI_FLOAT : t.dtype() == float64 ? MPI_DOUBLE : MPI_INT64_T;
}

// MPI counts are ints: large tensors go in chunks.
template <typename Call>
void in_chunks(Tensor& t, Call&& call) {
  char* p = static_cast<char*>(t.raw_data());
  const std::size_t elem = dtype_size(t.dtype());
  for (int64_t done = 0; done < t.numel();) {
    const int n = static_cast<int>(std::min<int64_t>(t.numel() - done, INT_MAX / 2));
    call(p + done * elem, n);
    done += n;
  }
  t.bump_version();
}

}  // namespace

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialized = 0;
  check(MPI_Initialized(&initialized), "MPI_Initialized");
  if (!initialized) {
    int provided = 0;
    check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    owns_ = true;
  }
  check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

MpiSession::~MpiSession() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owns_ && !finalized) MPI_Finalize();
}

void MpiSession::allreduce_sum(Tensor& t) {
  in_chunks(t, [&](void* p, int n) {
    check(MPI_Allreduce(MPI_IN_PLACE, p, n, mpi_type(t), MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  });
}

void MpiSession::broadcast(Tensor& t, int root) {
  in_chunks(t, [&](void* p, int n) {
    check(MPI_Bcast(p, n, mpi_type(t), root, MPI_COMM_WORLD), "MPI_Bcast");
  });
}

void MpiSession::barrier() { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

std::vector<std::string> MpiSession::all_gather(const std::string& bytes) {
  if (bytes.size() > INT_MAX)
    throw std::runtime_error("MPI_Allgatherv: more than 2 GiB from one process");
  int mine = static_cast<int>(bytes.size());
  std::vector<int> sizes(size_), offsets(size_);
  check(MPI_Allgather(&mine, 1, MPI_INT, sizes.data(), 1, MPI_INT, MPI_COMM_WORLD),
        "MPI_Allgather");
  long long total = 0;
  for (int r = 0; r < size_; ++r) {
    offsets[r] = static_cast<int>(total);
    total += sizes[r];
    if (total > INT_MAX) throw std::runtime_error("MPI_Allgatherv: more than 2 GiB in all");
  }
  std::string all(static_cast<std::size_t>(total), '\0');
  check(MPI_Allgatherv(bytes.data(), mine, MPI_CHAR, all.data(), sizes.data(), offsets.data(),
                       MPI_CHAR, MPI_COMM_WORLD),
        "MPI_Allgatherv");
  std::vector<std::string> out;
  for (int r = 0; r < size_; ++r) out.push_back(all.substr(offsets[r], sizes[r]));
  return out;
}

void MpiSession::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::abort();  // not reached
}

}  // namespace dagrad::dist
