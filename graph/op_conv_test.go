package graph

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// ints64 converts sizes to attribute values.
func ints64(v ...int) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

// convNode returns the ONNX node of a layers convolution (PyTorch's
// attributes: symmetric pads).
func convNode(c *layers.Conv, inputs ...string) onnx.Node {
	attrs := []onnx.Attribute{
		onnx.IntsAttr("kernel_shape", ints64(c.KernelSize...)...),
		onnx.IntsAttr("strides", ints64(c.Stride...)...),
		onnx.IntsAttr("pads", ints64(append(append([]int{}, c.Padding...), c.Padding...)...)...),
		onnx.IntsAttr("dilations", ints64(c.Dilation...)...),
		onnx.IntAttr("group", int64(c.Groups)),
	}
	op := "Conv"
	if c.Transposed {
		op = "ConvTranspose"
		attrs = append(attrs, onnx.IntsAttr("output_padding", ints64(c.OutputPadding...)...))
	}
	return node(op, inputs, y, attrs...)
}

// convOf returns the Conv a layers convolution embeds.
func convOf(l layers.Layer) *layers.Conv {
	switch c := l.(type) {
	case *layers.Conv1d:
		return &c.Conv
	case *layers.Conv2d:
		return &c.Conv
	case *layers.Conv3d:
		return &c.Conv
	case *layers.ConvTranspose1d:
		return &c.Conv
	case *layers.ConvTranspose2d:
		return &c.Conv
	case *layers.ConvTranspose3d:
		return &c.Conv
	}
	panic("not a convolution")
}

// TestConvMatchesLayers runs convolutions of every kind as ONNX nodes
// and as layers, on batches that split across goroutines: the same bits
// (one implementation, internal/nn).
func TestConvMatchesLayers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, spec := range []layers.ConvSpec{
		{InChannels: 3, OutChannels: 5, KernelSize: []int{3}, Bias: true},
		{InChannels: 4, OutChannels: 6, KernelSize: []int{4}, Stride: []int{3}, Padding: []int{2}, Dilation: []int{2}, Groups: 2, Bias: true},
		{InChannels: 3, OutChannels: 8, KernelSize: []int{3, 3}, Padding: []int{1}, Bias: true},
		{InChannels: 6, OutChannels: 4, KernelSize: []int{3, 2}, Stride: []int{2, 3}, Padding: []int{1, 1}, Dilation: []int{1, 2}, Groups: 2},
		{InChannels: 8, OutChannels: 8, KernelSize: []int{3, 3}, Stride: []int{2}, Padding: []int{1}, Groups: 8, Bias: true},
		{InChannels: 4, OutChannels: 8, KernelSize: []int{3, 3}, Padding: []int{1}, Groups: 4},
		{InChannels: 2, OutChannels: 3, KernelSize: []int{2, 3, 3}, Stride: []int{1, 2, 1}, Padding: []int{1, 0, 1}, Bias: true},
		{InChannels: 3, OutChannels: 4, KernelSize: []int{3}, Stride: []int{2}, OutputPadding: []int{1}, Bias: true, Transposed: true},
		{InChannels: 4, OutChannels: 6, KernelSize: []int{3, 3}, Stride: []int{2}, Padding: []int{1}, OutputPadding: []int{1}, Groups: 2, Bias: true, Transposed: true},
		{InChannels: 2, OutChannels: 2, KernelSize: []int{2, 3}, Stride: []int{1, 2}, Dilation: []int{3, 1}, OutputPadding: []int{2, 1}, Transposed: true},
		{InChannels: 2, OutChannels: 3, KernelSize: []int{2, 2, 3}, Stride: []int{2}, Padding: []int{0, 1, 1}, Bias: true, Transposed: true},
	} {
		c := convOf(must(layers.NewConv(spec, rng)))
		shape := []int{5, spec.InChannels}
		for d := range spec.KernelSize {
			shape = append(shape, 6+d)
		}
		x := randF32(rng, shape...)
		want := must(c.Forward(&tensor.Tensor{Shape: x.Shape, Data: x.F32}))
		inputs := []*Tensor{x, Float(c.Weight)}
		names := in(2)
		if c.Bias != nil {
			inputs, names = append(inputs, Float(c.Bias)), in(3)
		}
		got := runNode(t, 13, convNode(c, names...), inputs...)[0]
		check(t, c.String(), got, Float(want))
	}
}

