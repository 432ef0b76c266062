package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

func init() { addOutput("internal/nn/window_amd64.s", "internal/nn", windowKernels) }

// windowShapes are the (taps, stride) of the window kernels: the
// depthwise convolutions of MobileNet and EfficientNet (3×3 and 5×5,
// strides 1 and 2), the max pooling of ResNet (3×3, stride 2) and of small
// CNNs (2×2, stride 2; 3×3, stride 1).
var (
	dwShapes  = [][2]int{{3, 1}, {3, 2}, {5, 1}, {5, 2}}
	maxShapes = [][2]int{{2, 2}, {3, 1}, {3, 2}}
)

// windowKernels describes internal/nn/window_amd64.s: gatherRows (see
// gatherRowsKernel) and, for each shape, the
// kernel of one input row of a sliding window, windowGeneric's dwRow (the
// depthwise convolution's taps: out[i] += w[c]·row[i·s+c], each product
// rounded, taps in order) and maxRow (max pooling's taps: out[i] takes
// row[i·s+c] when it is greater or NaN), on len(out) outputs, a multiple
// of 8. A stride-2 kernel reads one element past the last tap of the last
// window (its vectors load pairs of elements).
func windowKernels(c *build.Context) {
	// evens: the VPERMT2PS indices of the even elements of two 16-lane
	// vectors.
	evens := c.StaticGlobal("evens")
	c.DataAttributes(attr.RODATA | attr.NOPTR)
	for i := range 16 {
		c.AddDatum(4*i, operand.U32(2*i))
	}
	// zipLo, zipHi: the VPERMT2PS indices that interleave the first and
	// the second halves of two 16-lane vectors.
	var zip [2]operand.Mem
	for h, name := range []string{"zipLo", "zipHi"} {
		zip[h] = c.StaticGlobal(name)
		c.DataAttributes(attr.RODATA | attr.NOPTR)
		for i := range 16 {
			c.AddDatum(4*i, operand.U32(8*h+i/2+16*(i%2)))
		}
	}
	for _, s := range isas(c) {
		evensKernel(s, evens)
		zipKernel(s, zip)
		winoInKernel(s)
		winoOutKernel(s, zip)
		for _, sh := range dwShapes {
			windowKernel(s, evens, "dwRow", sh[0], sh[1])
		}
		for _, sh := range maxShapes {
			windowKernel(s, evens, "maxRow", sh[0], sh[1])
		}
		gatherRowsKernel(s)
		if s.avx512 {
			for _, sh := range dwShapes {
				dwPlaneKernel(s, evens, sh[0], sh[1])
			}
			for _, sh := range maxShapes {
				maxPlaneKernel(s, evens, sh[0], sh[1])
			}
		}
	}
}

// windowKernel emits name+"K"+taps+"S"+stride+isa.
func windowKernel(s isa, evens operand.Mem, name string, taps, stride int) {
	dw := name == "dwRow"
	spec := "out[i] = max-with-NaN(out[i], row[i·%d+c]) for c < %d in order (maxRowGeneric)."
	if dw {
		spec = "out[i] += float32(w[c]·row[i·%d+c]) for c < %d in order (dwRowGeneric)."
	}
	s.Implement(fmt.Sprintf("%sK%dS%d%s", name, taps, stride, s.name))
	s.Attributes(attr.NOSPLIT)
	s.Comment(fmt.Sprintf(spec, stride, taps))
	out, row, n := s.slice("out", 4), s.slice("row", 4), s.length("out")
	var w []reg.VecVirtual
	if dw {
		wp := s.GP64()
		s.Load(s.Param("w").Base(), wp)
		for c := range taps {
			v := s.vec()
			s.VBROADCASTSS(operand.Mem{Base: wp, Disp: 4 * c}, v)
			w = append(w, v)
		}
	}
	var idx reg.VecVirtual
	if stride == 2 && s.avx512 {
		idx = s.ZMM()
		s.VMOVDQU32(evens, idx)
	}
	// block handles t.lanes outputs from the current position.
	block := func(t isa) {
		acc := t.vec()
		s.VMOVUPS(out.at(0), acc)
		for c := range taps {
			x := t.taps(row, c, stride, idx)
			if dw {
				p := t.vec()
				s.VMULPS(x, t.v(w[c]), p)
				s.VADDPS(p, acc, acc)
			} else {
				t.takeGreaterOrNaN(x, acc)
			}
		}
		s.VMOVUPS(acc, out.at(0))
		s.ADDQ(imm(4*t.lanes), out.p)
		s.ADDQ(imm(4*t.lanes*stride), row.p)
	}
	s.counted(n, s.lanes, "loop", func() { block(s) })
	if s.avx512 {
		h := s.half()
		s.CMPQ(n, imm(h.lanes))
		s.JB(operand.LabelRef("done"))
		block(h)
		s.Label("done")
	}
	s.VZEROUPPER()
	s.RET()
}

