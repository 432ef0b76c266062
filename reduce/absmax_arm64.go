//go:build gc && !purego

package reduce

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// absMaxNEON is absMaxGeneric of x for len(x) >= 4, in NEON assembly:
// whole vectors, then the last 4 elements again for the rest. FMAX
// propagates NaN through the running maxima, and the result is
// canonicalised at the end, so it needs no per-element NaN test.
//
//go:noescape
func absMaxNEON(x []float32) float32

// absMax is the dispatch of AbsMax: the kernel of family(len(x)), or
// absMaxGeneric for fewer than 4 elements.
func absMax(x []float32) float32 {
	if len(x) >= 4 {
		switch family(len(x)) {
		case cpufeat.NEON:
			return absMaxNEON(x)
		}
	}
	return absMaxGeneric(x)
}
