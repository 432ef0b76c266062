package layers

import (
	"math"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
	"github.com/tensorquant/tensorquant/tensor"
)

// TestMatMulForward compares MatMul with the definition y = x·W + b,
// summed in float64, on inputs of 1 to 3 dimensions.
func TestMatMulForward(t *testing.T) {
	rng := testRNG(21)
	for _, c := range []struct {
		in, out int
		bias    bool
		shape   []int
	}{{5, 3, true, []int{4, 5}}, {7, 2, false, []int{2, 3, 7}}, {3, 4, true, []int{3}}, {64, 33, true, []int{9, 64}}} {
		m := must(NewMatMul(c.in, c.out, c.bias, rng))
		x := randTensor(rng, c.shape...)
		y := must(m.Forward(x))
		want := append(append([]int{}, c.shape[:len(c.shape)-1]...), c.out)
		if !tensor.SameShape(y.Shape, want) {
			t.Fatalf("%s: output shape %v, want %v", m, y.Shape, want)
		}
		for r := range len(x.Data) / c.in {
			for j := range c.out {
				var s float64
				if c.bias {
					s = float64(m.Bias.Data[j])
				}
				for k := range c.in {
					s += float64(x.Data[r*c.in+k]) * float64(m.Weight.Data[k*c.out+j])
				}
				if got := y.Data[r*c.out+j]; math.Abs(float64(got)-s) > 1e-5*(1+math.Abs(s)) {
					t.Fatalf("%s: y[%d, %d] = %v, want %v", m, r, j, got, s)
				}
			}
		}
	}
}

// TestMatMulGradients checks MatMul's input, weight and bias gradients by
// finite differences, and QuantMatMul's (20-bit quantizers, static
// amaxes that clip some inputs and weights) on every kernel
// implementation.
func TestMatMulGradients(t *testing.T) {
	rng := testRNG(22)
	fine := QuantDesc8BitPerTensor()
	fine.NumBits, fine.Amax = 20, []float32{0.775}
	fineW := perChannel(1)
	fineW.NumBits = 20
	qm := must(Quantize(must(NewMatMul(4, 3, true, rng)), QuantDescs{Input: &fine, Weight: &fineW}))
	w := qm.Params()[0].Value
	copy(w.Data, spacedTensor(rng, w.Shape...).Data)
	_, wq := qm.Quantizers()
	must(0, wq.SetAmax(must(tensor.FromSlice([]float32{0.325, 0.425, 0.225}, 1, 3))))
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, c := range []struct {
			name  string
			layer Layer
			shape []int
		}{
			{"MatMul", must(NewMatMul(5, 3, true, rng)), []int{4, 5}},
			{"MatMul/nobias/3d", must(NewMatMul(4, 6, false, rng)), []int{2, 3, 4}},
			{"QuantMatMul", qm, []int{2, 3, 4}},
		} {
			t.Run(c.name, func(t *testing.T) {
				gradCheck(t, c.layer, spacedTensor(testRNG(uint64(len(c.name))), c.shape...), 1e-2)
			})
		}
	})
}

// TestQuantMatMul: the quantized MatMul's defaults are the original's for
// MatMul weights (8 bits per output channel: axis 1, an amax of shape
// [1, N]), and its output is the float MatMul on the quantized input and
// weight, bit for bit.
func TestQuantMatMul(t *testing.T) {
	rng := testRNG(23)
	d := must(DefaultQuantDescs[*MatMul]())
	if !d.Input.Equal(QuantDesc8BitPerTensor()) || !d.Weight.Equal(perChannel(1)) {
		t.Fatalf("defaults %v %v", d.Input, d.Weight)
	}
	f := must(NewMatMul(6, 4, true, rng))
	q := must(Quantize(f, QuantDescs{})).(*Quant[*MatMul])
	if q.Kind() != "QuantMatMul" || q.String() != "QuantMatMul(in_features=6, out_features=4, bias=True)" {
		t.Errorf("Kind %q, String %q", q.Kind(), q)
	}
	batches := []*tensor.Tensor{randTensor(rng, 3, 5, 6), randTensor(rng, 2, 5, 6)}
	calibrate(t, q, batches, calibrators.MethodMax, calibrators.AmaxOptions{})
	wa := q.WeightQuantizer.Amax()
	if !tensor.SameShape(wa.Shape, []int{1, 4}) {
		t.Fatalf("weight amax shape %v, want [1 4]", wa.Shape)
	}
	if d := conformance.DiffFloat32(wa.Data, columnAbsMax(q.Float.Weight)); d != "" {
		t.Errorf("weight amax: %s", d)
	}
	x := randTensor(rng, 2, 5, 6)
	y := must(q.Forward(x))
	qw := must(fakequant.FakeTensorQuant(q.Float.Weight, wa, QuantDesc8BitPerTensor().IntFormat()))
	ref := must(NewMatMul(6, 4, true, rng))
	copy(ref.Weight.Data, qw.Data)
	copy(ref.Bias.Data, q.Float.Bias.Data)
	qx := must(fakequant.FakeTensorQuant(x, q.InputQuantizer.Amax(), QuantDesc8BitPerTensor().IntFormat()))
	if d := conformance.DiffFloat32(y.Data, must(ref.Forward(qx)).Data); d != "" {
		t.Errorf("quantized forward: %s", d)
	}

	// QuantizeModel replaces MatMul only when asked: the original's map
	// has no MatMul.
	model := NewSequential(must(NewMatMul(6, 4, false, rng)))
	if m := must(QuantizeModel(model, ReplaceOptions{})); m.(*Sequential).Layers[0].Kind() != "MatMul" {
		t.Errorf("MatMul replaced by default")
	}
	if m := must(QuantizeModel(model, ReplaceOptions{Include: []string{"MatMul"}})); m.(*Sequential).Layers[0].Kind() != "QuantMatMul" {
		t.Errorf("Include MatMul: %s", m.(*Sequential).Layers[0].Kind())
	}
}

// columnAbsMax returns the abs-max of every column of the matrix w.
func columnAbsMax(w *tensor.Tensor) []float32 {
	out := make([]float32, w.Shape[1])
	for i, v := range w.Data {
		out[i%w.Shape[1]] = max(out[i%w.Shape[1]], float32(math.Abs(float64(v))))
	}
	return out
}

// TestMatMulErrors: bad sizes, weights of the wrong shape,
// inputs of the wrong width and Backward before Forward are errors that
// name the layer.
func TestMatMulErrors(t *testing.T) {
	rng := testRNG(24)
	bad := must(NewMatMul(3, 2, true, rng))
	bad.Weight = tensor.New(2, 3)
	fresh := must(NewMatMul(3, 2, true, rng))
	for _, tc := range []struct {
		err  error
		want string
	}{
		{second(NewMatMul(0, 2, true, rng)), "MatMul(in_features=0, out_features=2): want sizes"},
		{second(bad.Forward(tensor.New(1, 3))), "MatMul(in_features=3, out_features=2, bias=True): weight shape [2 3], want [3 2]"},
		{second(fresh.Forward(tensor.New(1, 4))), "input shape [1 4]: want last dimension 3"},
		{second(fresh.Backward(tensor.New(1, 2))), "Backward called before Forward"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("error %v, want %q", tc.err, tc.want)
		}
	}
}
