package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// isa is the instruction set a kernel description is generated for. Each
// description is one Go function called once per isa; it emits the AVX2
// kernel and the AVX-512 kernel of its family. The methods of isa cover
// what differs between the two (register width, the EVEX spellings of the
// integer logic, masks); the instructions spelled alike for YMM and ZMM
// registers are called on the embedded Context directly.
type isa struct {
	*build.Context
	name   string // suffix of the function names: "AVX2" or "AVX512"
	avx512 bool
	lanes  int // 32-bit lanes per vector: 8 (YMM) or 16 (ZMM)
}

func isas(c *build.Context) []isa {
	return []isa{{c, "AVX2", false, 8}, {c, "AVX512", true, 16}}
}

// half is s on 256-bit vectors. For AVX-512 these are the EVEX forms on
// YMM registers (AVX512VL) that finish the last 8 elements, so that every
// amd64 kernel leaves fewer than 8 elements to Go.
func (s isa) half() isa {
	s.lanes = 8
	return s
}

// labels counts the labels newLabel made.
var labels int

// newLabel returns a label name not used before, from prefix (for the
// branches that a kernel's emitter makes in each vector it emits).
func newLabel(prefix string) string {
	labels++
	return fmt.Sprintf("%s%d", prefix, labels)
}

// text starts the kernel name+s.name, whose signature is the stub declared
// in the package, with the comment lines doc.
func (s isa) text(name string, doc ...string) {
	s.Implement(name + s.name)
	s.Attributes(attr.NOSPLIT)
	s.Comment(doc...)
}

// vec returns a new virtual vector register of s's width.
func (s isa) vec() reg.VecVirtual {
	if s.lanes == 16 {
		return s.ZMM()
	}
	return s.YMM()
}

// v returns the vector register r at s's width (the YMM half of a ZMM in
// a half step); other operands are returned as they are.
func (s isa) v(r operand.Op) operand.Op {
	v, ok := r.(reg.Vec)
	switch {
	case !ok:
		return r
	case s.lanes == 16:
		return v.AsZ()
	}
	return v.AsY()
}

// ltu returns the mask of the lanes where a < b, as unsigned values below
// 2^31 (AVX2 compares signed integers only). b must be a register.
func (s isa) ltu(a, b operand.Op) reg.Register {
	m := s.mask()
	if s.avx512 {
		s.VPCMPUD(imm(1), s.v(b), s.v(a), m)
	} else {
		s.VPCMPGTD(a, b, m)
	}
	return m
}

// gtu returns the mask of the lanes where a > b, as ltu does.
func (s isa) gtu(a, b operand.Op) reg.Register {
	m := s.mask()
	if s.avx512 {
		s.VPCMPUD(imm(6), s.v(b), s.v(a), m)
	} else {
		s.VPCMPGTD(b, a, m)
	}
	return m
}

// eq returns the mask of the lanes where a == b.
func (s isa) eq(a, b operand.Op) reg.Register {
	m := s.mask()
	s.VPCMPEQD(s.v(b), s.v(a), m)
	return m
}

// keep zeroes the lanes of r that mask m does not select.
func (s isa) keep(m, r reg.Register) {
	if s.avx512 {
		s.VMOVDQA32_Z(r, m, r)
	} else {
		s.VPAND(m, r, r)
	}
}

// sel sets the lanes of dst that mask m selects to those of t.
func (s isa) sel(m reg.Register, t, dst operand.Op) {
	if s.avx512 {
		s.VMOVDQA32(s.v(t), m, dst)
	} else {
		s.VBLENDVPS(m, t, dst, dst)
	}
}

// mask returns a register for a lane mask: a vector of all-ones or zero
// lanes (AVX2), or an opmask register (AVX-512).
func (s isa) mask() reg.Register {
	if s.avx512 {
		return s.K()
	}
	return s.vec()
}

func (s isa) and(a, b, dst operand.Op) {
	if s.avx512 {
		s.VPANDD(a, b, dst)
	} else {
		s.VPAND(a, b, dst)
	}
}

func (s isa) or(a, b, dst operand.Op) {
	if s.avx512 {
		s.VPORD(a, b, dst)
	} else {
		s.VPOR(a, b, dst)
	}
}

func (s isa) xor(a, b, dst operand.Op) {
	if s.avx512 {
		s.VPXORD(a, b, dst)
	} else {
		s.VPXOR(a, b, dst)
	}
}

// extract128 puts 128-bit lane i of v into x.
func (s isa) extract128(i int, v, x operand.Op) {
	if s.avx512 {
		s.VEXTRACTI32X4(imm(i), v, x)
	} else {
		s.VEXTRACTI128(imm(i), v, x)
	}
}

