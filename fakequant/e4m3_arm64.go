//go:build gc && !purego

package fakequant

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// scaledE4M3NEON (e4m3_arm64.s) is scaledE4M3Generic, bit for bit (the NaN
// outputs included), for len(src) a multiple of 4; Go finishes the rest.
//
//go:noescape
func scaledE4M3NEON(dst, src []float32, scale float32)

func scaledE4M3With(impl cpufeat.Impl, dst, src []float32, scale float32) {
	if impl == cpufeat.NEON {
		n := len(src) &^ 3
		scaledE4M3NEON(dst[:n], src[:n], scale)
		dst, src = dst[n:], src[n:]
	}
	scaledE4M3Generic(dst, src, scale)
}
