#!/usr/bin/python3
"""Writes the miniature backend suite in data/ with Debian's python3-onnx 1.12,
in the layout of onnx/backend/test/data (a kind directory, a test_* directory
with model.onnx and test_data_set_N/{input,output}_M.pb). Run from this
directory: /usr/bin/python3 make.py"""
import os, shutil
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

shutil.rmtree("data", ignore_errors=True)


def case(kind, name, nodes, inputs, outputs, sets, opset=13):
    d = os.path.join("data", kind, name)
    os.makedirs(d)
    g = helper.make_graph(nodes, name, inputs, outputs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="make.py")
    m.ir_version = 8
    onnx.save(m, os.path.join(d, "model.onnx"))
    for i, (ins, outs) in enumerate(sets):
        sd = os.path.join(d, "test_data_set_%d" % i)
        os.makedirs(sd)
        for j, v in enumerate(ins):
            with open(os.path.join(sd, "input_%d.pb" % j), "wb") as f:
                f.write(v.SerializeToString())
        for j, v in enumerate(outs):
            with open(os.path.join(sd, "output_%d.pb" % j), "wb") as f:
                f.write(v.SerializeToString())


def vi(name, t, shape):
    return helper.make_tensor_value_info(name, t, shape)


arr = numpy_helper.from_array
x = np.array([[-1.5, 0.0, 2.0, -0.0], [3.25, -7.0, np.inf, -np.inf], [np.nan, 1e-3, -1e-3, 5.0]], np.float32)
relu = helper.make_node("Relu", ["x"], ["y"])
F = TensorProto.FLOAT
# Relu, two data sets, exact expected outputs.
case("node", "test_relu_ok", [relu], [vi("x", F, [3, 4])], [vi("y", F, [3, 4])],
     [([arr(x, "x")], [arr(np.maximum(x, 0), "y")]), ([arr(-x, "x")], [arr(np.maximum(-x, 0), "y")])])
# Expected output off by just under / just over the suite's tolerance
# (|diff| <= 1e-7 + 1e-3 |expected|) in one element: the first passes, the second fails.
y = np.maximum(x, 0)
near, far = y.copy(), y.copy()
near[1, 0] = np.float32(3.25 * (1 + 0.99e-3))
far[1, 0] = np.float32(3.25 * (1 + 1.01e-3))
case("node", "test_relu_near", [relu], [vi("x", F, [3, 4])], [vi("y", F, [3, 4])], [([arr(x, "x")], [arr(near, "y")])])
case("node", "test_relu_far", [relu], [vi("x", F, [3, 4])], [vi("y", F, [3, 4])], [([arr(x, "x")], [arr(far, "y")])])
# Identity of every element type the suite's files use.
vals = [
    ("i64", TensorProto.INT64, np.array([-9007199254740993, 7], np.int64)),
    ("b", TensorProto.BOOL, np.array([True, False, True])),
    ("s", TensorProto.STRING, np.array([b"monday", b""], dtype=object)),
    ("h", TensorProto.FLOAT16, np.array([1.0, -65504.0, 5.96e-08], np.float16)),
    ("d", TensorProto.DOUBLE, np.array([[0.1]], np.float64)),
    ("u8", TensorProto.UINT8, np.array([0, 255], np.uint8)),
    ("i8", TensorProto.INT8, np.array([-128, 127], np.int8)),
    ("u16", TensorProto.UINT16, np.array([65535], np.uint16)),
    ("i16", TensorProto.INT16, np.array([-32768], np.int16)),
    ("i32", TensorProto.INT32, np.array([-2147483648, 5], np.int32)),
    ("u32", TensorProto.UINT32, np.array([4294967295], np.uint32)),
    ("u64", TensorProto.UINT64, np.array([18446744073709551615], np.uint64)),
    ("scalar", TensorProto.FLOAT, np.array(2.5, np.float32)),
]
case("node", "test_identity_types",
     [helper.make_node("Identity", [n], [n + "_out"]) for n, _, _ in vals],
     [vi(n, t, list(v.shape)) for n, t, v in vals], [vi(n + "_out", t, list(v.shape)) for n, t, v in vals],
     [([arr(v, n) for n, _, v in vals], [arr(v, n + "_out") for n, _, v in vals])])
# A sequence input (the harness skips sequence and optional values).
seq = helper.make_tensor_sequence_value_info("seq", F, [2])
seq_in = onnx.SequenceProto(name="seq", elem_type=onnx.SequenceProto.TENSOR, tensor_values=[arr(np.ones(2, np.float32))])
case("node", "test_identity_sequence", [helper.make_node("Identity", ["seq"], ["out"])], [seq],
     [helper.make_tensor_sequence_value_info("out", F, [2])], [([seq_in], [seq_in])])
# An op the fake executors do not know, in another kind directory, and a
# model with two nodes.
case("simple", "test_add_relu", [helper.make_node("Add", ["a", "b"], ["s"]), helper.make_node("Relu", ["s"], ["y"])],
     [vi("a", F, [2]), vi("b", F, [2])], [vi("y", F, [2])],
     [([arr(np.array([1, -2], np.float32), "a"), arr(np.array([1, 1], np.float32), "b")], [arr(np.array([2, 0], np.float32), "y")])])
