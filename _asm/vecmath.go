package main

import (
	"fmt"
	"go/constant"
	"go/types"
	"log"
	"math"
	"strconv"
	"strings"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// vecmathKernels describes internal/vecmath/vecmath_amd64.s: the generic
// kernels of generic.go there, operation for operation (VFMADD where Go
// calls FMA32, a multiply then an add where it rounds the product), with
// the constants the Go code declares. The element-wise kernels follow loop's convention (slices
// of at least 8 elements, covered whole); the reductions take a multiple of
// 16 elements and keep element i in lane i%16 of their accumulator (one
// ZMM register, or two YMM registers for AVX2).
func vecmathKernels(c *build.Context) {
	vals, strs := floatConstants("internal/vecmath")
	k := vmConsts{c: c, vals: vals, strs: strs, mems: map[string]operand.Mem{}}
	for _, s := range isas(c) {
		for _, u := range []struct {
			name string
			f    func(k *vmConsts, s isa, x reg.Register) reg.Register
		}{
			{"exp", (*vmConsts).exp},
			{"erf", (*vmConsts).erf},
			{"tanh", (*vmConsts).tanh},
			{"sigmoid", (*vmConsts).sigmoid},
			{"silu", (*vmConsts).silu},
			{"gelu", (*vmConsts).gelu},
			{"geluTanh", (*vmConsts).geluTanh},
			{"geluFast", (*vmConsts).geluFast},
		} {
			k.unary(s, u.name, u.f)
		}
		for _, b := range []struct {
			name string
			op   func(s isa, b operand.Op, a, dst reg.Register)
		}{
			{"add", func(s isa, b operand.Op, a, dst reg.Register) { s.VADDPS(b, a, dst) }},
			{"sub", func(s isa, b operand.Op, a, dst reg.Register) { s.VSUBPS(b, a, dst) }},
			{"mul", func(s isa, b operand.Op, a, dst reg.Register) { s.VMULPS(b, a, dst) }},
			{"div", func(s isa, b operand.Op, a, dst reg.Register) { s.VDIVPS(b, a, dst) }},
		} {
			binaryKernel(s, b.name, b.op)
			scalarKernel(s, b.name+"Scalar", b.op, false)
			if b.name == "sub" || b.name == "div" {
				scalarKernel(s, "scalar"+string(b.name[0]-32)+b.name[1:], b.op, true)
			}
		}
		k.reductions(s)
		if s.avx512 {
			k.softmaxRow(s)
			k.normRow(s)
		}
	}
}

// floatConstants returns the float constants of package pkg (below
// module) as float32 bits, and its string constants, so that the assembly
// uses the values the Go code declares.
func floatConstants(pkg string) (map[string]uint32, map[string]string) {
	out, strs := map[string]uint32{}, map[string]string{}
	scope := scopeOf(pkg)
	for _, name := range scope.Names() {
		c, ok := scope.Lookup(name).(*types.Const)
		if !ok {
			continue
		}
		switch c.Val().Kind() {
		case constant.Float, constant.Int:
			v, _ := constant.Float32Val(c.Val())
			out[name] = math.Float32bits(v)
		case constant.String:
			strs[name] = constant.StringVal(c.Val())
		}
	}
	return out, strs
}

// vmConsts hands out the kernels' constants: 64-byte blocks of one
// float32 value (or bit pattern), usable as the memory operand of a YMM
// or ZMM instruction.
type vmConsts struct {
	c    *build.Context
	vals map[string]uint32
	strs map[string]string
	mems map[string]operand.Mem
}

// bits returns the block of the 32-bit pattern v, named name.
func (k *vmConsts) bits(name string, v uint32) operand.Mem {
	if m, ok := k.mems[name]; ok {
		return m
	}
	m := k.c.StaticGlobal("vm_" + name)
	k.c.DataAttributes(attr.RODATA | attr.NOPTR)
	for i := range 16 {
		k.c.AddDatum(4*i, operand.U32(v))
	}
	k.mems[name] = m
	return m
}

// f returns the block of the Go constant name (a float32).
func (k *vmConsts) f(name string) operand.Mem {
	v, ok := k.vals[name]
	if !ok {
		log.Fatalf("vecmath has no constant %s", name)
	}
	return k.bits(name, v)
}

// num returns the block of the float32 value v.
func (k *vmConsts) num(v float32) operand.Mem {
	b := math.Float32bits(v)
	return k.bits("f"+hex(b), b)
}

func hex(b uint32) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 8)
	for i := range out {
		out[7-i] = digits[b>>(4*i)&15]
	}
	return string(out)
}

