package graph

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// Gradient checks: every op's Backward against central differences of
// L = Σ r·Run(inputs) (r random, sums in float64), in float64 where the
// op computes on DOUBLE (h = 1e-6: the difference is exact to about 1e-9)
// and in float32 for the ops that compute on FLOAT only, which are
// linear in the input checked (Conv, MatMul, Gemm, the pools,
// BatchNormalization), so that a large step (h = 0.5) has no truncation
// error and float32 rounding stays far below the tolerance.

// gradOp builds node n's op and its backward.
func gradOp(t *testing.T, opset int, n *Node, consts []*Tensor) (Op, Differentiable) {
	t.Helper()
	op, err := buildOp(n, map[string]int{"": opset}, consts)
	if err != nil {
		t.Fatal(err)
	}
	n.Op = op
	if _, ok := op.(*unaryOp); ok {
		d, err := unaryGradOf(n)
		if err != nil {
			t.Fatal(err)
		}
		return op, d
	}
	d, ok := op.(Differentiable)
	if !ok {
		t.Fatalf("%s has no backward", n.OpType)
	}
	return op, d
}

// weighted returns Σ_i Σ_j r_i[j]·out_i[j] in float64.
func weighted(out, r []*Tensor) float64 {
	var s float64
	for i, o := range out {
		if r[i] == nil {
			continue
		}
		a, _ := floatsOf(o)
		b, _ := floatsOf(r[i])
		for j := range a {
			s += a[j] * b[j]
		}
	}
	return s
}

// gradCheck checks the gradients of the inputs listed in check of node n
// (opset) at inputs against central differences with step h, within tol
// (relative to the larger of 1 and the difference's magnitude), on up to
// 48 elements of each. L weighs every float output except those whose
// name starts with "no_" (outputs with no gradient).
func gradCheck(t *testing.T, name string, opset int, n onnx.Node, check []int, h, tol float64, inputs ...*Tensor) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(len(name)), 7))
	node := &Node{Name: name, OpType: n.OpType, Inputs: n.Input, Outputs: n.Output, Attrs: n.Attribute}
	consts := make([]*Tensor, len(inputs))
	needs := make([]bool, len(inputs))
	for i, x := range inputs {
		consts[i] = x
		for _, c := range check {
			if c == i {
				consts[i], needs[i] = nil, true
			}
		}
	}
	op, d := gradOp(t, opset, node, consts)
	ctx := newCtx(nil, 3)
	out, err := op.Run(ctx, inputs)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	r := make([]*Tensor, len(out))
	for i, o := range out {
		if o.DType != onnx.Float && o.DType != onnx.Double || strings.HasPrefix(n.Output[i], "no_") {
			continue
		}
		r[i] = &Tensor{DType: o.DType, Shape: o.Shape}
		r[i].alloc(o.Len())
		for j := range o.Len() {
			v := rng.Float64()*2 - 1
			if o.DType == onnx.Double {
				r[i].F64[j] = v
			} else {
				r[i].F32[j] = float32(v)
			}
		}
	}
	dIn, err := d.Backward(ctx, inputs, out, r, needs)
	if err != nil {
		t.Fatalf("%s: backward: %v", name, err)
	}
	for _, k := range check {
		x := inputs[k]
		g := dIn[k]
		if g == nil || g.Len() != x.Len() {
			t.Fatalf("%s: gradient of input %d is %v for %v", name, k, g, x)
		}
		ga, _ := floatsOf(g)
		idx := rng.Perm(x.Len())
		if len(idx) > 48 {
			idx = idx[:48]
		}
		for _, j := range idx {
			at := func(delta float64) (float64, float64) {
				c := x.Clone()
				in := append([]*Tensor{}, inputs...)
				in[k] = c
				var v float64
				if c.DType == onnx.Double {
					c.F64[j] += delta
					v = c.F64[j]
				} else {
					c.F32[j] += float32(delta)
					v = float64(c.F32[j])
				}
				o, err := op.Run(newCtx(nil, 1), in)
				if err != nil {
					t.Fatal(err)
				}
				return weighted(o, r), v
			}
			lp, xp := at(h)
			lm, xm := at(-h)
			num := (lp - lm) / (xp - xm)
			if math.Abs(num-ga[j]) > tol*math.Max(1, math.Abs(num)) {
				t.Errorf("%s: d/d input %d [%d] = %.9g, central difference %.9g", name, k, j, ga[j], num)
			}
		}
	}
}