// taps returns the vector of row[i·stride + c] for the s.lanes outputs i
// from the current position.
func (s isa) taps(row stream, c, stride int, idx reg.VecVirtual) reg.Register {
	x := s.vec()
	if stride == 1 {
		s.VMOVUPS(row.at(c), x)
		return x
	}
	// Stride 2: the even elements of the 2·lanes elements from c.
	switch {
	case s.lanes == 16:
		s.VMOVUPS(row.at(c), x)
		s.VPERMT2PS(row.at(c+16), idx, x)
	default:
		// [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit quarters in the
		// order 0 2 1 3.
		s.VMOVUPS(row.at(c), x)
		s.VSHUFPS(imm(0x88), row.at(c+8), x, x)
		s.VPERMPD(imm(0xd8), x, x)
	}
	return x
}

// takeGreaterOrNaN sets the lanes of acc where x > acc, or x is NaN, to
// x: the update of a max pooling that lets the last NaN win and keeps the
// first of equal values.
func (s isa) takeGreaterOrNaN(x, acc reg.Register) {
	if s.avx512 {
		gt, un := s.K(), s.K()
		s.VCMPPS(imm(0x1e), acc, x, gt) // x > acc, ordered
		s.VCMPPS(imm(0x03), x, x, un)   // x is NaN
		s.KORW(gt, un, gt)
		s.VMOVUPS(x, gt, acc)
		return
	}
	gt, un := s.vec(), s.vec()
	s.VCMPPS(imm(0x1e), acc, x, gt)
	s.VCMPPS(imm(0x03), x, x, un)
	s.VORPS(un, gt, gt)
	s.VBLENDVPS(gt, x, acc, acc)
}

// evensKernel emits evens+isa: dst[i] = src[2i] for i < len(dst), a
// multiple of 8 (evensGeneric; src has 2·len(dst) elements: the vectors
// load pairs).
func evensKernel(s isa, evens operand.Mem) {
	s.Implement("evens" + s.name)
	s.Attributes(attr.NOSPLIT)
	s.Comment("dst[i] = src[2i] for i < len(dst), a multiple of 8 (evensGeneric).")
	dst, src, n := s.slice("dst", 4), s.slice("src", 4), s.length("dst")
	var idx reg.VecVirtual
	if s.avx512 {
		idx = s.ZMM()
		s.VMOVDQU32(evens, idx)
	}
	block := func(t isa) {
		x := t.taps(src, 0, 2, idx)
		s.VMOVUPS(x, dst.at(0))
		s.ADDQ(imm(4*t.lanes), dst.p)
		s.ADDQ(imm(8*t.lanes), src.p)
	}
	fullThenHalf(s, n, block)
	s.VZEROUPPER()
	s.RET()
}

// zipIndices loads the VPERMT2PS indices of zipStore (AVX-512; nil
// registers for AVX2).
func (s isa) zipIndices(zip [2]operand.Mem) (lo, hi reg.VecVirtual) {
	if s.avx512 {
		lo, hi = s.ZMM(), s.ZMM()
		s.VMOVDQU32(zip[0], lo)
		s.VMOVDQU32(zip[1], hi)
	}
	return lo, hi
}

