package main

import (
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// reduceKernels describes reduce/absmax_amd64.s: absMaxAVX2 and
// absMaxAVX512, absMaxGeneric of x for len(x) >= 8 (the vector loops, and
// the last 8 elements again for the rest, as loop does).
func reduceKernels(c *build.Context) {
	absMask := c.ConstData("absMask", operand.U32(0x7fffffff))
	for _, s := range isas(c) {
		absMax(s, absMask)
	}
}

func absMax(s isa, absMask operand.Mem) {
	s.text("absMax")
	s.Comment(
		"With the sign bit cleared, the bits of two floats compare as unsigned",
		"integers in the order of the floats, and the bits of every NaN exceed",
		"those of +Inf (0x7f800000). So an unsigned max of the sign-cleared words",
		"is the abs-max, or the bits of a NaN if any element is NaN, which the",
		"end maps to the one quiet NaN 0x7fc00000. Integer max is cheaper than",
		"VMAXPS and needs no NaN test in the loop. The last 8 elements, folded in",
		"at the end, cover what the vector loops leave.")
	x := s.slice("x", 4)
	n := s.length("x")
	mask := s.vec()
	s.VPBROADCASTD(absMask, mask)
	last := s.YMM()
	s.and(operand.Mem{Base: x.p, Index: n, Scale: 4, Disp: -32}, mask.AsY(), last)
	var acc [unroll]reg.VecVirtual
	for i := range acc {
		acc[i] = s.vec()
		s.xor(acc[i], acc[i], acc[i])
	}

	step := unroll * s.lanes
	s.counted(n, step, "loop4", func() {
		var t [unroll]reg.VecVirtual
		for j := range t {
			t[j] = s.vec()
			s.and(x.at(j*s.lanes), mask, t[j])
		}
		for j := range t {
			s.VPMAXUD(t[j], acc[j], acc[j])
		}
		s.ADDQ(imm(4*step), x.p)
	})
	s.VPMAXUD(acc[1], acc[0], acc[0])
	s.VPMAXUD(acc[3], acc[2], acc[2])
	s.VPMAXUD(acc[2], acc[0], acc[0])
	s.counted(n, s.lanes, "loop1", func() {
		v := s.vec()
		s.and(x.at(0), mask, v)
		s.VPMAXUD(v, acc[0], acc[0])
		s.ADDQ(imm(4*s.lanes), x.p)
	})

	y := acc[0].AsY()
	if s.avx512 {
		s.Comment("Fold the 16 lanes into 8, then the last 8 elements.")
		hi := s.YMM()
		s.VEXTRACTI64X4(imm(1), acc[0], hi)
		s.VPMAXUD(hi, y, y)
		s.CMPQ(n, imm(8))
		s.JB(operand.LabelRef("fold"))
		h := s.YMM()
		s.VPANDD(x.at(0), mask.AsY(), h)
		s.VPMAXUD(h, y, y)
	}
	s.Label("fold")
	s.VPMAXUD(last, y, y)
	lo, hi := acc[0].AsX(), s.XMM()
	s.extract128(1, y, hi)
	s.VPMAXUD(hi, lo, lo)
	s.VPSHUFD(imm(0x4e), lo, hi)
	s.VPMAXUD(hi, lo, lo)
	s.VPSHUFD(imm(0xb1), lo, hi)
	s.VPMAXUD(hi, lo, lo)
	m := s.GP32()
	s.VMOVD(lo, m)
	s.VZEROUPPER()
	s.CMPL(m, imm(0x7f800000))
	s.JLS(operand.LabelRef("ret"))
	s.MOVL(imm(0x7fc00000), m)
	s.Label("ret")
	s.MOVL(m, s.ret())
	s.RET()
}
