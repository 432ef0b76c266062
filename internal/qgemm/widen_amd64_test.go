//go:build gc && !purego

package qgemm

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// TestWidenDispatch fails unless every amd64 family but the generic one
// widens with widenAVX2 (the whole blocks of 16 bytes), so that
// TestWidenCopy cannot pass on the Go code alone.
func TestWidenDispatch(t *testing.T) {
	src, dst := make([]byte, 40), make([]byte, 80)
	for _, impl := range cpufeat.Available() {
		restore := cpufeat.Use(impl)
		want := 32
		if selected() == famGeneric {
			want = 0
		}
		if got := widenBlocks(dst, src, 0); got != want {
			t.Errorf("%v: widenBlocks did %d of 40 bytes, want %d", impl, got, want)
		}
		restore()
	}
}
