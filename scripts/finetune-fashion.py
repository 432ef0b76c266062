#!/usr/bin/python3
"""finetune-fashion.py: accuracy recovery of `tensorquant finetune` on the Fashion-MNIST CNN.

Usage: /usr/bin/python3 scripts/finetune-fashion.py [--json FILE] [--data /usr/share/datasets/fashion-mnist]
                                                    TENSORQUANT FASHION_DIR

FASHION_DIR is what `make fashion` writes (scripts/train-fashion.py: fashion_cnn.onnx,
test_x.npy, test_y.npy, fashion_cnn.json) plus the QDQ models of that CNN named
fashion_cnn.FORMAT.METHOD.qdq.onnx (what `tensorquant quantize` writes for the README's
Fashion-MNIST table). For each QDQ model it runs the original toolkit's fine-tuning recipe
on the original training run of train-fashion.py (4 epochs, Adam, peak learning rate 3e-3,
batch 128): 10% of its schedule, 24,000 training images (a seeded random 40% of the 60,000,
one epoch), at 1% of its learning rate, annealed along a cosine:

  TENSORQUANT finetune -data train_x.npy -labels train_y.npy -epochs 1 -batch 128
                       -optimizer adam -lr 3e-5 -json -quiet -o FT.onnx MODEL.qdq.onnx

and prints a Markdown table of the top-1 accuracy on the 10,000 test images of the float
model, each QDQ model (PTQ) and its fine-tuned model (QAT), each computed by
`TENSORQUANT run` on the file, and the fine-tuning's samples per second.
"""

import argparse
import glob
import gzip
import json
import os
import subprocess
import sys
import tempfile

MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        b = f.read()
    ndim = b[3]
    shape = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def top1(tq, model, test_x, test_y, tmp):
    import numpy as np
    out = os.path.join(tmp, "out")
    subprocess.run([tq, "run", "-quiet", "-i", test_x, "-o", out, model], check=True, stdout=subprocess.DEVNULL)
    files = glob.glob(os.path.join(out, "*.npy"))
    if len(files) != 1:
        sys.exit("finetune-fashion: %s has %d outputs, want 1" % (model, len(files)))
    logits = np.load(files[0])
    for f in files:
        os.remove(f)
    return float((logits.argmax(1) == np.load(test_y)).mean())


def main():
    import numpy as np
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tensorquant")
    ap.add_argument("dir")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--json")
    a = ap.parse_args()
    tq = os.path.abspath(a.tensorquant)
    models = sorted(glob.glob(os.path.join(a.dir, "fashion_cnn.*.qdq.onnx")))
    if not models:
        sys.exit("finetune-fashion: no fashion_cnn.*.qdq.onnx in %s (tensorquant quantize writes them)" % a.dir)
    test_x, test_y = os.path.join(a.dir, "test_x.npy"), os.path.join(a.dir, "test_y.npy")
    with tempfile.TemporaryDirectory() as tmp:
        x = read_idx(os.path.join(a.data, "train-images-idx3-ubyte.gz"))
        y = read_idx(os.path.join(a.data, "train-labels-idx1-ubyte.gz"))
        sel = np.random.default_rng(1).permutation(len(x))[:len(x) * 4 // 10]
        train_x, train_y = os.path.join(tmp, "train_x.npy"), os.path.join(tmp, "train_y.npy")
        np.save(train_x, ((x[sel].astype(np.float32) / 255 - MEAN) / STD).reshape(-1, 1, 28, 28).astype(np.float32))
        np.save(train_y, y[sel].astype(np.int64))
        rows = [{"model": "float", "ptq": top1(tq, os.path.join(a.dir, "fashion_cnn.onnx"), test_x, test_y, tmp)}]
        print("| model | PTQ top-1 | fine-tuned top-1 | change | fine-tuning samples/s |")
        print("|---|---:|---:|---:|---:|")
        print("| float | %.2f %% | | | |" % (100 * rows[0]["ptq"]), flush=True)
        for m in models:
            name = os.path.basename(m)[len("fashion_cnn."):-len(".qdq.onnx")]
            ft = os.path.join(tmp, "ft.onnx")
            r = subprocess.run([tq, "finetune", "-data", train_x, "-labels", train_y, "-epochs", "1", "-batch", "128",
                                "-optimizer", "adam", "-lr", "3e-5", "-json", "-quiet", "-o", ft, m],
                               check=True, capture_output=True, text=True)
            summary = json.loads(r.stdout)
            row = {"model": name, "ptq": top1(tq, m, test_x, test_y, tmp), "qat": top1(tq, ft, test_x, test_y, tmp),
                   "samples_per_second": summary["samples_per_second"], "epoch_loss": summary["epoch_loss"]}
            rows.append(row)
            print("| %s | %.2f %% | %.2f %% | %+.2f | %.0f |" % (name, 100 * row["ptq"], 100 * row["qat"],
                                                              100 * (row["qat"] - row["ptq"]), row["samples_per_second"]),
                  flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
