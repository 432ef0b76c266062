//go:build gc && !purego

package fakequant

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// The NEON kernels of kernels_arm64.s are the generic ones in assembly,
// bit for bit (NaN outputs may carry other NaN bits). Each handles all
// len(src) (or len(x)) elements, at least 4 (minLen): 16 per iteration,
// then 4, then, where len is not a multiple of 4, the last 4 elements
// again, computed before anything is stored, for the rest. The other
// slices are at least as long.

// fakeQuantNEON is fakeQuantGeneric: FMUL, FRINTN, torch's clamp built from
// FCMGT and BIT (so NaN propagates and -0.0 survives a bound of 0), FDIV.
//
//go:noescape
func fakeQuantNEON(dst, src []float32, sq, so, lo, hi float32)

// fakeQuantVecNEON is fakeQuantVecGeneric: fakeQuantNEON with sq[i] and so[i].
//
//go:noescape
func fakeQuantVecNEON(dst, src, sq, so []float32, lo, hi float32)

// quantInt8NEON is quantInt8Generic: the fakeQuantNEON steps up to the
// clamp, then FCVTZS (NaN becomes 0) and two saturating narrowings to int8.
//
//go:noescape
func quantInt8NEON(dst []int8, src []float32, sq, lo, hi float32)

// quantLinearNEON is quantLinearGeneric: FDIV, FMAXNM against lo (NaN
// gives lo), FMIN against hi, FCVTNS (half to even), the zero point added,
// and two truncating narrowings to the low bytes.
//
//go:noescape
func quantLinearNEON(dst []byte, src []float32, scale, lo, hi float32, zp int32)

// dequantInt8NEON is dequantInt8Generic: sign-extend to int32, SCVTF, FDIV.
//
//go:noescape
func dequantInt8NEON(dst []float32, src []int8, so float32)

// steNEON is steGeneric: FABS, FCMGE against amax (false for NaN), and an
// AND with dy that leaves +0 where the test fails.
//
//go:noescape
func steNEON(dst, x, dy []float32, amax float32)

// minLen is the shortest slice the kernels take: one 4-lane vector.
const minLen = 4

// The dispatchers: the kernel of the family, or the generic code for
// slices shorter than minLen.

func fakeQuant(dst, src []float32, sq, so, lo, hi float32) {
	dst = dst[:len(src)]
	if len(src) >= minLen {
		switch family(kFakeQuant, len(src)) {
		case cpufeat.NEON:
			fakeQuantNEON(dst, src, sq, so, lo, hi)
			return
		}
	}
	fakeQuantGeneric(dst, src, sq, so, lo, hi)
}

func fakeQuantVec(dst, src, sq, so []float32, lo, hi float32) {
	dst, sq, so = dst[:len(src)], sq[:len(src)], so[:len(src)]
	if len(src) >= minLen {
		switch family(kFakeQuantVec, len(src)) {
		case cpufeat.NEON:
			fakeQuantVecNEON(dst, src, sq, so, lo, hi)
			return
		}
	}
	fakeQuantVecGeneric(dst, src, sq, so, lo, hi)
}

func quantInt8(dst []int8, src []float32, sq, lo, hi float32) {
	dst = dst[:len(src)]
	if len(src) >= minLen {
		switch family(kQuantInt8, len(src)) {
		case cpufeat.NEON:
			quantInt8NEON(dst, src, sq, lo, hi)
			return
		}
	}
	quantInt8Generic(dst, src, sq, lo, hi)
}

func quantLinear(dst []byte, src []float32, scale, lo, hi float32, zp int32) {
	dst = dst[:len(src)]
	if len(src) >= minLen {
		switch family(kQuantLinear, len(src)) {
		case cpufeat.NEON:
			quantLinearNEON(dst, src, scale, lo, hi, zp)
			return
		}
	}
	quantLinearGeneric(dst, src, scale, lo, hi, zp)
}

func dequantInt8(dst []float32, src []int8, so float32) {
	dst = dst[:len(src)]
	if len(src) >= minLen {
		switch family(kDequant, len(src)) {
		case cpufeat.NEON:
			dequantInt8NEON(dst, src, so)
			return
		}
	}
	dequantInt8Generic(dst, src, so)
}

func ste(dst, x, dy []float32, amax float32) {
	dst, dy = dst[:len(x)], dy[:len(x)]
	if len(x) >= minLen {
		switch family(kSTE, len(x)) {
		case cpufeat.NEON:
			steNEON(dst, x, dy, amax)
			return
		}
	}
	steGeneric(dst, x, dy, amax)
}