// rand64 returns a DOUBLE tensor with values in [lo, hi).
func rand64(rng *rand.Rand, lo, hi float64, shape ...int) *Tensor {
	v := make([]float64, prod(shape))
	for i := range v {
		v[i] = lo + rng.Float64()*(hi-lo)
	}
	return f64(shape, v...)
}

// away returns x with every element at least gap away from each of the
// points (kinks of the function checked).
func away(x *Tensor, gap float64, points ...float64) *Tensor {
	for i, v := range x.F64 {
		for _, p := range points {
			if math.Abs(v-p) < gap {
				if v < p {
					v = p - gap
				} else {
					v = p + gap
				}
			}
		}
		x.F64[i] = v
	}
	return x
}

func TestGradUnary(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := func() *Tensor { return rand64(rng, -4, 4, 3, 5) }
	pos := func() *Tensor { return rand64(rng, 0.2, 4, 3, 5) }
	for _, tc := range []struct {
		op    string
		opset int
		x     *Tensor
		attrs []onnx.Attribute
	}{
		{"Sqrt", 13, pos(), nil},
		{"Erf", 13, x(), nil},
		{"Tanh", 13, x(), nil},
		{"Exp", 13, x(), nil},
		{"Log", 13, pos(), nil},
		{"Sigmoid", 13, x(), nil},
		{"Reciprocal", 13, pos(), nil},
		{"Neg", 13, x(), nil},
		{"Relu", 13, away(x(), 0.01, 0), nil},
		{"Abs", 13, away(x(), 0.01, 0), nil},
		{"HardSwish", 14, away(x(), 0.01, -3, 3), nil},
		{"LeakyRelu", 13, away(x(), 0.01, 0), []onnx.Attribute{onnx.FloatAttr("alpha", 0.1)}},
		{"HardSigmoid", 13, away(x(), 0.01, -2.5, 2.5), []onnx.Attribute{onnx.FloatAttr("alpha", 0.2)}},
		{"Gelu", 20, x(), nil},
		{"Gelu", 20, x(), []onnx.Attribute{onnx.StringAttr("approximate", "tanh")}},
	} {
		gradCheck(t, tc.op, tc.opset, node(tc.op, in(1), y, tc.attrs...), []int{0}, 1e-6, 1e-6, tc.x)
	}
	gradCheck(t, "Clip", 13, node("Clip", in(3), y), []int{0}, 1e-6, 1e-6,
		away(x(), 0.01, -1, 2), f64(scalar, -1), f64(scalar, 2))
	gradCheck(t, "Clip-6", 6, node("Clip", in(1), y, onnx.FloatAttr("min", 0), onnx.FloatAttr("max", 6)), []int{0}, 1e-6, 1e-6,
		away(x(), 0.01, 0, 6))
}

