package fakequant

import (
	"fmt"
	"math"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// The FP8 and INT4 kernel benchmarks, in the shape of the INT8 ones:
//
//	Benchmark<Kernel>/impl=<impl>/n=<n>
//
// with one impl per kernel family this machine supports (switched with
// cpufeat.Use), impl=naive (the obvious scalar Go loop) and impl=copy (Go's
// copy() of n float32), at every size in lowpSizes, each with
// b.SetBytes(4*n) (the float32 bytes of the input) so that MB/s compare
// directly; the family whose code runs by default reports the extra metric
// "1 selected" (the FP8 dispatch for the FP8 kernels, the integer one for
// FakeQuantBlock, generic for the INT4 code, which has no assembly).

var lowpSizes = []int{4 << 10, 64 << 10, 1 << 20}

const lowpMaxN = 1 << 20

// naiveFP8 is the obvious scalar conversion: float64 math (frexp-style
// exponent, a power-of-two quantum, math.RoundToEven), as the reference
// model of the tests computes it.
func naiveFP8(r *refFP8, x float32) float32 {
	if x != x {
		return x
	}
	v := math.Min(r.round(x), r.max)
	return float32(math.Copysign(v, float64(x)))
}

func BenchmarkFakeQuantFP8(b *testing.B) {
	for _, r := range refFP8s {
		const amax = 0.8
		src, dst := kerneltest.Float32s(lowpMaxN, amax), kerneltest.Float32s(lowpMaxN, 1)
		b.Run("fmt="+r.name, func(b *testing.B) {
			kerneltest.RunSizes(b, func(n int) cpufeat.Impl { return family(kFakeQuantFP8, n) }, lowpSizes, func(n int) {
				if err := FakeQuantFP8(dst[:n], src[:n], amax, r.f); err != nil {
					b.Fatal(err)
				}
			}, func(n int) {
				scale := float32(amax / r.max)
				for i, x := range src[:n] {
					dst[i] = naiveFP8(r, x/scale) * scale
				}
			})
		})
	}
}

func BenchmarkEncodeFP8(b *testing.B) {
	for _, r := range refFP8s {
		src, dst := kerneltest.Float32s(lowpMaxN, float32(r.max)), make([]uint8, lowpMaxN)
		for i := range dst {
			dst[i] = uint8(i) // fault every page in before timing
		}
		b.Run("fmt="+r.name, func(b *testing.B) {
			kerneltest.RunSizes(b, func(n int) cpufeat.Impl { return family(kEncodeFP8, n) }, lowpSizes, func(n int) {
				if err := EncodeFP8(dst[:n], src[:n], r.f, true); err != nil {
					b.Fatal(err)
				}
			}, func(n int) {
				for i, x := range src[:n] {
					dst[i] = r.encode(x, true)
				}
			})
		})
	}
}

func BenchmarkDecodeFP8(b *testing.B) {
	for _, r := range refFP8s {
		src, dst := make([]uint8, lowpMaxN), kerneltest.Float32s(lowpMaxN, 1)
		for i, x := range kerneltest.Float32s(lowpMaxN, float32(r.max)) {
			src[i] = r.encode(x, true)
		}
		b.Run("fmt="+r.name, func(b *testing.B) {
			kerneltest.RunSizes(b, func(n int) cpufeat.Impl { return family(kDecodeFP8, n) }, lowpSizes, func(n int) {
				if err := DecodeFP8(dst[:n], src[:n], r.f); err != nil {
					b.Fatal(err)
				}
			}, func(n int) {
				for i, c := range src[:n] {
					dst[i] = float32(r.value(c))
				}
			})
		})
	}
}

// BenchmarkFakeQuantBlock fake-quantizes rows of 4096 elements in 4-bit
// blocks of 32 and 128 with the toolkit's integer rule (the kernels of
// FakeQuant, one call per block).
func BenchmarkFakeQuantBlock(b *testing.B) {
	const rowLen = 4096
	f := Format{NumBits: 4}
	for _, bs := range []int{32, 128} {
		src, dst := kerneltest.Float32s(lowpMaxN, 1), kerneltest.Float32s(lowpMaxN, 1)
		amax, err := BlockAmax(src, rowLen, bs)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("block=%d", bs), func(b *testing.B) {
			kerneltest.RunSizes(b, func(int) cpufeat.Impl { return family(kFakeQuant, bs) }, lowpSizes, func(n int) {
				if err := FakeQuantBlock(dst[:n], src[:n], amax[:n/bs], rowLen, bs, f); err != nil {
					b.Fatal(err)
				}
			}, func(n int) {
				lo, hi := f.Bounds()
				for k, s := 0, 0; s < n; k, s = k+1, s+bs {
					scale := float64(hi) / float64(amax[k])
					for i, x := range src[s : s+bs] {
						q := math.Min(math.Max(math.RoundToEven(float64(x)*scale), float64(lo)), float64(hi))
						dst[s+i] = float32(q / scale)
					}
				}
			})
		})
	}
}

// BenchmarkQuantInt4Pack quantizes rows of 4096 elements to signed INT4
// codes with one scale per block of 32 or 128 and packs them two per byte.
func BenchmarkQuantInt4Pack(b *testing.B) {
	const rowLen = 4096
	for _, bs := range []int{32, 128} {
		src := kerneltest.Float32s(lowpMaxN, 1)
		amax, err := BlockAmax(src, rowLen, bs)
		if err != nil {
			b.Fatal(err)
		}
		scale, err := Int4Scales(amax, false)
		if err != nil {
			b.Fatal(err)
		}
		codes, packed := make([]int8, lowpMaxN), make([]byte, lowpMaxN/2)
		for i := range codes {
			codes[i], packed[i/2] = int8(i), byte(i)
		}
		b.Run(fmt.Sprintf("block=%d", bs), func(b *testing.B) {
			kerneltest.RunSizes(b, func(int) cpufeat.Impl { return cpufeat.Generic }, lowpSizes, func(n int) {
				if err := QuantizeInt4Block(codes[:n], src[:n], scale[:n/bs], rowLen, bs, false); err != nil {
					b.Fatal(err)
				}
				if err := PackInt4(packed, codes[:n], false); err != nil {
					b.Fatal(err)
				}
			}, func(n int) {
				for i, x := range src[:n] {
					q := math.Min(math.Max(math.RoundToEven(float64(x)/float64(scale[i/bs])), -8), 7)
					if i%2 == 0 {
						packed[i/2] = byte(int8(q)) & 0x0F
					} else {
						packed[i/2] |= byte(int8(q)) << 4
					}
				}
			})
		})
	}
}