// load returns a new register holding the block m.
func (k *vmConsts) load(s isa, m operand.Mem) reg.Register {
	r := s.vec()
	s.VMOVUPS(m, r)
	return r
}

// cmp returns the mask of the lanes where a pred b (a register, b a
// register or block): an opmask for AVX-512, all-ones lanes for AVX2.
// The predicates are ordered: false where either is NaN, as Go's
// comparisons are.
func (k *vmConsts) cmp(s isa, pred int, a reg.Register, b operand.Op) reg.Register {
	m := s.mask()
	s.VCMPPS(operand.U8(pred), b, a, m)
	return m
}

// Ordered comparison predicates of VCMPPS.
const (
	cmpLT = 0x11 // LT_OQ
	cmpLE = 0x12 // LE_OQ
	cmpGE = 0x1d // GE_OQ
)

// blend returns m ? t : f in a new register.
func (k *vmConsts) blend(s isa, m, t, f reg.Register) reg.Register {
	d := s.vec()
	if s.avx512 {
		s.VMOVAPS(f, d)
		s.VMOVAPS(t, m, d)
	} else {
		s.VBLENDVPS(m, t, f, d)
	}
	return d
}

// poly evaluates Horner's c[len-1]·x + c[len-2] ... + c[0] with one fused
// multiply-add per step (FMA32 in the Go code).
func (k *vmConsts) poly(s isa, x reg.Register, cs ...string) reg.Register {
	p := k.load(s, k.f(cs[len(cs)-1]))
	for i := len(cs) - 2; i >= 0; i-- {
		s.VFMADD213PS(k.f(cs[i]), x, p) // p = x·p + c
	}
	return p
}

// absOf returns |x| (sign bit cleared).
func (k *vmConsts) absOf(s isa, x reg.Register) reg.Register {
	a := s.vec()
	s.VANDPS(k.bits("absMask", 0x7fffffff), x, a)
	return a
}

// signOf returns the sign bit of x.
func (k *vmConsts) signOf(s isa, x reg.Register) reg.Register {
	g := s.vec()
	s.VANDPS(k.bits("signMask", 0x80000000), x, g)
	return g
}

// exp is expf: e^x.
func (k *vmConsts) exp(s isa, x reg.Register) reg.Register {
	// Intel's vmaxps x, lo, x is (lo > x) ? lo : x: a NaN x is kept.
	v := s.vec()
	s.VMAXPS(x, k.load(s, k.f("expLo")), v)
	s.VMINPS(v, k.load(s, k.f("expHi")), v)
	n := s.vec()
	s.VMULPS(k.f("log2e"), v, n)
	s.round(n)
	t := s.vec()
	r := s.vec()
	s.VMULPS(k.f("ln2Hi"), n, t)
	s.VSUBPS(t, v, r)
	s.VFNMADD231PS(k.f("ln2Lo"), n, r) // r = r - n·ln2Lo, fused
	p := k.poly(s, r, "expP5", "expP4", "expP3", "expP2", "expP1", "expP0")
	s.VMULPS(r, r, t)
	s.VFMADD213PS(r, t, p) // p = r²·p + r
	s.VADDPS(k.num(1), p, p)
	// n is an integer in [-150, 128]: 2^(n>>1) and 2^(n-n>>1) as floats.
	k1, k2 := s.vec(), s.vec()
	s.VCVTPS2DQ(n, k2)
	s.VPSRAD(operand.U8(1), k2, k1)
	s.VPSUBD(k1, k2, k2)
	bias := k.bits("i127", 127)
	s.VPADDD(bias, k1, k1)
	s.VPADDD(bias, k2, k2)
	s.VPSLLD(operand.U8(23), k1, k1)
	s.VPSLLD(operand.U8(23), k2, k2)
	s.VMULPS(k1, p, p)
	s.VMULPS(k2, p, p)
	return p
}

