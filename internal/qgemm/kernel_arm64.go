//go:build gc && !purego

package qgemm

import "unsafe"

// hasAsm reports whether this build has assembly kernels.
const hasAsm = true

// dotNEONDot is dotGeneric for famNEONDot's 8×8 tile, with SDOT: ind
// holds taps·8 pointers, w taps·c4 quads of 8 columns, c 64 values.
//
//go:noescape
func dotNEONDot(taps, c4 int, ind []unsafe.Pointer, w []int8, c []int32)

// dotNEON is dotGeneric for famNEON's 4×8 tile, for ARMv8.0: SMULL and
// SADALP. ind holds taps·4 pointers, c 32 values.
//
//go:noescape
func dotNEON(taps, c4 int, ind []unsafe.Pointer, w []int8, c []int32)

// epiInt32NEON is epiInt32Generic for len(out) >= 4, with zp never empty.
//
//go:noescape
func epiInt32NEON(p, colTerm, zp []int32, rho int32, out []int32)

// epiQuantNEON is epiQuantGeneric for len(out) >= 4, with zp never empty:
// SCVTF, FMUL, FMAX, FMIN, FCVTNS (nearest, ties to even), ADD and two XTN.
//
//go:noescape
func epiQuantNEON(p, colTerm, zp []int32, rho int32, scale []float32, q *quantParams, out []byte)

// epiFloatNEON is epiFloatGeneric for len(out) >= 4, with zp never empty:
// SCVTF, FMUL, then FADD (never fused).
//
//go:noescape
func epiFloatNEON(p, colTerm, zp []int32, rho int32, scale, bias []float32, out []float32)

// dwNEON is dwGeneric for int8 activation bytes and c >= 8.
//
//go:noescape
func dwNEON(taps, c, npix, step int, ind []unsafe.Pointer, w []int16, p []int32)

// epiMin is the shortest row the assembly epilogues take.
const epiMin = 4

func dot(f family, _, taps, c4 int, ind []unsafe.Pointer, w []int8, c []int32) {
	g := geometries[f]
	ind, w, c = ind[:taps*g.mr], w[:taps*c4*g.nr*4], c[:g.mr*g.nr]
	switch f {
	case famNEONDot:
		dotNEONDot(taps, c4, ind, w, c)
	case famNEON:
		dotNEON(taps, c4, ind, w, c)
	default:
		dotGeneric(g, taps, c4, ind, w, c)
	}
}

// neon reports whether family f runs the NEON epilogues on n outputs.
func neon(f family, n int) bool { return (f == famNEON || f == famNEONDot) && n >= epiMin }

func epiInt32(f family, t *tileOut, out []int32) {
	if !neon(f, t.n()) {
		t.rowsInt32(out)
		return
	}
	a := t.asm()
	for r := range a.rows {
		p := a.p[r*a.ldp:]
		epiInt32NEON(p[:len(a.colTerm)], a.colTerm, a.zp, a.rho[r], out[r*a.ldo:r*a.ldo+len(a.colTerm)])
	}
}

func epiQuant(f family, t *tileOut, scale []float32, q *quantParams, out []byte) {
	if !neon(f, t.n()) {
		t.rowsQuant(scale, q, out)
		return
	}
	a := t.asm()
	n := len(a.colTerm)
	for r := range a.rows {
		epiQuantNEON(a.p[r*a.ldp:r*a.ldp+n], a.colTerm, a.zp, a.rho[r], scale[:n], q, out[r*a.ldo:r*a.ldo+n])
	}
}

func epiFloat(f family, t *tileOut, scale, bias []float32, out []float32) {
	if !neon(f, t.n()) {
		t.rowsFloat(scale, bias, out)
		return
	}
	a := t.asm()
	n := len(a.colTerm)
	for r := range a.rows {
		epiFloatNEON(a.p[r*a.ldp:r*a.ldp+n], a.colTerm, a.zp, a.rho[r], scale[:n], bias[:n], out[r*a.ldo:r*a.ldo+n])
	}
}

func dwRun(f family, taps, c, npix, step int, ind []unsafe.Pointer, w []int16, _ []int32, p []int32) {
	if (f == famNEON || f == famNEONDot) && c >= 8 {
		dwNEON(taps, c, npix, step, ind[:taps], w[:taps*c], p[:npix*c])
		return
	}
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
