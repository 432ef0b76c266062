package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

func TestReduce(t *testing.T) {
	x := seq(2, 3, 2) // [[[0 1] [2 3] [4 5]] [[6 7] [8 9] [10 11]]]
	red := func(op string, opset int64, keep int64, axes ...int64) onnx.Node {
		attrs := []onnx.Attribute{onnx.IntAttr("keepdims", keep)}
		if axes != nil {
			attrs = append(attrs, onnx.IntsAttr("axes", axes...))
		}
		return node(op, in(1), y, attrs...)
	}
	check(t, "mean axis 1", runNode(t, 13, red("ReduceMean", 13, 1, 1), x)[0], f32(s(2, 1, 2), 2, 3, 8, 9))
	check(t, "mean all", runNode(t, 13, red("ReduceMean", 13, 0), x)[0], f32(scalar, 5.5))
	check(t, "max -1", runNode(t, 13, red("ReduceMax", 13, 0, -1), x)[0], f32(s(2, 3), 1, 3, 5, 7, 9, 11))
	// Axes 0 and 2 are not one block: the kept axis moves in front.
	check(t, "mean 0,2", runNode(t, 13, red("ReduceMean", 13, 1, 0, 2), x)[0], f32(s(1, 3, 1), 3.5, 5.5, 7.5))
	check(t, "max 2,0", runNode(t, 13, red("ReduceMax", 13, 0, 2, 0), x)[0], f32(s(3), 7, 9, 11))
	// ReduceSum takes axes as an input since opset 13, the others since 18.
	check(t, "sum input", runNode(t, 13, node("ReduceSum", in(2), y, onnx.IntAttr("keepdims", 0)), x, i64(s(1), 0))[0],
		f32(s(3, 2), 6, 8, 10, 12, 14, 16))
	check(t, "mean-18 input", runNode(t, 18, node("ReduceMean", in(2), y), x, i64(s(2), 1, 2))[0], f32(s(2, 1, 1), 2.5, 8.5))
	check(t, "sum no axes", runNode(t, 13, node("ReduceSum", in(1), y), x)[0], f32(s(1, 1, 1), 66))
	check(t, "sum empty axes", runNode(t, 13, node("ReduceSum", in(2), y), x, i64(s(0)))[0], f32(s(1, 1, 1), 66))
	check(t, "noop", runNode(t, 13, node("ReduceSum", in(2), y, onnx.IntAttr("noop_with_empty_axes", 1)), x, i64(s(0)))[0], x)
	check(t, "noop absent", runNode(t, 18, node("ReduceMax", in(1), y, onnx.IntAttr("noop_with_empty_axes", 1)), x)[0], x)
	check(t, "sum int64", runNode(t, 13, node("ReduceSum", in(2), y, onnx.IntAttr("keepdims", 0)), i64(s(2, 2), 1, 2, 3, math.MaxInt64), i64(s(1), 1))[0],
		i64(s(2), 3, math.MinInt64+2))
	check(t, "max int8", runNode(t, 13, red("ReduceMax", 13, 0, 0), i8(s(2, 2), -1, 5, -7, 3))[0], i8(s(2), -1, 5))
	nan := float32(math.NaN())
	check(t, "max NaN", runNode(t, 13, red("ReduceMax", 13, 0, 1), f32(s(2, 2), 1, nan, nan, 3))[0], f32(s(2), nan, nan))
	check(t, "sum double", runNode(t, 13, node("ReduceSum", in(1), y, onnx.IntAttr("keepdims", 0)), f64(s(2), 0.5, 0.25))[0], f64(scalar, 0.75))
	// Empty reductions: mean NaN, sum 0, max the lowest value.
	e := f32(s(2, 0))
	check(t, "empty mean", runNode(t, 13, red("ReduceMean", 13, 0, 1), e)[0], f32(s(2), nan, nan))
	check(t, "empty max", runNode(t, 13, red("ReduceMax", 13, 0, 1), e)[0], f32(s(2), float32(math.Inf(-1)), float32(math.Inf(-1))))
	check(t, "empty max int32", runNode(t, 13, red("ReduceMax", 13, 0, 1), i32(s(1, 0)))[0], i32(s(1), math.MinInt32))
	check(t, "empty sum", runNode(t, 13, node("ReduceSum", in(2), y, onnx.IntAttr("keepdims", 0)), e, i64(s(1), 1))[0], f32(s(2), 0, 0))
	// A large reduction over the middle axis, split over goroutines.
	big := randF32(rand.New(rand.NewPCG(5, 6)), 40, 50, 30)
	out := runNode(t, 13, red("ReduceMean", 13, 0, 1), big)[0]
	want := make([]float64, 40*30)
	for i := range 40 {
		for k := range 30 {
			var sum float64
			for j := range 50 {
				sum += float64(big.F32[(i*50+j)*30+k])
			}
			want[i*30+k] = float64(float32(sum / 50))
		}
	}
	near(t, "large mean", out, want, s(40, 30), 0)

	wantErr(t, 13, red("ReduceMean", 13, 1, 3), "axis 3 is out of range for rank 3", x)
	wantErr(t, 13, red("ReduceMean", 13, 1, 1, -2), "name axis 1 twice", x)
	wantErr(t, 13, red("ReduceMean", 13, 1, 1), "element type INT64 is not supported", i64(s(1), 1))
	wantErr(t, 13, node("ReduceMean", in(2), y), "takes 1 inputs, the node has 2", x, i64(s(1), 1))
	wantErr(t, 18, node("ReduceMean", in(1), y, onnx.IntsAttr("axes", 1)), "unsupported attribute(s) axes", x)
}

