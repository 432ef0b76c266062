package reduce

import (
	"fmt"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

func BenchmarkCompare(b *testing.B) {
	x := kerneltest.Float32s(kerneltest.MaxN, 1)
	var sink float32
	for _, n := range []int{15, 27, 100, 1000, 4 << 10, 64 << 10, 1 << 20, 2 << 20, 4 << 20, 8 << 20, 16 << 20} {
		for _, impl := range append(cpufeat.Available()[1:], cpufeat.Generic) {
			name := impl.String()
			if impl == cpufeat.Generic {
				name = "default"
			}
			b.Run(fmt.Sprintf("k=AbsMax/n=%d/impl=%s", n, name), func(b *testing.B) {
				if impl != cpufeat.Generic {
					defer cpufeat.Use(impl)()
				}
				b.SetBytes(int64(4 * n))
				for b.Loop() {
					sink += AbsMax(x[:n])
				}
			})
		}
	}
	if sink != sink {
		b.Fatal("NaN")
	}
}
