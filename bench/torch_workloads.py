#!/usr/bin/python3
"""The six dagrad benchmark workloads in PyTorch, printing the same one-line JSON.

    /usr/bin/python3 bench/torch_workloads.py WORKLOAD [--repeats N] [--warmup N] [--threads N]
    WORKLOAD: scalar_chain | mlp | cnn | cnn_bn | matmul | epoch | info

Same shapes, optimizer settings and timing rules as bench/bench_*.cpp (warm-up runs, then
`repeats` runs timed one by one, median). Random data come from a fixed seed. --threads sets
torch.set_num_threads and, unless already set in the environment, OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS (OpenBLAS keeps its own pool and reads the variable when it loads, so this
happens before torch is imported). The instruction set is left to the caller's environment:
run_benchmarks.py sets OPENBLAS_CORETYPE (only where Debian's OpenBLAS 0.3.21 misdetects the
CPU, or to hold it to a lower ISA path), DNNL_MAX_CPU_ISA and ATEN_CPU_CAPABILITY per path.

`info` prints what BLAS torch runs on: torch.__config__.show()'s BLAS line, the BLAS libraries
mapped into the process after a torch.mm, and OpenBLAS's own core name and thread count.
"""
import argparse
import gzip
import json
import os
import resource
import statistics
import sys
import time

WORKLOADS = ("scalar_chain", "mlp", "cnn", "cnn_bn", "matmul", "epoch", "info")
DEFAULTS = {  # (repeats, warmup), as in the C++ programs
    "scalar_chain": (300, 30),
    "mlp": (50, 5),
    "cnn": (30, 3),
    "cnn_bn": (30, 3),
    "matmul": (20, 3),
    "epoch": (1, 0),
    "info": (1, 0),
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("workload", choices=WORKLOADS)
    p.add_argument("--repeats", type=int)
    p.add_argument("--warmup", type=int)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, help="epoch: a synonym of --repeats")
    p.add_argument("--batch", type=int)
    p.add_argument("--size", type=int, default=1024, help="matmul: n of the n x n x n product")
    p.add_argument("--length", type=int, default=500, help="scalar_chain: steps of 2 ops")
    p.add_argument("--data", default=os.environ.get("DAGRAD_FASHION_MNIST_DIR") or
                   "/usr/share/datasets/fashion-mnist")
    p.add_argument("--train-size", type=int, default=0)
    p.add_argument("--flush-denormal", type=int, choices=(0, 1), default=1,
                   help="epoch: torch.set_flush_denormal, as dagrad's side does")
    a = p.parse_args()
    r, w = DEFAULTS[a.workload]
    a.repeats = a.epochs if a.epochs is not None else (a.repeats if a.repeats is not None else r)
    a.warmup = a.warmup if a.warmup is not None else w
    if a.repeats < 1 or a.warmup < 0 or a.threads < 1:
        p.error("--repeats/--threads must be >= 1 and --warmup >= 0")
    return a


ARGS = parse_args()
os.environ.setdefault("OMP_NUM_THREADS", str(ARGS.threads))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(ARGS.threads))

import torch  # noqa: E402  (after the thread variables)
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(ARGS.threads)
torch.manual_seed(0)


# ---- helpers: timing, memory, the JSON line ----

CPU_MS = []  # process CPU time of every timed run (time.process_time: all threads)


def time_runs(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
        CPU_MS.append((time.process_time() - c0) * 1e3)
    return ms


def stats_line(what, ms):
    print(f"{what}: median {statistics.median(ms):.4f} ms (min {min(ms):.4f}, "
          f"mean {statistics.fmean(ms):.4f}, max {max(ms):.4f}) over {len(ms)} runs"
          + (f"; median CPU time {statistics.median(CPU_MS):.4f} ms" if CPU_MS else ""))


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return -1.0


def openblas_info():
    """OpenBLAS's core and threads as the library loaded in this process reports them."""
    import ctypes
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode(), lib.openblas_get_num_threads()
    except (OSError, AttributeError):
        return "unknown", -1


def blas_libraries():
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1]
            name = os.path.basename(path)
            if any(k in name for k in ("blas", "lapack", "mkl", "dnnl", "gomp")):
                libs.add(os.path.realpath(path))
    return sorted(libs)


def emit(workload, ms, **extra):
    core, _ = openblas_info()
    rec = {"workload": workload, "impl": "pytorch", "median_ms": statistics.median(ms),
           "runs": len(ms), "min_ms": min(ms), "max_ms": max(ms)}
    if CPU_MS:
        rec["median_cpu_ms"] = statistics.median(CPU_MS)
    rec.update(extra)
    rec.update({"threads": ARGS.threads, "blas_core": core, "torch": torch.__version__})
    print(json.dumps(rec), flush=True)


