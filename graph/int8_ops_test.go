package graph

import (
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// TestIntOpsNeverPanic feeds QLinearConv, ConvInteger, QLinearMatMul and
// MatMulInteger (whose values the ONNX backend node tests check) random
// inputs of their arity — types, shapes, scales and zero points in range
// and out of it — through Infer and Run: each returns a result or an
// error, never panics.
func TestIntOpsNeverPanic(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	types := []onnx.DataType{onnx.Float, onnx.Int8, onnx.Uint8, onnx.Int32}
	trials := 3000
	if testing.Short() {
		trials = 300
	}
	for _, op := range []struct {
		name   string
		lo, hi int
	}{{"QLinearConv", 8, 9}, {"ConvInteger", 2, 4}, {"QLinearMatMul", 8, 8}, {"MatMulInteger", 2, 4}} {
		b, _ := lookup("", op.name)
		for range trials {
			nin := op.lo + rng.IntN(op.hi-op.lo+1)
			var attrs []onnx.Attribute
			if rng.IntN(2) == 0 {
				attrs = append(attrs, onnx.IntAttr("group", int64(1+rng.IntN(2))), onnx.IntsAttr("pads", 1, 0, 1, 0))
			}
			o, err := b(&NodeDef{Name: "n", OpType: op.name, Opset: 10, Attrs: NewAttrs(attrs), NumInputs: nin, NumOutputs: 1, Const: make([]*Tensor, nin)})
			if err != nil {
				t.Fatalf("%s: %v", op.name, err)
			}
			in := make([]*Tensor, nin)
			infos := make([]*Info, nin)
			for i := range in {
				ti := types[rng.IntN(len(types))]
				if rng.IntN(2) == 0 { // mostly well typed
					ti = map[bool]onnx.DataType{true: onnx.Float, false: []onnx.DataType{onnx.Int8, onnx.Uint8}[rng.IntN(2)]}[op.lo == 8 && (i == 1 || i == 4 || i == 6)]
				}
				in[i] = randTensor(rng, ti)
				infos[i] = InfoOf(in[i])
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s on %v: panic %v", op.name, in, p)
					}
				}()
				want, err := o.Infer(infos)
				out, rerr := o.Run(newCtx(nil, 2), in)
				if err == nil && rerr == nil {
					if err := checkOutputs(want, out); err != nil {
						t.Errorf("%s on %v: %v", op.name, in, err)
					}
				}
			}()
		}
	}
}
