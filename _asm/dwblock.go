package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// dwBlockKernels describes the kernels of depthwise convolution on blocks
// of 8 channels interleaved (a pixel's 8 channels in one vector, the
// layout ONNX Runtime's NCHWc kernels use): interleave8 and scatter8, which
// move 8 planes into that layout and back, and dwBlockK<k>S<stride>, the
// convolution itself. With the channels in the lanes, every lane of a
// vector takes the same taps: a tap in the padding is a tap the kernel
// skips for the whole vector, so the edges need no lane masks or blends,
// and the pixels of a row are independent chains of adds (the plane
// kernels' lanes are consecutive pixels of one channel, whose taps differ
// at the edges). AVX2's take 8 channels, AVX-512's 16 (interleave16 and
// scatter16 move them with AVX2's 8×8 transposes).
func dwBlockKernels(s isa) {
	if s.avx512 {
		interleave16Kernel(s)
		scatter16Kernel(s)
	} else {
		interleave8Kernel(s)
		scatter8Kernel(s)
	}
	for _, sh := range dwShapes {
		dwBlockKernel(s, sh[0], sh[1])
	}
}

// interleave8Kernel emits interleave8AVX2: dst[8p + r] = src[r·lds + p]
// for r < 8 and p < n (a multiple of 8), 8 rows of src read in blocks of
// 8 values and transposed in registers (transpose8x8).
func interleave8Kernel(s isa) {
	s.text("interleave8", "dst[8p + r] = src[r·lds + p] for r < 8 and p < n (a multiple of 8).")
	transposeRows(s, 8, "src", "lds", false)
}

// scatter8Kernel emits scatter8AVX2, interleave8's inverse: dst[r·ldd + p]
// = src[8p + r] for r < 8 and p < n (a multiple of 8).
func scatter8Kernel(s isa) {
	s.text("scatter8", "dst[r·ldd + p] = src[8p + r] for r < 8 and p < n (a multiple of 8).")
	transposeRows(s, 8, "dst", "ldd", true)
}

// interleave16Kernel emits interleave16AVX512: dst[16p + r] = src[r·lds +
// p] for r < 16 and p < n (a multiple of 8).
func interleave16Kernel(s isa) {
	s.text("interleave16", "dst[16p + r] = src[r·lds + p] for r < 16 and p < n (a multiple of 8).")
	transposeRows(s, 16, "src", "lds", false)
}

// scatter16Kernel emits scatter16AVX512, interleave16's inverse:
// dst[r·ldd + p] = src[16p + r] for r < 16 and p < n (a multiple of 8).
func scatter16Kernel(s isa) {
	s.text("scatter16", "dst[r·ldd + p] = src[16p + r] for r < 16 and p < n (a multiple of 8).")
	transposeRows(s, 16, "dst", "ldd", true)
}

