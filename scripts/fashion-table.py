#!/usr/bin/python3
"""fashion-table.py: the Fashion-MNIST post-training quantization table of the README.

Usage: /usr/bin/python3 scripts/fashion-table.py [--json FILE] TENSORQUANT FASHION_DIR

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
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

METHODS = [("max", "max"), ("entropy", "entropy"), ("percentile", "percentile 99.99"), ("mse", "mse")]
FORMATS = [("int8", [], "int8 per channel", "int8"), ("int4", ["-block", "0"], "int4 per channel", "int4"),
           ("int4", ["-block", "32"], "int4 blocks of 32", "int4b32")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tensorquant")
    ap.add_argument("fashion_dir")
    ap.add_argument("--json")
    args = ap.parse_args()
    d = os.path.abspath(args.fashion_dir)
    model = os.path.join(d, "fashion_cnn.onnx")
    with open(os.path.join(d, "fashion_cnn.json")) as f:
        info = json.load(f)
    rows = []
    for fmt, extra, fmt_label, tag in FORMATS:
        for method, label in METHODS:
            out = os.path.join(d, "fashion_cnn.%s.%s.qdq.onnx" % (tag, method))
            cmd = [os.path.abspath(args.tensorquant), "quantize", "-calib", os.path.join(d, "calib.npy"),
                   "-method", method, "-format", fmt] + extra + [
                   "-batch", "32", "-eval", os.path.join(d, "test_x.npy"), "-labels", os.path.join(d, "test_y.npy"),
                   "-json", "-quiet", "-o", out, model]
            p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if p.returncode != 0:
                sys.exit("fashion-table: %s: %s" % (" ".join(cmd), p.stderr.strip()))
            r = json.loads(p.stdout)
            r["label"], r["format_label"] = label, fmt_label
            rows.append(r)
            print("fashion-table: %s %s done" % (fmt_label, label), file=sys.stderr)
    float_top1 = rows[0]["eval"]["top1"]["float"]
    print("| model | weights | calibration | top-1 (tensorquant) | top-1 (ORT, op by op) | top-1 (ORT, optimised) | Δ vs float | calibration + amax |")
    print("|---|---|---|---|---|---|---|---|")
    print("| float | float | — | %.2f%% | %.2f%% (float model) | | +0.00 | |" % (100 * float_top1, 100 * info["accuracy"]["onnxruntime"]))
    for r in rows:
        t = r["eval"]["top1"]
        ort = "%.2f%%" % (100 * t["ort_quantized"]) if "ort_quantized" in t else "not run"
        opt = "%.2f%%" % (100 * t["ort_quantized_optimized"]) if "ort_quantized_optimized" in t else "not run"
        print("| int8 activations PTQ | %s | %s | %.2f%% | %s | %s | %+.2f | %.2f s + %.3f s |" % (
            r["format_label"], r["label"], 100 * t["quantized"], ort, opt, 100 * (t["quantized"] - float_top1),
            r["seconds"]["calibration"], r["seconds"]["amax"]))
    print()
    print("Float model: PyTorch %.2f%%, ONNX Runtime %.2f%% (fashion_cnn.json); %d test images, calibration on %d "
          "training images in batches of 32." % (100 * info["accuracy"]["torch"], 100 * info["accuracy"]["onnxruntime"],
                                                 rows[0]["eval"]["samples"], rows[0]["samples"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
