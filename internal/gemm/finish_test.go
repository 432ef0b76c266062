package gemm

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
	"github.com/tensorquant/tensorquant/internal/vec"
)

// finishSpecials are the values where a fused clamp could part from
// vec.Finish: signed zeros, infinities, NaN, values at the bounds.
var finishSpecials = []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
	float32(math.NaN()), 6, -1, 1e-45, -1e-45, 3.4e38}

// TestMicroKernelFinish compares microKernelFinish (on AVX2 and AVX-512 the
// micro-kernel with the epilogue fused) with finishTileGeneric, the
// micro-kernel followed by the epilogue, bit for bit (NaN against NaN),
// on every family: columns of 1 to 18 (24) rows, whole and partial
// tiles, depths 0-40, accumulating or not, with and without row biases,
// every clamp activation (bounds ±0, ±Inf), specials in A, B, C and the
// biases, and guard values around the tiles that must stay.
func TestMicroKernelFinish(t *testing.T) {
	acts := []vec.Act{{}, {Kind: vec.Relu}, {Kind: vec.Clip, Lo: 0, Hi: 6},
		{Kind: vec.Clip, Lo: float32(math.Copysign(0, -1)), Hi: 0}, {Kind: vec.Clip, Lo: -1, Hi: float32(math.Copysign(0, -1))},
		{Kind: vec.Clip, Lo: float32(math.Inf(-1)), Hi: float32(math.Inf(1))}, {Kind: vec.Clip, Lo: 2, Hi: -2}}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		kern := selectKernel()
		draw := drawer(rand.New(rand.NewPCG(3, 4)))
		const guard = 5
		for _, k := range []int{0, 1, 2, 3, 7, 16, 33, 40} {
			for _, acc := range []bool{false, true} {
				for _, withBias := range []bool{false, true} {
					for ai, act := range acts {
						rows := 1 + (7*k+5*ai+3*len(acts)*boolInt(acc))%(3*kern.mr)
						ep := &Epilogue{Act: act}
						if withBias {
							ep.RowBias = draw(rows + 3)
						}
						fin, ok := fuseFinish(kern, ep)
						if hasFinishKernel(kern.impl) != ok {
							t.Fatalf("fuseFinish of %+v: %v on %v", act, ok, kern.impl)
						}
						a, b := draw((rows+kern.mr-1)/kern.mr*k*kern.mr), draw(k*kern.nr)
						ldc := kern.nr + guard
						c0 := draw(guard + (rows+1)*ldc)
						want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
						const i, j = 2, 1
						finishTileGeneric(kern, ep, k, a, b, want[guard:], ldc, acc, i, j, rows)
						microKernelFinish(kern, ep, &fin, k, a, b, got[guard:], ldc, acc, i, j, rows)
						for q := range want {
							w, g := want[q], got[q]
							if math.Float32bits(w) != math.Float32bits(g) && !(w != w && g != g) {
								t.Fatalf("k=%d rows=%d acc=%v bias=%v act %d: element %d is %v (%#x), want %v (%#x)",
									k, rows, acc, withBias, ai, q, g, math.Float32bits(g), w, math.Float32bits(w))
							}
						}
					}
				}
			}
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestMicroKernelTiles compares microKernelTiles (on AVX2 and AVX-512 one
// kernel call for the whole column of tiles) with tilesGeneric, tile by
// tile, bit for bit on every family: 1 to 3·mr rows (the last tile whole
// or partial), depths 0-33, accumulating or not, specials in A, B and C,
// and guard values around the tiles that must stay (the rows past rows
// included).
func TestMicroKernelTiles(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		kern := selectKernel()
		draw := drawer(rand.New(rand.NewPCG(5, 6)))
		const guard = 5
		for _, k := range []int{0, 1, 2, 7, 16, 33} {
			for _, acc := range []bool{false, true} {
				for rows := 1; rows <= 3*kern.mr; rows++ {
					a, b := draw((rows+kern.mr-1)/kern.mr*k*kern.mr), draw(k*kern.nr)
					ldc := kern.nr + guard
					c0 := draw(guard + (rows+1)*ldc)
					want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
					tilesGeneric(kern, k, a, b, want[guard:], ldc, acc, rows)
					microKernelTiles(kern, k, a, b, got[guard:], ldc, acc, rows)
					for q := range want {
						w, g := want[q], got[q]
						if math.Float32bits(w) != math.Float32bits(g) && !(w != w && g != g) {
							t.Fatalf("k=%d rows=%d acc=%v: element %d is %v (%#x), want %v (%#x)",
								k, rows, acc, q, g, math.Float32bits(g), w, math.Float32bits(w))
						}
					}
				}
			}
		}
	})
}

// drawer returns a function that draws n values from rng: normal, one in
// 16 a special (finishSpecials).
func drawer(rng *rand.Rand) func(n int) []float32 {
	return func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
			if rng.IntN(16) == 0 {
				x[i] = finishSpecials[rng.IntN(len(finishSpecials))]
			}
		}
		return x
	}
}
