#!/usr/bin/python3
"""bench-calibration.py: calibration end to end, tensorquant against what the original does.

Usage: /usr/bin/python3 scripts/bench-calibration.py [--models cnn,resnet18] [--threads 1,2]
           [--rounds 3] [--max-load 1.5] [--json FILE] TENSORQUANT MODELS_DIR

TENSORQUANT is the built command (go build ./cmd/tensorquant); MODELS_DIR is the fixture
directory of `make models` (resnet18/op13.onnx). Models and data:

  cnn       testdata/conformance/onnx_ptq/cnn.float.onnx (the vector CNN: Conv-BN-ReLU,
            MaxPool, a residual block, a strided Conv, global pooling, Linear), 1,024
            seeded standard-normal samples of 3x32x32, batches of 32
  resnet18  MODELS_DIR/resnet18/op13.onnx (torchvision resnet18), 256 seeded
            standard-normal samples of 3x224x224, batches of 32

For every model and thread count T, in each of --rounds interleaved rounds (each
started when the 1-minute load average is below --max-load):

  tensorquant   `tensorquant quantize -calib DATA.npy -batch 32 -json MODEL` with
                GOMAXPROCS=T: its seconds.calibration (reading the data, the forward
                passes, a histogram and a max calibrator per quantized tensor) and
                seconds.amax (the amax of max, entropy, percentile 99.99 and mse for
                every activation quantizer and the per-channel max of every weight)

  the original  cannot run here (no pytorch_quantization), so its collection is timed
                as PyTorch 1.13 doing what its calibration does per batch, in this
                process with torch.set_num_threads(T): the float model's forward
                (torch.inference_mode; the cnn built as the vectors describe it, resnet18
                from torchvision, random weights) with a forward pre-hook on every module
                quant_modules.initialize() replaces (Conv2d, Linear, AdaptiveAvgPool2d)
                that runs, on the module's input, MaxCalibrator.collect (torch.max of
                abs) and HistogramCalibrator.collect (abs, max, torch.histc with 2048
                bins, growth by torch.arange and the float32 add of the old counts,
                as calib/histogram.py does), and MaxCalibrator(axis 0).collect on the
                weight; one forward per batch (the original needs two passes for all
                four methods, a max-calibrated and a histogram-calibrated model: this
                counts one, in its favour). Its amax searches are not run: they are
                taken from testdata/conformance/reference_timings.md (the original's
                compute_amax on a 2048-bin histogram, median: entropy 1.3727 s, mse
                0.2077 s, percentile 0.036 ms), once per activation quantizer of the
                original (resnet18: 22, one per replaced module; cnn: 6), again in its
                favour: grown histograms (more bins) cost it more.

It prints, per model and T, the median over the rounds of each time and the ratios, and
the same for CPU time (user + system, all threads: ours of the whole tensorquant process
including reading the model and the data, the amax searches and writing the model;
PyTorch's of its forward loop only): on a machine shared with other jobs, where a
runnable thread waits for a core most of the time, wall-clock times measure the other
jobs, CPU time the work done.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# compute_amax of the original on a 2048-bin histogram (reference_timings.md, median).
REF_AMAX = {"entropy": 1.3727, "mse": 0.2077, "percentile": 0.000036}


def load1():
    return os.getloadavg()[0]


def wait_for_quiet(max_load):
    deadline = time.time() + 900
    while load1() >= max_load and time.time() < deadline:
        print("bench-calibration: load %.2f >= %.2f, waiting" % (load1(), max_load), file=sys.stderr)
        time.sleep(20)
    return load1()


def vector_cnn():
    import torch.nn as nn

    class Res(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1)
            self.relu1 = nn.ReLU()
            self.conv2 = nn.Conv2d(c, c, 3, padding=1)
            self.relu2 = nn.ReLU()

        def forward(self, x):
            return self.relu2(self.conv2(self.relu1(self.conv1(x))) + x)

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.relu1 = nn.ReLU()
            self.pool = nn.MaxPool2d(2)
            self.res = Res(16)
            self.down = nn.Conv2d(16, 32, 3, stride=2, padding=1)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.flatten = nn.Flatten()
            self.fc = nn.Linear(32, 10)

        def forward(self, x):
            x = self.pool(self.relu1(self.bn1(self.conv1(x))))
            return self.fc(self.flatten(self.gap(self.down(self.res(x)))))

    return CNN()


class Calib:
    """What one quantized module's calibrators hold (max and histogram of its input, max of its weight)."""

    def __init__(self):
        self.amax = None
        self.hist = None
        self.edges = None
        self.bins = 2048
        self.wamax = None

    def collect(self, module, inputs):
        import torch
        x = inputs[0].detach()
        # MaxCalibrator.collect: reduce_amax of x (per tensor), running max.
        local = torch.max(torch.abs(x))
        self.amax = local if self.amax is None else torch.max(self.amax, local)
        # HistogramCalibrator.collect, torch_hist=True.
        x = x.abs().float()
        x_max = x.max()
        if self.edges is None:
            self.hist = torch.histc(x, bins=self.bins, min=0, max=x_max)
            self.edges = torch.linspace(0, x_max, self.bins + 1)
        else:
            if x_max > self.edges[-1]:
                width = self.edges[1] - self.edges[0]
                self.bins = int((x_max / width).ceil().item())
                self.edges = torch.arange(0, x_max + width, width, device=x.device)
            hist = torch.histc(x, bins=self.bins, min=0, max=self.edges[-1])
            hist[:self.hist.numel()] += self.hist
            self.hist = hist
        # The weight quantizer: MaxCalibrator with axis 0.
        w = getattr(module, "weight", None)
        if w is not None:
            wa = torch.amax(w.detach().abs(), dim=tuple(range(1, w.dim())), keepdim=True)
            self.wamax = wa if self.wamax is None else torch.max(self.wamax, wa)


