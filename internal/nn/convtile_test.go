package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// TestConvTiles6 runs the kernel of convolutions of few output channels
// (convTiles6) against convTiles6Generic, bit for bit: depths 0 to 300,
// 1 to 5 tiles, offsets in any order, with and without acc, specials
// (NaN, ±Inf, -0, subnormals) among the inputs, weights and prior sums,
// guards after the outputs.
func TestConvTiles6(t *testing.T) {
	for _, f := range cpufeat.Available() {
		defer cpufeat.Use(f)()
		rng := rand.New(rand.NewPCG(12, uint64(f)))
		ran := 0
		for k := 0; k <= 300; k += 1 + k/16 {
			tiles := 1 + rng.IntN(5)
			offs := make([]int, k)
			maxOff := 0
			for i := range offs {
				offs[i] = rng.IntN(200)
				maxOff = max(maxOff, offs[i])
			}
			x := specialFloats(rng, maxOff+6*tiles)
			w := specialFloats(rng, 16*k)
			acc := rng.IntN(2) == 0
			want0, want1 := specialFloats(rng, 48*tiles+3), specialFloats(rng, 48*tiles+3)
			got0, got1 := append([]float32(nil), want0...), append([]float32(nil), want1...)
			convTiles6Generic(offs, x, w, want0, want1, tiles, acc)
			if !convTiles6(offs, maxOff, x, w, got0, got1, tiles, acc) {
				continue
			}
			for i := range want0 {
				for h, pair := range [][2][]float32{{got0, want0}, {got1, want1}} {
					g, w := pair[0][i], pair[1][i]
					if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
						t.Fatalf("%v: k %d, %d tiles, acc %v: t%d[%d] = %v, want %v", f, k, tiles, acc, h, i, g, w)
					}
				}
			}
			ran++
		}
		if f == cpufeat.AVX2 && ran == 0 {
			t.Fatal("the AVX2 kernel never ran")
		}
	}
}

// specialFloats returns n normal random values with a few specials.
func specialFloats(rng *rand.Rand, n int) []float32 {
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 1e-40, -3e-39}
	v := make([]float32, n)
	for i := range v {
		if rng.IntN(200) == 0 {
			v[i] = specials[rng.IntN(len(specials))]
		} else {
			v[i] = float32(rng.NormFloat64())
		}
	}
	return v
}

// FuzzConvTiles6 pins the kernel of convolutions of few output channels
// to convTiles6Generic on arbitrary offsets, depths, tile counts and
// values (the data's bytes as float32 bits: every special).
func FuzzConvTiles6(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 192, 127, 1, 0, 0, 128}, uint16(9), uint8(2), false)
	f.Add([]byte("few channels, many steps"), uint16(300), uint8(1), true)
	f.Fuzz(func(t *testing.T, data []byte, k16 uint16, tiles8 uint8, acc bool) {
		if len(data) == 0 {
			return
		}
		k, tiles := int(k16%320), 1+int(tiles8%4)
		byteAt := func(i int) byte { return data[i%len(data)] }
		floatAt := func(i int) float32 {
			return math.Float32frombits(uint32(byteAt(4*i)) | uint32(byteAt(4*i+1))<<8 | uint32(byteAt(4*i+2))<<16 | uint32(byteAt(4*i+3))<<24)
		}
		offs := make([]int, k)
		maxOff := 0
		for i := range offs {
			offs[i] = int(byteAt(i+7)) % 64
			maxOff = max(maxOff, offs[i])
		}
		x := make([]float32, maxOff+6*tiles)
		for i := range x {
			x[i] = floatAt(i)
		}
		w := make([]float32, 16*k)
		for i := range w {
			w[i] = floatAt(i + 3)
		}
		var want [2][]float32
		for h := range want {
			want[h] = make([]float32, 48*tiles)
			for i := range want[h] {
				want[h][i] = floatAt(i + 5 + h)
			}
		}
		got := [2][]float32{append([]float32(nil), want[0]...), append([]float32(nil), want[1]...)}
		convTiles6Generic(offs, x, w, want[0], want[1], tiles, acc)
		if !convTiles6(offs, maxOff, x, w, got[0], got[1], tiles, acc) {
			t.Skip("no kernel")
		}
		for h := range want {
			for i, wv := range want[h] {
				if g := got[h][i]; math.Float32bits(g) != math.Float32bits(wv) && !(g != g && wv != wv) {
					t.Fatalf("k %d, %d tiles, acc %v: t%d[%d] = %v, want %v", k, tiles, acc, h, i, g, wv)
				}
			}
		}
	})
}