// erfcBig is erfcBig: e^-R(min(a, erfMax)) for a >= erfSplit.
func (k *vmConsts) erfcBig(s isa, a reg.Register) reg.Register {
	ac := s.vec()
	s.VMINPS(a, k.load(s, k.f("erfMax")), ac)
	p := k.poly(s, ac, "erfR0", "erfR1", "erfR2", "erfR3", "erfR4", "erfR5", "erfR6", "erfR7", "erfR8")
	s.VXORPS(k.bits("signMask", 0x80000000), p, p)
	return k.exp(s, p)
}

// erf is erff.
func (k *vmConsts) erf(s isa, x reg.Register) reg.Register {
	a := k.absOf(s, x)
	u := s.vec()
	s.VMULPS(x, x, u)
	small := k.poly(s, u, "erfS0", "erfS1", "erfS2", "erfS3", "erfS4", "erfS5")
	s.VFMADD213PS(x, x, small) // small = x·S + x
	e := k.erfcBig(s, a)
	big := k.load(s, k.num(1))
	s.VSUBPS(e, big, big)
	s.VORPS(k.signOf(s, x), big, big)
	return k.blend(s, k.cmp(s, cmpLT, a, k.f("erfSplit")), small, big)
}

// tanh is tanhf.
func (k *vmConsts) tanh(s isa, x reg.Register) reg.Register {
	a := k.absOf(s, x)
	u := s.vec()
	s.VMULPS(a, a, u)
	p := k.poly(s, u, "tanhQ0", "tanhQ1", "tanhQ2", "tanhQ3", "tanhQ4")
	s.VMULPS(u, p, p)
	s.VFMADD213PS(a, a, p) // p = a·(u·p) + a
	a2 := s.vec()
	s.VADDPS(a, a, a2)
	e := k.exp(s, a2)
	s.VADDPS(k.num(1), e, e)
	q := k.load(s, k.num(2))
	s.VDIVPS(e, q, q)
	big := k.load(s, k.num(1))
	s.VSUBPS(q, big, big)
	y := k.blend(s, k.cmp(s, cmpLT, a, k.f("tanhSplit")), p, big)
	s.VORPS(k.signOf(s, x), y, y)
	return y
}

// sigmoid is sigmoidf.
func (k *vmConsts) sigmoid(s isa, x reg.Register) reg.Register {
	na := s.vec()
	s.VORPS(k.bits("signMask", 0x80000000), x, na)
	e := k.exp(s, na)
	num := k.blend(s, k.cmp(s, cmpGE, x, k.num(0)), k.load(s, k.num(1)), e)
	s.VADDPS(k.num(1), e, e)
	s.VDIVPS(e, num, num)
	return num
}

// silu is siluf.
func (k *vmConsts) silu(s isa, x reg.Register) reg.Register {
	y := k.sigmoid(s, x)
	s.VMULPS(y, x, y)
	return y
}

