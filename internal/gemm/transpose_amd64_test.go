//go:build gc && !purego

package gemm

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// TestTransposeDispatch fails unless the AVX2 and AVX-512 families pack
// with transpose8AVX2 and transpose6AVX2 (every whole block of 8
// columns), so that TestTranspose and TestInterleave6 cannot pass on the
// generic code alone.
func TestTransposeDispatch(t *testing.T) {
	src, dst := make([]float32, 8*20), make([]float32, 20*8)
	for _, impl := range cpufeat.Available() {
		restore := cpufeat.Use(impl)
		want := 0
		if impl != cpufeat.Generic {
			want = 16
		}
		if got := transposeBlocks(dst, 8, src, 20, 20); got != want {
			t.Errorf("%v: transposeBlocks did %d of 20 columns, want %d", impl, got, want)
		}
		if got := transpose6Blocks(dst, src, 20, 20); got != want {
			t.Errorf("%v: transpose6Blocks did %d of 20 columns, want %d", impl, got, want)
		}
		restore()
	}
}