func TestGradBinary(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		op   string
		a, b []int
	}{
		{"Add", s(2, 3, 4), s(3, 1)},
		{"Add", s(4), s(2, 3, 4)},
		{"Sub", s(2, 3, 4), s(2, 3, 4)},
		{"Sub", s(4), s(2, 3, 4)},
		{"Mul", s(2, 1, 4), s(3, 1)},
		{"Mul", s(2, 3), scalar},
		{"Div", s(2, 3), s(3)},
		{"Div", s(1, 3), s(2, 1)},
	} {
		a := rand64(rng, -2, 2, tc.a...)
		b := away(rand64(rng, -2, 2, tc.b...), 0.5, 0)
		gradCheck(t, tc.op, 13, node(tc.op, in(2), y), []int{0, 1}, 1e-6, 1e-6, a, b)
	}
	gradCheck(t, "Pow", 13, node("Pow", in(2), y), []int{0, 1}, 1e-6, 1e-6,
		rand64(rng, 0.5, 2, 2, 3), rand64(rng, -1, 3, 3))
	gradCheck(t, "Pow2", 13, node("Pow", in(2), y), []int{0}, 1e-6, 1e-6,
		rand64(rng, -2, 2, 2, 3), f64(scalar, 2))
	gradCheck(t, "Where", 13, node("Where", in(3), y), []int{1, 2}, 1e-6, 1e-6,
		bools(s(2, 3), 1, 0, 0, 1, 1, 0), rand64(rng, -1, 1, 2, 3), rand64(rng, -1, 1, 3))
}

func TestGradMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sh := range [][2][]int{
		{s(2, 3, 4), s(4, 5)},
		{s(2, 1, 3, 4), s(3, 4, 2)},
		{s(2, 3, 4), s(2, 4, 5)},
		{s(4), s(4, 5)},
		{s(3, 4), s(4)},
	} {
		gradCheck(t, "MatMul", 13, node("MatMul", in(2), y), []int{0, 1}, 0.5, 2e-3,
			randF32(rng, sh[0]...), randF32(rng, sh[1]...))
	}
	for _, ta := range []int64{0, 1} {
		for _, tb := range []int64{0, 1} {
			a, b := s(3, 4), s(4, 5)
			if ta == 1 {
				a = s(4, 3)
			}
			if tb == 1 {
				b = s(5, 4)
			}
			for _, c := range [][]int{s(5), s(3, 5), scalar} {
				gradCheck(t, "Gemm", 13, node("Gemm", in(3), y, onnx.IntAttr("transA", ta), onnx.IntAttr("transB", tb),
					onnx.FloatAttr("alpha", 0.5), onnx.FloatAttr("beta", 2)), []int{0, 1, 2}, 0.5, 2e-3,
					randF32(rng, a...), randF32(rng, b...), randF32(rng, c...))
			}
		}
	}
}

func TestGradConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	ints := func(v ...int64) []int64 { return v }
	for _, tc := range []struct {
		name  string
		op    string
		x, w  []int
		attrs []onnx.Attribute
	}{
		{"conv", "Conv", s(2, 4, 7, 6), s(6, 2, 3, 3), []onnx.Attribute{onnx.IntAttr("group", 2), onnx.IntsAttr("strides", ints(2, 1)...),
			onnx.IntsAttr("pads", ints(1, 0, 1, 2)...), onnx.IntsAttr("dilations", ints(1, 2)...)}},
		{"depthwise", "Conv", s(3, 4, 5, 5), s(4, 1, 3, 3), []onnx.Attribute{onnx.IntAttr("group", 4), onnx.IntsAttr("pads", ints(1, 1, 1, 1)...)}},
		{"conv1d", "Conv", s(2, 3, 9), s(4, 3, 2), []onnx.Attribute{onnx.IntsAttr("strides", ints(2)...)}},
		{"transposed", "ConvTranspose", s(2, 4, 3, 3), s(4, 3, 3, 3), []onnx.Attribute{onnx.IntsAttr("strides", ints(2, 2)...),
			onnx.IntsAttr("pads", ints(1, 1, 1, 1)...), onnx.IntsAttr("output_padding", ints(1, 1)...)}},
	} {
		out := tc.w[0]
		if tc.op == "ConvTranspose" {
			out = tc.w[1]
		}
		gradCheck(t, tc.name, 13, node(tc.op, in(3), y, tc.attrs...), []int{0, 1, 2}, 0.5, 2e-3,
			randF32(rng, tc.x...), randF32(rng, tc.w...), randF32(rng, out))
		// Without the input's gradient (a first layer): internal/nn skips it.
		gradCheck(t, tc.name+"-weights", 13, node(tc.op, in(3), y, tc.attrs...), []int{1, 2}, 0.5, 2e-3,
			randF32(rng, tc.x...), randF32(rng, tc.w...), randF32(rng, out))
	}
}