// TestConvPadding checks auto_pad, asymmetric pads and ceil-free output
// sizes: each Conv equals the Conv with the explicit pads the ONNX
// specification derives, bit for bit, and has the expected shape.
func TestConvPadding(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := randF32(rng, 2, 3, 7, 8)
	w := randF32(rng, 4, 3, 3, 2)
	conv := func(attrs ...onnx.Attribute) *Tensor {
		return runNode(t, 13, node("Conv", in(2), y, attrs...), x, w)[0]
	}
	strides := onnx.IntsAttr("strides", 2, 3)
	for _, c := range []struct {
		name  string
		auto  []onnx.Attribute
		pads  []int64 // h begin, w begin, h end, w end
		shape []int
	}{
		// out = ceil(7/2) = 4: total (4-1)·2+3-7 = 2 → 1, 1; out = ceil(8/3) = 3: (3-1)·3+2-8 = 0.
		{"SAME_UPPER", []onnx.Attribute{onnx.StringAttr("auto_pad", "SAME_UPPER"), strides}, []int64{1, 0, 1, 0}, s(2, 4, 4, 3)},
		{"SAME_LOWER", []onnx.Attribute{onnx.StringAttr("auto_pad", "SAME_LOWER"), strides}, []int64{1, 0, 1, 0}, s(2, 4, 4, 3)},
		{"VALID", []onnx.Attribute{onnx.StringAttr("auto_pad", "VALID"), strides}, []int64{0, 0, 0, 0}, s(2, 4, 3, 3)},
	} {
		got := conv(c.auto...)
		want := conv(strides, onnx.IntsAttr("pads", c.pads...))
		check(t, c.name, got, want)
		if !slices.Equal(got.Shape, c.shape) {
			t.Errorf("%s: shape %v, want %v", c.name, got.Shape, c.shape)
		}
	}
	// Odd total padding: SAME_UPPER puts the extra one after, SAME_LOWER before.
	one := onnx.IntsAttr("strides", 1, 1)
	k4 := randF32(rng, 4, 3, 4, 4)
	for auto, pads := range map[string][]int64{"SAME_UPPER": {1, 1, 2, 2}, "SAME_LOWER": {2, 2, 1, 1}} {
		got := runNode(t, 13, node("Conv", in(2), y, onnx.StringAttr("auto_pad", auto), one), x, k4)[0]
		want := runNode(t, 13, node("Conv", in(2), y, onnx.IntsAttr("pads", pads...), one), x, k4)[0]
		check(t, auto+" with an even kernel", got, want)
		if !slices.Equal(got.Shape, s(2, 4, 7, 8)) {
			t.Errorf("%s with an even kernel: shape %v, want [2 4 7 8]", auto, got.Shape)
		}
	}
	// Asymmetric pads against the definition.
	got := runNode(t, 13, node("Conv", in(2), y, onnx.IntsAttr("pads", 2, 0, 1, 1)), x, w)[0]
	near(t, "asymmetric pads", got, convRef(x, w, []int{2, 0}, []int{1, 1}), s(2, 4, 8, 8), 1e-5)
}

// convRef is a plain 2-D convolution with stride 1 and pads begin/end, in
// float64.
func convRef(x, w *Tensor, pb, pe []int) []float64 {
	N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	M, kh, kw := w.Shape[0], w.Shape[2], w.Shape[3]
	oh, ow := H+pb[0]+pe[0]-kh+1, W+pb[1]+pe[1]-kw+1
	out := make([]float64, N*M*oh*ow)
	for n := range N {
		for m := range M {
			for i := range oh {
				for j := range ow {
					var s float64
					for c := range C {
						for a := range kh {
							for b := range kw {
								h, v := i-pb[0]+a, j-pb[1]+b
								if h >= 0 && h < H && v >= 0 && v < W {
									s += float64(x.F32[((n*C+c)*H+h)*W+v]) * float64(w.F32[((m*C+c)*kh+a)*kw+b])
								}
							}
						}
					}
					out[((n*M+m)*oh+i)*ow+j] = s
				}
			}
		}
	}
	return out
}

// TestConvTransposeShapes checks output_shape and auto_pad against the
// explicit pads the specification derives from them.
func TestConvTransposeShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := randF32(rng, 1, 2, 3, 4)
	w := randF32(rng, 2, 3, 3, 3)
	ct := func(attrs ...onnx.Attribute) *Tensor {
		return runNode(t, 13, node("ConvTranspose", in(2), y, attrs...), x, w)[0]
	}
	strides := onnx.IntsAttr("strides", 2, 2)
	// Full output: 2·(3-1)+3 = 7 by 2·(4-1)+3 = 9.
	for _, c := range []struct {
		name  string
		attrs []onnx.Attribute
		pads  []int64
		shape []int
	}{
		// Output 3·2 by 4·2: total 1, 1: SAME_UPPER puts it after, SAME_LOWER before.
		{"SAME_UPPER", []onnx.Attribute{onnx.StringAttr("auto_pad", "SAME_UPPER"), strides}, []int64{0, 0, 1, 1}, s(1, 3, 6, 8)},
		{"SAME_LOWER", []onnx.Attribute{onnx.StringAttr("auto_pad", "SAME_LOWER"), strides}, []int64{1, 1, 0, 0}, s(1, 3, 6, 8)},
		// output_shape 5 by 6: totals 2 and 3: begin total - total/2.
		{"output_shape", []onnx.Attribute{onnx.IntsAttr("output_shape", 5, 6), strides}, []int64{1, 2, 1, 1}, s(1, 3, 5, 6)},
	} {
		got := ct(c.attrs...)
		check(t, c.name, got, ct(strides, onnx.IntsAttr("pads", c.pads...)))
		if !slices.Equal(got.Shape, c.shape) {
			t.Errorf("%s: shape %v, want %v", c.name, got.Shape, c.shape)
		}
	}
	// An output_shape beyond the full output extends it with zeros (plus bias).
	big := ct(strides, onnx.IntsAttr("output_shape", 8, 9))
	full := ct(strides)
	for c := range 3 {
		for i := range 8 {
			for j := range 9 {
				v := big.F32[(c*8+i)*9+j]
				if i == 7 {
					if v != 0 {
						t.Fatalf("extended row: %v, want 0", v)
					}
				} else if v != full.F32[(c*7+i)*9+j] {
					t.Fatalf("(%d, %d, %d): %v, want %v", c, i, j, v, full.F32[(c*7+i)*9+j])
				}
			}
		}
	}
}

func TestConvErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x := randF32(rng, 1, 4, 5, 5)
	conv := node("Conv", in(2), y)
	wantErr(t, 13, conv, "has 4 channels, the weight [2 3 3 3] and group 1 want 3", x, randF32(rng, 2, 3, 3, 3))
	wantErr(t, 13, node("Conv", in(2), y, onnx.IntAttr("group", 3)), "4 filters do not split into 3 groups", x, randF32(rng, 4, 2, 3, 3))
	wantErr(t, 13, conv, "spatial size 5 is too small for kernel 6", x, randF32(rng, 2, 4, 6, 6))
	wantErr(t, 13, conv, "want 3 to 5 dimensions", randF32(rng, 4, 5), randF32(rng, 2, 4))
	wantErr(t, 13, node("Conv", in(2), y, onnx.IntsAttr("kernel_shape", 2, 2)), "kernel_shape [2 2] differs from the weight's kernel [3 3]", x, randF32(rng, 2, 4, 3, 3))
	wantErr(t, 13, node("Conv", in(2), y, onnx.IntsAttr("strides", 0, 1)), "strides [0 1]: want values from 1", x, randF32(rng, 2, 4, 3, 3))
	wantErr(t, 13, node("Conv", in(2), y, onnx.IntsAttr("pads", 1, 1)), "pads [1 1]: want 4 values", x, randF32(rng, 2, 4, 3, 3))
	wantErr(t, 13, node("Conv", in(2), y, onnx.StringAttr("auto_pad", "SAME")), `auto_pad "SAME" is not one of`, x, randF32(rng, 2, 4, 3, 3))
	wantErr(t, 13, node("Conv", in(3), y), "bias shape [3]: want [2]", x, randF32(rng, 2, 4, 3, 3), randF32(rng, 3))
	wantErr(t, 13, conv, "only FLOAT is supported", f64(s(1, 1, 1), 1), f64(s(1, 1, 1), 1))
	wantErr(t, 13, node("ConvTranspose", in(2), y), "has 4 channels, the weight [3 2 3 3] wants 3", x, randF32(rng, 3, 2, 3, 3))
}

// TestConvInfer checks inferred shapes with a symbolic batch and unknown
// spatial sizes.
func TestConvInfer(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	w := randF32(rng, 8, 3, 3, 3)
	wt, err := TensorToONNX("w", w)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dims []onnx.Dimension
		want string
	}{
		{[]onnx.Dimension{onnx.DimParam("N"), onnx.DimValue(3), onnx.DimValue(32), onnx.DimValue(30)}, "[N 8 16 15]"},
		{[]onnx.Dimension{onnx.DimParam("N"), onnx.DimValue(3), onnx.DimParam("H"), onnx.DimValue(30)}, "[N 8 ? 15]"},
	} {
		m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 13}}, Graph: &onnx.Graph{
			Input:       []onnx.ValueInfo{onnx.TensorValueInfo("a", onnx.Float, c.dims...)},
			Initializer: []onnx.Tensor{wt},
			Output:      []onnx.ValueInfo{{Name: "y"}},
			Node:        []onnx.Node{node("Conv", []string{"a", "w"}, y, onnx.IntsAttr("strides", 2, 2), onnx.IntsAttr("pads", 1, 1, 1, 1))},
		}}
		if got := shapeOf(importModel(t, m), "y"); got != c.want {
			t.Errorf("Conv of %v: inferred %s, want %s", c.dims, got, c.want)
		}
	}
	// A constant weight of the wrong rank fails at load.
	bad, _ := TensorToONNX("w", randF32(rng, 8, 3))
	_, err = Import(&onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 13}}, Graph: &onnx.Graph{
		Input:       []onnx.ValueInfo{onnx.TensorValueInfo("a", onnx.Float, onnx.Dims(1, 3, 4, 4)...)},
		Initializer: []onnx.Tensor{bad},
		Output:      []onnx.ValueInfo{{Name: "y"}},
		Node:        []onnx.Node{node("Conv", []string{"a", "w"}, y)},
	}})
	if err == nil || !strings.Contains(err.Error(), "weight shape [8 3]: want 3 to 5 dimensions") {
		t.Errorf("Conv with a 2-D constant weight: %v", err)
	}
}

// must returns v, panicking on err (test setup that cannot fail).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
