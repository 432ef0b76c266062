package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// TestPoolsMatchLayers runs the pooling layers' windows as ONNX nodes:
// the same bits as the layers (one implementation, internal/nn).
func TestPoolsMatchLayers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, o := range []layers.PoolOptions{{}, {Stride: 1}, {Stride: 2, Padding: 1}, {Stride: 1, Padding: 1, Dilation: 2}} {
		for _, shape := range [][]int{s(3, 4, 13), s(3, 4, 11, 10), s(2, 3, 7, 8, 9)} {
			dims := len(shape) - 2
			x := randF32(rng, shape...)
			xt := &tensor.Tensor{Shape: x.Shape, Data: x.F32}
			mp := []layers.Layer{must(layers.NewMaxPool1d(3, o)), must(layers.NewMaxPool2d(3, o)), must(layers.NewMaxPool3d(3, o))}[dims-1]
			w := windowOf(mp)
			attrs := []onnx.Attribute{onnx.IntsAttr("kernel_shape", ints64(w.KernelSize...)...), onnx.IntsAttr("strides", ints64(w.Stride...)...),
				onnx.IntsAttr("pads", ints64(append(append([]int{}, w.Padding...), w.Padding...)...)...)}
			got := runNode(t, 12, node("MaxPool", in(1), y, append(attrs, onnx.IntsAttr("dilations", ints64(w.Dilation...)...))...), x)[0]
			check(t, mp.(interface{ String() string }).String(), got, Float(must(mp.Forward(xt))))
			if o.Dilation != 0 {
				continue
			}
			ap := []layers.Layer{must(layers.NewAvgPool1d(3, o)), must(layers.NewAvgPool2d(3, o)), must(layers.NewAvgPool3d(3, o))}[dims-1]
			got = runNode(t, 11, node("AveragePool", in(1), y, append(attrs, onnx.IntAttr("count_include_pad", 1))...), x)[0]
			check(t, ap.(interface{ String() string }).String(), got, Float(must(ap.Forward(xt))))
		}
	}
	// Global average pooling is AdaptiveAvgPool to 1.
	x := randF32(rng, 3, 5, 7, 9)
	want := must(must(layers.NewAdaptiveAvgPool2d(1, 1)).Forward(&tensor.Tensor{Shape: x.Shape, Data: x.F32}))
	check(t, "GlobalAveragePool", runNode(t, 13, node("GlobalAveragePool", in(1), y), x)[0], Float(want))
}

// windowOf returns the Window of a max pooling layer.
func windowOf(l layers.Layer) layers.Window {
	switch p := l.(type) {
	case *layers.MaxPool1d:
		return p.Window
	case *layers.MaxPool2d:
		return p.Window
	}
	return l.(*layers.MaxPool3d).Window
}

// TestPoolValues checks hand-computed windows: ceil_mode with the last
// window in the padding cut off, count_include_pad with a window past
// the end padding, Indices in both storage orders, NaN, integers and the
// global pools.
func TestPoolValues(t *testing.T) {
	x := seq(1, 1, 4, 5) // 0..19
	// kernel 2x3, strides 2x2, pads 1 before: windows start at -1.
	attrs := []onnx.Attribute{onnx.IntsAttr("kernel_shape", 2, 3), onnx.IntsAttr("strides", 2, 2), onnx.IntsAttr("pads", 1, 1, 0, 0)}
	// floor: H (4+1-2)/2+1 = 2, W (5+1-3)/2+1 = 2; ceil: H 3 (starts -1, 1, 3), W 3 (starts -1, 1, 3).
	outs := runNode(t, 12, node("MaxPool", in(1), []string{"y", "i"}, append(attrs, onnx.IntAttr("ceil_mode", 1))...), x)
	check(t, "MaxPool ceil", outs[0], f32(s(1, 1, 3, 3), 1, 3, 4, 11, 13, 14, 16, 18, 19))
	check(t, "MaxPool ceil indices", outs[1], i64(s(1, 1, 3, 3), 1, 3, 4, 11, 13, 14, 16, 18, 19))
	outs = runNode(t, 12, node("MaxPool", in(1), []string{"y", "i"}, append(attrs, onnx.IntAttr("storage_order", 1))...), x)
	check(t, "MaxPool", outs[0], f32(s(1, 1, 2, 2), 1, 3, 11, 13))
	// Column major within the plane: (h, w) is w·4 + h.
	check(t, "MaxPool indices column major", outs[1], i64(s(1, 1, 2, 2), 4, 12, 6, 14))
	// A last window that would start in the end padding is dropped: in
	// 5, kernel 2, stride 2, pads 0+2: ceil((5+2-2)/2)+1 = 4 windows, the
	// fourth starting at 6 >= 5+0 is dropped.
	row := seq(1, 1, 5)
	got := runNode(t, 12, node("MaxPool", in(1), y, onnx.IntsAttr("kernel_shape", 2), onnx.IntsAttr("strides", 2),
		onnx.IntsAttr("pads", 0, 2), onnx.IntAttr("ceil_mode", 1)), row)[0]
	check(t, "MaxPool ceil, last window dropped", got, f32(s(1, 1, 3), 1, 3, 4))

	// Average: count_include_pad counts the padding, not the ceil-mode
	// extension past it. Row 0..4, kernel 3, stride 2, pads 1+0, ceil:
	// windows [-1, 1], [1, 3], [3, 5]: the last reads 3, 4 and one
	// position past the input and its padding.
	avg := func(cp int64) *Tensor {
		return runNode(t, 11, node("AveragePool", in(1), y, onnx.IntsAttr("kernel_shape", 3), onnx.IntsAttr("strides", 2),
			onnx.IntsAttr("pads", 1, 0), onnx.IntAttr("ceil_mode", 1), onnx.IntAttr("count_include_pad", cp)), row)[0]
	}
	check(t, "AveragePool count_include_pad 0", avg(0), f32(s(1, 1, 3), 0.5, 2, 3.5))
	check(t, "AveragePool count_include_pad 1", avg(1), f32(s(1, 1, 3), float32(1)/3, 2, 3.5))

	// NaN wins a max window; integers pool too.
	nan := float32(math.NaN())
	got = runNode(t, 12, node("MaxPool", in(1), y, onnx.IntsAttr("kernel_shape", 2), onnx.IntsAttr("strides", 2)), f32(s(1, 1, 4), 1, nan, 3, 2))[0]
	check(t, "MaxPool NaN", got, f32(s(1, 1, 2), nan, 3))
	got = runNode(t, 12, node("MaxPool", in(1), y, onnx.IntsAttr("kernel_shape", 2), onnx.IntsAttr("strides", 1)), u8(s(1, 1, 4), 1, 200, 3, 2))[0]
	check(t, "MaxPool UINT8", got, u8(s(1, 1, 3), 200, 200, 3))
	got = runNode(t, 12, node("GlobalMaxPool", in(1), y), i8(s(1, 2, 2), -5, -3, -128, -128))[0]
	check(t, "GlobalMaxPool INT8", got, i8(s(1, 2, 1), -3, -128))
	got = runNode(t, 12, node("GlobalAveragePool", in(1), y), f32(s(1, 2, 3), 1, 2, 3, 4, 5, 7))[0]
	check(t, "GlobalAveragePool", got, f32(s(1, 2, 1), 2, float32(16)/3))

	wantErr(t, 12, node("MaxPool", in(1), y), "kernel_shape is required", x)
	wantErr(t, 12, node("MaxPool", in(1), y, onnx.IntsAttr("kernel_shape", 2)), "want 3 dimensions", x)
	wantErr(t, 12, node("MaxPool", in(1), y, onnx.IntsAttr("kernel_shape", 6, 6)), "spatial size 4 is too small for kernel 6", x)
	wantErr(t, 12, node("AveragePool", in(1), y, onnx.IntsAttr("kernel_shape", 2, 2)), "element type UINT8 is not supported", u8(s(1, 1, 2, 2), 1, 2, 3, 4))
	wantErr(t, 12, node("MaxPool", in(1), y, onnx.IntsAttr("kernel_shape", 2, 2), onnx.IntAttr("storage_order", 2)), "storage_order 2", x)
	wantErr(t, 11, node("AveragePool", in(1), y, onnx.IntsAttr("kernel_shape", 2, 2), onnx.IntsAttr("dilations", 2, 2)), "unsupported attribute(s) dilations", x)
}