// distinct returns a FLOAT tensor whose elements are a random
// permutation of 0, 0.25, 0.5, ...: maxima stay maxima under a step of
// 0.1.
func distinct(rng *rand.Rand, shape ...int) *Tensor {
	n := prod(shape)
	v := make([]float32, n)
	for i, p := range rng.Perm(n) {
		v[i] = float32(p) * 0.25
	}
	return f32(shape, v...)
}

func TestGradPoolNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	ints := func(v ...int64) []int64 { return v }
	gradCheck(t, "MaxPool", 13, node("MaxPool", in(1), y, onnx.IntsAttr("kernel_shape", ints(3, 2)...), onnx.IntsAttr("strides", ints(2, 2)...),
		onnx.IntsAttr("pads", ints(1, 0, 1, 1)...)), []int{0}, 0.1, 1e-4, distinct(rng, 2, 3, 7, 6))
	gradCheck(t, "MaxPool-indices", 13, node("MaxPool", in(1), []string{"y", "no_indices"}, onnx.IntsAttr("kernel_shape", ints(2, 3)...),
		onnx.IntsAttr("pads", ints(1, 1, 0, 1)...), onnx.IntsAttr("dilations", ints(1, 2)...)), []int{0}, 0.1, 1e-4, distinct(rng, 2, 3, 6, 7))
	gradCheck(t, "AveragePool", 13, node("AveragePool", in(1), y, onnx.IntsAttr("kernel_shape", ints(3, 3)...), onnx.IntsAttr("strides", ints(2, 2)...),
		onnx.IntsAttr("pads", ints(1, 1, 1, 1)...), onnx.IntAttr("count_include_pad", 1)), []int{0}, 0.5, 2e-3, randF32(rng, 2, 3, 6, 5))
	gradCheck(t, "AveragePool-exclude", 13, node("AveragePool", in(1), y, onnx.IntsAttr("kernel_shape", ints(2, 2)...),
		onnx.IntsAttr("pads", ints(1, 1, 0, 0)...)), []int{0}, 0.5, 2e-3, randF32(rng, 2, 3, 4, 5))
	gradCheck(t, "GlobalAveragePool", 13, node("GlobalAveragePool", in(1), y), []int{0}, 0.5, 2e-3, randF32(rng, 2, 3, 4, 5))
	gradCheck(t, "GlobalMaxPool", 13, node("GlobalMaxPool", in(1), y), []int{0}, 0.1, 1e-4, distinct(rng, 2, 3, 4, 5))
	scale, bias := randF32(rng, 3), randF32(rng, 3)
	mean, variance := randF32(rng, 3), f32(s(3), 0.5, 1.5, 2.5)
	gradCheck(t, "BatchNormalization", 15, node("BatchNormalization", in(5), y), []int{0, 1, 2}, 0.5, 2e-3,
		randF32(rng, 2, 3, 4, 4), scale, bias, mean, variance)
}