// zipStore stores x and y interleaved (x0 y0 x1 y1 ...) to first (the
// first s.lanes elements) and second (the others); it overwrites x and y.
func (s isa) zipStore(x, y, lo, hi reg.VecVirtual, first, second operand.Mem) {
	if s.lanes == 16 {
		// lo: x0 y0 ... x7 y7; hi: x8 y8 ... x15 y15.
		p, q := s.vec(), s.vec()
		s.VMOVDQA32(lo, p)
		s.VPERMI2PS(y, x, p)
		s.VMOVDQA32(hi, q)
		s.VPERMI2PS(y, x, q)
		s.VMOVUPS(p, first)
		s.VMOVUPS(q, second)
		return
	}
	// Per 128-bit lane: [x0 y0 x1 y1 | x4 y4 x5 y5] and [x2 y2 x3 y3 |
	// x6 y6 x7 y7]; then their low and high lanes.
	l, h := s.vec(), s.vec()
	s.VUNPCKLPS(y, x, l)
	s.VUNPCKHPS(y, x, h)
	s.VPERM2F128(imm(0x20), h, l, x)
	s.VPERM2F128(imm(0x31), h, l, y)
	s.VMOVUPS(x, first)
	s.VMOVUPS(y, second)
}

// fullThenHalf emits blocks of s.lanes while n has them, then, for
// AVX-512, one block of 8 lanes (YMM) when the rest of n has them.
func fullThenHalf(s isa, n reg.Register, block func(isa)) {
	s.counted(n, s.lanes, "loop", func() { block(s) })
	if !s.avx512 {
		return
	}
	s.CMPQ(n, imm(8))
	s.JB(operand.LabelRef("half_done"))
	block(s.half())
	s.Label("half_done")
}

// zipKernel emits zip+isa: dst[2i] = a[i] and dst[2i+1] = b[i] for i <
// len(a), a multiple of 8 (zipGeneric).
func zipKernel(s isa, zip [2]operand.Mem) {
	s.Implement("zip" + s.name)
	s.Attributes(attr.NOSPLIT)
	s.Comment("dst[2i] = a[i], dst[2i+1] = b[i] for i < len(a), a multiple of 8 (zipGeneric).")
	dst, a, b, n := s.slice("dst", 4), s.slice("a", 4), s.slice("b", 4), s.length("a")
	lo, hi := s.zipIndices(zip)
	block := func(t isa) {
		x, y := t.vec(), t.vec()
		s.VMOVUPS(a.at(0), x)
		s.VMOVUPS(b.at(0), y)
		t.zipStore(x, y, lo, hi, dst.at(0), dst.at(t.lanes))
		s.ADDQ(imm(8*t.lanes), dst.p)
		s.ADDQ(imm(4*t.lanes), a.p)
		s.ADDQ(imm(4*t.lanes), b.p)
	}
	fullThenHalf(s, n, block)
	s.VZEROUPPER()
	s.RET()
}

// gatherRowsKernel emits gatherRows for s's panel width (32 floats for
// AVX-512, 16 for AVX2): dst[p·w : (p+1)·w] = src[offs[p]+j : offs[p]+j+w]
// for every p, the rows of a GEMM panel of B in the phase layout of
// internal/nn (packPhases), two vectors per row.
func gatherRowsKernel(s isa) {
	w := 2 * s.lanes
	s.Implement(fmt.Sprintf("gatherRows%s", s.name))
	s.Attributes(attr.NOSPLIT)
	s.Comment(fmt.Sprintf("dst[p·%d : (p+1)·%d] = src[offs[p]+j : offs[p]+j+%d] for p < len(offs) (gatherRowsGeneric).", w, w, w))
	dst, src := s.slice("dst", 4), s.slice("src", 4)
	offs, n := s.slice("offs", 8), s.length("offs")
	j := s.GP64()
	s.Load(s.Param("j"), j)
	s.LEAQ(operand.Mem{Base: src.p, Index: j, Scale: 4}, src.p)
	s.counted(n, 1, "loop", func() {
		o := s.GP64()
		s.MOVQ(offs.at(0), o)
		a, b := s.vec(), s.vec()
		s.VMOVUPS(operand.Mem{Base: src.p, Index: o, Scale: 4}, a)
		s.VMOVUPS(operand.Mem{Base: src.p, Index: o, Scale: 4, Disp: 4 * s.lanes}, b)
		s.VMOVUPS(a, dst.at(0))
		s.VMOVUPS(b, dst.at(s.lanes))
		s.ADDQ(imm(8), offs.p)
		s.ADDQ(imm(4*w), dst.p)
	})
	s.VZEROUPPER()
	s.RET()
}

