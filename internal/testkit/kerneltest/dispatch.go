package kerneltest

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// preference is the order in which dispatch must pick a family: AVX-512
// wherever it is supported (on amd64 it was the faster family for every
// kernel and size measured, see BENCHMARKS.md), then AVX2, then NEON.
var preference = []cpufeat.Impl{cpufeat.AVX512, cpufeat.AVX2, cpufeat.NEON}

// CheckDispatch fails t unless implName, a package's report of the family
// its dispatch really runs, names the most preferred family this CPU
// supports (per cpufeat.Supported) when cpufeat.Selected is cpufeat.Best,
// and names each available family when that one is selected with
// cpufeat.Use. Call it only where the package has assembly.
func CheckDispatch(t *testing.T, implName func() string) {
	t.Helper()
	want := cpufeat.Generic
	for _, p := range preference {
		if cpufeat.Supported(p) {
			want = p
			break
		}
	}
	restore := cpufeat.Use(cpufeat.Best)
	got := implName()
	restore()
	if got != want.String() {
		t.Errorf("dispatch runs %q with cpufeat.Best = %v; this CPU supports %q", got, cpufeat.Best, want)
	}
	for _, impl := range cpufeat.Available() {
		restore := cpufeat.Use(impl)
		got := implName()
		restore()
		if got != impl.String() {
			t.Errorf("under cpufeat.Use(%v) dispatch runs %q", impl, got)
		}
	}
}

// ForEachImpl runs f as a subtest once per kernel family this machine
// supports (named after it), with the packages dispatching to that family.
func ForEachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, i := range cpufeat.Available() {
		restore := cpufeat.Use(i)
		t.Run(i.String(), f)
		restore()
	}
}
