//go:build gc && !purego

package reduce

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// absMaxNEON is absMaxGeneric in NEON assembly: max |x[i]| over the whole
// slice (16 elements per iteration, then 4, then 1), 0 when empty, and
// exactly the quiet NaN 0x7fc00000 if any element is NaN. FMAX propagates
// NaN through the running maxima, and the result is canonicalised at the
// end, so it needs no per-element NaN test.
//
//go:noescape
func absMaxNEON(x []float32) float32

// absMax dispatches AbsMax to the kernel family in cpufeat.Selected.
func absMax(x []float32) float32 {
	switch cpufeat.Selected {
	case cpufeat.NEON:
		return absMaxNEON(x)
	default:
		return absMaxGeneric(x)
	}
}

// implName names the family absMax really runs for cpufeat.Selected.
func implName() string {
	switch cpufeat.Selected {
	case cpufeat.NEON:
		return "neon"
	default:
		return "generic"
	}
}
