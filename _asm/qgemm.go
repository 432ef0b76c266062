package main

import (
	"fmt"
	"strconv"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// qgemmKernels describes internal/qgemm/kernel_amd64.s: the integer
// micro-kernels (dotGeneric for the geometries of famAVX512VNNI,
// famAVX512VNNI32, famAVXVNNI, famAVX512 and famAVX2, one kernel per number of rows), the epilogues and the
// depthwise kernel. See the package documentation of internal/qgemm for
// the operand scheme and why no instruction here saturates.
func qgemmKernels(c *build.Context) {
	const mr = 6 // every amd64 family's tile height (geometries in family.go)
	vnni := isa{c, "VNNI", true, 16}
	for _, nr := range []int{64, 32} {
		for rows := 1; rows <= mr; rows++ {
			dotVNNI(vnni, rows, false, nr)
		}
		dotVNNI(vnni, mr, true, nr)
	}
	for rows := 1; rows <= mr; rows++ {
		dotAVXVNNI(c, rows, false)
	}
	dotAVXVNNI(c, mr, true)
	for _, s := range isas(c) {
		for rows := 1; rows <= mr; rows++ {
			dotMadd(s, rows, false)
		}
		dotMadd(s, mr, true)
	}
	for _, s := range isas(c) {
		epiInt32(s)
		for _, sym := range []bool{false, true} {
			epiQuant(s, sym)
			epiFloat(s, sym)
		}
		depthwise(s)
	}
	transpose(c)
	transpose32(c)
	quads(c)
	widen(isas(c)[0])
	for _, k := range []int{3, 5} {
		dwRows(isas(c)[0], k)
	}
	dwWords(c)
}

// dwRowsPixels is the output pixels dwRows computes at once: their
// accumulators share each weight vector.
const dwRowsPixels = 4

// dwRows describes dwK<k>AVX2, the depthwise kernel of a k×k window of
// dilation 1 on uint8 activations: the taps of a kernel row are
// consecutive pixels, c bytes apart, so a tap's address is a pixel's plus
// a multiple of c (no pointer per tap), and the taps go in pairs within a
// row — for a pair, the two taps' 8 bytes interleaved (VMOVQ, VPUNPCKLBW)
// and zero-extended to words (VPMOVZXBW), one VPMADDWD against the pair's
// weights; the row's last tap alone (VPMOVZXBD, its weight's high word
// 0). Per block of 8 channels (the last one overlapping the one before
// when c is not a multiple of 8), dwRowsPixels output pixels at a time
// (one at a time for the rest), each with its accumulator; for k = 3 the
// six weight vectors stay in registers.
func dwRows(s isa, k int) {
	slots := (k + 1) / 2
	s.text(fmt.Sprintf("dwK%d", k), fmt.Sprintf("dwGeneric for a %d×%d window of dilation 1 at x, rows ld bytes apart, the weights of dwRowWeights.", k, k))
	c, step, ld := s.GP64(), s.GP64(), s.GP64()
	s.Load(s.Param("c"), c)
	s.Load(s.Param("step"), step)
	s.Load(s.Param("ld"), ld)
	c4 := s.GP64()
	s.MOVQ(c, c4)
	s.SHLQ(imm(2), c4)
	ch := s.GP64()
	s.XORQ(ch, ch)
	wp := s.GP64()
	s.Load(s.Param("w").Base(), wp)
	c3 := c // tap 3's offset, 3c (k = 5)
	if k == 5 {
		c3 = s.GP64()
		s.LEAQ(operand.Mem{Base: c, Index: c, Scale: 2}, c3)
	}
	s.Label("block")
	// The block's weight vectors: row r, slot j at (r·slots + j)·32 bytes
	// from wp (dwRowWeights).
	inRegs := k == 3
	var wregs []reg.VecVirtual
	if inRegs {
		for i := range k * slots {
			v := s.YMM()
			s.VMOVDQU(operand.Mem{Base: wp, Disp: 32 * i}, v)
			wregs = append(wregs, v)
		}
	}
	w := func(r, j int) operand.Op {
		if inRegs {
			return wregs[r*slots+j]
		}
		return operand.Mem{Base: wp, Disp: 32 * (r*slots + j)}
	}
	// xr: the input of the next pixels' tap (0, 0) at channel ch; pp: their
	// sums.
	xr, pp, left := s.GP64(), s.GP64(), s.GP64()
	s.Load(s.Param("x").Base(), xr)
	s.ADDQ(ch, xr)
	s.Load(s.Param("p").Base(), pp)
	s.LEAQ(operand.Mem{Base: pp, Index: ch, Scale: 4}, pp)
	s.Load(s.Param("npix"), left)
	// pixels emits the taps of n pixels whose tap (0, 0) pointers are
	// ptrs, into accs.
	pixels := func(ptrs []reg.GPVirtual, accs []reg.VecVirtual) {
		for _, a := range accs {
			s.VPXOR(a, a, a)
		}
		for r := range k {
			for q, pq := range ptrs {
				for j := range slots {
					t := 2 * j // the slot's first tap in the row
					v := s.YMM()
					if t+1 < k {
						x := s.XMM()
						s.VMOVQ(tapMem(pq, c, c3, t), x)
						s.VPUNPCKLBW(tapMem(pq, c, c3, t+1), x, x)
						s.VPMOVZXBW(x, v)
					} else {
						s.VPMOVZXBD(tapMem(pq, c, c3, t), v)
					}
					s.VPMADDWD(w(r, j), v, v)
					s.VPADDD(v, accs[q], accs[q])
				}
			}
			if r+1 < k {
				for _, pq := range ptrs {
					s.ADDQ(ld, pq)
				}
			}
		}
	}
	s.CMPQ(left, imm(dwRowsPixels))
	s.JB(operand.LabelRef("single"))
	s.Label("group")
	{
		ptrs := make([]reg.GPVirtual, dwRowsPixels)
		accs := make([]reg.VecVirtual, dwRowsPixels)
		for q := range ptrs {
			ptrs[q], accs[q] = s.GP64(), s.YMM()
			if q == 0 {
				s.MOVQ(xr, ptrs[q])
			} else {
				s.LEAQ(operand.Mem{Base: ptrs[q-1], Index: step, Scale: 1}, ptrs[q])
			}
		}
		pixels(ptrs, accs)
		o := s.GP64()
		s.MOVQ(pp, o)
		for q, a := range accs {
			s.VMOVDQU(a, operand.Mem{Base: o})
			if q+1 < len(accs) {
				s.ADDQ(c4, o)
			}
		}
		s.LEAQ(operand.Mem{Base: o, Index: c4, Scale: 1}, pp)
		s.LEAQ(operand.Mem{Base: ptrs[dwRowsPixels-1], Index: step, Scale: 1}, xr)
		// ptrs[last] moved k-1 rows down: back up.
		back := s.GP64()
		s.MOVQ(ld, back)
		s.IMUL3Q(imm(k-1), back, back)
		s.SUBQ(back, xr)
	}
	s.SUBQ(imm(dwRowsPixels), left)
	s.CMPQ(left, imm(dwRowsPixels))
	s.JAE(operand.LabelRef("group"))
	s.Label("single")
	s.TESTQ(left, left)
	s.JEQ(operand.LabelRef("next"))
	{
		p0, a := s.GP64(), s.YMM()
		s.MOVQ(xr, p0)
		pixels([]reg.GPVirtual{p0}, []reg.VecVirtual{a})
		s.VMOVDQU(a, operand.Mem{Base: pp})
		s.ADDQ(c4, pp)
		s.ADDQ(step, xr)
	}
	s.DECQ(left)
	s.JMP(operand.LabelRef("single"))
	s.Label("next")
	// The next block of 8 channels; when fewer than 8 are left, the last
	// 8 (overlapping the block before: the same sums again).
	s.ADDQ(imm(32*k*slots), wp)
	s.ADDQ(imm(8), ch)
	s.CMPQ(ch, c)
	s.JAE(operand.LabelRef("done"))
	last := s.GP64()
	s.LEAQ(operand.Mem{Base: ch, Disp: 8}, last)
	s.CMPQ(last, c)
	s.JBE(operand.LabelRef("block"))
	s.LEAQ(operand.Mem{Base: c, Disp: -8}, ch)
	s.JMP(operand.LabelRef("block"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}

// tapMem is the address of the bytes of tap t of a kernel row whose first
// tap is at p: t pixels of c bytes on (c3 holds 3c).
func tapMem(p, c, c3 reg.GPVirtual, t int) operand.Mem {
	if t == 4 {
		return operand.Mem{Base: p, Index: c, Scale: 4}
	}
	return strided(t, p, nil, c, c3)
}

// widen describes widenAVX2, widenCopy's blocks of 16 bytes: each loaded
// with the flip XORed in (VPXOR), zero-extended to 16 words (VPMOVZXBW)
// and stored; two blocks per iteration.
func widen(s isa) {
	s.text("widen", "dst[2i], dst[2i+1] = src[i] ^ flip, 0 for i < n, a multiple of 16 (widenCopy).")
	dst, src := s.slice("dst", 1), s.slice("src", 1)
	n := s.GP64()
	s.Load(s.Param("n"), n)
	fv := byteParam(s, "flip")
	s.SHRQ(imm(4), n)
	s.JZ(operand.LabelRef("done"))
	s.TESTQ(operand.U32(1), n)
	s.JZ(operand.LabelRef("pairs"))
	// An odd block first, then pairs.
	block := func(off int) {
		x, y := s.XMM(), s.YMM()
		s.VPXOR(operand.Mem{Base: src.p, Disp: 16 * off}, fv, x)
		s.VPMOVZXBW(x, y)
		s.VMOVDQU(y, operand.Mem{Base: dst.p, Disp: 32 * off})
	}
	block(0)
	s.ADDQ(imm(16), src.p)
	s.ADDQ(imm(32), dst.p)
	s.Label("pairs")
	s.SHRQ(imm(1), n)
	s.JZ(operand.LabelRef("done"))
	s.Label("loop")
	block(0)
	block(1)
	s.ADDQ(imm(32), src.p)
	s.ADDQ(imm(64), dst.p)
	s.DECQ(n)
	s.JNZ(operand.LabelRef("loop"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}

// byteParam returns an XMM register holding the byte parameter name in
// each of its 16 bytes.
func byteParam(s isa, name string) reg.VecVirtual {
	b, v := s.GP32(), s.XMM()
	s.Load(s.Param(name), b)
	s.VMOVD(b, v)
	s.VPBROADCASTB(v, v)
	return v
}

// vnni emits the AVX512-VNNI instruction op (VPDPBUSD or VPDPWSSD) w, a,
// acc (Intel: op acc, a, w), which avo has no form of (Go's assembler
// encodes them): acc += in each 32-bit lane the four products of a's
// unsigned bytes and w's signed ones (VPDPBUSD), or the two of their
// signed 16-bit halves (VPDPWSSD), wrapping.
func vnni(c *build.Context, op string, w, a, acc operand.Op) {
	c.Instruction(&ir.Instruction{
		Opcode:   op,
		Operands: []operand.Op{w, a, acc},
		Inputs:   []operand.Op{w, a, acc},
		Outputs:  []operand.Op{acc},
		ISA:      []string{"AVX512_VNNI"},
	})
}

// dotArgs loads a micro-kernel's arguments: taps and c4, and the bases of
// ind, w and c.
func dotArgs(s isa) (taps, c4, ind, w, c reg.GPVirtual) {
	taps, c4 = s.GP64(), s.GP64()
	s.Load(s.Param("taps"), taps)
	s.Load(s.Param("c4"), c4)
	ind, w, c = s.GP64(), s.GP64(), s.GP64()
	s.Load(s.Param("ind").Base(), ind)
	s.Load(s.Param("w").Base(), w)
	s.Load(s.Param("c").Base(), c)
	return
}

// dotTiled emits the frame of a micro-kernel: body (the tile's sums and
// stores) once, or when tiled for each of the tiles tiles one after the
// other (dotT6…): the depth and the panel reloaded for each tile, the
// pointers of the next tile's rows right after this tile's in ind (where
// the taps loop leaves ind), its tile of c after this one's (tileBytes).
func dotTiled(s isa, tiled bool, taps, w, c reg.GPVirtual, tileBytes int, body func()) {
	if !tiled {
		body()
		s.VZEROUPPER()
		s.RET()
		return
	}
	tiles := s.GP64()
	s.Load(s.Param("tiles"), tiles)
	s.TESTQ(tiles, tiles)
	s.JEQ(operand.LabelRef("done"))
	s.Label("tile")
	s.Load(s.Param("taps"), taps)
	s.Load(s.Param("w").Base(), w)
	body()
	s.ADDQ(operand.U32(tileBytes), c)
	s.DECQ(tiles)
	s.JNZ(operand.LabelRef("tile"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}

// dotName is the name of a micro-kernel: dotR<rows><isa>, or dotT6<isa>
// for the one of tiled whole tiles.
func dotName(rows int, tiled bool, isaName string) string {
	if tiled {
		return fmt.Sprintf("dotT%d%s", rows, isaName)
	}
	return fmt.Sprintf("dotR%d%s", rows, isaName)
}

// dotLoops emits the loops of a micro-kernel with rows rows and mr
// pointers per tap: for each tap, the rows' pointers, then for each quad
// quad(ptrs, k) with k the byte offset of the quad in every row (each
// row's 4 bytes at ptrs[r]+k); quad advances w itself.
func dotLoops(s isa, rows, mr int, taps, c4, ind reg.GPVirtual, quad func(ptrs []reg.GPVirtual, k reg.GPVirtual)) {
	s.TESTQ(taps, taps)
	s.JEQ(operand.LabelRef("store"))
	s.Label("tap")
	ptrs := make([]reg.GPVirtual, rows)
	for r := range ptrs {
		ptrs[r] = s.GP64()
		s.MOVQ(operand.Mem{Base: ind, Disp: 8 * r}, ptrs[r])
	}
	s.ADDQ(imm(8*mr), ind)
	k, end := s.GP64(), s.GP64()
	s.XORQ(k, k)
	s.MOVQ(c4, end)
	s.SHLQ(imm(2), end) // the bytes of a tap
	s.TESTQ(end, end)
	s.JEQ(operand.LabelRef("next"))
	s.Label("quad")
	quad(ptrs, k)
	s.ADDQ(imm(4), k)
	s.CMPQ(k, end)
	s.JNE(operand.LabelRef("quad"))
	s.Label("next")
	s.DECQ(taps)
	s.JNZ(operand.LabelRef("tap"))
	s.Label("store")
}

// dotVNNI: the rows×nr tile of famAVX512VNNI (nr = 64) or
// famAVX512VNNI32 (nr = 32, kernels named …VNNI32). Per quad: the nr
// columns' bytes in nr/16 ZMM registers, then for each row its 4 bytes
// broadcast and one VPDPBUSD per register; the row's sums stay in its
// nr/16 accumulators for the whole depth. Tiled: dotT6VNNI…, tiles whole
// tiles per call.
func dotVNNI(s isa, rows int, tiled bool, nr int) {
	name := "VNNI"
	if nr != 64 {
		name += strconv.Itoa(nr)
	}
	nv := nr / 16
	s.Implement(dotName(rows, tiled, name))
	s.Attributes(attr.NOSPLIT)
	s.Comment(fmt.Sprintf("Rows 0-%d of the 6×%d tile: row r in %d accumulators of 16 columns.", rows-1, nr, nv))
	taps, c4, ind, w, c := dotArgs(s)
	dotTiled(s, tiled, taps, w, c, 4*nr*6, func() {
		acc := make([][]reg.VecVirtual, rows)
		for r := range acc {
			acc[r] = make([]reg.VecVirtual, nv)
			for v := range acc[r] {
				acc[r][v] = s.ZMM()
				s.VPXORD(acc[r][v], acc[r][v], acc[r][v])
			}
		}
		dotLoops(s, rows, 6, taps, c4, ind, func(ptrs []reg.GPVirtual, k reg.GPVirtual) {
			wv := make([]reg.VecVirtual, nv)
			for v := range wv {
				wv[v] = s.ZMM()
				s.VMOVDQU64(operand.Mem{Base: w, Disp: 64 * v}, wv[v])
			}
			for r, p := range ptrs {
				a := s.ZMM()
				s.VPBROADCASTD(operand.Mem{Base: p, Index: k, Scale: 1}, a)
				for v := range wv {
					vnni(s.Context, "VPDPBUSD", wv[v], a, acc[r][v])
				}
			}
			s.ADDQ(imm(4*nr), w)
		})
		for r := range acc {
			for v := range acc[r] {
				s.VMOVDQU64(acc[r][v], operand.Mem{Base: c, Disp: 4*nr*r + 64*v})
			}
		}
	})
}

// dotAVXVNNI: the rows×16 tile of famAVXVNNI, dotVNNI's scheme on YMM
// registers with the VEX form of VPDPBUSD (AVX-VNNI: the cores from Alder
// Lake, Sapphire Rapids and Zen 5 on, with or without AVX-512), which
// Go's assembler does not encode (its VPDPBUSD is the EVEX form, which
// needs AVX512-VNNI and AVX512-VL): vexDPBUSD writes the bytes, so the
// registers are physical. Row r's sums in Y(2r) and Y(2r+1), the quad's
// 16 columns in Y12 and Y13, the row's broadcast 4 bytes in Y14.
func dotAVXVNNI(c *build.Context, rows int, tiled bool) {
	s := isa{c, "AVXVNNI", false, 8}
	s.Implement(dotName(rows, tiled, s.name))
	s.Attributes(attr.NOSPLIT)
	s.Comment(fmt.Sprintf("Rows 0-%d of the 6×16 tile: row r in Y(2r) and Y(2r+1).", rows-1))
	taps, c4, ind, w, cp := dotArgs(s)
	const nr = 16
	dotTiled(s, tiled, taps, w, cp, 4*nr*6, func() {
		for i := range 2 * rows {
			s.VPXOR(ymm(i), ymm(i), ymm(i))
		}
		dotLoops(s, rows, 6, taps, c4, ind, func(ptrs []reg.GPVirtual, k reg.GPVirtual) {
			s.VMOVDQU(operand.Mem{Base: w}, reg.Y12)
			s.VMOVDQU(operand.Mem{Base: w, Disp: 32}, reg.Y13)
			for r, p := range ptrs {
				s.VPBROADCASTD(operand.Mem{Base: p, Index: k, Scale: 1}, reg.Y14)
				vexDPBUSD(c, reg.Y12, reg.Y14, ymm(2*r))
				vexDPBUSD(c, reg.Y13, reg.Y14, ymm(2*r+1))
			}
			s.ADDQ(imm(4*nr), w)
		})
		for i := range 2 * rows {
			s.VMOVDQU(ymm(i), operand.Mem{Base: cp, Disp: 32 * i})
		}
	})
}

// ymm returns the physical register Yi.
func ymm(i int) reg.VecPhysical {
	return reg.Vector.Lookup(reg.Index(i), reg.S256).(reg.VecPhysical)
}

// vexDPBUSD emits VPDPBUSD w, a, acc (Intel: VPDPBUSD acc, a, w) in its
// VEX.256 encoding, C4 E2 …, as bytes: acc += in each 32-bit lane the four
// products of a's unsigned bytes and w's signed ones, wrapping. The
// instruction's registers go into the first byte's inputs and outputs, for
// avo's liveness analysis.
func vexDPBUSD(c *build.Context, w, a, acc reg.VecPhysical) {
	r, v, b := byte(acc.PhysicalIndex()), byte(a.PhysicalIndex()), byte(w.PhysicalIndex())
	code := []byte{
		0xc4,
		0xe2 &^ (r >> 3 << 7) &^ (b >> 3 << 5), // R̄ X̄ B̄, map 0F38
		0x05 | (^v&15)<<3,                      // W0, v̄v̄v̄v̄, L1 (256 bits), pp 66
		0x50,
		0xc0 | (r&7)<<3 | b&7, // ModRM: register direct
	}
	c.Comment(fmt.Sprintf("VPDPBUSD %s, %s, %s", w.Asm(), a.Asm(), acc.Asm()))
	for i, x := range code {
		in := &ir.Instruction{Opcode: "BYTE", Operands: []operand.Op{operand.U8(x)}}
		if i == 0 {
			in.Inputs = []operand.Op{w, a, acc}
			in.Outputs = []operand.Op{acc}
		}
		c.Instruction(in)
	}
}

// dotMadd: the rows×nr tile of famAVX2 (nr = 8) or famAVX512 (nr = 32),
// exact with VPMADDWD. The rows hold their activations as 16-bit values
// (geometry wide). Per quad: the columns' bytes sign-extended to 16 bits,
// 4 columns × 4 bytes per YMM register (8 × 4 per ZMM); each row's 4
// values broadcast, so that every pair of 16-bit lanes holds 2 values of
// the quad; VPMADDWD gives the two half sums of each column in adjacent
// 32-bit lanes, added to the accumulators. The stores add the halves.
// Tiled: dotT6AVX2 and dotT6AVX512, tiles whole tiles per call.
func dotMadd(s isa, rows int, tiled bool) {
	nv := 2 // registers per row
	if s.avx512 {
		nv = 4
	}
	nr := nv * s.lanes / 2
	s.Implement(dotName(rows, tiled, s.name))
	s.Attributes(attr.NOSPLIT)
	s.Comment(fmt.Sprintf("Rows 0-%d of the 6×%d tile: row r in %d accumulators of %d columns × 2 half sums.", rows-1, nr, nv, s.lanes/2))
	taps, c4, ind, w, c := dotArgs(s)
	dotTiled(s, tiled, taps, w, c, 4*nr*6, func() {
		acc := make([][]reg.VecVirtual, rows)
		for r := range acc {
			acc[r] = make([]reg.VecVirtual, nv)
			for v := range acc[r] {
				acc[r][v] = s.vec()
				s.xor(acc[r][v], acc[r][v], acc[r][v])
			}
		}
		wbytes := 2 * s.lanes // the bytes of one register's columns
		dotLoops(s, rows, 6, taps, c4, ind, func(ptrs []reg.GPVirtual, k reg.GPVirtual) {
			wv := make([]reg.VecVirtual, nv)
			for v := range wv {
				wv[v] = s.vec()
				s.VPMOVSXBW(operand.Mem{Base: w, Disp: wbytes * v}, wv[v])
			}
			for r, p := range ptrs {
				// The row's quad, 4 activations widened to 16 bits (the
				// sources widen them), in every 64 bits of a.
				a := s.vec()
				s.VPBROADCASTQ(operand.Mem{Base: p, Index: k, Scale: 2}, a)
				for v := range wv {
					t := s.vec()
					s.VPMADDWD(wv[v], a, t)
					s.VPADDD(t, acc[r][v], acc[r][v])
				}
			}
			s.ADDQ(imm(nv*wbytes), w)
		})
		for r := range acc {
			if s.avx512 {
				// Pairs of registers (16 columns): each lane plus its neighbour,
				// the even lanes of both narrowed into one register.
				for v := 0; v < nv; v += 2 {
					a, b := acc[r][v], acc[r][v+1]
					for _, x := range []reg.VecVirtual{a, b} {
						t := s.ZMM()
						s.VPSHUFD(imm(0xb1), x, t)
						s.VPADDD(t, x, x)
					}
					s.VPMOVQD(a, a.AsY())
					s.VPMOVQD(b, b.AsY())
					s.VINSERTI64X4(imm(1), b.AsY(), a, a)
					s.VMOVDQU32(a, operand.Mem{Base: c, Disp: 4 * (nr*r + 8*v)})
				}
				continue
			}
			// [c0 c1 c4 c5 | c2 c3 c6 c7] from the half sums, then in order.
			s.VPHADDD(acc[r][1], acc[r][0], acc[r][0])
			s.VPERMQ(imm(0xd8), acc[r][0], acc[r][0])
			s.VMOVDQU(acc[r][0], operand.Mem{Base: c, Disp: 4 * nr * r})
		}
	})
}

// The epilogues turn a tile of P (rows × n, row stride ldp) into rows of
// the output (row stride ldo): n = len(colTerm) >= 8 columns, each row
// with its ρ (rho[r]). Per row, the column loop covers n &^ 7 with full
// vectors (and for AVX-512 one 8-lane step), then the last 8 columns
// again, over the same values (out is never an input).

// epilogue is one kind of epilogue: the element size of its output, the
// inputs it reads beyond p, colTerm and zp (their parameter names), and
// how it computes and stores one vector from the corrected int32 values.
type epilogue struct {
	name    string
	doc     []string
	outSize int
	extra   []string
	// sym: the weights have no zero points, C = P + colTerm (zp and rho
	// are not read; the kernel's name ends in Sym).
	sym   bool
	setup func(s isa) // loads constants before the rows loop
	// vector finishes r (P corrected) for the lanes at column j of the
	// extra streams, and stores it at column j of out (at gives the
	// address of column j of a stream).
	vector func(s isa, r reg.VecVirtual, extra []stream, out stream, at func(stream) operand.Mem)
}

// epiTile emits the epilogue kernel e for s. The column index j is
// shared by every stream: element j of a row of P, of the per-column
// inputs and of a row of out.
func epiTile(s isa, e epilogue) {
	if e.sym {
		e.name += "Sym"
		e.doc = append(e.doc, "Sym: no zero points, C = p[r][j] + colTerm[j] (zp and rho not read).")
	}
	s.text(e.name, e.doc...)
	rows, ldp, ldo := s.GP64(), s.GP64(), s.GP64()
	s.Load(s.Param("rows"), rows)
	s.Load(s.Param("ldp"), ldp)
	s.Load(s.Param("ldo"), ldo)
	s.SHLQ(imm(2), ldp)
	if e.outSize == 4 {
		s.SHLQ(imm(2), ldo)
	}
	p, rho, out := s.slice("p", 4), s.GP64(), stream{s.GP64(), e.outSize}
	s.Load(s.Param("rho").Base(), rho)
	s.Load(s.Param("out").Base(), out.p)
	n := s.length("colTerm")
	ct, zp := s.slice("colTerm", 4), s.slice("zp", 4)
	var extra []stream
	for _, name := range e.extra {
		extra = append(extra, s.slice(name, 4))
	}
	if e.setup != nil {
		e.setup(s)
	}
	// lim = n − lanes: the last column a full vector may start at
	// (negative when there is none).
	lim := n
	s.SUBQ(imm(s.lanes), lim)
	j := s.GP64()
	at := func(st stream) operand.Mem { return operand.Mem{Base: st.p, Index: j, Scale: uint8(st.size)} }
	s.Label("row")
	var rv reg.VecVirtual
	if !e.sym {
		rv = s.vec()
		s.VPBROADCASTD(operand.Mem{Base: rho}, rv)
	}
	step := func(t isa) {
		r := t.vec()
		if t.lanes == 16 {
			s.VMOVDQU32(at(p), r)
		} else {
			s.VMOVDQU(at(p), r)
		}
		s.VPADDD(at(ct), r, r)
		if !e.sym {
			m := t.vec()
			s.VPMULLD(at(zp), t.v(rv), m)
			s.VPSUBD(m, r, r)
		}
		e.vector(t, r, extra, out, at)
	}
	s.XORQ(j, j)
	s.CMPQ(j, lim)
	s.JG(operand.LabelRef("cols_end"))
	s.Label("cols")
	step(s)
	s.ADDQ(imm(s.lanes), j)
	s.CMPQ(j, lim)
	s.JLE(operand.LabelRef("cols"))
	s.Label("cols_end")
	t := s
	tmp := s.GP64()
	if s.avx512 { // an 8-lane step while at least 8 columns are left
		t = s.half()
		s.LEAQ(operand.Mem{Base: lim, Disp: 8}, tmp)
		s.CMPQ(j, tmp)
		s.JG(operand.LabelRef("last"))
		step(t)
		s.ADDQ(imm(8), j)
	}
	s.Label("last") // the last 8 columns again, unless j = n
	s.LEAQ(operand.Mem{Base: lim, Disp: s.lanes}, tmp)
	s.CMPQ(j, tmp)
	s.JGE(operand.LabelRef("next"))
	s.LEAQ(operand.Mem{Base: lim, Disp: s.lanes - 8}, j)
	step(t)
	s.Label("next")
	s.ADDQ(ldp, p.p)
	s.ADDQ(ldo, out.p)
	s.ADDQ(imm(4), rho)
	s.DECQ(rows)
	s.JNZ(operand.LabelRef("row"))
	s.VZEROUPPER()
	s.RET()
}

// storeVec stores the int32 or float32 lanes of r at m.
func storeVec(s isa, r reg.Register, m operand.Mem) {
	if s.lanes == 16 {
		s.VMOVDQU32(r, m)
	} else {
		s.VMOVDQU(r, m)
	}
}

// epiInt32: out = P + colTerm − zp·ρ.
func epiInt32(s isa) {
	epiTile(s, epilogue{name: "epiInt32", outSize: 4,
		doc: []string{"out[r][j] = p[r][j] + colTerm[j] - zp[j]*rho[r] (epiInt32Generic)."},
		vector: func(s isa, r reg.VecVirtual, _ []stream, out stream, at func(stream) operand.Mem) {
			storeVec(s, r, at(out))
		}})
}

// epiQuant: the low byte of clamp(roundHalfEven(float32(C)·scale), lo,
// hi) + zp, C as epiInt32 computes it. The clamp comes before the
// conversion (the bounds are integers, so it is the same), so every value
// converted is small: VCVTPS2DQ rounds half to even under Go's MXCSR, with
// embedded rounding (RN_SAE) on 512-bit registers. The low byte of the
// int32 result is the int8 or uint8 code (its value lies in the output
// type's range).
func epiQuant(s isa, sym bool) {
	var lo, hi, zp, mask reg.VecVirtual
	epiTile(s, epilogue{name: "epiQuant", outSize: 1, extra: []string{"scale"}, sym: sym,
		doc: []string{"out[r][j] = byte(clamp(roundHalfEven(float32(C)*scale[j]), lo, hi) + zp),",
			"C = p[r][j] + colTerm[j] - zp[j]*rho[r] (epiQuantGeneric)."},
		setup: func(s isa) {
			q := s.GP64()
			s.Load(s.Param("q"), q)
			lo, hi, zp = s.vec(), s.vec(), s.vec()
			s.VBROADCASTSS(operand.Mem{Base: q}, lo)
			s.VBROADCASTSS(operand.Mem{Base: q, Disp: 4}, hi)
			s.VPBROADCASTD(operand.Mem{Base: q, Disp: 8}, zp)
			if !s.avx512 { // 0x00ff in every 16-bit lane
				mask = s.YMM()
				s.VPCMPEQW(mask, mask, mask)
				s.VPSRLW(imm(8), mask, mask)
			}
		},
		vector: func(s isa, r reg.VecVirtual, in []stream, out stream, at func(stream) operand.Mem) {
			s.VCVTDQ2PS(r, r)
			s.VMULPS(at(in[0]), r, r)
			s.VMAXPS(s.v(lo), r, r)
			s.VMINPS(s.v(hi), r, r)
			if s.lanes == 16 {
				s.VCVTPS2DQ_RN_SAE(r, r)
			} else {
				s.VCVTPS2DQ(r, r)
			}
			s.VPADDD(s.v(zp), r, r)
			if s.avx512 {
				s.VPMOVDB(r, at(out))
				return
			}
			// 8 lanes: to 16 bits (exact, |value| <= 255), their low
			// bytes, packed without saturation.
			h := s.XMM()
			s.VEXTRACTI128(imm(1), r, h)
			s.VPACKSSDW(h, r.AsX(), r.AsX())
			s.VPAND(mask.AsX(), r.AsX(), r.AsX())
			s.VPACKUSWB(r.AsX(), r.AsX(), r.AsX())
			s.VMOVQ(r.AsX(), at(out))
		}})
}

// epiFloat: float32(float32(C)·scale) + bias, C as epiInt32 computes it;
// the multiply and the add are separate roundings.
func epiFloat(s isa, sym bool) {
	epiTile(s, epilogue{name: "epiFloat", outSize: 4, extra: []string{"scale", "bias"}, sym: sym,
		doc: []string{"out[r][j] = float32(float32(C)*scale[j]) + bias[j],",
			"C = p[r][j] + colTerm[j] - zp[j]*rho[r] (epiFloatGeneric)."},
		vector: func(s isa, r reg.VecVirtual, in []stream, out stream, at func(stream) operand.Mem) {
			s.VCVTDQ2PS(r, r)
			s.VMULPS(at(in[0]), r, r)
			s.VADDPS(at(in[1]), r, r)
			storeVec(s, r, at(out))
		}})
}

// depthwise: for npix output pixels i and c >= 8 channels,
// p[i·c + ch] = Σ_t x_t[i·step + ch]·w_t[ch], x_t the uint8 bytes at
// ind[t], the weights in pairs of taps: w[j·c + ch] holds w_2j[ch] in its
// low 16 bits and w_2j+1[ch] (0 past the last tap) in its high ones. For
// each pair, the two taps' bytes widened into the low and high halves of
// 32-bit lanes and VPMADDWD against the pair: x_2j·w_2j + x_2j+1·w_2j+1,
// exact in int32 (|x|, |w| <= 255), one multiply where VPMULLD took two
// µops per tap. An odd last tap reads its bytes alone (a zero high half).
// Blocks of a register's channels, then for AVX-512 one of 8, then the
// last 8 channels again (the same sums, stored over the same values); for
// each block, each pixel, each pair.
func depthwise(s isa) {
	s.text("dw", "p[i*c+ch] = sum over t of x_t[i*step+ch] * w_t[ch], x_t the uint8 bytes at ind[t],", "the weights in pairs of taps (dwGeneric, pairTaps).")
	c := s.GP64()
	s.Load(s.Param("c"), c)
	ind, w, p := s.GP64(), s.GP64(), s.GP64()
	s.Load(s.Param("ind").Base(), ind)
	s.Load(s.Param("w").Base(), w)
	s.Load(s.Param("p").Base(), p)
	ch := s.GP64()
	s.XORQ(ch, ch)
	block := func(t isa, label string) {
		pp, off, pix := s.GP64(), s.GP64(), s.GP64()
		s.LEAQ(operand.Mem{Base: p, Index: ch, Scale: 4}, pp)
		s.XORQ(off, off)
		s.Load(s.Param("npix"), pix)
		s.Label(label + "_pixel")
		acc := t.vec()
		t.xor(acc, acc, acc)
		tp, wp, cnt := s.GP64(), s.GP64(), s.GP64()
		s.MOVQ(ind, tp)
		s.LEAQ(operand.Mem{Base: w, Index: ch, Scale: 4}, wp)
		s.Load(s.Param("taps"), cnt)
		s.SHRQ(imm(1), cnt)
		s.JEQ(operand.LabelRef(label + "_odd"))
		s.Label(label + "_pair")
		x0, x1 := s.GP64(), s.GP64()
		s.MOVQ(operand.Mem{Base: tp}, x0)
		s.MOVQ(operand.Mem{Base: tp, Disp: 8}, x1)
		s.ADDQ(off, x0)
		s.ADDQ(off, x1)
		v0, v1 := t.vec(), t.vec()
		s.VPMOVZXBD(operand.Mem{Base: x0, Index: ch, Scale: 1}, v0)
		s.VPMOVZXBD(operand.Mem{Base: x1, Index: ch, Scale: 1}, v1)
		s.VPSLLD(imm(16), v1, v1)
		t.or(v1, v0, v0)
		s.VPMADDWD(operand.Mem{Base: wp}, v0, v0)
		s.VPADDD(v0, acc, acc)
		s.ADDQ(imm(16), tp)
		s.LEAQ(operand.Mem{Base: wp, Index: c, Scale: 4}, wp)
		s.DECQ(cnt)
		s.JNZ(operand.LabelRef(label + "_pair"))
		s.Label(label + "_odd")
		odd := s.GP64()
		s.Load(s.Param("taps"), odd)
		s.ANDQ(imm(1), odd)
		s.JEQ(operand.LabelRef(label + "_store"))
		x := s.GP64()
		s.MOVQ(operand.Mem{Base: tp}, x)
		s.ADDQ(off, x)
		v := t.vec()
		s.VPMOVZXBD(operand.Mem{Base: x, Index: ch, Scale: 1}, v)
		s.VPMADDWD(operand.Mem{Base: wp}, v, v)
		s.VPADDD(v, acc, acc)
		s.Label(label + "_store")
		storeVec(t, acc, operand.Mem{Base: pp})
		s.LEAQ(operand.Mem{Base: pp, Index: c, Scale: 4}, pp)
		s.ADDQ(s.param("step"), off)
		s.DECQ(pix)
		s.JNZ(operand.LabelRef(label + "_pixel"))
	}
	left := s.GP64() // channels from ch on
	s.MOVQ(c, left)
	s.counted(left, s.lanes, "blocks", func() {
		block(s, fmt.Sprintf("b%d", s.lanes))
		s.ADDQ(imm(s.lanes), ch)
	})
	h := s
	if s.avx512 {
		h = s.half()
		s.CMPQ(left, imm(8))
		s.JB(operand.LabelRef("last"))
		block(h, "b8")
		s.ADDQ(imm(8), ch)
		s.SUBQ(imm(8), left)
	}
	s.Label("last")
	s.TESTQ(left, left)
	s.JEQ(operand.LabelRef("done"))
	s.LEAQ(operand.Mem{Base: c, Disp: -8}, ch)
	block(h, "blast")
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}

// transposeBlocks emits a transposition of 8×8 blocks of es-byte values,
// dst[j·ldd + i] = src[i·lds + j] for i < 8·rows8 and j < 8·cols8, named
// name: the arguments, then setup(ldd, lds) (in elements on entry; it may
// scale them or load more), then for each block block(r, dp): r holds the
// block's first source row and lds steps to the next; block stores the 8
// transposed rows from dp on, stepping by ldd, and leaves r at the last.
func transposeBlocks(c *build.Context, name, doc string, es int, setup func(s isa, ldd, lds reg.GPVirtual), block func(s isa, r, dp, ldd, lds reg.GPVirtual)) {
	s := isa{c, "AVX2", false, 8}
	s.text(name, doc)
	dst, src := s.slice("dst", es), s.slice("src", es)
	ldd, lds, rows, cols := s.GP64(), s.GP64(), s.GP64(), s.GP64()
	s.Load(s.Param("ldd"), ldd)
	s.Load(s.Param("lds"), lds)
	s.Load(s.Param("rows8"), rows)
	s.Load(s.Param("cols8"), cols)
	setup(s, ldd, lds)
	s.TESTQ(rows, rows)
	s.JEQ(operand.LabelRef("done"))
	s.TESTQ(cols, cols)
	s.JEQ(operand.LabelRef("done"))
	s.Label("rowblock")
	sp, dp, n := s.GP64(), s.GP64(), s.GP64()
	s.MOVQ(src.p, sp)
	s.MOVQ(dst.p, dp)
	s.MOVQ(cols, n)
	s.Label("block")
	r := s.GP64()
	s.MOVQ(sp, r)
	block(s, r, dp, ldd, lds)
	s.ADDQ(imm(8*es), sp)
	s.LEAQ(operand.Mem{Base: r, Index: ldd, Scale: 1}, dp) // 8 rows of dst on
	s.DECQ(n)
	s.JNZ(operand.LabelRef("block"))
	s.LEAQ(operand.Mem{Base: src.p, Index: lds, Scale: 8}, src.p)
	s.ADDQ(imm(8*es), dst.p)
	s.DECQ(rows)
	s.JNZ(operand.LabelRef("rowblock"))
	s.Label("done")
	if es > 1 {
		s.VZEROUPPER()
	}
	s.RET()
}

// rows8 emits op(k, r) for the 8 rows k of a block, stepping r by ld
// between them.
func rows8(s isa, r, ld reg.GPVirtual, op func(k int)) {
	for k := range 8 {
		op(k)
		if k < 7 {
			s.ADDQ(ld, r)
		}
	}
}

// transpose: the 8×8 blocks of bytes, each XORed with flip: for each
// block, its 8 rows of 8 bytes (with the flip), three rounds of unpacks
// (bytes, words, dwords), and 8 stores of 8 bytes. VEX-encoded 128-bit
// instructions, for every amd64 family.
func transpose(c *build.Context) {
	var fv reg.VecVirtual
	setup := func(s isa, _, _ reg.GPVirtual) { fv = byteParam(s, "flip") }
	transposeBlocks(c, "transpose", "dst[j*ldd+i] = src[i*lds+j] ^ flip for i < 8*rows8, j < 8*cols8 (transposeBytes).", 1, setup, func(s isa, r, dp, ldd, lds reg.GPVirtual) {
		var a [8]reg.VecVirtual
		rows8(s, r, lds, func(k int) {
			a[k] = s.XMM()
			s.VMOVQ(operand.Mem{Base: r}, a[k])
			s.VPXOR(fv, a[k], a[k])
		})
		// Bytes of row pairs, then words of pair pairs, then dwords:
		// column j of the block ends as the 8 bytes at 8·(j%2) of v[j/2].
		var t, u, v [4]reg.VecVirtual
		for k := range t {
			t[k] = s.XMM()
			s.VPUNPCKLBW(a[2*k+1], a[2*k], t[k])
		}
		for k := range 2 {
			u[2*k], u[2*k+1] = s.XMM(), s.XMM()
			s.VPUNPCKLWD(t[2*k+1], t[2*k], u[2*k])
			s.VPUNPCKHWD(t[2*k+1], t[2*k], u[2*k+1])
		}
		for k := range 2 {
			v[2*k], v[2*k+1] = s.XMM(), s.XMM()
			s.VPUNPCKLDQ(u[k+2], u[k], v[2*k])
			s.VPUNPCKHDQ(u[k+2], u[k], v[2*k+1])
		}
		s.MOVQ(dp, r)
		rows8(s, r, ldd, func(j int) {
			if j%2 == 0 {
				s.VMOVQ(v[j/2], operand.Mem{Base: r})
			} else {
				s.VMOVHPS(v[j/2], operand.Mem{Base: r})
			}
		})
	})
}

// transpose32: the 8×8 blocks of 32-bit values (int32 or float32 bits):
// for each block, its 8 rows in YMM registers, unpacks of dwords, then
// qwords, then the 128-bit halves exchanged (VPERM2I128), and 8 stores.
func transpose32(c *build.Context) {
	setup := func(s isa, ldd, lds reg.GPVirtual) {
		s.SHLQ(imm(2), ldd)
		s.SHLQ(imm(2), lds)
	}
	transposeBlocks(c, "transpose32", "dst[j*ldd+i] = src[i*lds+j] for i < 8*rows8, j < 8*cols8, 32-bit values (transposeBits32).", 4, setup, func(s isa, r, dp, ldd, lds reg.GPVirtual) {
		var a [8]reg.VecVirtual
		rows8(s, r, lds, func(k int) {
			a[k] = s.YMM()
			s.VMOVDQU(operand.Mem{Base: r}, a[k])
		})
		var t, u [8]reg.VecVirtual
		for k := 0; k < 8; k += 2 {
			t[k], t[k+1] = s.YMM(), s.YMM()
			s.VPUNPCKLDQ(a[k+1], a[k], t[k])
			s.VPUNPCKHDQ(a[k+1], a[k], t[k+1])
		}
		for k := 0; k < 8; k += 4 {
			for h := range 2 {
				u[k+2*h], u[k+2*h+1] = s.YMM(), s.YMM()
				s.VPUNPCKLQDQ(t[k+h+2], t[k+h], u[k+2*h])
				s.VPUNPCKHQDQ(t[k+h+2], t[k+h], u[k+2*h+1])
			}
		}
		// u[j] (j < 4) holds column j of rows 0-3 in its low 128 bits and
		// column j+4 in its high ones; u[4+j] the same for rows 4-7.
		s.MOVQ(dp, r)
		rows8(s, r, ldd, func(j int) {
			v := s.YMM()
			imm8 := 0x20 // low halves: columns 0-3
			if j >= 4 {
				imm8 = 0x31 // high halves: columns 4-7
			}
			s.VPERM2I128(imm(imm8), u[4+j%4], u[j%4], v)
			s.VMOVDQU(v, operand.Mem{Base: r})
		})
	})
}

// quads: transposeQuads's blocks of 16 pixels, rows (1-3) rows of 16
// bytes (each XORed with flip) and the pad byte in the others, interleaved
// by unpacks of bytes (rows 0 and 1, 2 and 3) then of words into four
// stores of 4 pixels × 4 bytes. One loop per number of rows. VEX-encoded
// 128-bit instructions, for every amd64 family.
func quads(c *build.Context) {
	s := isa{c, "AVX2", false, 8}
	s.text("quads", "dst[4*j+i] = src[i*lds+j] ^ flip for i < rows (1-3), pad for rows <= i < 4, j < 16*n16 (transposeQuads).")
	dst, src := s.slice("dst", 1), s.slice("src", 1)
	lds, rows, n := s.GP64(), s.GP64(), s.GP64()
	s.Load(s.Param("lds"), lds)
	s.Load(s.Param("rows"), rows)
	s.Load(s.Param("n16"), n)
	fv, pv := byteParam(s, "flip"), byteParam(s, "pad")
	s.TESTQ(n, n)
	s.JEQ(operand.LabelRef("done"))
	s.CMPQ(rows, imm(2))
	s.JLT(operand.LabelRef("rows1"))
	s.JEQ(operand.LabelRef("rows2"))
	for r := 3; r >= 1; r-- {
		s.Label(fmt.Sprintf("rows%d", r))
		var a [4]reg.VecVirtual
		for i := range a {
			if i >= r {
				a[i] = pv
				continue
			}
			a[i] = s.XMM()
			m := operand.Mem{Base: src.p}
			if i > 0 {
				m = operand.Mem{Base: src.p, Index: lds, Scale: uint8(i)}
			}
			s.VMOVDQU(m, a[i])
			s.VPXOR(fv, a[i], a[i])
		}
		lo01, hi01, lo23, hi23 := s.XMM(), s.XMM(), s.XMM(), s.XMM()
		s.VPUNPCKLBW(a[1], a[0], lo01)
		s.VPUNPCKHBW(a[1], a[0], hi01)
		s.VPUNPCKLBW(a[3], a[2], lo23)
		s.VPUNPCKHBW(a[3], a[2], hi23)
		for k, h := range [2][2]reg.VecVirtual{{lo01, lo23}, {hi01, hi23}} {
			q0, q1 := s.XMM(), s.XMM()
			s.VPUNPCKLWD(h[1], h[0], q0)
			s.VPUNPCKHWD(h[1], h[0], q1)
			s.VMOVDQU(q0, operand.Mem{Base: dst.p, Disp: 32 * k})
			s.VMOVDQU(q1, operand.Mem{Base: dst.p, Disp: 32*k + 16})
		}
		s.ADDQ(imm(16), src.p)
		s.ADDQ(imm(64), dst.p)
		s.DECQ(n)
		s.JNZ(operand.LabelRef(fmt.Sprintf("rows%d", r)))
		s.JMP(operand.LabelRef("done"))
	}
	s.Label("done")
	s.RET()
}

// dwWordsPixels is the output pixels dwWords computes at once.
const dwWordsPixels = 4

// dwWords describes dwWordsVNNI, the depthwise kernel of the VNNI
// families on activations widened to 16 bits: for each block of 32
// channels (the last one overlapping the one before when c is not a
// multiple of 32), dwWordsPixels pixels at a time (one at a time for the
// rest), each tap: its weights in two registers, then per pixel the 32
// activations' words in one ZMM register and two VPDPWSSD, against the even channels' weights (in
// the low halves of the lanes, 0 in the high ones) and the odd ones' (in
// the high halves): lane i of one sum is channel 2i, of the other channel
// 2i + 1, exact in int32 (|x| <= 255, |w| <= 255). VPERMI2D interleaves
// the two into channel order for the stores.
func dwWords(c *build.Context) {
	zip := zipTables(c, "words")
	s := isa{c, "VNNI", true, 16}
	s.text("dwWords", "p[i*c+ch] = sum over t of x_t[i*step+2*ch] * w_t[ch], x_t the uint16 words at ind[t],", "the weights of dwWordWeights (dwWordsGeneric).")
	c32 := s.GP64()
	s.Load(s.Param("c"), c32)
	ch, wb := s.GP64(), s.GP64()
	s.XORQ(ch, ch)
	s.Load(s.Param("w").Base(), wb)
	step, step3 := s.GP64(), s.GP64()
	s.Load(s.Param("step"), step)
	s.LEAQ(operand.Mem{Base: step, Index: step, Scale: 2}, step3)
	s.Label("block")
	pp, off, pix := s.GP64(), s.GP64(), s.GP64()
	s.Load(s.Param("p").Base(), pp)
	s.LEAQ(operand.Mem{Base: pp, Index: ch, Scale: 4}, pp)
	s.XORQ(off, off)
	s.Load(s.Param("npix"), pix)
	// pixels emits n (1 or dwWordsPixels) pixels from off on: each its two
	// accumulators, so that the VPDPWSSD chains (latency 4-5) overlap.
	pixels := func(n int, label string) {
		even, odd := make([]reg.VecVirtual, n), make([]reg.VecVirtual, n)
		for q := range n {
			even[q], odd[q] = s.ZMM(), s.ZMM()
			s.VPXORD(even[q], even[q], even[q])
			s.VPXORD(odd[q], odd[q], odd[q])
		}
		tp, wt, cnt := s.GP64(), s.GP64(), s.GP64()
		s.Load(s.Param("ind").Base(), tp)
		s.MOVQ(wb, wt)
		s.Load(s.Param("taps"), cnt)
		s.Label(label)
		x := s.GP64()
		s.MOVQ(operand.Mem{Base: tp}, x)
		s.ADDQ(off, x)
		s.LEAQ(operand.Mem{Base: x, Index: ch, Scale: 2}, x)
		we, wo := s.ZMM(), s.ZMM()
		s.VMOVDQU32(operand.Mem{Base: wt}, we)
		s.VMOVDQU32(operand.Mem{Base: wt, Disp: 64}, wo)
		for q := range n {
			m := []operand.Mem{{Base: x}, {Base: x, Index: step, Scale: 1}, {Base: x, Index: step, Scale: 2}, {Base: x, Index: step3, Scale: 1}}[q]
			v := s.ZMM()
			s.VMOVDQU32(m, v)
			vnni(s.Context, "VPDPWSSD", we, v, even[q])
			vnni(s.Context, "VPDPWSSD", wo, v, odd[q])
		}
		s.ADDQ(imm(8), tp)
		s.ADDQ(imm(128), wt)
		s.DECQ(cnt)
		s.JNZ(operand.LabelRef(label))
		for q := range n {
			for h := range zip {
				o := s.ZMM()
				s.VMOVDQU32(zip[h], o)
				s.VPERMI2D(odd[q], even[q], o)
				s.VMOVDQU32(o, operand.Mem{Base: pp, Disp: 64 * h})
			}
			s.LEAQ(operand.Mem{Base: pp, Index: c32, Scale: 4}, pp)
			s.ADDQ(step, off)
		}
	}
	s.CMPQ(pix, imm(dwWordsPixels))
	s.JB(operand.LabelRef("single"))
	s.Label("group")
	pixels(dwWordsPixels, "group_tap")
	s.SUBQ(imm(dwWordsPixels), pix)
	s.CMPQ(pix, imm(dwWordsPixels))
	s.JAE(operand.LabelRef("group"))
	s.Label("single")
	s.TESTQ(pix, pix)
	s.JEQ(operand.LabelRef("next"))
	pixels(1, "single_tap")
	s.DECQ(pix)
	s.JMP(operand.LabelRef("single"))
	s.Label("next")
	// The next block of 32 channels; when fewer than 32 are left, the
	// last 32 (overlapping the block before: the same sums again).
	taps := s.GP64()
	s.Load(s.Param("taps"), taps)
	s.SHLQ(imm(7), taps)
	s.ADDQ(taps, wb)
	s.ADDQ(imm(32), ch)
	s.CMPQ(ch, c32)
	s.JAE(operand.LabelRef("done"))
	last := s.GP64()
	s.LEAQ(operand.Mem{Base: ch, Disp: 32}, last)
	s.CMPQ(last, c32)
	s.JBE(operand.LabelRef("block"))
	s.LEAQ(operand.Mem{Base: c32, Disp: -32}, ch)
	s.JMP(operand.LabelRef("block"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}
