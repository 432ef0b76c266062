//go:build (!amd64 && !arm64) || !gc || purego

package nn

import "github.com/tensorquant/tensorquant/internal/cpufeat"

func dwRow(out, row, w []float32, s, d int) { dwRowGeneric(out, row, w, s, d) }

func maxRow[T Number](out, row []T, k, s, d int) { maxRowGeneric(out, row, k, s, d) }

func windowFamily(int) cpufeat.Impl { return cpufeat.Generic }

func gatherRows(dst, src []float32, offs []int, j, w int) { gatherRowsGeneric(dst, src, offs, j, w) }

func evens(dst, src []float32) { evensGeneric(dst, src) }

func zip(dst, a, b []float32) { zipGeneric(dst, a, b) }

func dwPlane(_, _, _ []float32, _ float32, _ *Geom) bool { return false }

func dwBlock(_, _, _, _ []float32, _ *Conv, _, _ int) int { return 0 }

// maxArgRowK2S2 has no kernel here: maxPlaneK2S2Arg's loop does the row.
func maxArgRowK2S2([]float32, []int32, []float32, []float32, int, int) int { return 0 }

func maxPlane[T Number](_, _ []T, _ *Geom) bool { return false }

func winoIn([]float32, int, int, []float32, []float32, []float32, []float32, int) bool {
	return false
}

func winoOut([]float32, int, []float32, int, int) bool { return false }

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
