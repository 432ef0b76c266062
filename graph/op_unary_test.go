package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
	"github.com/tensorquant/tensorquant/internal/vecmath"
	"github.com/tensorquant/tensorquant/onnx"
)

func TestUnaryValues(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	negNaN := math.Float32frombits(math.Float32bits(nan) ^ 1<<31)
	negZero := float32(math.Copysign(0, -1))
	x := f32(s(7), -2, -0.5, negZero, 0, 0.5, 3, nan)
	// hs is alpha·v + beta in float32, clipped to [0, 1].
	hs := func(alpha, beta float32, swish bool) *Tensor {
		out := f32(s(7))
		for _, v := range x.F32 {
			h := max(0, min(1, float32(alpha*v)+beta))
			if swish {
				h *= v
			}
			out.F32 = append(out.F32, h)
		}
		return out
	}
	for _, c := range []struct {
		op    string
		opset int64
		attrs []onnx.Attribute
		want  *Tensor
	}{
		// NaN passes through Relu, -0 becomes 0 (PyTorch's).
		{"Relu", 14, nil, f32(s(7), 0, 0, 0, 0, 0.5, 3, nan)},
		{"LeakyRelu", 16, nil, f32(s(7), -0.02, -0.005, negZero, 0, 0.5, 3, nan)},
		{"LeakyRelu", 16, []onnx.Attribute{onnx.FloatAttr("alpha", 0.5)}, f32(s(7), -1, -0.25, negZero, 0, 0.5, 3, nan)},
		{"Neg", 13, nil, f32(s(7), 2, 0.5, 0, negZero, -0.5, -3, negNaN)},
		{"Abs", 13, nil, f32(s(7), 2, 0.5, 0, 0, 0.5, 3, nan)},
		{"Reciprocal", 13, nil, f32(s(7), -0.5, -2, -inf, inf, 2, float32(1.0/3), nan)},
		{"HardSigmoid", 6, nil, hs(0.2, 0.5, false)},
		{"HardSigmoid", 6, []onnx.Attribute{onnx.FloatAttr("alpha", 0.5), onnx.FloatAttr("beta", 0)}, f32(s(7), 0, 0, 0, 0, 0.25, 1, nan)},
		// x·clip(x/6 + 1/2, 0, 1), 1/6 rounded to float32: -0 stays -0.
		{"HardSwish", 14, nil, hs(1.0/6, 0.5, true)},
	} {
		got := runNode(t, c.opset, node(c.op, in(1), y, c.attrs...), x)[0]
		check(t, c.op, got, c.want)
	}
	// Float math in float64, rounded once, and internal/vecmath's kernels
	// (TestVecmathAccuracy compares them with the float64 functions).
	ref := map[string]func(float64) float64{"Sqrt": math.Sqrt, "Log": math.Log}
	for op, f := range ref {
		want := f32(s(7))
		for _, v := range x.F32 {
			want.F32 = append(want.F32, float32(f(float64(v))))
		}
		check(t, op, runNode(t, 13, node(op, in(1), y), x)[0], want)
	}
	for op, k := range map[string]func(d, x []float32){"Exp": vecmath.Exp, "Tanh": vecmath.Tanh, "Erf": vecmath.Erf, "Sigmoid": vecmath.Sigmoid} {
		want := f32(s(7), make([]float32, 7)...)
		k(want.F32, x.F32)
		check(t, op, runNode(t, 13, node(op, in(1), y), x)[0], want)
	}
	// Published values: sigmoid(0) = 1/2, erf(1), gelu(1) both ways.
	near(t, "Sigmoid", runNode(t, 13, node("Sigmoid", in(1), y), f32(s(2), 0, 40))[0], []float64{0.5, 1}, s(2), 0)
	near(t, "Erf", runNode(t, 13, node("Erf", in(1), y), f32(s(1), 1))[0], []float64{0.8427007929497149}, s(1), 1e-7)
	near(t, "Gelu", runNode(t, 20, node("Gelu", in(1), y), f32(s(3), 1, -1, 0))[0],
		[]float64{0.8413447460685429, -0.15865525393145707, 0}, s(3), 1e-7)
	near(t, "Gelu tanh", runNode(t, 20, node("Gelu", in(1), y, onnx.StringAttr("approximate", "tanh")), f32(s(3), 1, -1, 0))[0],
		[]float64{0.8411919906082768, -0.15880800939172324, 0}, s(3), 1e-7)
	check(t, "Not", runNode(t, 1, node("Not", in(1), y), bools(s(3), 0, 1, 0))[0], bools(s(3), 1, 0, 1))
	check(t, "Relu int32", runNode(t, 14, node("Relu", in(1), y), i32(s(3), -5, 0, 5))[0], i32(s(3), 0, 0, 5))
	check(t, "Abs int8", runNode(t, 13, node("Abs", in(1), y), i8(s(3), -5, -128, 5))[0], i8(s(3), 5, -128, 5))
	check(t, "Neg int64", runNode(t, 13, node("Neg", in(1), y), i64(s(2), -5, 7))[0], i64(s(2), 5, -7))
	check(t, "Exp double", runNode(t, 13, node("Exp", in(1), y), f64(s(1), 1))[0], f64(s(1), math.E))
	wantErr(t, 13, node("Sqrt", in(1), y), "element type INT64 is not supported", i64(s(1), 4))
	wantErr(t, 1, node("Not", in(1), y), "element type FLOAT is not supported", f32(s(1), 1))
	wantErr(t, 20, node("Gelu", in(1), y, onnx.StringAttr("approximate", "fast")), `approximate "fast" is not one of none, tanh`, f32(s(1), 1))
	wantErr(t, 16, node("LeakyRelu", in(1), y, onnx.IntAttr("alpha", 1)), "attribute alpha is INT, want FLOAT", f32(s(1), 1))
}

