#!/usr/bin/python3
"""Runs dagrad's benchmarks and the same workloads in PyTorch, side by side, and prints a table.

    /usr/bin/python3 bench/run_benchmarks.py --build build-bench [--rounds 3] [--only mlp,cnn]

The dagrad programs are looked up in BUILD/bench/ (or BUILD itself); PyTorch runs through
bench/torch_workloads.py under --python (default /usr/bin/python3, where Debian's torch lives).

For every workload the pair is run --rounds times, alternating dagrad and PyTorch (the order
flips every round so neither side always runs on a warmer or quieter machine); each run
reports the median of its own timed repeats, and the table shows the median over rounds.

Instruction sets (--isa): one table per ISA path. dagrad runs with DAGRAD_ISA=<path> and
PyTorch is held to the same instruction set: DNNL_MAX_CPU_ISA / ONEDNN_MAX_CPU_ISA (oneDNN:
convolutions), ATEN_CPU_CAPABILITY (ATen's own vector kernels) and OPENBLAS_CORETYPE (its
float32 GEMM, OpenBLAS) -- avx512: no cap; avx2: AVX2, avx2, Haswell (or the library's own
AVX2 core on a CPU without AVX-512); baseline: SSE41, default, Nehalem. On the best path
PyTorch gets its best configuration, and OPENBLAS_CORETYPE is set only where Debian's OpenBLAS
0.3.21 does not know the CPU and would run SSE3 kernels (the rule of dagrad's
blas::core_override; Emerald Rapids here gets SkylakeX, an AMD Zen 3 nothing). The default
(--isa default) is the best path this CPU can run plus avx2 when the best is avx512 -- the
paths our machines actually take -- so a full run costs at most twice one path; --isa all adds
baseline. A path the CPU cannot run is refused, never run. Both sides get the better of 1 or 2
threads (--torch-threads / --dagrad-threads, measured every round; on a busy machine a second
BLAS thread that waits for a descheduled partner can cost more than it brings). The table
names the thread count that won.

Every table names the CPU model, the ISA path (and what `dagrad-info` reports for it) and the
date. Workload 5 (matmul) is compared as GFLOP/s against torch.mm (OpenBLAS sgemm on the core
named in the setup lines). Workload 6 (epoch) runs --epochs epochs per process (memory after
each is reported), --epoch-rounds times; each side's thread count for it is chosen by a short
calibration run on the first --epoch-calibration images; both sides' achieved GFLOP/s are set
against the machine's FP32 peak for that path (model FLOPs: docs/benchmarks.md).
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# name, program, label, comparison kind, target (the avx2 path has its own, AVX2_TARGETS)
WORKLOADS = [
    ("scalar_chain", "bench_scalar_chain", "w1 scalar chain (1,000 ops fwd+bwd)", "time", 1 / 30),
    ("mlp", "bench_mlp", "w2 MLP 784-512-256-10, b128, Adam step", "time", 0.7),
    ("cnn", "bench_cnn", "w3 CNN 1x28x28, b64, Adam step", "time", 0.7),
    ("cnn_bn", "bench_cnn_bn", "w4 CNN+BN+dropout 3x32x32, b64, SGD-momentum step", "time", 0.8),
    ("matmul", "bench_matmul", "w5 sgemm 1024^3 (GFLOP/s)", "gflops", 0.9),
    ("epoch", "bench_epoch", "w6 Fashion-MNIST epoch (VGGNet, b128, Adam)", "time", 0.6),
]
# Issue 9's targets for the AVX2 path (an AVX2-only host, or DAGRAD_ISA=avx2 with PyTorch held
# to AVX2); "memory" is w6's peak memory ratio. Elsewhere memory's target is 1 (not above).
AVX2_TARGETS = {"mlp": 0.25, "cnn": 0.3, "cnn_bn": 0.35, "epoch": 0.4, "memory": 0.5}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build", help="meson build dir (binaries in BUILD/bench/)")
    p.add_argument("--native-build", default="",
                   help="also run dagrad from this -Dnative=true build on the CPU's best path, "
                        "alternated with the portable build, and compare the two (target: the "
                        "portable build within 5%%)")
    p.add_argument("--python", default="/usr/bin/python3", help="interpreter that has torch")
    p.add_argument("--rounds", type=int, default=3, help="dagrad/PyTorch pairs per workload")
    p.add_argument("--only", default="", help="comma-separated workload names (default: all)")
    p.add_argument("--isa", default="default",
                   help="avx512 | avx2 | baseline | all | default, or a comma-separated list "
                        "(default: the best path this CPU runs, plus avx2 if the best is avx512)")
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


# ---------------------------------------------------------------- the CPU and its ISA paths

ISA_PATHS = ("avx512", "avx2", "baseline")  # best first
# Variables the runner sets per path; a value inherited from the caller would undo the holding.
CONTROLLED_ENV = ("DAGRAD_ISA", "OPENBLAS_CORETYPE", "DNNL_MAX_CPU_ISA", "ONEDNN_MAX_CPU_ISA",
                  "ATEN_CPU_CAPABILITY")


def read_cpu():
    """The first CPU's vendor, family, model, name and flags from /proc/cpuinfo, and every
    CPU's "cpu MHz"."""
    cpu = {"vendor": "?", "family": -1, "model": -1, "name": platform.processor() or "?",
           "flags": set(), "mhz": []}
    seen = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "cpu MHz":
                    cpu["mhz"].append(float(value))
                elif key in seen:
                    continue
                elif key == "vendor_id":
                    cpu["vendor"] = value
                elif key == "cpu family":
                    cpu["family"] = int(value)
                elif key == "model":
                    cpu["model"] = int(value)
                elif key == "model name":
                    cpu["name"] = value
                elif key == "flags":
                    cpu["flags"] = set(value.split())
                seen.add(key)
    except (OSError, ValueError):
        pass
    return cpu


