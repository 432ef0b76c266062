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
// stores it. sgemmFinish then finishes the tile as vec.FinishTile
// does with a bias per row and no residual (Gemm's epilogue on a whole
// tile, without a second pass over it). transpose8 and transpose6 pack A.
func gemmKernels(c *build.Context) {
	for _, s := range isas(c) {
		sgemm(s, false)
		sgemm(s, true)
	}
	transpose8(isas(c)[0])
	transpose6(isas(c)[0])
}

// transpose8 describes transpose8AVX2, which packs A for both families
// (transposeGeneric is the specification): per block of 8 columns it loads
// 8 rows of 8 values, transposes them in registers (unpack, shuffle, swap
// of 128-bit halves) and stores the 8 columns, each 8 consecutive values
// of the panel.
func transpose8(s isa) {
	s.text("transpose8", "dst[p·ldd + r] = src[r·lds + p] for r < 8 and p < n (a multiple of 8).")
	dst, src := s.slice("dst", 4), s.slice("src", 4)
	ldd, lds, n := s.GP64(), s.GP64(), s.GP64()
	s.Load(s.Param("ldd"), ldd)
	s.Load(s.Param("lds"), lds)
	s.Load(s.Param("n"), n)
	s.SHLQ(imm(2), ldd) // in bytes
	s.SHLQ(imm(2), lds)
	ldd3, lds3, dst4, src4 := s.GP64(), s.GP64(), s.GP64(), s.GP64()
	s.LEAQ(operand.Mem{Base: ldd, Index: ldd, Scale: 2}, ldd3)
	s.LEAQ(operand.Mem{Base: lds, Index: lds, Scale: 2}, lds3)
	s.LEAQ(operand.Mem{Base: dst.p, Index: ldd, Scale: 4}, dst4)
	s.LEAQ(operand.Mem{Base: src.p, Index: lds, Scale: 4}, src4)
	step := s.GP64() // 8·ldd: the next block of the panel
	s.MOVQ(ldd, step)
	s.SHLQ(imm(3), step)
	s.SHRQ(imm(3), n)
	s.JEQ(operand.LabelRef("done"))
	s.Label("loop")
	var rows [8]reg.VecVirtual
	for r := range rows {
		rows[r] = s.vec()
		s.VMOVUPS(strided(r, src.p, src4, lds, lds3), rows[r])
	}
	for c, col := range transpose8x8(s, rows) {
		s.VMOVUPS(col, strided(c, dst.p, dst4, ldd, ldd3))
	}
	s.ADDQ(imm(32), src.p)
	s.ADDQ(imm(32), src4)
	s.ADDQ(step, dst.p)
	s.ADDQ(step, dst4)
	s.DECQ(n)
	s.JNZ(operand.LabelRef("loop"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}

// transpose6 describes transpose6AVX2, which packs A into the AVX2
// family's panels of 6 rows (interleave's four-row and one-row loops are
// the specification): per block of 8 columns it loads the 6 rows,
// transposes them as transpose8 does (rows 6 and 7 copies of row 5) and
// stores the 8 columns of 6 values in order, each as a whole vector whose
// last two lanes the next column's store overwrites; the block's last
// column as 4 values and 2.
func transpose6(s isa) {
	s.text("transpose6", "dst[6p + r] = src[r·lds + p] for r < 6 and p < n (a multiple of 8).")
	dst, src := s.slice("dst", 4), s.slice("src", 4)
	lds, n := s.GP64(), s.GP64()
	s.Load(s.Param("lds"), lds)
	s.Load(s.Param("n"), n)
	s.SHLQ(imm(2), lds) // in bytes
	src3 := s.GP64()
	s.LEAQ(operand.Mem{Base: lds, Index: lds, Scale: 2}, src3)
	s.ADDQ(src.p, src3)
	s.SHRQ(imm(3), n)
	s.JEQ(operand.LabelRef("done"))
	s.Label("loop")
	var rows [8]reg.VecVirtual
	for r := range 6 {
		rows[r] = s.vec()
		base := src.p
		if r >= 3 {
			base = src3
		}
		switch r % 3 {
		case 0:
			s.VMOVUPS(operand.Mem{Base: base}, rows[r])
		default:
			s.VMOVUPS(operand.Mem{Base: base, Index: lds, Scale: uint8(r % 3)}, rows[r])
		}
	}
	rows[6], rows[7] = rows[5], rows[5]
	cols := transpose8x8(s, rows)
	for c := range 7 {
		s.VMOVUPS(cols[c], operand.Mem{Base: dst.p, Disp: 24 * c})
	}
	s.VMOVUPS(cols[7].AsX(), operand.Mem{Base: dst.p, Disp: 24 * 7})
	hi := s.XMM()
	s.VEXTRACTF128(imm(1), cols[7], hi)
	s.VMOVLPS(hi, operand.Mem{Base: dst.p, Disp: 24*7 + 16})
	s.ADDQ(imm(32), src.p)
	s.ADDQ(imm(32), src3)
	s.ADDQ(imm(24*8), dst.p)
	s.DECQ(n)
	s.JNZ(operand.LabelRef("loop"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}

// transpose8x8 transposes the 8×8 block of rows (8 values each) in
// registers and returns its 8 columns: unpacks of row pairs, shuffles of
// element pairs, swaps of 128-bit halves.
func transpose8x8(s isa, rows [8]reg.VecVirtual) [8]reg.VecVirtual {
	var t, u, cols [8]reg.VecVirtual
	for i := 0; i < 8; i += 2 {
		t[i], t[i+1] = s.vec(), s.vec()
		s.VUNPCKLPS(rows[i+1], rows[i], t[i])   // r0 s0 r1 s1 | r4 s4 r5 s5
		s.VUNPCKHPS(rows[i+1], rows[i], t[i+1]) // r2 s2 r3 s3 | r6 s6 r7 s7
	}
	for i := 0; i < 8; i += 4 {
		for j := range 2 {
			u[i+2*j], u[i+2*j+1] = s.vec(), s.vec()
			s.VSHUFPS(imm(0x44), t[i+2+j], t[i+j], u[i+2*j])   // elements 0 1 of four rows
			s.VSHUFPS(imm(0xee), t[i+2+j], t[i+j], u[i+2*j+1]) // elements 2 3
		}
	}
	for c := range 4 {
		cols[c], cols[c+4] = s.vec(), s.vec()
		s.VPERM2F128(imm(0x20), u[4+c], u[c], cols[c])   // column c: rows 0-3, then 4-7
		s.VPERM2F128(imm(0x31), u[4+c], u[c], cols[c+4]) // column c+4
	}
	return cols
}

// sgemm emits sgemm (finish: sgemmFinish) for s: the tiles of rows rows
// of C one below the other, of the same packed panel of B and each of
// the next packed panel of A (the panels of A are consecutive), so that
// a column of tiles costs one call. The last tile may have fewer than mr
// rows (its panel of A zero-padded): the rows past rows are neither read
// (C when acc, the biases) nor written, and a last tile of at most mr-2
// rows runs the k loop of the smallest even number of rows that holds
// them (2 or 4; on AVX-512 also 6): the multiply-adds of the zero rows
// were a ninth of a product of 16 or 32 rows on AVX2.
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
	s.text(name, fmt.Sprintf("%d×%d tiles down rows rows of C: row i in accumulators 2i (columns 0-%d) and 2i+1 (%d-%d).",
		mr, nr, s.lanes-1, s.lanes, nr-1))
	t := sgemmTile{s: s, finish: finish, mr: mr, k0: s.GP64(), left: s.GP64()}
	s.Load(s.Param("k"), t.k0)
	s.Load(s.Param("rows"), t.left)
	t.a, t.b, t.c = s.slice("a", 4), s.slice("b", 4), s.slice("c", 4)
	t.b0 = s.GP64()
	s.MOVQ(t.b.p, t.b0)
	t.ldc = s.GP64()
	s.Load(s.Param("ldc"), t.ldc)
	s.SHLQ(imm(2), t.ldc) // in bytes
	if finish {
		t.bias = s.GP64()
		s.Load(s.Param("bias").Base(), t.bias)
	}
	s.TESTQ(t.left, t.left)
	s.JLE(operand.LabelRef("done"))

	s.Label("tile")
	s.CMPQ(t.left, imm(mr-2))
	s.JLE(operand.LabelRef("short"))
	acc := t.loop(mr, "")
	// The tile's end: a whole tile's without row checks, a partial
	// one's (the last tile, of mr-1 rows) with them.
	s.CMPQ(t.left, imm(mr))
	s.JL(operand.LabelRef("partial"))
	sgemmStore(s, finish, mr, mr, acc, t.c, t.ldc, t.bias, nil, "")
	s.JMP(operand.LabelRef("next"))
	s.Label("partial")
	sgemmStore(s, finish, mr, mr, acc, t.c, t.ldc, t.bias, t.skip, "_partial")
	s.Label("next")
	s.SUBQ(imm(mr), t.left)
	s.JG(operand.LabelRef("tile"))
	s.JMP(operand.LabelRef("done"))

	// The last tile, of at most mr-2 rows.
	s.Label("short")
	for r := 2; r < mr-2; r += 2 {
		s.CMPQ(t.left, imm(r))
		s.JLE(operand.LabelRef(fmt.Sprintf("short%d", r)))
	}
	for r := mr - 2; r >= 2; r -= 2 {
		if r < mr-2 {
			s.JMP(operand.LabelRef("done"))
			s.Label(fmt.Sprintf("short%d", r))
		}
		sfx := fmt.Sprintf("_%d", r)
		sgemmStore(s, finish, r, mr, t.loop(r, sfx), t.c, t.ldc, t.bias, t.skip, sfx)
	}
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}

// aPrefetch is how far ahead of the k loop's reads A's panel is
// prefetched, in bytes. A batch-1 convolution's weights are read once,
// from memory: ResNet-18's 512-channel 3×3 convolution at 7×7 (9.4 MB of
// weights), run with eight weight sets in turn as a model reads them,
// took 2.73 ms without, 2.45 with 1024, 2.27 with 2048, 2.15 with 4096.
const aPrefetch = 4096

// sgemmTile holds what the tile bodies of one sgemm kernel share: its
// arguments' registers and the rows of its panels of A.
type sgemmTile struct {
	s             isa
	finish        bool
	mr            int
	k0, left      reg.GPVirtual
	a, b, c       stream
	b0, ldc, bias reg.GPVirtual
}

// skip jumps to label when the tile has at most i rows (left <= i).
func (t sgemmTile) skip(i int, label string) {
	t.s.CMPQ(t.left, imm(i))
	t.s.JLE(operand.LabelRef(label))
}

// loop emits the prefetch of a tile's r rows of C (r <= mr), its zeroed
// accumulators and its k loop over the first r rows of the panel of A
// (their values mr apart), which leaves a.p at the next panel; it returns
// the accumulators (row i in 2i and 2i+1). sfx makes the labels unique.
func (t sgemmTile) loop(r int, sfx string) []reg.VecVirtual {
	s, nr := t.s, 2*t.s.lanes
	s.Comment("Prefetch the C tile while the k loop runs.")
	p := s.GP64()
	s.MOVQ(t.c.p, p)
	for i := range r {
		for off := 0; off < 4*nr; off += 64 {
			s.PREFETCHT0(operand.Mem{Base: p, Disp: off})
		}
		if i < r-1 {
			s.ADDQ(t.ldc, p)
		}
	}
	acc := make([]reg.VecVirtual, 2*r)
	for i := range acc {
		acc[i] = s.vec()
		s.xor(acc[i], acc[i], acc[i])
	}
	k := s.GP64()
	s.MOVQ(t.k0, k)
	s.MOVQ(t.b0, t.b.p)
	s.TESTQ(k, k)
	s.JEQ(operand.LabelRef("store" + sfx))

	// Two steps of k per iteration (an odd one first), and one prefetch
	// of A's panel aPrefetch bytes ahead (a line of A holds at least two
	// steps).
	s.TESTQ(operand.U32(1), k)
	s.JEQ(operand.LabelRef("loop" + sfx))
	t.step(r, acc, 0)
	s.ADDQ(imm(4*t.mr), t.a.p)
	s.ADDQ(imm(4*nr), t.b.p)
	s.DECQ(k)
	s.JEQ(operand.LabelRef("store" + sfx))
	s.Label("loop" + sfx)
	s.PREFETCHT0(operand.Mem{Base: t.a.p, Disp: aPrefetch})
	t.step(r, acc, 0)
	t.step(r, acc, 1)
	s.ADDQ(imm(2*4*t.mr), t.a.p)
	s.ADDQ(imm(2*4*nr), t.b.p)
	s.SUBQ(imm(2), k)
	s.JNZ(operand.LabelRef("loop" + sfx))
	s.Label("store" + sfx)
	return acc
}

// step emits step j of an iteration of the k loop: the products of the
// two vectors of row j of B's panel with the first r values of column j
// of A's panel, added to acc.
func (t sgemmTile) step(r int, acc []reg.VecVirtual, j int) {
	s, nr := t.s, 2*t.s.lanes
	bv0, bv1 := s.vec(), s.vec()
	s.VMOVUPS(t.b.at(j*nr), bv0)
	s.VMOVUPS(t.b.at(j*nr+s.lanes), bv1)
	for i := range r {
		ai := s.vec()
		s.VBROADCASTSS(t.a.at(j*t.mr+i), ai)
		s.VFMADD231PS(bv0, ai, acc[2*i])
		s.VFMADD231PS(bv1, ai, acc[2*i+1])
	}
}

// sgemmStore emits the end of sgemm's tile of mr rows (of a kernel whose
// tiles are step rows apart): C added to the accumulators (when acc), the
// biases and the clamp (finish), the rows stored, c.p moved on to the
// next tile's first row and bias by step. With skip, row i is left out of
// all three (its bias not read) when the tile has at most i rows (skip
// jumps to the label it is given); sfx makes the labels unique.
func sgemmStore(s isa, finish bool, mr, step int, acc []reg.VecVirtual, c stream, ldc, bias reg.GPVirtual, skip func(i int, label string), sfx string) {
	check := func(i int, label string) {
		if i > 0 && skip != nil {
			skip(i, label+sfx)
		}
	}
	flag := s.GP32()
	s.Load(s.Param("acc"), flag)
	s.TESTL(flag, flag)
	s.JEQ(operand.LabelRef("write" + sfx))
	row := s.GP64()
	s.MOVQ(c.p, row)
	for i := range mr {
		check(i, "write")
		s.VADDPS(operand.Mem{Base: row}, acc[2*i], acc[2*i])
		s.VADDPS(operand.Mem{Base: row, Disp: 4 * s.lanes}, acc[2*i+1], acc[2*i+1])
		if i < mr-1 {
			s.ADDQ(ldc, row)
		}
	}
	s.Label("write" + sfx)
	if finish {
		// min(max(c + bias[i], lo), hi), then the zero fixes: finishRows's
		// operations in its operand order.
		// The biases first, one broadcast at a time: AVX2's 12
		// accumulators leave 4 registers, the four constants of the
		// clamp.
		for i := range mr {
			check(i, "clamp")
			bv := s.vec()
			s.VBROADCASTSS(operand.Mem{Base: bias, Disp: 4 * i}, bv)
			s.VADDPS(bv, acc[2*i], acc[2*i])
			s.VADDPS(bv, acc[2*i+1], acc[2*i+1])
		}
		s.Label("clamp" + sfx)
		s.ADDQ(imm(4*step), bias)
		lo, hi := s.broadcast(s.param("lo")), s.broadcast(s.param("hi"))
		zfix, sfix := s.broadcast(s.param("zfix")), s.broadcast(s.param("sfix"))
		for _, r := range acc {
			s.clamp(r, lo, hi)
			s.VADDPS(zfix, r, r)
			s.or(sfix, r, r)
		}
	}
	// The tile's rows, c.p left at the next tile's first.
	for i := range mr {
		check(i, "stored")
		s.VMOVUPS(acc[2*i], c.at(0))
		s.VMOVUPS(acc[2*i+1], c.at(s.lanes))
		s.ADDQ(ldc, c.p)
	}
	if skip != nil {
		s.Label("stored" + sfx)
	}
}