// gelu is geluf. On AVX2 a vector whose lanes are all below erfSplit
// (most of a layer's activations, which cluster near 0) skips erfcBig
// and its exponential, whose lanes the blend would not take: one branch
// per vector on the lanes' comparison. (AVX-512's vectors run as
// interleaved chains, which have no branches.)
func (k *vmConsts) gelu(s isa, x reg.Register) reg.Register {
	t := s.vec()
	s.VMULPS(k.f("invSqrt2"), x, t)
	a := k.absOf(s, t)
	u := s.vec()
	s.VMULPS(t, t, u)
	p := k.poly(s, u, "erfS0", "erfS1", "erfS2", "erfS3", "erfS4", "erfS5")
	small := s.vec()
	s.VADDPS(k.num(1), t, small)
	s.VFMADD231PS(t, p, small) // small = S·t + (1 + t)
	h := s.vec()
	s.VMULPS(k.num(0.5), x, h)
	isSmall := k.cmp(s, cmpLT, a, k.f("erfSplit"))
	var big, done string
	if !s.avx512 {
		big, done = newLabel("gelu_big"), newLabel("gelu_done")
		lanes := s.GP32()
		s.VMOVMSKPS(isSmall, lanes)
		s.CMPL(lanes, operand.U32(0xff))
		s.JNE(operand.LabelRef(big))
		s.VMULPS(small, h, h)
		s.JMP(operand.LabelRef(done))
		s.Label(big)
	}
	e := k.erfcBig(s, a)
	pos := k.load(s, k.num(2))
	s.VSUBPS(e, pos, pos)
	s.keep(k.cmp(s, cmpLE, a, k.f("erfMax")), e)
	bigQ := k.blend(s, k.cmp(s, cmpGE, t, k.num(0)), pos, e)
	q := k.blend(s, isSmall, small, bigQ)
	s.VMULPS(q, h, h)
	if !s.avx512 {
		s.Label(done)
	}
	return h
}

// geluTanh is geluTanhf.
func (k *vmConsts) geluTanh(s isa, x reg.Register) reg.Register {
	w := s.vec()
	s.VMULPS(x, x, w)
	s.VFMADD132PS(k.f("geluTanhC2"), k.load(s, k.f("geluTanhC1")), w) // w = x²·C2 + C1
	s.VMULPS(w, x, w)
	y := k.sigmoid(s, w)
	s.VMULPS(y, x, y)
	return y
}

// geluFast is geluFastf: max(x, 0) - p(r), p interval k's polynomial, k
// = trunc(a) and r = a - k for a = min(|x|, geluFastMax). VPERMPS picks
// each power's coefficients by k from its table (a NaN's index,
// 0x80000000, picks interval 0, and the NaN travels through r).
func (k *vmConsts) geluFast(s isa, x reg.Register) reg.Register {
	a := k.absOf(s, x)
	s.VMINPS(a, k.load(s, k.f("geluFastMax")), a) // (max < a) ? max : a: a NaN a is kept
	i, r := s.vec(), s.vec()
	s.VCVTTPS2DQ(a, i)
	s.VCVTDQ2PS(i, r)
	s.VSUBPS(r, a, r) // r = a - k, exact
	p := s.vec()
	s.VPERMPS(k.geluFastPower(7), i, p)
	for j := 6; j >= 0; j-- {
		c := s.vec()
		s.VPERMPS(k.geluFastPower(j), i, c)
		s.VFMADD213PS(c, r, p) // p = r·p + c
	}
	y := s.vec()
	s.VMAXPS(k.num(0), x, y) // (x > 0) ? x : +0
	s.VSUBPS(p, y, y)
	return y
}

// geluFastPower returns the table of the coefficients of r^j of GeluFast's
// intervals (geluFastCoeffs: line k holds interval k's, of r^0 to r^7),
// 8 values and 8 zeros, the 64 bytes a ZMM operand reads.
func (k *vmConsts) geluFastPower(j int) operand.Mem {
	name := fmt.Sprintf("geluFast%d", j)
	if m, ok := k.mems[name]; ok {
		return m
	}
	f := strings.Fields(k.strs["geluFastCoeffs"])
	if len(f) != 64 {
		log.Fatalf("vecmath's geluFastCoeffs holds %d numbers, want 64", len(f))
	}
	m := k.c.StaticGlobal("vm_" + name)
	k.c.DataAttributes(attr.RODATA | attr.NOPTR)
	for i := range 16 {
		var bits uint32
		if i < 8 {
			v, err := strconv.ParseFloat(f[8*i+j], 32)
			if err != nil {
				log.Fatalf("vecmath's geluFastCoeffs: %v", err)
			}
			bits = math.Float32bits(float32(v))
		}
		k.c.AddDatum(4*i, operand.U32(bits))
	}
	k.mems[name] = m
	return m
}

