#!/usr/bin/python3
"""bench-finetune.py: fine-tuning step throughput, tensorquant vs PyTorch QAT.

Usage: /usr/bin/python3 scripts/bench-finetune.py [--models fashion_cnn,resnet18] [--threads 1,2]
           [--batch 32] [--size 64] [--repeat 3] [--steps 20] [--max-load 1.5] [--json FILE] MODELS_DIR

MODELS_DIR is the fixture directory of `make models`. One step is the forward pass, the
backward pass and an SGD update (momentum 0.9) of a quantized model at batch --batch on
random images with random labels (cross-entropy), the model quantized where the original
toolkit's quant_modules puts quantizers: int8 per tensor on the input of every Conv2d,
Linear and AdaptiveAvgPool2d, int8 per output channel on the weight of every Conv2d and
Linear, amax from one max-calibration batch, scale = amax/127, zero point 0. The models
are the Fashion-MNIST CNN (28x28) and torchvision resnet18 at --size x --size, with the
seeded weights of scripts/tq_models.py and BatchNorm folded into the convolutions, as in
the ONNX files that tensorquant fine-tunes.

  PyTorch 1.13   the original toolkit is not installable here, so its QAT is emulated, two
                 ways; in both every quantized module's forward fake-quantizes its input
                 and weight, then runs the float op (F.conv2d, F.linear, the pooling);
                 torch.set_num_threads(T); 3 warm-up steps, then --steps timed steps,
                 median:
                 "fused": torch.fake_quantize_per_tensor_affine (input) and
                   torch.fake_quantize_per_channel_affine (weight), PyTorch's fused
                   kernels with a straight-through backward (the brief's emulation; faster
                   than the original);
                 "original": the original's CPU formula as testdata/conformance/FORMAT.md
                   states it, in the same torch ops it uses: scale = 127/amax,
                   clamp(round(x*scale), -128, 127)/scale forward, and
                   where(|x| <= amax, dy, 0) backward, in an autograd.Function (the
                   original's fake_tensor_quant on a CPU tensor).
  tensorquant    `go test -run '^$' -bench 'BenchmarkFinetuneStep/model=M/threads=T$'
                 -benchtime Nx ./graph` (graph/train_bench_test.go): the same model, read from
                 MODELS_DIR/<model>/op13.onnx and quantized with QuantizeLinear/
                 DequantizeLinear pairs at the same places, GOMAXPROCS=T.

It prints images/s (batch / median step time) per round and the ratios tensorquant /
PyTorch (step time of PyTorch / ours), and the ratios of CPU time per step (the
process's CPU time over the timed steps: on one thread, what an idle machine's wall
time would be; another process on the machine changes it little, where it halves the
wall-clock throughput), the rounds interleaved (PyTorch fused, PyTorch
original, then tensorquant, for each model and thread count), and the medians over the
rounds. Before each round it waits (up to 10
minutes) until the 1-minute load average is below --max-load, and records it.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def load1():
    return os.getloadavg()[0]


def wait_for_quiet(max_load, log):
    deadline = time.time() + 600
    while load1() >= max_load and time.time() < deadline:
        log("bench-finetune: load %.2f >= %.2f, waiting" % (load1(), max_load))
        time.sleep(20)
    return load1()


def fold_batchnorm(torch, model):
    """Folds every BatchNorm2d that follows a Conv2d in its parent module (convN/bnN,
    conv/bn attributes, or consecutive entries of a Sequential) into the convolution,
    as torch.onnx.export does in eval mode."""
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    for parent in list(model.modules()):
        names = list(parent._modules.keys())
        for i, name in enumerate(names):
            conv = parent._modules[name]
            if not isinstance(conv, nn.Conv2d):
                continue
            bn_name = None
            if name.startswith("conv") and ("bn" + name[4:]) in parent._modules:
                bn_name = "bn" + name[4:]
            elif isinstance(parent, nn.Sequential) and i + 1 < len(names) and isinstance(parent._modules[names[i + 1]], nn.BatchNorm2d):
                bn_name = names[i + 1]
            if bn_name is None or not isinstance(parent._modules[bn_name], nn.BatchNorm2d):
                continue
            parent._modules[name] = fuse_conv_bn_eval(conv.eval(), parent._modules[bn_name].eval())
            parent._modules[bn_name] = nn.Identity()
    return model


def quantize_like_original(torch, model, calib, mode):
    """Wraps every Conv2d, Linear and AdaptiveAvgPool2d so that its forward fake-quantizes
    its input (per tensor) and weight (per output channel), int8, with amax fixed by a max
    calibration (the input's on calib, the weight's per channel), as the original's QAT
    keeps them after calibration; mode "fused" with PyTorch's fake-quantization ops,
    "original" with the original's formula."""
    from torch import nn

    class OriginalFakeQuant(torch.autograd.Function):
        # FORMAT.md: scale = maxBound/amax, q = clamp(round(x*scale)), fake = q/scale;
        # grad_in = grad_out where |x| <= amax, else 0.
        @staticmethod
        def forward(ctx, x, amax):
            ctx.save_for_backward(x, amax)
            scale = 127.0 / amax
            return torch.clamp((x * scale).round_(), -128, 127) / scale

        @staticmethod
        def backward(ctx, dy):
            x, amax = ctx.saved_tensors
            return torch.where(x.abs() <= amax, dy, dy.new_zeros(1)), None

    class Quant(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner
            self.in_amax = torch.tensor(1.0)
            self.calibrating = False
            if hasattr(inner, "weight"):
                w = inner.weight.detach()
                amax = w.abs().reshape(w.shape[0], -1).max(1).values.clamp_min(1e-8)
                self.register_buffer("w_amax", amax.reshape((-1,) + (1,) * (w.dim() - 1)))
                self.register_buffer("w_scale", amax / 127)
                self.register_buffer("w_zp", torch.zeros(w.shape[0], dtype=torch.int32))

        def forward(self, x):
            if self.calibrating:
                self.in_amax = x.detach().abs().max().clamp_min(1e-8)
            if mode == "fused":
                xq = torch.fake_quantize_per_tensor_affine(x, float(self.in_amax) / 127, 0, -128, 127)
            else:
                xq = OriginalFakeQuant.apply(x, self.in_amax)
            m = self.inner
            if isinstance(m, nn.AdaptiveAvgPool2d):
                return m(xq)
            if mode == "fused":
                wq = torch.fake_quantize_per_channel_affine(m.weight, self.w_scale, self.w_zp, 0, -128, 127)
            else:
                wq = OriginalFakeQuant.apply(m.weight, self.w_amax)
            if isinstance(m, nn.Conv2d):
                return nn.functional.conv2d(xq, wq, m.bias, m.stride, m.padding, m.dilation, m.groups)
            return nn.functional.linear(xq, wq, m.bias)

    wrappers = []
    for parent in list(model.modules()):
        for name, child in list(parent._modules.items()):
            if isinstance(child, (nn.Conv2d, nn.Linear, nn.AdaptiveAvgPool2d)):
                q = Quant(child)
                parent._modules[name] = q
                wrappers.append(q)
    for q in wrappers:
        q.calibrating = True
    with torch.no_grad():
        model(calib)
    for q in wrappers:
        q.calibrating = False
    return model


def time_torch(torch, model, x, y, threads, steps):
    torch.set_num_threads(threads)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    ms = []
    c0 = time.process_time()
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1e3)
    cpu_ms = (time.process_time() - c0) * 1e3 / steps
    return statistics.median(ms), cpu_ms


