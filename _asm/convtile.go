package main

import (
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// convTile6Kernel emits convTile6AVX2, the kernel of a convolution of few
// output channels computed position by position (internal/nn
// tileProduct): for each of tiles tiles of 6 output positions (position
// r of tile i at pos[6i + r] of x: the output positions' places in the
// phase buffer, so that the padding's columns are not computed), the 16
// output channels of the weight block w, the sums Σ_kk x[offs[kk] +
// pos[6i + r]]·w[16kk + j] with the products fused into them in
// ascending kk (VFMADD231PS), plus what t holds when acc (added after the
// sum, as the GEMM kernels add a block of the depth to C): the GEMM's
// arithmetic for each element, without packing the columns. Per tile,
// the 6 positions' addresses in registers; per step kk, one vector of
// each half of the weights and the 6 positions' inputs broadcast from
// them (one addressing mode: a position's address, offs[kk] scaled by
// 4): 12 accumulators, the GEMM kernel's (enough chains of fused
// multiply-adds to keep both FMA pipes busy; 8 were measured 10-20%
// slower). The sums go out position by position: t0 gets each position's
// channels 0-7, t1 its channels 8-15 (scatter8 moves them to the
// channels' rows).
func convTile6Kernel(s isa) {
	s.text("convTile6", "t0[8(6i+r) + j], t1[...] = sum over kk of x[offs[kk] + pos[6i+r]]*w[16kk + j] (j < 8, 8 + j) (+ t when acc), tile i, 6 positions r (convTiles6Generic).")
	k, offs, pos, w, t0, tiles := s.GP64(), s.GP64(), s.GP64(), s.GP64(), s.GP64(), s.GP64()
	s.Load(s.Param("pos").Base(), pos)
	s.Load(s.Param("t0").Base(), t0)
	s.Load(s.Param("tiles"), tiles)
	s.TESTQ(tiles, tiles)
	s.JEQ(operand.LabelRef("done"))
	s.Label("tile")
	var acc [6][2]reg.VecVirtual
	for r := range acc {
		for v := range 2 {
			acc[r][v] = s.YMM()
			s.VXORPS(acc[r][v], acc[r][v], acc[r][v])
		}
	}
	xp := s.GP64()
	s.Load(s.Param("x").Base(), xp)
	var at [6]reg.GPVirtual
	for r := range at {
		at[r] = s.GP64()
		s.MOVQ(operand.Mem{Base: pos, Disp: 8 * r}, at[r])
		s.LEAQ(operand.Mem{Base: xp, Index: at[r], Scale: 4}, at[r])
	}
	s.Load(s.Param("k"), k)
	s.Load(s.Param("offs").Base(), offs)
	s.Load(s.Param("w").Base(), w)
	s.TESTQ(k, k)
	s.JEQ(operand.LabelRef("store"))
	s.Label("step")
	off, w0, w1 := s.GP64(), s.YMM(), s.YMM()
	s.MOVQ(operand.Mem{Base: offs}, off)
	s.VMOVUPS(operand.Mem{Base: w}, w0)
	s.VMOVUPS(operand.Mem{Base: w, Disp: 32}, w1)
	for r := range acc {
		a := s.YMM()
		s.VBROADCASTSS(operand.Mem{Base: at[r], Index: off, Scale: 4}, a)
		s.VFMADD231PS(w0, a, acc[r][0])
		s.VFMADD231PS(w1, a, acc[r][1])
	}
	s.ADDQ(imm(8), offs)
	s.ADDQ(imm(64), w)
	s.DECQ(k)
	s.JNZ(operand.LabelRef("step"))
	s.Label("store")
	// t1 is t0 moved by the distance between the two buffers.
	d, base0 := s.GP64(), s.GP64()
	s.Load(s.Param("t1").Base(), d)
	s.Load(s.Param("t0").Base(), base0)
	s.SUBQ(base0, d)
	t1 := operand.Mem{Base: t0, Index: d, Scale: 1}
	accFlag := s.GP8()
	s.Load(s.Param("acc"), accFlag)
	s.TESTB(accFlag, accFlag)
	s.JEQ(operand.LabelRef("write"))
	for r := range acc {
		s.VADDPS(operand.Mem{Base: t0, Disp: 32 * r}, acc[r][0], acc[r][0])
		s.VADDPS(t1.Offset(32*r), acc[r][1], acc[r][1])
	}
	s.Label("write")
	for r := range acc {
		s.VMOVUPS(acc[r][0], operand.Mem{Base: t0, Disp: 32 * r})
		s.VMOVUPS(acc[r][1], t1.Offset(32*r))
	}
	s.ADDQ(imm(48), pos)
	s.ADDQ(imm(192), t0)
	s.DECQ(tiles)
	s.JNZ(operand.LabelRef("tile"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}
