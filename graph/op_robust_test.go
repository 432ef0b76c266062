package graph

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// opsHere are the op types of the op_*.go files.
var opsHere = []string{
	"Abs", "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Constant", "ConstantOfShape", "Conv",
	"ConvTranspose", "DequantizeLinear", "Div", "Dropout", "Equal", "Erf", "Exp", "Expand", "Flatten", "Gather", "Gelu",
	"Gemm", "GlobalAveragePool", "GlobalMaxPool", "Greater", "HardSigmoid", "HardSwish", "Identity",
	"InstanceNormalization", "LayerNormalization", "LeakyRelu", "Less", "Log", "MatMul", "Max", "MaxPool", "Min", "Mul",
	"Neg", "Not", "Pad", "Pow", "QuantizeLinear", "Range", "Reciprocal", "ReduceMax", "ReduceMean", "ReduceSum", "Relu",
	"Reshape", "Resize", "Shape", "Sigmoid", "Slice", "Softmax", "Split", "Sqrt", "Squeeze", "Sub", "Tanh", "Tile",
	"Transpose", "Unsqueeze", "Upsample", "Where",
}

func TestOpsHereRegistered(t *testing.T) {
	for _, op := range opsHere {
		if _, ok := lookup("", op); !ok {
			t.Errorf("%s is not registered", op)
		}
	}
}

// randTensor returns a small tensor of a random supported type and shape,
// with values that include the specials and small integers (shapes,
// axes and indices in range and out of it).
func randTensor(rng *rand.Rand, t onnx.DataType) *Tensor {
	shape := make([]int, rng.IntN(5))
	for i := range shape {
		shape[i] = rng.IntN(4)
	}
	x, err := New(t, shape...)
	if err != nil {
		panic(err)
	}
	floats := []float64{0, 1, -1, 2.5, -0.5, math.NaN(), math.Inf(1), math.Inf(-1), 1e30}
	for i := range x.Len() {
		f, n := floats[rng.IntN(len(floats))], int64(rng.IntN(9)-4)
		switch x.DType {
		case onnx.Float:
			x.F32[i] = float32(f)
		case onnx.Double:
			x.F64[i] = f
		case onnx.Int64:
			x.I64[i] = n
		case onnx.Int32:
			x.I32[i] = int32(n)
		case onnx.Int8, onnx.Int4:
			x.I8[i] = int8(n)
		case onnx.Bool:
			x.U8[i] = uint8(n & 1)
		default:
			x.U8[i] = uint8(n)
		}
	}
	return x
}

// intParams marks the inputs of each op that are integer parameters.
var intParams = map[string]map[int]bool{
	"Reshape": {1: true}, "Slice": {1: true, 2: true, 3: true, 4: true}, "Expand": {1: true}, "Tile": {1: true},
	"Pad": {1: true, 3: true}, "Gather": {1: true}, "Squeeze": {1: true}, "Unsqueeze": {1: true}, "ReduceMean": {1: true},
	"ReduceSum": {1: true}, "ReduceMax": {1: true}, "Split": {1: true}, "Resize": {3: true},
}

