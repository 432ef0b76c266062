//go:build gc && !purego

package histogram

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// histcNEON bins the first len(x)&^3 elements of x as histcGeneric does,
// lane k of each vector of 4 into sub-histogram k of sub (slots k*(n+2)
// on).
//
//go:noescape
func histcNEON(sub []uint32, x []float32, p *histcParams)

// histcKernel bins x into the sub-histograms of sub (subHists of p.n+2
// slots) and reports whether it used them all (else only the first).
func histcKernel(sub []uint32, x []float32, p *histcParams) (all bool) {
	var done int
	if cpufeat.Selected == cpufeat.NEON {
		done = len(x) &^ 3
		histcNEON(sub, x[:done], p)
	}
	histcGeneric(sub, x[done:], p)
	return done > 0
}

// implName names the family histcKernel runs for cpufeat.Selected.
func implName() string {
	if cpufeat.Selected == cpufeat.NEON {
		return "neon"
	}
	return "generic"
}
