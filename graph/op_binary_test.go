package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// refBroadcast computes f over a and b broadcast with NumPy's rules, the
// obvious way: one index computation per element.
func refBroadcast(a, b []int, f func(i, j int) float64) ([]int, []float64) {
	out, err := tensor.BroadcastShapes(a, b)
	if err != nil {
		panic(err)
	}
	sa, sb := tensor.BroadcastStrides(a, out), tensor.BroadcastStrides(b, out)
	n := prod(out)
	res := make([]float64, n)
	idx := make([]int, len(out))
	for k := range n {
		r := k
		for d := len(out) - 1; d >= 0; d-- {
			idx[d] = r % out[d]
			r /= out[d]
		}
		i, j := 0, 0
		for d := range out {
			i += idx[d] * sa[d]
			j += idx[d] * sb[d]
		}
		res[k] = f(i, j)
	}
	return out, res
}

// TestBinaryBroadcast checks every binary op on FLOAT against the
// reference over shapes that exercise each path of the broadcast plan:
// same shape, scalars on either side, rows, columns, a channel bias,
// outer products, rank differences, size-1 and empty dimensions, and a
// large case split across goroutines.
func TestBinaryBroadcast(t *testing.T) {
	shapes := [][2][]int{
		{s(2, 3), s(2, 3)},
		{s(2, 3), scalar},
		{scalar, s(2, 3)},
		{s(1), s(4)},
		{s(2, 3, 4), s(4)},
		{s(2, 3, 4), s(3, 1)},
		{s(2, 3, 4, 5), s(1, 3, 1, 1)},
		{s(3, 1), s(1, 4)},
		{s(1, 4), s(3, 1)},
		{s(2, 1, 3), s(1, 4, 1)},
		{s(1, 1, 1), s(1)},
		{s(0, 3), s(3)},
		{s(2, 0), s(1, 1)},
		{s(5, 1, 2), s(5, 3, 2)},
		{s(130, 1000), s(1000)},
		{s(2, 65536), s(2, 1)},
		{s(120001), s(120001)},
		{scalar, s(70001)},
	}
	type op struct {
		name string
		f    func(x, y float32) float64
		bool bool
	}
	ops := []op{
		{"Add", func(x, y float32) float64 { return float64(x + y) }, false},
		{"Sub", func(x, y float32) float64 { return float64(x - y) }, false},
		{"Mul", func(x, y float32) float64 { return float64(x * y) }, false},
		{"Div", func(x, y float32) float64 { return float64(x / y) }, false},
		{"Min", func(x, y float32) float64 { return float64(min(x, y)) }, false},
		{"Max", func(x, y float32) float64 { return float64(max(x, y)) }, false},
		{"Pow", func(x, y float32) float64 { return float64(float32(math.Pow(float64(x), float64(y)))) }, false},
		{"Equal", func(x, y float32) float64 { return float64(b2u(x == y)) }, true},
		{"Less", func(x, y float32) float64 { return float64(b2u(x < y)) }, true},
		{"Greater", func(x, y float32) float64 { return float64(b2u(x > y)) }, true},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, sh := range shapes {
		a, b := randF32(rng, sh[0]...), randF32(rng, sh[1]...)
		// Some equal elements for the comparisons.
		for i := range min(len(a.F32), len(b.F32)) / 3 {
			a.F32[i] = b.F32[i]
		}
		for _, o := range ops {
			t.Run(fmt.Sprintf("%s%v%v", o.name, sh[0], sh[1]), func(t *testing.T) {
				out := runNode(t, 13, node(o.name, in(2), y), a, b)[0]
				shape, want := refBroadcast(a.Shape, b.Shape, func(i, j int) float64 { return o.f(a.F32[i], b.F32[j]) })
				w := &Tensor{DType: onnx.Float, Shape: shape, F32: make([]float32, len(want))}
				if o.bool {
					w = &Tensor{DType: onnx.Bool, Shape: shape, U8: make([]uint8, len(want))}
				}
				for i, v := range want {
					if o.bool {
						w.U8[i] = uint8(v)
					} else {
						w.F32[i] = float32(v)
					}
				}
				check(t, o.name, out, w)
			})
		}
	}
}

func TestArithmeticExact(t *testing.T) {
	// Integer division truncates toward zero (C, not Python).
	check(t, "Div int64", runNode(t, 14, node("Div", in(2), y), i64(s(4), -7, 7, -7, 7), i64(s(4), 2, 2, -2, -2))[0], i64(s(4), -3, 3, 3, -3))
	check(t, "Div int32 by scalar", runNode(t, 14, node("Div", in(2), y), i32(s(3), -9, 9, 1), i32(scalar, 4))[0], i32(s(3), -2, 2, 0))
	check(t, "Div int8 min/-1 wraps", runNode(t, 14, node("Div", in(2), y), i8(s(1), -128), i8(s(1), -1))[0], i8(s(1), -128))
	// uint8 wraps.
	check(t, "Add uint8", runNode(t, 14, node("Add", in(2), y), u8(s(2), 250, 1), u8(s(2), 10, 2))[0], u8(s(2), 4, 3))
	check(t, "Sub uint8", runNode(t, 14, node("Sub", in(2), y), u8(s(1), 1), u8(s(1), 2))[0], u8(s(1), 255))
	check(t, "Mul int64", runNode(t, 14, node("Mul", in(2), y), i64(s(2, 2), 1, 2, 3, 4), i64(s(2, 1), -1, 10))[0], i64(s(2, 2), -1, -2, 30, 40))
	a, b := 0.1, 0.2
	check(t, "Add double", runNode(t, 14, node("Add", in(2), y), f64(s(2), a, 1e300), f64(scalar, b))[0], f64(s(2), a+b, 1e300))
	nan := float32(math.NaN())
	// Min and Max propagate NaN from either side; more than two inputs broadcast together.
	check(t, "Max NaN", runNode(t, 13, node("Max", in(2), y), f32(s(3), nan, 1, 2), f32(s(3), 0, nan, 1))[0], f32(s(3), nan, nan, 2))
	check(t, "Min NaN", runNode(t, 13, node("Min", in(2), y), f32(s(3), nan, 1, 2), f32(s(3), 0, nan, 1))[0], f32(s(3), nan, nan, 1))
	check(t, "Max 3", runNode(t, 13, node("Max", in(3), y), f32(s(2), 1, 5), f32(s(2, 1), 3, 2), f32(scalar, 4))[0], f32(s(2, 2), 4, 5, 4, 5))
	check(t, "Min 1", runNode(t, 13, node("Min", in(1), y), i64(s(2), 3, -3))[0], i64(s(2), 3, -3))
	check(t, "Min int8", runNode(t, 13, node("Min", in(2), y), i8(s(2), 3, -3), i8(s(2), -100, 100))[0], i8(s(2), -100, -3))
	check(t, "Equal bool", runNode(t, 13, node("Equal", in(2), y), bools(s(4), 0, 0, 1, 1), bools(s(4), 0, 1, 0, 1))[0], bools(s(4), 1, 0, 0, 1))
	check(t, "Greater int64", runNode(t, 13, node("Greater", in(2), y), i64(s(3), 1, 2, 3), i64(scalar, 2))[0], bools(s(3), 0, 0, 1))
	check(t, "Less int32", runNode(t, 13, node("Less", in(2), y), i32(s(3), 1, 2, 3), i32(scalar, 2))[0], bools(s(3), 1, 0, 0))
	// Add-6 with broadcast=1, axis=1: B [3] aligns with A's dimension 1.
	check(t, "Add-6 axis", runNode(t, 6, node("Add", in(2), y, onnx.IntAttr("broadcast", 1), onnx.IntAttr("axis", 1)),
		f32(s(2, 3, 2), 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1), f32(s(3), 10, 20, 30))[0],
		f32(s(2, 3, 2), 10, 10, 20, 20, 30, 30, 11, 11, 21, 21, 31, 31))
}

func TestPow(t *testing.T) {
	p := node("Pow", in(2), y)
	// Squares are exact products; other powers are math.Pow rounded once.
	check(t, "float^2", runNode(t, 15, p, f32(s(3), 1.1, -3, 0.5), f32(scalar, 2))[0], f32(s(3), 1.1*1.1, 9, 0.25))
	check(t, "float^float", runNode(t, 15, p, f32(s(3), 4, 2, -8), f32(s(3), 0.5, -1, 1.0/3))[0],
		f32(s(3), 2, 0.5, float32(math.NaN())))
	check(t, "float^int64", runNode(t, 15, p, f32(s(2), 2, 3), i64(s(2), 3, -2))[0], f32(s(2), 8, float32(1.0/9)))
	check(t, "double^int32", runNode(t, 15, p, f64(s(1), 10), i32(scalar, 3))[0], f64(s(1), 1000))
	// Integer powers of integers are exact, wrapping; negative powers
	// truncate 1/a^n.
	check(t, "int64^int64", runNode(t, 15, p, i64(s(6), 3, -2, 2, 1, -1, 7), i64(s(6), 4, 3, -1, -3, -3, 0))[0], i64(s(6), 81, -8, 0, 1, -1, 1))
	wrapped := int64(1)
	for range 41 {
		wrapped *= 3
	}
	check(t, "int64 wraps", runNode(t, 15, p, i64(s(1), 3), i64(s(1), 41))[0], i64(s(1), wrapped))
	// An integer base with a float exponent truncates the result.
	check(t, "int32^float", runNode(t, 15, p, i32(s(3), 2, 10, -8), f32(s(3), 0.5, -1, 2))[0], i32(s(3), 1, 0, 64))
	wantErr(t, 15, p, "0 raised to the negative power -1", i64(s(2), 0, 2), i64(scalar, -1))
	wantErr(t, 15, p, "element type UINT8 is not supported", u8(s(1), 2), u8(s(1), 2))
}

func TestWhere(t *testing.T) {
	w := node("Where", in(3), y)
	check(t, "float", runNode(t, 16, w, bools(s(2, 2), 1, 0, 0, 1), f32(s(2, 2), 1, 2, 3, 4), f32(s(2, 2), -1, -2, -3, -4))[0],
		f32(s(2, 2), 1, -2, -3, 4))
	// Broadcast: a column condition, a row of x, a scalar y.
	check(t, "broadcast", runNode(t, 16, w, bools(s(2, 1), 1, 0), i64(s(3), 1, 2, 3), i64(scalar, 9))[0],
		i64(s(2, 3), 1, 2, 3, 9, 9, 9))
	check(t, "int8 of bytes", runNode(t, 16, w, bools(s(3), 0, 1, 0), i8(s(3), 1, 2, 3), i8(s(1), -1))[0], i8(s(3), -1, 2, -1))
	check(t, "double", runNode(t, 16, w, bools(scalar, 1), f64(s(2), 1.5, 2.5), f64(s(2), 0, 0))[0], f64(s(2), 1.5, 2.5))
	// Long rows in segments, on several goroutines.
	rng := rand.New(rand.NewPCG(5, 5))
	c, x := bools(s(2, 70001)), randF32(rng, 70001)
	want := f32(s(2, 70001))
	for i := range 2 * 70001 {
		c.U8 = append(c.U8, uint8(rng.IntN(2)))
		if c.U8[i] != 0 {
			want.F32 = append(want.F32, x.F32[i%70001])
		} else {
			want.F32 = append(want.F32, -1)
		}
	}
	check(t, "long", runNode(t, 16, w, c, x, f32(scalar, -1))[0], want)
	wantErr(t, 16, w, "condition is FLOAT", f32(s(1), 1), f32(s(1), 1), f32(s(1), 1))
	wantErr(t, 16, w, "do not broadcast", bools(s(2), 1, 0), f32(s(3), 1, 2, 3), f32(s(1), 0))
}

func TestBinaryErrors(t *testing.T) {
	wantErr(t, 14, node("Add", in(2), y), "shapes [2 3] and [4] do not broadcast", randF32(rand.New(rand.NewPCG(1, 1)), 2, 3), f32(s(4), 1, 2, 3, 4))
	wantErr(t, 14, node("Mul", in(2), y), "inputs have element types FLOAT and INT64", f32(s(1), 1), i64(s(1), 1))
	wantErr(t, 14, node("Div", in(2), y), "integer division by zero (element 1 of the divisor)", i64(s(2), 1, 2), i64(s(2), 1, 0))
	wantErr(t, 14, node("Add", in(2), y), "element type BOOL is not supported", bools(s(1), 1), bools(s(1), 1))
	wantErr(t, 14, node("Add", in(3), y), "takes 2 inputs, the node has 3", f32(s(1), 1), f32(s(1), 1), f32(s(1), 1))
	wantErr(t, 13, node("Max", in(3), y), "do not broadcast", f32(s(2), 1, 2), f32(s(2), 1, 2), f32(s(3), 1, 2, 3))
	wantErr(t, 6, node("Add", in(2), y, onnx.IntAttr("broadcast", 1), onnx.IntAttr("axis", 1)), "input B of rank 2 does not fit input A of rank 2 from axis 1",
		f32(s(2, 2), 1, 2, 3, 4), f32(s(2, 2), 1, 2, 3, 4))
}

// TestBinaryInfer checks inferred shapes with symbolic dimensions.
func TestBinaryInfer(t *testing.T) {
	for _, c := range []struct {
		a, b []onnx.Dimension
		want string
	}{
		{[]onnx.Dimension{onnx.DimParam("N"), onnx.DimValue(3)}, onnx.Dims(3), "[N 3]"},
		{[]onnx.Dimension{onnx.DimParam("N"), onnx.DimValue(1)}, []onnx.Dimension{onnx.DimValue(1), onnx.DimParam("M")}, "[N M]"},
		{[]onnx.Dimension{onnx.DimParam("N")}, []onnx.Dimension{onnx.DimParam("M")}, "[?]"},
		{[]onnx.Dimension{onnx.DimParam("N")}, []onnx.Dimension{onnx.DimParam("N")}, "[N]"},
		{[]onnx.Dimension{onnx.DimParam("N")}, onnx.Dims(5), "[5]"},
		{onnx.Dims(2, 1, 4), []onnx.Dimension{onnx.DimParam("S"), onnx.DimValue(1)}, "[2 S 4]"},
	} {
		m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 14}}, Graph: &onnx.Graph{
			Input:  []onnx.ValueInfo{onnx.TensorValueInfo("a", onnx.Float, c.a...), onnx.TensorValueInfo("b", onnx.Float, c.b...)},
			Output: []onnx.ValueInfo{{Name: "y"}},
			Node:   []onnx.Node{node("Add", in(2), y)},
		}}
		if got := shapeOf(importModel(t, m), "y"); got != c.want {
			t.Errorf("%v + %v: inferred %s, want %s", c.a, c.b, got, c.want)
		}
	}
}
