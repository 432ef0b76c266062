// Package cpufeat decides once, at start-up, which SIMD kernel family this
// CPU runs (AVX-512, AVX2, NEON or the pure-Go generic code). Every kernel
// of the kernel packages (reduce, fakequant, histogram, internal/gemm) has
// one dispatch function, a switch over the family For (or Selected) returns
// with direct calls; their tests and the fuzz targets walk Available and
// switch families with Use. internal/qgemm refines Selected with the
// extensions (AVX512VNNI, ASIMDDP) into its own families, fixed when its
// weights are packed (qgemm.Families and qgemm.Use for its tests).
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
	AVX512              // amd64, 512-bit (F, BW, DQ and VL, with AVX2)
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
// test or benchmark chose another with Use.
var Selected = Best

// bySize reports whether For may switch families by length: true for the
// start-up choice, false once Use has forced a family.
var bySize = true

// sizeSwitch is SizeSwitch's answer for this CPU.
var sizeSwitch = avx2OutOfCache()

// SizeSwitch reports whether this CPU runs the AVX2 kernels on long slices
// where it selected AVX-512 (For): a CPU that executes AVX-512 as two
// 256-bit halves, AMD Zen 4, where the AVX2 code of some kernels was the
// faster out of cache (BENCHMARKS.md).
func SizeSwitch() bool { return sizeSwitch }

// For returns the family a kernel runs on n elements: Selected, except that
// under the start-up choice a CPU where SizeSwitch holds runs the AVX2
// kernel instead of the AVX-512 one from avx2From elements on (never when
// avx2From is 0). A kernel passes the length from which its AVX2 code was
// measured to be the faster.
func For(n, avx2From int) Impl {
	if Selected == AVX512 && bySize && sizeSwitch && avx2From > 0 && n >= avx2From {
		return AVX2
	}
	return Selected
}

// Use makes the kernel packages run family i at every length (no switch by
// size) and returns a function that restores the previous choice. It is
// meant for tests, benchmarks and fuzz targets, and must not be called
// while kernels run on other goroutines. It panics if this CPU cannot run
// i, rather than let the assembly fault.
func Use(i Impl) (restore func()) {
	if !Supported(i) {
		panic("cpufeat: " + i.String() + " is not supported on this CPU")
	}
	return set(i, false)
}

// Default restores the start-up choice, Best with the switches by size,
// and returns a function that restores the previous choice. Like Use, it
// is meant for tests and benchmarks.
func Default() (restore func()) { return set(Best, true) }

func set(i Impl, sized bool) (restore func()) {
	prev, prevSized := Selected, bySize
	Selected, bySize = i, sized
	return func() { Selected, bySize = prev, prevSized }
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