func TestGradReduce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	x := func(shape ...int) *Tensor { return rand64(rng, -2, 2, shape...) }
	ints := func(v ...int64) []int64 { return v }
	gradCheck(t, "Softmax", 13, node("Softmax", in(1), y), []int{0}, 1e-6, 1e-6, x(2, 3, 4))
	gradCheck(t, "Softmax-axis1", 13, node("Softmax", in(1), y, onnx.IntAttr("axis", 1)), []int{0}, 1e-6, 1e-6, x(2, 3, 4))
	gradCheck(t, "Softmax-11", 11, node("Softmax", in(1), y, onnx.IntAttr("axis", 1)), []int{0}, 1e-6, 1e-6, x(2, 3, 4))
	gradCheck(t, "LayerNormalization", 17, node("LayerNormalization", in(3), y), []int{0, 1, 2}, 1e-6, 1e-6, x(2, 3, 4), x(4), x(4))
	gradCheck(t, "LayerNormalization-axis1", 17, node("LayerNormalization", in(3), y, onnx.IntAttr("axis", 1), onnx.FloatAttr("epsilon", 0.1)),
		[]int{0, 1, 2}, 1e-6, 1e-6, x(2, 3, 4), x(3, 4), x(1, 4))
	gradCheck(t, "LayerNormalization-outputs", 17, node("LayerNormalization", in(2), []string{"y", "no_mean", "no_inv"}), []int{0, 1}, 1e-6, 1e-6, x(3, 5), x(5))
	gradCheck(t, "ReduceMean", 13, node("ReduceMean", in(1), y, onnx.IntsAttr("axes", ints(1)...), onnx.IntAttr("keepdims", 0)), []int{0}, 1e-6, 1e-6, x(2, 3, 4))
	gradCheck(t, "ReduceMean-all", 13, node("ReduceMean", in(1), y), []int{0}, 1e-6, 1e-6, x(2, 3, 4))
	gradCheck(t, "ReduceMean-18", 18, node("ReduceMean", in(2), y), []int{0}, 1e-6, 1e-6, x(2, 3, 4), i64(s(2), 0, 2))
	gradCheck(t, "ReduceSum", 13, node("ReduceSum", in(2), y, onnx.IntAttr("keepdims", 0)), []int{0}, 1e-6, 1e-6, x(2, 3, 4), i64(s(1), -1))
}

func TestGradMovement(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	x := func(shape ...int) *Tensor { return rand64(rng, -2, 2, shape...) }
	ints := func(v ...int64) []int64 { return v }
	for _, tc := range []struct {
		name   string
		n      onnx.Node
		opset  int
		check  []int
		inputs []*Tensor
	}{
		{"Reshape", node("Reshape", in(2), y), 13, []int{0}, []*Tensor{x(2, 3, 4), i64(s(2), 4, -1)}},
		{"Flatten", node("Flatten", in(1), y, onnx.IntAttr("axis", 2)), 13, []int{0}, []*Tensor{x(2, 3, 4)}},
		{"Squeeze", node("Squeeze", in(2), y), 13, []int{0}, []*Tensor{x(2, 1, 4), i64(s(1), 1)}},
		{"Unsqueeze", node("Unsqueeze", in(2), y), 13, []int{0}, []*Tensor{x(2, 4), i64(s(2), 0, 3)}},
		{"Identity", node("Identity", in(1), y), 13, []int{0}, []*Tensor{x(2, 4)}},
		{"Dropout", node("Dropout", in(1), []string{"y", "mask"}), 13, []int{0}, []*Tensor{x(2, 4)}},
		{"Transpose", node("Transpose", in(1), y, onnx.IntsAttr("perm", ints(2, 0, 1)...)), 13, []int{0}, []*Tensor{x(2, 3, 4)}},
		{"Concat", node("Concat", in(3), y, onnx.IntAttr("axis", 1)), 13, []int{0, 1, 2}, []*Tensor{x(2, 1, 3), x(2, 2, 3), x(2, 3, 3)}},
		{"Split", node("Split", in(2), []string{"p", "q"}, onnx.IntAttr("axis", 2)), 13, []int{0}, []*Tensor{x(2, 3, 5), i64(s(2), 2, 3)}},
		{"Slice", node("Slice", in(5), y), 13, []int{0}, []*Tensor{x(3, 4, 5), i64(s(2), -1, 1), i64(s(2), 0, 5), i64(s(2), 0, 2), i64(s(2), -2, 2)}},
		{"Gather", node("Gather", in(2), y, onnx.IntAttr("axis", 1)), 13, []int{0}, []*Tensor{x(2, 4, 3), i64(s(2, 2), 1, -1, 1, 0)}},
		{"Expand", node("Expand", in(2), y), 13, []int{0}, []*Tensor{x(3, 1), i64(s(3), 2, 3, 4)}},
		{"Pad", node("Pad", in(3), y), 13, []int{0}, []*Tensor{x(2, 3, 4), i64(s(6), 0, 1, 2, 1, 0, 3), f64(scalar, 1.5)}},
		{"Pad-crop", node("Pad", in(2), y), 13, []int{0}, []*Tensor{x(2, 3, 4), i64(s(6), 0, -1, 2, 1, 1, -2)}},
		{"Pad-axes", node("Pad", in(4), y), 18, []int{0}, []*Tensor{x(2, 3, 4), i64(s(2), -1, 2), nil, i64(s(1), -1)}},
		{"Pad-2", node("Pad", in(1), y, onnx.IntsAttr("pads", ints(1, 0, 0, 0, 2, 1)...), onnx.FloatAttr("value", 3)), 2, []int{0}, []*Tensor{x(2, 3, 4)}},
	} {
		gradCheck(t, tc.name, tc.opset, tc.n, tc.check, 1e-6, 1e-6, tc.inputs...)
	}
	// FLOAT to DOUBLE and back (linear: a large step is exact).
	gradCheck(t, "Cast", 13, node("Cast", in(1), y, onnx.IntAttr("to", int64(onnx.Double))), []int{0}, 0.5, 1e-6, randF32(rng, 2, 4))
	gradCheck(t, "Cast-back", 13, node("Cast", in(1), y, onnx.IntAttr("to", int64(onnx.Float))), []int{0}, 0.5, 1e-6, f64(s(3), 0.5, -1.25, 3))
}