// TestUnaryParallel runs a large tensor through several goroutines: the
// same bits as one call of the kernel.
func TestUnaryParallel(t *testing.T) {
	x := randF32(rand.New(rand.NewPCG(3, 4)), 3, 50000)
	want := f32(x.Shape, make([]float32, x.Len())...)
	vecmath.Tanh(want.F32, x.F32)
	check(t, "Tanh", runNode(t, 13, node("Tanh", in(1), y), x)[0], want)
}

func TestClip(t *testing.T) {
	nan := float32(math.NaN())
	x := f32(s(5), -3, -1, 0, 2, nan)
	// Opset 11+: optional scalar inputs.
	check(t, "min max", runNode(t, 13, node("Clip", in(3), y), x, f32(scalar, -1), f32(scalar, 1))[0], f32(s(5), -1, -1, 0, 1, nan))
	check(t, "max only", runNode(t, 13, node("Clip", []string{"a", "", "c"}, y), x, nil, f32(scalar, 0))[0], f32(s(5), -3, -1, 0, 0, nan))
	check(t, "min only", runNode(t, 13, node("Clip", in(2), y), x, f32(scalar, 0))[0], f32(s(5), 0, 0, 0, 2, nan))
	check(t, "none", runNode(t, 13, node("Clip", in(1), y), x)[0], x)
	// min > max gives max everywhere (numpy.clip).
	check(t, "min > max", runNode(t, 13, node("Clip", in(3), y), x, f32(scalar, 2), f32(scalar, 1))[0], f32(s(5), 1, 1, 1, 1, nan))
	check(t, "int8", runNode(t, 13, node("Clip", in(3), y), i8(s(3), -100, 5, 100), i8(scalar, -10), i8(scalar, 10))[0], i8(s(3), -10, 5, 10))
	check(t, "uint8 max", runNode(t, 13, node("Clip", []string{"a", "", "c"}, y), u8(s(2), 0, 200), nil, u8(scalar, 100))[0], u8(s(2), 0, 100))
	check(t, "int64", runNode(t, 13, node("Clip", in(2), y), i64(s(2), -5, 5), i64(s(1), 0))[0], i64(s(2), 0, 5))
	check(t, "double", runNode(t, 13, node("Clip", in(3), y), f64(s(2), -5, 5), f64(scalar, 0), f64(scalar, 1))[0], f64(s(2), 0, 1))
	// Before opset 11: attributes.
	check(t, "opset 6", runNode(t, 6, node("Clip", in(1), y, onnx.FloatAttr("min", -1), onnx.FloatAttr("max", 1)), x)[0], f32(s(5), -1, -1, 0, 1, nan))
	check(t, "opset 6 default", runNode(t, 6, node("Clip", in(1), y, onnx.FloatAttr("min", 0)), x)[0], f32(s(5), 0, 0, 0, 2, nan))
	wantErr(t, 13, node("Clip", in(3), y), "min must be a scalar", x, f32(s(2), 0, 1), f32(scalar, 1))
	wantErr(t, 13, node("Clip", in(3), y), "inputs have element types FLOAT and DOUBLE", x, f64(scalar, 0), f32(scalar, 1))
	wantErr(t, 6, node("Clip", in(1), y, onnx.FloatAttr("min", -1)), "element type INT64 is not supported", i64(s(1), 1))
}