def train_step(model, opt, X, y):
    def run():
        loss = F.cross_entropy(model(X), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        run.loss = loss.item()
    run.loss = 0.0
    return run


# ---- the workloads ----

def scalar_chain(a):
    x = torch.tensor(1.0, requires_grad=True)
    out = {}

    def run():
        z = x
        for _ in range(a.length):
            z = z * 1.0001 + 0.001
        z.backward()
        out["grad"] = x.grad.item()
        x.grad = None
    ms = time_runs(run, a.warmup, a.repeats)
    ops = 2 * a.length
    print(f"scalar chain: {ops} ops forward + backward, dz/dx = {out['grad']:.6f} "
          f"(expected {1.0001 ** a.length:.6f})")
    stats_line("forward+backward", ms)
    emit("scalar_chain", ms, ops=ops, ns_per_op=statistics.median(ms) * 1e6 / ops)


def mlp(a):
    b = a.batch or 128
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    X, y = torch.randn(b, 784), torch.randint(0, 10, (b,))
    run = train_step(model, opt, X, y)
    ms = time_runs(run, a.warmup, a.repeats)
    print(f"MLP 784-512-256-10, batch {b}, adam: last loss {run.loss:.4f}")
    stats_line("train step", ms)
    emit("mlp", ms, batch=b, last_loss=run.loss)


def cnn(a):
    b = a.batch or 64
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    X, y = torch.randn(b, 1, 28, 28), torch.randint(0, 10, (b,))
    run = train_step(model, opt, X, y)
    ms = time_runs(run, a.warmup, a.repeats)
    print(f"CNN 1x28x28 conv32-pool-conv64-pool-fc128-fc10, batch {b}, adam: last loss {run.loss:.4f}")
    stats_line("train step", ms)
    emit("cnn", ms, batch=b, last_loss=run.loss)


def cnn_bn(a):
    b = a.batch or 64
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4096, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    X, y = torch.randn(b, 3, 32, 32), torch.randint(0, 10, (b,))
    run = train_step(model, opt, X, y)
    ms = time_runs(run, a.warmup, a.repeats)
    print(f"CNN+BN 3x32x32 conv32-bn-pool-conv64-bn-pool-fc256-dropout-fc10, batch {b}, "
          f"sgd_momentum: last loss {run.loss:.4f}")
    stats_line("train step", ms)
    emit("cnn_bn", ms, batch=b, last_loss=run.loss)


def matmul(a):
    n = a.size
    A, B = torch.randn(n, n), torch.randn(n, n)
    ms = time_runs(lambda: torch.mm(A, B), a.warmup, a.repeats)
    gflops = 2.0 * n ** 3 / (statistics.median(ms) * 1e-3) / 1e9
    core, threads = openblas_info()
    print(f"torch.mm {n}x{n}x{n} float32: {gflops:.1f} GFLOP/s (OpenBLAS core {core}, "
          f"{threads} OpenBLAS threads)")
    stats_line("torch.mm", ms)
    emit("matmul", ms, size=n, gflops=gflops, openblas_threads=threads)


def read_idx(path):
    """An IDX file as a uint8 tensor, read straight into one buffer (no extra copies, so the
    loader does not inflate the process's peak memory)."""
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        head = f.read(4)
        ndims = head[3]
        dims = [int.from_bytes(f.read(4), "big") for _ in range(ndims)]
        n = 1
        for d in dims:
            n *= d
        buf = bytearray(n)
        if f.readinto(buf) != n:
            raise ValueError(f"{path}: truncated")
    return torch.frombuffer(buf, dtype=torch.uint8).reshape(dims)


def find(dir_, name):
    for cand in (name + ".gz", name):
        p = os.path.join(dir_, cand)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{name}[.gz] not found in {dir_}")


def load_fashion_mnist(dir_, num_val=5000):
    """As data::load_fashion_mnist: [0, 1] floats, the last num_val training images held out,
    normalized with the training split's pixel mean and population std (from exact integer
    sums of the 8-bit pixels)."""
    X8 = read_idx(find(dir_, "train-images-idx3-ubyte"))
    y = read_idx(find(dir_, "train-labels-idx1-ubyte")).to(torch.int64)
    n = X8.shape[0] - num_val
    s1 = s2 = 0
    for start in range(0, n, 500):  # small chunks: a 64-bit copy of everything would set the peak
        c = X8[start:min(n, start + 500)].to(torch.int64)
        s1 += int(c.sum())
        s2 += int((c * c).sum())
    count = n * X8.shape[1] * X8.shape[2]
    mean = torch.tensor(s1 / count / 255.0, dtype=torch.float64)
    std = torch.tensor(max(s2 / count / 255.0**2 - (s1 / count / 255.0) ** 2, 0.0), dtype=torch.float64).sqrt()
    mean, std = mean.item(), std.item()
    print(f"normalized with the training split's mean {mean:.6f} and std {std:.6f}")

    def norm(u8):
        return u8.to(torch.float32).div_(255.0).sub_(mean).div_(std).unsqueeze(1)
    Xtr, Xval = norm(X8[:n]), norm(X8[n:])
    del X8
    Xt = norm(read_idx(find(dir_, "t10k-images-idx3-ubyte")))
    yt = read_idx(find(dir_, "t10k-labels-idx1-ubyte")).to(torch.int64)
    return Xtr, y[:n].clone(), Xval, y[n:].clone(), Xt, yt


def epoch(a):
    b = a.batch or 128
    rss_start = current_rss_mb()
    Xtr, ytr, Xval, yval, Xt, yt = load_fashion_mnist(a.data)
    if 0 < a.train_size < Xtr.shape[0]:
        Xtr, ytr = Xtr[:a.train_size].clone(), ytr[:a.train_size].clone()
    rss_loaded, peak_loaded = current_rss_mb(), peak_rss_mb()
    n = Xtr.shape[0]
    per_epoch = max(n // b, 1)
    # examples/train_fashion_mnist.cpp's VGGNet: stages {32, 64, 128}, hidden 128, dropout 0.3,
    # no conv bias.
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128 * 3 * 3, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))
    model.train()
    torch.set_flush_denormal(bool(a.flush_denormal))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(0)

    def step(order, pos):
        idx = order[pos * b:(pos + 1) * b]
        Xb, yb = Xtr.index_select(0, idx), ytr.index_select(0, idx)
        loss = F.cross_entropy(model(Xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    if a.warmup > 0:
        order = torch.randperm(n, generator=gen)
        for i in range(a.warmup):
            step(order, i % per_epoch)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; train {n} images, "
          f"batch {b}, {per_epoch} iterations per epoch; rss {rss_start:.1f} MiB at start, "
          f"{rss_loaded:.1f} MiB with the data loaded (peak so far {peak_loaded:.1f} MiB)")
    ms, rss_after, mean_loss = [], [], 0.0
    for e in range(a.repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=gen)
        total = 0.0
        for it in range(per_epoch):
            total += step(order, it)
        ms.append((time.perf_counter() - t0) * 1e3)
        CPU_MS.append((time.process_time() - c0) * 1e3)
        rss_after.append(current_rss_mb())
        mean_loss = total / per_epoch
        print(f"epoch {e + 1}: {ms[-1] / 1e3:.2f} s ({ms[-1] / per_epoch:.2f} ms per iteration; "
              f"CPU time {CPU_MS[-1] / 1e3:.2f} s), "
              f"mean loss {mean_loss:.4f}, rss {rss_after[-1]:.1f} MiB, peak {peak_rss_mb():.1f} MiB",
              flush=True)
    stats_line("epoch", ms)
    emit("epoch", ms, epochs=a.repeats, train_images=n, iterations=per_epoch, batch=b,
         mean_loss_last_epoch=mean_loss, epoch_ms=ms, epoch_cpu_ms=list(CPU_MS), rss_loaded_mb=rss_loaded, peak_rss_loaded_mb=peak_loaded, rss_after_epoch_mb=rss_after,
         peak_rss_mb=peak_rss_mb())


def info(a):
    torch.mm(torch.randn(64, 64), torch.randn(64, 64))  # make sure the BLAS is loaded
    cfg = torch.__config__.show()
    blas_line = next((s.strip() for s in cfg.splitlines() if "BLAS_INFO" in s), "")
    blas_info = next((p.strip() for p in blas_line.split(",") if "BLAS_INFO" in p), "?")
    core, threads = openblas_info()
    libs = blas_libraries()
    print(f"torch {torch.__version__}: {blas_info}; "
          f"mkldnn {torch.backends.mkldnn.is_available()}; MKL {torch.backends.mkl.is_available()}")
    print("BLAS-like libraries mapped after torch.mm:", ", ".join(libs))
    # ATen's vector-kernel level after ATEN_CPU_CAPABILITY (the query exists from torch 2.0 on).
    get_cap = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    capability = get_cap() if get_cap else ""
    print(f"OpenBLAS core {core}, {threads} threads (OPENBLAS_CORETYPE="
          f"{os.environ.get('OPENBLAS_CORETYPE', '<unset>')}); torch threads {torch.get_num_threads()}"
          + (f"; ATen CPU capability {capability}" if capability else ""))
    rec = {"workload": "info", "impl": "pytorch", "torch": torch.__version__,
           "blas_info": blas_info, "libraries": libs, "openblas_core": core,
           "openblas_threads": threads, "torch_threads": torch.get_num_threads(),
           "mkldnn": torch.backends.mkldnn.is_available(), "mkl": torch.backends.mkl.is_available(),
           "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE", ""),
           "cpu_capability": capability}
    print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    try:
        globals()[ARGS.workload](ARGS)
    except Exception as e:  # one line on stderr, like the C++ programs
        print(f"torch_workloads {ARGS.workload}: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