def time_torch(model_name, x, batch, threads):
    import torch
    import torch.nn as nn
    torch.set_num_threads(threads)
    if model_name == "cnn":
        model = vector_cnn()
    else:
        import torchvision
        model = torchvision.models.resnet18(weights=None)
    model.eval()
    calibs = []
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.AdaptiveAvgPool2d, nn.AvgPool2d)):
            c = Calib()
            m.register_forward_pre_hook(c.collect)
            calibs.append(c)
    t = torch.from_numpy(x)
    with torch.inference_mode():
        model(t[:batch])  # warm-up (its collection is then reset)
        for c in calibs:
            c.__init__()
        start, cpu = time.perf_counter(), time.process_time()
        for lo in range(0, t.shape[0], batch):
            model(t[lo:lo + batch])
        collect, cpu = time.perf_counter() - start, time.process_time() - cpu
    return collect, cpu, len(calibs)


def time_ours(tq, model, data, threads):
    env = dict(os.environ, GOMAXPROCS=str(threads))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run([tq, "quantize", "-calib", data, "-batch", "32", "-json", "-quiet",
                          "-o", os.path.join(os.path.dirname(data), "q.onnx"), model],
                         env=env, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    r = json.loads(out)
    return r["seconds"]["calibration"], r["seconds"]["amax"], wall, cpu, sum(q["kind"] == "activation" for q in r["quantizers"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tensorquant")
    ap.add_argument("models_dir")
    ap.add_argument("--models", default="cnn,resnet18")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max-load", type=float, default=1.5)
    ap.add_argument("--json")
    args = ap.parse_args()
    import numpy as np
    models = {
        "cnn": (os.path.join(ROOT, "testdata", "conformance", "onnx_ptq", "cnn.float.onnx"), (1024, 3, 32, 32)),
        "resnet18": (os.path.join(args.models_dir, "resnet18", "op13.onnx"), (256, 3, 224, 224)),
    }
    tmp = tempfile.mkdtemp(prefix="bench-calibration")
    rows = []
    for name in args.models.split(","):
        path, shape = models[name]
        x = np.random.RandomState(7).standard_normal(shape).astype(np.float32)
        data = os.path.join(tmp, name + ".npy")
        np.save(data, x)
        for threads in [int(t) for t in args.threads.split(",")]:
            meas = {"ours_collect": [], "ours_amax": [], "ours_wall": [], "ours_cpu": [], "torch_collect": [], "torch_cpu": [],
                    "load": []}
            for _ in range(args.rounds):
                meas["load"].append(wait_for_quiet(args.max_load))
                c, a, w, cpu, acts = time_ours(args.tensorquant, path, data, threads)
                meas["ours_collect"].append(c)
                meas["ours_amax"].append(a)
                meas["ours_wall"].append(w)
                meas["ours_cpu"].append(cpu)
                tc, tcpu, quantized = time_torch(name, x, 32, threads)
                meas["torch_collect"].append(tc)
                meas["torch_cpu"].append(tcpu)
            med = {k: statistics.median(v) for k, v in meas.items()}
            ref_amax = quantized * sum(REF_AMAX.values())
            row = {"model": name, "threads": threads, "samples": shape[0], "batch": 32,
                   "activation_quantizers": {"ours (tensors)": acts, "original (modules)": quantized},
                   "median_s": med, "rounds": meas, "original_amax_s": ref_amax,
                   "collect_ratio": med["torch_collect"] / med["ours_collect"],
                   "end_to_end_ratio": (med["torch_collect"] + ref_amax) / (med["ours_collect"] + med["ours_amax"]),
                   "cpu_collect_ratio": med["torch_cpu"] / med["ours_cpu"],
                   "cpu_end_to_end_ratio": (med["torch_cpu"] + ref_amax) / med["ours_cpu"]}
            rows.append(row)
            print("%-8s T=%d  ours: collect %.3f s + amax %.3f s   original (est.): collect %.3f s + amax %.1f s"
                  "   collection %.2fx, end to end %.1fx  (load %.2f)" % (
                      name, threads, med["ours_collect"], med["ours_amax"], med["torch_collect"], ref_amax,
                      row["collect_ratio"], row["end_to_end_ratio"], med["load"]), flush=True)
            print("%-8s T=%d  CPU time: ours %.3f s (whole process)   PyTorch collection %.3f s   collection %.2fx,"
                  " end to end %.1fx" % (name, threads, med["ours_cpu"], med["torch_cpu"], row["cpu_collect_ratio"],
                                         row["cpu_end_to_end_ratio"]), flush=True)
    by = {(r["model"], r["threads"]): r for r in rows}
    for name in args.models.split(","):
        if (name, 1) in by and (name, 2) in by:
            print("%-8s ours: collection 1 -> 2 cores %.2fx; PyTorch 1 -> 2 threads %.2fx" % (
                name, by[(name, 1)]["median_s"]["ours_collect"] / by[(name, 2)]["median_s"]["ours_collect"],
                by[(name, 1)]["median_s"]["torch_collect"] / by[(name, 2)]["median_s"]["torch_collect"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    for f in os.listdir(tmp):
        os.remove(os.path.join(tmp, f))
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
