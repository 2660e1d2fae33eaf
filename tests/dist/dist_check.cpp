// The data-parallel checks, run on 2 processes by tests/dist/run.sh (mpirun -np 2):
//   - the communicator's collectives on tensors, and an MPI error turned into an exception;
//   - a 2-process Solver equals a 1-process one with the same global batch: weights after 20
//     steps agree to 1e-12 in float64 (no dropout, no batch norm);
//   - with batch norm each process normalizes with the statistics of its own half batch, so the
//     runs differ by more than rounding: the bound checked is the one docs/distributed.md gives.
// Prints "dist tests: N passed, M failed" (rank 0) and exits non-zero if any check failed.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <string>

#include "dagrad/dist/mpi.h"
#include "dagrad/nn/nn.h"
#include "dagrad/train/solver.h"

using namespace dagrad;

namespace {

int passed = 0, failed = 0;

void check(bool ok, const std::string& what) {
  ok ? ++passed : ++failed;
  if (!ok) fmt::print(stderr, "FAILED: {}\n", what);
}

// The largest |a - b| over every tensor of two models' states, relative to the largest |a|.
double relative_difference(const nn::Module& a, const nn::Module& b) {
  double diff = 0, scale = 0;
  const NamedTensors sa = a.state(), sb = b.state();
  for (std::size_t i = 0; i < sa.size(); ++i) {
    const std::vector<double> x = sa[i].second.to_vector(), y = sb[i].second.to_vector();
    for (std::size_t k = 0; k < x.size(); ++k) {
      diff = std::max(diff, std::abs(x[k] - y[k]));
      scale = std::max(scale, std::abs(x[k]));
    }
  }
  return diff / scale;
}

void collectives(dist::MpiSession& comm) {
  const double r = comm.rank();
  Tensor t = tensor({r + 1, 2 * (r + 1)}, Shape{2}, float64);
  comm.allreduce_sum(t);
  check(t.to_vector() == std::vector<double>{3, 6}, "allreduce_sum");
  Tensor b = full({3}, r, float32);
  comm.broadcast(b, 1);
  check(b.to_vector() == std::vector<double>{1, 1, 1}, "broadcast from rank 1");
  const std::vector<std::string> all = comm.all_gather(std::string(comm.rank() + 1, 'x'));
  check(all.size() == 2 && all[0] == "x" && all[1] == "xx", "all_gather");
  Tensor f32 = full({2}, r, float32), f64 = full({1, 1}, 10 * r, float64);
  dist::allreduce_mean(comm, {f32, Tensor(), f64});
  check(f32.to_vector() == std::vector<double>{0.5, 0.5} && f64.item() == 5,
        "allreduce_mean, two dtypes in two buckets");
  // int64 tensors travel as int64 (MPI_INT64_T), exactly beyond 2^53.
  Tensor ids = full({2}, r, int64), big = full({1}, r, int64);
  if (comm.rank() == 0) big.data<int64_t>()[0] = (int64_t{1} << 53) + 1;
  dist::broadcast_all(comm, {ids, b, big}, 0);
  check(ids.to_vector() == std::vector<double>{0, 0} &&
            big.data<int64_t>()[0] == (int64_t{1} << 53) + 1,
        "broadcast_all of int64 tensors");
  Tensor counts = full({1}, r + 1, int64);
  comm.allreduce_sum(counts);
  check(counts.data<int64_t>()[0] == 3, "allreduce_sum of an int64 tensor");
  std::string error;
  try {
    comm.broadcast(b, 7);
  } catch (const std::runtime_error& e) {
    error = e.what();
  }
  check(error.starts_with("MPI_Bcast failed: "), "an MPI error names the call: '" + error + "'");
}

void toy_data(int64_t n, uint64_t seed, Tensor& X, Tensor& y) {
  Generator gen(seed);
  X = randn({n, 6}, gen, float64);
  y = argmax(slice(X, 1, 0, 3), 1);
}

// Trains `make()`'s model for 20 steps on one process and on all of them; returns the
// relative weight difference.
double one_against_all(dist::MpiSession& comm, const std::function<nn::Classifier*()>& make) {
  Tensor Xt, yt, Xv, yv;
  toy_data(2000, 1, Xt, yt);
  toy_data(100, 2, Xv, yv);
  train::SolverOptions o;
  o.update_rule = "sgd_momentum";
  o.optim_config = {{"learning_rate", 0.05}};
  o.batch_size = 200;  // 10 steps per epoch, 100 rows per process
  o.num_epochs = 2;
  o.verbose = false;
  std::unique_ptr<nn::Classifier> alone(make()), together(make());
  train::Solver single(*alone, {Xt, yt, Xv, yv}, o);
  single.train();
  o.comm = std::shared_ptr<dist::Communicator>(&comm, [](dist::Communicator*) {});
  train::Solver parallel(*together, {Xt, yt, Xv, yv}, o);
  parallel.train();
  check(parallel.loss_history.size() == 20, "20 steps");
  return relative_difference(*alone, *together);
}

}  // namespace

int main(int argc, char** argv) {
  dist::MpiSession comm(&argc, &argv);
  try {
    if (comm.size() != 2) throw std::runtime_error("run me with mpirun -np 2");
    collectives(comm);
    const double plain = one_against_all(comm, [] {
      return new nn::TwoLayerNet({.input_dim = 6,
                                  .hidden_dim = 16,
                                  .num_classes = 3,
                                  .weight_scale = 0.1,
                                  .reg = 1e-3,
                                  .dtype = float64,
                                  .seed = 4});
    });
    check(plain <= 1e-12, fmt::format("2 processes = 1 process without batch norm: {:.2e}", plain));
    const double bn = one_against_all(comm, [] {
      return new nn::FullyConnectedNet({.hidden_dims = {16},
                                        .input_dim = 6,
                                        .num_classes = 3,
                                        .normalization = "batchnorm",
                                        .weight_scale = 0.1,
                                        .dtype = float64,
                                        .seed = 4});
    });
    check(bn <= 0.05,
          fmt::format("2 processes against 1 with batch norm: {:.2e} (bound 0.05)", bn));
    if (comm.rank() == 0)
      fmt::print(
          "weights after 20 steps, 2 processes against 1: {:.2e} without batch norm, "
          "{:.2e} with\n",
          plain, bn);
  } catch (const std::exception& e) {
    fmt::print(stderr, "rank {}: {}\n", comm.rank(), e.what());
    comm.abort(1);
  }
  Tensor counts =
      tensor({static_cast<double>(passed), static_cast<double>(failed)}, Shape{2}, float64);
  comm.allreduce_sum(counts);
  if (comm.rank() == 0)
    fmt::print("dist tests: {} passed, {} failed\n", static_cast<int>(counts.to_vector()[0]),
               static_cast<int>(counts.to_vector()[1]));
  return counts.to_vector()[1] == 0 ? 0 : 1;
}
