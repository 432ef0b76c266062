package fuzz

import (
	"math"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/vec"
)

// FuzzVecFinish checks every kernel family of vec.Finish and
// vec.FinishTile (a fused layer's bias, residual and activation, on a run
// and on the rows of a tile) and of vec.ReluGrad against the generic code on arbitrary float32
// bit patterns, bias and Clip bounds: in place, with and without the
// residual, every activation.
func FuzzVecFinish(f *testing.F) {
	f.Add([]byte{0, 0, 0x80, 0x3f, 0, 0, 0xc0, 0x7f, 0, 0, 0x80, 0xff, 0, 0, 0, 0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0, 0, 0x80},
		uint32(0x80000000), uint32(0), uint32(0x40c00000), uint8(2))
	f.Add(make([]byte, 4*67), uint32(0x3f800000), uint32(0x80000000), uint32(0x80000000), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, biasBits, loBits, hiBits uint32, flags uint8) {
		all := floats(data)
		x, add := all[:len(all)/2], all[len(all)/2:][:len(all)/2]
		bias := math.Float32frombits(biasBits)
		a := vec.Act{Kind: vec.Kind(flags % 3), Lo: math.Float32frombits(loBits), Hi: math.Float32frombits(hiBits)}
		withAdd, hasBias := flags&4 != 0, flags&8 != 0
		if !withAdd {
			add = nil
		}
		// A tile of the same elements: rows of cols (flags' high bits).
		cols := 1 + int(flags>>4)
		rows := len(x) / cols
		var rowBias []float32
		if hasBias && rows > 0 {
			rowBias = x[:rows]
		}
		eachImpl(t, func() []float32 {
			seg := append([]float32{}, x...)
			vec.Finish(seg, bias, hasBias, add, &a)
			tile := append([]float32{}, x...)
			vec.FinishTile(tile, cols, rows, cols, rowBias, add, cols, &a)
			grad := make([]float32, len(x))
			vec.ReluGrad(grad, all[len(all)/2:], x)
			return append(append(seg, tile...), grad...)
		}, func(impl cpufeat.Impl, got, want []float32) {
			for i := range want {
				if !same(got[i], want[i]) {
					t.Fatalf("%v %+v bias %v (%v) add %v, tile of %d columns: element %d of run, tile and ReLU gradient: got %v want %v", impl, a, bias, hasBias, withAdd, cols, i, got[i], want[i])
				}
			}
		})
	})
}
