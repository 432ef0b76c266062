package main

import (
	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// fakequantKernels describes fakequant/kernels_amd64.s: the INT8 kernels,
// each the generic kernel of kernels_generic.go of the same name, for
// slices of at least 8 elements (loop).
func fakequantKernels(c *build.Context) {
	k := fqConsts{absMask: c.ConstData("absMask", operand.U32(0x7fffffff)), half: c.ConstData("half", operand.U32(0x3f000000))}
	k.tol = c.StaticGlobal("tieTol")
	c.DataAttributes(attr.RODATA | attr.NOPTR)
	for i := range 16 {
		c.AddDatum(4*i, operand.U32(0x35800000)) // 2^-20
	}

	// lowBytes+32*j: the VPSHUFB control that moves the low byte of each
	// dword of a 128-bit lane to bytes 4j..4j+3 of that lane and zeroes the
	// others.
	k.lowBytes = c.StaticGlobal("lowBytes")
	c.DataAttributes(attr.RODATA | attr.NOPTR)
	for j := range 4 {
		for lane := range 2 {
			for q := range 2 {
				ctl := uint64(0x8080808080808080)
				if q == j/2 {
					sh := 32 * (j % 2)
					ctl = ctl&^(0xffffffff<<sh) | 0x0c080400<<sh
				}
				c.AddDatum(32*j+16*lane+8*q, operand.U64(ctl))
			}
		}
	}
	// lanePerm: the dword order that turns [a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7
	// c4-7 d4-7] into a0-7 b0-7 c0-7 d0-7.
	k.lanePerm = c.StaticGlobal("lanePerm")
	c.DataAttributes(attr.RODATA | attr.NOPTR)
	for i, d := range []uint32{0, 4, 1, 5, 2, 6, 3, 7} {
		c.AddDatum(4*i, operand.U32(d))
	}

	for _, s := range isas(c) {
		fakeQuant(s)
		fakeQuantVec(s)
		quantInt8(s, k)
		quantLinear(s, k)
		dequantInt8(s)
		ste(s, k)
	}
}

type fqConsts struct {
	absMask, lowBytes, lanePerm operand.Mem
	half                        operand.Mem // 0.5
	tol                         operand.Mem // 2^-20 in 16 lanes (quantLinear)
}

// round rounds r half to even in place (MXCSR is round-to-nearest in Go;
// the immediate 8 says so explicitly and suppresses the inexact exception).
func (s isa) round(r reg.Register) {
	if s.avx512 {
		s.VRNDSCALEPS(imm(8), r, r)
	} else {
		s.VROUNDPS(imm(8), r, r)
	}
}

// clamp clamps r to [lo, hi] in place as torch does: v < lo ? lo : v, then
// v > hi ? hi : v. Go operand order is Intel's reversed: VMAXPS V, LO, R is
// Intel's vmaxps r, lo, v = (lo > v) ? lo : v, so a NaN v is kept, and so
// is -0 against a bound of 0.
func (s isa) clamp(r, lo, hi reg.Register) {
	s.VMAXPS(r, s.v(lo), r)
	s.VMINPS(r, s.v(hi), r)
}

// fakeQuant: dst[i] = clamp(roundHalfToEven(src[i]*sq), lo, hi) / so.
func fakeQuant(s isa) {
	s.text("fakeQuant", "dst[i] = clamp(roundHalfToEven(src[i]*sq), lo, hi) / so (fakeQuantGeneric).")
	dst, src, n := s.slice("dst", 4), s.slice("src", 4), s.length("src")
	sq, so := s.broadcast(s.param("sq")), s.broadcast(s.param("so"))
	lo, hi := s.broadcast(s.param("lo")), s.broadcast(s.param("hi"))
	s.loop(elementwise{n: n, in: []stream{src}, out: dst, store: storeFloats, nt: true,
		vector: func(s isa, in []stream, i int) reg.Register {
			r := s.vec()
			s.VMULPS(in[0].at(i), s.v(sq), r)
			s.round(r)
			s.clamp(r, lo, hi)
			s.VDIVPS(s.v(so), r, r)
			return r
		}})
}

// fakeQuantVec: dst[i] = clamp(roundHalfToEven(src[i]*sq[i]), lo, hi) / so[i].
func fakeQuantVec(s isa) {
	s.text("fakeQuantVec", "dst[i] = clamp(roundHalfToEven(src[i]*sq[i]), lo, hi) / so[i] (fakeQuantVecGeneric).")
	dst, src, n := s.slice("dst", 4), s.slice("src", 4), s.length("src")
	sq, so := s.slice("sq", 4), s.slice("so", 4)
	lo, hi := s.broadcast(s.param("lo")), s.broadcast(s.param("hi"))
	s.loop(elementwise{n: n, in: []stream{src, sq, so}, out: dst, store: storeFloats, nt: true,
		vector: func(s isa, in []stream, i int) reg.Register {
			r := s.vec()
			s.VMOVUPS(in[0].at(i), r)
			s.VMULPS(in[1].at(i), r, r)
			s.round(r)
			s.clamp(r, lo, hi)
			s.VDIVPS(in[2].at(i), r, r)
			return r
		}})
}

// quantInt8: dst[i] = int8(clamp(roundHalfToEven(src[i]*sq), lo, hi)), NaN
// giving 0, for integer bounds within [-128, 127] (the dispatcher sends the
// others to the generic code). With integer bounds, rounding after the
// clamp gives the same integer as rounding before it (only the sign of a
// zero differs, which an int8 cannot hold), so the clamp runs on the
// product and the conversion rounds half to even: VCVTPS2DQ under Go's
// MXCSR (round to nearest even), with embedded rounding (RN_SAE) on 512-bit
// registers. A NaN converts to 0x80000000, whose low byte is 0: narrowing
// by truncation (VPSHUFB on AVX2, VPMOVDB on AVX-512) turns NaN into 0 for
// free, and cannot change the clamped codes.
func quantInt8(s isa, k fqConsts) {
	s.text("quantInt8", "dst[i] = int8(clamp(roundHalfToEven(src[i]*sq), lo, hi)), NaN giving 0,", "for integer lo, hi (quantInt8Generic); see quantInt8 in the generator.")
	dst, src, n := s.slice("dst", 1), s.slice("src", 4), s.length("src")
	sq := s.broadcast(s.param("sq"))
	lo, hi := s.broadcast(s.param("lo")), s.broadcast(s.param("hi"))
	perm := s.lanePerm(k)
	s.loop(elementwise{n: n, in: []stream{src}, out: dst,
		vector: func(s isa, in []stream, i int) reg.Register {
			r := s.vec()
			s.VMULPS(in[0].at(i), s.v(sq), r)
			s.clamp(r, lo, hi)
			if s.lanes == 16 {
				s.VCVTPS2DQ_RN_SAE(r, r)
			} else {
				s.VCVTPS2DQ(r, r)
			}
			return r
		},
		store: lowBytes(k, perm)})
}

// lanePerm loads k.lanePerm for the AVX2 lowBytes store (nil on AVX-512).
func (s isa) lanePerm(k fqConsts) reg.VecVirtual {
	if s.avx512 {
		return nil
	}
	perm := s.YMM()
	s.VMOVDQU(k.lanePerm, perm)
	return perm
}

// lowBytes returns the store of kernels whose results are int32 codes and
// whose output is their low bytes, narrowed by truncation.
func lowBytes(k fqConsts, perm reg.VecVirtual) func(s isa, rs []reg.Register, out stream, i int, _ bool) {
	return func(s isa, rs []reg.Register, out stream, i int, _ bool) {
		switch {
		case s.avx512:
			for j, r := range rs {
				s.VPMOVDB(r, out.at(i+j*s.lanes))
			}
		case len(rs) == 4:
			// Codes a, b, c, d of 8 elements each: their low bytes to
			// dword j of each 128-bit lane, merged, then the lanes'
			// dwords put in order.
			for j, r := range rs {
				s.VPSHUFB(k.lowBytes.Offset(32*j), r, r)
			}
			s.VPOR(rs[1], rs[0], rs[0])
			s.VPOR(rs[3], rs[2], rs[2])
			s.VPOR(rs[2], rs[0], rs[0])
			s.VPERMD(rs[0], perm, rs[0])
			s.VMOVDQU(rs[0], out.at(i))
		default:
			r := rs[0].(reg.VecVirtual)
			x := s.XMM()
			s.VPSHUFB(k.lowBytes, r, r)
			s.VEXTRACTI128(imm(1), r, x)
			s.VPUNPCKLDQ(x, r.AsX(), r.AsX())
			s.VMOVQ(r.AsX(), out.at(i))
		}
	}
}

// quantLinear: dst[i] = the low byte of clamp(src[i]/scale, lo, hi),
// NaN giving lo, rounded half to even, plus zp (quantLinearGeneric:
// ONNX Runtime's QuantizeLinear into int8 or uint8 codes). The division
// is IEEE's, like Go's; VMAXPS returns its second source (Intel order)
// when either is NaN, so with the bound there a NaN quotient becomes lo;
// the conversion rounds half to even as quantInt8's does; the codes are
// within [-128, 255], so their low bytes are the int8 or uint8 codes.
//
// On AVX-512 the division is the kernel's bottleneck (one per 10 cycles
// on a ZMM), and only its rounding to an integer matters: a vector is
// multiplied by rcp = float32(1/scale) instead, and divided only when a
// lane of that
// product q lies within |q|·2^-20 of a half-integer, or is not finite.
// q is within 1.5 ulp of the quotient Q = float32(src/scale) (rcp and the
// product each round once, by 2^-24 relative), and 2^-22·|q| bounds
// their distance: elsewhere no half-integer, where the rounding changes,
// lies between q and Q or on Q, and q rounds to Q's integer. (The
// threshold 0.5 - |q|·2^-20 is one FMA, rounded by 2^-25: the margin
// still holds for |q| > 0.05, and below, no half-integer is near.) The
// caller passes a NaN rcp when 1/scale is not a normal float32: every
// vector is divided. (AVX2 divides: its YMM division, one per 5 cycles,
// costs less than the test, measured 940 against 1070 ns per 4096.)
func quantLinear(s isa, k fqConsts) {
	s.text("quantLinear", "dst[i] = byte(roundHalfToEven(clamp(src[i]/scale, lo, hi)) + zp), NaN giving lo", "(quantLinearGeneric).")
	dst, src, n := s.slice("dst", 1), s.slice("src", 4), s.length("src")
	scale := s.broadcast(s.param("scale"))
	var rcp, abs, half reg.VecVirtual
	if s.avx512 {
		rcp, abs, half = s.broadcast(s.param("rcp")), s.broadcast(k.absMask), s.broadcast(k.half)
	}
	lo, hi := s.broadcast(s.param("lo")), s.broadcast(s.param("hi"))
	zp := s.broadcast(s.param("zp"))
	perm := s.lanePerm(k)
	s.loop(elementwise{n: n, in: []stream{src}, out: dst, store: lowBytes(k, perm),
		vector: func(s isa, in []stream, i int) reg.Register {
			r, q := s.vec(), s.vec()
			s.VMOVUPS(in[0].at(i), r)
			if !s.avx512 {
				s.VDIVPS(s.v(scale), r, q)
				return s.codes(q, lo, hi, zp)
			}
			s.VMULPS(s.v(rcp), r, q)
			// t = |q - round(q)|, a = 0.5 - |q|·2^-20.
			t, a := s.vec(), s.vec()
			s.VMOVAPS(q, t)
			s.round(t)
			s.VSUBPS(t, q, t)
			s.VANDPS(s.v(abs), t, t)
			s.VANDPS(s.v(abs), q, a)
			s.VFNMADD132PS(k.tol, s.v(half), a) // a = -(a·2^-20) + 0.5
			done := newLabel("quantlinear_q")
			m := s.K()
			s.VCMPPS(imm(cmpNLTUQ), a, t, m) // !(t < a): near a tie, or NaN
			s.KORTESTW(m, m)
			s.JZ(operand.LabelRef(done))
			s.VDIVPS(s.v(scale), r, q)
			s.Label(done)
			return s.codes(q, lo, hi, zp)
		}})
}

// codes clamps the quotients q to [lo, hi] (a NaN giving lo), rounds them
// half to even and adds zp, in place (quantLinear).
func (s isa) codes(q, lo, hi, zp reg.Register) reg.Register {
	s.VMAXPS(s.v(lo), q, q)
	s.VMINPS(q, s.v(hi), q)
	if s.lanes == 16 {
		s.VCVTPS2DQ_RN_SAE(q, q)
	} else {
		s.VCVTPS2DQ(q, q)
	}
	s.VPADDD(s.v(zp), q, q)
	return q
}

// cmpNLTUQ is VCMPPS's predicate "not less than, unordered": true where
// either operand is NaN.
const cmpNLTUQ = 5

// dequantInt8: dst[i] = float32(src[i]) / so.
func dequantInt8(s isa) {
	s.text("dequantInt8", "dst[i] = float32(src[i]) / so (dequantInt8Generic).")
	dst, src, n := s.slice("dst", 4), s.slice("src", 1), s.length("src")
	so := s.broadcast(s.param("so"))
	s.loop(elementwise{n: n, in: []stream{src}, out: dst, store: storeFloats, nt: true,
		vector: func(s isa, in []stream, i int) reg.Register {
			r := s.vec()
			s.VPMOVSXBD(in[0].at(i), r)
			s.VCVTDQ2PS(r, r)
			s.VDIVPS(s.v(so), r, r)
			return r
		}})
}

// ste: dst[i] = dy[i] where |x[i]| <= amax, else +0. The ordered compare is
// false for a NaN x or amax, which gives 0 as in Go.
func ste(s isa, k fqConsts) {
	s.text("ste", "dst[i] = dy[i] where |x[i]| <= amax, else +0 (steGeneric).")
	dst, x, n := s.slice("dst", 4), s.slice("x", 4), s.length("x")
	dy := s.slice("dy", 4)
	amax, abs := s.broadcast(s.param("amax")), s.broadcast(k.absMask)
	s.loop(elementwise{n: n, in: []stream{x, dy}, out: dst, store: storeFloats, nt: true,
		vector: func(s isa, in []stream, i int) reg.Register {
			r := s.vec()
			if !s.avx512 {
				s.VANDPS(in[0].at(i), abs, r)
				s.VCMPPS(imm(2), amax, r, r) // |x| <= amax: all ones or zeros
				s.VANDPS(in[1].at(i), r, r)
				return r
			}
			// dy is loaded unmasked and then masked, so that its load does
			// not wait for the compare: out of cache a masked load there
			// halved the speed.
			m := s.K()
			s.VPANDD(in[0].at(i), s.v(abs), r)
			s.VCMPPS(imm(2), s.v(amax), r, m)
			s.VMOVUPS(in[1].at(i), r)
			s.VMOVAPS_Z(r, m, r)
			return r
		}})
}
