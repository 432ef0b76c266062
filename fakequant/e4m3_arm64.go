//go:build gc && !purego

package fakequant

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// scaledE4M3NEON (e4m3_arm64.s) is scaledE4M3Generic, bit for bit (the NaN
// outputs included), for len(src) >= minLen, as the other kernels handle
// it.
//
//go:noescape
func scaledE4M3NEON(dst, src []float32, scale float32)

// scaledE4M3 is the dispatch of the scaled E4M3 fake quantization: the
// kernel of the family, or the generic code for slices shorter than minLen.
func scaledE4M3(dst, src []float32, scale float32) {
	dst = dst[:len(src)]
	if len(src) >= minLen {
		switch family(kScaledE4M3, len(src)) {
		case cpufeat.NEON:
			scaledE4M3NEON(dst, src, scale)
			return
		}
	}
	scaledE4M3Generic(dst, src, scale)
}
