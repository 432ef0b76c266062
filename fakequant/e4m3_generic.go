package fakequant

import "math"

// e4m3TinyBits are the bits of 2^-24: the original's scaled_e4m3 returns
// +0 for every input whose magnitude is below it (strictly), which for
// the bits of |x| is the same comparison.
const e4m3TinyBits = 0x33800000

// scaledE4M3Generic: dst[i] = the original's scaled_e4m3 of src[i] with
// the scale e4m3Scale(amax). roundFP8 of E4M3FN is CUDA's saturating
// conversion and back, and the result is divided, not multiplied by the
// reciprocal. It is the specification of the assembly kernels, bit for
// bit (any NaN matching any NaN).
func scaledE4M3Generic(dst, src []float32, scale float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		y := roundFP8(x*scale, &fp8E4M3FN) / scale
		if math.Float32bits(x)&^signBit < e4m3TinyBits {
			y = 0
		}
		dst[i] = y
	}
}

// scaledE4M3One is scaledE4M3Generic for one element.
func scaledE4M3One(x, scale float32) float32 {
	y := [1]float32{x}
	scaledE4M3Generic(y[:], y[:], scale)
	return y[0]
}
