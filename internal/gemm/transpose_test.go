package gemm

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// TestTranspose packs 8 rows of n columns (n 0..300, the source and the
// panel at offsets 0..15, panels 8, 16 and 32 wide) on every kernel
// family, from arbitrary bit patterns (NaN payloads, -0, subnormals), and
// fails unless every value lands where transposeGeneric's definition puts
// it, bit for bit, and nothing around the panel's 8 columns is written.
func TestTranspose(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(8, 8))
		const guard = 0x7fc0dead // a NaN with a payload no input has
		for n := 0; n <= 300; n++ {
			for off := range 16 {
				for _, ldd := range []int{8, 16, 32} {
					lds := n + off%5
					src := make([]float32, off+8*lds+n+16)
					for i := range src {
						src[i] = math.Float32frombits(r.Uint32())
					}
					dst := make([]float32, off+max(n, 1)*ldd+16)
					for i := range dst {
						dst[i] = math.Float32frombits(guard)
					}
					done := transposeBlocks(dst[off:], ldd, src[off:], lds, n)
					transposeGeneric(dst[off+done*ldd:], ldd, src[off+done:], lds, n-done)
					for i, v := range dst {
						want := uint32(guard)
						if q := i - off; q >= 0 && q%ldd < 8 && q/ldd < n {
							want = math.Float32bits(src[off+q%ldd*lds+q/ldd])
						}
						if math.Float32bits(v) != want {
							t.Fatalf("n=%d off=%d ldd=%d: dst[%d] = %#x, want %#x", n, off, ldd, i, math.Float32bits(v), want)
						}
					}
				}
			}
		}
	})
}

// TestInterleave6 packs 6 rows of kcb columns (0..300, the source at
// offsets 0..7 and row strides kcb..kcb+4) into a panel of 6 on every
// kernel family (transpose6Blocks and the loops after it), from arbitrary
// bit patterns, and fails unless every value lands where interleave's
// definition puts it, bit for bit, and nothing after the panel is
// written.
func TestInterleave6(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(6, 6))
		const guard = 0x7fc0dead // a NaN with a payload no input has
		for kcb := 0; kcb <= 300; kcb++ {
			for off := range 8 {
				ld := kcb + off%5
				x := make([]float32, (off+6)*ld+off)
				for i := range x {
					x[i] = math.Float32frombits(r.Uint32())
				}
				pan := make([]float32, 6*kcb+8)
				for i := range pan {
					pan[i] = math.Float32frombits(guard)
				}
				interleave(pan, x, ld, off, off, 6, 6, kcb)
				for i, v := range pan {
					want := uint32(guard)
					if i < 6*kcb {
						want = math.Float32bits(x[(off+i%6)*ld+off+i/6])
					}
					if math.Float32bits(v) != want {
						t.Fatalf("kcb=%d off=%d: pan[%d] = %#x, want %#x", kcb, off, i, math.Float32bits(v), want)
					}
				}
			}
		}
	})
}
