//go:build gc && !purego

package fakequant

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// The FP8 kernels in assembly are the generic ones, bit for bit (the NaN
// outputs included). The AVX2 ones handle the longest prefix whose length
// is a multiple of 8 and Go finishes the rest with the generic kernel; the
// AVX-512 ones handle everything, the tail under a mask.

// fakeQuantFP8AVX2 is fakeQuantFP8Generic for len(src) a multiple of 8.
//
//go:noescape
func fakeQuantFP8AVX2(dst, src []float32, scale float32, k *fp8Vec)

// encodeFP8AVX2 is encodeFP8Generic for len(src) a multiple of 8, with
// big the fp8Vec row of the overflow code (vMaxCode or vOvfCode).
//
//go:noescape
func encodeFP8AVX2(dst []uint8, src []float32, scale float32, big *[8]uint32, k *fp8Vec)

// decodeFP8AVX2 is decodeFP8Generic for len(src) a multiple of 8.
//
//go:noescape
func decodeFP8AVX2(dst []float32, src []uint8, scale float32, k *fp8Vec)

// fakeQuantFP8AVX512 is fakeQuantFP8Generic.
//
//go:noescape
func fakeQuantFP8AVX512(dst, src []float32, scale float32, k *fp8Vec)

// encodeFP8AVX512 is encodeFP8Generic, with big as for encodeFP8AVX2.
//
//go:noescape
func encodeFP8AVX512(dst []uint8, src []float32, scale float32, big *[8]uint32, k *fp8Vec)

// decodeFP8AVX512 is decodeFP8Generic.
//
//go:noescape
func decodeFP8AVX512(dst []float32, src []uint8, scale float32, k *fp8Vec)

func encodeFP8With(impl cpufeat.Impl, dst []uint8, src []float32, scale float32, p *fp8Params, saturate bool) {
	k := fp8VecOf(p)
	big := &k[vOvfCode]
	if saturate {
		big = &k[vMaxCode]
	}
	switch impl {
	case cpufeat.AVX512:
		encodeFP8AVX512(dst[:len(src)], src, scale, big, k)
		return
	case cpufeat.AVX2:
		n := len(src) &^ 7
		encodeFP8AVX2(dst[:n], src[:n], scale, big, k)
		dst, src = dst[n:], src[n:]
	}
	encodeFP8Generic(dst, src, scale, p, saturate)
}

func decodeFP8With(impl cpufeat.Impl, dst []float32, src []uint8, scale float32, p *fp8Params) {
	switch impl {
	case cpufeat.AVX512:
		decodeFP8AVX512(dst[:len(src)], src, scale, fp8VecOf(p))
		return
	case cpufeat.AVX2:
		n := len(src) &^ 7
		decodeFP8AVX2(dst[:n], src[:n], scale, fp8VecOf(p))
		dst, src = dst[n:], src[n:]
	}
	decodeFP8Generic(dst, src, scale, p)
}

func fakeQuantFP8With(impl cpufeat.Impl, dst, src []float32, scale float32, p *fp8Params) {
	switch impl {
	case cpufeat.AVX512:
		fakeQuantFP8AVX512(dst[:len(src)], src, scale, fp8VecOf(p))
		return
	case cpufeat.AVX2:
		n := len(src) &^ 7
		fakeQuantFP8AVX2(dst[:n], src[:n], scale, fp8VecOf(p))
		dst, src = dst[n:], src[n:]
	}
	fakeQuantFP8Generic(dst, src, scale, p)
}

// fp8ImplName names the code the FP8 dispatch runs for family i.
func fp8ImplName(i cpufeat.Impl) string {
	switch i {
	case cpufeat.AVX2, cpufeat.AVX512:
		return i.String()
	}
	return "generic"
}
