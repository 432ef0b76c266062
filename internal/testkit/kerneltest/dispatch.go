package kerneltest

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// preference is the order in which dispatch must pick a family: AVX-512
// wherever it is supported, then AVX2, then NEON (BENCHMARKS.md).
var preference = []cpufeat.Impl{cpufeat.AVX512, cpufeat.AVX2, cpufeat.NEON}

// Dispatch is one kernel's dispatch as its package's test expects it.
type Dispatch struct {
	Kernel string
	// Family is the package's dispatch choice: the family the kernel runs
	// on n elements.
	Family func(n int) cpufeat.Impl
	// AVX2From is the length from which a CPU with AVX-512 must run the
	// kernel's AVX2 code (0: never).
	AVX2From int
}

// CheckDispatch fails t unless, under the start-up choice
// (cpufeat.Default), each kernel runs the most preferred family this CPU
// supports (per cpufeat.Supported), or AVX2 from d.AVX2From elements on
// where that family is AVX-512 and cpufeat.SizeSwitch holds; and unless,
// under cpufeat.Use, it runs the forced family at every length. Call it
// only where the package has assembly, so that a broken dispatch cannot
// hide behind the generic fallback that passes every other test.
func CheckDispatch(t *testing.T, ds ...Dispatch) {
	t.Helper()
	best := cpufeat.Generic
	for _, p := range preference {
		if cpufeat.Supported(p) {
			best = p
			break
		}
	}
	for _, d := range ds {
		lengths := []int{0, 1, 4 << 10, 1 << 30}
		if d.AVX2From > 0 {
			lengths = append(lengths, d.AVX2From-1, d.AVX2From)
		}
		restore := cpufeat.Default()
		for _, n := range lengths {
			want := best
			if best == cpufeat.AVX512 && cpufeat.SizeSwitch() && d.AVX2From > 0 && n >= d.AVX2From {
				want = cpufeat.AVX2
			}
			if got := d.Family(n); got != want {
				t.Errorf("%s on %d elements runs %v; this CPU supports %v, which should run", d.Kernel, n, got, want)
			}
		}
		restore()
		for _, impl := range cpufeat.Available() {
			restore := cpufeat.Use(impl)
			for _, n := range lengths {
				if got := d.Family(n); got != impl {
					t.Errorf("%s on %d elements under cpufeat.Use(%v) runs %v", d.Kernel, n, impl, got)
				}
			}
			restore()
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
