package reduce

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// BenchmarkAbsMax is the kernel benchmark `make bench` runs (see
// internal/testkit/kerneltest and BENCHMARKS.md); naive is naiveAbsMax from
// the tests.
func BenchmarkAbsMax(b *testing.B) {
	x := kerneltest.Float32s(kerneltest.MaxN, 1)
	var sink float32
	kerneltest.Run(b, family,
		func(n int) { sink += AbsMax(x[:n]) },
		func(n int) { sink += naiveAbsMax(x[:n]) })
	if sink != sink {
		b.Fatal("NaN abs-max of finite inputs")
	}
}