// dwPlaneKernel emits dwPlaneK<k>S<stride>AVX512: a whole plane of a
// depthwise convolution with a k×k kernel, stride and dilation 1 or 2 /
// 1, in 16 output columns at a time: each output starts from the bias
// and adds, kernel row by kernel row (the rows inside the input only) and
// tap by tap, the rounded product of the weight and the input element,
// the taps in the padding left out by masks (masked loads do not touch
// them, masked adds leave the lanes as they are): DepthwisePlanes's
// arithmetic, bit for bit.
func dwPlaneKernel(s isa, evens operand.Mem, k, stride int) { planeKernel(s, evens, true, k, stride) }

// maxPlaneKernel emits maxPlaneK<k>S<stride>AVX512: a whole plane of a
// k×k max pooling, dwPlaneKernel's walk with MaxPool's update (a tap
// replaces the maximum where it is greater or NaN) from -Inf.
func maxPlaneKernel(s isa, evens operand.Mem, k, stride int) { planeKernel(s, evens, false, k, stride) }

// planeRows is how many output rows planeKernel computes at once: their
// sums are independent chains, which the adds of one row (a chain of k·k
// dependent adds) leave the FP pipes idle without.
const planeRows = 3

func planeKernel(s isa, evens operand.Mem, dw bool, k, stride int) {
	if dw {
		s.Implement(fmt.Sprintf("dwPlaneK%dS%dAVX512", k, stride))
		s.Comment(fmt.Sprintf("One plane of a %d×%d depthwise convolution of stride %d (DepthwisePlanes).", k, k, stride))
	} else {
		s.Implement(fmt.Sprintf("maxPlaneK%dS%dAVX512", k, stride))
		s.Comment(fmt.Sprintf("One plane of a %d×%d max pooling of stride %d (MaxPool).", k, k, stride))
	}
	s.Comment(fmt.Sprintf("Chunks of 16 output columns (their masks computed once), each down the rows %d at a time.", planeRows))
	out, in := s.slice("out", 4), s.slice("in", 4)
	wp := s.GP64()
	if dw {
		s.Load(s.Param("w").Base(), wp)
	}
	ld := func(name string) reg.GPVirtual {
		r := s.GP64()
		s.Load(s.Param(name), r)
		return r
	}
	acc0 := s.broadcast(s.param("start"))
	var idx reg.VecVirtual
	if stride == 2 {
		idx = s.ZMM()
		s.VMOVDQU32(evens, idx)
	}
	// Lane masks of the taps of the current chunk, by kernel column; for
	// stride 2 the masks of the 32 input elements the lanes' pairs load;
	// the chunk's lanes and its first input column.
	colLoc := s.AllocLocal(8)
	allLoc := s.AllocLocal(8)
	lanes := s.AllocLocal(4 * k)
	pairs := s.AllocLocal(4 * k)
	ow0 := s.GP64()
	s.XORQ(ow0, ow0)
	s.Label("chunks")
	wo := ld("wo")
	s.CMPQ(ow0, wo)
	s.JGE(operand.LabelRef("done"))
	// The chunk's lanes: min(16, wo - ow0).
	s.SUBQ(ow0, wo)
	all := s.lowLanes(wo)
	s.MOVL(all, allLoc)
	padL := ld("padL")
	width := ld("wd")
	for kc := range k {
		// Lanes j with 0 <= (ow0+j)·stride + kc - padL < wd:
		// jlo = ceil((padL - kc)/stride) - ow0, jhi = ceil((wd + padL - kc)/stride) - ow0.
		lo, hi := s.GP64(), s.GP64()
		s.MOVQ(padL, lo)
		s.SUBQ(imm(kc), lo)
		s.MOVQ(lo, hi)
		s.ADDQ(width, hi)
		if stride == 2 {
			s.INCQ(lo)
			s.SARQ(imm(1), lo)
			s.INCQ(hi)
			s.SARQ(imm(1), hi)
		}
		s.SUBQ(ow0, lo)
		s.SUBQ(ow0, hi)
		zero := s.GP64()
		s.XORQ(zero, zero)
		s.CMPQ(lo, zero)
		s.CMOVQLT(zero, lo)
		s.CMPQ(hi, zero)
		s.CMOVQLT(zero, hi)
		m, below := s.lowLanes(hi), s.lowLanes(lo)
		s.ANDNL(m, below, m) // m = ^below & m
		s.ANDL(all, m)
		s.MOVL(m, lanes.Offset(4*kc))
		if stride == 2 {
			even, p := s.GP32(), s.GP32()
			s.MOVL(operand.U32(0x55555555), even)
			s.PDEPL(even, m, p)
			s.MOVL(p, pairs.Offset(4*kc))
		}
	}
	// colBase = ow0·stride - padL: the input column of lane 0, tap 0.
	colBase := s.GP64()
	s.MOVQ(ow0, colBase)
	if stride == 2 {
		s.SHLQ(imm(1), colBase)
	}
	s.SUBQ(padL, colBase)
	s.MOVQ(colBase, colLoc)
	oh := s.GP64()
	s.XORQ(oh, oh)
	s.Label("rows")
	s.CMPQ(oh, ld("ho"))
	s.JGE(operand.LabelRef("next_chunk"))
	// A group whose k input rows all lie inside the input (most of them)
	// takes the path without row masks.
	first := inputRow(s, oh, 0, stride, 0)
	s.CMPQ(first, imm(0))
	s.JL(operand.LabelRef("edge_rows"))
	s.ADDQ(imm((planeRows-1)*stride+k), first)
	s.CMPQ(first, ld("h"))
	s.JG(operand.LabelRef("edge_rows"))
	acc := planeRowsBody(s, dw, k, stride, in, wp, oh, acc0, idx, lanes, pairs, colLoc, true)
	s.JMP(operand.LabelRef("store"))
	s.Label("edge_rows")
	for r, a := range planeRowsBody(s, dw, k, stride, in, wp, oh, acc0, idx, lanes, pairs, colLoc, false) {
		s.VMOVAPS(a, acc[r])
	}
	s.Label("store")
	// out[(oh+r)·wo + ow0 ...] = acc[r], the chunk's lanes, for the rows
	// before ho.
	for r := range planeRows {
		skip := fmt.Sprintf("stored%d", r)
		if r > 0 {
			s.ADDQ(imm(1), oh)
			s.CMPQ(oh, ld("ho"))
			s.JGE(operand.LabelRef(skip))
		}
		dst := s.GP64()
		s.MOVQ(oh, dst)
		s.IMULQ(ld("wo"), dst)
		s.ADDQ(ow0, dst)
		km := s.K()
		s.KMOVW(allLoc, km)
		s.VMOVUPS(acc[r], km, operand.Mem{Base: out.p, Index: dst, Scale: 4})
		if r > 0 {
			s.Label(skip)
		}
	}
	// oh moved on by planeRows-1 (whether or not the rows were stored):
	// on to the next group's first row.
	s.ADDQ(imm(1), oh)
	s.JMP(operand.LabelRef("rows"))
	s.Label("next_chunk")
	s.ADDQ(imm(16), ow0)
	s.JMP(operand.LabelRef("chunks"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}

// planeRowsBody emits the taps of planeRows output rows from oh of the
// chunk (its lane masks in lanes and pairs, its first input column in
// colLoc) and returns their accumulators. inside: every input row the
// group reads is inside the input (no row masks; the masks of a tap are
// loaded once for the rows).
func planeRowsBody(s isa, dw bool, k, stride int, in stream, wp, oh reg.GPVirtual, acc0, idx reg.VecVirtual, lanes, pairs, colLoc operand.Mem, inside bool) []reg.VecVirtual {
	ld := func(name string) reg.GPVirtual {
		r := s.GP64()
		s.Load(s.Param(name), r)
		return r
	}
	acc := make([]reg.VecVirtual, planeRows)
	for r := range acc {
		acc[r] = s.ZMM()
		s.VMOVAPS(acc0, acc[r])
	}
	if inside {
		// rowp[r] = &in[((oh+r)·stride - padT)·wd + colBase], moved on by
		// a row (step = 4·wd bytes) after each kernel row.
		step := ld("wd")
		rowp := make([]reg.GPVirtual, planeRows)
		for r := range planeRows {
			p := inputRow(s, oh, r, stride, 0)
			s.IMULQ(step, p)
			s.ADDQ(colLoc, p)
			s.LEAQ(operand.Mem{Base: in.p, Index: p, Scale: 4}, p)
			rowp[r] = p
		}
		s.SHLQ(imm(2), step)
		for kr := range k {
			if kr > 0 {
				for _, p := range rowp {
					s.ADDQ(step, p)
				}
			}
			for kc := range k {
				km := s.K()
				s.KMOVW(lanes.Offset(4*kc), km)
				var lo, hi reg.Register
				if stride == 2 {
					lo, hi = s.K(), s.K()
					s.KMOVD(pairs.Offset(4*kc), lo)
					s.KSHIFTRD(imm(16), lo, hi)
				}
				for r := range planeRows {
					x := planeTap(s, rowp[r], kc, stride, km, lo, hi, idx)
					planeUpdate(s, dw, x, acc[r], km, wp, kr*k+kc)
				}
			}
		}
		return acc
	}
	for kr := range k {
		// Row r reads input row (oh+r)·stride - padT + kr where it is
		// inside [0, h) (valid[r] all ones); elsewhere its loads and
		// updates are masked off (row 0 keeps the address in range). The
		// rows past ho are computed and not stored.
		rowp := make([]reg.GPVirtual, planeRows)
		valid := make([]reg.GPVirtual, planeRows)
		for r := range planeRows {
			ih := inputRow(s, oh, r, stride, kr)
			v, ones, zero := s.GP64(), s.GP64(), s.GP64()
			s.XORQ(v, v)
			s.XORQ(zero, zero)
			s.MOVQ(operand.I32(-1), ones)
			s.CMPQ(ih, ld("h"))
			s.CMOVQCS(ones, v)  // ih < h, unsigned: inside
			s.CMOVQCC(zero, ih) // outside: row 0
			// rowp = &in[ih·wd + colBase]
			s.IMULQ(ld("wd"), ih)
			s.ADDQ(colLoc, ih)
			s.LEAQ(operand.Mem{Base: in.p, Index: ih, Scale: 4}, ih)
			rowp[r], valid[r] = ih, v
		}
		for kc := range k {
			for r := range planeRows {
				km := s.K()
				m := s.GP32()
				s.MOVL(lanes.Offset(4*kc), m)
				s.ANDL(valid[r].As32(), m)
				s.KMOVW(m, km)
				var lo, hi reg.Register
				if stride == 2 {
					p := s.GP32()
					s.MOVL(pairs.Offset(4*kc), p)
					s.ANDL(valid[r].As32(), p)
					lo, hi = s.K(), s.K()
					s.KMOVD(p, lo)
					s.KSHIFTRD(imm(16), lo, hi)
				}
				x := planeTap(s, rowp[r], kc, stride, km, lo, hi, idx)
				planeUpdate(s, dw, x, acc[r], km, wp, kr*k+kc)
			}
		}
	}
	return acc
}

// planeTap loads the tap kc of the 16 lanes from rowp: masked by km
// (stride 1), or the even elements of 32 loaded by lo and hi (stride 2).
func planeTap(s isa, rowp reg.Register, kc, stride int, km, lo, hi reg.Register, idx reg.VecVirtual) reg.VecVirtual {
	x := s.ZMM()
	if stride == 1 {
		s.VMOVUPS_Z(operand.Mem{Base: rowp, Disp: 4 * kc}, km, x)
		return x
	}
	hv := s.ZMM()
	s.VMOVUPS_Z(operand.Mem{Base: rowp, Disp: 4 * kc}, lo, x)
	s.VMOVUPS_Z(operand.Mem{Base: rowp, Disp: 4*kc + 64}, hi, hv)
	s.VPERMT2PS(hv, idx, x)
	return x
}

// planeUpdate adds the rounded product of x and weight wi to acc in the
// lanes of km (dw), or replaces acc by x in the lanes of km where x is
// greater or NaN (max pooling).
func planeUpdate(s isa, dw bool, x, acc reg.VecVirtual, km reg.Register, wp reg.GPVirtual, wi int) {
	if dw {
		s.VMULPS_BCST(operand.Mem{Base: wp, Disp: 4 * wi}, x, x)
		s.VADDPS(x, acc, km, acc)
		return
	}
	gt, un := s.K(), s.K()
	s.VCMPPS(imm(0x1e), acc, x, km, gt)
	s.VCMPPS(imm(0x03), x, x, km, un)
	s.KORW(gt, un, gt)
	s.VMOVUPS(x, gt, acc)
}

// inputRow returns, in a new register, (oh+r)·stride - padT + kr: the
// input row that kernel row kr of output row oh+r reads.
func inputRow(s isa, oh reg.GPVirtual, r, stride, kr int) reg.GPVirtual {
	ih := s.GP64()
	s.MOVQ(oh, ih)
	if r > 0 {
		s.ADDQ(imm(r), ih)
	}
	if stride == 2 {
		s.SHLQ(imm(1), ih)
	}
	padT := s.GP64()
	s.Load(s.Param("padT"), padT)
	s.SUBQ(padT, ih)
	if kr > 0 {
		s.ADDQ(imm(kr), ih)
	}
	return ih
}

// planes addresses 16 planes of float32 at a stride of ld elements:
// plane 4i+j at q[i] + j·ld·4 bytes (r1 = ld·4, r3 = 3·ld·4).
type planes struct {
	q      [4]reg.GPVirtual
	r1, r3 reg.GPVirtual
}

// newPlanes loads the base of the slice argument name and the stride
// argument ld.
func newPlanes(s isa, name, ld string) planes {
	var p planes
	p.r1, p.r3 = s.GP64(), s.GP64()
	s.Load(s.Param(ld), p.r1)
	s.SHLQ(imm(2), p.r1)
	s.LEAQ(operand.Mem{Base: p.r1, Index: p.r1, Scale: 2}, p.r3)
	for i := range p.q {
		p.q[i] = s.GP64()
	}
	s.Load(s.Param(name).Base(), p.q[0])
	for i := 1; i < 4; i++ {
		s.LEAQ(operand.Mem{Base: p.q[i-1], Index: p.r1, Scale: 4}, p.q[i])
	}
	return p
}

// at returns the address of plane xi at the current position.
func (p planes) at(xi int) operand.Mem {
	q := p.q[xi/4]
	switch xi % 4 {
	case 1:
		return operand.Mem{Base: q, Index: p.r1, Scale: 1}
	case 2:
		return operand.Mem{Base: q, Index: p.r1, Scale: 2}
	case 3:
		return operand.Mem{Base: q, Index: p.r3, Scale: 1}
	}
	return operand.Mem{Base: q}
}

// advance moves every plane on by bytes.
func (s isa) advance(p planes, bytes int) {
	for _, q := range p.q {
		s.ADDQ(imm(bytes), q)
	}
}

// winoInKernel emits winoIn+isa: the input transform Bᵀ d B of
// Winograd's F(2×2, 3×3) (internal/nn winograd.go) at n positions
// (rounded up to a multiple of 8), from the even-column (e) and odd-column
// (o) phases of the even (e0, o0) and odd (e1, o1) input rows, whose
// rows are l long, to the 16 planes of v (stride ld): for each position t
// and j, u_j(a, r) is the row transform of parity a at t + r·l
// (u0 = e[t]-e[t+1], u1 = o[t]+e[t+1], u2 = e[t+1]-o[t], u3 = o[t]-o[t+1]),
// and v[(4i+j)·ld + t] the column transform: u_j(0,0)-u_j(0,1),
// u_j(1,0)+u_j(0,1), u_j(0,1)-u_j(1,0), u_j(1,0)-u_j(1,1). The operations
// and their order are winogradInput's.
func winoInKernel(s isa) {
	s.Implement("winoIn" + s.name)
	s.Attributes(attr.NOSPLIT)
	s.Comment("The input transform of F(2×2, 3×3) at n positions, rounded up to a multiple of 8 (winogradInput).")
	v := newPlanes(s, "v", "ld")
	n := s.GP64()
	s.Load(s.Param("n"), n)
	var ph [4]reg.GPVirtual // e0, o0, e1, o1
	for i, name := range []string{"e0", "o0", "e1", "o1"} {
		ph[i] = s.GP64()
		s.Load(s.Param(name).Base(), ph[i])
	}
	lb := s.GP64()
	s.Load(s.Param("l"), lb)
	s.SHLQ(imm(2), lb)
	block := func(t isa) {
		// mem returns the address of phase p at the position + r rows
		// + c columns.
		mem := func(p, r, c int) operand.Mem {
			m := operand.Mem{Base: ph[p], Disp: 4 * c}
			if r == 1 {
				m.Index, m.Scale = lb, 1
			}
			return m
		}
		for j := range 4 {
			var u [2][2]reg.VecVirtual // [parity][row]
			for a := range 2 {
				e, o := 2*a, 2*a+1
				for r := range 2 {
					x := t.vec()
					switch j {
					case 0:
						s.VMOVUPS(mem(e, r, 0), x)
						s.VSUBPS(mem(e, r, 1), x, x)
					case 1:
						s.VMOVUPS(mem(o, r, 0), x)
						s.VADDPS(mem(e, r, 1), x, x)
					case 2:
						s.VMOVUPS(mem(e, r, 1), x)
						s.VSUBPS(mem(o, r, 0), x, x)
					case 3:
						s.VMOVUPS(mem(o, r, 0), x)
						s.VSUBPS(mem(o, r, 1), x, x)
					}
					u[a][r] = x
				}
			}
			w := t.vec()
			s.VSUBPS(u[0][1], u[0][0], w)
			s.VMOVUPS(w, v.at(j))
			s.VADDPS(u[0][1], u[1][0], w)
			s.VMOVUPS(w, v.at(4+j))
			s.VSUBPS(u[1][0], u[0][1], w)
			s.VMOVUPS(w, v.at(8+j))
			s.VSUBPS(u[1][1], u[1][0], w)
			s.VMOVUPS(w, v.at(12+j))
		}
		for _, p := range ph {
			s.ADDQ(imm(4*t.lanes), p)
		}
		s.advance(v, 4*t.lanes)
	}
	roundedBlocks(s, n, block)
	s.VZEROUPPER()
	s.RET()
}

// winoOutKernel emits winoOut+isa: the output transform Aᵀ M A of
// Winograd's F(2×2, 3×3) at n positions t (rounded up to a multiple of
// 8), from the 16 planes of m (stride ld) to the 2 rows of o (stride
// ldo), interleaved: o[a·ldo + 2t + b] = o_ab, with s_aj = (m_0j + m_1j)
// + m_2j for a = 0, (m_1j - m_2j) - m_3j for a = 1, and o_a0 = (s_a0 +
// s_a1) + s_a2, o_a1 = (s_a1 - s_a2) - s_a3. The operations and their
// order are winogradOutput's.
func winoOutKernel(s isa, zip [2]operand.Mem) {
	s.Implement("winoOut" + s.name)
	s.Attributes(attr.NOSPLIT)
	s.Comment("The output transform of F(2×2, 3×3) at n positions, rounded up to a multiple of 8 (winogradOutput).")
	lo, hi := s.zipIndices(zip)
	o0, ldo := s.slice("o", 4), s.GP64()
	s.Load(s.Param("ldo"), ldo)
	o1 := s.GP64()
	s.LEAQ(operand.Mem{Base: o0.p, Index: ldo, Scale: 4}, o1)
	m := newPlanes(s, "m", "ld")
	n := s.GP64()
	s.Load(s.Param("n"), n)
	block := func(t isa) {
		var sv [2][4]reg.VecVirtual
		for j := range 4 {
			a, b := t.vec(), t.vec()
			s.VMOVUPS(m.at(j), a)
			s.VADDPS(m.at(4+j), a, a)
			s.VADDPS(m.at(8+j), a, a)
			s.VMOVUPS(m.at(4+j), b)
			s.VSUBPS(m.at(8+j), b, b)
			s.VSUBPS(m.at(12+j), b, b)
			sv[0][j], sv[1][j] = a, b
		}
		for a, row := range []reg.Register{o0.p, o1} {
			x, y := t.vec(), t.vec()
			s.VADDPS(sv[a][1], sv[a][0], x)
			s.VADDPS(sv[a][2], x, x)
			s.VSUBPS(sv[a][2], sv[a][1], y)
			s.VSUBPS(sv[a][3], y, y)
			t.zipStore(x, y, lo, hi, operand.Mem{Base: row}, operand.Mem{Base: row, Disp: 4 * t.lanes})
		}
		s.ADDQ(imm(8*t.lanes), o0.p)
		s.ADDQ(imm(8*t.lanes), o1)
		s.advance(m, 4*t.lanes)
	}
	roundedBlocks(s, n, block)
	s.VZEROUPPER()
	s.RET()
}

// roundedBlocks emits blocks of s.lanes positions while n has them, then
// (AVX-512) one of 8 when n > 0 is left, or (AVX2) none: n positions
// rounded up to a multiple of 8.
func roundedBlocks(s isa, n reg.Register, block func(isa)) {
	s.ADDQ(imm(7), n)
	s.ANDQ(imm(-8), n)
	fullThenHalf(s, n, block)
}
