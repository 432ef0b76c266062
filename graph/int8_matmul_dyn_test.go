package graph_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
)

// TestInt8MatMulDynamic runs MatMuls of two dequantized activations (as
// ONNX Runtime's quantizer and `quantize -activation-matmul` leave
// attention's Q·Kᵀ and P·V) on the integer path: A uint8 codes of a
// graph input, B int8 codes of a QuantizeLinear, batches broadcast, one
// MatMul with a float output and one requantized by the QuantizeLinear
// after it. Each output is compared with the integer definition
// (QLinearMatMul's: int32 sums of code differences, then the scales).
func TestInt8MatMulDynamic(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const sa, sb, sy = float32(0.05), float32(0.02), float32(0.3)
	const za, zb, zy = 128, -3, 7
	b := newQDQBuilder(rng,
		must(onnx.NewTensor("sb", nil, []float32{sb})),
		zeroPoint("zb", onnx.Int8, nil, []int{zb}),
		must(onnx.NewTensor("sy", nil, []float32{sy})),
		zeroPoint("zy", onnx.Uint8, nil, []int{zy}),
	)
	da := b.node("DequantizeLinear", "da", []string{"a", "s", "z"})
	bq := b.node("QuantizeLinear", "bq", []string{b.node("DequantizeLinear", "bf", []string{"b", "s", "z"}), "sb", "zb"})
	db := b.node("DequantizeLinear", "db", []string{bq, "sb", "zb"})
	b.node("MatMul", "y", []string{da, db})
	b.node("QuantizeLinear", "yq", []string{b.node("MatMul", "m", []string{da, db}), "sy", "zy"})
	m := b.model(map[string][]int64{"a": {3, 7, 24}, "b": {1, 24, 10}}, "y", "yq", "bq")
	const n = 2
	a, bin := must(graph.New(onnx.Uint8, n, 3, 7, 24)), must(graph.New(onnx.Uint8, n, 1, 24, 10))
	copy(a.U8, randCodes(rng, a.Len()))
	copy(bin.U8, randCodes(rng, bin.Len()))
	s := must(graph.NewSession(must(graph.Import(m)), graph.Options{Threads: 2}))
	out, err := s.Run(map[string]*graph.Tensor{"a": a, "b": bin})
	if err != nil {
		t.Fatal(err)
	}
	if notes := s.Int8Nodes(); len(notes) != 2 {
		t.Fatalf("the int8 pass saw %d layers, want the 2 MatMuls", len(notes))
	}
	for _, note := range s.Int8Nodes() {
		if !note.Int8 {
			t.Errorf("%s runs in float: %s", note.Node, note.Reason)
		}
	}
	y, yq, codesB := out["y"], out["yq"], out["bq"]
	for bi := range n {
		for h := range 3 {
			for i := range 7 {
				for j := range 10 {
					var c int32
					for k := range 24 {
						c += (int32(a.U8[((bi*3+h)*7+i)*24+k]) - za) * (int32(codesB.I8[(bi*24+k)*10+j]) - zb)
					}
					o := ((bi*3+h)*7+i)*10 + j
					if want := float32(c) * (sa * sb); math.Float32bits(y.F32[o]) != math.Float32bits(want) {
						t.Fatalf("y[%d] = %v, want %v (C = %d)", o, y.F32[o], want, c)
					}
					if want := fakequant.QuantizeLinear(float32(c)*(sa*sb/sy), 1, zy, 0, 255); int32(yq.U8[o]) != want {
						t.Fatalf("yq[%d] = %d, want %d (C = %d)", o, yq.U8[o], want, c)
					}
				}
			}
		}
	}
}
