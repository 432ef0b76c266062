package fakequant

import "math"

// The generic FP8 kernels are the specification of the assembly ones, bit
// for bit. They work on float32 bit patterns. With a = |x|'s bits, the
// float32 values that an FP8 format can hold in its normal range are those
// whose low shift = 23 - m mantissa bits are zero (m = 3 or 2 mantissa
// bits), so rounding to nearest even there is the integer addition
//
//	a + (1<<(shift-1) - 1) + (a>>shift)&1
//
// followed by clearing the low shift bits (a carry into the exponent is the
// correct rounding up to the next binade); rebiasing the exponent and
// shifting right by shift gives the code. Below the smallest normal value
// the FP8 values are multiples of the subnormal step, which that addition
// does not see, so the FPU rounds instead: adding the power of two magic,
// whose float32 ulp is the subnormal step, rounds |x| to a multiple of the
// step (ties to even), exactly, and subtracting it again is exact.

const signBit = 1 << 31

// decodeFP8One is the value of code c: the code's exponent and mantissa
// bits placed in a float32's (a float32 subnormal for an FP8 subnormal),
// scaled by 2^(127-bias), exact. NaN codes give the quiet NaN with the
// code's sign; E5M2's infinity codes give ±Inf.
func decodeFP8One(c uint8, p *fp8Params) float32 {
	sign := uint32(c&0x80) << 24
	m := uint32(c & 0x7F)
	switch {
	case m == uint32(p.infCode):
		return math.Float32frombits(sign | 0x7F800000)
	case m >= uint32(p.nanMin):
		return math.Float32frombits(sign | 0x7FC00000)
	}
	v := math.Float32frombits(m<<p.shift) * p.decMul
	return math.Float32frombits(math.Float32bits(v) | sign)
}

// roundFP8 is DecodeFP8(EncodeFP8(v)) with saturation, computed in the
// float domain: v rounded to the nearest value of the format (ties to
// even), clamped to ±max (the rounding of anything beyond satBits, ±Inf
// included, exceeds max), with NaN returned as is.
func roundFP8(v float32, p *fp8Params) float32 {
	b := math.Float32bits(v)
	a := b &^ signBit
	if a < p.minNormal {
		a = math.Float32bits(math.Float32frombits(a) + p.magic - p.magic)
	} else if a <= 0x7F800000 {
		a = min((a+p.roundBias+(a>>p.shift)&1)&^p.lowMask, p.maxBits)
	}
	return math.Float32frombits(a | b&signBit)
}

// fakeQuantFP8One is the fake quantization of one element with a scale.
func fakeQuantFP8One(x, scale float32, p *fp8Params) float32 {
	return roundFP8(x/scale, p) * scale
}

// encodeFP8Generic: dst[i] = the code of src[i] / scale (see EncodeFP8).
func encodeFP8Generic(dst []uint8, src []float32, scale float32, p *fp8Params, saturate bool) {
	dst = dst[:len(src)]
	big := p.ovfCode // the code of an overflow
	if saturate {
		big = p.maxCode
	}
	for i, x := range src {
		b := math.Float32bits(x / scale)
		a := b &^ signBit
		c := uint8(fp8NaN)
		switch {
		case a < p.minNormal:
			c = uint8(math.Float32bits(math.Float32frombits(a)+p.magic) - p.magicBits)
		case a <= p.satBits:
			c = uint8((a + p.roundBias + (a>>p.shift)&1 - p.expAdj) >> p.shift)
		case a <= 0x7F800000: // rounds beyond max, or ±Inf
			c = big
		}
		dst[i] = uint8(b>>24)&0x80 | c
	}
}

// decodeFP8Generic: dst[i] = value(src[i]) * scale.
func decodeFP8Generic(dst []float32, src []uint8, scale float32, p *fp8Params) {
	dst = dst[:len(src)]
	t := &p.decode
	for i, c := range src {
		dst[i] = t[c] * scale
	}
}

// fakeQuantFP8Generic: dst[i] = roundFP8(src[i] / scale) * scale.
func fakeQuantFP8Generic(dst, src []float32, scale float32, p *fp8Params) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = roundFP8(x/scale, p) * scale
	}
}
