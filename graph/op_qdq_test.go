package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/onnx"
)

func TestQuantizeLinearValues(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	x := f32(s(8), 0.5, 1.5, -1.5, 2.5, 300, -300, nan, -inf)
	q := node("QuantizeLinear", in(3), y)
	// Ties to even, saturation, NaN to the lowest code.
	check(t, "int8", runNode(t, 13, q, x, f32(scalar, 1), i8(scalar, 0))[0], i8(s(8), 0, 2, -2, 2, 127, -128, -128, -128))
	// With a zero point the range is shifted before rounding; uint8 is the default type.
	check(t, "uint8", runNode(t, 10, node("QuantizeLinear", in(2), y), x, f32(scalar, 0.5))[0], u8(s(8), 1, 3, 0, 5, 255, 0, 0, 0))
	check(t, "uint8 zp", runNode(t, 13, q, x, f32(s(1), 1), u8(s(1), 128))[0], u8(s(8), 128, 130, 126, 130, 255, 0, 0, 0))

	// Per axis: axis 1 of [2, 3, 2], and axis -1.
	xa := seq(2, 3, 2)
	got := runNode(t, 13, q, xa, f32(s(3), 1, 2, 4), i8(s(3), 0, 1, -1))[0]
	check(t, "per axis", got, i8(s(2, 3, 2), 0, 1, 2, 3, 0, 0, 6, 7, 5, 5, 1, 2))
	got = runNode(t, 13, node("QuantizeLinear", in(3), y, onnx.IntAttr("axis", -1)), xa, f32(s(2), 1, 10), i8(s(2), 0, 0))[0]
	check(t, "per axis -1", got, i8(s(2, 3, 2), 0, 0, 2, 0, 4, 0, 6, 1, 8, 1, 10, 1))

	// Blocks along the last axis with a short last block: [2, 5], block 2.
	xb := f32(s(2, 5), 1, 2, 3, 4, 5, -1, -2, -3, -4, -5)
	sb := f32(s(2, 3), 1, 2, 4, 1, 0.5, 0.25)
	got = runNode(t, 21, node("QuantizeLinear", in(2), y, onnx.IntAttr("block_size", 2), onnx.IntAttr("axis", 1),
		onnx.IntAttr("output_dtype", int64(onnx.Int8))), xb, sb)[0]
	check(t, "blocks, last axis", got, i8(s(2, 5), 1, 2, 2, 2, 1, -1, -2, -6, -8, -20))
	// Blocks along axis 1 of [1, 3, 2] (block 2: scale [1, 2, 2]).
	got = runNode(t, 21, node("QuantizeLinear", in(2), y, onnx.IntAttr("block_size", 2), onnx.IntAttr("output_dtype", int64(onnx.Int8))),
		seq(1, 3, 2), f32(s(1, 2, 2), 1, 2, 0.5, 0.25))[0]
	check(t, "blocks, inner axis", got, i8(s(1, 3, 2), 0, 0, 2, 2, 8, 20))

	// INT4 and UINT4, with a zero point and through output_dtype.
	q21 := node("QuantizeLinear", in(3), y)
	check(t, "int4", runNode(t, 21, q21, x, f32(scalar, 1), &Tensor{DType: onnx.Int4, Shape: scalar, I8: []int8{-1}})[0],
		&Tensor{DType: onnx.Int4, Shape: s(8), I8: []int8{-1, 1, -3, 1, 7, -8, -8, -8}})
	check(t, "uint4", runNode(t, 21, node("QuantizeLinear", in(2), y, onnx.IntAttr("output_dtype", int64(onnx.Uint4))), x, f32(scalar, 1))[0],
		&Tensor{DType: onnx.Uint4, Shape: s(8), U8: []uint8{0, 2, 0, 2, 15, 0, 0, 0}})

	// FP8: the codes of x/scale, saturating or not.
	xf := f32(s(6), 0.1, 500, -500, nan, inf, 1)
	for _, c := range []struct {
		t        onnx.DataType
		f        fakequant.FP8Format
		saturate int64
	}{{onnx.Float8E4M3FN, fakequant.E4M3FN, 1}, {onnx.Float8E4M3FN, fakequant.E4M3FN, 0}, {onnx.Float8E5M2, fakequant.E5M2, 1}, {onnx.Float8E5M2, fakequant.E5M2, 0}} {
		div := make([]float32, len(xf.F32))
		for i, v := range xf.F32 {
			div[i] = v / 0.5
		}
		want := make([]uint8, len(div))
		if err := fakequant.EncodeFP8(want, div, c.f, c.saturate != 0); err != nil {
			t.Fatal(err)
		}
		got := runNode(t, 19, node("QuantizeLinear", in(3), y, onnx.IntAttr("saturate", c.saturate)), xf, f32(scalar, 0.5), &Tensor{DType: c.t, Shape: scalar, U8: []uint8{0}})[0]
		check(t, c.f.String(), got, &Tensor{DType: c.t, Shape: s(6), U8: want})
	}
	got = runNode(t, 19, node("QuantizeLinear", in(3), y, onnx.IntAttr("saturate", 0)), f32(s(2), 448, 1000), f32(scalar, 1),
		&Tensor{DType: onnx.Float8E4M3FN, Shape: scalar, U8: []uint8{0}})[0]
	check(t, "E4M3FN 448 and overflow", got, &Tensor{DType: onnx.Float8E4M3FN, Shape: s(2), U8: []uint8{0x7e, 0x7f}})

	wantErr(t, 13, q, "zero point is FLOAT", x, f32(scalar, 1), f32(scalar, 0))
	wantErr(t, 13, q, "scale shape [2]: want [3]", xa, f32(s(2), 1, 1), i8(s(2), 0, 0))
	wantErr(t, 13, q, "zero point shape [3] differs from the scale's [2]", xa, f32(s(2), 1, 1), i8(s(3), 0, 0, 0))
	wantErr(t, 13, node("QuantizeLinear", in(3), y, onnx.IntAttr("axis", 3)), "axis 3 is out of range", xa, f32(s(3), 1, 1, 1), i8(s(3), 0, 0, 0))
	wantErr(t, 19, q, "an FP8 zero point must be 0", x, f32(scalar, 1), &Tensor{DType: onnx.Float8E4M3FN, Shape: scalar, U8: []uint8{1}})
	wantErr(t, 21, node("QuantizeLinear", in(2), y, onnx.IntAttr("block_size", 2)), "block_size 2 along axis 1", xb, f32(s(2, 2), 1, 1, 1, 1))
	wantErr(t, 13, q, "only FLOAT is supported", f64(s(1), 1), f32(scalar, 1), i8(scalar, 0))
}