func TestCast(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cast := func(to onnx.DataType) onnx.Node { return node("Cast", in(1), y, onnx.IntAttr("to", int64(to))) }
	x := f32(s(8), 1.9, -1.9, 3e9, -3e9, nan, inf, -inf, 0.5)
	// Float to integer: truncation toward zero, saturation, NaN to 0.
	check(t, "to INT32", runNode(t, 13, cast(onnx.Int32), x)[0],
		i32(s(8), 1, -1, math.MaxInt32, math.MinInt32, 0, math.MaxInt32, math.MinInt32, 0))
	check(t, "to INT64", runNode(t, 13, cast(onnx.Int64), x)[0],
		i64(s(8), 1, -1, 3e9, -3e9, 0, math.MaxInt64, math.MinInt64, 0))
	check(t, "to INT8", runNode(t, 13, cast(onnx.Int8), x)[0], i8(s(8), 1, -1, 127, -128, 0, 127, -128, 0))
	check(t, "to UINT8", runNode(t, 13, cast(onnx.Uint8), x)[0], u8(s(8), 1, 0, 255, 0, 0, 255, 0, 0))
	check(t, "double 2^63 to INT64", runNode(t, 13, cast(onnx.Int64), f64(s(3), 0x1p63, -0x1p63, 0x1p62))[0],
		i64(s(3), math.MaxInt64, math.MinInt64, 1<<62))
	// Anything to BOOL is x != 0, NaN included.
	check(t, "to BOOL", runNode(t, 13, cast(onnx.Bool), x)[0], bools(s(8), 1, 1, 1, 1, 1, 1, 1, 1))
	check(t, "zeros to BOOL", runNode(t, 13, cast(onnx.Bool), f32(s(2), 0, float32(math.Copysign(0, -1))))[0], bools(s(2), 0, 0))
	check(t, "int to BOOL", runNode(t, 13, cast(onnx.Bool), i64(s(3), 0, -7, 1))[0], bools(s(3), 0, 1, 1))
	check(t, "BOOL to FLOAT", runNode(t, 13, cast(onnx.Float), bools(s(2), 1, 0))[0], f32(s(2), 1, 0))
	// Integers to integers keep the low bits.
	check(t, "INT64 to INT8", runNode(t, 13, cast(onnx.Int8), i64(s(3), 200, -129, 5))[0], i8(s(3), -56, 127, 5))
	check(t, "INT8 to UINT8", runNode(t, 13, cast(onnx.Uint8), i8(s(2), -1, 3))[0], u8(s(2), 255, 3))
	// To floats: round to nearest.
	check(t, "DOUBLE to FLOAT", runNode(t, 13, cast(onnx.Float), f64(s(3), 0.1, 1e300, 16777217))[0], f32(s(3), 0.1, inf, 16777216))
	check(t, "INT64 to FLOAT", runNode(t, 13, cast(onnx.Float), i64(s(1), 1<<24+1))[0], f32(s(1), 1<<24))
	check(t, "FLOAT to DOUBLE", runNode(t, 13, cast(onnx.Double), f32(s(1), 0.1))[0], f64(s(1), float64(float32(0.1))))
	check(t, "opset 19 saturate", runNode(t, 19, node("Cast", in(1), y, onnx.IntAttr("to", int64(onnx.Int32)), onnx.IntAttr("saturate", 1)), f32(s(1), 2.5))[0], i32(s(1), 2))
	wantErr(t, 13, cast(onnx.Float16), "cast to FLOAT16 is not supported", x)
	wantErr(t, 13, node("Cast", in(1), y), "attribute to is required", x)
	wantErr(t, 13, node("Cast", in(1), y, onnx.IntAttr("to", 1), onnx.IntAttr("saturate", 1)), "unsupported attribute(s) saturate", x)
}

// hardSigmoid32, the float32 kernel of HardSigmoid and HardSwish, equals
// hardSigmoidK (the scalar definition) bit for bit on every kernel family,
// at every length up to two blocks and a tail, in place too, on values
// that cross both clamps, NaN, infinities and signed zeros.
func TestHardSigmoidVector(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(41, 42))
		specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), -3, 3, 2.5, -2.5}
		for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 63, 64, 65, 511, 512, 513, 1100} {
			x := make([]float32, n)
			for i := range x {
				if i%5 == 0 {
					x[i] = specials[rng.IntN(len(specials))]
				} else {
					x[i] = float32(rng.NormFloat64() * 4)
				}
			}
			for _, p := range [][3]float32{{1.0 / 6, 0.5, 1}, {0.2, 0.5, 0}, {0.5, 0, 0}, {-0.3, float32(math.Copysign(0, -1)), 0}} {
				alpha, beta, swish := p[0], p[1], p[2] == 1
				want := make([]float32, n)
				hardSigmoidK(want, x, alpha, beta, swish)
				got := make([]float32, n)
				hardSigmoid32(got, x, alpha, beta, swish)
				inPlace := append([]float32{}, x...)
				hardSigmoid32(inPlace, inPlace, alpha, beta, swish)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) || math.Float32bits(inPlace[i]) != math.Float32bits(want[i]) {
						t.Fatalf("n %d alpha %v beta %v swish %v: element %d of %v is %v (in place %v), want %v", n, alpha, beta, swish, i, x[i], got[i], inPlace[i], want[i])
					}
				}
			}
		}
	})
}
