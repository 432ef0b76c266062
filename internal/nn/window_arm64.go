//go:build gc && !purego

package nn

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// The NEON kernels of window_arm64.s compute dwRowGeneric (with d = 1)
// and maxRowGeneric (float32, d = 1) for the shapes K (taps) × S (stride)
// below on len(out) outputs, a multiple of 4.

//go:noescape
func dwRowK3S1NEON(out, row, w []float32)

//go:noescape
func dwRowK3S2NEON(out, row, w []float32)

//go:noescape
func dwRowK5S1NEON(out, row, w []float32)

//go:noescape
func dwRowK5S2NEON(out, row, w []float32)

//go:noescape
func maxRowK2S2NEON(out, row []float32)

//go:noescape
func maxRowK3S1NEON(out, row []float32)

//go:noescape
func maxRowK3S2NEON(out, row []float32)

// gatherRowsNEON is gatherRowsGeneric for w = 8.
//
//go:noescape
func gatherRowsNEON(dst, src []float32, offs []int, j int)

// evensNEON is evensGeneric on len(dst) a multiple of 4, src of
// 2·len(dst) elements; zipNEON is zipGeneric on len(a) a multiple of 4.
//
//go:noescape
func evensNEON(dst, src []float32)

//go:noescape
func zipNEON(dst, a, b []float32)

// evens is evensGeneric, on NEON as far as src holds its pairs of loads.
func evens(dst, src []float32) {
	n := 0
	if cpufeat.Selected == cpufeat.NEON {
		n = min(len(dst), len(src)/2) &^ 3
		evensNEON(dst[:n], src[:2*n])
	}
	evensGeneric(dst[n:], src[2*n:])
}

// zip is zipGeneric, on NEON.
func zip(dst, a, b []float32) {
	n := 0
	if cpufeat.Selected == cpufeat.NEON {
		n = len(a) &^ 3
		zipNEON(dst[:2*n], a[:n], b[:n])
	}
	zipGeneric(dst[2*n:], a[n:], b[n:])
}

// winoIn and winoOut have no NEON kernels: winogradInput and
// winogradOutput run on vecmath's.
func winoIn([]float32, int, int, []float32, []float32, []float32, []float32, int) bool {
	return false
}

func winoOut([]float32, int, []float32, int, int) bool { return false }

// gatherRows is gatherRowsGeneric, on NEON for its panel width.
func gatherRows(dst, src []float32, offs []int, j, w int) {
	if w == 8 && cpufeat.Selected == cpufeat.NEON {
		gatherRowsNEON(dst[:len(offs)*8], src, offs, j)
		return
	}
	gatherRowsGeneric(dst, src, offs, j, w)
}

// dwRow is dwRowGeneric with the NEON kernel where it has one.
func dwRow(out, row, w []float32, s, d int) {
	k := len(w)
	n := 0
	if cpufeat.Selected == cpufeat.NEON && d == 1 && (k == 3 || k == 5) && s <= 2 {
		n = windowAsmLen(len(out), k, s, cap(row))
	}
	if n > 0 {
		o, r := out[:n], row[:cap(row)]
		switch k<<2 | s {
		case 3<<2 | 1:
			dwRowK3S1NEON(o, r, w)
		case 3<<2 | 2:
			dwRowK3S2NEON(o, r, w)
		case 5<<2 | 1:
			dwRowK5S1NEON(o, r, w)
		default:
			dwRowK5S2NEON(o, r, w)
		}
	}
	dwRowGeneric(out[n:], row[n*s:], w, s, d)
}

// maxRow is maxRowGeneric with the NEON kernel for float32 rows of the
// shapes it has one for.
func maxRow[T Number](out, row []T, k, s, d int) {
	n := 0
	o32, ok := any(out).([]float32)
	if ok && cpufeat.Selected == cpufeat.NEON && d == 1 && (k == 2 && s == 2 || k == 3 && s <= 2) {
		n = windowAsmLen(len(out), k, s, cap(row))
	}
	if n > 0 {
		o, r := o32[:n], any(row).([]float32)[:cap(row)]
		switch k<<2 | s {
		case 2<<2 | 2:
			maxRowK2S2NEON(o, r)
		case 3<<2 | 1:
			maxRowK3S1NEON(o, r)
		default:
			maxRowK3S2NEON(o, r)
		}
	}
	maxRowGeneric(out[n:], row[n*s:], k, s, d)
}

// windowFamily is the family the window kernels run (on rows of any
// length): cpufeat.Selected where it has kernels.
func windowFamily(int) cpufeat.Impl {
	if cpufeat.Selected == cpufeat.NEON {
		return cpufeat.NEON
	}
	return cpufeat.Generic
}

// dwPlane has no NEON kernel: the rows go through dwRow.
func dwPlane(_, _, _ []float32, _ float32, _ *Geom) bool { return false }

// dwBlock has no NEON kernel: DepthwisePlanes goes plane by plane.
func dwBlock(_, _, _, _ []float32, _ *Conv, _, _ int) int { return 0 }

// maxArgRowK2S2 has no kernel here: maxPlaneK2S2Arg's loop does the row.
func maxArgRowK2S2([]float32, []int32, []float32, []float32, int, int) int { return 0 }

func maxPlane[T Number](_, _ []T, _ *Geom) bool { return false }

// tileLanes is 0: no kernel of convolutions of few output channels
// here, the GEMM computes them.
func tileLanes(int) int { return 0 }

// convTiles6 has no kernel here (tileLanes).
func convTiles6(int, []int, int, []float32, []int, int, []float32, []float32, int, int, bool, *tileFinish) {
}

// scatter8 sets dst[j·ldd + q] = src[8q + j] for j < 8 and q < n (the
// amd64 version's definition; tileProduct, its caller, stops before it
// here, where tileLanes is 0).
func scatter8(dst []float32, ldd int, src []float32, n int) {
	for q := range n {
		for j := range 8 {
			dst[j*ldd+q] = src[8*q+j]
		}
	}
}

// maxK2S2 has no kernel here: maxPlane's callers compute the pooling.
func maxK2S2(_, _ []float32, _, _, _ int) bool { return false }

// padPlanesAsm has no kernel here: padPlanes runs padPlanesGeneric.
func padPlanesAsm(_, _ []float32, _, _, _, _, _, _, _, _, _ int) bool { return false }