// unary emits name+s.name(dst, x []float32): dst[i] = f(x[i]).
func (k *vmConsts) unary(s isa, name string, f func(k *vmConsts, s isa, x reg.Register) reg.Register) {
	s.text(name, "dst[i] = "+name+"f(x[i]) ("+name+"Generic).")
	dst, x, n := s.slice("dst", 4), s.slice("x", 4), s.length("x")
	// The functions are long chains of dependent operations: the
	// vectors in flight hide their latency (AVX2 has registers for 2).
	// AVX-512's are emitted interleaved in pairs, the instructions of two
	// chains in turn, which the scheduler overlaps where it could not
	// look far enough ahead to overlap whole chains (Gelu: 6.3 -> 4.4 us
	// per 4096); four at once need more registers than there are.
	unroll, group := 2, 1
	if s.avx512 {
		unroll, group = 4, 2
	}
	s.loop(elementwise{n: n, in: []stream{x}, out: dst, store: storeFloats, unroll: unroll, interleave: group,
		vector: func(s isa, in []stream, i int) reg.Register {
			v := s.vec()
			s.VMOVUPS(in[0].at(i), v)
			return f(k, s, v)
		}})
}

// binaryKernel emits name+s.name(dst, a, b []float32): dst[i] = a[i] op b[i].
func binaryKernel(s isa, name string, op func(s isa, b operand.Op, a, dst reg.Register)) {
	s.text(name, "dst[i] = a[i] op b[i] ("+name+"Generic).")
	dst, a, b, n := s.slice("dst", 4), s.slice("a", 4), s.slice("b", 4), s.length("a")
	s.loop(elementwise{n: n, in: []stream{a, b}, out: dst, store: storeFloats,
		vector: func(s isa, in []stream, i int) reg.Register {
			v := s.vec()
			s.VMOVUPS(in[0].at(i), v)
			op(s, in[1].at(i), v, v)
			return v
		}})
}

// scalarKernel emits name+s.name(dst, a []float32, s float32): dst[i] =
// a[i] op s, or s op a[i] when swapped.
func scalarKernel(s isa, name string, op func(s isa, b operand.Op, a, dst reg.Register), swapped bool) {
	s.text(name, "dst[i] = a[i] op s, or s op a[i] ("+name+"Generic).")
	dst, a, n := s.slice("dst", 4), s.slice("a", 4), s.length("a")
	c := s.broadcast(s.param("s"))
	s.loop(elementwise{n: n, in: []stream{a}, out: dst, store: storeFloats,
		vector: func(s isa, in []stream, i int) reg.Register {
			v := s.vec()
			if swapped {
				op(s, in[0].at(i), s.v(c).(reg.Register), v)
			} else {
				s.VMOVUPS(in[0].at(i), v)
				op(s, s.v(c), v, v)
			}
			return v
		}})
}

