package main

import (
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// convTileKernel emits convTileAVX2, the kernel of a convolution of few
// output channels computed position by position (internal/nn convTiles):
// for each of tiles tiles of 8 consecutive positions (x and c 8 values on
// from one tile to the next), the 8 output channels of the block w,
// c[j·ldc + r] = Σ_kk x[offs[kk] + r]·w[8kk + j] (+ c[j·ldc + r] when acc,
// added after the sum as the GEMM kernels do), the products fused into
// the sums in ascending kk (VFMADD231PS): the GEMM's arithmetic for each
// element, without packing the columns. Per step kk, the 8 positions'
// inputs broadcast from x (one addressing mode: x, offs[kk] scaled by 4,
// 4r) and one vector of the 8 weights; the 8 accumulators (a position's 8
// channels each) are transposed to the channels' rows at the end.
func convTileKernel(s isa) {
	s.text("convTile", "c[j*ldc + r] = sum over kk of x[offs[kk] + r]*w[8kk + j] (+ c when acc), 8 positions r per tile (convTilesGeneric).")
	k, offs, xp, w, cp := s.GP64(), s.GP64(), s.GP64(), s.GP64(), s.GP64()
	ldc, ldc3, tiles := s.GP64(), s.GP64(), s.GP64()
	s.Load(s.Param("ldc"), ldc)
	s.SHLQ(imm(2), ldc)
	s.LEAQ(operand.Mem{Base: ldc, Index: ldc, Scale: 2}, ldc3)
	s.Load(s.Param("x").Base(), xp)
	s.Load(s.Param("c").Base(), cp)
	s.Load(s.Param("tiles"), tiles)
	s.TESTQ(tiles, tiles)
	s.JEQ(operand.LabelRef("done"))
	s.Label("tile")
	var acc [8]reg.VecVirtual
	for r := range acc {
		acc[r] = s.YMM()
		s.VXORPS(acc[r], acc[r], acc[r])
	}
	s.Load(s.Param("k"), k)
	s.Load(s.Param("offs").Base(), offs)
	s.Load(s.Param("w").Base(), w)
	s.TESTQ(k, k)
	s.JEQ(operand.LabelRef("store"))
	s.Label("step")
	off, wv := s.GP64(), s.YMM()
	s.MOVQ(operand.Mem{Base: offs}, off)
	s.VMOVUPS(operand.Mem{Base: w}, wv)
	for r := range acc {
		a := s.YMM()
		s.VBROADCASTSS(operand.Mem{Base: xp, Index: off, Scale: 4, Disp: 4 * r}, a)
		s.VFMADD231PS(wv, a, acc[r])
	}
	s.ADDQ(imm(8), offs)
	s.ADDQ(imm(32), w)
	s.DECQ(k)
	s.JNZ(operand.LabelRef("step"))
	s.Label("store")
	cols := transpose8x8(s, acc)
	cp4 := s.GP64()
	s.LEAQ(operand.Mem{Base: cp, Index: ldc, Scale: 4}, cp4)
	accFlag := s.GP8()
	s.Load(s.Param("acc"), accFlag)
	s.TESTB(accFlag, accFlag)
	s.JEQ(operand.LabelRef("write"))
	for j, col := range cols {
		s.VADDPS(strided(j, cp, cp4, ldc, ldc3), col, col)
	}
	s.Label("write")
	for j, col := range cols {
		s.VMOVUPS(col, strided(j, cp, cp4, ldc, ldc3))
	}
	s.ADDQ(imm(32), xp)
	s.ADDQ(imm(32), cp)
	s.DECQ(tiles)
	s.JNZ(operand.LabelRef("tile"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}
