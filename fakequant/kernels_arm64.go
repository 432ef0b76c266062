//go:build gc && !purego

package fakequant

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// The NEON kernels are the generic ones in assembly, bit for bit (NaN
// outputs may carry other NaN bits). Each handles all of its input,
// 16 elements per iteration, then 4, then 1 (a single lane run through the
// same vector instructions), and reads and writes nothing past len(src) (or
// len(x)). The dispatchers reslice dst and the scale slices to that length
// first, so a short slice panics in Go before any assembly runs.

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

// dequantInt8NEON is dequantInt8Generic: sign-extend to int32, SCVTF, FDIV.
//
//go:noescape
func dequantInt8NEON(dst []float32, src []int8, so float32)

// steNEON is steGeneric: FABS, FCMGE against amax (false for NaN), and an
// AND with dy that leaves +0 where the test fails.
//
//go:noescape
func steNEON(dst, x, dy []float32, amax float32)

// The dispatchers send each kernel to the family in cpufeat.Selected.

func fakeQuant(dst, src []float32, sq, so, lo, hi float32) {
	switch cpufeat.Selected {
	case cpufeat.NEON:
		fakeQuantNEON(dst[:len(src)], src, sq, so, lo, hi)
	default:
		fakeQuantGeneric(dst, src, sq, so, lo, hi)
	}
}

func fakeQuantVec(dst, src, sq, so []float32, lo, hi float32) {
	switch cpufeat.Selected {
	case cpufeat.NEON:
		n := len(src)
		fakeQuantVecNEON(dst[:n], src, sq[:n], so[:n], lo, hi)
	default:
		fakeQuantVecGeneric(dst, src, sq, so, lo, hi)
	}
}

func quantInt8(dst []int8, src []float32, sq, lo, hi float32) {
	switch cpufeat.Selected {
	case cpufeat.NEON:
		quantInt8NEON(dst[:len(src)], src, sq, lo, hi)
	default:
		quantInt8Generic(dst, src, sq, lo, hi)
	}
}

func dequantInt8(dst []float32, src []int8, so float32) {
	switch cpufeat.Selected {
	case cpufeat.NEON:
		dequantInt8NEON(dst[:len(src)], src, so)
	default:
		dequantInt8Generic(dst, src, so)
	}
}

func ste(dst, x, dy []float32, amax float32) {
	switch cpufeat.Selected {
	case cpufeat.NEON:
		n := len(x)
		steNEON(dst[:n], x, dy[:n], amax)
	default:
		steGeneric(dst, x, dy, amax)
	}
}

// implName names the family the dispatchers really use for cpufeat.Selected.
func implName() string {
	switch cpufeat.Selected {
	case cpufeat.NEON:
		return "neon"
	default:
		return "generic"
	}
}