// reductions emits the lane reductions: max, sum, sqDev, expSum, and the
// normalisation norm (element-wise, after them in LayerNorm).
func (k *vmConsts) reductions(s isa) {
	type acc struct {
		p   reg.Register
		r   []reg.Register // 16 lanes: one ZMM or two YMM
		per int            // lanes per register
	}
	begin := func() acc {
		a := acc{p: s.GP64(), per: s.lanes}
		s.Load(s.Param("acc"), a.p)
		for i := 0; i < 16; i += s.lanes {
			r := s.vec()
			s.VMOVUPS(operand.Mem{Base: a.p, Disp: 4 * i}, r)
			a.r = append(a.r, r)
		}
		return a
	}
	end := func(a acc) {
		for j, r := range a.r {
			s.VMOVUPS(r, operand.Mem{Base: a.p, Disp: 4 * j * a.per})
		}
		s.VZEROUPPER()
		s.RET()
	}
	// each runs body on the 16 elements of every block, register by
	// register (j: the register, i: its first element).
	each := func(n reg.Register, streams []stream, label string, body func(j, i int)) {
		s.SHRQ(operand.U8(4), n)
		s.JZ(operand.LabelRef(label + "_end"))
		s.Label(label)
		for i := 0; i < 16; i += s.lanes {
			body(i/s.lanes, i)
		}
		for _, st := range streams {
			s.ADDQ(operand.U32(64), st.p)
		}
		s.DECQ(n)
		s.JNZ(operand.LabelRef(label))
		s.Label(label + "_end")
	}

	s.text("max", "acc[i%16] = x[i] where x[i] > acc[i%16] (maxGeneric), for a multiple of 16 elements.")
	a, x, n := begin(), s.slice("x", 4), s.length("x")
	each(n, []stream{x}, "max", func(j, i int) {
		v := s.vec()
		s.VMOVUPS(x.at(i), v)
		// Intel's vmaxps acc, v, acc is (v > acc) ? v : acc.
		s.VMAXPS(a.r[j], v, a.r[j])
	})
	end(a)

	s.text("sum", "acc[i%16] += x[i] (sumGeneric), for a multiple of 16 elements.")
	a, x, n = begin(), s.slice("x", 4), s.length("x")
	each(n, []stream{x}, "sum", func(j, i int) {
		s.VADDPS(x.at(i), a.r[j], a.r[j])
	})
	end(a)

	s.text("sqDev", "acc[i%16] += (x[i] - m)² (sqDevGeneric), for a multiple of 16 elements.")
	a, x, n = begin(), s.slice("x", 4), s.length("x")
	m := s.broadcast(s.param("m"))
	each(n, []stream{x}, "sqdev", func(j, i int) {
		d := s.vec()
		s.VMOVUPS(x.at(i), d)
		s.VSUBPS(m, d, d)
		s.VMULPS(d, d, d)
		s.VADDPS(d, a.r[j], a.r[j])
	})
	end(a)

	s.text("expSum", "dst[i] = expf(scale·x[i] - shift); acc[i%16] += dst[i] (expSumGeneric), for a multiple of 16 elements.")
	a, dst, x, n := begin(), s.slice("dst", 4), s.slice("x", 4), s.length("x")
	scale, shift := s.broadcast(s.param("scale")), s.broadcast(s.param("shift"))
	each(n, []stream{dst, x}, "expsum", func(j, i int) {
		t := s.vec()
		s.VMULPS(x.at(i), scale, t)
		s.VSUBPS(shift, t, t)
		e := k.exp(s, t)
		s.VMOVUPS(e, dst.at(i))
		s.VADDPS(e, a.r[j], a.r[j])
	})
	end(a)

	s.text("norm", "dst[i] = ((x[i] - m)·s)·w[i] + b[i] (normGeneric).")
	dst, x, n = s.slice("dst", 4), s.slice("x", 4), s.length("x")
	w, b := s.slice("w", 4), s.slice("b", 4)
	mean, inv := s.broadcast(s.param("m")), s.broadcast(s.param("s"))
	s.loop(elementwise{n: n, in: []stream{x, w, b}, out: dst, store: storeFloats,
		vector: func(s isa, in []stream, i int) reg.Register {
			y := s.vec()
			s.VMOVUPS(in[0].at(i), y)
			s.VSUBPS(s.v(mean), y, y)
			s.VMULPS(s.v(inv), y, y)
			s.VMULPS(in[1].at(i), y, y)
			s.VADDPS(in[2].at(i), y, y)
			return y
		}})
}

