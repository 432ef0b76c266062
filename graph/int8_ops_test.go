package graph

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/internal/testkit/onnxbackend"
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

// TestPrepackedQLinear turns the constant inputs of the backend tests of
// QLinearConv and QLinearMatMul (all but the first) into initializers,
// as an ONNX Runtime QOperator file has them: the int8 pass replaces the
// node by one with its weights packed once, whose outputs are the
// expected ones and those of the op (Options.Float) bit for bit.
func TestPrepackedQLinear(t *testing.T) {
	if _, err := os.Stat(onnxbackend.Dir()); err != nil {
		exttool.Missing(t, "the ONNX backend suite (Debian's libonnx-testdata) is not installed: %v", err)
		return
	}
	for _, name := range []string{"test_qlinearconv", "test_qlinearmatmul_2D"} {
		dir := filepath.Join(onnxbackend.Dir(), "node", name)
		m, err := onnx.ReadFile(filepath.Join(dir, "model.onnx"))
		if err != nil {
			t.Fatal(err)
		}
		set := filepath.Join(dir, "test_data_set_0")
		var x *Tensor
		inputs := m.Graph.Input
		for i, vi := range inputs {
			v, err := onnx.ReadTensorFile(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)))
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				if x, err = TensorFromONNX(v); err != nil {
					t.Fatal(err)
				}
				continue
			}
			v.Name = vi.Name
			m.Graph.Initializer = append(m.Graph.Initializer, *v)
		}
		m.Graph.Input = inputs[:1]
		want, err := onnx.ReadTensorFile(filepath.Join(set, "output_0.pb"))
		if err != nil {
			t.Fatal(err)
		}
		for _, float := range []bool{false, true} {
			g, err := Import(m)
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewSession(g, Options{Float: float})
			if err != nil {
				t.Fatal(err)
			}
			if types := opTypes(s.Graph()); (types[0] == "QConv" || types[0] == "QMatMul") == float || len(types) != 1 {
				t.Errorf("%s, float %v: the session runs %v", name, float, types)
			}
			out, err := s.Run(map[string]*Tensor{m.Graph.Input[0].Name: x})
			if err != nil {
				t.Fatal(err)
			}
			got, err := TensorToONNX("", out[m.Graph.Output[0].Name])
			if err != nil {
				t.Fatal(err)
			}
			if err := onnxbackend.Compare(&got, want, 0, 0); err != nil {
				t.Errorf("%s, float %v: %v", name, float, err)
			}
		}
	}
}

// opTypes returns the op types of g's nodes.
func opTypes(g *Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		out = append(out, n.OpType)
	}
	return out
}
