package main

import (
	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// e4m3Kernels describes fakequant/e4m3_amd64.s: scaledE4M3AVX2 and
// scaledE4M3AVX512, the original toolkit's scaled E4M3 fake quantization
// (scaledE4M3Generic in e4m3_generic.go), for slices of at least 8
// elements (loop).
func e4m3Kernels(c *build.Context) {
	tiny := constants("fakequant", "e4m3")["e4m3TinyBits"]
	if tiny == 0 {
		panic("fakequant declares no e4m3TinyBits")
	}
	// The constants of E4M3FN (fp8E4M3FN in fp8.go: shift 20), one word
	// each, broadcast into registers; AVX2 reads the two it has no register
	// for from 32-byte rows.
	consts := []struct {
		name string
		v    uint32
	}{
		{"abs", 0x7FFFFFFF},          // clears the sign bit
		{"one", 1},                   // the lowest kept bit, once shifted down
		{"rbias", 0x0007FFFF},        // round bias: 1<<19 - 1
		{"himask", 0xFFF00000},       // the bits E4M3 keeps
		{"minnorm", 0x3C800000},      // 2^-6, the smallest normal E4M3 value
		{"max", 0x43E00000},          // 448, the largest
		{"magic", 0x46800000},        // 2^14: its float32 ulp is 2^-9, the subnormal step
		{"inf", 0x7F800000},          // +Inf: |v| bits above are NaN
		{"tinym1", uint32(tiny) - 1}, // the float32 below 2^-24
	}
	words := c.StaticGlobal("e4m3c")
	c.DataAttributes(attr.RODATA | attr.NOPTR)
	k := map[string]operand.Mem{}
	for i, r := range consts {
		c.AddDatum(4*i, operand.U32(r.v))
		k[r.name] = words.Offset(4 * i)
	}
	rows := c.StaticGlobal("e4m3rows")
	c.DataAttributes(attr.RODATA | attr.NOPTR)
	for i, r := range consts[len(consts)-2:] {
		for l := range 8 {
			c.AddDatum(32*i+4*l, operand.U32(r.v))
		}
		k[r.name+"Row"] = rows.Offset(32 * i)
	}
	for _, s := range isas(c) {
		scaledE4M3(s, k)
	}
}

func scaledE4M3(s isa, k map[string]operand.Mem) {
	s.text("scaledE4M3",
		"dst[i] = roundFP8(src[i]*scale) / scale for E4M3FN, saturating, +0 where",
		"|src[i]| < 2^-24 (scaledE4M3Generic): the rounding of fakeQuantFP8 with",
		"a multiplication before it and a true division after it.")
	dst, src, n := s.slice("dst", 4), s.slice("src", 4), s.length("src")
	scale := s.broadcast(s.param("scale"))
	row := func(name string, inReg bool) operand.Op {
		if !s.avx512 && !inReg {
			return k[name+"Row"]
		}
		v := s.vec()
		s.VPBROADCASTD(k[name], v)
		return v
	}
	abs, tinyM1 := row("abs", true), row("tinym1", false)
	c := fp8Round{one: row("one", true), rbias: row("rbias", true), hiMask: row("himask", true),
		minNormal: row("minnorm", true), maxBits: row("max", true), magic: row("magic", true),
		inf: row("inf", false), shift: imm(20)}
	s.loop(elementwise{n: n, in: []stream{src}, out: dst, unroll: 1, store: storeFloats,
		vector: func(s isa, in []stream, i int) reg.Register {
			x, v, a, r, t := s.vec(), s.vec(), s.vec(), s.vec(), s.vec()
			s.VMOVUPS(in[0].at(i), x)
			s.VMULPS(s.v(scale), x, v)
			s.and(s.v(abs), v, a) // a = |v|
			s.xor(a, v, v)        // the sign bit of v
			roundFP8Bits(s, a, r, t, c)
			s.or(v, r, r)
			s.VDIVPS(s.v(scale), r, r)
			s.and(s.v(abs), x, x)
			s.keep(s.gtu(x, s.v(tinyM1)), r) // +0 where |x| < 2^-24 (NaN is kept)
			return r
		}})
}