// softmaxRef is the softmax of x [outer, n, inner] over n, in float64.
func softmaxRef(x []float32, outer, n, inner int) []float64 {
	out := make([]float64, len(x))
	for o := range outer {
		for k := range inner {
			m := math.Inf(-1)
			for j := range n {
				m = math.Max(m, float64(x[(o*n+j)*inner+k]))
			}
			var sum float64
			for j := range n {
				sum += math.Exp(float64(x[(o*n+j)*inner+k]) - m)
			}
			for j := range n {
				out[(o*n+j)*inner+k] = math.Exp(float64(x[(o*n+j)*inner+k])-m) / sum
			}
		}
	}
	return out
}

func TestSoftmax(t *testing.T) {
	x := randF32(rand.New(rand.NewPCG(7, 8)), 2, 3, 4)
	near(t, "axis -1", runNode(t, 13, node("Softmax", in(1), y), x)[0], softmaxRef(x.F32, 6, 4, 1), s(2, 3, 4), 1e-6)
	near(t, "axis 1", runNode(t, 13, node("Softmax", in(1), y, onnx.IntAttr("axis", 1)), x)[0], softmaxRef(x.F32, 2, 3, 4), s(2, 3, 4), 1e-6)
	near(t, "axis 0", runNode(t, 13, node("Softmax", in(1), y, onnx.IntAttr("axis", -3)), x)[0], softmaxRef(x.F32, 1, 2, 12), s(2, 3, 4), 1e-6)
	// Before opset 13, the input is coerced to 2-D at axis (default 1).
	near(t, "opset 11", runNode(t, 11, node("Softmax", in(1), y), x)[0], softmaxRef(x.F32, 2, 12, 1), s(2, 3, 4), 1e-6)
	near(t, "opset 11 axis 2", runNode(t, 11, node("Softmax", in(1), y, onnx.IntAttr("axis", 2)), x)[0], softmaxRef(x.F32, 6, 4, 1), s(2, 3, 4), 1e-6)
	// Large values do not overflow.
	near(t, "large", runNode(t, 13, node("Softmax", in(1), y), f32(s(3), 1000, 1001, 1002))[0], softmaxRef([]float32{0, 1, 2}, 1, 3, 1), s(3), 1e-6)
	got := runNode(t, 13, node("Softmax", in(1), y), f64(s(2), 0, math.Log(3)))[0]
	if math.Abs(got.F64[0]-0.25) > 1e-15 || math.Abs(got.F64[1]-0.75) > 1e-15 {
		t.Errorf("double softmax %v, want [0.25 0.75]", got.F64)
	}
	wantErr(t, 13, node("Softmax", in(1), y, onnx.IntAttr("axis", 3)), "axis 3 is out of range for rank 3", x)
	wantErr(t, 13, node("Softmax", in(1), y), "element type INT64 is not supported", i64(s(1), 1))
}

