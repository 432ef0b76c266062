//go:build gc && !purego

package reduce

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// TestDispatchNEON fails if a CPU with ASIMD does not run the NEON kernel
// when the best family is selected, and checks that the fallback (for
// example under GODEBUG=cpu.asimd=off) reports itself as generic.
func TestDispatchNEON(t *testing.T) {
	restore := cpufeat.Use(cpufeat.Best)
	defer restore()
	want := "generic"
	if cpufeat.Supported(cpufeat.NEON) {
		want = "neon"
	}
	if got := Implementation(); got != want {
		t.Fatalf("Implementation() = %q with Selected = Best = %v, want %q", got, cpufeat.Best, want)
	}
	cpufeat.Use(cpufeat.Generic)
	if got := implName(); got != "generic" {
		t.Fatalf("implName() = %q with Selected = Generic", got)
	}
}
