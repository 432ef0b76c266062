package export

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

func opTypes(m *onnx.Model) []string {
	var ops []string
	for _, n := range m.Graph.Node {
		ops = append(ops, n.OpType)
	}
	return ops
}

// staticLinear returns QuantLinear(in, out) with static amax 1 on both
// quantizers (per row for the weight).
func staticLinear(t *testing.T, in, out int, inD, wD *layers.QuantDescriptor) layers.QuantLayer {
	t.Helper()
	l := q(must(layers.NewLinear(in, out, true, rand.New(rand.NewPCG(1, 1)))), inD, wD)
	iq, wq := l.Quantizers()
	if err := iq.SetAmax(tensor.Scalar(1)); err != nil {
		t.Fatal(err)
	}
	wa := tensor.New(out, 1)
	for i := range wa.Data {
		wa.Data[i] = 1
	}
	if err := wq.SetAmax(wa); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestInactiveQuantizers: disabled quantizers, and those whose quant
// stage is off, are left out (a learn_amax one then only clips); a bias
// whose input is not quantized stays float under BiasInt32.
func TestInactiveQuantizers(t *testing.T) {
	off := tq(layers.QuantDesc8BitPerTensor())
	off.Disable()
	lin := staticLinear(t, 4, 3, nil, nil)
	iq, _ := lin.Quantizers()
	iq.DisableQuant()
	m, err := Model(layers.NewSequential(off, lin), Options{InputShape: []int{4}, Bias: BiasInt32})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Constant", "Constant", "QuantizeLinear", "DequantizeLinear", "Gemm"}
	if got := opTypes(m); !slices.Equal(got, want) {
		t.Errorf("nodes %v, want %v", got, want)
	}
	if init := m.Graph.Initializer[len(m.Graph.Initializer)-1]; init.Name != "1.bias" || init.DataType != onnx.Float {
		t.Errorf("bias initializer %q %v, want 1.bias FLOAT", init.Name, init.DataType)
	}

	clip := tq(*desc(layers.QuantDesc8BitPerTensor(), func(d *layers.QuantDescriptor) { d.LearnAmax = true }))
	clip.DisableQuant()
	for _, opset := range []int{10, 13} {
		m, err := Model(clip, Options{InputShape: []int{4}, Opset: opset})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"Constant", "Constant", "Clip"}
		if opset == 10 {
			want = []string{"Clip"}
		}
		if got := opTypes(m); !slices.Equal(got, want) {
			t.Errorf("clip only, opset %d: nodes %v, want %v", opset, got, want)
		}
	}
}

// TestDefaultOpset: opset 0 is 13, or what FP8 (19) or 4-bit (21)
// quantizers need; an explicit opset is kept.
func TestDefaultOpset(t *testing.T) {
	pt := layers.QuantDesc8BitPerTensor()
	fp8 := desc(pt, func(d *layers.QuantDescriptor) { d.Format = "e5m2" })
	int4 := desc(layers.QuantDesc8BitLinearWeightPerRow(), func(d *layers.QuantDescriptor) { d.NumBits = 4 })
	for _, c := range []struct {
		model layers.Layer
		opset int
		want  int64
	}{
		{staticLinear(t, 4, 3, nil, nil), 0, 13},
		{staticLinear(t, 4, 3, nil, nil), 17, 17},
		{staticLinear(t, 4, 3, fp8, nil), 0, 19},
		{staticLinear(t, 4, 3, fp8, int4), 0, 21},
		{staticLinear(t, 4, 3, nil, int4), 22, 22},
	} {
		m, err := Model(c.model, Options{InputShape: []int{4}, Opset: c.opset})
		if err != nil {
			t.Fatal(err)
		}
		ir, _ := onnx.IRVersionForOpset(c.want)
		if m.OpsetImport[0].Version != c.want || m.IRVersion != ir {
			t.Errorf("opset %d: exported opset %d IR %d, want %d IR %d", c.opset, m.OpsetImport[0].Version, m.IRVersion, c.want, ir)
		}
	}
}

// TestHooksDoNotChangeExport: forward hooks registered on a model (even
// ones that would replace outputs) leave its export unchanged.
func TestHooksDoNotChangeExport(t *testing.T) {
	model := digitsCNN(1)
	o := Options{InputShape: []int{1, 8, 8}}
	want := must(onnx.Marshal(must(Model(model, o))))
	for _, name := range []string{"features.0", "features.1", "classifier"} {
		h := must(layers.RegisterForwardHook(model, name, func(_ string, _ layers.Layer, _, y *tensor.Tensor) (*tensor.Tensor, error) {
			return tensor.New(y.Shape...), nil
		}))
		defer h.Remove()
	}
	if got := must(onnx.Marshal(must(Model(model, o)))); !slices.Equal(got, want) {
		t.Error("hooks changed the export")
	}
}
