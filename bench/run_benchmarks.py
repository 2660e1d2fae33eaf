#!/usr/bin/python3
"""Runs dagrad's benchmarks and the same workloads in PyTorch, side by side, and prints a table.

    /usr/bin/python3 bench/run_benchmarks.py --build build-bench [--rounds 3] [--only mlp,cnn]

The dagrad programs are looked up in BUILD/bench/ (or BUILD itself); PyTorch runs through
bench/torch_workloads.py under --python (default /usr/bin/python3, where Debian's torch lives).

For every workload the pair is run --rounds times, alternating dagrad and PyTorch (the order
flips every round so neither side always runs on a warmer or quieter machine); each run
reports the median of its own timed repeats, and the table shows the median over rounds.
PyTorch gets its best configuration: OPENBLAS_CORETYPE=SkylakeX in its environment (its
float32 GEMM is OpenBLAS, which otherwise runs SSE3 kernels on this CPU) and the better of 1 or
2 threads, both measured every round. dagrad gets the same treatment (--dagrad-threads, default
1,2: the better of the two is reported; on a busy machine a second BLAS thread that waits for a
descheduled partner can cost more than it brings, for both libraries). The table names the
thread count that won.

Workload 5 (matmul) is compared as GFLOP/s against torch.mm, which is OpenBLAS's SkylakeX sgemm
(torch_workloads.py info shows the library). Workload 6 (epoch) runs --epochs epochs per process
(memory after each is reported), --epoch-rounds times; each side's thread count for it is
chosen by a short calibration run on the first --epoch-calibration images.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# name, program, label, comparison kind, target
WORKLOADS = [
    ("scalar_chain", "bench_scalar_chain", "w1 scalar chain (1,000 ops fwd+bwd)", "time", 1 / 30),
    ("mlp", "bench_mlp", "w2 MLP 784-512-256-10, b128, Adam step", "time", 0.7),
    ("cnn", "bench_cnn", "w3 CNN 1x28x28, b64, Adam step", "time", 0.7),
    ("cnn_bn", "bench_cnn_bn", "w4 CNN+BN+dropout 3x32x32, b64, SGD-momentum step", "time", 0.8),
    ("matmul", "bench_matmul", "w5 sgemm 1024^3 (GFLOP/s)", "gflops", 0.9),
    ("epoch", "bench_epoch", "w6 Fashion-MNIST epoch (VGGNet, b128, Adam)", "time", 0.6),
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build", help="meson build dir (binaries in BUILD/bench/)")
    p.add_argument("--python", default="/usr/bin/python3", help="interpreter that has torch")
    p.add_argument("--rounds", type=int, default=3, help="dagrad/PyTorch pairs per workload")
    p.add_argument("--only", default="", help="comma-separated workload names (default: all)")
    p.add_argument("--torch-threads", default="1,2", help="PyTorch thread counts to try")
    p.add_argument("--dagrad-threads", default="1,2", help="dagrad thread counts to try (best wins)")
    p.add_argument("--repeats", type=int, help="timed repeats per run (default: each program's)")
    p.add_argument("--warmup", type=int, help="warm-up runs per run (default: each program's)")
    p.add_argument("--epochs", type=int, default=2, help="w6: epochs per process")
    p.add_argument("--epoch-rounds", type=int, default=1, help="w6: dagrad/PyTorch pairs")
    p.add_argument("--epoch-calibration", type=int, default=3840,
                   help="w6: images of the run that picks PyTorch's threads (0: run all counts)")
    p.add_argument("--train-size", type=int, default=0, help="w6: use only N training images")
    p.add_argument("--json-out", help="write every run's JSON record here")
    p.add_argument("--markdown-out", help="write the table (and setup lines) here")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per process")
    return p.parse_args()


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_json(cmd, env=None, timeout=3600):
    """Runs one benchmark process and returns its last JSON line (a dict)."""
    log("  $ " + " ".join(cmd))
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    for line in reversed(r.stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            rec = json.loads(line)
            log(f"    -> median {rec.get('median_ms', float('nan')):.4f} ms"
                + (f", {rec['gflops']:.1f} GFLOP/s" if "gflops" in rec else "")
                + (f", peak {rec['peak_rss_mb']:.0f} MiB" if "peak_rss_mb" in rec else ""))
            return rec
    raise RuntimeError(f"{' '.join(cmd)} printed no JSON line:\n{r.stdout}")


class Runner:
    def __init__(self, a):
        self.a = a
        d = os.path.join(a.build, "bench")
        self.bin_dir = d if os.path.isdir(d) else a.build
        self.torch_env = dict(os.environ, OPENBLAS_CORETYPE="SkylakeX")
        self.records = []

    def dagrad(self, prog, threads, extra):
        cmd = [os.path.join(self.bin_dir, prog), "--threads", str(threads)] + extra
        rec = run_json(cmd, timeout=self.a.timeout)
        self.records.append(rec)
        return rec

    def torch(self, name, threads, extra):
        env = dict(self.torch_env, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
        cmd = [self.a.python, os.path.join(HERE, "torch_workloads.py"), name,
               "--threads", str(threads)] + extra
        rec = run_json(cmd, env=env, timeout=self.a.timeout)
        self.records.append(rec)
        return rec


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def measure(runner, name, prog, dthreads, tthreads, rounds, extra):
    """Alternates dagrad and PyTorch `rounds` times. Returns {("dagrad"|"pytorch", t): [recs]}."""
    runs = {}
    for r in range(rounds):
        log(f"{name}: round {r + 1}/{rounds}")
        jobs = [("dagrad", t) for t in dthreads] + [("pytorch", t) for t in tthreads]
        if r % 2:
            jobs.reverse()
        for impl, t in jobs:
            rec = runner.dagrad(prog, t, extra) if impl == "dagrad" else runner.torch(name, t, extra)
            runs.setdefault((impl, t), []).append(rec)
    return runs


def best(runs, impl, key, higher_is_better=False):
    """The thread count whose median-over-rounds of `key` is best, with that value and records."""
    cands = [(t, median([r[key] for r in recs]), recs) for (i, t), recs in runs.items() if i == impl]
    return (max if higher_is_better else min)(cands, key=lambda c: c[1])


def fmt_ms(ms):
    if ms >= 10000:
        return f"{ms / 1000:.1f} s"
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 1:
        return f"{ms:.2f} ms"
    return f"{ms * 1000:.0f} µs"


def machine_lines(a, torch_info):
    model, cores = "?", os.cpu_count()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return [
        f"- finished: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- machine: {model}, {cores} cores ({platform.machine()}), load average at the end: {load}",
        f"- PyTorch: {torch_info.get('torch')} ({torch_info.get('blas_info', '?').replace('- Build settings: ', '')}, "
        f"float32 GEMM on OpenBLAS core {torch_info.get('openblas_core')} with OPENBLAS_CORETYPE=SkylakeX; "
        f"mkldnn {torch_info.get('mkldnn')})",
        f"- rounds: {a.rounds} (w6: {a.epoch_rounds} x {a.epochs} epochs); each cell is the median over rounds "
        f"of each run's median",
    ]


def main():
    a = parse_args()
    only = set(filter(None, a.only.split(",")))
    unknown = only - {w[0] for w in WORKLOADS}
    if unknown:
        sys.exit(f"unknown workload(s): {', '.join(sorted(unknown))}")
    runner = Runner(a)
    for name, prog, *_ in WORKLOADS:
        if (not only or name in only) and not os.path.exists(os.path.join(runner.bin_dir, prog)):
            sys.exit(f"{prog} not found in {runner.bin_dir}: build it first (see bench/meson.build)")
    dthreads = [int(t) for t in a.dagrad_threads.split(",")]
    tthreads = [int(t) for t in a.torch_threads.split(",")]
    common = []
    if a.repeats is not None:
        common += ["--repeats", str(a.repeats)]
    if a.warmup is not None:
        common += ["--warmup", str(a.warmup)]

    torch_info = run_json([a.python, os.path.join(HERE, "torch_workloads.py"), "info"],
                          env=runner.torch_env)
    rows, notes, cpu_rows = [], [], []
    for name, prog, label, kind, target in WORKLOADS:
        if only and name not in only:
            continue
        if name == "epoch":
            extra = ["--epochs", str(a.epochs)]
            if a.train_size:
                extra += ["--train-size", str(a.train_size)]
            dt_, tt = dthreads, tthreads
            cal_extra = ["--epochs", "1", "--train-size", str(a.epoch_calibration)]
            if a.epoch_calibration and len(dthreads) > 1:
                log("epoch: calibrating dagrad's thread count")
                cal = {t: runner.dagrad(prog, t, cal_extra)["median_ms"] for t in dthreads}
                dt_ = [min(cal, key=cal.get)]
                notes.append(f"w6: dagrad threads chosen by a {a.epoch_calibration}-image epoch: "
                             + ", ".join(f"{t} thr {fmt_ms(v)}" for t, v in cal.items()))
            if a.epoch_calibration and len(tthreads) > 1:
                log("epoch: calibrating PyTorch's thread count")
                cal = {t: runner.torch("epoch", t, cal_extra)["median_ms"] for t in tthreads}
                tt = [min(cal, key=cal.get)]
                notes.append(f"w6: PyTorch threads chosen by a {a.epoch_calibration}-image epoch: "
                             + ", ".join(f"{t} thr {fmt_ms(v)}" for t, v in cal.items()))
            runs = measure(runner, name, prog, dt_, tt, a.epoch_rounds, extra)
        else:
            runs = measure(runner, name, prog, dthreads, tthreads, a.rounds, common)

        if kind == "gflops":
            dt, dv, drecs = best(runs, "dagrad", "gflops", True)
            tt_, tv, _ = best(runs, "pytorch", "gflops", True)
            raw = median([r["raw_sgemm_gflops"] for r in drecs])
            ratio = dv / tv
            rows.append([label, f"{dv:.1f} GFLOP/s ({dt} thr)", f"{tv:.1f} GFLOP/s ({tt_} thr)",
                         f"{ratio:.2f}", f">= {target:.2f} of OpenBLAS SkylakeX", ratio >= target])
            notes.append(f"w5: dagrad's raw blas::gemm in the same process: {raw:.1f} GFLOP/s "
                         f"(matmul op / raw = {dv / raw:.2f}); torch.mm is OpenBLAS "
                         f"{torch_info.get('openblas_core')} sgemm")
        else:
            dt, dv, drecs = best(runs, "dagrad", "median_ms")
            tt_, tv, trecs = best(runs, "pytorch", "median_ms")
            ratio = dv / tv
            tgt = f"<= 1/{round(1 / target)}" if target < 0.1 else f"<= {target:g}"
            rows.append([label, f"{fmt_ms(dv)} ({dt} thr)", f"{fmt_ms(tv)} ({tt_} thr)",
                         f"{ratio:.3f}" if ratio < 0.1 else f"{ratio:.2f}", tgt, ratio <= target])
            if name == "scalar_chain":
                notes.append(f"w1: per op (forward + backward): dagrad "
                             f"{median([r['ns_per_op'] for r in drecs]):.0f} ns, PyTorch "
                             f"{median([r['ns_per_op'] for r in trecs]):.0f} ns")
            if name == "epoch":
                dpeak = max(r["peak_rss_mb"] for r in drecs)
                tpeak = max(r["peak_rss_mb"] for r in trecs)
                rows.append(["w6 peak memory (ru_maxrss)", f"{dpeak:.0f} MiB", f"{tpeak:.0f} MiB",
                             f"{dpeak / tpeak:.2f}", "<= 1", dpeak <= tpeak])
                for impl, recs in (("dagrad", drecs), ("PyTorch", trecs)):
                    r = recs[0]
                    notes.append(f"w6 {impl} ({r['threads']} thr): data loaded {r['rss_loaded_mb']:.0f} MiB; "
                                 "resident after each epoch: "
                                 + ", ".join(f"{v:.0f}" for v in r["rss_after_epoch_mb"])
                                 + " MiB; epoch times: "
                                 + ", ".join(f"{v / 1000:.1f}" for v in r["epoch_ms"])
                                 + f" s; mean loss of the last epoch {r['mean_loss_last_epoch']:.4f}")
        # The load-robust view: process CPU time at 1 thread on both sides.
        d1, t1 = runs.get(("dagrad", 1), []), runs.get(("pytorch", 1), [])
        if d1 and t1 and all("median_cpu_ms" in r for r in d1 + t1):
            dc = median([r["median_cpu_ms"] for r in d1])
            tc = median([r["median_cpu_ms"] for r in t1])
            if kind == "gflops":
                n = d1[0]["size"]
                dg, tg = 2.0 * n ** 3 / (dc * 1e6), 2.0 * n ** 3 / (tc * 1e6)
                cpu_rows.append([label, f"{dg:.1f} GFLOP/s", f"{tg:.1f} GFLOP/s", f"{dg / tg:.2f}",
                                 f">= {target:.2f}", dg / tg >= target])
            else:
                r_ = dc / tc
                tgt = f"<= 1/{round(1 / target)}" if target < 0.1 else f"<= {target:g}"
                cpu_rows.append([label, fmt_ms(dc), fmt_ms(tc),
                                 f"{r_:.3f}" if r_ < 0.1 else f"{r_:.2f}", tgt, r_ <= target])
        # Every thread count's medians, for the record.
        notes.append(f"{name}: " + "; ".join(
            f"{i} {t} thr: " + ", ".join(
                (f"{r['gflops']:.1f} GFLOP/s" if kind == "gflops" else fmt_ms(r["median_ms"]))
                for r in recs) for (i, t), recs in sorted(runs.items())))

    head = ["workload", "dagrad median", "PyTorch median", "ratio (dagrad/PyTorch)", "target", "met?"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(r[:-1] + ["yes" if r[-1] else "**no**"]) + " |")
    extra = []
    if cpu_rows:
        extra = ["", "Process CPU time per run at 1 thread (median over rounds), the view that "
                 "least depends on how busy the machine is:", "",
                 "| workload | dagrad CPU time | PyTorch CPU time | ratio | target | met? |",
                 "|" + "---|" * 6]
        for r in cpu_rows:
            extra.append("| " + " | ".join(r[:-1] + ["yes" if r[-1] else "**no**"]) + " |")
    out = "\n".join(machine_lines(a, torch_info) + [""] + lines + extra + [""]
                    + ["- " + n for n in notes])
    print(out)
    if a.markdown_out:
        with open(a.markdown_out, "w") as f:
            f.write(out + "\n")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"torch_info": torch_info, "runs": runner.records}, f, indent=1)


if __name__ == "__main__":
    main()
