//go:build gc && (amd64 || arm64) && !purego

package fakequant

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// TestDispatchUsesBestFamily fails when a kernel does not run the family
// this CPU should run at a length: the INT8 and FP8 kernels alike (each
// family has kernels of its own, which the exhaustive FP8 test relies on),
// with the lengths from which CPUs with AVX-512 run AVX2 (BENCHMARKS.md).
func TestDispatchUsesBestFamily(t *testing.T) {
	var ds []kerneltest.Dispatch
	for _, k := range []struct {
		name     string
		k        kernel
		avx2From int
	}{
		{"FakeQuant", kFakeQuant, 0},
		{"FakeQuantVec", kFakeQuantVec, 0},
		{"QuantInt8", kQuantInt8, 0},
		{"QuantLinear", kQuantLinear, 0},
		{"Dequant", kDequant, 0},
		{"STE", kSTE, 8 << 20},
		{"FakeQuantFP8", kFakeQuantFP8, 0},
		{"EncodeFP8", kEncodeFP8, 0},
		{"DecodeFP8", kDecodeFP8, 0},
		{"ScaledE4M3", kScaledE4M3, 0},
	} {
		ds = append(ds, kerneltest.Dispatch{Kernel: k.name, AVX2From: k.avx2From,
			Family: func(n int) cpufeat.Impl { return family(k.k, n) }})
	}
	if len(ds) != int(numKernels) {
		t.Fatalf("%d kernels checked, %d declared", len(ds), numKernels)
	}
	kerneltest.CheckDispatch(t, ds...)
}
