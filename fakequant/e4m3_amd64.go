//go:build gc && !purego

package fakequant

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// The scaled E4M3 kernels in assembly (e4m3_amd64.s) are
// scaledE4M3Generic, bit for bit (the NaN outputs included). The AVX2 one
// handles the longest prefix whose length is a multiple of 8 and Go
// finishes the rest; the AVX-512 one handles everything, the tail under a
// mask.

// scaledE4M3AVX2 is scaledE4M3Generic for len(src) a multiple of 8.
//
//go:noescape
func scaledE4M3AVX2(dst, src []float32, scale float32)

// scaledE4M3AVX512 is scaledE4M3Generic.
//
//go:noescape
func scaledE4M3AVX512(dst, src []float32, scale float32)

func scaledE4M3With(impl cpufeat.Impl, dst, src []float32, scale float32) {
	switch impl {
	case cpufeat.AVX512:
		scaledE4M3AVX512(dst[:len(src)], src, scale)
		return
	case cpufeat.AVX2:
		n := len(src) &^ 7
		scaledE4M3AVX2(dst[:n], src[:n], scale)
		dst, src = dst[n:], src[n:]
	}
	scaledE4M3Generic(dst, src, scale)
}
