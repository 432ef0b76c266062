//go:build (!amd64 && !arm64) || !gc || purego

package qgemm

import "unsafe"

// hasAsm reports whether this build has assembly kernels.
const hasAsm = false

func dot(f family, _, taps, c4 int, ind []unsafe.Pointer, w []int8, c []int32) {
	dotGeneric(geometries[f], taps, c4, ind, w, c)
}

func epiInt32(_ family, t *tileOut, out []int32) { t.rowsInt32(out) }

func epiQuant(_ family, t *tileOut, scale []float32, q *quantParams, out []byte) {
	t.rowsQuant(scale, q, out)
}

func epiFloat(_ family, t *tileOut, scale, bias []float32, out []float32) {
	t.rowsFloat(scale, bias, out)
}

func dwRun(f family, taps, c, npix, step int, ind []unsafe.Pointer, w []int16, _ []int32, p []int32) {
	dwGeneric(geometries[f].signed, taps, c, npix, step, ind, w, p)
}

// dwRows has no kernel here: dwRun does the work.
func dwRows(family, int, int, int, int, int, []byte, []int32, []int32) bool { return false }

// transposeBlocks leaves transposeBytes to the Go code.
func transposeBlocks(_ []byte, _ int, _ []byte, _, _, _ int, _ byte) bool { return false }

// transposeBlocks32 leaves transposeBits32 to the Go code.
func transposeBlocks32(_ []uint32, _ int, _ []uint32, _, _, _ int) bool { return false }

// widenBlocks: the generic code widens.
func widenBlocks(_, _ []byte, _ byte) int { return 0 }

// dotTiles computes tiles whole tiles one after the other (tile t: rows
// pointers ind[t·taps·mr:], sums c[t·mr·nr:]) from the panel w, one dot
// call per tile.
func dotTiles(f family, tiles, taps, c4 int, ind []unsafe.Pointer, w []int8, c []int32) {
	dotEach(f, tiles, taps, c4, ind, w, c)
}

// quadBlocks leaves transposeQuads to the Go code.
func quadBlocks(_, _ []byte, _, _, _ int, _, _ byte) int { return 0 }

// dwWordsKernel reports whether family f has a depthwise kernel on 16-bit
// activations (none here).
func dwWordsKernel(family) bool { return false }

// dwWords is dwWordsGeneric (no depthwise weights are packed for it here;
// the tests call it).
func dwWords(_ family, taps, c, npix, step int, ind []unsafe.Pointer, w []int16, _ []int32, p []int32) {
	dwWordsGeneric(taps, c, npix, step, ind, w, p)
}
