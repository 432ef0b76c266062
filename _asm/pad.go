package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// padPlanesKernel emits padPlanesAVX2, the unit-stride phase buffer of a
// convolution (internal/nn padPlanes): per plane of hq×wq values, rows
// [0, i0) zero, rows [i0, i1) zero with n values of an input row at
// column j0 (input rows w values apart, planes hw apart), the rest zero.
// Runs of values go 8 at a time with the last 8 again (overlapping),
// 4 at a time below 8, one at a time below 4; a data row is first zeroed
// whole, then its values copied over the zeros.
func padPlanesKernel(s isa) {
	s.text("padPlanes", "the phase planes of padPlanesGeneric: planes of hq×wq, data rows [i0, i1) with n values from column j0, zeros elsewhere.")
	dst, src := s.GP64(), s.GP64()
	s.Load(s.Param("dst").Base(), dst)
	s.Load(s.Param("src").Base(), src)
	planes := s.GP64()
	s.Load(s.Param("planes"), planes)
	s.TESTQ(planes, planes)
	s.JEQ(operand.LabelRef("done"))
	zero := s.YMM()
	s.VXORPS(zero, zero, zero)
	label := 0
	// run emits the loop over count values at p (registers it leaves
	// as they are): zeros stored when from is nil, else values copied
	// from from.
	run := func(p, from, count reg.GPVirtual) {
		label++
		l := func(name string) string { return fmt.Sprintf("%s%d", name, label) }
		move := func(width int, at reg.Register) {
			if from == nil {
				if width == 8 {
					s.VMOVUPS(zero, operand.Mem{Base: p, Index: at, Scale: 4})
				} else if width == 4 {
					s.VMOVUPS(zero.AsX(), operand.Mem{Base: p, Index: at, Scale: 4})
				} else {
					s.MOVL(operand.U32(0), operand.Mem{Base: p, Index: at, Scale: 4})
				}
				return
			}
			switch width {
			case 8:
				v := s.YMM()
				s.VMOVUPS(operand.Mem{Base: from, Index: at, Scale: 4}, v)
				s.VMOVUPS(v, operand.Mem{Base: p, Index: at, Scale: 4})
			case 4:
				v := s.XMM()
				s.VMOVUPS(operand.Mem{Base: from, Index: at, Scale: 4}, v)
				s.VMOVUPS(v, operand.Mem{Base: p, Index: at, Scale: 4})
			default:
				v := s.GP32()
				s.MOVL(operand.Mem{Base: from, Index: at, Scale: 4}, v)
				s.MOVL(v, operand.Mem{Base: p, Index: at, Scale: 4})
			}
		}
		j, last := s.GP64(), s.GP64()
		s.XORQ(j, j)
		s.CMPQ(count, imm(8))
		s.JL(operand.LabelRef(l("four")))
		s.LEAQ(operand.Mem{Base: count, Disp: -8}, last)
		s.Label(l("eight"))
		move(8, j)
		s.ADDQ(imm(8), j)
		s.CMPQ(j, last)
		s.JL(operand.LabelRef(l("eight")))
		move(8, last)
		s.JMP(operand.LabelRef(l("end")))
		s.Label(l("four"))
		s.CMPQ(count, imm(4))
		s.JL(operand.LabelRef(l("one")))
		s.LEAQ(operand.Mem{Base: count, Disp: -4}, last)
		move(4, j)
		move(4, last)
		s.JMP(operand.LabelRef(l("end")))
		s.Label(l("one"))
		s.CMPQ(j, count)
		s.JGE(operand.LabelRef(l("end")))
		move(1, j)
		s.INCQ(j)
		s.JMP(operand.LabelRef(l("one")))
		s.Label(l("end"))
	}
	ld := func(name string) reg.GPVirtual {
		r := s.GP64()
		s.Load(s.Param(name), r)
		return r
	}
	s.Label("plane")
	// Rows [0, i0): zeros.
	wq, i0 := ld("wq"), ld("i0")
	cnt := s.GP64()
	s.MOVQ(i0, cnt)
	s.IMULQ(wq, cnt)
	run(dst, nil, cnt)
	// Rows [i0, i1): zeros, then the row's values from column j0.
	row, in, rows := s.GP64(), s.GP64(), ld("i1")
	s.LEAQ(operand.Mem{Base: dst, Index: cnt, Scale: 4}, row)
	s.MOVQ(src, in)
	s.SUBQ(i0, rows)
	s.JLE(operand.LabelRef("bottom"))
	s.Label("row")
	run(row, nil, ld("wq"))
	at := s.GP64()
	s.Load(s.Param("j0"), at)
	s.LEAQ(operand.Mem{Base: row, Index: at, Scale: 4}, at)
	run(at, in, ld("n"))
	w := ld("wq")
	s.LEAQ(operand.Mem{Base: row, Index: w, Scale: 4}, row)
	s.Load(s.Param("w"), w)
	s.LEAQ(operand.Mem{Base: in, Index: w, Scale: 4}, in)
	s.DECQ(rows)
	s.JNZ(operand.LabelRef("row"))
	s.Label("bottom")
	// Rows [i1, hq): zeros; then the next plane.
	hq, i1 := ld("hq"), ld("i1")
	s.SUBQ(i1, hq)
	s.IMULQ(ld("wq"), hq)
	s.MOVQ(row, cnt)
	run(cnt, nil, hq)
	s.LEAQ(operand.Mem{Base: row, Index: hq, Scale: 4}, dst)
	hw := ld("hw")
	s.LEAQ(operand.Mem{Base: src, Index: hw, Scale: 4}, src)
	s.DECQ(planes)
	s.JNZ(operand.LabelRef("plane"))
	s.Label("done")
	s.VZEROUPPER()
	s.RET()
}
