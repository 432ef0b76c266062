#!/usr/bin/python3
"""train-fashion.py: train the Fashion-MNIST CNN of scripts/tq_models.py and export it to ONNX.

Usage: /usr/bin/python3 scripts/train-fashion.py [--epochs 4] [--seed 1] [--threads 2]
                                                 [--data /usr/share/datasets/fashion-mnist] [--force] OUTDIR

Reads Debian's dataset-fashion-mnist (IDX, gzip), trains on the 60,000 training images
on the CPU (Adam, batch 128, one-cycle learning rate, seeded, deterministic algorithms),
evaluates the float model on the 10,000 test images and writes:

  OUTDIR/fashion_cnn.onnx   the trained model, torch.onnx.export opset 13, eval mode,
                            do_constant_folding default (BatchNorm folded), input "input"
                            (N, 1, 28, 28) normalised, output "output" (N, 10) logits,
                            dynamic batch axis
  OUTDIR/calib.npy          the first 1,024 training images, float32 (1024, 1, 28, 28), normalised
  OUTDIR/test_x.npy         the test images, float32 (10000, 1, 28, 28), normalised
  OUTDIR/test_y.npy         the test labels, int64 (10000,)
  OUTDIR/fashion_cnn.json   accuracy of PyTorch and of ONNX Runtime (tools/onnxcheck/ort-npy.js)
                            on the test set, the normalisation, seed, epochs, times, versions

Normalisation: x = (pixel / 255 - 0.2860) / 0.3530, i.e. x = pixel * scale + shift with
scale = 1 / (255 * 0.3530) and shift = -0.2860 / 0.3530 (recorded in the JSON).
Does nothing when OUTDIR/fashion_cnn.json was written by the same script version
(SHA-256 of this file and tq_models.py) with the same options, unless --force.
"""

import argparse
import gzip
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
MEAN, STD = 0.2860, 0.3530


def script_hash():
    h = hashlib.sha256()
    for p in (os.path.join(HERE, "train-fashion.py"), os.path.join(HERE, "tq_models.py")):
        with open(p, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def read_idx(path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        b = f.read()
    ndim = b[3]
    if b[0] != 0 or b[1] != 0 or b[2] != 0x08:
        sys.exit("train-fashion: %s is not an IDX file of unsigned bytes" % path)
    shape = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    options = {"epochs": args.epochs, "seed": args.seed, "threads": args.threads, "data": args.data}
    summary_path = os.path.join(args.outdir, "fashion_cnn.json")
    if not args.force and os.path.exists(summary_path):
        try:
            with open(summary_path) as f:
                old = json.load(f)
            if old.get("generator_sha256") == script_hash() and old.get("options") == options:
                print("train-fashion: %s is up to date (float test accuracy %.2f%%)" % (args.outdir, 100 * old["accuracy"]["torch"]))
                return
        except (ValueError, KeyError, TypeError):
            pass

    import numpy as np
    import torch
    from torch import nn
    sys.path.insert(0, HERE)
    import tq_models

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    def load(kind):
        x = read_idx(os.path.join(args.data, "%s-images-idx3-ubyte.gz" % kind)).astype(np.float32)
        y = read_idx(os.path.join(args.data, "%s-labels-idx1-ubyte.gz" % kind)).astype(np.int64)
        x = ((x / 255.0 - MEAN) / STD).astype(np.float32)[:, None, :, :]
        return torch.from_numpy(x), torch.from_numpy(y)

    xtr, ytr = load("train")
    xte, yte = load("t10k")
    model = tq_models.FashionCNN()
    batch = 128
    steps = args.epochs * ((len(xtr) + batch - 1) // batch)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()

    def accuracy(x, y):
        model.eval()
        correct = 0
        with torch.inference_mode():
            for i in range(0, len(x), 1000):
                correct += int((model(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum())
        return correct / len(x)

    t0 = time.time()
    history = []
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total = 0.0
        for i in range(0, len(xtr), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        acc = accuracy(xte, yte)
        history.append({"epoch": epoch + 1, "train_loss": total / len(xtr), "test_accuracy": acc})
        print("train-fashion: epoch %d/%d  loss %.4f  test accuracy %.2f%%  (%.0fs)"
              % (epoch + 1, args.epochs, total / len(xtr), 100 * acc, time.time() - t0), flush=True)
    train_seconds = time.time() - t0
    acc = accuracy(xte, yte)

    tmp = os.path.abspath(args.outdir) + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tq_models.export(model.eval(), os.path.join(tmp, "fashion_cnn.onnx"), xte[:1], 13)
    np.save(os.path.join(tmp, "calib.npy"), xtr[:1024].numpy())
    np.save(os.path.join(tmp, "test_x.npy"), xte.numpy())
    np.save(os.path.join(tmp, "test_y.npy"), yte.numpy())
    subprocess.run(["node", ORT_NPY, "--threads=1", "-o", os.path.join(tmp, "ort"), os.path.join(tmp, "fashion_cnn.onnx"),
                    "input=" + os.path.join(tmp, "test_x.npy")], check=True)
    logits = np.load(os.path.join(tmp, "ort", "output.npy"))
    shutil.rmtree(os.path.join(tmp, "ort"))
    ort_acc = float((logits.argmax(1) == yte.numpy()).mean())
    summary = {
        "generator": "scripts/train-fashion.py",
        "generator_sha256": script_hash(),
        "options": options,
        "model": "tq_models.FashionCNN (conv-relu-maxpool x2 with 16 and 32 channels, residual block with BatchNorm, global average pool, linear)",
        "normalisation": {"mean": MEAN, "std": STD, "scale": 1 / (255 * STD), "shift": -MEAN / STD},
        "accuracy": {"torch": acc, "onnxruntime": ort_acc},
        "history": history,
        "train_seconds": round(train_seconds, 1),
        "versions": {"torch": torch.__version__, "numpy": np.__version__},
    }
    with open(os.path.join(tmp, "fashion_cnn.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    shutil.rmtree(os.path.abspath(args.outdir), ignore_errors=True)
    os.rename(tmp, os.path.abspath(args.outdir))
    print("train-fashion: float test accuracy %.2f%% (PyTorch), %.2f%% (ONNX Runtime); trained in %.0fs; wrote %s"
          % (100 * acc, 100 * ort_acc, train_seconds, args.outdir))


if __name__ == "__main__":
    main()
