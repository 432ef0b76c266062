#!/usr/bin/python3
"""bench-baselines.py: the throughput of ONNX Runtime and PyTorch on the reference models.

Usage: /usr/bin/python3 scripts/bench-baselines.py [--models resnet18,mobilenet_v2,encoder,fashion_cnn]
           [--batches 1,8] [--threads 1,2] [--repeat 3] [--seconds 2] [--opset 17]
           [--engines ort,torch] [--max-load 1.5] [--json FILE] MODELS_DIR

MODELS_DIR is the fixture directory of `make models` (it takes <model>/op<opset>.onnx from
there). For every model, batch size and thread count, in each of --repeat interleaved
rounds, it times:

  PyTorch 1.13   the scripts/tq_models.py module in eval mode under torch.inference_mode(),
                 torch.set_num_threads(T), in this process: 3 warm-up runs, then N timed runs
                 (N = 2 s / the warm-up latency, at least 10), median latency
  ONNX Runtime   onnxruntime-node 1.30 through tools/onnxcheck/ort-npy.js --bench=N
                 --warmup=5 --threads=T --opt=all (intra-op threads T, inter-op 1,
                 graph optimisation "all"), on the same seeded standard-normal input, median

(--engines torch or ort: that engine alone; tensorquant bench models times PyTorch
this way, interleaved with its own runs and ONNX Runtime's)
and prints items/s = batch / median latency (images/s; sequences/s for the encoder, whose
input is (batch, 128, 256)): the median over the rounds, the spread (min-max) of the
rounds, and "best" = batch / the fastest single run of all rounds (which sees through
other processes on a shared machine). Before each round it waits (up to 10 minutes) until the 1-minute load average is
below --max-load, and it records the load it saw. --json writes every measurement.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ORT_NPY = os.path.join(ROOT, "tools", "onnxcheck", "ort-npy.js")


def blas_library():
    """The BLAS shared library this process has mapped (after a matmul)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        return ", ".join(sorted(libs)) or "none mapped"
    except OSError:
        return "unknown"


def load1():
    return os.getloadavg()[0]


def wait_for_quiet(max_load, log):
    deadline = time.time() + 600
    while load1() >= max_load and time.time() < deadline:
        log("bench-baselines: load %.2f >= %.2f, waiting" % (load1(), max_load))
        time.sleep(20)
    return load1()


def time_torch(torch, model, x, threads, seconds):
    torch.set_num_threads(threads)
    with torch.inference_mode():
        t0 = time.perf_counter()
        for _ in range(3):
            model(x)
        est = (time.perf_counter() - t0) / 3
        n = max(10, math.ceil(seconds / est))
        ms = []
        for _ in range(n):
            t0 = time.perf_counter()
            model(x)
            ms.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ms), min(ms), n


