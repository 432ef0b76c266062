#!/usr/bin/python3
"""fashion-table.py: the Fashion-MNIST quantization table of the README, PTQ and fine-tuned.

Usage: /usr/bin/python3 scripts/fashion-table.py [--json FILE] [--no-finetune] [--train-fraction F]
                                                 [--formats int8,int4,int4b32] [--methods max,entropy,percentile,mse]
                                                 [--data /usr/share/datasets/fashion-mnist] TENSORQUANT FASHION_DIR

FASHION_DIR is what `make fashion` writes (scripts/train-fashion.py): the trained CNN
fashion_cnn.onnx, calib.npy (the first 1,024 training images, normalised), test_x.npy and
test_y.npy (the 10,000 test images and labels) and fashion_cnn.json (PyTorch's and ONNX
Runtime's float accuracy). For every calibration method (max, entropy, percentile 99.99,
mse) and weight format (INT8 per channel; INT4 per channel, the original's 4-bit weights;
INT4 in blocks of 32 along the reduction axis), it runs, from the repository root (so that
tools/onnxcheck is found):

  TENSORQUANT quantize -calib calib.npy -method M -format F [-block B] -batch 32
                       -eval test_x.npy -labels test_y.npy -json -quiet -o OUT MODEL

(activations INT8 per tensor, the original's placement) and prints a Markdown table of
the top-1 accuracy on the test set: our Session on the QDQ graph, ONNX Runtime on the
written file op by op (graph optimisation disabled: the same numbers) and optimised (what
a deployment runs, with ORT's integer kernels), the difference to the float model, and
the time of calibration and of the amax searches (all four methods).

Then (unless --no-finetune) it fine-tunes each QDQ model with the original toolkit's recipe
on the training run of train-fashion.py (4 epochs, Adam, peak learning rate 3e-3, batch 128):
10% of its schedule, one epoch over a seeded random 40% (--train-fraction) of the 60,000
training images, at 1% of its learning rate, annealed along a cosine:

  TENSORQUANT finetune -data train_x.npy -labels train_y.npy -epochs 1 -batch 128
                       -optimizer adam -lr 3e-5 -json -quiet -o FT.onnx OUT

and adds the fine-tuned model's top-1 (`TENSORQUANT run -float`: our Session, as in the PTQ
column) and the fine-tuning's samples per second. (`tensorquant finetune -method M -format F
MODEL` does both steps in one command and writes the same file.)
"""

import argparse
import json
import os
import glob
import gzip
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

METHODS = [("max", "max"), ("entropy", "entropy"), ("percentile", "percentile 99.99"), ("mse", "mse")]
FORMATS = [("int8", [], "int8 per channel", "int8"), ("int4", ["-block", "0"], "int4 per channel", "int4"),
           ("int4", ["-block", "32"], "int4 blocks of 32", "int4b32")]
MEAN, STD = 0.2860, 0.3530  # train-fashion.py's normalisation