// param returns the frame address of the scalar argument name.
func (s isa) param(name string) operand.Mem {
	b, err := s.Param(name).Resolve()
	if err != nil {
		panic(fmt.Sprintf("%s: %v", name, err))
	}
	return b.Addr
}

// ret returns the frame address of the single result.
func (s isa) ret() operand.Mem { return s.retIndex(0) }

// retIndex returns the frame address of result i.
func (s isa) retIndex(i int) operand.Mem {
	b, err := s.ReturnIndex(i).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// broadcast returns a vector with the 32-bit value at m in every lane.
func (s isa) broadcast(m operand.Mem) reg.VecVirtual {
	v := s.vec()
	s.VBROADCASTSS(m, v)
	return v
}

// stream is one slice an elementwise kernel walks: a pointer register
// advanced as the kernel goes, and the size of its elements.
type stream struct {
	p    reg.Register
	size int
}

// at returns the address of element i from the stream's position.
func (st stream) at(i int) operand.Mem { return operand.Mem{Base: st.p, Disp: i * st.size} }

// slice loads the base of the slice argument name into a stream of
// elements of size bytes.
func (s isa) slice(name string, size int) stream {
	p := s.GP64()
	s.Load(s.Param(name).Base(), p)
	return stream{p, size}
}

// length loads the length of the slice argument name.
func (s isa) length(name string) reg.GPVirtual {
	n := s.GP64()
	s.Load(s.Param(name).Len(), n)
	return n
}

// ntMin is the length from which the kernels with float32 output write it
// with non-temporal stores (VMOVNTPS): measured on the Zen 5 of
// BENCHMARKS.md, streaming loses while the output still fits the
// last-level cache and gains 15-35% from 16 MiB of output on.
const ntMin = 2 << 20

// elementwise describes an elementwise kernel to the loop skeleton (loop):
// element i of the output depends on element i of each input only.
type elementwise struct {
	n   reg.Register // elements: at least 8
	in  []stream
	out stream
	// vector returns the results of the elements [i, i+s.lanes) from the
	// position of the streams in.
	vector func(s isa, in []stream, i int) reg.Register
	// store writes the results of consecutive vectors from element i of
	// out on; nt asks for non-temporal stores to a 64-byte aligned out.
	store func(s isa, rs []reg.Register, out stream, i int, nt bool)
	// nt streams the (float32) output from ntMin elements on.
	nt bool
	// unroll is the number of vectors per iteration of the main loop
	// (default unroll).
	unroll int
	// interleave, when above 1, emits the instructions of each group of
	// that many unrolled vectors in turn (see interleaveChains) instead
	// of one vector's after the other: for long dependent chains, which
	// the core's scheduler cannot look far enough ahead to overlap.
	interleave int
}

// storeFloats is the store of kernels whose output is float32.
func storeFloats(s isa, rs []reg.Register, out stream, i int, nt bool) {
	for j, r := range rs {
		if nt {
			s.VMOVNTPS(r, out.at(i+j*s.lanes))
		} else {
			s.VMOVUPS(r, out.at(i+j*s.lanes))
		}
	}
}

// unroll is how many vectors the main loops keep in flight by default:
// enough to hide the latency of a division.
const unroll = 4

// loop emits the body of an elementwise kernel on n >= 8 elements, the tail
// convention of every kernel: the vector loops cover n &^ 7 elements, and
// where n is not a multiple of 8 the results of the last 8 elements,
// computed before anything is stored and stored last, cover the rest. The
// overlap is written twice with the same values, and since they were
// computed from the inputs as they came, dst may be src.
func (s isa) loop(k elementwise) {
	if k.unroll == 0 {
		k.unroll = unroll
	}
	all := append(append([]stream{}, k.in...), k.out)
	t := s // the 8-lane isa of the last vector
	if s.avx512 {
		t = s.half()
	}
	// last computes the results of the last 8 elements and returns them
	// with the stream of their output.
	last := func() (reg.Register, stream) {
		var end []stream
		for _, st := range all {
			e := s.GP64()
			s.LEAQ(operand.Mem{Base: st.p, Index: k.n, Scale: uint8(st.size), Disp: -t.lanes * st.size}, e)
			end = append(end, stream{e, st.size})
		}
		return k.vector(t, end[:len(k.in)], 0), end[len(k.in)]
	}
	if k.nt {
		s.CMPQ(k.n, imm(ntMin))
		s.JAE(operand.LabelRef("stream"))
	}
	s.TESTQ(operand.U32(7), k.n)
	s.JZ(operand.LabelRef("body"))
	l, lout := last()
	s.Label("body")
	s.vectors(k, "", false)
	s.TESTQ(k.n, k.n)
	s.JZ(operand.LabelRef("ret"))
	k.store(t, []reg.Register{l}, lout, 0, false)
	s.Label("ret")
	s.VZEROUPPER()
	s.RET()
	if !k.nt {
		return
	}

	s.Label("stream")
	s.Comment(
		"Non-temporal stores from the first 64-byte boundary of dst on; the",
		"results of the first 16 elements, computed before anything is stored",
		"and stored last like those of the last 8, cover the elements before it.")
	var first []reg.Register
	for i := 0; i < 16; i += s.lanes {
		first = append(first, k.vector(s, k.in, i))
	}
	l, lout = last()
	start := s.GP64()
	s.MOVQ(k.out.p, start)
	head := s.GP64()
	s.MOVQ(k.out.p, head)
	s.NEGQ(head)
	s.ANDQ(imm(63), head)
	s.SHRQ(imm(2), head)
	for _, st := range all {
		s.LEAQ(operand.Mem{Base: st.p, Index: head, Scale: uint8(st.size)}, st.p)
	}
	s.SUBQ(head, k.n)
	s.blocks(k, unroll, "stream4", true)
	s.SFENCE()
	s.vectors(k, "stream_", true)
	k.store(t, []reg.Register{l}, lout, 0, false)
	k.store(s, first, stream{start, k.out.size}, 0, false)
	s.VZEROUPPER()
	s.RET()
}

// vectors emits the vector loops of loop: blocks of k.unroll vectors
// (unless streamed, which emits its own), single vectors, and for AVX-512
// one 8-lane step, which leave fewer than 8 elements.
func (s isa) vectors(k elementwise, prefix string, streamed bool) {
	if k.unroll > 1 && !streamed {
		s.blocks(k, k.unroll, fmt.Sprintf("%sloop%d", prefix, k.unroll), false)
	}
	s.blocks(k, 1, prefix+"loop1", false)
	if s.avx512 {
		h := s.half()
		s.CMPQ(k.n, imm(h.lanes))
		s.JB(operand.LabelRef(prefix + "done"))
		k.store(h, []reg.Register{k.vector(h, k.in, 0)}, k.out, 0, false)
		s.SUBQ(imm(h.lanes), k.n)
		s.Label(prefix + "done")
	}
}

// blocks emits a loop that handles blocks of m vectors while n allows.
func (s isa) blocks(k elementwise, m int, label string, nt bool) {
	step := m * s.lanes
	s.counted(k.n, step, label, func() {
		rs := make([]reg.Register, m)
		group := min(max(k.interleave, 1), m)
		for j := range rs {
			if group > 1 {
				s.Comment(chainMark)
			}
			rs[j] = k.vector(s, k.in, j*s.lanes)
			if group > 1 && (j+1)%group == 0 || j == m-1 && group > 1 {
				s.Comment(chainsEnd)
			}
		}
		k.store(s, rs, k.out, 0, nt)
		for _, st := range append(k.in, k.out) {
			s.ADDQ(imm(step*st.size), st.p)
		}
	})
}

// counted emits body as a loop that runs while n holds step more elements,
// taking step off n each time: n is kept as the remainder less step, so
// that one SUBQ both counts and tests (its borrow ends the loop).
func (s isa) counted(n reg.Register, step int, label string, body func()) {
	s.SUBQ(imm(step), n)
	s.JB(operand.LabelRef(label + "_end"))
	s.Label(label)
	body()
	s.SUBQ(imm(step), n)
	s.JAE(operand.LabelRef(label))
	s.Label(label + "_end")
	s.ADDQ(imm(step), n)
}

// imm is the immediate x: 8 bits if it fits, else 32 (the two sizes of
// the instructions' immediate forms).
func imm[T int | uint32](x T) operand.Constant {
	if uint64(x) <= 0xff {
		return operand.U8(x)
	}
	return operand.U32(x)
}

// pixel returns the bytes of s's vector: a pixel of the interleaved
// layouts (s.lanes channels of float32).
func (s isa) pixel() int { return 4 * s.lanes }

// pixelShift returns log2 of pixel().
func (s isa) pixelShift() int {
	if s.lanes == 16 {
		return 6
	}
	return 5
}

// zipTables defines prefix+"Lo" and prefix+"Hi", the VPERMT2PS/VPERMI2D
// indices that interleave the first and the second halves of two
// 16-lane vectors: lane i of Lo takes lane i/2 of the first vector (even
// i) or of the second (odd i), Hi the same from lane 8 on.
func zipTables(c *build.Context, prefix string) [2]operand.Mem {
	var zip [2]operand.Mem
	for h, name := range []string{prefix + "Lo", prefix + "Hi"} {
		zip[h] = c.StaticGlobal(name)
		c.DataAttributes(attr.RODATA | attr.NOPTR)
		for i := range 16 {
			c.AddDatum(4*i, operand.U32(8*h+i/2+16*(i%2)))
		}
	}
	return zip
}
