//go:build gc && !purego

package fakequant

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// The NEON FP8 kernels are the generic ones in assembly, bit for bit (the
// NaN outputs included). They handle the longest prefix whose length is a
// multiple of 4 and Go finishes the rest with the generic kernel.

// fakeQuantFP8NEON is fakeQuantFP8Generic for len(src) a multiple of 4.
//
//go:noescape
func fakeQuantFP8NEON(dst, src []float32, scale float32, k *fp8Vec)

// encodeFP8NEON is encodeFP8Generic for len(src) a multiple of 4, with
// big the fp8Vec row of the overflow code (vMaxCode or vOvfCode).
//
//go:noescape
func encodeFP8NEON(dst []uint8, src []float32, scale float32, big *[8]uint32, k *fp8Vec)

// decodeFP8NEON is decodeFP8Generic for len(src) a multiple of 4.
//
//go:noescape
func decodeFP8NEON(dst []float32, src []uint8, scale float32, k *fp8Vec)

func encodeFP8With(impl cpufeat.Impl, dst []uint8, src []float32, scale float32, p *fp8Params, saturate bool) {
	if impl == cpufeat.NEON {
		k := fp8VecOf(p)
		big := &k[vOvfCode]
		if saturate {
			big = &k[vMaxCode]
		}
		n := len(src) &^ 3
		encodeFP8NEON(dst[:n], src[:n], scale, big, k)
		dst, src = dst[n:], src[n:]
	}
	encodeFP8Generic(dst, src, scale, p, saturate)
}

func decodeFP8With(impl cpufeat.Impl, dst []float32, src []uint8, scale float32, p *fp8Params) {
	if impl == cpufeat.NEON {
		n := len(src) &^ 3
		decodeFP8NEON(dst[:n], src[:n], scale, fp8VecOf(p))
		dst, src = dst[n:], src[n:]
	}
	decodeFP8Generic(dst, src, scale, p)
}

func fakeQuantFP8With(impl cpufeat.Impl, dst, src []float32, scale float32, p *fp8Params) {
	if impl == cpufeat.NEON {
		n := len(src) &^ 3
		fakeQuantFP8NEON(dst[:n], src[:n], scale, fp8VecOf(p))
		dst, src = dst[n:], src[n:]
	}
	fakeQuantFP8Generic(dst, src, scale, p)
}

// fp8ImplName names the code the FP8 dispatch runs for family i.
func fp8ImplName(i cpufeat.Impl) string {
	if i == cpufeat.NEON {
		return "neon"
	}
	return "generic"
}
