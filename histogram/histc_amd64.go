//go:build gc && !purego

package histogram

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// histcAVX512 bins the first len(x)&^15 elements of x as histcGeneric does,
// lane k of each vector of 16 into sub-histogram k%4 of sub (slots
// (k%4)*(n+2) on).
//
//go:noescape
func histcAVX512(sub []uint32, x []float32, p *histcParams)

// histcAVX2 is histcAVX512 with vectors of 8: len(x)&^7 elements.
//
//go:noescape
func histcAVX2(sub []uint32, x []float32, p *histcParams)

// histcKernel bins x into the sub-histograms of sub (subHists of p.n+2
// slots) and reports whether it used them all (else only the first).
func histcKernel(sub []uint32, x []float32, p *histcParams) (all bool) {
	var done int
	switch cpufeat.Selected {
	case cpufeat.AVX512:
		done = len(x) &^ 15
		histcAVX512(sub, x[:done], p)
	case cpufeat.AVX2:
		done = len(x) &^ 7
		histcAVX2(sub, x[:done], p)
	}
	histcGeneric(sub, x[done:], p)
	return done > 0
}

// implName names the family histcKernel runs for cpufeat.Selected.
func implName() string {
	switch cpufeat.Selected {
	case cpufeat.AVX512:
		return "avx512"
	case cpufeat.AVX2:
		return "avx2"
	}
	return "generic"
}