// TestOpsNeverPanic builds every op at several opsets and arities and
// feeds it random inputs, through Infer and then Run, and through Run
// alone (as a session whose inference saw other inputs would): each must
// return a result or an error, never panic.
func TestOpsNeverPanic(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	attrs := map[string][]onnx.Attribute{
		"Cast":     {onnx.IntAttr("to", int64(onnx.Int64))},
		"Concat":   {onnx.IntAttr("axis", 0)},
		"Constant": {onnx.FloatAttr("value_float", 1)},
	}
	trials := 3000
	if testing.Short() {
		trials = 300
	}
	// Attributes drawn at random, in range and out of it.
	pool := func() []onnx.Attribute {
		ints := func() []int64 {
			v := make([]int64, rng.IntN(4))
			for i := range v {
				v[i] = int64(rng.IntN(9) - 4)
			}
			return v
		}
		pos := func() []int64 {
			v := ints()
			for i := range v {
				v[i] = 1 + v[i]&3
			}
			return v
		}
		cands := []onnx.Attribute{
			onnx.IntAttr("axis", int64(rng.IntN(9)-4)), onnx.IntsAttr("axes", ints()...), onnx.IntsAttr("perm", ints()...),
			onnx.IntAttr("keepdims", int64(rng.IntN(2))), onnx.IntsAttr("split", ints()...), onnx.IntsAttr("starts", ints()...),
			onnx.IntsAttr("ends", ints()...), onnx.IntsAttr("pads", ints()...), onnx.IntAttr("transA", int64(rng.IntN(2))),
			onnx.IntAttr("transB", int64(rng.IntN(2))), onnx.StringAttr("mode", []string{"constant", "reflect", "edge", "wrap"}[rng.IntN(4)]),
			onnx.IntAttr("num_outputs", int64(rng.IntN(4))), onnx.IntAttr("start", int64(rng.IntN(9)-4)), onnx.IntAttr("end", int64(rng.IntN(9)-4)),
			onnx.IntAttr("noop_with_empty_axes", int64(rng.IntN(2))), onnx.IntAttr("allowzero", int64(rng.IntN(2))),
			onnx.IntAttr("broadcast", 1), onnx.FloatAttr("alpha", 0.5), onnx.FloatAttr("beta", 0),
			onnx.IntsAttr("kernel_shape", pos()...), onnx.IntsAttr("strides", pos()...), onnx.IntsAttr("dilations", pos()...),
			onnx.IntAttr("group", int64(rng.IntN(3))), onnx.IntAttr("ceil_mode", int64(rng.IntN(2))),
			onnx.IntAttr("count_include_pad", int64(rng.IntN(2))), onnx.IntAttr("storage_order", int64(rng.IntN(2))),
			onnx.StringAttr("auto_pad", []string{"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"}[rng.IntN(4)]),
			onnx.IntsAttr("output_padding", ints()...), onnx.IntsAttr("output_shape", ints()...),
			onnx.StringAttr("mode", []string{"nearest", "linear", "cubic"}[rng.IntN(3)]),
			onnx.StringAttr("coordinate_transformation_mode", resizeCTMs[rng.IntN(len(resizeCTMs))]),
			onnx.StringAttr("nearest_mode", nearestMode[rng.IntN(len(nearestMode))]),
			onnx.IntAttr("exclude_outside", int64(rng.IntN(2))), onnx.IntAttr("antialias", int64(rng.IntN(2))),
			onnx.FloatsAttr("scales", 1, 2, 0.5, 3), onnx.IntAttr("block_size", int64(rng.IntN(4))),
			onnx.IntAttr("saturate", int64(rng.IntN(2))),
			onnx.IntAttr("output_dtype", int64([]onnx.DataType{onnx.Int8, onnx.Uint8, onnx.Int4, onnx.Float8E5M2}[rng.IntN(4)])),
		}
		var out []onnx.Attribute
		for _, a := range cands {
			if rng.IntN(3) == 0 {
				out = append(out, a)
			}
		}
		return out
	}
	for _, op := range opsHere {
		b, _ := lookup("", op)
		for range trials {
			opset, nin, nout := []int{6, 11, 13, 18, 21}[rng.IntN(5)], rng.IntN(6), 1+rng.IntN(3)
			list := attrs[op]
			if rng.IntN(2) == 0 {
				list = append(slices.Clone(list), pool()...)
			}
			d := &NodeDef{Name: "n", OpType: op, Opset: opset, Attrs: NewAttrs(list),
				NumInputs: nin, NumOutputs: nout, Const: make([]*Tensor, nin)}
			o, err := b(d)
			if err != nil {
				continue
			}
			// Types: at random, or all of one type, or that with the
			// integer parameters INT64 and Where's condition BOOL.
			types := []onnx.DataType{onnx.Float, onnx.Double, onnx.Int64, onnx.Int32, onnx.Int8, onnx.Uint8, onnx.Bool,
				onnx.Int4, onnx.Uint4, onnx.Float8E4M3FN}
			mode, t0 := rng.IntN(3), types[rng.IntN(len(types))]
			in := make([]*Tensor, nin)
			infos := make([]*Info, nin)
			for i := range in {
				if i > 0 && rng.IntN(5) == 0 {
					continue
				}
				ti := t0
				switch {
				case mode == 0:
					ti = types[rng.IntN(len(types))]
				case mode == 2 && i > 0 && intParams[op] != nil && intParams[op][i]:
					ti = onnx.Int64
				case mode == 2 && op == "Where" && i == 0:
					ti = onnx.Bool
				}
				in[i] = randTensor(rng, ti)
				infos[i] = InfoOf(in[i])
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s-%d %v with %d outputs, on %v: panic %v", op, opset, list, nout, in, p)
					}
				}()
				want, err := o.Infer(infos)
				if len(want) != nout && err == nil {
					t.Errorf("%s-%d: inferred %d outputs for %d", op, opset, len(want), nout)
				}
				out, rerr := o.Run(newCtx(nil, 2), in)
				if err == nil && rerr == nil {
					if err := checkOutputs(want, out); err != nil {
						t.Errorf("%s-%d %v on %v: %v", op, opset, list, in, err)
					}
				}
			}()
		}
	}
}
