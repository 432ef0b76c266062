//go:build gc && !purego

package histogram

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// histcNEON bins x as histcGeneric does, for len(x) a multiple of 4 (it
// ignores any other elements): lane k of each vector counts into
// sub-histogram k of sub (slots k*(n+2) on).
//
//go:noescape
func histcNEON(sub []uint32, x []float32, p *histcParams)

// histcKernel is the dispatch of the binning: it bins x into the
// sub-histograms of sub (subHists of p.n+2 slots), the kernel of the family
// on the first len(x) &^ 3 elements and histcGeneric on the rest, and
// reports whether it used them all (else only the first).
func histcKernel(sub []uint32, x []float32, p *histcParams) (all bool) {
	n := 0
	switch family(len(x)) {
	case cpufeat.NEON:
		n = len(x) &^ 3
		histcNEON(sub, x[:n], p)
	}
	histcGeneric(sub, x[n:], p)
	return n > 0
}