def time_ort(onnx_path, npy_path, threads, runs):
    out = subprocess.run(["node", ORT_NPY, "--bench=%d" % runs, "--warmup=5", "--threads=%d" % threads, "--opt=all",
                          onnx_path, "input=" + npy_path], check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    return r["median_ms"], r["min_ms"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models_dir")
    ap.add_argument("--models", default="resnet18,mobilenet_v2,encoder,fashion_cnn")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--max-load", type=float, default=1.5)
    ap.add_argument("--engines", default="ort,torch", help="comma-separated engines to time: ort, torch")
    ap.add_argument("--json")
    args = ap.parse_args()

    import numpy as np
    import torch
    sys.path.insert(0, HERE)
    import tq_models

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    engines = set(args.engines.split(","))
    if not engines or not engines <= {"ort", "torch"}:
        sys.exit("bench-baselines: --engines %r: want ort, torch or both" % args.engines)
    names = args.models.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    tmp = tempfile.mkdtemp(prefix="bench-baselines-")
    configs = []
    for name in names:
        model, shape = tq_models.build(name, 1)
        onnx_path = os.path.join(args.models_dir, name, "op%d.onnx" % args.opset)
        if not os.path.exists(onnx_path):
            sys.exit("bench-baselines: %s not found (make models)" % onnx_path)
        for b in batches:
            x = np.random.default_rng([7, b]).standard_normal((b,) + tuple(shape)).astype(np.float32)
            npy = os.path.join(tmp, "%s-b%d.npy" % (name, b))
            np.save(npy, x)
            for t in threads:
                configs.append({"model": name, "batch": b, "threads": t, "module": model,
                                "x": torch.from_numpy(x), "npy": npy, "onnx": onnx_path})
    # (model, batch, threads, engine) -> items/s from the median latency of
    # each round; best: from the fastest single run of all rounds.
    results = {(c["model"], c["batch"], c["threads"], e): [] for c in configs for e in ("ort", "torch")}
    best = {k: 0.0 for k in results}
    loads = []
    start = time.time()
    for r in range(args.repeat):
        loads.append(wait_for_quiet(args.max_load, log))
        for c in configs:
            key = (c["model"], c["batch"], c["threads"])
            n = 10
            if "torch" in engines:
                ms, ms_min, n = time_torch(torch, c["module"], c["x"], c["threads"], args.seconds)
                results[key + ("torch",)].append(c["batch"] / (ms / 1e3))
                best[key + ("torch",)] = max(best[key + ("torch",)], c["batch"] / (ms_min / 1e3))
            if "ort" in engines:
                ort_ms, ort_min = time_ort(c["onnx"], c["npy"], c["threads"], n)
                results[key + ("ort",)].append(c["batch"] / (ort_ms / 1e3))
                best[key + ("ort",)] = max(best[key + ("ort",)], c["batch"] / (ort_min / 1e3))
            log("round %d %-12s b%-2d t%d  torch %9.1f/s  ort %9.1f/s  (n=%d, load %.2f)"
                % (r + 1, c["model"], c["batch"], c["threads"], (results[key + ("torch",)] or [0])[-1],
                   (results[key + ("ort",)] or [0])[-1], n, load1()))
        loads.append(load1())
    elapsed = time.time() - start
    torch.ones(64, 64) @ torch.ones(64, 64)
    blas = blas_library()

    print("%-12s %5s %7s  %27s %7s  %27s %7s  %9s" % ("model", "batch", "threads", "ONNX Runtime items/s (spread)",
                                                   "best", "PyTorch items/s (spread)", "best", "ORT/torch"))
    rows = []
    for c in configs:
        key = (c["model"], c["batch"], c["threads"])
        o, p = results[key + ("ort",)], results[key + ("torch",)]
        nan = float("nan")
        om, pm = (statistics.median(o) if o else nan), (statistics.median(p) if p else nan)
        print("%-12s %5d %7d  %9.0f (%7.0f - %7.0f) %7.0f  %9.0f (%7.0f - %7.0f) %7.0f  %9.2f"
              % (c["model"], c["batch"], c["threads"], om, min(o or [nan]), max(o or [nan]), best[key + ("ort",)],
                 pm, min(p or [nan]), max(p or [nan]), best[key + ("torch",)], om / pm))
        rows.append({"model": c["model"], "batch": c["batch"], "threads": c["threads"],
                     "ort_items_per_s": o, "torch_items_per_s": p,
                     "ort_best_items_per_s": best[key + ("ort",)], "torch_best_items_per_s": best[key + ("torch",)]})
    print("(%d rounds, median and min-max of the rounds; 1-minute load average %s; %.0fs;\n torch %s, BLAS %s; ORT opset %d files)"
          % (args.repeat, " ".join("%.2f" % l for l in loads), elapsed, torch.__version__, blas, args.opset))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "loads": loads, "opset": args.opset, "seconds": elapsed,
                       "versions": {"torch": torch.__version__}, "blas": blas}, f, indent=1)


if __name__ == "__main__":
    main()
