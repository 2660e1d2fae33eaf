#!/usr/bin/env bash
# The main job data parallel over several processes with MPI (Open MPI from Debian): installs
# what is missing, builds, and runs train-fashion-mnist under mpirun.
#   bash examples/train_fashion_mnist_mpi.sh [-np N] [--hostfile FILE] [--threads T] [args...]
# -np: processes (default 2). --hostfile: machines to spread them over (Open MPI's format, e.g.
# "node1 slots=2"); the repository and the build must be at the same path on each. --threads:
# dagrad threads per process (default: this machine's CPUs / N, at least 1). Other arguments go
# to train-fashion-mnist (try --help); --batch_size is the global batch, split across processes.
source "$(dirname "${BASH_SOURCE[0]}")/../.ci/setup.sh" libopenmpi-dev openmpi-bin
cd "$DAGRAD_ROOT"
np=2
threads=""
hostfile=()
while [ $# -gt 0 ]; do
  case "$1" in
    -np|--np) np="$2"; shift 2 ;;
    --hostfile) hostfile=(--hostfile "$2"); shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ -n "$threads" ] || threads=$(( $(nproc) / np > 0 ? $(nproc) / np : 1 ))
# Containers often run as root, which mpirun refuses unless told; processes may outnumber
# cores (--oversubscribe); dagrad's own thread pool places its threads (--bind-to none).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
env_args=(-x DAGRAD_NUM_THREADS="$threads")
[ -n "${DAGRAD_FASHION_MNIST_DIR:-}" ] && env_args+=(-x DAGRAD_FASHION_MNIST_DIR)
exec mpirun -np "$np" "${hostfile[@]}" --oversubscribe --bind-to none "${env_args[@]}" \
  "$DAGRAD_BUILD/examples/train-fashion-mnist" "$@"