// TestGradQDQ pins the straight-through gradient of a QuantizeLinear →
// DequantizeLinear pair, the original's grad_in = grad_out where
// |x| <= amax: for an int8 scale exported from amax (scale =
// float32(amax/127)), elements at ±amax pass and the next float32 beyond
// does not; per channel along axis 0 with the channel's own amax; the
// range of a uint8 quantizer with zero point 0 is [0, amax]; an
// asymmetric one [scale·(qmin - zp), scale·(qmax - zp)].
func TestGradQDQ(t *testing.T) {
	up := func(v float32) float32 { return math.Nextafter32(v, float32(math.Inf(1))) }
	down := func(v float32) float32 { return math.Nextafter32(v, float32(math.Inf(-1))) }
	pair := func(x, scale, zp *Tensor, attrs ...onnx.Attribute) *Tensor {
		t.Helper()
		q := &Node{Name: "q", OpType: "QuantizeLinear", Inputs: in(3), Outputs: []string{"c"}, Attrs: attrs}
		dq := &Node{Name: "dq", OpType: "DequantizeLinear", Inputs: []string{"c", "b", "c2"}, Outputs: y, Attrs: attrs}
		qop, qd := gradOp(t, 13, q, []*Tensor{nil, scale, zp})
		dqop, dqd := gradOp(t, 13, dq, []*Tensor{nil, scale, zp})
		ctx := newCtx(nil, 1)
		codes, err := qop.Run(ctx, []*Tensor{x, scale, zp})
		if err != nil {
			t.Fatal(err)
		}
		yv, err := dqop.Run(ctx, []*Tensor{codes[0], scale, zp})
		if err != nil {
			t.Fatal(err)
		}
		dy := &Tensor{DType: onnx.Float, Shape: x.Shape, F32: make([]float32, x.Len())}
		for i := range dy.F32 {
			dy.F32[i] = float32(i + 1)
		}
		dc, err := dqd.Backward(ctx, []*Tensor{codes[0], scale, zp}, yv, []*Tensor{dy}, []bool{true, false, false})
		if err != nil {
			t.Fatal(err)
		}
		dx, err := qd.Backward(ctx, []*Tensor{x, scale, zp}, codes, []*Tensor{dc[0]}, []bool{true, false, false})
		if err != nil {
			t.Fatal(err)
		}
		// The training graph's fused pair: the same values and gradient.
		fused := &fakeQuantOp{q: qop.(*qdqOp), dq: dqop.(*qdqOp)}
		fy, err := fused.Run(ctx, []*Tensor{x, scale, zp})
		if err != nil {
			t.Fatal(err)
		}
		check(t, "fused pair's values", fy[0], yv[0])
		fdx, err := fused.Backward(ctx, []*Tensor{x, scale, zp}, fy, []*Tensor{dy}, []bool{true, false, false})
		if err != nil {
			t.Fatal(err)
		}
		check(t, "fused pair's gradient", fdx[0], dx[0])
		return dx[0]
	}
	for _, amax := range []float32{1, 0.7, 3.3e-3, 12.345} {
		scale := amax / 127
		x := f32(s(6), -up(amax), -amax, 0, down(amax), amax, up(amax))
		check(t, "int8 per tensor", pair(x, f32(scalar, scale), i8(scalar, 0)), f32(s(6), 0, 2, 3, 4, 5, 0))
		check(t, "uint8 per tensor", pair(f32(s(4), -0.0001, 0, amax, up(amax)), f32(scalar, amax/255), u8(scalar, 0)), f32(s(4), 0, 2, 3, 0))
	}
	x := f32(s(2, 3), -1, 1, up(1), -2, 2, up(2))
	check(t, "per channel", pair(x, f32(s(2), 1.0/127, 2.0/127), i8(s(2), 0, 0), onnx.IntAttr("axis", 0)), f32(s(2, 3), 1, 2, 0, 4, 5, 0))
	// Asymmetric: scale 0.5, zero point 10, codes [0, 255]: [-5, 122.5].
	check(t, "asymmetric", pair(f32(s(4), -5.25, -5, 122.5, 122.75), f32(scalar, 0.5), u8(scalar, 10)), f32(s(4), 0, 2, 3, 0))
	for _, amax := range []float32{1, 0.7, 3.3e-3, 12.345, 448} {
		if a := amaxOf(amax/127, 127); a < amax || a/127 != amax/127 || up(a)/127 == amax/127 {
			t.Errorf("amaxOf(%v/127) = %v", amax, a)
		}
	}
}

