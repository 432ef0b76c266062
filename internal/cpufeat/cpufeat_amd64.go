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