// fold16 combines lane j of the ZMM register v with lane j+w for w = 8,
// 4, 2, 1 (fold16's order in the Go code) by op (ops for the last, on
// single lanes) and returns lane 0 in an XMM register.
func fold16(s isa, v reg.VecVirtual, op func(b, a, d reg.Register), ops func(b, a, d reg.Register)) reg.VecVirtual {
	h, y := s.YMM(), s.YMM()
	s.VEXTRACTF64X4(operand.U8(1), v, h)
	op(h, v.AsY(), y)
	q, x4 := s.XMM(), s.XMM()
	s.VEXTRACTF128(operand.U8(1), y, q)
	op(q, y.AsX(), x4)
	t := s.XMM()
	s.VMOVHLPS(x4, x4, t)
	op(t, x4, x4)
	s.VMOVSHDUP(x4, t)
	ops(t, x4, x4)
	return x4
}

// foldSum is fold16 with additions.
func foldSum(s isa, v reg.VecVirtual) reg.VecVirtual {
	return fold16(s, v, func(b, a, d reg.Register) { s.VADDPS(b, a, d) }, func(b, a, d reg.Register) { s.VADDSS(b, a, d) })
}

// rowBlocks runs body once per block of 16 elements of a row of n
// blocks, with copies of the pointers ptrs advanced by a block each time.
func rowBlocks(s isa, n reg.Register, label string, ptrs []reg.Register, body func(ps []reg.Register)) {
	ps := make([]reg.Register, len(ptrs))
	for i, p := range ptrs {
		ps[i] = s.GP64()
		s.MOVQ(p, ps[i])
	}
	c := s.GP64()
	s.MOVQ(n, c)
	s.Label(label)
	body(ps)
	for _, p := range ps {
		s.ADDQ(operand.U32(64), p)
	}
	s.DECQ(c)
	s.JNZ(operand.LabelRef(label))
}

// normRow emits normRowAVX512(dst, x, w, b []float32, eps float32) (mean,
// invStd float32): LayerNorm of a row of a positive multiple of 16
// elements, with a bias, in one call: the operations of sum, fold16,
// sqDev, fold16 and norm in LayerNorm's order (an encoder's rows are 256
// to 1024 elements: the five calls and Go's folds cost as much as the
// passes).
func (k *vmConsts) normRow(s isa) {
	s.text("normRow", "LayerNorm(dst, x, w, b, eps) for len(x) a positive multiple of 16, b not nil (LayerNorm's generic code).")
	dst, x, n := s.slice("dst", 4), s.slice("x", 4), s.length("x")
	w, b := s.slice("w", 4), s.slice("b", 4)
	nf := s.XMM()
	s.VXORPS(nf, nf, nf)
	s.VCVTSI2SSQ(n, nf, nf) // float32(len(x))
	s.SHRQ(operand.U8(4), n)
	// mean = Sum(x)/n: lanes from +0, folded.
	sum := s.vec()
	s.VXORPS(sum, sum, sum)
	rowBlocks(s, n, "sum", []reg.Register{x.p}, func(ps []reg.Register) {
		s.VADDPS(operand.Mem{Base: ps[0]}, sum, sum)
	})
	mean := foldSum(s, sum)
	s.VDIVSS(nf, mean, mean)
	m := s.vec()
	s.VBROADCASTSS(mean, m)
	// invStd = 1/float32(sqrt(float64(Σ(x-mean)²/n + eps))).
	acc := s.vec()
	s.VXORPS(acc, acc, acc)
	rowBlocks(s, n, "sqdev", []reg.Register{x.p}, func(ps []reg.Register) {
		d := s.vec()
		s.VMOVUPS(operand.Mem{Base: ps[0]}, d)
		s.VSUBPS(m, d, d)
		s.VMULPS(d, d, d)
		s.VADDPS(d, acc, acc)
	})
	v := foldSum(s, acc)
	s.VDIVSS(nf, v, v)
	s.VADDSS(s.param("eps"), v, v)
	s.VCVTSS2SD(v, v, v)
	s.VSQRTSD(v, v, v)
	s.VCVTSD2SS(v, v, v)
	inv := s.XMM()
	s.VMOVSS(k.num(1), inv)
	s.VDIVSS(v, inv, inv)
	iv := s.vec()
	s.VBROADCASTSS(inv, iv)
	// dst = ((x - mean)·invStd)·w + b (norm).
	rowBlocks(s, n, "norm", []reg.Register{x.p, w.p, b.p, dst.p}, func(ps []reg.Register) {
		y := s.vec()
		s.VMOVUPS(operand.Mem{Base: ps[0]}, y)
		s.VSUBPS(m, y, y)
		s.VMULPS(iv, y, y)
		s.VMULPS(operand.Mem{Base: ps[1]}, y, y)
		s.VADDPS(operand.Mem{Base: ps[2]}, y, y)
		s.VMOVUPS(y, operand.Mem{Base: ps[3]})
	})
	s.VMOVSS(mean, s.retIndex(0))
	s.VMOVSS(inv, s.retIndex(1))
	s.VZEROUPPER()
	s.RET()
}