// transposeRows emits the loop of interleave8 or interleave16 (scatter
// false: the lanes rows are the slice rows, at a stride of the argument
// ld, read; the pixels of lanes values written in order) or of scatter8
// or scatter16 (the pixels read in order, the rows written), a block of 8
// pixels each time: rows 0-7, and 8-15 for 16 lanes, in 8×8 transposes
// on YMM registers into (out of) the halves of the pixels.
func transposeRows(s isa, lanes int, rows, ld string, scatter bool) {
	h := s.half()
	pixel := 4 * lanes
	dst, src := s.slice("dst", 4), s.slice("src", 4)
	strd, n := s.GP64(), s.GP64()
	s.Load(s.Param(ld), strd)
	s.Load(s.Param("n"), n)
	s.SHLQ(imm(2), strd)
	row, blocks := src.p, dst.p
	if scatter {
		row, blocks = dst.p, src.p
	}
	strd3 := s.GP64()
	s.LEAQ(operand.Mem{Base: strd, Index: strd, Scale: 2}, strd3)
	bases := make([]reg.GPVirtual, lanes/4) // rows 0, 4, 8 ...
	for q := range bases {
		bases[q] = s.GP64()
		if q == 0 {
			s.MOVQ(row, bases[q])
		} else {
			s.LEAQ(operand.Mem{Base: bases[q-1], Index: strd, Scale: 4}, bases[q])
		}
	}
	s.SHRQ(imm(3), n)
	s.JEQ(operand.LabelRef("done"))
	s.Label("loop")
	for half := range lanes / 8 {
		p, p4 := bases[2*half], bases[2*half+1]
		var in [8]reg.VecVirtual
		for r := range in {
			in[r] = h.vec()
			if scatter {
				s.VMOVUPS(operand.Mem{Base: blocks, Disp: pixel*r + 32*half}, in[r])
			} else {
				s.VMOVUPS(strided(r, p, p4, strd, strd3), in[r])
			}
		}
		for c, col := range transpose8x8(h, in) {
			if scatter {
				s.VMOVUPS(col, strided(c, p, p4, strd, strd3))
			} else {
				s.VMOVUPS(col, operand.Mem{Base: blocks, Disp: pixel*c + 32*half})
			}
		}
	}
	for _, b := range bases {
		s.ADDQ(imm(32), b)
	}
	s.ADDQ(imm(8*pixel), blocks)
	s.DECQ(n)
	s.JNZ(operand.LabelRef("loop"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}

// strided returns the address of row r of 8 at a stride of ld bytes: p +
// r·ld for r < 4, p4 + (r-4)·ld after (p4 = p + 4·ld, ld3 = 3·ld).
func strided(r int, p, p4, ld, ld3 reg.Register) operand.Mem {
	base := p
	if r >= 4 {
		base, r = p4, r-4
	}
	switch r {
	case 0:
		return operand.Mem{Base: base}
	case 3:
		return operand.Mem{Base: base, Index: ld3, Scale: 1}
	}
	return operand.Mem{Base: base, Index: ld, Scale: uint8(r)}
}

// dwBlockKernel emits dwBlockK<k>S<stride> of s's family: a k×k
// depthwise convolution of the stride (dilation 1) of s.lanes interleaved
// channels (8 for AVX2, 16 for AVX-512), in (h×wd pixels of s.lanes
// values) to out (ho×wo pixels), padding padT rows above and padL columns
// to the left; w holds the k·k taps' s.lanes weights, bias the biases. Each output starts from its bias and adds, kernel row by
// kernel row (those inside the input) and column by column (those
// inside), the rounded product of the weight and the input:
// DepthwisePlanes's arithmetic for each channel, bit for bit. Output row
// by row, the pixels [lo, hi), whose taps' k columns are all inside the
// input, go 8 at a time (8 chains of adds keep both FP add pipes busy: a
// chain's add waits 3 cycles for the one before) or 4 (rows of fewer than
// 8 such pixels), over a loop of the kernel rows; the others one at a
// time over the columns inside.
func dwBlockKernel(s isa, k, stride int) {
	s.text(fmt.Sprintf("dwBlockK%dS%d", k, stride),
		fmt.Sprintf("A %d×%d depthwise convolution of stride %d on %d interleaved channels (DepthwisePlanes).", k, k, stride, s.lanes))
	ld := func(name string) reg.GPVirtual {
		r := s.GP64()
		s.Load(s.Param(name), r)
		return r
	}
	bias := s.vec()
	{
		bp := s.GP64()
		s.Load(s.Param("bias").Base(), bp)
		s.VMOVUPS(operand.Mem{Base: bp}, bias)
	}
	// Per output row: the kernel rows inside the input [krlo, krhi), and
	// rowIn, the address of input row oh·stride - padT (of kernel row 0,
	// maybe outside the input) at column 0.
	krloL, krhiL, rowInL, outRowL := s.AllocLocal(8), s.AllocLocal(8), s.AllocLocal(8), s.AllocLocal(8)
	oh := s.GP64()
	s.XORQ(oh, oh)
	s.Label("rows")
	s.CMPQ(oh, ld("ho"))
	s.JGE(operand.LabelRef("done"))
	{
		ihb := s.GP64()
		s.MOVQ(oh, ihb)
		if stride == 2 {
			s.SHLQ(imm(1), ihb)
		}
		s.SUBQ(ld("padT"), ihb)
		lo, neg, zero := s.GP64(), s.GP64(), s.GP64()
		s.XORQ(zero, zero)
		s.MOVQ(ihb, neg)
		s.NEGQ(neg)
		s.MOVQ(zero, lo)
		s.CMPQ(neg, zero)
		s.CMOVQGT(neg, lo)
		s.MOVQ(lo, krloL)
		hi, kk := ld("h"), s.GP64()
		s.SUBQ(ihb, hi)
		s.MOVQ(operand.I32(k), kk)
		s.CMPQ(hi, kk)
		s.CMOVQGT(kk, hi)
		s.MOVQ(hi, krhiL)
		s.IMULQ(ld("wd"), ihb)
		s.SHLQ(imm(s.pixelShift()), ihb)
		in := s.GP64()
		s.Load(s.Param("in").Base(), in)
		s.ADDQ(in, ihb)
		s.MOVQ(ihb, rowInL)
		o := ld("wo")
		s.IMULQ(oh, o)
		s.SHLQ(imm(s.pixelShift()), o)
		out := s.GP64()
		s.Load(s.Param("out").Base(), out)
		s.ADDQ(out, o)
		s.MOVQ(o, outRowL)
	}
	// The row's pixels: those before lo one at a time, [lo, hi) (all
	// their taps' columns inside) in runs of 8 (the last run ending at
	// hi, over pixels a run before it computed: the same values), or of
	// 4 when there are fewer than 8, then those from hi one at a time.
	ow := s.GP64()
	s.XORQ(ow, ow)
	dwBlockPixels(s, k, stride, "left", "lo", bias, ow, krloL, krhiL, rowInL, outRowL)
	n := ld("hi")
	s.SUBQ(ow, n)
	s.CMPQ(n, imm(8))
	s.JL(operand.LabelRef("narrow"))
	s.Label("runs8")
	end := s.GP64()
	s.LEAQ(operand.Mem{Base: ow, Disp: 8}, end)
	s.CMPQ(end, ld("hi"))
	s.JG(operand.LabelRef("last8"))
	dwBlockRun(s, k, stride, 8, "run8", bias, ow, krloL, krhiL, rowInL, outRowL)
	s.ADDQ(imm(8), ow)
	s.JMP(operand.LabelRef("runs8"))
	s.Label("last8")
	s.CMPQ(ow, ld("hi"))
	s.JGE(operand.LabelRef("inner_done"))
	s.Load(s.Param("hi"), ow)
	s.SUBQ(imm(8), ow)
	dwBlockRun(s, k, stride, 8, "tail8", bias, ow, krloL, krhiL, rowInL, outRowL)
	s.ADDQ(imm(8), ow)
	s.JMP(operand.LabelRef("inner_done"))
	s.Label("narrow")
	s.CMPQ(n, imm(4))
	s.JL(operand.LabelRef("few"))
	dwBlockRun(s, k, stride, 4, "run4", bias, ow, krloL, krhiL, rowInL, outRowL)
	s.Load(s.Param("hi"), ow)
	s.SUBQ(imm(4), ow)
	dwBlockRun(s, k, stride, 4, "tail4", bias, ow, krloL, krhiL, rowInL, outRowL)
	s.ADDQ(imm(4), ow)
	s.JMP(operand.LabelRef("inner_done"))
	s.Label("few")
	dwBlockPixels(s, k, stride, "middle", "hi", bias, ow, krloL, krhiL, rowInL, outRowL)
	s.Label("inner_done")
	dwBlockPixels(s, k, stride, "right", "wo", bias, ow, krloL, krhiL, rowInL, outRowL)
	s.Label("next_row")
	s.INCQ(oh)
	s.JMP(operand.LabelRef("rows"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}

// dwBlockDst returns, in a new register, the address of output pixel ow
// of the row at outRow.
func dwBlockDst(s isa, ow reg.GPVirtual, outRow operand.Mem) reg.GPVirtual {
	d := s.GP64()
	s.MOVQ(ow, d)
	s.SHLQ(imm(s.pixelShift()), d)
	s.ADDQ(outRow, d)
	return d
}

// dwBlockRun emits p pixels from ow whose taps' columns are all inside
// the input: p accumulators from the bias, a loop (labels prefixed by
// label) over the kernel rows inside [krlo, krhi), each kernel column's
// weights loaded once for the p pixels, and the stores.
func dwBlockRun(s isa, k, stride, p int, label string, bias reg.VecVirtual, ow reg.GPVirtual, krloL, krhiL, rowInL, outRowL operand.Mem) {
	acc := make([]reg.VecVirtual, p)
	for i := range acc {
		acc[i] = s.vec()
		s.VMOVAPS(bias, acc[i])
	}
	iwb := dwBlockColumn(s, stride, ow)
	kr, pin, wr, wdb := dwBlockTaps(s, k, iwb, krloL, rowInL)
	s.Label(label)
	s.CMPQ(kr, krhiL)
	s.JGE(operand.LabelRef(label + "_end"))
	for kc := range k {
		wv := s.vec()
		s.VMOVUPS(operand.Mem{Base: wr, Disp: s.pixel() * kc}, wv)
		for i := range p {
			x := s.vec()
			s.VMULPS(operand.Mem{Base: pin, Disp: s.pixel() * (i*stride + kc)}, wv, x)
			s.VADDPS(x, acc[i], acc[i])
		}
	}
	s.ADDQ(wdb, pin)
	s.ADDQ(imm(s.pixel()*k), wr)
	s.INCQ(kr)
	s.JMP(operand.LabelRef(label))
	s.Label(label + "_end")
	dst := dwBlockDst(s, ow, outRowL)
	for i, a := range acc {
		s.VMOVUPS(a, operand.Mem{Base: dst, Disp: s.pixel() * i})
	}
}

// dwBlockTaps returns, in new registers, the first kernel row inside the
// input kr (krlo), the address of its tap 0 for the pixel whose tap 0 is
// at input column iwb (pin = rowIn + (kr·wd + iwb)·pb, pb the bytes of a
// pixel), that of its weights (wr = w + kr·k·pb), and the size of an
// input row (wdb = wd·pb).
func dwBlockTaps(s isa, k int, iwb reg.GPVirtual, krloL, rowInL operand.Mem) (kr, pin, wr, wdb reg.GPVirtual) {
	kr, pin, wr, wdb = s.GP64(), s.GP64(), s.GP64(), s.GP64()
	s.MOVQ(krloL, kr)
	s.Load(s.Param("wd"), wdb)
	s.SHLQ(imm(s.pixelShift()), wdb)
	s.MOVQ(kr, pin)
	s.IMULQ(wdb, pin)
	s.ADDQ(rowInL, pin)
	t := s.GP64()
	s.MOVQ(iwb, t)
	s.SHLQ(imm(s.pixelShift()), t)
	s.ADDQ(t, pin)
	s.Load(s.Param("w").Base(), wr)
	s.MOVQ(kr, t)
	s.IMUL3Q(operand.I32(int32(s.pixel()*k)), t, t)
	s.ADDQ(t, wr)
	return kr, pin, wr, wdb
}

// dwBlockColumn returns, in a new register, ow·stride - padL: the input
// column of pixel ow's tap 0.
func dwBlockColumn(s isa, stride int, ow reg.GPVirtual) reg.GPVirtual {
	iwb := s.GP64()
	s.MOVQ(ow, iwb)
	if stride == 2 {
		s.SHLQ(imm(1), iwb)
	}
	pad := s.GP64()
	s.Load(s.Param("padL"), pad)
	s.SUBQ(pad, iwb)
	return iwb
}

// dwBlockPixels emits the pixels from ow to the argument end one at a
// time (labels prefixed by label), each over the columns inside the
// input [kclo, kchi) of each kernel row inside, and leaves ow at end.
func dwBlockPixels(s isa, k, stride int, label, end string, bias reg.VecVirtual, ow reg.GPVirtual, krloL, krhiL, rowInL, outRowL operand.Mem) {
	s.Label(label)
	e := s.GP64()
	s.Load(s.Param(end), e)
	s.CMPQ(ow, e)
	s.JGE(operand.LabelRef(label + "_end"))
	iwb := dwBlockColumn(s, stride, ow)
	acc := s.vec()
	s.VMOVAPS(bias, acc)
	// c0 = kclo·pb and c1 = kchi·pb: kclo = max(0, -iwb), kchi =
	// min(k, wd - iwb).
	c0, c1, t := s.GP64(), s.GP64(), s.GP64()
	s.XORQ(c0, c0)
	s.MOVQ(iwb, t)
	s.NEGQ(t)
	s.CMPQ(t, imm(0))
	s.CMOVQGT(t, c0)
	s.SHLQ(imm(s.pixelShift()), c0)
	s.Load(s.Param("wd"), c1)
	s.SUBQ(iwb, c1)
	s.MOVQ(operand.I32(k), t)
	s.CMPQ(c1, t)
	s.CMOVQGT(t, c1)
	s.SHLQ(imm(s.pixelShift()), c1)
	kr, pin, wr, wdb := dwBlockTaps(s, k, iwb, krloL, rowInL)
	s.Label(label + "_rows")
	s.CMPQ(kr, krhiL)
	s.JGE(operand.LabelRef(label + "_store"))
	c := s.GP64()
	s.MOVQ(c0, c)
	s.Label(label + "_cols")
	s.CMPQ(c, c1)
	s.JGE(operand.LabelRef(label + "_cols_end"))
	x := s.vec()
	s.VMOVUPS(operand.Mem{Base: pin, Index: c, Scale: 1}, x)
	s.VMULPS(operand.Mem{Base: wr, Index: c, Scale: 1}, x, x)
	s.VADDPS(x, acc, acc)
	s.ADDQ(imm(s.pixel()), c)
	s.JMP(operand.LabelRef(label + "_cols"))
	s.Label(label + "_cols_end")
	s.ADDQ(wdb, pin)
	s.ADDQ(imm(s.pixel()*k), wr)
	s.INCQ(kr)
	s.JMP(operand.LabelRef(label + "_rows"))
	s.Label(label + "_store")
	s.VMOVUPS(acc, operand.Mem{Base: dwBlockDst(s, ow, outRowL)})
	s.INCQ(ow)
	s.JMP(operand.LabelRef(label))
	s.Label(label + "_end")
}
