package cpufeat

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for i, want := range []string{"generic", "avx2", "avx512", "neon", "unknown"} {
		if got := Impl(i).String(); got != want {
			t.Errorf("Impl(%d) = %q, want %q", i, got, want)
		}
	}
}

func TestBestIsWidestAvailable(t *testing.T) {
	a := Available()
	if a[0] != Generic {
		t.Fatalf("Available() = %v, want Generic first", a)
	}
	if Best != a[len(a)-1] {
		t.Fatalf("Best = %v, Available = %v", Best, a)
	}
}

// TestRequired fails when KERNELS_REQUIRE (for example "avx2,avx512") names a
// family this machine should run but that was not detected, so a broken
// detection cannot hide behind the generic fallback in CI.
func TestRequired(t *testing.T) {
	req := os.Getenv("KERNELS_REQUIRE")
	if req == "" {
		t.Skip("KERNELS_REQUIRE not set")
	}
	var names []string
	for _, i := range Available() {
		names = append(names, i.String())
	}
	for _, r := range strings.Split(req, ",") {
		if !slices.Contains(names, strings.TrimSpace(r)) {
			t.Errorf("KERNELS_REQUIRE names %q but only %v are available", r, names)
		}
	}
}
