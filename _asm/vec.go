package main

import (
	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

func init() { addOutput("internal/vec/vec_amd64.s", "internal/vec", vecKernels) }

// addOutput adds a generated file to main.go's outputs: the kernels of
// the graph executor (vec.go, window.go) register theirs so.
func addOutput(path, pkg string, gen func(c *build.Context)) {
	outputs = append(outputs, struct {
		path, pkg string
		gen       func(c *build.Context)
	}{path, pkg, gen})
}

// vecKernels describes internal/vec/vec_amd64.s: finish and finishAdd,
// finishGeneric for slices of at least 8 elements (loop) and bounds that
// are not NaN; and finishRows and finishRowsAdd, the same on the rows of
// a matrix.
func vecKernels(c *build.Context) {
	// tail8: eight all-ones lanes then eight zero ones; the 8 lanes from
	// element 8-n are the AVX2 mask of the first n lanes.
	tail8 := c.StaticGlobal("tail8")
	c.DataAttributes(attr.RODATA | attr.NOPTR)
	for i := range 16 {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		c.AddDatum(4*i, operand.U32(v))
	}
	for _, s := range isas(c) {
		finishKernel(s, false)
		finishKernel(s, true)
		finishRowsKernel(s, tail8, false)
		finishRowsKernel(s, tail8, true)
		reluGradKernel(s)
	}
}

// reluGradKernel: dst[i] = dy[i] where x[i] > 0, else +0. The ordered
// compare 0 < x is false for ±0 and a NaN x, which give +0 as in Go.
func reluGradKernel(s isa) {
	s.text("reluGrad", "dst[i] = dy[i] where x[i] > 0, else +0 (reluGradGeneric).")
	dst, x, n := s.slice("dst", 4), s.slice("x", 4), s.length("x")
	dy := s.slice("dy", 4)
	zero := s.vec()
	s.xor(zero, zero, zero)
	s.loop(elementwise{n: n, in: []stream{x, dy}, out: dst, store: storeFloats, nt: true,
		vector: func(s isa, in []stream, i int) reg.Register {
			r := s.vec()
			if !s.avx512 {
				s.VCMPPS(imm(0x11), in[0].at(i), zero, r) // 0 < x (LT_OQ): all ones or zeros
				s.VANDPS(in[1].at(i), r, r)
				return r
			}
			// dy loaded unmasked, then masked (as ste does).
			m := s.K()
			s.VCMPPS(imm(0x11), in[0].at(i), s.v(zero), m)
			s.VMOVUPS(in[1].at(i), r)
			s.VMOVAPS_Z(r, m, r)
			return r
		}})
}

// finishKernel: dst[i] = min(max(x[i] + bias (+ add[i]), lo), hi) with Go's
// min and max. The clamp (see clamp) keeps a NaN x and returns x for two
// equal bounds, which is Go's result except for signed zeros: x = -0
// against lo = +0 gives -0 where Go's max gives +0, hence zfix (+0 when lo
// is +0, else -0) added after the max; x = +0 against hi = -0 gives +0
// where Go's min gives -0, hence sfix (the sign bit when hi is -0, else 0)
// or-ed after the min. A bias of -0 adds nothing.
func finishKernel(s isa, withAdd bool) {
	name, spec := "finish", "dst[i] = min(max(x[i] + bias, lo), hi) (finishGeneric without add)."
	if withAdd {
		name, spec = "finishAdd", "dst[i] = min(max(x[i] + bias + add[i], lo), hi) (finishGeneric)."
	}
	s.text(name, spec)
	dst, x, n := s.slice("dst", 4), s.slice("x", 4), s.length("x")
	in := []stream{x}
	if withAdd {
		in = append(in, s.slice("add", 4))
	}
	bias, lo, hi := s.broadcast(s.param("bias")), s.broadcast(s.param("lo")), s.broadcast(s.param("hi"))
	zfix, sfix := s.broadcast(s.param("zfix")), s.broadcast(s.param("sfix"))
	s.loop(elementwise{n: n, in: in, out: dst, store: storeFloats,
		vector: func(s isa, in []stream, i int) reg.Register {
			r := s.vec()
			s.VADDPS(in[0].at(i), s.v(bias), r)
			if withAdd {
				s.VADDPS(in[1].at(i), r, r)
			}
			s.clamp(r, lo, hi)
			s.VADDPS(s.v(zfix), r, r)
			s.or(s.v(sfix), r, r)
			return r
		}})
}

// finishRowsKernel: finishGeneric on rows×cols elements, row r from
// src[r·lds] into dst[r·ldd] with the bias bias[r·biasStride] (a stride
// of 0 repeats bias[0]) and, with add, the elements of add from r·ldAdd:
// a vector of columns at a time, the last ones of a row masked on
// AVX-512 (an opmask); on AVX2 the row's last 8 columns as one more
// vector, or for a row of fewer than 8 VMASKMOVPS with the mask of tail8
// (its masked-off lanes are neither read nor written).
func finishRowsKernel(s isa, tail8 operand.Mem, withAdd bool) {
	name := "finishRows"
	if withAdd {
		name = "finishRowsAdd"
	}
	s.text(name, "finishGeneric on rows of a matrix (FinishRows).")
	dst, src := s.slice("dst", 4), s.slice("src", 4)
	ld := func(n string) reg.GPVirtual {
		r := s.GP64()
		s.Load(s.Param(n), r)
		return r
	}
	bias := s.GP64()
	s.Load(s.Param("bias").Base(), bias)
	var add reg.GPVirtual
	if withAdd {
		add = s.GP64()
		s.Load(s.Param("add").Base(), add)
	}
	lo, hi := s.broadcast(s.param("lo")), s.broadcast(s.param("hi"))
	zfix, sfix := s.broadcast(s.param("zfix")), s.broadcast(s.param("sfix"))
	rows := ld("rows")
	s.TESTQ(rows, rows)
	s.JZ(operand.LabelRef("done"))
	s.Label("row")
	b := s.vec()
	s.VBROADCASTSS(operand.Mem{Base: bias}, b)
	col := s.GP64()
	s.XORQ(col, col)
	// compute finishes the vector of columns from col, loaded by load.
	compute := func(load func(m operand.Mem, v reg.VecVirtual)) reg.VecVirtual {
		v := s.vec()
		load(operand.Mem{Base: src.p, Index: col, Scale: 4}, v)
		s.VADDPS(b, v, v)
		if withAdd {
			a := s.vec()
			load(operand.Mem{Base: add, Index: col, Scale: 4}, a)
			s.VADDPS(a, v, v)
		}
		s.clamp(v, lo, hi)
		s.VADDPS(zfix, v, v)
		s.or(sfix, v, v)
		return v
	}
	at := operand.Mem{Base: dst.p, Index: col, Scale: 4}
	plain := func(a operand.Mem, v reg.VecVirtual) { s.VMOVUPS(a, v) }
	if s.avx512 {
		s.Label("chunk")
		left := ld("cols")
		s.SUBQ(col, left)
		s.JLE(operand.LabelRef("next"))
		m32 := s.lowLanes(left)
		m := s.K()
		s.KMOVW(m32, m)
		s.VMOVUPS(compute(func(a operand.Mem, v reg.VecVirtual) { s.VMOVUPS_Z(a, m, v) }), m, at)
		s.ADDQ(imm(16), col)
		s.JMP(operand.LabelRef("chunk"))
	} else {
		// A row of 8 columns or more ends with the vector of its last 8
		// (overlapping the one before), computed before any store of the
		// row (dst may be src) and stored after them: AMD's VMASKMOVPS
		// store takes tens of cycles.
		cols := ld("cols")
		s.CMPQ(cols, imm(8))
		s.JL(operand.LabelRef("short"))
		s.LEAQ(operand.Mem{Base: cols, Disp: -8}, col)
		last := compute(plain)
		s.XORQ(col, col)
		s.Label("chunk")
		end := s.GP64()
		s.LEAQ(operand.Mem{Base: col, Disp: 8}, end)
		s.CMPQ(end, cols)
		s.JG(operand.LabelRef("last"))
		s.VMOVUPS(compute(plain), at)
		s.MOVQ(end, col)
		s.JMP(operand.LabelRef("chunk"))
		s.Label("last")
		s.CMPQ(col, cols)
		s.JGE(operand.LabelRef("next"))
		s.LEAQ(operand.Mem{Base: cols, Disp: -8}, col)
		s.VMOVUPS(last, at)
		s.JMP(operand.LabelRef("next"))
		s.Label("short")
		// Fewer than 8 columns: the mask of the first cols lanes, tail8
		// from element 8-cols.
		t := s.GP64()
		s.LEAQ(tail8, t)
		s.NEGQ(cols)
		m := s.vec()
		s.VMOVDQU(operand.Mem{Base: t, Index: cols, Scale: 4, Disp: 32}, m)
		s.VMASKMOVPS(compute(func(a operand.Mem, v reg.VecVirtual) { s.VMASKMOVPS(a, m, v) }), m, at)
	}
	s.Label("next")
	ldd := ld("ldd")
	s.LEAQ(operand.Mem{Base: dst.p, Index: ldd, Scale: 4}, dst.p)
	lds := ld("lds")
	s.LEAQ(operand.Mem{Base: src.p, Index: lds, Scale: 4}, src.p)
	if withAdd {
		lda := ld("ldAdd")
		s.LEAQ(operand.Mem{Base: add, Index: lda, Scale: 4}, add)
	}
	bs := ld("biasStride")
	s.LEAQ(operand.Mem{Base: bias, Index: bs, Scale: 4}, bias)
	s.DECQ(rows)
	s.JNZ(operand.LabelRef("row"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}

// lowLanes returns, in a new register, the mask of the first min(n, 16)
// lanes for n >= 0. n is capped first: BZHI reads only the low byte of
// its index (n = 256 would give no lanes).
func (s isa) lowLanes(n reg.GPVirtual) reg.GPVirtual {
	c, sixteen := s.GP64(), s.GP64()
	s.MOVQ(n, c)
	s.MOVQ(operand.I32(16), sixteen)
	s.CMPQ(c, sixteen)
	s.CMOVQGT(sixteen, c)
	ones, m := s.GP32(), s.GP32()
	s.MOVL(imm(0xffff), ones)
	s.BZHIL(c.As32(), ones, m)
	return m
}
