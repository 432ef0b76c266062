package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/vec"
)

// TestConvTiles6 runs the kernels of convolutions of few output channels
// (convTiles6: 16 lanes with AVX2, 32 with AVX-512) against
// convTilesGeneric, bit for bit: every depth from 0 to 40, then up to
// 300, 0 to 4 tiles, offsets and positions in any order (a position
// repeated, as the last tile's copies), with and without acc,
// windowSpecials (NaN, ±Inf, ±0, subnormals, ±MaxFloat32) among the
// inputs, weights and prior sums, fused multiply-adds whose exact sums
// are ties, guards between and after the buffers; and each finish
// (tileFinish: biases with specials or none, ReLU, clamps whose bounds
// are signed zeros, the identity).
func TestConvTiles6(t *testing.T) {
	for _, f := range cpufeat.Available() {
		defer cpufeat.Use(f)()
		for _, lanes := range kernelLanes() {
			testConvTiles6(t, f, lanes)
		}
	}
}

// kernelLanes returns the lanes of the kernels of convolutions of few
// output channels that cpufeat.Selected has (tileLanes of 16 and 32
// channels).
func kernelLanes() []int {
	var out []int
	for _, rows := range []int{16, 32} {
		if l := tileLanes(rows); l != 0 && !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// testConvTiles6 is TestConvTiles6 for the kernel of lanes lanes of
// family f (selected).
func testConvTiles6(t *testing.T, f cpufeat.Impl, lanes int) {
	rng := rand.New(rand.NewPCG(12, uint64(f)))
	ran := 0
	// check runs both on buffers of len(prior) elements each (prior
	// in each).
	check := func(offs []int, x []float32, pos []int, w, prior []float32, tiles int, acc bool, fin *tileFinish) {
		t.Helper()
		maxOff, maxPos := 0, 0
		if len(offs) > 0 {
			maxOff = slices.Max(offs)
		}
		if tiles > 0 {
			maxPos = slices.Max(pos[:6*tiles])
		}
		stride := len(prior)
		want := make([]float32, lanes/8*stride)
		for h := range lanes / 8 {
			copy(want[h*stride:], prior)
		}
		got := slices.Clone(want)
		convTilesGeneric(lanes, offs, x, pos, w, want, stride, tiles, acc, fin)
		convTiles6(lanes, offs, maxOff, x, pos, maxPos, w, got, stride, tiles, acc, fin)
		for i, wv := range want {
			if g := got[i]; math.Float32bits(g) != math.Float32bits(wv) && !(g != g && wv != wv) {
				t.Fatalf("%v, %d lanes: k %d, %d tiles, acc %v, finish %v: t[%d] = %v (buffer %d), want %v", f, lanes, len(offs), tiles, acc, fin, i, g, i/stride, wv)
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
		check(offs, sprinkled(maxOff+41), pos, sprinkled(lanes*k), sprinkled(48*tiles+3), tiles, rng.IntN(2) == 0,
			tileFinishes(sprinkled(lanes))[k%6])
	}
	// Ties: 1·(1 + 2⁻²³) + 2⁻²⁴·w₁ is halfway between two floats for
	// w₁ = 1 and 3 (to even: 1 + 2⁻²² both times), and the added
	// prior sum of acc rounds too.
	x := []float32{1, 1, 1, 1, 1, 1, 0x1p-24, 0x1p-24, 0x1p-24, 0x1p-24, 0x1p-24, 0x1p-24}
	w := make([]float32, 2*lanes)
	for j := range lanes {
		w[j], w[lanes+j] = 1+0x1p-23, float32(1+2*(j%2))
	}
	prior := make([]float32, 48)
	for i := range prior {
		prior[i] = 0x1p-23 * float32(i%3)
	}
	for _, acc := range []bool{false, true} {
		for _, fin := range tileFinishes(prior[:lanes]) {
			check([]int{0, 6}, x, []int{0, 1, 2, 3, 4, 5}, w, prior, 1, acc, fin)
		}
	}
	if ran == 0 {
		t.Fatalf("the %v kernel of %d lanes never ran", f, lanes)
	}
}

// tileFinishes returns the finishes the tests of convTiles6 run: none,
// ReLU after bias, a clamp without biases, the identity after bias, and
// clamps whose bounds are signed zeros (the kernels' zero fixes).
func tileFinishes(bias []float32) []*tileFinish {
	negZero := float32(math.Copysign(0, -1))
	return []*tileFinish{
		nil,
		{bias: bias, act: &vec.Act{Kind: vec.Relu}},
		{act: &vec.Act{Kind: vec.Clip, Lo: -1, Hi: 6}},
		{bias: bias, act: &vec.Act{Kind: vec.None}},
		{bias: bias, act: &vec.Act{Kind: vec.Clip, Lo: 0, Hi: 0x1p-130}},
		{act: &vec.Act{Kind: vec.Clip, Lo: -2, Hi: negZero}},
	}
}

// FuzzConvTiles6 pins the kernel of convolutions of few output channels
// of every family this CPU has to convTilesGeneric on arbitrary offsets,
// positions, depths, tile counts and values (the data's bytes as float32
// bits: every special).
func FuzzConvTiles6(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 192, 127, 1, 0, 0, 128}, uint16(9), uint8(2), false, uint8(0))
	f.Add([]byte("few channels, many steps"), uint16(300), uint8(1), true, uint8(1))
	f.Add([]byte("finished sums"), uint16(27), uint8(3), false, uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, k16 uint16, tiles8 uint8, acc bool, finish uint8) {
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
		w := make([]float32, 32*k)
		for i := range w {
			w[i] = floatAt(i + 3)
		}
		stride := 48 * tiles
		prior := make([]float32, 4*stride)
		for i := range prior {
			prior[i] = floatAt(i + 5)
		}
		bias := make([]float32, 32)
		for i := range bias {
			bias[i] = floatAt(i + 13)
		}
		fin := tileFinishes(bias)[finish%6]
		ran := false
		for _, fam := range cpufeat.Available() {
			restore := cpufeat.Use(fam)
			for _, lanes := range kernelLanes() {
				want, got := slices.Clone(prior), slices.Clone(prior)
				convTilesGeneric(lanes, offs, x, pos, w, want, stride, tiles, acc, fin)
				convTiles6(lanes, offs, maxOff, x, pos, maxPos, w, got, stride, tiles, acc, fin)
				ran = true
				for i, wv := range want {
					if g := got[i]; math.Float32bits(g) != math.Float32bits(wv) && !(g != g && wv != wv) {
						t.Fatalf("%v, %d lanes: k %d, %d tiles, acc %v, finish %v: t[%d] = %v, want %v", fam, lanes, k, tiles, acc, fin, i, g, wv)
					}
				}
			}
			restore()
		}
		if !ran {
			t.Skip("no kernel")
		}
	})
}