// TestReluGradSpecials: Relu's gradient passes dy where x > 0 (+Inf and
// the smallest denormal included) and nothing at ±0, below 0 or for NaN,
// as layers.ReLU's backward does.
func TestReluGradSpecials(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	x := f32(s(9), 0, float32(math.Copysign(0, -1)), 1, -1, inf, -inf, nan, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32)
	dy := f32(s(9), 1, 2, 3, 4, 5, 6, 7, 8, 9)
	node := &Node{Name: "r", OpType: "Relu", Inputs: in(1), Outputs: y}
	_, d := gradOp(t, 13, node, []*Tensor{nil})
	dx, err := d.Backward(newCtx(nil, 1), []*Tensor{x}, []*Tensor{x}, []*Tensor{dy}, []bool{true})
	if err != nil {
		t.Fatal(err)
	}
	check(t, "relu gradient", dx[0], f32(s(9), 0, 0, 3, 0, 5, 0, 0, 8, 0))
}

// TestPadGradModes: only a constant Pad has a gradient here; the other
// modes say so.
func TestPadGradModes(t *testing.T) {
	x := f32(s(2, 3), 1, 2, 3, 4, 5, 6)
	for _, mode := range []string{"reflect", "edge"} {
		n := &Node{Name: "p", OpType: "Pad", Inputs: in(2), Outputs: y, Attrs: []onnx.Attribute{onnx.StringAttr("mode", mode)}}
		op, d := gradOp(t, 13, n, []*Tensor{nil, nil})
		pads := i64(s(4), 0, 1, 0, 1)
		out, err := op.Run(newCtx(nil, 1), []*Tensor{x, pads})
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.Backward(newCtx(nil, 1), []*Tensor{x, pads}, out, out, []bool{true, false})
		if want := "a Pad in mode " + mode + " has no gradient"; err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", mode, err, want)
		}
	}
}
