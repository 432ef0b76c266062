package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/ir"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// qgemmKernels describes internal/qgemm/kernel_amd64.s: the integer
// micro-kernels (dotGeneric for the geometries of famAVX512VNNI, famAVX512
// and famAVX2, one kernel per number of rows), the epilogues and the
// depthwise kernel. See the package documentation of internal/qgemm for
// the operand scheme and why no instruction here saturates.
func qgemmKernels(c *build.Context) {
	const mr = 6 // every amd64 family's tile height (geometries in family.go)
	vnni := isa{c, "VNNI", true, 16}
	for rows := 1; rows <= mr; rows++ {
		dotVNNI(vnni, rows)
	}
	for _, s := range isas(c) {
		for rows := 1; rows <= mr; rows++ {
			dotMadd(s, rows)
		}
	}
	for _, s := range isas(c) {
		epiInt32(s)
		epiQuant(s)
		epiFloat(s)
		depthwise(s)
	}
}

// vpdpbusd emits VPDPBUSD w, a, acc (Intel: vpdpbusd acc, a, w): acc +=
// the four products of the unsigned bytes of a and the signed bytes of w
// in each 32-bit lane, wrapping. avo has no form of it; Go's assembler
// encodes it (EVEX, AVX512-VNNI).
func vpdpbusd(c *build.Context, w, a, acc operand.Op) {
	c.Instruction(&ir.Instruction{
		Opcode:   "VPDPBUSD",
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

// dotVNNI: the rows×64 tile of famAVX512VNNI. Per quad: the 64 columns'
// bytes in four ZMM registers, then for each row its 4 bytes broadcast and
// one VPDPBUSD per register; the row's sums stay in its 4 accumulators for
// the whole depth.
func dotVNNI(s isa, rows int) {
	s.Implement(fmt.Sprintf("dotR%dVNNI", rows))
	s.Attributes(attr.NOSPLIT)
	s.Comment(fmt.Sprintf("Rows 0-%d of the 6×64 tile: row r in 4 accumulators of 16 columns.", rows-1))
	taps, c4, ind, w, c := dotArgs(s)
	acc := make([][4]reg.VecVirtual, rows)
	for r := range acc {
		for v := range acc[r] {
			acc[r][v] = s.ZMM()
			s.VPXORD(acc[r][v], acc[r][v], acc[r][v])
		}
	}
	dotLoops(s, rows, 6, taps, c4, ind, func(ptrs []reg.GPVirtual, k reg.GPVirtual) {
		var wv [4]reg.VecVirtual
		for v := range wv {
			wv[v] = s.ZMM()
			s.VMOVDQU64(operand.Mem{Base: w, Disp: 64 * v}, wv[v])
		}
		for r, p := range ptrs {
			a := s.ZMM()
			s.VPBROADCASTD(operand.Mem{Base: p, Index: k, Scale: 1}, a)
			for v := range wv {
				vpdpbusd(s.Context, wv[v], a, acc[r][v])
			}
		}
		s.ADDQ(imm(256), w)
	})
	for r := range acc {
		for v := range acc[r] {
			s.VMOVDQU64(acc[r][v], operand.Mem{Base: c, Disp: 256*r + 64*v})
		}
	}
	s.VZEROUPPER()
	s.RET()
}

// dotMadd: the rows×nr tile of famAVX2 (nr = 8) or famAVX512 (nr = 32),
// exact with VPMADDWD. Per quad: the columns' bytes sign-extended to
// 16 bits, 4 columns × 4 bytes per YMM register (8 × 4 per ZMM); each
// row's 4 bytes broadcast and zero-extended, so that every pair of 16-bit
// lanes holds 2 bytes of the quad; VPMADDWD gives the two half sums of
// each column in adjacent 32-bit lanes, added to the accumulators. The
// stores add the halves.
func dotMadd(s isa, rows int) {
	nv := 2 // registers per row
	if s.avx512 {
		nv = 4
	}
	nr := nv * s.lanes / 2
	s.Implement(fmt.Sprintf("dotR%d%s", rows, s.name))
	s.Attributes(attr.NOSPLIT)
	s.Comment(fmt.Sprintf("Rows 0-%d of the 6×%d tile: row r in %d accumulators of %d columns × 2 half sums.", rows-1, nr, nv, s.lanes/2))
	taps, c4, ind, w, c := dotArgs(s)
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
			a := s.vec()
			half := a.AsX() // the quad, repeated over 128 (AVX2) or 256 bits
			if s.avx512 {
				half = a.AsY()
			}
			s.VPBROADCASTD(operand.Mem{Base: p, Index: k, Scale: 1}, half)
			s.VPMOVZXBW(half, a)
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
	s.VZEROUPPER()
	s.RET()
}

// epiInputs loads the inputs shared by the epilogues: the streams of p,
// colTerm and zp, ρ in every lane, and n = len(out).
func epiInputs(s isa) (in []stream, rho reg.VecVirtual, n reg.GPVirtual) {
	in = []stream{s.slice("p", 4), s.slice("colTerm", 4), s.slice("zp", 4)}
	rho = s.broadcast32("rho")
	return in, rho, s.length("out")
}

// broadcast32 returns a vector with the int32 argument name in every
// lane (through a general register: asmdecl checks the size of the frame
// access).
func (s isa) broadcast32(name string) reg.VecVirtual {
	g, v := s.GP32(), s.vec()
	s.MOVL(s.param(name), g)
	s.VMOVD(g, v.AsX())
	s.VPBROADCASTD(v.AsX(), v)
	return v
}

// correct returns a register with P + colTerm − zp·ρ of the lanes at
// element i of the streams in (p, colTerm, zp).
func (s isa) correct(in []stream, rho reg.VecVirtual, i int) reg.VecVirtual {
	r, t := s.vec(), s.vec()
	s.loadVec(in[0].at(i), r)
	s.VPADDD(in[1].at(i), r, r)
	s.VPMULLD(in[2].at(i), s.v(rho), t)
	s.VPSUBD(t, r, r)
	return r
}

// loadVec loads a vector: VMOVDQU32 on ZMM, VMOVDQU on YMM.
func (s isa) loadVec(m operand.Mem, r reg.VecVirtual) {
	if s.lanes == 16 {
		s.VMOVDQU32(m, r)
	} else {
		s.VMOVDQU(m, r)
	}
}

// epiInt32: out[i] = P + colTerm − zp·ρ.
func epiInt32(s isa) {
	s.text("epiInt32", "out[i] = p[i] + colTerm[i] - zp[i]*rho (epiInt32Generic).")
	in, rho, n := epiInputs(s)
	out := s.slice("out", 4)
	s.loop(elementwise{n: n, in: in, out: out,
		vector: func(s isa, in []stream, i int) reg.Register { return s.correct(in, rho, i) },
		store: func(s isa, rs []reg.Register, out stream, i int, _ bool) {
			for j, r := range rs {
				if s.lanes == 16 {
					s.VMOVDQU32(r, out.at(i+j*s.lanes))
				} else {
					s.VMOVDQU(r, out.at(i+j*s.lanes))
				}
			}
		}})
}

// epiQuant: out[i] = the low byte of clamp(roundHalfEven(float32(C)·
// scale[i]), lo, hi) + zp, C as epiInt32 computes it. The clamp comes
// before the conversion (the bounds are integers, so it is the same), so
// every value converted is small: VCVTPS2DQ rounds half to even under Go's
// MXCSR, with embedded rounding (RN_SAE) on 512-bit registers. The low
// byte of the int32 result is the int8 or uint8 code (its value lies in
// the output type's range).
func epiQuant(s isa) {
	s.text("epiQuant", "out[i] = byte(clamp(roundHalfEven(float32(p[i]+colTerm[i]-zp[i]*rho)*scale[i]), lo, hi) + zp)", "(epiQuantGeneric).")
	in, rho, n := epiInputs(s)
	in = append(in, s.slice("scale", 4))
	q := s.GP64()
	s.Load(s.Param("q"), q)
	lo, hi, zp := s.vec(), s.vec(), s.vec()
	s.VBROADCASTSS(operand.Mem{Base: q}, lo)
	s.VBROADCASTSS(operand.Mem{Base: q, Disp: 4}, hi)
	s.VPBROADCASTD(operand.Mem{Base: q, Disp: 8}, zp)
	var mask reg.VecVirtual // 0x00ff in every 16-bit lane (AVX2)
	if !s.avx512 {
		mask = s.YMM()
		s.VPCMPEQW(mask, mask, mask)
		s.VPSRLW(imm(8), mask, mask)
	}
	out := s.slice("out", 1)
	s.loop(elementwise{n: n, in: in, out: out,
		vector: func(s isa, in []stream, i int) reg.Register {
			r := s.correct(in, rho, i)
			s.VCVTDQ2PS(r, r)
			s.VMULPS(in[3].at(i), r, r)
			s.VMAXPS(s.v(lo), r, r)
			s.VMINPS(s.v(hi), r, r)
			if s.lanes == 16 {
				s.VCVTPS2DQ_RN_SAE(r, r)
			} else {
				s.VCVTPS2DQ(r, r)
			}
			s.VPADDD(s.v(zp), r, r)
			return r
		},
		store: func(s isa, rs []reg.Register, out stream, i int, _ bool) {
			for j, r := range rs {
				if s.avx512 {
					s.VPMOVDB(r, out.at(i+j*s.lanes))
					continue
				}
				// 8 lanes: to 16 bits (exact, |value| <= 255), the low
				// bytes, packed without saturation.
				x := r.(reg.VecVirtual)
				hi := s.XMM()
				s.VEXTRACTI128(imm(1), x, hi)
				s.VPACKSSDW(hi, x.AsX(), x.AsX())
				s.VPAND(mask.AsX(), x.AsX(), x.AsX())
				s.VPACKUSWB(x.AsX(), x.AsX(), x.AsX())
				s.VMOVQ(x.AsX(), out.at(i+j*s.lanes))
			}
		}})
}

// epiFloat: out[i] = float32(float32(C)·scale[i]) + bias[i], C as
// epiInt32 computes it; the multiply and the add are separate roundings.
func epiFloat(s isa) {
	s.text("epiFloat", "out[i] = float32(float32(p[i]+colTerm[i]-zp[i]*rho)*scale[i]) + bias[i] (epiFloatGeneric).")
	in, rho, n := epiInputs(s)
	in = append(in, s.slice("scale", 4), s.slice("bias", 4))
	out := s.slice("out", 4)
	s.loop(elementwise{n: n, in: in, out: out, store: storeFloats,
		vector: func(s isa, in []stream, i int) reg.Register {
			r := s.correct(in, rho, i)
			s.VCVTDQ2PS(r, r)
			s.VMULPS(in[3].at(i), r, r)
			s.VADDPS(in[4].at(i), r, r)
			return r
		}})
}

// depthwise: p[ch] = Σ_t (x_t[ch] − zk)·w[t·c + ch] for the c >= 8
// channels, x_t the bytes at ind[t], in 32-bit lanes (|x − zk| and |w|
// are at most 255, their products fit with room). Blocks of a register's
// lanes, then for AVX-512 one of 8, then the last 8 channels again (the
// same sums, stored over the same values).
func depthwise(s isa) {
	s.text("dw", "p[ch] = sum over t of (x_t[ch] - zk) * w[t*c+ch], x_t the uint8 bytes at ind[t] (dwGeneric).")
	taps, c := s.GP64(), s.GP64()
	s.Load(s.Param("taps"), taps)
	s.Load(s.Param("c"), c)
	ind, w, p := s.GP64(), s.GP64(), s.GP64()
	s.Load(s.Param("ind").Base(), ind)
	s.Load(s.Param("w").Base(), w)
	s.Load(s.Param("p").Base(), p)
	zk := s.broadcast32("zk")
	ch := s.GP64()
	s.XORQ(ch, ch)
	block := func(t isa, label string) {
		acc := t.vec()
		t.xor(acc, acc, acc)
		ip, wp, cnt := s.GP64(), s.GP64(), s.GP64()
		s.MOVQ(ind, ip)
		s.LEAQ(operand.Mem{Base: w, Index: ch, Scale: 2}, wp)
		s.MOVQ(taps, cnt)
		s.TESTQ(cnt, cnt)
		s.JEQ(operand.LabelRef(label + "_store"))
		s.Label(label)
		x, wv := s.GP64(), t.vec()
		s.MOVQ(operand.Mem{Base: ip}, x)
		v := t.vec()
		s.VPMOVZXBD(operand.Mem{Base: x, Index: ch, Scale: 1}, v)
		s.VPSUBD(t.v(zk), v, v)
		s.VPMOVSXWD(operand.Mem{Base: wp}, wv)
		s.VPMULLD(wv, v, v)
		s.VPADDD(v, acc, acc)
		s.ADDQ(imm(8), ip)
		s.LEAQ(operand.Mem{Base: wp, Index: c, Scale: 2}, wp)
		s.DECQ(cnt)
		s.JNZ(operand.LabelRef(label))
		s.Label(label + "_store")
		if t.lanes == 16 {
			s.VMOVDQU32(acc, operand.Mem{Base: p, Index: ch, Scale: 4})
		} else {
			s.VMOVDQU(acc, operand.Mem{Base: p, Index: ch, Scale: 4})
		}
	}
	left := s.GP64() // channels from ch on
	s.MOVQ(c, left)
	s.counted(left, s.lanes, "blocks", func() {
		block(s, fmt.Sprintf("taps%d", s.lanes))
		s.ADDQ(imm(s.lanes), ch)
	})
	h := s
	if s.avx512 {
		h = s.half()
		s.CMPQ(left, imm(8))
		s.JB(operand.LabelRef("last"))
		block(h, "taps8")
		s.ADDQ(imm(8), ch)
		s.SUBQ(imm(8), left)
	}
	s.Label("last")
	s.TESTQ(left, left)
	s.JEQ(operand.LabelRef("done"))
	s.LEAQ(operand.Mem{Base: c, Disp: -8}, ch)
	block(h, "tapslast")
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}
