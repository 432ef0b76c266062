package main

import (
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// convTile6Kernel emits convTile6AVX2 and convTile6AVX512, the kernels
// of a convolution of few output channels computed position by position
// (internal/nn tileProduct): for each of tiles tiles of 6 output
// positions (position r of tile i at pos[6i + r] of x: the output
// positions' places in the phase buffer, so that the padding's columns
// are not computed), the output channels of the weight block w (16 for
// AVX2, 32 for AVX-512: two vectors), the sums Σ_kk x[offs[kk] +
// pos[6i + r]]·w[lanes·kk + j] with the products fused into them in
// ascending kk (VFMADD231PS), plus what t holds when acc (added after the
// sum, as the GEMM kernels add a block of the depth to C): the GEMM's
// arithmetic for each element, without packing the columns. Per tile,
// the 6 positions' addresses in registers; per step kk, the two vectors
// of weights and the 6 positions' inputs broadcast from them (one
// addressing mode: a position's address, offs[kk] scaled by 4): 12
// accumulators, the GEMM kernel's (enough chains of fused multiply-adds
// to keep both FMA pipes busy; 8 were measured 10-20% slower with AVX2).
// The sums go out position by position, 8 channels to a buffer: AVX2's
// channels 0-7 to t0, 8-15 to t1; AVX-512's channels 8h to 8h+7 to the
// buffer of t at h·stride, a vector's upper half by VEXTRACTF64X4
// (scatter8 moves them to the channels' rows). With finish
// (convTile6Finish), the sums of the last block of the depth are
// finished before they go out, as vec.FinishRows finishes a channel's
// row: min(max(sum + bias[j], lo), hi), then the zero fixes (the biases
// of the block's channels in the lanes, the clamp's constants broadcast).
func convTile6Kernel(s isa, finish bool) {
	name, spec := "convTile6", "t[h][8(6i+r) + j] = sum over kk of x[offs[kk] + pos[6i+r]]*w[lanes*kk + 8h + j] (+ t when acc), tile i, 6 positions r (convTilesGeneric)."
	if finish {
		name, spec = "convTile6Finish", "convTile6, each sum finished: min(max(sum + bias[8h + j], lo), hi), then zfix added and sfix or-ed in."
	}
	s.text(name, spec)
	k, offs, pos, w, t0, tiles := s.GP64(), s.GP64(), s.GP64(), s.GP64(), s.GP64(), s.GP64()
	s.Load(s.Param("pos").Base(), pos)
	tName := "t0"
	if s.avx512 {
		tName = "t"
	}
	s.Load(s.Param(tName).Base(), t0)
	s.Load(s.Param("tiles"), tiles)
	s.TESTQ(tiles, tiles)
	s.JEQ(operand.LabelRef("done"))
	s.Label("tile")
	var acc [6][2]reg.VecVirtual
	for r := range acc {
		for v := range 2 {
			acc[r][v] = s.vec()
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
	off, w0, w1 := s.GP64(), s.vec(), s.vec()
	s.MOVQ(operand.Mem{Base: offs}, off)
	s.VMOVUPS(operand.Mem{Base: w}, w0)
	s.VMOVUPS(operand.Mem{Base: w, Disp: 4 * s.lanes}, w1)
	for r := range acc {
		a := s.vec()
		s.VBROADCASTSS(operand.Mem{Base: at[r], Index: off, Scale: 4}, a)
		s.VFMADD231PS(w0, a, acc[r][0])
		s.VFMADD231PS(w1, a, acc[r][1])
	}
	s.ADDQ(imm(8), offs)
	s.ADDQ(imm(8*s.lanes), w)
	s.DECQ(k)
	s.JNZ(operand.LabelRef("step"))
	s.Label("store")
	// The buffers of 8 channels: half h of accumulator v of a position
	// goes to buffer 2v + h (AVX2: the whole vector to buffer v), each
	// buffer a fixed distance d·(its number) from t0's.
	d, base0 := s.GP64(), s.GP64()
	if s.avx512 {
		s.Load(s.Param("stride"), d)
		s.SHLQ(operand.U8(2), d)
	} else {
		s.Load(s.Param("t1").Base(), d)
		s.Load(s.Param("t0").Base(), base0)
		s.SUBQ(base0, d)
	}
	buffer := func(b, r int) operand.Mem {
		m := operand.Mem{Base: t0, Disp: 32 * r}
		switch b {
		case 0:
			return m
		case 1:
			m.Index, m.Scale = d, 1
		case 2:
			m.Index, m.Scale = d, 2
		default:
			m.Index, m.Scale = base0, 1
		}
		return m
	}
	if s.avx512 {
		s.LEAQ(operand.Mem{Base: d, Index: d, Scale: 2}, base0) // 3·d
	}
	accFlag := s.GP8()
	s.Load(s.Param("acc"), accFlag)
	s.TESTB(accFlag, accFlag)
	s.JEQ(operand.LabelRef("write"))
	for r := range acc {
		for v := range 2 {
			if !s.avx512 {
				s.VADDPS(buffer(v, r), acc[r][v], acc[r][v])
				continue
			}
			prior := s.ZMM()
			s.VMOVUPS(buffer(2*v, r), prior.AsY())
			s.VINSERTF64X4(operand.U8(1), buffer(2*v+1, r), prior, prior)
			s.VADDPS(prior, acc[r][v], acc[r][v])
		}
	}
	s.Label("write")
	if finish {
		// The biases from memory (AVX2's 12 accumulators leave 4
		// registers: the clamp's constants), then the clamp and the
		// zero fixes: finishRows's operations in its operand order.
		bias := s.GP64()
		s.Load(s.Param("bias").Base(), bias)
		for r := range acc {
			for v := range 2 {
				s.VADDPS(operand.Mem{Base: bias, Disp: 4 * s.lanes * v}, acc[r][v], acc[r][v])
			}
		}
		lo, hi := s.broadcast(s.param("lo")), s.broadcast(s.param("hi"))
		zfix, sfix := s.broadcast(s.param("zfix")), s.broadcast(s.param("sfix"))
		for r := range acc {
			for _, a := range acc[r] {
				s.clamp(a, lo, hi)
				s.VADDPS(zfix, a, a)
				s.or(sfix, a, a)
			}
		}
	}
	for r := range acc {
		for v := range 2 {
			if !s.avx512 {
				s.VMOVUPS(acc[r][v], buffer(v, r))
				continue
			}
			s.VMOVUPS(acc[r][v].AsY(), buffer(2*v, r))
			s.VEXTRACTF64X4(operand.U8(1), acc[r][v], buffer(2*v+1, r))
		}
	}
	s.ADDQ(imm(48), pos)
	s.ADDQ(imm(192), t0)
	s.DECQ(tiles)
	s.JNZ(operand.LabelRef("tile"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}
