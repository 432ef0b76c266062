//go:build gc && !purego

package fakequant

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// The assembly kernels in kernels_amd64.s compute exactly what their
// generic counterparts in kernels_generic.go do (the doc comments there are
// the specification), on 256-bit (AVX2) or 512-bit (AVX-512) vectors: Go
// does not vectorize, and the scalar loops run 7-60 times slower (see
// BENCHMARKS.md). dst has the length of src (the dispatchers reslice it).
// AVX-512 is preferred for every kernel: on the Zen 5 measured it was the
// faster family in cache and at least as fast out of it.

//go:noescape
func fakeQuantAVX2(dst, src []float32, sq, so, lo, hi float32)

//go:noescape
func fakeQuantAVX512(dst, src []float32, sq, so, lo, hi float32)

//go:noescape
func fakeQuantVecAVX2(dst, src, sq, so []float32, lo, hi float32)

//go:noescape
func fakeQuantVecAVX512(dst, src, sq, so []float32, lo, hi float32)

//go:noescape
func quantInt8AVX2(dst []int8, src []float32, sq, lo, hi float32)

//go:noescape
func quantInt8AVX512(dst []int8, src []float32, sq, lo, hi float32)

//go:noescape
func dequantInt8AVX2(dst []float32, src []int8, so float32)

//go:noescape
func dequantInt8AVX512(dst []float32, src []int8, so float32)

//go:noescape
func steAVX2(dst, x, dy []float32, amax float32)

//go:noescape
func steAVX512(dst, x, dy []float32, amax float32)

// The dispatchers send each kernel to the family in cpufeat.Selected.

func fakeQuant(dst, src []float32, sq, so, lo, hi float32) {
	switch cpufeat.Selected {
	case cpufeat.AVX512:
		fakeQuantAVX512(dst[:len(src)], src, sq, so, lo, hi)
	case cpufeat.AVX2:
		fakeQuantAVX2(dst[:len(src)], src, sq, so, lo, hi)
	default:
		fakeQuantGeneric(dst, src, sq, so, lo, hi)
	}
}

func fakeQuantVec(dst, src, sq, so []float32, lo, hi float32) {
	switch cpufeat.Selected {
	case cpufeat.AVX512:
		fakeQuantVecAVX512(dst[:len(src)], src, sq[:len(src)], so[:len(src)], lo, hi)
	case cpufeat.AVX2:
		fakeQuantVecAVX2(dst[:len(src)], src, sq[:len(src)], so[:len(src)], lo, hi)
	default:
		fakeQuantVecGeneric(dst, src, sq, so, lo, hi)
	}
}

func quantInt8(dst []int8, src []float32, sq, lo, hi float32) {
	switch cpufeat.Selected {
	case cpufeat.AVX512:
		quantInt8AVX512(dst[:len(src)], src, sq, lo, hi)
	case cpufeat.AVX2:
		quantInt8AVX2(dst[:len(src)], src, sq, lo, hi)
	default:
		quantInt8Generic(dst, src, sq, lo, hi)
	}
}

func dequantInt8(dst []float32, src []int8, so float32) {
	switch cpufeat.Selected {
	case cpufeat.AVX512:
		dequantInt8AVX512(dst[:len(src)], src, so)
	case cpufeat.AVX2:
		dequantInt8AVX2(dst[:len(src)], src, so)
	default:
		dequantInt8Generic(dst, src, so)
	}
}

func ste(dst, x, dy []float32, amax float32) {
	switch cpufeat.Selected {
	case cpufeat.AVX512:
		steAVX512(dst[:len(x)], x, dy[:len(x)], amax)
	case cpufeat.AVX2:
		steAVX2(dst[:len(x)], x, dy[:len(x)], amax)
	default:
		steGeneric(dst, x, dy, amax)
	}
}

// implName names the family the dispatchers really use for cpufeat.Selected.
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
