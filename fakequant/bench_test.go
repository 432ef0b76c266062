package fakequant

import (
	"math"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// The kernel benchmarks; `make bench` runs them and prints the ratio table
// (see internal/testkit/kerneltest and BENCHMARKS.md).

const benchAmax = 0.8

// naiveFakeQuant is the obvious scalar loop a first Go port would write:
// float64 math, math.Max/Min for the clamp and a division.
func naiveFakeQuant(dst, src []float32, amax float32, f Format) {
	lo, hi := f.Bounds()
	scale := float64(hi) / float64(amax)
	for i, x := range src {
		q := math.RoundToEven(float64(x) * scale)
		q = math.Min(math.Max(q, float64(lo)), float64(hi))
		dst[i] = float32(q / scale)
	}
}

func BenchmarkFakeQuant(b *testing.B) {
	src, dst := kerneltest.Float32s(kerneltest.MaxN, benchAmax), kerneltest.Float32s(kerneltest.MaxN, 1)
	kerneltest.Run(b, func(n int) cpufeat.Impl { return family(kFakeQuant, n) },
		func(n int) { FakeQuant(dst[:n], src[:n], benchAmax, Int8) },
		func(n int) { naiveFakeQuant(dst[:n], src[:n], benchAmax, Int8) })
}

// BenchmarkFakeQuantPerChannel quantizes a conv weight [C=64][n/64] with one
// amax per output channel, each at least the channel's largest |x| (as max
// calibration gives: nothing is clipped). BenchmarkFakeQuant, with amax 0.8
// for inputs in about ±0.88, clips some 9% of its inputs instead (as
// percentile calibration does).
func BenchmarkFakeQuantPerChannel(b *testing.B) {
	const c = 64
	src, dst := kerneltest.Float32s(kerneltest.MaxN, benchAmax), kerneltest.Float32s(kerneltest.MaxN, 1)
	amax := kerneltest.Float32s(c, benchAmax)
	for i := range amax {
		amax[i] = 1.1*benchAmax + float32(math.Abs(float64(amax[i])))
	}
	kerneltest.Run(b, func(n int) cpufeat.Impl { return family(kFakeQuant, n/64) },
		func(n int) {
			if err := FakeQuantPerChannel(dst[:n], src[:n], amax, n/c, Int8); err != nil {
				b.Fatal(err)
			}
		},
		func(n int) {
			for ch, inner := 0, n/c; ch < c; ch++ {
				naiveFakeQuant(dst[ch*inner:(ch+1)*inner], src[ch*inner:(ch+1)*inner], amax[ch], Int8)
			}
		})
}

func BenchmarkQuantInt8(b *testing.B) {
	src, dst := kerneltest.Float32s(kerneltest.MaxN, benchAmax), make([]int8, kerneltest.MaxN)
	for i := range dst {
		dst[i] = int8(i) // fault every page in before timing
	}
	kerneltest.Run(b, func(n int) cpufeat.Impl { return family(kQuantInt8, n) },
		func(n int) { QuantInt8(dst[:n], src[:n], benchAmax, Int8) },
		func(n int) {
			scale := 127 / float64(benchAmax)
			for i, x := range src[:n] {
				dst[i] = int8(math.Min(math.Max(math.RoundToEven(float64(x)*scale), -128), 127))
			}
		})
}

// BenchmarkQuantizeLinearCodes: ONNX Runtime's per-tensor QuantizeLinear
// into uint8 codes, the kernel against the scalar QuantizeLinear.
func BenchmarkQuantizeLinearCodes(b *testing.B) {
	src, dst := kerneltest.Float32s(kerneltest.MaxN, benchAmax), make([]uint8, kerneltest.MaxN)
	for i := range dst {
		dst[i] = uint8(i) // fault every page in before timing
	}
	scale := float32(benchAmax / 127)
	kerneltest.Run(b, func(n int) cpufeat.Impl { return family(kQuantLinear, n) },
		func(n int) { _ = QuantizeLinearCodes(dst[:n], src[:n], scale, 128, 0, 255) },
		func(n int) {
			for i, x := range src[:n] {
				dst[i] = uint8(QuantizeLinear(x, scale, 128, 0, 255))
			}
		})
}

func BenchmarkDequant(b *testing.B) {
	src, dst := make([]int8, kerneltest.MaxN), kerneltest.Float32s(kerneltest.MaxN, 1)
	for i, x := range kerneltest.Float32s(kerneltest.MaxN, 127) {
		src[i] = int8(max(-128, min(127, x)))
	}
	const scale = 127 / benchAmax
	kerneltest.Run(b, func(n int) cpufeat.Impl { return family(kDequant, n) },
		func(n int) { Dequant(dst[:n], src[:n], scale) },
		func(n int) {
			for i, q := range src[:n] {
				dst[i] = float32(float64(q) / scale)
			}
		})
}

func BenchmarkSTE(b *testing.B) {
	x, dy, dst := kerneltest.Float32s(kerneltest.MaxN, benchAmax), kerneltest.Float32s(kerneltest.MaxN, 1), kerneltest.Float32s(kerneltest.MaxN, 1)
	kerneltest.Run(b, func(n int) cpufeat.Impl { return family(kSTE, n) },
		func(n int) { STE(dst[:n], x[:n], dy[:n], benchAmax) },
		func(n int) {
			for i, v := range x[:n] {
				if math.Abs(float64(v)) <= benchAmax {
					dst[i] = dy[i]
				} else {
					dst[i] = 0
				}
			}
		})
}
