package fakequant

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// kernel names one kernel for its dispatch (family). Every kernel has one
// dispatch function in kernels_<arch>.go or fp8_<arch>.go: a switch over
// family(k, len) with direct calls to the assembly, which takes the whole
// slice, or the generic code for slices shorter than one vector (minLen).
type kernel int

const (
	kFakeQuant kernel = iota
	kFakeQuantVec
	kQuantInt8
	kQuantLinear
	kDequant
	kSTE
	kFakeQuantFP8
	kEncodeFP8
	kDecodeFP8
	kScaledE4M3
	numKernels
)

// avx2From is, per kernel, the length from which a CPU with AVX-512 where
// cpufeat.SizeSwitch holds (Zen 4) runs the kernel's AVX2 code instead
// (cpufeat.For; 0: never). Out of its 32 MiB last-level cache, STE was
// 6-18% faster with AVX2; every other kernel was as fast or faster with
// AVX-512 at every length (BENCHMARKS.md).
var avx2From = [numKernels]int{kSTE: 8 << 20}

// family is the kernel family kernel k runs on n elements.
func family(k kernel, n int) cpufeat.Impl { return cpufeat.For(n, avx2From[k]) }