// TestNormValues checks BatchNormalization against the layers' BatchNorm
// in evaluation mode (bit for bit, with an epsilon a float32 holds), and
// InstanceNormalization against its definition.
func TestNormValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	bn := must(layers.NewBatchNorm2d(5))
	bn.Eps = float64(float32(1e-3))
	for i := range 5 {
		bn.RunningMean.Data[i] = float32(rng.NormFloat64())
		bn.RunningVar.Data[i] = float32(rng.Float64() + 0.5)
		bn.Weight.Data[i] = float32(rng.NormFloat64())
		bn.Bias.Data[i] = float32(rng.NormFloat64())
	}
	bn.SetTraining(false)
	x := randF32(rng, 3, 5, 4, 6)
	want := must(bn.Forward(&tensor.Tensor{Shape: x.Shape, Data: x.F32}))
	got := runNode(t, 15, node("BatchNormalization", in(5), y, onnx.FloatAttr("epsilon", 1e-3)),
		x, Float(bn.Weight), Float(bn.Bias), Float(bn.RunningMean), Float(bn.RunningVar))[0]
	check(t, "BatchNormalization", got, Float(want))
	// [N, C] input.
	got = runNode(t, 9, node("BatchNormalization", in(5), y), f32(s(2, 1), 1, 3), f32(s(1), 2), f32(s(1), 1), f32(s(1), 1), f32(s(1), 4))[0]
	near(t, "BatchNormalization [N, C]", got, []float64{1, 1 + 2*2/math.Sqrt(4+1e-5)}, s(2, 1), 1e-6)

	got = runNode(t, 6, node("InstanceNormalization", in(3), y, onnx.FloatAttr("epsilon", 0.5)),
		f32(s(1, 2, 3), 1, 2, 3, 0, 0, 6), f32(s(2), 1, 2), f32(s(2), 0, 1))[0]
	// Plane 1: mean 2, var 2/3; plane 2: mean 2, var 8.
	i1, i2 := 1/math.Sqrt(2.0/3+0.5), 1/math.Sqrt(8+0.5)
	near(t, "InstanceNormalization", got, []float64{-i1, 0, i1, 1 - 4*i2, 1 - 4*i2, 1 + 8*i2}, s(1, 2, 3), 1e-6)

	five := func() []*Tensor {
		return []*Tensor{x, Float(bn.Weight), Float(bn.Bias), Float(bn.RunningMean), Float(bn.RunningVar)}
	}
	wantErr(t, 15, node("BatchNormalization", in(5), y, onnx.IntAttr("training_mode", 1)), "training mode", five()...)
	wantErr(t, 9, node("BatchNormalization", in(5), []string{"y", "m", "v"}), "training mode", five()...)
	wantErr(t, 7, node("BatchNormalization", in(5), y, onnx.IntAttr("spatial", 0)), "spatial 0", five()...)
	wantErr(t, 15, node("BatchNormalization", in(5), y), "mean has shape [4], want [5]",
		x, Float(bn.Weight), Float(bn.Bias), randF32(rng, 4), Float(bn.RunningVar))
}