func TestDequantizeLinearValues(t *testing.T) {
	dq := node("DequantizeLinear", in(3), y)
	check(t, "int8", runNode(t, 13, dq, i8(s(4), -128, -1, 0, 127), f32(scalar, 0.5), i8(scalar, -1))[0], f32(s(4), -63.5, 0, 0.5, 64))
	check(t, "uint8 no zp", runNode(t, 10, node("DequantizeLinear", in(2), y), u8(s(2), 0, 255), f32(scalar, 2))[0], f32(s(2), 0, 510))
	// INT32 biases per output channel (axis 0), one rounding.
	got := runNode(t, 13, node("DequantizeLinear", in(2), y, onnx.IntAttr("axis", 0)), i32(s(2), 16777217, -3), f32(s(2), 1, 0.1))[0]
	check(t, "int32 per axis", got, f32(s(2), 16777216, float32(-3)*float32(0.1)))
	check(t, "uint4", runNode(t, 21, dq, &Tensor{DType: onnx.Uint4, Shape: s(2), U8: []uint8{0, 15}}, f32(scalar, 0.25),
		&Tensor{DType: onnx.Uint4, Shape: scalar, U8: []uint8{8}})[0], f32(s(2), -2, 1.75))
	check(t, "int4 blocks", runNode(t, 21, node("DequantizeLinear", in(2), y, onnx.IntAttr("block_size", 2), onnx.IntAttr("axis", 0)),
		&Tensor{DType: onnx.Int4, Shape: s(3), I8: []int8{-8, 7, 3}}, f32(s(2), 1, 0.5))[0], f32(s(3), -8, 7, 1.5))
	// FP8: the code's value times the scale.
	check(t, "E4M3FN", runNode(t, 19, node("DequantizeLinear", in(2), y), &Tensor{DType: onnx.Float8E4M3FN, Shape: s(3), U8: []uint8{0x7e, 0x38, 0xff}},
		f32(scalar, 2))[0], f32(s(3), 896, 2, float32(math.NaN())))
	check(t, "E5M2", runNode(t, 19, node("DequantizeLinear", in(2), y), &Tensor{DType: onnx.Float8E5M2, Shape: s(2), U8: []uint8{0x7c, 0x3c}},
		f32(scalar, 3))[0], f32(s(2), float32(math.Inf(1)), 3))

	wantErr(t, 13, dq, "zero point is UINT8, the input INT8", i8(s(1), 1), f32(scalar, 1), u8(scalar, 0))
	wantErr(t, 13, node("DequantizeLinear", in(2), y), "input is FLOAT", f32(s(1), 1), f32(scalar, 1))
	wantErr(t, 19, dq, "an FP8 zero point must be 0", &Tensor{DType: onnx.Float8E5M2, Shape: s(1), U8: []uint8{1}}, f32(scalar, 1),
		&Tensor{DType: onnx.Float8E5M2, Shape: scalar, U8: []uint8{0x80}})
}

