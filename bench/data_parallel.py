"""The data-parallel row of the benchmark suite: one epoch of the main job (VGG, 55,000 images,
global batch 128) as 1 process x 1 thread, 1 process x 2 threads and 2 processes x 1 thread
(MPI over loopback), alternated --rounds times; medians, the 2-process speedup over 1 x 1 and
its scaling efficiency (speedup / 2), and 2 x 1 against 1 x 2 (the same two cores used by
threads or by processes). Run by bench/run.sh after the other workloads, or alone:
    /usr/bin/python3 bench/data_parallel.py --build build [--rounds 3]
"""
import argparse
import datetime
import os
import re
import statistics
import subprocess


def epoch_seconds(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    m = re.search(r"\(1 epochs, ([0-9.]+) s of training\)", out)
    if not m:
        raise RuntimeError("no training time in the output of " + " ".join(cmd))
    return float(m.group(1))


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    binary = os.path.join(a.build, "examples", "train-fashion-mnist")
    if not os.path.exists(os.path.join(a.build, "tests", "dagrad-dist-check")):
        print("data parallel: skipped (this build has no MPI)")
        return 0
    args = ["--num_epochs=1", "--out", "/tmp/dagrad-bench-dp", "--verbose=false"]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    info = subprocess.run([os.path.join(a.build, "tools", "dagrad-info")], env=env,
                          capture_output=True, text=True).stdout
    isa = re.search(r"ISA path: (\S+)", info).group(1)
    configs = {
        "1 process x 1 thread": (["env", "DAGRAD_NUM_THREADS=1", binary] + args),
        "1 process x 2 threads": (["env", "DAGRAD_NUM_THREADS=2", binary] + args),
        "2 processes x 1 thread": (["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none",
                                    "-x", "DAGRAD_NUM_THREADS=1", binary] + args),
    }
    times = {name: [] for name in configs}
    for r in range(a.rounds):
        for name, cmd in configs.items():
            t = epoch_seconds(cmd, env)
            times[name].append(t)
            print(f"round {r + 1}: {name}: {t:.1f} s", flush=True)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    speedup = med["1 process x 1 thread"] / med["2 processes x 1 thread"]
    print(f"\n### Data parallel: main-job epoch ({cpu_model()}, {isa} path, "
          f"{datetime.date.today()}, medians of {a.rounds})\n")
    print("| configuration | epoch | |")
    print("|---|---|---|")
    for name in configs:
        print(f"| {name} | {med[name]:.1f} s | {med['1 process x 1 thread'] / med[name]:.2f}x "
              f"of 1 x 1 |")
    print(f"\n2 processes: speedup {speedup:.2f}, scaling efficiency {speedup / 2:.0%}; "
          f"2 x 1 / 1 x 2 = {med['2 processes x 1 thread'] / med['1 process x 2 threads']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
