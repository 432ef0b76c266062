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

// windowKernels describes internal/nn/window_amd64.s, each kernel for
// AVX2 and for AVX-512: evens, zip and Winograd's transforms (evensKernel,
// zipKernel, winoInKernel, winoOutKernel), gatherRows (see
// gatherRowsKernel) and, for each shape, the
// kernel of one input row of a sliding window, windowGeneric's dwRow (the
// depthwise convolution's taps: out[i] += w[c]·row[i·s+c], each product
// rounded, taps in order) and maxRow (max pooling's taps: out[i] takes
// row[i·s+c] when it is greater or NaN), on len(out) outputs, a multiple
// of 8 (a stride-2 kernel reads one element past the last tap of the last
// window: its vectors load pairs of elements), and the kernel of a whole
// plane, padding included (dwPlaneKernel, maxPlaneKernel).
func windowKernels(c *build.Context) {
	// evens: the VPERMT2PS indices of the even elements of two 16-lane
	// vectors.
	evens := c.StaticGlobal("evens")
	c.DataAttributes(attr.RODATA | attr.NOPTR)
	for i := range 16 {
		c.AddDatum(4*i, operand.U32(2*i))
	}
	zip := zipTables(c, "zip")
	// laneBits: 1 << j in lane j of a YMM vector, from which the AVX2
	// plane kernels make the lane masks of bit masks.
	laneBits := c.StaticGlobal("laneBits")
	c.DataAttributes(attr.RODATA | attr.NOPTR)
	for j := range 8 {
		c.AddDatum(4*j, operand.U32(1<<j))
	}
	// argLanes: the offsets 2j of the outputs j that maxArgRowK2S2AVX2's
	// lanes hold after its VSHUFPS (outputs 0 1 4 5 | 2 3 6 7).
	argLanes := c.StaticGlobal("argLanes")
	c.DataAttributes(attr.RODATA | attr.NOPTR)
	for i, j := range []int{0, 1, 4, 5, 2, 3, 6, 7} {
		c.AddDatum(4*i, operand.U32(2*j))
	}
	for _, s := range isas(c) {
		if !s.avx512 {
			maxArgK2S2Kernel(s, argLanes)
			maxK2S2Kernel(s)
			padPlanesKernel(s)
		}
		dwBlockKernels(s)
		convTile6Kernel(s, false)
		convTile6Kernel(s, true)
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
		for _, sh := range dwShapes {
			dwPlaneKernel(s, evens, laneBits, sh[0], sh[1])
		}
		for _, sh := range maxShapes {
			maxPlaneKernel(s, evens, laneBits, sh[0], sh[1])
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
	vec := s.vec // temporaries of x's width: an XMM x (maxK2S2's rows of 4) takes XMM ones
	if x.Size() == 16 {
		vec = s.XMM
	}
	gt, un := vec(), vec()
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

// maxArgK2S2Kernel emits maxArgRowK2S2AVX2 (both x86 families run it):
// maxPlaneK2S2Arg's row of len(out) outputs, a multiple of 8, from the
// rows top and bottom of the plane. Per 8 outputs: the 16 values of each
// row split by VSHUFPS into the windows' left and right taps (outputs 0 1
// 4 5 | 2 3 6 7 in the lanes, argLanes), then from -Inf and index -1 the
// four taps in scan order, each replacing the maximum and its index where
// it is greater or NaN (VCMPPS GT and UNORD, VBLENDVPS), then VPERMPD back
// in order. A tap's plane index is base + 2j (+1 right, +b2 bottom).
func maxArgK2S2Kernel(s isa, argLanes operand.Mem) {
	s.Implement("maxArgRowK2S2AVX2")
	s.Attributes(attr.NOSPLIT)
	s.Comment("out[j], am[j] = the maximum and its index of the 2×2 window j (maxPlaneK2S2Arg's row).")
	out, am := s.slice("out", 4), s.slice("am", 4)
	top, bottom := s.slice("top", 4), s.slice("bottom", 4)
	n := s.length("out")
	// broadcast puts the 32 bits of x (an immediate or a parameter) in
	// every lane.
	broadcast := func(x operand.Op) reg.VecVirtual {
		g, v := s.GP32(), s.YMM()
		s.MOVL(x, g)
		s.VMOVD(g, v.AsX())
		s.VPBROADCASTD(v.AsX(), v)
		return v
	}
	idx := broadcast(s.param("base"))
	s.VPADDD(argLanes, idx, idx)
	b2 := broadcast(s.param("b2"))
	one, sixteen := broadcast(operand.U32(1)), broadcast(operand.U32(16))
	ninf := broadcast(operand.U32(0xff800000))
	s.counted(n, 8, "loop", func() {
		var taps [4]reg.VecVirtual
		for r, row := range []stream{top, bottom} {
			a, b := s.YMM(), s.YMM()
			s.VMOVUPS(row.at(0), a)
			s.VMOVUPS(row.at(8), b)
			taps[2*r], taps[2*r+1] = s.YMM(), s.YMM()
			s.VSHUFPS(imm(0x88), b, a, taps[2*r])
			s.VSHUFPS(imm(0xdd), b, a, taps[2*r+1])
		}
		m, mi := s.YMM(), s.YMM()
		s.VMOVAPS(ninf, m)
		s.VPCMPEQD(mi, mi, mi) // -1
		for k, t := range taps {
			ti := idx
			if k > 0 {
				ti = s.YMM()
				switch k {
				case 1:
					s.VPADDD(one, idx, ti)
				case 2:
					s.VPADDD(b2, idx, ti)
				case 3:
					s.VPADDD(b2, idx, ti)
					s.VPADDD(one, ti, ti)
				}
			}
			gt, un := s.YMM(), s.YMM()
			s.VCMPPS(imm(0x1e), m, t, gt)
			s.VCMPPS(imm(0x03), t, t, un)
			s.VORPS(un, gt, gt)
			s.VBLENDVPS(gt, t, m, m)
			s.VBLENDVPS(gt, ti, mi, mi)
		}
		s.VPERMPD(imm(0xd8), m, m)
		s.VPERMPD(imm(0xd8), mi, mi)
		s.VMOVUPS(m, out.at(0))
		s.VMOVDQU(mi, am.at(0))
		s.VPADDD(sixteen, idx, idx)
		s.ADDQ(imm(32), out.p)
		s.ADDQ(imm(32), am.p)
		s.ADDQ(imm(64), top.p)
		s.ADDQ(imm(64), bottom.p)
	})
	s.VZEROUPPER()
	s.RET()
}

// dwPlaneKernel emits dwPlaneK<k>S<stride>+isa: a whole plane of a
// depthwise convolution with a k×k kernel, stride 1 or 2 and dilation 1,
// in chunks of s.lanes output columns: each output starts from the bias
// and adds, kernel row by kernel row (the rows inside the input only) and
// tap by tap, the rounded product of the weight and the input element,
// the taps in the padding left out by lane masks (masked loads do not
// touch them; the update leaves their lanes as they were: a masked add
// for AVX-512, a blend of the sum for AVX2): DepthwisePlanes's
// arithmetic, bit for bit.
func dwPlaneKernel(s isa, evens, laneBits operand.Mem, k, stride int) {
	planeKernel(s, evens, laneBits, true, k, stride)
}

// maxPlaneKernel emits maxPlaneK<k>S<stride>+isa: a whole plane of a k×k
// max pooling, dwPlaneKernel's walk with MaxPool's update (a tap replaces
// the maximum where it is greater or NaN) from -Inf.
func maxPlaneKernel(s isa, evens, laneBits operand.Mem, k, stride int) {
	planeKernel(s, evens, laneBits, false, k, stride)
}

// planeRows is how many output rows planeKernel computes at once: their
// sums are independent chains, which the adds of one row (a chain of k·k
// dependent adds) leave the FP pipes idle without.
const planeRows = 3

// planeKernel emits the kernel of dwPlaneKernel (dw) or of
// maxPlaneKernel: the walk both share, for both isas. The output columns
// go in chunks of s.lanes, whose lane masks (planeMasks) are computed
// once per chunk; each chunk goes down the output rows planeRows at a
// time, on a path without row masks where the group's input rows are all
// inside the input (planeRowsBody). The isas differ in the masks and the
// store (planeMasks), the loads (planeTap) and the update (planeUpdate).
// evens holds the AVX-512 indices of the even elements of two vectors,
// laneBits the AVX2 bits of the lanes (1 << lane).
func planeKernel(s isa, evens, laneBits operand.Mem, dw bool, k, stride int) {
	if dw {
		s.Implement(fmt.Sprintf("dwPlaneK%dS%d%s", k, stride, s.name))
		s.Comment(fmt.Sprintf("One plane of a %d×%d depthwise convolution of stride %d (DepthwisePlanes).", k, k, stride))
	} else {
		s.Implement(fmt.Sprintf("maxPlaneK%dS%d%s", k, stride, s.name))
		s.Comment(fmt.Sprintf("One plane of a %d×%d max pooling of stride %d (MaxPool).", k, k, stride))
	}
	s.Comment(fmt.Sprintf("Chunks of %d output columns (their masks computed once), each down the rows %d at a time.", s.lanes, planeRows))
	out, in := s.slice("out", 4), s.slice("in", 4)
	// The chunks read the input in strips down the plane, a pattern the
	// hardware prefetchers do not follow: one sequential pass first
	// loads a value of each cache line of the plane (mobilenet_v2's
	// 112×112 planes, 50 KB each, come from L3 or memory). Loads, not
	// PREFETCHT0: on Zen 3 the prefetches took a third of the gain.
	s.Comment("Touch the input plane, line by line.")
	pf, end := s.GP64(), s.GP64()
	s.MOVQ(in.p, pf)
	s.Load(s.Param("h"), end)
	wdr := s.GP64()
	s.Load(s.Param("wd"), wdr)
	s.IMULQ(wdr, end)
	s.LEAQ(operand.Mem{Base: pf, Index: end, Scale: 4}, end)
	touch := s.GP32()
	s.Label("touch")
	s.CMPQ(pf, end)
	s.JAE(operand.LabelRef("touched"))
	s.MOVL(operand.Mem{Base: pf}, touch)
	s.ADDQ(imm(64), pf)
	s.JMP(operand.LabelRef("touch"))
	s.Label("touched")
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
	if stride == 2 && s.avx512 {
		idx = s.ZMM()
		s.VMOVDQU32(evens, idx)
	}
	// The chunk's first input column (tap 0 of lane 0) and the masks.
	colLoc := s.AllocLocal(8)
	pm := newPlaneMasks(s, k, laneBits)
	// The weights: AVX-512 multiplies by a broadcast of w[i]; AVX2, which
	// has no embedded broadcast, by a vector of w[i] in a local.
	w := operand.Mem{Base: wp}
	if dw && !s.avx512 {
		w = s.AllocLocal(32 * k * k)
		for i := range k * k {
			s.VMOVUPS(s.broadcast(operand.Mem{Base: wp, Disp: 4 * i}), w.Offset(32*i))
		}
	}
	ow0 := s.GP64()
	s.XORQ(ow0, ow0)
	s.Label("chunks")
	wo := ld("wo")
	s.CMPQ(ow0, wo)
	s.JGE(operand.LabelRef("done"))
	if !s.avx512 {
		// A plane of 8 columns or more ends with the chunk of its last
		// 8 (overlapping the one before, whose lanes it computes again
		// to the same values): all its lanes stored by one VMOVUPS,
		// where a partial chunk would take AMD's slow VMASKMOVPS store.
		end := s.GP64()
		s.LEAQ(operand.Mem{Base: ow0, Disp: s.lanes}, end)
		s.CMPQ(end, wo)
		s.JLE(operand.LabelRef("whole"))
		s.CMPQ(wo, imm(s.lanes))
		s.JL(operand.LabelRef("whole"))
		s.LEAQ(operand.Mem{Base: wo, Disp: -s.lanes}, ow0)
		s.Label("whole")
	}
	// The chunk's lanes: min(s.lanes, wo - ow0).
	s.SUBQ(ow0, wo)
	all := s.lowLanes(wo)
	if !s.avx512 {
		s.ANDL(imm(0xff), all)
	}
	pm.setAll(s, all)
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
		pm.setTap(s, kc, stride, m)
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
	acc := planeRowsBody(s, dw, k, stride, in, w, oh, acc0, idx, pm, colLoc, true)
	s.JMP(operand.LabelRef("store"))
	s.Label("edge_rows")
	for r, a := range planeRowsBody(s, dw, k, stride, in, w, oh, acc0, idx, pm, colLoc, false) {
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
		if stride == 2 && !s.avx512 {
			// Lanes 0 1 4 5 2 3 6 7 (planeTap) back in order.
			s.VPERMPD(imm(0xd8), acc[r], acc[r])
		}
		pm.store(s, acc[r], operand.Mem{Base: out.p, Index: dst, Scale: 4}, r)
		if r > 0 {
			s.Label(skip)
		}
	}
	// oh moved on by planeRows-1 (whether or not the rows were stored):
	// on to the next group's first row.
	s.ADDQ(imm(1), oh)
	s.JMP(operand.LabelRef("rows"))
	s.Label("next_chunk")
	s.ADDQ(imm(s.lanes), ow0)
	s.JMP(operand.LabelRef("chunks"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}

// planeMasks are the stack locals of planeKernel's lane masks of the
// current chunk: all, the bits of its lanes (min(s.lanes, wo - ow0) low
// bits); lanes, by kernel column kc, the lanes whose tap kc is inside the
// input columns; pairs (stride 2), by kc, the input elements the lanes'
// pairs load (the even ones of lanes, whose odd neighbours are not
// needed). AVX-512 keeps them as opmask bits (4 bytes each); AVX2 as
// vectors of all-ones or zero lanes, 32 bytes each (two for the 16
// elements of pairs; the lanes of a stride-2 tap in the order of
// planeTap's), and all also as such a vector (allVec), from the vector of
// lane bits laneBits.
type planeMasks struct {
	all, allVec, lanes, pairs, laneBits operand.Mem
}

// newPlaneMasks allocates the masks of the k taps of a chunk.
func newPlaneMasks(s isa, k int, laneBits operand.Mem) planeMasks {
	pm := planeMasks{all: s.AllocLocal(8), laneBits: laneBits}
	if s.avx512 {
		pm.lanes = s.AllocLocal(4 * k)
		pm.pairs = s.AllocLocal(4 * k)
		return pm
	}
	pm.allVec = s.AllocLocal(32)
	pm.lanes = s.AllocLocal(32 * k)
	pm.pairs = s.AllocLocal(64 * k)
	return pm
}

// vector returns, for AVX2, the vector of the bits of m (lane j all ones
// where bit j is set, else zero): m broadcast, each lane's bit isolated
// and compared with it.
func (pm planeMasks) vector(s isa, m reg.GPVirtual) reg.VecVirtual {
	x, v := s.XMM(), s.YMM()
	s.VMOVD(m, x)
	s.VPBROADCASTD(x, v)
	s.VPAND(pm.laneBits, v, v)
	s.VPCMPEQD(pm.laneBits, v, v)
	return v
}

// setAll stores the chunk's lanes, all.
func (pm planeMasks) setAll(s isa, all reg.GPVirtual) {
	s.MOVL(all, pm.all)
	if !s.avx512 {
		s.VMOVUPS(pm.vector(s, all), pm.allVec)
	}
}

// setTap stores the masks of tap kc from m, the bits of its lanes.
func (pm planeMasks) setTap(s isa, kc, stride int, m reg.GPVirtual) {
	switch {
	case s.avx512:
		s.MOVL(m, pm.lanes.Offset(4*kc))
	case stride == 1:
		s.VMOVUPS(pm.vector(s, m), pm.lanes.Offset(32*kc))
	default:
		// In the order of planeTap's lanes: 0 1 4 5 2 3 6 7.
		v := pm.vector(s, m)
		s.VPERMPD(imm(0xd8), v, v)
		s.VMOVUPS(v, pm.lanes.Offset(32*kc))
	}
	if stride == 1 {
		return
	}
	// Lane j takes element 2j of the pairs (2j+1, which may lie past the
	// input, is not loaded): bit j to bit 2j.
	even, p := s.GP32(), s.GP32()
	s.MOVL(operand.U32(0x55555555), even)
	s.PDEPL(even, m, p)
	if s.avx512 {
		s.MOVL(p, pm.pairs.Offset(4*kc))
		return
	}
	s.VMOVUPS(pm.vector(s, p), pm.pairs.Offset(64*kc))
	s.SHRL(imm(8), p)
	s.VMOVUPS(pm.vector(s, p), pm.pairs.Offset(64*kc+32))
}

// tapMasks are the masks of one tap of a group of output rows: m selects
// the lanes that take the tap; lo and hi (stride 2) the elements the
// first and the second load of the pairs read.
type tapMasks struct {
	m, lo, hi reg.Register
}

// tap loads the masks of tap kc; valid, when not nil, is the row's
// validity (all ones: the input row is inside; zero: no lane takes the
// tap), a 64-bit register for AVX-512, a vector for AVX2, that they are
// restricted to.
func (pm planeMasks) tap(s isa, kc, stride int, valid reg.Register) tapMasks {
	var t tapMasks
	if s.avx512 {
		// kload moves the mask bits at at (restricted to valid) into a
		// mask register by kmov.
		kload := func(at operand.Mem, kmov func(mk, mk1 operand.Op)) reg.Register {
			km := s.K()
			if valid == nil {
				kmov(at, km)
				return km
			}
			m := s.GP32()
			s.MOVL(at, m)
			s.ANDL(valid.(reg.GP).As32(), m)
			kmov(m, km)
			return km
		}
		t.m = kload(pm.lanes.Offset(4*kc), s.KMOVW)
		if stride == 2 {
			lo, hi := kload(pm.pairs.Offset(4*kc), s.KMOVD), s.K()
			s.KSHIFTRD(imm(16), lo, hi)
			t.lo, t.hi = lo, hi
		}
		return t
	}
	load := func(at operand.Mem) reg.Register {
		v := s.YMM()
		if valid == nil {
			s.VMOVUPS(at, v)
		} else {
			s.VPAND(at, valid, v)
		}
		return v
	}
	t.m = load(pm.lanes.Offset(32 * kc))
	if stride == 2 {
		t.lo, t.hi = load(pm.pairs.Offset(64*kc)), load(pm.pairs.Offset(64*kc+32))
	}
	return t
}

// store stores acc to dst in the chunk's lanes: a masked store, or for
// AVX2 a whole vector when the chunk has all 8 lanes (labels numbered r).
func (pm planeMasks) store(s isa, acc reg.VecVirtual, dst operand.Mem, r int) {
	if s.avx512 {
		km := s.K()
		s.KMOVW(pm.all, km)
		s.VMOVUPS(acc, km, dst)
		return
	}
	partial, done := fmt.Sprintf("partial%d", r), fmt.Sprintf("full%d", r)
	s.CMPL(pm.all, imm(0xff))
	s.JNE(operand.LabelRef(partial))
	s.VMOVUPS(acc, dst)
	s.JMP(operand.LabelRef(done))
	s.Label(partial)
	m := s.YMM()
	s.VMOVUPS(pm.allVec, m)
	s.VMASKMOVPS(acc, m, dst)
	s.Label(done)
}

// planeRowsBody emits the taps of planeRows output rows from oh of the
// chunk (its masks in pm, its first input column in colLoc) and returns
// their accumulators; w addresses the weights (planeWeight). inside:
// every input row the group reads is inside the input (no row masks; the
// masks of a tap are loaded once for the rows).
func planeRowsBody(s isa, dw bool, k, stride int, in stream, w operand.Mem, oh reg.GPVirtual, acc0, idx reg.VecVirtual, pm planeMasks, colLoc operand.Mem, inside bool) []reg.VecVirtual {
	ld := func(name string) reg.GPVirtual {
		r := s.GP64()
		s.Load(s.Param(name), r)
		return r
	}
	acc := make([]reg.VecVirtual, planeRows)
	for r := range acc {
		acc[r] = s.vec()
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
				t := pm.tap(s, kc, stride, nil)
				for r := range planeRows {
					x := planeTap(s, rowp[r], kc, stride, t, idx)
					planeUpdate(s, dw, x, acc[r], t.m, planeWeight(s, w, kr*k+kc))
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
		valid := make([]reg.Register, planeRows)
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
			if !s.avx512 {
				x, vv := s.XMM(), s.YMM()
				s.VMOVD(v.As32(), x)
				s.VPBROADCASTD(x, vv)
				valid[r] = vv
			}
		}
		for kc := range k {
			for r := range planeRows {
				t := pm.tap(s, kc, stride, valid[r])
				x := planeTap(s, rowp[r], kc, stride, t, idx)
				planeUpdate(s, dw, x, acc[r], t.m, planeWeight(s, w, kr*k+kc))
			}
		}
	}
	return acc
}

// planeWeight returns the address of weight i: w[i] (AVX-512, which
// broadcasts it), or the vector of w[i] (AVX2).
func planeWeight(s isa, w operand.Mem, i int) operand.Mem {
	if s.avx512 {
		return w.Offset(4 * i)
	}
	return w.Offset(32 * i)
}

// planeTap loads the tap kc of the s.lanes lanes from rowp: masked by t.m
// (stride 1), or the even elements of 2·s.lanes loaded by t.lo and t.hi
// (stride 2; idx holds the AVX-512 indices of the even elements; the AVX2
// lanes come in the order 0 1 4 5 2 3 6 7). Masked-off elements read as
// zero and are not accessed (no fault).
func planeTap(s isa, rowp reg.Register, kc, stride int, t tapMasks, idx reg.VecVirtual) reg.VecVirtual {
	x := s.vec()
	at := operand.Mem{Base: rowp, Disp: 4 * kc}
	if s.avx512 {
		if stride == 1 {
			s.VMOVUPS_Z(at, t.m, x)
			return x
		}
		hv := s.ZMM()
		s.VMOVUPS_Z(at, t.lo, x)
		s.VMOVUPS_Z(at.Offset(64), t.hi, hv)
		s.VPERMT2PS(hv, idx, x)
		return x
	}
	if stride == 1 {
		s.VMASKMOVPS(at, t.m, x)
		return x
	}
	// [a0 a2 b0 b2 | a4 a6 b4 b6]: the lanes 0 1 4 5 2 3 6 7, left in
	// that order (the update is lane by lane; planeKernel puts them back
	// in order before the store) rather than taps's VPERMPD on every tap.
	hv := s.YMM()
	s.VMASKMOVPS(at, t.lo, x)
	s.VMASKMOVPS(at.Offset(32), t.hi, hv)
	s.VSHUFPS(imm(0x88), hv, x, x)
	return x
}

// planeUpdate adds the rounded product of x and the weight at w to acc in
// the lanes of m (dw), or replaces acc by x in the lanes of m where x is
// greater or NaN (max pooling); the other lanes of acc stay as they were
// (AVX2 blends the new value in: an add of a zero product would not leave
// them, -0 + 0 being +0 and Inf·0 NaN). x is overwritten.
func planeUpdate(s isa, dw bool, x, acc reg.VecVirtual, m reg.Register, w operand.Mem) {
	switch {
	case s.avx512 && dw:
		s.VMULPS_BCST(w, x, x)
		s.VADDPS(x, acc, m, acc)
	case s.avx512:
		gt, un := s.K(), s.K()
		s.VCMPPS(imm(0x1e), acc, x, m, gt)
		s.VCMPPS(imm(0x03), x, x, m, un)
		s.KORW(gt, un, gt)
		s.VMOVUPS(x, gt, acc)
	case dw:
		s.VMULPS(w, x, x)
		s.VADDPS(x, acc, x)
		s.VBLENDVPS(m, x, acc, acc)
	default:
		gt, un := s.YMM(), s.YMM()
		s.VCMPPS(imm(0x1e), acc, x, gt)
		s.VCMPPS(imm(0x03), x, x, un)
		s.VORPS(un, gt, gt)
		s.VANDPS(m, gt, gt)
		s.VBLENDVPS(gt, x, acc, acc)
	}
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
