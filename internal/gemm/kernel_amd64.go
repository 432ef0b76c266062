//go:build gc && !purego

package gemm

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// sgemmAVX2 is kernelGeneric for a 6×16 tile with fused multiply-adds:
// a holds k×6 values, b k×16, c at least 5·ldc+16.
//
//go:noescape
func sgemmAVX2(k int, a, b, c []float32, ldc int, acc bool)

// sgemmAVX512 is kernelGeneric for an 8×32 tile with fused multiply-adds:
// a holds k×8 values, b k×32, c at least 7·ldc+32.
//
//go:noescape
func sgemmAVX512(k int, a, b, c []float32, ldc int, acc bool)

// selectKernel returns the micro-kernel of the family in cpufeat.Selected.
func selectKernel() kernel {
	switch cpufeat.Selected {
	case cpufeat.AVX512:
		return kernel{impl: cpufeat.AVX512, mr: 8, nr: 32, mc: 16 * 8}
	case cpufeat.AVX2:
		return kernel{impl: cpufeat.AVX2, mr: 6, nr: 16, mc: 24 * 6}
	}
	return kernel{impl: cpufeat.Generic, mr: mrGeneric, nr: nrGeneric, mc: 64 * mrGeneric}
}

func microKernel(impl cpufeat.Impl, k int, a, b, c []float32, ldc int, acc bool) {
	switch impl {
	case cpufeat.AVX512:
		sgemmAVX512(k, a, b, c, ldc, acc)
	case cpufeat.AVX2:
		sgemmAVX2(k, a, b, c, ldc, acc)
	default:
		kernelGeneric(k, a, b, c, ldc, acc)
	}
}
