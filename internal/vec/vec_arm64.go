//go:build gc && !purego

package vec

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// finishNEON is finishGeneric on 128-bit vectors for the first len(x) &^ 3
// elements (the caller does the rest). NEON's FMAX and FMIN are Go's max
// and min (NaN propagates, -0 < +0), so no fix-up is needed; add may be
// nil.
//
//go:noescape
func finishNEON(dst, x, add []float32, bias, lo, hi float32)

// reluGradAsm has no kernel here: ReluGrad runs reluGradGeneric.
func reluGradAsm(_, _, _ []float32) bool { return false }

func hasAsm(i cpufeat.Impl) bool { return i == cpufeat.NEON }

// finishAsm runs the NEON kernel when it is selected and reports whether
// it did.
func finishAsm(d, x, add []float32, bias, lo, hi float32) bool {
	if cpufeat.Selected != cpufeat.NEON {
		return false
	}
	n := len(x) &^ 3
	finishNEON(d, x, add, bias, lo, hi)
	if n < len(x) {
		var at []float32
		if add != nil {
			at = add[n:]
		}
		finishGeneric(d[n:], x[n:], at, bias, lo, hi)
	}
	return true
}

func finishRowsAsm(_ []float32, _ int, _ []float32, _, _, _ int, _ []float32, _ int, _ []float32, _ int, _, _ float32) bool {
	return false
}
