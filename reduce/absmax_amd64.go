//go:build gc && !purego

package reduce

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// absMaxAVX2 is absMaxGeneric on 256-bit vectors (AVX2), 32 elements per
// iteration and a scalar tail.
//
//go:noescape
func absMaxAVX2(x []float32) float32

// absMaxAVX512 is absMaxGeneric on 512-bit vectors (AVX-512F), 64 elements
// per iteration and a masked tail.
//
//go:noescape
func absMaxAVX512(x []float32) float32

// absMax dispatches AbsMax to the kernel family in cpufeat.Selected. Go does
// not vectorize the reduction; the assembly is 9-80 times faster than
// absMaxGeneric (BENCHMARKS.md), and AVX-512 at least as fast as AVX2.
func absMax(x []float32) float32 {
	switch cpufeat.Selected {
	case cpufeat.AVX512:
		return absMaxAVX512(x)
	case cpufeat.AVX2:
		return absMaxAVX2(x)
	default:
		return absMaxGeneric(x)
	}
}

// implName names the family absMax really runs for cpufeat.Selected.
func implName() string {
	switch cpufeat.Selected {
	case cpufeat.AVX512:
		return "avx512"
	case cpufeat.AVX2:
		return "avx2"
	default:
		return "generic"
	}
}
