// Package cpufeat decides once, at start-up, which SIMD kernel family this
// CPU runs (AVX-512, AVX2, NEON or the pure-Go generic code). The kernel
// packages (reduce, fakequant, histogram) dispatch on Selected with plain
// switch statements; their tests and the fuzz targets walk Available and
// switch families with Use.
//
// Under the purego build tag, or on an architecture without assembly, only
// Generic exists. GODEBUG=cpu.avx512f=off, cpu.avx2=off and cpu.asimd=off
// (read by golang.org/x/sys/cpu) remove a family, so every fallback can be
// exercised on one machine.
package cpufeat

// Impl names one kernel family.
type Impl uint8

// The kernel families, from the portable one to the widest.
const (
	Generic Impl = iota // pure Go; the executable specification
	AVX2                // amd64, 256-bit
	AVX512              // amd64, 512-bit (F, BW, DQ and VL)
	NEON                // arm64, 128-bit ASIMD
)

// String returns the family's lower-case name: "generic", "avx2", "avx512"
// or "neon".
func (i Impl) String() string {
	switch i {
	case Generic:
		return "generic"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	case NEON:
		return "neon"
	}
	return "unknown"
}

// Best is the widest family this CPU supports.
var Best = best()

// Selected is the family the kernel packages dispatch to: Best, unless a
// test or benchmark chose another with Use. A package that has no kernel of
// the selected family runs its generic code.
var Selected = Best

// Use makes the kernel packages dispatch to family i and returns a function
// that restores the previous choice. It is meant for tests, benchmarks and
// fuzz targets, and must not be called while kernels run on other
// goroutines. It panics if this CPU cannot run i, rather than let the
// assembly fault.
func Use(i Impl) (restore func()) {
	if !Supported(i) {
		panic("cpufeat: " + i.String() + " is not supported on this CPU")
	}
	prev := Selected
	Selected = i
	return func() { Selected = prev }
}

// Available returns every family this CPU supports, Generic first.
func Available() []Impl {
	var out []Impl
	for _, i := range []Impl{Generic, AVX2, AVX512, NEON} {
		if Supported(i) {
			out = append(out, i)
		}
	}
	return out
}

func best() Impl {
	a := Available()
	return a[len(a)-1]
}
