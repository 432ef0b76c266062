package fakequant

import (
	"math"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// BenchmarkScaledE4M3 measures the original's scaled E4M3 fake
// quantization in the shape of the other FP8 benchmarks (lowp_bench_test.go):
// every kernel family, impl=naive (float64 rounding as the test reference
// computes it) and impl=copy, with data spread over ±1.1·amax.
func BenchmarkScaledE4M3(b *testing.B) {
	const amax = 0.8
	src, dst := kerneltest.Float32s(lowpMaxN, amax), kerneltest.Float32s(lowpMaxN, 1)
	kerneltest.RunSizes(b, func(n int) cpufeat.Impl { return family(kScaledE4M3, n) }, lowpSizes, func(n int) {
		if err := ScaledE4M3(dst[:n], src[:n], amax); err != nil {
			b.Fatal(err)
		}
	}, func(n int) {
		scale := e4m3Scale(amax)
		for i, x := range src[:n] {
			if math.Abs(float64(x)) < 0x1p-24 {
				dst[i] = 0
				continue
			}
			dst[i] = naiveFP8(refE4M3FN, x*scale) / scale
		}
	})
}