def time_ours(model, threads, steps, batch, models_dir):
    env = dict(os.environ, TQ_MODELS_DIR=os.path.abspath(models_dir), TQ_BENCH_BATCH=str(batch))
    name = "BenchmarkFinetuneStep/model=%s/threads=%d$" % (model, threads)
    out = subprocess.run(["go", "test", "-run", "^$", "-bench", name, "-benchtime", "%dx" % steps, "./graph"],
                         cwd=ROOT, env=env, capture_output=True, text=True)
    ns = re.search(r"\s([0-9.]+) ns/op", out.stdout)
    cpu = re.search(r"\s([0-9.]+) images/cpu-s", out.stdout)
    if out.returncode != 0 or not ns or not cpu:
        sys.exit("bench-finetune: go test failed:\n" + out.stdout + out.stderr)
    return float(ns.group(1)) / 1e6, batch / float(cpu.group(1)) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models_dir")
    ap.add_argument("--models", default="fashion_cnn,resnet18")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--size", type=int, default=64, help="resnet18's input size")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--max-load", type=float, default=1.5)
    ap.add_argument("--json")
    args = ap.parse_args()
    log = lambda s: print(s, file=sys.stderr, flush=True)

    import torch
    sys.path.insert(0, HERE)
    import tq_models

    subprocess.run(["go", "test", "-c", "-o", os.devnull, "./graph"], cwd=ROOT, check=True)
    names = args.models.split(",")
    threads = [int(t) for t in args.threads.split(",")]
    import copy
    nets = {}
    for name in names:
        model, shape = tq_models.build(name, 20240613)
        if name == "resnet18":
            shape = (3, args.size, args.size)
        gen = torch.Generator().manual_seed(1)
        x = torch.randn((args.batch,) + tuple(shape), generator=gen)
        y = torch.randint(0, 10, (args.batch,), generator=gen)
        model = fold_batchnorm(torch, model.eval())
        nets[name] = ({mode: quantize_like_original(torch, copy.deepcopy(model), x, mode) for mode in ("fused", "original")}, x, y)
    results = []
    for r in range(args.repeat):
        load = wait_for_quiet(args.max_load, log)
        for name in names:
            models, x, y = nets[name]
            for t in threads:
                fused_ms, fused_cpu = time_torch(torch, models["fused"], x, y, t, args.steps)
                orig_ms, orig_cpu = time_torch(torch, models["original"], x, y, t, args.steps)
                ours_ms, ours_cpu = time_ours(name, t, args.steps, args.batch, args.models_dir)
                ips = lambda ms: round(args.batch / ms * 1e3, 1)
                row = {"round": r + 1, "model": name, "threads": t, "batch": args.batch, "load": round(load, 2),
                       "torch_fused_ms": round(fused_ms, 3), "torch_original_ms": round(orig_ms, 3), "ours_ms": round(ours_ms, 3),
                       "torch_fused_cpu_ms": round(fused_cpu, 3), "torch_original_cpu_ms": round(orig_cpu, 3), "ours_cpu_ms": round(ours_cpu, 3),
                       "torch_fused_images_s": ips(fused_ms), "torch_original_images_s": ips(orig_ms), "ours_images_s": ips(ours_ms),
                       "ratio_fused": round(fused_ms / ours_ms, 2), "ratio_original": round(orig_ms / ours_ms, 2),
                       "cpu_ratio_fused": round(fused_cpu / ours_cpu, 2), "cpu_ratio_original": round(orig_cpu / ours_cpu, 2)}
                results.append(row)
                log("round %d %-12s threads %d: PyTorch fused %8.1f, original %8.1f, tensorquant %8.1f images/s; ratios %.2f, %.2f; CPU-time ratios %.2f, %.2f (load %.2f)"
                    % (r + 1, name, t, row["torch_fused_images_s"], row["torch_original_images_s"], row["ours_images_s"],
                       row["ratio_fused"], row["ratio_original"], row["cpu_ratio_fused"], row["cpu_ratio_original"], load))
    print("| model | threads | PyTorch QAT, fused fake quant, images/s | PyTorch QAT, the original's formula, images/s | tensorquant images/s | ratio to fused | ratio to original | CPU-time ratios (fused, original) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    med = lambda rows, k: statistics.median(x[k] for x in rows)
    for name in names:
        for t in threads:
            rows = [x for x in results if x["model"] == name and x["threads"] == t]
            print("| %s | %d | %.1f | %.1f | %.1f | %.2f | %.2f | %.2f, %.2f |" % (name, t, med(rows, "torch_fused_images_s"), med(rows, "torch_original_images_s"),
                                                                 med(rows, "ours_images_s"), med(rows, "ratio_fused"), med(rows, "ratio_original"),
                                                                 med(rows, "cpu_ratio_fused"), med(rows, "cpu_ratio_original")))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