def runnable_paths(cpu):
    """The ISA paths this CPU (and its OS: the kernel hides flags it does not enable) can run."""
    f = cpu["flags"]
    paths = []
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx2", "fma"} <= f:
        paths.append("avx512")
    if {"avx2", "fma"} <= f:
        paths.append("avx2")
    return paths + ["baseline"]


# Family-6 Intel models whose AVX2/AVX-512 cores Debian's OpenBLAS 0.3.21 detects by itself.
# Mirror of intel_known_models in dagrad/runtime/blas.cpp (see the reasoning there): keep in step.
OPENBLAS_0321_INTEL_MODELS = {60, 63, 69, 70, 61, 71, 79, 86, 78, 94, 142, 158, 165, 166, 85,
                              87, 102, 106, 108, 126, 140, 141, 151, 154}


def openblas_core_override(cpu, paths):
    """dagrad::blas::core_override in Python: the OPENBLAS_CORETYPE that keeps OpenBLAS 0.3.21
    (also the one torch uses through libblas.so.3) off its SSE3 fallback, or None where the
    library's own detection is right."""
    if cpu["vendor"] == "GenuineIntel":
        known = cpu["family"] == 6 and cpu["model"] in OPENBLAS_0321_INTEL_MODELS
    elif cpu["vendor"] in ("AuthenticAMD", "HygonGenuine"):
        known = cpu["family"] <= 0x19
    else:
        known = False
    if known:
        return None
    if "avx512" in paths:
        return "SkylakeX"
    if "avx2" in paths:
        return "Haswell"
    return None


def choose_paths(spec, paths):
    """The ISA paths to run for --isa SPEC; exits on a path the CPU cannot run."""
    if spec == "default":
        return paths[:1] + (["avx2"] if paths[0] == "avx512" else [])
    if spec == "all":
        return list(paths)
    wanted = [p for p in spec.split(",") if p]
    bad = [p for p in wanted if p not in ISA_PATHS]
    if bad:
        sys.exit(f"--isa: unknown path(s) {', '.join(bad)} (avx512, avx2, baseline, all, default)")
    missing = [p for p in wanted if p not in paths]
    if missing:
        sys.exit(f"--isa: this CPU cannot run {', '.join(missing)} (it runs {', '.join(paths)})")
    return [p for p in ISA_PATHS if p in wanted]


def path_env(path, cpu, paths):
    """(dagrad's, PyTorch's) extra environment for one ISA path."""
    torch_env = {}
    if path == "avx512":  # the top path: no caps, PyTorch's best configuration
        core = openblas_core_override(cpu, paths)
    elif path == "avx2":
        torch_env.update(DNNL_MAX_CPU_ISA="AVX2", ONEDNN_MAX_CPU_ISA="AVX2", ATEN_CPU_CAPABILITY="avx2")
        # On an AVX-512 CPU the library would pick SkylakeX/Cooperlake itself.
        core = "Haswell" if "avx512" in paths else openblas_core_override(cpu, paths)
    else:
        torch_env.update(DNNL_MAX_CPU_ISA="SSE41", ONEDNN_MAX_CPU_ISA="SSE41",
                         ATEN_CPU_CAPABILITY="default")
        core = "Nehalem"  # SSE up to 4.2, no AVX
    dagrad_env = {"DAGRAD_ISA": path}
    if core:
        torch_env["OPENBLAS_CORETYPE"] = core
        # dagrad decides the best path's core itself (the same rule); below it, its GEMMs are
        # held like PyTorch's.
        if path != paths[0]:
            dagrad_env["OPENBLAS_CORETYPE"] = core
    return dagrad_env, torch_env