def read_idx(path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        b = f.read()
    ndim = b[3]
    shape = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def training_set(data, fraction, tmp):
    """Writes the seeded random fraction of the training images (normalised) and labels as .npy."""
    import numpy as np
    x = read_idx(os.path.join(data, "train-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data, "train-labels-idx1-ubyte.gz"))
    sel = np.random.default_rng(1).permutation(len(x))[:int(len(x) * fraction)]
    train_x, train_y = os.path.join(tmp, "train_x.npy"), os.path.join(tmp, "train_y.npy")
    np.save(train_x, ((x[sel].astype(np.float32) / 255 - MEAN) / STD).reshape(-1, 1, 28, 28).astype(np.float32))
    np.save(train_y, y[sel].astype(np.int64))
    return train_x, train_y


def top1(tq, model, test_x, test_y, tmp):
    """The top-1 of model on the test set by `tq run -float`."""
    import numpy as np
    out = os.path.join(tmp, "out")
    subprocess.run([tq, "run", "-float", "-quiet", "-i", test_x, "-o", out, model], check=True, stdout=subprocess.DEVNULL)
    files = glob.glob(os.path.join(out, "*.npy"))
    if len(files) != 1:
        sys.exit("fashion-table: %s has %d outputs, want 1" % (model, len(files)))
    logits = np.load(files[0])
    for f in files:
        os.remove(f)
    return float((logits.argmax(1) == np.load(test_y)).mean())


def finetune(tq, model, train, test_x, test_y, tmp):
    """Fine-tunes model with the recipe; returns the fine-tuned top-1 and the summary."""
    ft = os.path.join(tmp, "ft.onnx")
    cmd = [tq, "finetune", "-data", train[0], "-labels", train[1], "-epochs", "1", "-batch", "128",
           "-optimizer", "adam", "-lr", "3e-5", "-json", "-quiet", "-o", ft, model]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("fashion-table: %s: %s" % (" ".join(cmd), p.stderr.strip()))
    return top1(tq, ft, test_x, test_y, tmp), json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tensorquant")
    ap.add_argument("fashion_dir")
    ap.add_argument("--json")
    ap.add_argument("--no-finetune", action="store_true", help="PTQ only")
    ap.add_argument("--train-fraction", type=float, default=0.4, help="the fraction of the training images fine-tuned on")
    ap.add_argument("--formats", default=",".join(f[3] for f in FORMATS))
    ap.add_argument("--methods", default=",".join(m[0] for m in METHODS))
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()
    tq = os.path.abspath(args.tensorquant)
    d = os.path.abspath(args.fashion_dir)
    model = os.path.join(d, "fashion_cnn.onnx")
    test_x, test_y = os.path.join(d, "test_x.npy"), os.path.join(d, "test_y.npy")
    with open(os.path.join(d, "fashion_cnn.json")) as f:
        info = json.load(f)
    tmpdir = tempfile.TemporaryDirectory()
    train = None if args.no_finetune else training_set(args.data, args.train_fraction, tmpdir.name)
    rows = []
    for fmt, extra, fmt_label, tag in FORMATS:
        if tag not in args.formats.split(","):
            continue
        for method, label in METHODS:
            if method not in args.methods.split(","):
                continue
            out = os.path.join(d, "fashion_cnn.%s.%s.qdq.onnx" % (tag, method))
            cmd = [tq, "quantize", "-calib", os.path.join(d, "calib.npy"),
                   "-method", method, "-format", fmt] + extra + [
                   "-batch", "32", "-eval", test_x, "-labels", test_y,
                   "-json", "-quiet", "-o", out, model]
            p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit("fashion-table: %s: %s" % (" ".join(cmd), p.stderr.strip()))
            r = json.loads(p.stdout)
            r["label"], r["format_label"] = label, fmt_label
            if train:
                r["finetuned_top1"], r["finetune"] = finetune(tq, out, train, test_x, test_y, tmpdir.name)
            rows.append(r)
            print("fashion-table: %s %s done" % (fmt_label, label), file=sys.stderr)
    tmpdir.cleanup()
    if not rows:
        sys.exit("fashion-table: no rows (--formats %s, --methods %s)" % (args.formats, args.methods))
    float_top1 = rows[0]["eval"]["top1"]["float"]
    ft_head, ft_rule, ft_float = "", "", ""
    if train:
        ft_head, ft_rule, ft_float = " fine-tuned top-1 (tensorquant) | Δ fine-tuned vs float | fine-tuning samples/s |", "---|---|---|", " | | |"
    print("| model | weights | calibration | top-1 (tensorquant) | top-1 (ORT, op by op) | top-1 (ORT, optimised) | Δ vs float |%s calibration + amax |" % ft_head)
    print("|---|---|---|---|---|---|---|%s---|" % ft_rule)
    print("| float | float | — | %.2f%% | %.2f%% (float model) | | +0.00 |%s |" % (100 * float_top1, 100 * info["accuracy"]["onnxruntime"], ft_float))
    for r in rows:
        t = r["eval"]["top1"]
        ort = "%.2f%%" % (100 * t["ort_quantized"]) if "ort_quantized" in t else "not run"
        opt = "%.2f%%" % (100 * t["ort_quantized_optimized"]) if "ort_quantized_optimized" in t else "not run"
        ft = ""
        if train:
            ft = " %.2f%% | %+.2f | %.0f |" % (100 * r["finetuned_top1"], 100 * (r["finetuned_top1"] - float_top1),
                                              r["finetune"]["samples_per_second"])
        print("| int8 activations | %s | %s | %.2f%% | %s | %s | %+.2f |%s %.2f s + %.3f s |" % (
            r["format_label"], r["label"], 100 * t["quantized"], ort, opt, 100 * (t["quantized"] - float_top1), ft,
            r["seconds"]["calibration"], r["seconds"]["amax"]))
    print()
    print("Float model: PyTorch %.2f%%, ONNX Runtime %.2f%% (fashion_cnn.json); %d test images, calibration on %d "
          "training images in batches of 32." % (100 * info["accuracy"]["torch"], 100 * info["accuracy"]["onnxruntime"],
                                                 rows[0]["eval"]["samples"], rows[0]["samples"]))
    if train:
        print("Fine-tuned on %d training images: one epoch, batch 128, Adam, lr 3e-5 annealed along a cosine."
              % rows[0]["finetune"]["samples"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
