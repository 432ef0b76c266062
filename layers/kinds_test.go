package layers

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/tensor"
)

// TestDeclaredTypes checks every declared quantizable type against a
// layer of it: the declared kind is the layer's Kind, a weight axis is
// declared exactly for Weighted layers and is their WeightInfo.Axis, and
// the float layer inside Quantize's result shares the parameters but not
// what a Forward saves (the original layer's Backward still refers to its
// own last Forward).
func TestDeclaredTypes(t *testing.T) {
	rng := testRNG(5)
	conv := func(spec ConvSpec) (Layer, error) { spec.Bias = true; return NewConv(spec, rng) }
	k2 := []int{2, 2}
	cases := []struct {
		layer Layer
		shape []int
	}{
		{must(conv(ConvSpec{InChannels: 2, OutChannels: 3, KernelSize: []int{2}})), []int{2, 2, 5}},
		{must(conv(ConvSpec{InChannels: 2, OutChannels: 3, KernelSize: k2})), []int{2, 2, 4, 4}},
		{must(conv(ConvSpec{InChannels: 2, OutChannels: 3, KernelSize: []int{2, 2, 2}})), []int{1, 2, 3, 3, 3}},
		{must(conv(ConvSpec{InChannels: 2, OutChannels: 3, KernelSize: []int{2}, Transposed: true})), []int{2, 2, 5}},
		{must(conv(ConvSpec{InChannels: 2, OutChannels: 3, KernelSize: k2, Transposed: true})), []int{2, 2, 4, 4}},
		{must(conv(ConvSpec{InChannels: 2, OutChannels: 3, KernelSize: []int{2, 2, 2}, Transposed: true})), []int{1, 2, 3, 3, 3}},
		{must(NewLinear(4, 3, true, rng)), []int{2, 4}},
		{must(NewMatMul(4, 3, true, rng)), []int{2, 4}},
		{must(NewMaxPool1d(2, PoolOptions{})), []int{2, 2, 6}},
		{must(NewMaxPool2d(2, PoolOptions{})), []int{2, 2, 4, 4}},
		{must(NewMaxPool3d(2, PoolOptions{})), []int{1, 2, 4, 4, 4}},
		{must(NewAvgPool1d(2, PoolOptions{})), []int{2, 2, 6}},
		{must(NewAvgPool2d(2, PoolOptions{})), []int{2, 2, 4, 4}},
		{must(NewAvgPool3d(2, PoolOptions{})), []int{1, 2, 4, 4, 4}},
		{must(NewAdaptiveAvgPool1d(2)), []int{2, 2, 5}},
		{must(NewAdaptiveAvgPool2d(2, 1)), []int{2, 2, 5, 3}},
		{must(NewAdaptiveAvgPool3d(1, 2, 1)), []int{1, 2, 3, 5, 2}},
	}
	seen := map[*layerType]bool{}
	for _, c := range cases {
		l := c.layer
		lt := typeOf(l)
		if lt == nil {
			t.Fatalf("%s (%T) not declared", l, l)
		}
		seen[lt] = true
		if lt.kind != l.Kind() {
			t.Errorf("%T declared as %q, Kind() %q", l, lt.kind, l.Kind())
		}
		w, weighted := l.(Weighted)
		switch {
		case weighted != (lt.weightAxis >= 0):
			t.Errorf("%s: Weighted %v, declared weight axis %d", l, weighted, lt.weightAxis)
		case weighted && w.WeightInfo().Axis != lt.weightAxis:
			t.Errorf("%s: WeightInfo().Axis %d, declared %d", l, w.WeightInfo().Axis, lt.weightAxis)
		}

		x1, x2 := randTensor(rng, c.shape...), randTensor(rng, c.shape...)
		y := must(l.Forward(x1))
		dy := randTensor(rng, y.Shape...)
		must(0, ZeroGrad(l))
		want := must(l.Backward(dy))
		q := must(Quantize(l, QuantDescs{}))
		f := q.FloatLayer()
		if f == l {
			t.Fatalf("%s: Quantize kept the float layer itself", l)
		}
		for i, p := range f.Params() {
			if p.Value != l.Params()[i].Value || p.Grad != l.Params()[i].Grad {
				t.Errorf("%s: parameter %s not shared", l, p.Name)
			}
		}
		must(q.Forward(x2))
		if _, err := f.Backward(dy); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		must(0, ZeroGrad(l))
		got := must(l.Backward(dy))
		if d := conformance.DiffFloat32(got.Data, want.Data); d != "" {
			t.Errorf("%s: the copy's Forward changed the original's Backward: %s", l, d)
		}
		if !tensor.SameShape(got.Shape, x1.Shape) {
			t.Errorf("%s: gradient shape %v", l, got.Shape)
		}
	}
	for _, lt := range layerTypes.list {
		if !seen[lt] {
			t.Errorf("declared type %v (%s) not checked", lt.typ, lt.kind)
		}
	}
}
