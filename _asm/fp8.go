package main

import (
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// fp8Kernels describes fakequant/fp8_amd64.s: the FP8 kernels, each the
// generic kernel of fp8_generic.go of the same name, for slices of at
// least 8 elements (loop). They compute on float32 bit patterns as the generic code
// explains; the constants of a format come as the rows of an fp8Vec
// (fp8_asm.go), 8 lanes each, whose indices the generator reads from the
// package. The float32 operations are IEEE (MXCSR is round-to-nearest-even
// in Go), so the division, the magic add and subtract and the multiplies
// give the bits of the Go code. One vector per iteration: the iterations
// are independent and the core overlaps them; unrolling did not pay.
func fp8Kernels(c *build.Context) {
	rows := constants("fakequant", "v")
	for _, s := range isas(c) {
		fakeQuantFP8(s, rows)
		encodeFP8(s, rows)
		decodeFP8(s, rows)
	}
}

// fp8Vec gives a kernel the rows of the fp8Vec argument k.
type fp8Vec struct {
	s    isa
	k    gotypes.Component
	rows map[string]int
}

func newFP8Vec(s isa, rows map[string]int) fp8Vec {
	p := s.GP64()
	s.Load(s.Param("k"), p)
	return fp8Vec{s, s.Param("k").Dereference(p), rows}
}

// addr is the address of row name.
func (f fp8Vec) addr(name string) operand.Mem {
	i, ok := f.rows[name]
	if !ok {
		panic("fakequant declares no row " + name)
	}
	b, err := f.k.Index(i).Index(0).Resolve()
	if err != nil {
		panic(name + ": " + err.Error())
	}
	return b.Addr
}

// row returns the constant of row name in every lane: AVX-512 broadcasts it
// into a register; AVX2 loads the row into a register, or with inReg
// false uses it as a memory operand (16 registers do not hold them all).
func (f fp8Vec) row(name string, inReg bool) operand.Op {
	switch {
	case f.s.avx512:
		v := f.s.ZMM()
		f.s.VPBROADCASTD(f.addr(name), v)
		return v
	case inReg:
		v := f.s.YMM()
		f.s.VMOVDQU(f.addr(name), v)
		return v
	}
	return f.addr(name)
}

// shift returns the shift count of the format in an XMM register (a
// 64-bit count: VMOVD loads one lane only).
func (f fp8Vec) shift() reg.VecVirtual {
	x := f.s.XMM()
	f.s.VMOVD(f.addr("vShift"), x)
	return x
}

// fp8Round holds the operands of roundFP8Bits: the constants of a format.
type fp8Round struct {
	shift, one, rbias, hiMask, maxBits, magic, minNormal, inf operand.Op
}

// roundBits sets r to a + rbias + the lowest bit a keeps (a >> shift & 1):
// a rounded half to even above the kept bits, before they are cut.
func roundBits(s isa, a, r reg.Register, shift, one, rbias operand.Op) {
	s.VPSRLD(shift, a, r)
	s.and(s.v(one), r, r)
	s.VPADDD(s.v(rbias), r, r)
	s.VPADDD(a, r, r)
}

// roundFP8Bits sets r to the bits of roundFP8 of the non-negative a (the
// bits of |v|), with t scratch: in the normal range the integer rounding
// with the low bits cut and saturated at max (±Inf included), below the
// smallest normal value a + magic - magic, which rounds to the subnormal
// step exactly, and a NaN as it is.
func roundFP8Bits(s isa, a, r, t reg.Register, c fp8Round) {
	roundBits(s, a, r, c.shift, c.one, c.rbias)
	s.and(s.v(c.hiMask), r, r)
	s.VPMINUD(s.v(c.maxBits), r, r)
	s.VADDPS(s.v(c.magic), a, t)
	s.VSUBPS(s.v(c.magic), t, t)
	s.sel(s.ltu(a, s.v(c.minNormal)), t, r)
	s.sel(s.gtu(a, s.v(c.inf)), a, r)
}

func fakeQuantFP8(s isa, rows map[string]int) {
	s.text("fakeQuantFP8", "dst[i] = roundFP8(src[i] / scale) * scale (fakeQuantFP8Generic).")
	dst, src, n := s.slice("dst", 4), s.slice("src", 4), s.length("src")
	scale := s.broadcast(s.param("scale"))
	k := newFP8Vec(s, rows)
	abs := k.row("vAbsMask", true)
	c := fp8Round{one: k.row("vOne", true), rbias: k.row("vRoundBias", true), hiMask: k.row("vHiMask", true),
		minNormal: k.row("vMinNormal", true), maxBits: k.row("vMaxBits", true), inf: k.row("vInfBits", true),
		magic: k.row("vMagic", true), shift: k.shift()}
	s.loop(elementwise{n: n, in: []stream{src}, out: dst, unroll: 1, store: storeFloats,
		vector: func(s isa, in []stream, i int) reg.Register {
			v, a, r, t := s.vec(), s.vec(), s.vec(), s.vec()
			s.VMOVUPS(in[0].at(i), v)
			s.VDIVPS(s.v(scale), v, v)
			s.and(s.v(abs), v, a) // a = |v|
			s.xor(a, v, v)        // the sign bit of v
			roundFP8Bits(s, a, r, t, c)
			s.or(v, r, r)
			s.VMULPS(s.v(scale), r, r)
			return r
		}})
}

func encodeFP8(s isa, rows map[string]int) {
	s.text("encodeFP8",
		"dst[i] = the code of src[i] / scale, with the overflow code in *big",
		"(encodeFP8Generic).")
	dst, src, n := s.slice("dst", 1), s.slice("src", 4), s.length("src")
	scale := s.broadcast(s.param("scale"))
	bigp := s.GP64()
	s.Load(s.Param("big"), bigp)
	big := operand.Op(operand.Mem{Base: bigp})
	if s.avx512 {
		v := s.ZMM()
		s.VPBROADCASTD(big, v)
		big = v
	}
	k := newFP8Vec(s, rows)
	abs, one, rbias := k.row("vAbsMask", true), k.row("vOne", true), k.row("vRoundBias", true)
	expAdj, minNormal, sat := k.row("vExpAdj", true), k.row("vMinNormal", true), k.row("vSatBits", true)
	inf, magic, shift := k.row("vInfBits", true), k.row("vMagic", true), k.shift()
	sign, nanCode := k.row("vSignByte", false), k.row("vNaNCode", false)
	s.loop(elementwise{n: n, in: []stream{src}, out: dst, unroll: 1,
		vector: func(s isa, in []stream, i int) reg.Register {
			v, a, r, t := s.vec(), s.vec(), s.vec(), s.vec()
			s.VMOVUPS(in[0].at(i), v)
			s.VDIVPS(s.v(scale), v, v)
			s.and(s.v(abs), v, a) // a = |v|
			s.VPSRLD(imm(24), v, v)
			s.and(s.v(sign), v, v) // the sign of the code: 0x80 or 0
			// Normal range: rounded, rebiased, shifted down; subnormal
			// range: the bits of a + magic, less magic's, are the code.
			roundBits(s, a, r, shift, one, rbias)
			s.VPSUBD(s.v(expAdj), r, r)
			s.VPSRLD(shift, r, r)
			s.VADDPS(s.v(magic), a, t)
			s.VPSUBD(s.v(magic), t, t)
			s.sel(s.ltu(a, s.v(minNormal)), t, r)
			s.sel(s.gtu(a, s.v(sat)), big, r) // overflow, Inf (and NaN)
			s.sel(s.gtu(a, s.v(inf)), nanCode, r)
			s.or(v, r, r)
			return r
		},
		store: func(s isa, rs []reg.Register, out stream, i int, _ bool) {
			r := rs[0].(reg.VecVirtual)
			if s.avx512 {
				s.VPMOVDB(r, out.at(i))
				return
			}
			x := s.XMM()
			s.VEXTRACTI128(imm(1), r, x)
			s.VPACKUSDW(x, r.AsX(), r.AsX())
			s.VPACKUSWB(r.AsX(), r.AsX(), r.AsX())
			s.VMOVQ(r.AsX(), out.at(i))
		}})
}

func decodeFP8(s isa, rows map[string]int) {
	s.text("decodeFP8",
		"dst[i] = value(src[i]) * scale (decodeFP8Generic): the code's exponent",
		"and mantissa placed in a float32 (a float32 subnormal for an FP8",
		"subnormal) times 2^(127-bias) is the value, exactly; NaN and Inf codes",
		"are blended in.")
	dst, src, n := s.slice("dst", 4), s.slice("src", 1), s.length("src")
	scale := s.broadcast(s.param("scale"))
	k := newFP8Vec(s, rows)
	low7, decMul, nanAbove := k.row("vNaNCode", true), k.row("vDecMul", true), k.row("vNaNAbove", true)
	infCode, qnan, inf := k.row("vInfCode", true), k.row("vQNaN", true), k.row("vInfBits", true)
	shift := k.shift()
	s.loop(elementwise{n: n, in: []stream{src}, out: dst, unroll: 1, store: storeFloats,
		vector: func(s isa, in []stream, i int) reg.Register {
			c, m, r := s.vec(), s.vec(), s.vec()
			s.VPMOVZXBD(in[0].at(i), c)
			s.and(s.v(low7), c, m) // m = code & 0x7F
			s.xor(m, c, c)
			s.VPSLLD(imm(24), c, c) // the sign bit
			s.VPSLLD(shift, m, r)
			s.VMULPS(s.v(decMul), r, r)
			s.sel(s.gtu(m, s.v(nanAbove)), qnan, r)
			s.sel(s.eq(m, s.v(infCode)), inf, r)
			s.or(c, r, r)
			s.VMULPS(s.v(scale), r, r)
			return r
		}})
}