def dagrad_info_lines(build, env):
    """The `ISA path: ...` and `BLAS: ...` lines of dagrad-info run under env (None if absent).
    The ISA line is `ISA path: <avx512|avx2|baseline> ...`; only its presence and text are used."""
    prog = os.path.join(build, "tools", "dagrad-info")
    try:
        out = subprocess.run([prog], capture_output=True, text=True, env=env, timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    isa = next((l.strip() for l in out.splitlines() if l.strip().startswith("ISA path:")), None)
    blas = next((l.strip() for l in out.splitlines() if l.strip().startswith("BLAS:")), None)
    return isa, blas


def lscpu_fields():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return {}
    return {k.strip(): v.strip() for k, _, v in (l.partition(":") for l in out.splitlines())}


def fp32_peak(cpu, path):
    """(GFLOP/s, how it was derived) for the machine's FP32 peak on one ISA path."""
    ls = lscpu_fields()
    try:
        cores = int(ls["Core(s) per socket"]) * int(ls["Socket(s)"])
        cores_src = "physical cores (lscpu)"
    except (KeyError, ValueError):
        cores, cores_src = os.cpu_count() or 1, "logical CPUs"
    if ls.get("CPU max MHz"):
        ghz, ghz_src = float(ls["CPU max MHz"]) / 1000, "lscpu \"CPU max MHz\""
    elif cpu["mhz"]:
        ghz, ghz_src = statistics.mean(cpu["mhz"]) / 1000, "/proc/cpuinfo \"cpu MHz\""
    else:
        return None, "unknown clock"
    if path == "avx512":
        # Zen 4 runs AVX-512 on its two 256-bit FMA pipes; Intel Xeons and Zen 5 have two
        # 512-bit FMA units (some low-end Xeons have one: then this is twice their peak).
        if cpu["vendor"] == "AuthenticAMD" and cpu["family"] == 0x19:
            fpc, why = 32, "AVX-512 on two 256-bit FMA units"
        else:
            fpc, why = 64, "two 512-bit FMA units x 16 floats x 2"
    elif path == "avx2":
        fpc, why = 32, "two 256-bit FMA units x 8 floats x 2"
    else:
        fpc, why = 8, "SSE without FMA: a 4-float add and a 4-float multiply per cycle"
    peak = cores * ghz * fpc
    return peak, (f"{cores} {cores_src} x {ghz:.2f} GHz ({ghz_src}) x {fpc} FLOP/cycle ({why})")


def vgg_train_flop_per_image(chw=(1, 28, 28), stages=(32, 64, 128), convs_per_stage=1,
                             hidden=128, classes=10):
    """FLOPs of one training image (forward + backward) of nn::VGGNet as bench_epoch builds it:
    conv3x3 (pad 1, no bias) and linear layers only, a multiply-add = 2 FLOP; backward = the
    weight gradient + the input gradient (each as dear as the forward), except for the first
    conv, whose input needs no gradient. Batch norm, ReLU, pooling, bias and loss are left out
    (~2% more). See docs/benchmarks.md for the numbers."""
    c, h, w = chw
    layers = []  # multiply-adds per image, forward
    for out in stages:
        for _ in range(convs_per_stage):
            layers.append(h * w * out * c * 9)
            c = out
        h, w = h // 2, w // 2
    layers += [c * h * w * hidden, hidden * classes]
    fwd = sum(layers)
    return 2 * (3 * fwd - layers[0])


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
        self.native_dir = ""
        if a.native_build:
            nd = os.path.join(a.native_build, "bench")
            self.native_dir = nd if os.path.isdir(nd) else a.native_build
        self.with_native = False  # set per path: only the CPU's best path compares builds
        self.base_env = {k: v for k, v in os.environ.items() if k not in CONTROLLED_ENV}
        self.dagrad_env = dict(self.base_env)
        self.torch_env = dict(self.base_env)
        self.records = []

    def set_path(self, path, dagrad_extra, torch_extra):
        self.dagrad_env = dict(self.base_env, **dagrad_extra)
        self.torch_env = dict(self.base_env, **torch_extra)

    def dagrad(self, prog, threads, extra):
        cmd = [os.path.join(self.bin_dir, prog), "--threads", str(threads)] + extra
        rec = run_json(cmd, env=self.dagrad_env, timeout=self.a.timeout)
        self.records.append(rec)
        return rec

    def native(self, prog, threads, extra):
        cmd = [os.path.join(self.native_dir, prog), "--threads", str(threads)] + extra
        rec = run_json(cmd, env=self.dagrad_env, timeout=self.a.timeout)
        rec["impl"] = "native"
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
    """Alternates dagrad and PyTorch (and the native build) `rounds` times.
    Returns {("dagrad"|"pytorch"|"native", t): [recs]}."""
    runs = {}
    for r in range(rounds):
        log(f"{name}: round {r + 1}/{rounds}")
        jobs = [("dagrad", t) for t in dthreads] + [("pytorch", t) for t in tthreads]
        if runner.with_native:
            jobs += [("native", t) for t in dthreads]
        if r % 2:
            jobs.reverse()
        for impl, t in jobs:
            if impl == "dagrad":
                rec = runner.dagrad(prog, t, extra)
            elif impl == "native":
                rec = runner.native(prog, t, extra)
            else:
                rec = runner.torch(name, t, extra)
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


def machine_lines(a, cpu, path, isa_line, blas_line, dagrad_env, torch_env, torch_info):
    try:
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    held = ", ".join(f"{k}={v}" for k, v in sorted(torch_env.items())) or "nothing capped"
    dagrad_core = dagrad_env.get("OPENBLAS_CORETYPE")
    core_env = torch_info.get("openblas_coretype_env")
    core_env = f"OPENBLAS_CORETYPE={core_env}" if core_env else "detected by OpenBLAS"
    return [
        f"### ISA path {path}: {cpu['name']}, {datetime.date.today().isoformat()}",
        "",
        f"- finished: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- CPU: {cpu['name']} ({cpu['vendor']} family {cpu['family']} model {cpu['model']}), "
        f"{os.cpu_count()} CPUs ({platform.machine()}), load average at the end: {load}",
        f"- ISA path: {path}. dagrad: DAGRAD_ISA={path}"
        + (f", OPENBLAS_CORETYPE={dagrad_core}" if dagrad_core else "")
        + f"; dagrad-info says: {isa_line or 'unknown'}. PyTorch: {held}"
        + (f"; ATen capability {torch_info['cpu_capability']}" if torch_info.get("cpu_capability") else ""),
        f"- PyTorch: {torch_info.get('torch')} ({torch_info.get('blas_info', '?').replace('- Build settings: ', '')}, "
        f"float32 GEMM on OpenBLAS core {torch_info.get('openblas_core')} ({core_env}); "
        f"mkldnn {torch_info.get('mkldnn')})",
        f"- dagrad: {blas_line or 'BLAS line of dagrad-info: unknown'}",
        f"- rounds: {a.rounds} (w6: {a.epoch_rounds} x {a.epochs} epochs); each cell is the median over rounds "
        f"of each run's median",
    ]


def run_path(a, runner, cpu, paths, path, common, dthreads, tthreads, only):
    """Every selected workload on one ISA path; returns the markdown for it."""
    dagrad_extra, torch_extra = path_env(path, cpu, paths)
    runner.set_path(path, dagrad_extra, torch_extra)
    isa_line, blas_line = dagrad_info_lines(a.build, runner.dagrad_env)
    log(f"== ISA path {path}: dagrad {dagrad_extra}, PyTorch {torch_extra}; "
        f"dagrad-info: {isa_line or 'unknown'}")
    torch_info = run_json([a.python, os.path.join(HERE, "torch_workloads.py"), "info"],
                          env=runner.torch_env)
    runner.with_native = bool(runner.native_dir) and path == paths[0]
    rows, notes, cpu_rows, native_rows = [], [], [], []
    for name, prog, label, kind, target in WORKLOADS:
        if path == "avx2":
            target = AVX2_TARGETS.get(name, target)
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
                         f"{ratio:.2f}", f">= {target:.2f} of OpenBLAS {torch_info.get('openblas_core')}", ratio >= target])
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
                mem_target = AVX2_TARGETS["memory"] if path == "avx2" else 1.0
                rows.append(["w6 peak memory (ru_maxrss)", f"{dpeak:.0f} MiB", f"{tpeak:.0f} MiB",
                             f"{dpeak / tpeak:.2f}", f"<= {mem_target:g}",
                             dpeak <= mem_target * tpeak])
                notes.extend(epoch_peak_notes(cpu, path, ((dt, drecs), (tt_, trecs))))
                for impl, recs in (("dagrad", drecs), ("PyTorch", trecs)):
                    r = recs[0]
                    notes.append(f"w6 {impl} ({r['threads']} thr): data loaded {r['rss_loaded_mb']:.0f} MiB; "
                                 "resident after each epoch: "
                                 + ", ".join(f"{v:.0f}" for v in r["rss_after_epoch_mb"])
                                 + " MiB; epoch times: "
                                 + ", ".join(f"{v / 1000:.1f}" for v in r["epoch_ms"])
                                 + f" s; mean loss of the last epoch {r['mean_loss_last_epoch']:.4f}")
        if any(i == "native" for i, _ in runs):
            higher = kind == "gflops"
            key = "gflops" if higher else "median_ms"
            pt, pv, _ = best(runs, "dagrad", key, higher)
            nt, nv, _ = best(runs, "native", key, higher)
            slow = nv / pv if higher else pv / nv  # > 1: the portable build is slower
            show = (lambda v: f"{v:.1f} GFLOP/s") if higher else fmt_ms
            native_rows.append([label, f"{show(pv)} ({pt} thr)", f"{show(nv)} ({nt} thr)",
                                f"{slow:.3f}", "<= 1.05", slow <= 1.05])
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
    if native_rows:
        extra += ["", f"The portable build against a -Dnative=true build ({a.native_build}) in the "
                  "same run, same path and environment; 'slowdown' is portable time / native time "
                  "(native GFLOP/s / portable for w5):", "",
                  "| workload | portable | -march=native | slowdown | target | met? |", "|" + "---|" * 6]
        for r in native_rows:
            extra.append("| " + " | ".join(r[:-1] + ["yes" if r[-1] else "**no**"]) + " |")
    return "\n".join(machine_lines(a, cpu, path, isa_line, blas_line, dagrad_extra,
                                   torch_extra, torch_info)
                     + [""] + lines + extra + [""] + ["- " + n for n in notes])


