package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// gemmKernels describes internal/gemm/kernel_amd64.s: the micro-kernels of
// Sgemm (kernelGeneric is the specification). Each keeps its whole C tile
// in registers for the k loop: per step it loads one packed row of B (two
// vectors), broadcasts the mr packed values of A one at a time and issues
// 2·mr fused multiply-adds. Then it adds the tile to C (when acc) and
// stores it. sgemmFinishAVX512 then finishes the tile as vec.FinishTile
// does with a bias per row and no residual (Gemm's epilogue on a whole
// tile, without a second pass over it).
func gemmKernels(c *build.Context) {
	for _, s := range isas(c) {
		sgemm(s, false)
		if s.avx512 {
			sgemm(s, true)
		}
	}
}

func sgemm(s isa, finish bool) {
	mr := 6 // AVX2: 12 accumulators, 2 rows of B and a broadcast fill 15 registers
	if s.avx512 {
		mr = 8
	}
	nr := 2 * s.lanes
	name := "sgemm"
	if finish {
		name = "sgemmFinish"
	}
	s.text(name, fmt.Sprintf("%d×%d tile: row i in accumulators 2i (columns 0-%d) and 2i+1 (%d-%d).",
		mr, nr, s.lanes-1, s.lanes, nr-1))
	k := s.GP64()
	s.Load(s.Param("k"), k)
	a, b, c := s.slice("a", 4), s.slice("b", 4), s.slice("c", 4)
	ldc := s.GP64()
	s.Load(s.Param("ldc"), ldc)
	s.SHLQ(imm(2), ldc) // in bytes

	s.Comment("Prefetch the C tile while the k loop runs.")
	p := s.GP64()
	s.MOVQ(c.p, p)
	for i := range mr {
		for off := 0; off < 4*nr; off += 64 {
			s.PREFETCHT0(operand.Mem{Base: p, Disp: off})
		}
		if i < mr-1 {
			s.ADDQ(ldc, p)
		}
	}
	acc := make([]reg.VecVirtual, 2*mr)
	for i := range acc {
		acc[i] = s.vec()
		s.xor(acc[i], acc[i], acc[i])
	}
	s.TESTQ(k, k)
	s.JEQ(operand.LabelRef("store"))

	s.Label("loop")
	b0, b1 := s.vec(), s.vec()
	s.VMOVUPS(b.at(0), b0)
	s.VMOVUPS(b.at(s.lanes), b1)
	for i := range mr {
		ai := s.vec()
		s.VBROADCASTSS(a.at(i), ai)
		s.VFMADD231PS(b0, ai, acc[2*i])
		s.VFMADD231PS(b1, ai, acc[2*i+1])
	}
	s.ADDQ(imm(4*mr), a.p)
	s.ADDQ(imm(4*nr), b.p)
	s.DECQ(k)
	s.JNZ(operand.LabelRef("loop"))

	s.Label("store")
	flag := s.GP32()
	s.Load(s.Param("acc"), flag)
	s.TESTL(flag, flag)
	s.JEQ(operand.LabelRef("write"))
	row := s.GP64()
	s.MOVQ(c.p, row)
	for i := range mr {
		s.VADDPS(operand.Mem{Base: row}, acc[2*i], acc[2*i])
		s.VADDPS(operand.Mem{Base: row, Disp: 4 * s.lanes}, acc[2*i+1], acc[2*i+1])
		if i < mr-1 {
			s.ADDQ(ldc, row)
		}
	}
	s.Label("write")
	if finish {
		// min(max(c + bias[i], lo), hi), then the zero fixes: finishRows's
		// operations in its operand order.
		bias := s.GP64()
		s.Load(s.Param("bias").Base(), bias)
		lo, hi := s.broadcast(s.param("lo")), s.broadcast(s.param("hi"))
		zfix, sfix := s.broadcast(s.param("zfix")), s.broadcast(s.param("sfix"))
		for i := range mr {
			b := s.vec()
			s.VBROADCASTSS(operand.Mem{Base: bias, Disp: 4 * i}, b)
			for _, r := range acc[2*i : 2*i+2] {
				s.VADDPS(b, r, r)
				s.clamp(r, lo, hi)
				s.VADDPS(zfix, r, r)
				s.or(sfix, r, r)
			}
		}
	}
	for i := range mr {
		s.VMOVUPS(acc[2*i], c.at(0))
		s.VMOVUPS(acc[2*i+1], c.at(s.lanes))
		if i < mr-1 {
			s.ADDQ(ldc, c.p)
		}
	}
	s.VZEROUPPER()
	s.RET()
}
