//go:build gc && !purego

package fakequant

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// The NEON FP8 kernels of fp8_arm64.s are the generic ones of
// fp8_generic.go in assembly, bit for bit (the NaN outputs included), for
// len(src) >= minLen, as the other kernels handle it; big is the fp8Vec row
// of the overflow code (fp8Big).

//go:noescape
func fakeQuantFP8NEON(dst, src []float32, scale float32, k *fp8Vec)

//go:noescape
func encodeFP8NEON(dst []uint8, src []float32, scale float32, big *[8]uint32, k *fp8Vec)

//go:noescape
func decodeFP8NEON(dst []float32, src []uint8, scale float32, k *fp8Vec)

// The dispatchers: the kernel of the family, or the generic code for
// slices shorter than minLen.

func encodeFP8(dst []uint8, src []float32, scale float32, p *fp8Params, saturate bool) {
	dst = dst[:len(src)]
	if len(src) >= minLen {
		switch family(kEncodeFP8, len(src)) {
		case cpufeat.NEON:
			encodeFP8NEON(dst, src, scale, fp8Big(p, saturate), fp8VecOf(p))
			return
		}
	}
	encodeFP8Generic(dst, src, scale, p, saturate)
}

func decodeFP8(dst []float32, src []uint8, scale float32, p *fp8Params) {
	dst = dst[:len(src)]
	if len(src) >= minLen {
		switch family(kDecodeFP8, len(src)) {
		case cpufeat.NEON:
			decodeFP8NEON(dst, src, scale, fp8VecOf(p))
			return
		}
	}
	decodeFP8Generic(dst, src, scale, p)
}

func fakeQuantFP8(dst, src []float32, scale float32, p *fp8Params) {
	dst = dst[:len(src)]
	if len(src) >= minLen {
		switch family(kFakeQuantFP8, len(src)) {
		case cpufeat.NEON:
			fakeQuantFP8NEON(dst, src, scale, fp8VecOf(p))
			return
		}
	}
	fakeQuantFP8Generic(dst, src, scale, p)
}