// softmaxRow emits softmaxRowAVX512(dst, x []float32, scale float32):
// Softmax of a row of a positive multiple of 16 elements in one call,
// the operations of max, maxFold16, expSum, fold16 and mulScalar in their
// order (a softmax row of attention is 128 elements: the calls and Go's
// folds around the kernels cost as much as the exponentials).
func (k *vmConsts) softmaxRow(s isa) {
	s.text("softmaxRow", "Softmax(dst, x, scale) for len(x) a positive multiple of 16 (softmaxGeneric).")
	dst, x, n := s.slice("dst", 4), s.slice("x", 4), s.length("x")
	scale := s.broadcast(s.param("scale"))
	s.SHRQ(operand.U8(4), n)
	blocks := func(label string, body func(xp, dp reg.Register)) {
		rowBlocks(s, n, label, []reg.Register{x.p, dst.p}, func(ps []reg.Register) { body(ps[0], ps[1]) })
	}
	// The maximum: lanes from -Inf, vmaxps keeping the lane unless the
	// element is greater (maxGeneric), folded (a max of ±0 may keep
	// either zero, where Go's max keeps +0: the shift is then ±0, which
	// changes no scale·x - shift).
	m := s.vec()
	s.VMOVUPS(k.bits("negInf", 0xff800000), m)
	blocks("max", func(xp, _ reg.Register) {
		v := s.vec()
		s.VMOVUPS(operand.Mem{Base: xp}, v)
		s.VMAXPS(m, v, m)
	})
	mx := fold16(s, m, func(b, a, d reg.Register) { s.VMAXPS(b, a, d) }, func(b, a, d reg.Register) { s.VMAXSS(b, a, d) })
	s.VMULSS(scale.AsX(), mx, mx) // shift = scale·max
	shift := s.vec()
	s.VBROADCASTSS(mx, shift)
	// The exponentials, stored and summed per lane (expSum).
	sum := s.vec()
	s.VXORPS(sum, sum, sum)
	blocks("exp", func(xp, dp reg.Register) {
		t := s.vec()
		s.VMULPS(operand.Mem{Base: xp}, scale, t)
		s.VSUBPS(shift, t, t)
		e := k.exp(s, t)
		s.VMOVUPS(e, operand.Mem{Base: dp})
		s.VADDPS(e, sum, sum)
	})
	total := foldSum(s, sum)
	// dst times 1/sum (mulScalar).
	r := s.XMM()
	s.VMOVSS(k.num(1), r)
	s.VDIVSS(total, r, r)
	inv := s.vec()
	s.VBROADCASTSS(r, inv)
	blocks("scale", func(_, dp reg.Register) {
		s.VMULPS(operand.Mem{Base: dp}, inv, sum)
		s.VMOVUPS(sum, operand.Mem{Base: dp})
	})
	s.VZEROUPPER()
	s.RET()
}
