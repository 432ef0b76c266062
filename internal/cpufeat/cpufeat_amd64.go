//go:build gc && !purego

package cpufeat

import "golang.org/x/sys/cpu"

// Supported reports whether this CPU (and build) can run family i.
func Supported(i Impl) bool {
	switch i {
	case Generic:
		return true
	case AVX2:
		return cpu.X86.HasAVX2
	case AVX512:
		// The AVX-512 kernels use AVX2 forms too, and hand long slices to
		// the AVX2 kernels (For): GODEBUG=cpu.avx2=off turns both off.
		return cpu.X86.HasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL
	}
	return false
}

// avx2OutOfCache tells Zen 4, which executes AVX-512 as two 256-bit halves
// and stores 512 bits in two cycles, from Zen 5 and recent Intel cores,
// whose full-width AVX-512 stayed ahead of AVX2 at every length: Zen 5 and
// Sapphire Rapids added AVX-VNNI, which Zen 4 lacks. (The Intel cores with
// AVX-512 but without AVX-VNNI, Skylake-X to Ice Lake, fall on Zen 4's
// side; they were not measured.)
func avx2OutOfCache() bool { return !cpu.X86.HasAVXVNNI }