// TestQDQMatchesFakeQuant runs QuantizeLinear → DequantizeLinear pairs,
// per tensor and per channel, and compares them with fakequant's
// FakeQuantQDQ kernels (ONNX Runtime's numbers) bit for bit.
func TestQDQMatchesFakeQuant(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	x := randF32(rng, 4, 6, 5)
	for i := range x.F32 {
		if i%7 == 0 {
			x.F32[i] = float32(math.Round(float64(x.F32[i])*8)) / 8 // ties
		}
	}
	pair := func(opset int64, scale, zp *Tensor, attrs ...onnx.Attribute) *Tensor {
		m := nodeModel(t, opset, node("QuantizeLinear", []string{"x", "s", "z"}, []string{"q"}, attrs...), []*Tensor{x, scale, zp}, false)
		m.Graph.Node = append(m.Graph.Node, node("DequantizeLinear", []string{"q", "s", "z"}, []string{"out"}, attrs...))
		m.Graph.Output = []onnx.ValueInfo{{Name: "out"}}
		sess, err := NewSession(importModel(t, m), Options{Threads: 3})
		if err != nil {
			t.Fatal(err)
		}
		out, err := sess.Run(map[string]*Tensor{"x": x, "s": scale, "z": zp})
		if err != nil {
			t.Fatal(err)
		}
		return out["out"]
	}
	want := make([]float32, len(x.F32))
	if err := fakequant.FakeQuantQDQ(want, x.F32, 0.03, 3, -128, 127); err != nil {
		t.Fatal(err)
	}
	check(t, "per tensor", pair(13, f32(scalar, 0.03), i8(scalar, 3)), f32(x.Shape, want...))
	scales, zps := []float32{0.01, 0.02, 0.03, 0.04, 0.05, 0.06}, []int32{0, 10, 20, 30, 40, 250}
	if err := fakequant.FakeQuantQDQPerChannel(want, x.F32, scales, zps, 5, 0, 255); err != nil {
		t.Fatal(err)
	}
	zp := u8(s(6), 0, 10, 20, 30, 40, 250)
	check(t, "per channel", pair(13, f32(s(6), scales...), zp), f32(x.Shape, want...))
}

// TestDequantRunTable: per-tensor DequantizeLinear of int8 and uint8 codes
// by table (runs of dequantTableMin codes and more) gives the bits of
// fakequant.DequantizeLinear for every code, zero point at both ends and
// between, and scales from tiny to huge, negative, zero, NaN and infinite.
func TestDequantRunTable(t *testing.T) {
	n := dequantTableMin + 300
	i8, u8 := make([]int8, n), make([]uint8, n)
	for i := range n {
		i8[i], u8[i] = int8(i*7), uint8(i*7)
	}
	for _, s := range []float32{0.0123, 1, 3e38, 1e-45, -0.5, 0, float32(math.NaN()), float32(math.Inf(1))} {
		for _, z := range []int32{-128, -3, 0, 127, 255} {
			got := make([]float32, n)
			check := func(kind string, codes func(i int) int32) {
				for i, v := range got {
					want := fakequant.DequantizeLinear(codes(i), z, s)
					if math.Float32bits(v) != math.Float32bits(want) && !(v != v && want != want) {
						t.Fatalf("%s scale %v zero point %d: code %d gives %v, want %v", kind, s, z, codes(i), v, want)
					}
				}
			}
			if z <= 127 {
				dequantRun(got, i8, []float32{s}, []int32{z}, 0)
				check("int8", func(i int) int32 { return int32(i8[i]) })
			}
			if z >= 0 {
				dequantRun(got, u8, []float32{s}, []int32{z}, 0)
				check("uint8", func(i int) int32 { return int32(u8[i]) })
			}
		}
	}
}