def epoch_peak_notes(cpu, path, sides):
    """w6 as GFLOP/s of the model's training FLOPs against the FP32 peak of this path."""
    flop = vgg_train_flop_per_image()
    peak, how = fp32_peak(cpu, path)
    out = []
    for impl, (threads, recs) in zip(("dagrad", "PyTorch"), sides):
        ms = median([r["median_ms"] for r in recs])
        images = recs[0].get("iterations", 0) * recs[0].get("batch", 0) or recs[0].get("train_images", 0)
        gflops = flop * images / (ms / 1e3) / 1e9
        share = f" = {100 * gflops / peak:.0f}% of" if peak else " against"
        out.append(f"w6 {impl} ({threads} thr): {gflops:.0f} GFLOP/s per epoch "
                   f"({flop / 1e6:.2f} MFLOP per training image x {images} images / {ms / 1e3:.1f} s)"
                   f"{share} the FP32 peak {peak or 0:.0f} GFLOP/s = {how}")
    return out


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
    overridden = [k for k in CONTROLLED_ENV if k in os.environ]
    if overridden:
        log(f"note: ignoring {', '.join(overridden)} from the environment: --isa sets them per path")
    cpu = read_cpu()
    paths = runnable_paths(cpu)
    chosen = choose_paths(a.isa, paths)
    log(f"CPU: {cpu['name']} ({cpu['vendor']} family {cpu['family']} model {cpu['model']}); "
        f"runs {', '.join(paths)}; benchmarking {', '.join(chosen)}")
    dthreads = [int(t) for t in a.dagrad_threads.split(",")]
    tthreads = [int(t) for t in a.torch_threads.split(",")]
    common = []
    if a.repeats is not None:
        common += ["--repeats", str(a.repeats)]
    if a.warmup is not None:
        common += ["--warmup", str(a.warmup)]

    tables = []
    for path in chosen:
        tables.append(run_path(a, runner, cpu, paths, path, common, dthreads, tthreads, only))
        print(tables[-1] + "\n", flush=True)  # each path as soon as it is done
    out = "\n\n".join(tables)
    if a.markdown_out:
        with open(a.markdown_out, "w") as f:
            f.write(out + "\n")
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"cpu": {k: v for k, v in cpu.items() if k != "flags"}, "paths": chosen,
                       "runs": runner.records}, f, indent=1)


if __name__ == "__main__":
    main()
