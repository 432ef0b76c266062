package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// TestConvTiles6 runs the kernel of convolutions of few output channels
// (convTiles6) against convTiles6Generic, bit for bit: every depth from
// 0 to 40, then up to 300, 0 to 4 tiles, offsets and positions in any
// order (a position repeated, as the last tile's copies), with and
// without acc, windowSpecials (NaN, ±Inf, ±0, subnormals, ±MaxFloat32)
// among the inputs, weights and prior sums, fused multiply-adds whose
// exact sums are ties, guards after the outputs.
func TestConvTiles6(t *testing.T) {
	for _, f := range cpufeat.Available() {
		defer cpufeat.Use(f)()
		rng := rand.New(rand.NewPCG(12, uint64(f)))
		ran := 0
		check := func(offs []int, x []float32, pos []int, w, prior []float32, tiles int, acc bool) {
			t.Helper()
			maxOff, maxPos := 0, 0
			if len(offs) > 0 {
				maxOff = slices.Max(offs)
			}
			if tiles > 0 {
				maxPos = slices.Max(pos[:6*tiles])
			}
			want := [2][]float32{slices.Clone(prior), slices.Clone(prior)}
			got := [2][]float32{slices.Clone(prior), slices.Clone(prior)}
			convTiles6Generic(offs, x, pos, w, want[0], want[1], tiles, acc)
			if !convTiles6(offs, maxOff, x, pos, maxPos, w, got[0], got[1], tiles, acc) {
				return
			}
			for h := range want {
				for i, wv := range want[h] {
					if g := got[h][i]; math.Float32bits(g) != math.Float32bits(wv) && !(g != g && wv != wv) {
						t.Fatalf("%v: k %d, %d tiles, acc %v: t%d[%d] = %v, want %v", f, len(offs), tiles, acc, h, i, g, wv)
					}
				}
			}
			ran++
		}
		// A few specials in normal random values (more would make every
		// sum NaN).
		sprinkled := func(n int) []float32 {
			v := randSlice(rng, n)
			for range min(n, 3) {
				v[rng.IntN(n)] = windowSpecials[rng.IntN(len(windowSpecials))]
			}
			return v
		}
		for k := 0; k <= 300; k += 1 + max(0, k-40)/16 {
			tiles := k % 5
			offs := make([]int, k)
			for i := range offs {
				offs[i] = rng.IntN(200)
			}
			maxOff := 0
			if k > 0 {
				maxOff = slices.Max(offs)
			}
			pos := make([]int, 6*tiles)
			for i := range pos {
				pos[i] = rng.IntN(40)
				if i > 0 && rng.IntN(4) == 0 {
					pos[i] = pos[i-1]
				}
			}
			check(offs, sprinkled(maxOff+41), pos, sprinkled(16*k), sprinkled(48*tiles+3), tiles, rng.IntN(2) == 0)
		}
		// Ties: 1·(1 + 2⁻²³) + 2⁻²⁴·w₁ is halfway between two floats for
		// w₁ = 1 and 3 (to even: 1 + 2⁻²² both times), and the added
		// prior sum of acc rounds too.
		x := []float32{1, 1, 1, 1, 1, 1, 0x1p-24, 0x1p-24, 0x1p-24, 0x1p-24, 0x1p-24, 0x1p-24}
		w := make([]float32, 32)
		for j := range 16 {
			w[j], w[16+j] = 1+0x1p-23, float32(1+2*(j%2))
		}
		prior := make([]float32, 48)
		for i := range prior {
			prior[i] = 0x1p-23 * float32(i%3)
		}
		for _, acc := range []bool{false, true} {
			check([]int{0, 6}, x, []int{0, 1, 2, 3, 4, 5}, w, prior, 1, acc)
		}
		if f == cpufeat.AVX2 && ran == 0 {
			t.Fatal("the AVX2 kernel never ran")
		}
	}
}

// FuzzConvTiles6 pins the kernel of convolutions of few output channels
// to convTiles6Generic on arbitrary offsets, positions, depths, tile
// counts and values (the data's bytes as float32 bits: every special).
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
		pos := make([]int, 6*tiles)
		maxPos := 0
		for i := range pos {
			pos[i] = int(byteAt(i+11)) % 48
			maxPos = max(maxPos, pos[i])
		}
		x := make([]float32, maxOff+maxPos+1)
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
		convTiles6Generic(offs, x, pos, w, want[0], want[1], tiles, acc)
		if !convTiles6(offs, maxOff, x, pos, maxPos, w, got[0], got[1], tiles, acc) {
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
