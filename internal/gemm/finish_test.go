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
// on every family: runs of 1 to 3 tiles, depths 0-40, accumulating or
// not, with and without row biases, every clamp activation (bounds ±0,
// ±Inf), specials in A, B, C and the biases, and guard values around the
// tiles that must stay.
func TestMicroKernelFinish(t *testing.T) {
	acts := []vec.Act{{}, {Kind: vec.Relu}, {Kind: vec.Clip, Lo: 0, Hi: 6},
		{Kind: vec.Clip, Lo: float32(math.Copysign(0, -1)), Hi: 0}, {Kind: vec.Clip, Lo: -1, Hi: float32(math.Copysign(0, -1))},
		{Kind: vec.Clip, Lo: float32(math.Inf(-1)), Hi: float32(math.Inf(1))}, {Kind: vec.Clip, Lo: 2, Hi: -2}}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		kern := selectKernel()
		rng := rand.New(rand.NewPCG(3, 4))
		draw := func(n int) []float32 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
				if rng.IntN(16) == 0 {
					x[i] = finishSpecials[rng.IntN(len(finishSpecials))]
				}
			}
			return x
		}
		const guard = 5
		for _, k := range []int{0, 1, 2, 3, 7, 16, 33, 40} {
			for _, acc := range []bool{false, true} {
				for _, withBias := range []bool{false, true} {
					for ai, act := range acts {
						tiles := 1 + (k+ai)%3
						ep := &Epilogue{Act: act}
						rows := tiles*kern.mr + 3
						if withBias {
							ep.RowBias = draw(rows)
						}
						fin, ok := fuseFinish(kern, ep)
						if hasFinishKernel(kern.impl) != ok {
							t.Fatalf("fuseFinish of %+v: %v on %v", act, ok, kern.impl)
						}
						a, b := draw(tiles*k*kern.mr), draw(k*kern.nr)
						ldc := kern.nr + guard
						c0 := draw(guard + (tiles*kern.mr+1)*ldc)
						want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
						const i, j = 2, 1
						finishTileGeneric(kern, ep, k, a, b, want[guard:], ldc, acc, i, j, tiles)
						microKernelFinish(kern, ep, &fin, k, a, b, got[guard:], ldc, acc, i, j, tiles)
						for q := range want {
							w, g := want[q], got[q]
							if math.Float32bits(w) != math.Float32bits(g) && !(w != w && g != g) {
								t.Fatalf("k=%d tiles=%d acc=%v bias=%v act %d: element %d is %v (%#x), want %v (%#x)",
									k, tiles, acc, withBias, ai, q, g, math.Float32bits(g), w, math.Float32bits(w))
							}
						}
					}
				}
			}
		}
	})
}
