package main

import (
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// histcKernels describes histogram/histc_amd64.s: the torch.histc binning
// kernels, histcGeneric on the first len(x) &^ 7 elements, lane k of each
// vector counting into sub-histogram k%4 of sub (slots (k%4)*(n+2) on).
func histcKernels(c *build.Context) {
	absMask := c.ConstData("absMask", operand.U32(0x7fffffff))
	for _, s := range isas(c) {
		histc(s, absMask)
	}
}

func histc(s isa, absMask operand.Mem) {
	s.text("histc",
		"Each vector of elements gets its slot indices in registers: |x|, the",
		"range test (ordered compares, so NaN fails it), (v-lo)/rng*fn truncated",
		"and clamped to [0, n-1], the trash slots n (dropped zero) and n+1 (NaN,",
		"out of range) blended in, and the lane's sub-histogram offset added. The",
		"indices move to general registers two at a time (VMOVQ, VPEXTRQ; a spill",
		"to the stack and reloads was half as fast, the reloads waiting on the",
		"wide store) and are counted with scalar increments: consecutive lanes",
		"count into different sub-histograms, so repeated bins do not wait on",
		"each other's stores.")
	sub, x, n := s.slice("sub", 4), s.slice("x", 4), s.length("x")
	pp := s.GP64()
	s.Load(s.Param("p"), pp)
	p := s.Param("p").Dereference(pp)
	field := func(name string) operand.Mem {
		c := p.Field(name)
		if name == "laneOff" {
			c = c.Index(0)
		}
		b, err := c.Resolve()
		if err != nil {
			panic(name + ": " + err.Error())
		}
		return b.Addr
	}
	lo, hi := s.broadcast(field("lo")), s.broadcast(field("hi"))
	rng, fn := s.broadcast(field("rng")), s.broadcast(field("fn"))
	zero := s.broadcast(field("zero"))
	var last, trashOut, trashZero, laneOff, zeros, abs reg.VecVirtual
	for _, c := range []struct {
		r    *reg.VecVirtual
		name string
	}{{&last, "last"}, {&trashOut, "trashOut"}, {&trashZero, "trashZero"}} {
		*c.r = s.vec()
		s.VPBROADCASTD(field(c.name), *c.r)
	}
	laneOff = s.vec()
	if s.avx512 {
		s.VMOVDQU32(field("laneOff"), laneOff)
		abs = s.vec()
		s.VPBROADCASTD(absMask, abs)
	} else {
		s.VMOVDQU(field("laneOff"), laneOff)
	}
	zeros = s.vec()
	s.xor(zeros, zeros, zeros)

	body := func(s isa) {
		v, bin, slot := s.vec(), s.vec(), s.vec()
		var in, dropped reg.Register
		if s.avx512 {
			s.VPANDD(x.at(0), s.v(abs), v)
			in, dropped = s.K(), s.K()
			s.VCMPPS(imm(0x1d), s.v(lo), v, in)            // v >= lo (GE_OQ)
			s.VCMPPS(imm(0x12), s.v(hi), v, in, in)        // and v <= hi (LE_OQ)
			s.VCMPPS(imm(0x00), s.v(zero), v, in, dropped) // and v == zero (EQ_OQ)
		} else {
			s.VMOVUPS(x.at(0), v)
			s.VPSLLD(imm(1), v, v)
			s.VPSRLD(imm(1), v, v)
			in, dropped = s.YMM(), s.YMM()
			t := s.YMM()
			s.VCMPPS(imm(0x1d), lo, v, in)
			s.VCMPPS(imm(0x12), hi, v, t)
			s.VANDPS(t, in, in)
			s.VCMPPS(imm(0x00), zero, v, dropped)
			s.VANDPS(in, dropped, dropped)
		}
		s.VSUBPS(s.v(lo), v, bin)
		s.VDIVPS(s.v(rng), bin, bin)
		s.VMULPS(s.v(fn), bin, bin)
		s.VCVTTPS2DQ(bin, bin)
		s.VPMINSD(s.v(last), bin, bin)
		s.VPMAXSD(s.v(zeros), bin, bin)
		if s.avx512 {
			s.VMOVDQA32(s.v(trashOut), slot)
			s.VMOVDQA32(bin, in, slot)
			s.VMOVDQA32(s.v(trashZero), dropped, slot)
		} else {
			s.VBLENDVPS(in, bin, trashOut, slot)
			s.VBLENDVPS(dropped, trashZero, slot, slot)
		}
		s.VPADDD(s.v(laneOff), slot, slot)
		count(s, sub, slot)
	}

	s.counted(n, s.lanes, "loop", func() {
		body(s)
		s.ADDQ(imm(4*s.lanes), x.p)
	})
	if s.avx512 {
		s.CMPQ(n, imm(8))
		s.JB(operand.LabelRef("done"))
		s.Comment("The last 8 elements.")
		body(s.half())
	}
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}

// count increments the uint32 slots of sub whose indices are the lanes of
// slot.
func count(s isa, sub stream, slot reg.VecVirtual) {
	for q := 0; q < s.lanes/4; q++ {
		x := slot.AsX()
		if q > 0 {
			x = s.XMM()
			s.extract128(q, s.v(slot), x)
		}
		a, b, c, d := s.GP64(), s.GP64(), s.GP64(), s.GP64()
		s.VMOVQ(x, a)
		s.VPEXTRQ(imm(1), x, b)
		s.MOVL(a.As32(), c.As32())
		s.SHRQ(imm(32), a)
		s.MOVL(b.As32(), d.As32())
		s.SHRQ(imm(32), b)
		for _, r := range []reg.GPVirtual{c, a, d, b} {
			s.INCL(operand.Mem{Base: sub.p, Index: r, Scale: 4})
		}
	}
}