func TestLayerNormalization(t *testing.T) {
	x := f32(s(2, 3), 1, 2, 3, -1, 0, 7)
	scale, bias := f32(s(3), 1, 2, 3), f32(s(3), 0, 1, 0)
	ln := node("LayerNormalization", in(3), []string{"y", "mean", "inv"})
	out := runNode(t, 17, ln, x, scale, bias)
	// Row 1: mean 2, var 2/3; row 2: mean 2, var 38/3.
	i1, i2 := 1/math.Sqrt(2.0/3+1e-5), 1/math.Sqrt(38.0/3+1e-5)
	near(t, "Y", out[0], []float64{-i1, 1, 3 * i1, -3 * i2, -4*i2 + 1, 15 * i2}, s(2, 3), 1e-6)
	near(t, "Mean", out[1], []float64{2, 2}, s(2, 1), 1e-7)
	near(t, "InvStdDev", out[2], []float64{i1, i2}, s(2, 1), 1e-6)
	// Axis 0 normalises everything; a scale of one element broadcasts; no bias.
	out = runNode(t, 17, node("LayerNormalization", in(2), y, onnx.IntAttr("axis", 0), onnx.FloatAttr("epsilon", 0)), x, f32(s(1), 2))
	mean, v := 2.0, 0.0
	for _, e := range x.F32 {
		v += (float64(e) - mean) * (float64(e) - mean) / 6
	}
	want := make([]float64, 6)
	for i, e := range x.F32 {
		want[i] = 2 * (float64(e) - mean) / math.Sqrt(v)
	}
	near(t, "axis 0", out[0], want, s(2, 3), 1e-6)
	// A large batch over several goroutines.
	big := randF32(rand.New(rand.NewPCG(9, 10)), 400, 256)
	ones := f32(s(256), make([]float32, 256)...)
	for i := range ones.F32 {
		ones.F32[i] = 1
	}
	out = runNode(t, 17, node("LayerNormalization", in(2), y), big, ones)
	want = make([]float64, len(big.F32))
	for r := range 400 {
		row := big.F32[r*256 : (r+1)*256]
		var m, q float64
		for _, e := range row {
			m += float64(e) / 256
		}
		for _, e := range row {
			q += (float64(e) - m) * (float64(e) - m) / 256
		}
		for i, e := range row {
			want[r*256+i] = (float64(e) - m) / math.Sqrt(q+1e-5)
		}
	}
	near(t, "large", out[0], want, s(400, 256), 1e-5)
	wantErr(t, 17, node("LayerNormalization", in(2), y), "Scale has shape [2], which does not broadcast to the normalised [3]", x, f32(s(2), 1, 1))
	wantErr(t, 17, node("LayerNormalization", in(2), y, onnx.IntAttr("stash_type", 11)), "stash_type 11 is not supported", x, scale)
	wantErr(t, 17, node("LayerNormalization", in(2), y, onnx.IntAttr("axis", 2)), "axis 2 is out of range for rank 2", x, scale)
	wantErr(t, 17, node("LayerNormalization", in(2), y), "Scale: inputs have element types FLOAT and DOUBLE", x, f64(s(3), 1, 1, 1))
}
