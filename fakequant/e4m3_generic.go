package fakequant

import "math"

// e4m3Tiny is 2^-24: the original's scaled_e4m3 returns +0 for every input
// whose magnitude is below it (strictly).
const e4m3Tiny = 0x1p-24

// scaledE4M3One is the original's scaled_e4m3 of one element with the
// scale e4m3Scale(amax): roundFP8 of E4M3FN is CUDA's saturating
// conversion and back, and the result is divided, not multiplied by the
// reciprocal.
func scaledE4M3One(x, scale float32) float32 {
	if math.Float32frombits(math.Float32bits(x)&^signBit) < e4m3Tiny {
		return 0
	}
	return roundFP8(x*scale, &fp8E4M3FN) / scale
}

// scaledE4M3Generic: dst[i] = scaledE4M3One(src[i], scale). It is the
// specification of the assembly kernels, bit for bit (any NaN matching any
// NaN).
func scaledE4M3Generic(dst, src []float32, scale float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = scaledE4M3One(x, scale)
	}
}
