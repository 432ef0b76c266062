#!/usr/bin/python3
"""make-models.py: generate the reference ONNX models of tensorquant's import work.

Usage: /usr/bin/python3 scripts/make-models.py [--force] [--only NAME,...] OUTDIR

For every model of scripts/tq_models.py (torchvision resnet18, mobilenet_v2,
mobilenet_v3_small, efficientnet_b0, two nn.TransformerEncoder variants, the
Fashion-MNIST CNN, and BatchNormalization-keeping exports of resnet18 and the
CNN), with seeded random weights and nothing downloaded, it writes:

  OUTDIR/manifest.json                      what is below, the versions, the generator's hash
  OUTDIR/<model>/op13.onnx, op17.onnx       torch.onnx.export, eval mode, dynamic batch axis
  OUTDIR/<model>/b<B>/input.npy             seeded standard-normal input, batch B (1 and 4)
  OUTDIR/<model>/b<B>/torch/output.npy      PyTorch 1.13's output (torch.inference_mode)
  OUTDIR/<model>/b<B>/ort-op<O>/output.npy  ONNX Runtime 1.30 (tools/onnxcheck/ort-npy.js),
                                            graph optimisation "all", 1 thread
  OUTDIR/<model>/b<B>/ort-op<O>-noopt/output.npy   the same with optimisation disabled
                                            (the graph executed node by node)

It checks that ONNX Runtime agrees with PyTorch (|ort - torch| <= 1e-4 + 1e-3 |torch|)
and records the largest difference in the manifest. The whole tree is built in
OUTDIR.tmp and renamed over OUTDIR at the end. When OUTDIR/manifest.json was
written by the same generator (the SHA-256 of this script, tq_models.py,
ort-npy.js and tools/onnxcheck/package-lock.json) with the same --only, it does nothing (--force regenerates).
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ORT_NPY = os.path.join(ROOT, "tools", "onnxcheck", "ort-npy.js")
# The generator's identity: these files' SHA-256 (the package lock pins the
# ONNX Runtime version). internal/testkit/models.Generator lists the same.
SOURCES = [os.path.join(HERE, "make-models.py"), os.path.join(HERE, "tq_models.py"), ORT_NPY,
           os.path.join(ROOT, "tools", "onnxcheck", "package-lock.json")]

OPSETS = (13, 17)
BATCHES = (1, 4)
SEED = 20240613
RTOL, ATOL = 1e-3, 1e-4


def generator_hash():
    h = hashlib.sha256()
    for p in SOURCES:
        with open(p, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def save_npy(path, array):
    import numpy as np
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.save(path, np.ascontiguousarray(array))


def run_ort(model, inp, outdir, opt):
    subprocess.run(["node", ORT_NPY, "--threads=1", "--opt=" + opt, "-o", outdir, model, "input=" + inp],
                   check=True)


def generate(name, index, tmp, log):
    import numpy as np
    import torch
    import tq_models

    _, _, description, keep_bn = tq_models.SPECS[name]
    seed = SEED + 1000 * index
    model, shape = tq_models.build(name, seed)
    mdir = os.path.join(tmp, name)
    os.makedirs(mdir)
    entry = {"name": name, "description": description, "seed": seed,
             "keeps_batchnorm": keep_bn, "opsets": list(OPSETS), "batches": list(BATCHES),
             "inputs": [{"name": "input", "dtype": "float32", "shape": ["batch"] + list(shape)}],
             "outputs": [{"name": "output", "dtype": "float32"}],
             "max_abs_diff_ort_vs_torch": {}, "seconds": {}}
    t0 = time.time()
    example = torch.from_numpy(np.random.default_rng(seed).standard_normal((1,) + shape).astype(np.float32))
    for opset in OPSETS:
        path = os.path.join(mdir, "op%d.onnx" % opset)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tq_models.export(model, path, example, opset, keep_batchnorm=keep_bn)
    entry["seconds"]["export"] = round(time.time() - t0, 2)
    t0 = time.time()
    for batch in BATCHES:
        bdir = os.path.join(mdir, "b%d" % batch)
        x = np.random.default_rng([seed, batch]).standard_normal((batch,) + shape).astype(np.float32)
        save_npy(os.path.join(bdir, "input.npy"), x)
        with torch.inference_mode():
            ref = model(torch.from_numpy(x)).numpy()
        if not np.isfinite(ref).all():
            sys.exit("make-models: %s batch %d: PyTorch output is not finite" % (name, batch))
        save_npy(os.path.join(bdir, "torch", "output.npy"), ref)
        entry.setdefault("output_shape", {})["b%d" % batch] = list(ref.shape)
        entry.setdefault("output_std", {})["b%d" % batch] = float(ref.std())
        if batch > 1:
            # The outputs must depend on the input: a random network whose
            # activations saturate gives every sample the same output.
            spread = float(ref.std(axis=0).mean() / ref.std())
            entry["sample_spread"] = spread
            if not spread > 0.05:
                sys.exit("make-models: %s: the outputs of different samples are nearly equal (spread %g)" % (name, spread))
        for opset in OPSETS:
            for opt, suffix in (("all", ""), ("disabled", "-noopt")):
                key = "ort-op%d%s" % (opset, suffix)
                odir = os.path.join(bdir, key)
                run_ort(os.path.join(mdir, "op%d.onnx" % opset), os.path.join(bdir, "input.npy"), odir, opt)
                got = np.load(os.path.join(odir, "output.npy"))
                if got.shape != ref.shape:
                    sys.exit("make-models: %s b%d %s: ORT output shape %s, torch %s" % (name, batch, key, got.shape, ref.shape))
                diff = np.abs(got.astype(np.float64) - ref)
                bad = diff > ATOL + RTOL * np.abs(ref)
                worst = float(diff.max())
                if bad.any():
                    sys.exit("make-models: %s b%d %s: %d elements of ORT's output differ from torch's (max |diff| %g)"
                             % (name, batch, key, int(bad.sum()), worst))
                prev = entry["max_abs_diff_ort_vs_torch"].get(key, 0.0)
                entry["max_abs_diff_ort_vs_torch"][key] = max(prev, worst)
    entry["seconds"]["outputs"] = round(time.time() - t0, 2)
    log("  %-20s export %5.1fs  outputs %5.1fs  max|ort-torch| %.2g" % (
        name, entry["seconds"]["export"], entry["seconds"]["outputs"],
        max(entry["max_abs_diff_ort_vs_torch"].values())))
    return entry


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--force", action="store_true", help="regenerate even if up to date")
    ap.add_argument("--only", default="", help="comma-separated model names (default: all)")
    args = ap.parse_args()

    sys.path.insert(0, HERE)
    import tq_models
    names = [n for n in args.only.split(",") if n] or list(tq_models.SPECS)
    for n in names:
        if n not in tq_models.SPECS:
            sys.exit("make-models: unknown model %r (models: %s)" % (n, ", ".join(tq_models.SPECS)))
    ghash = generator_hash()
    manifest_path = os.path.join(args.outdir, "manifest.json")
    if not args.force and os.path.exists(manifest_path):
        try:
            with open(manifest_path) as f:
                old = json.load(f)
            if old.get("generator_sha256") == ghash and [m["name"] for m in old["models"]] == names:
                print("make-models: %s is up to date" % args.outdir)
                return
        except (ValueError, KeyError, TypeError):
            pass

    import numpy
    import torch
    import torchvision
    ort_version = subprocess.run(["node", "-e", "console.log(require(process.argv[1]).env.versions.node)",
                                  os.path.join(ROOT, "tools", "onnxcheck", "node_modules", "onnxruntime-node")],
                                 check=True, capture_output=True, text=True).stdout.strip()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    outdir = os.path.abspath(args.outdir)
    tmp = outdir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    start = time.time()

    def log(msg):
        print(msg, flush=True)

    log("make-models: generating %d models into %s (torch %s, torchvision %s, onnxruntime-node %s)"
        % (len(names), args.outdir, torch.__version__, torchvision.__version__, ort_version))
    entries = [generate(n, list(tq_models.SPECS).index(n), tmp, log) for n in names]
    manifest = {
        "generator": "scripts/make-models.py",
        "generator_sha256": ghash,
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                     "numpy": numpy.__version__, "onnxruntime_node": ort_version},
        "layout": {"model": "<name>/op<opset>.onnx", "input": "<name>/b<batch>/<input>.npy",
                   "torch": "<name>/b<batch>/torch/<output>.npy",
                   "ort": "<name>/b<batch>/ort-op<opset>/<output>.npy (optimisation all, 1 thread)",
                   "ort_noopt": "<name>/b<batch>/ort-op<opset>-noopt/<output>.npy (optimisation disabled)"},
        "tolerance_ort_vs_torch": {"rtol": RTOL, "atol": ATOL},
        "seconds": round(time.time() - start, 1),
        "models": entries,
    }
    with open(os.path.join(tmp, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    shutil.rmtree(outdir, ignore_errors=True)
    os.rename(tmp, outdir)
    log("make-models: done in %.0fs" % (time.time() - start))


if __name__ == "__main__":
    main()
