package fakequant

import (
	"fmt"
	"math"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

var cmpSizes = []int{15, 27, 100, 1000, 4 << 10, 64 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20}

// cmpRun runs f at each size under each vector family and the default
// dispatch.
func cmpRun(b *testing.B, sizes []int, f func(n int)) {
	for _, n := range sizes {
		for _, impl := range append(cpufeat.Available()[1:], cpufeat.Generic) {
			name := impl.String()
			if impl == cpufeat.Generic {
				name = "default"
			}
			b.Run(fmt.Sprintf("n=%d/impl=%s", n, name), func(b *testing.B) {
				if impl != cpufeat.Generic {
					defer cpufeat.Use(impl)()
				}
				b.SetBytes(int64(4 * n))
				for b.Loop() {
					f(n)
				}
			})
		}
	}
}

func BenchmarkCompare(b *testing.B) {
	const amax = 0.8
	src, dst := kerneltest.Float32s(kerneltest.MaxN, amax), kerneltest.Float32s(kerneltest.MaxN, 1)
	dy := kerneltest.Float32s(kerneltest.MaxN, 1)
	q := make([]int8, kerneltest.MaxN)
	codes := make([]uint8, kerneltest.MaxN)
	for i := range q {
		q[i], codes[i] = int8(i), uint8(i)
	}
	const c = 64
	chAmax := kerneltest.Float32s(c, amax)
	for i := range chAmax {
		chAmax[i] = 1.1*amax + float32(math.Abs(float64(chAmax[i])))
	}
	var perChannel []int
	for _, inner := range []int{9, 15, 27, 64, 1 << 10, 16 << 10, 256 << 10} {
		perChannel = append(perChannel, c*inner)
	}
	b.Run("k=FakeQuant", func(b *testing.B) {
		cmpRun(b, cmpSizes, func(n int) { FakeQuant(dst[:n], src[:n], amax, Int8) })
	})
	b.Run("k=FakeQuantPerChannel", func(b *testing.B) {
		cmpRun(b, perChannel, func(n int) {
			if err := FakeQuantPerChannel(dst[:n], src[:n], chAmax, n/c, Int8); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("k=QuantInt8", func(b *testing.B) {
		cmpRun(b, cmpSizes, func(n int) { QuantInt8(q[:n], src[:n], amax, Int8) })
	})
	b.Run("k=Dequant", func(b *testing.B) {
		cmpRun(b, cmpSizes, func(n int) { Dequant(dst[:n], q[:n], 127/amax) })
	})
	b.Run("k=STE", func(b *testing.B) {
		cmpRun(b, cmpSizes, func(n int) { STE(dst[:n], src[:n], dy[:n], amax) })
	})
	b.Run("k=FakeQuantFP8", func(b *testing.B) {
		cmpRun(b, cmpSizes, func(n int) {
			if err := FakeQuantFP8(dst[:n], src[:n], amax, E4M3FN); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("k=EncodeFP8", func(b *testing.B) {
		cmpRun(b, cmpSizes, func(n int) {
			if err := EncodeFP8(codes[:n], src[:n], E4M3FN, true); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("k=ScaledE4M3", func(b *testing.B) {
		cmpRun(b, cmpSizes, func(n int) {
			if err := ScaledE4M3(dst[:n], src[:n], amax); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("k=DecodeFP8", func(b *testing.B) {
		cmpRun(b, cmpSizes, func(n int) {
			if err := DecodeFP8(dst[:n], codes[:n], E4M3FN); err != nil {
				b.Fatal(err)
			}
		})
	})
}
