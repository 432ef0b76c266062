package main

import (
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// maxK2S2Kernel emits maxK2S2AVX2, the 2×2 max pooling of stride 2
// without padding (internal/nn maxPlane): output row i from input rows
// 2i and 2i+1, 8 outputs at a time (a row's last 8 again, overlapping,
// when its width is not a multiple of 8), 4 at a time for rows of 4 to 7
// outputs. A vector's inputs are two pairs of loads, split by VSHUFPS
// into the windows' left and right taps (in-lane order, put right by one
// VPERMPD at the end); the taps are taken in scan order, each where it
// is greater or NaN (takeGreaterOrNaN): the plane kernel's arithmetic
// without its masks and edge cases.
func maxK2S2Kernel(s isa) {
	s.text("maxK2S2", "out[i·wo + j] = max-with-NaN of in[2i·wd + 2j], in[2i·wd + 2j+1], in[(2i+1)·wd + 2j], in[(2i+1)·wd + 2j+1] in that order, i < rows, j < wo, wo ≥ 4 (maxK2S2Generic).")
	out, top := s.GP64(), s.GP64()
	s.Load(s.Param("out").Base(), out)
	s.Load(s.Param("in").Base(), top)
	rows, wo, wd := s.GP64(), s.GP64(), s.GP64()
	s.Load(s.Param("rows"), rows)
	s.Load(s.Param("wo"), wo)
	s.Load(s.Param("wd"), wd)
	s.SHLQ(imm(2), wd) // bytes
	s.TESTQ(rows, rows)
	s.JEQ(operand.LabelRef("done"))
	s.Label("row")
	bot, j := s.GP64(), s.GP64()
	s.LEAQ(operand.Mem{Base: top, Index: wd, Scale: 1}, bot)
	// window computes the outputs from j (a register) of vectors made by
	// vec, width lanes wide.
	window := func(vec func() reg.VecVirtual, width int, ymm bool) {
		taps := func(row reg.GPVirtual) (left, right reg.VecVirtual) {
			lo := vec()
			left, right = vec(), vec()
			at := operand.Mem{Base: row, Index: j, Scale: 8}
			s.VMOVUPS(at, lo)
			s.VSHUFPS(imm(0x88), at.Offset(4*width), lo, left)
			s.VSHUFPS(imm(0xdd), at.Offset(4*width), lo, right)
			return left, right
		}
		m, tr := taps(top)
		bl, br := taps(bot)
		for _, x := range []reg.VecVirtual{tr, bl, br} {
			s.takeGreaterOrNaN(x, m)
		}
		if ymm {
			s.VPERMPD(imm(0xd8), m, m)
		}
		s.VMOVUPS(m, operand.Mem{Base: out, Index: j, Scale: 4})
	}
	s.XORQ(j, j)
	s.CMPQ(wo, imm(8))
	s.JL(operand.LabelRef("four"))
	s.Label("eight")
	end := s.GP64()
	s.LEAQ(operand.Mem{Base: j, Disp: 8}, end)
	s.CMPQ(end, wo)
	s.JG(operand.LabelRef("last8"))
	window(s.YMM, 8, true)
	s.MOVQ(end, j)
	s.JMP(operand.LabelRef("eight"))
	s.Label("last8")
	s.CMPQ(j, wo)
	s.JGE(operand.LabelRef("next"))
	s.LEAQ(operand.Mem{Base: wo, Disp: -8}, j)
	window(s.YMM, 8, true)
	s.JMP(operand.LabelRef("next"))
	s.Label("four")
	window(s.XMM, 4, false)
	s.LEAQ(operand.Mem{Base: wo, Disp: -4}, j)
	window(s.XMM, 4, false)
	s.Label("next")
	s.LEAQ(operand.Mem{Base: top, Index: wd, Scale: 2}, top)
	s.LEAQ(operand.Mem{Base: out, Index: wo, Scale: 4}, out)
	s.DECQ(rows)
	s.JNZ(operand.LabelRef("row"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}
