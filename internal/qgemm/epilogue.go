package qgemm

import (
	"fmt"
	"math"
	"slices"
	"unsafe"

	"github.com/tensorquant/tensorquant/fakequant"
)

// Requant is the requantization of a product to int8 or uint8 (ONNX
// QLinearMatMul and QLinearConv): output n of a row is
//
//	clamp(roundHalfEven(float32(C)·Scale[n]) + ZeroPoint, Min, Max)
//
// with C the int32 result (bias included). Scale has one element per
// output column (per output channel) or one for all; it is the caller's
// a_scale·w_scale[n]/y_scale. Min and Max are the bounds of the output type
// (0 and 255, or −128 and 127), or tighter ones that fuse a following Relu
// or Clip.
type Requant struct {
	Scale     []float32
	ZeroPoint int32
	Min, Max  int32
}

// Dequant is the float output of a product (a product followed by
// DequantizeLinear, or with a float bias): output n of a row is
// float32(float32(C)·Scale[n]) + Bias[n], with Scale the caller's
// a_scale·w_scale[n]. Scale has one element per output column or one for
// all; Bias has one per column, or none.
type Dequant struct {
	Scale []float32
	Bias  []float32
	// Act, when not nil, is applied in place to the float outputs after
	// the bias: an elementwise function (each output from itself alone,
	// as a Relu or a SiLU), which the epilogues call on runs of outputs of
	// any length while they are in cache, instead of a pass over the
	// whole output after it.
	Act func(x []float32)
}

// Quantize is a QuantizeLinear per tensor of a float output (ConvFloatQuant,
// MatMulFloatQuant): ONNX Runtime's saturate(roundHalfEven(x/Scale) +
// ZeroPoint), by fakequant.QuantizeLinearCodes.
type Quantize struct {
	Scale     float32
	ZeroPoint int32
}

// outKind is what an epilogue writes.
type outKind uint8

const (
	outInt32 outKind = iota
	outQuant
	outFloat
	outFloatQuant // outFloat's values, then QuantizeLinear: codes
)

// quantParams are the constants of a quantized epilogue, in the form the
// kernels use them: the clamp bounds less the zero point, as floats (the
// float value is clamped before it is rounded, as ONNX Runtime does; both
// bounds are integers, so clamping before or after rounding is the same).
type quantParams struct {
	lo, hi float32
	zp     int32
}

// epilogue turns tiles of P into the output: C = P + colTerm[n] −
// zp[n]·ρ[m], then the output of kind.
type epilogue struct {
	kind    outKind
	colTerm []int32                 // −zκ·(colsum − K·zβ) + bias, per column
	zp      []int32                 // zβ, or nil
	scale   []float32               // per column (outQuant, outFloat)
	bias    []float32               // per column (outFloat, outFloatQuant)
	act     func([]float32)         // nil, or applied to float values (outFloat, outFloatQuant)
	codes   func([]byte, []float32) // outFloatQuant: the QuantizeLinear
	q       quantParams
	// The output: row m, column n at m·ld + off + n.
	i32     []int32
	u8      []byte
	f32     []float32
	ld, off int
}

// setColumns sets the per-column terms for weights w, activations with
// kernel zero point zk, an int32 bias (nil, or one per column) and the
// scales (one, or one per column; none for outInt32). When zk, the
// bias and the scales are the last call's (a graph node's constants, on
// every run), its terms are reused.
func (e *epilogue) setColumns(w *Weights, zk int32, bias []int32, scale []float32) error {
	n := w.n
	if bias != nil && len(bias) != n {
		return shapeErr("weights have %d columns but the bias has %d values", n, len(bias))
	}
	e.zp = w.zp
	if c := w.columns.Load(); c != nil && c.zk == zk && sameBytes(c.bias, bias) && sameBytes(c.given, scale) && (c.scale != nil) == (e.kind != outInt32) {
		e.colTerm, e.scale = c.colTerm, c.scale
		return nil
	}
	e.colTerm = make([]int32, n)
	k := int32(w.k)
	for j := range n {
		var z int32
		if w.zp != nil {
			z = w.zp[j]
		}
		t := -zk * (w.colSum[j] - k*z)
		if bias != nil {
			t += bias[j]
		}
		e.colTerm[j] = t
	}
	if e.kind != outInt32 {
		s, err := perColumn("scale", scale, n)
		if err != nil {
			return err
		}
		for j, v := range s {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("qgemm: scale %v (column %d) is not finite", v, j)
			}
		}
		if len(scale) == n {
			s = slices.Clone(s) // the caller's, which may change
		}
		e.scale = s
	}
	w.columns.Store(&columnTerms{zk: zk, bias: slices.Clone(bias), given: slices.Clone(scale), colTerm: e.colTerm, scale: e.scale})
	return nil
}

// columnTerms are an epilogue's per-column terms for a zero point, a bias
// and scales (copies of the caller's: given as given, scale per column,
// nil for outInt32).
type columnTerms struct {
	zk      int32
	bias    []int32
	given   []float32
	colTerm []int32
	scale   []float32
}

// sameBytes reports whether a and b hold the same bits (nil and empty
// alike).
func sameBytes[T int32 | float32](a, b []T) bool {
	return len(a) == len(b) && string(bytesOf(a)) == string(bytesOf(b))
}

// perColumn returns v as one value per column: v itself when it has n
// values, n copies of its value when it has one.
func perColumn(name string, v []float32, n int) ([]float32, error) {
	switch len(v) {
	case n:
		return v, nil
	case 1:
		out := make([]float32, n)
		for i := range out {
			out[i] = v[0]
		}
		return out, nil
	}
	return nil, shapeErr("%d columns but %d %s values (want 1 or %d)", n, len(v), name, n)
}

// setFloat sets the float bias and the activation of d for n columns;
// what describes n in the error.
func (e *epilogue) setFloat(d Dequant, n int, what string) error {
	var err error
	e.bias, err = floatBias(d.Bias, n, what)
	e.act = d.Act
	return err
}

// setCodes sets the QuantizeLinear q to codes of type Y of an
// outFloatQuant epilogue.
func setCodes[Y Int8](e *epilogue, q Quantize) error {
	lo, hi := rangeOf[Y]()
	if q.ZeroPoint < lo || q.ZeroPoint > hi {
		return fmt.Errorf("qgemm: output zero point %d is outside [%d, %d]", q.ZeroPoint, lo, hi)
	}
	// With the zero point in range, QuantizeLinearCodes cannot fail (dst
	// is as long as src).
	if flipOf[Y]() != 0 { // uint8
		e.codes = func(dst []byte, src []float32) {
			_ = fakequant.QuantizeLinearCodes(dst, src, q.Scale, q.ZeroPoint, lo, hi)
		}
	} else {
		e.codes = func(dst []byte, src []float32) {
			_ = fakequant.QuantizeLinearCodes(int8s(dst), src, q.Scale, q.ZeroPoint, lo, hi)
		}
	}
	return nil
}

// int8s returns bytes as int8s.
func int8s(b []byte) []int8 {
	return unsafe.Slice((*int8)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
}

// setQuant sets the output constants of q for output type Y.
func (e *epilogue) setQuant(q Requant, lo, hi int32) error {
	if q.ZeroPoint < lo || q.ZeroPoint > hi {
		return fmt.Errorf("qgemm: output zero point %d is outside [%d, %d]", q.ZeroPoint, lo, hi)
	}
	if q.Min < lo || q.Max > hi || q.Min > q.Max {
		return fmt.Errorf("qgemm: output bounds [%d, %d] are not within [%d, %d]", q.Min, q.Max, lo, hi)
	}
	e.q = quantParams{lo: float32(q.Min - q.ZeroPoint), hi: float32(q.Max - q.ZeroPoint), zp: q.ZeroPoint}
	return nil
}

// rangeOf returns the range of T.
func rangeOf[T Int8]() (lo, hi int32) {
	if flipOf[T]() != 0 {
		return 0, 255
	}
	return -128, 127
}

// bytesOf returns the memory of s, its elements' bytes.
func bytesOf[T any](s []T) []byte {
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(zero)))
}

// tile writes the output of the rows×nv tile p (row stride ldp) whose top
// left output is (m0, n0); rho holds ρ of its rows (when e.zp is set).
// s is the goroutine's scratch (outFloatQuant's float values).
func (e *epilogue) tile(f family, p []int32, ldp, rows, m0, n0, nv int, rho []int32, s *scratch) {
	t := tileOut{rows: rows, ldp: ldp, ldo: e.ld, p: p, colTerm: e.colTerm[n0 : n0+nv]}
	if e.zp != nil {
		t.zp, t.rho = e.zp[n0:n0+nv], rho[:rows]
	}
	o := m0*e.ld + e.off + n0
	switch e.kind {
	case outInt32:
		epiInt32(f, &t, e.i32[o:])
	case outQuant:
		epiQuant(f, &t, e.scale[n0:n0+nv], &e.q, e.u8[o:])
	case outFloat:
		out := e.f32[o:]
		epiFloat(f, &t, e.scale[n0:n0+nv], e.bias[n0:n0+nv], out)
		if e.act != nil {
			applyRows(e.act, out, rows, nv, e.ld)
		}
	case outFloatQuant:
		e.floatQuant(f, &t, n0, e.u8[o:], s)
	}
}

// floatQuantRun is the most float values a depthwise outFloatQuant tile
// holds at once: a run of pixels' rows up to 16 KB.
const floatQuantRun = 4096

// floatQuant writes the outFloatQuant output of the depthwise tile t
// (columns from n0) to out: the float values of a few rows at a time into
// s's buffer, then their activation and codes. (The products' tiles
// write their floats to a row block's buffer, finishBlock.)
func (e *epilogue) floatQuant(f family, t *tileOut, n0 int, out []byte, s *scratch) {
	nv := t.n()
	step := max(1, floatQuantRun/nv)
	if cap(s.f32) < step*nv {
		s.f32, s.u8 = make([]float32, step*nv), make([]byte, step*nv)
	}
	for r0 := 0; r0 < t.rows; r0 += step {
		rows := min(step, t.rows-r0)
		part := *t
		part.rows, part.ldo, part.p = rows, nv, t.p[r0*t.ldp:]
		if len(t.zp) > 0 {
			part.rho = t.rho[r0:]
		}
		buf := s.f32[:rows*nv]
		epiFloat(f, &part, e.scale[n0:n0+nv], e.bias[n0:n0+nv], buf)
		e.toCodes(s, buf, out[r0*e.ld:], rows, nv)
	}
}

// finishFloats is the most float values a row block of a product with an
// activation or codes through floats holds (64 KB).
const finishFloats = 16 << 10

// finishBlock finishes rows [m0, m0+rows) and columns [c0, c1) of a
// product whose tiles are done: the activation on the floats of an
// outFloat output, or, for outFloatQuant, on the floats the tiles wrote to
// s.f32 (row r at r·(c1−c0)), then their codes.
func (e *epilogue) finishBlock(s *scratch, m0, rows, c0, c1 int) {
	n := c1 - c0
	o := m0*e.ld + e.off + c0
	if e.kind == outFloat {
		applyRows(e.act, e.f32[o:], rows, n, e.ld)
		return
	}
	e.toCodes(s, s.f32[:rows*n], e.u8[o:], rows, n)
}

// toCodes applies the activation to buf, rows rows of n floats, and
// writes their codes to out, row r at r·e.ld: in one call of each kernel
// (their set-up costs as much as a short row), through s.u8 when the
// rows are not contiguous in out.
func (e *epilogue) toCodes(s *scratch, buf []float32, out []byte, rows, n int) {
	if e.act != nil {
		e.act(buf)
	}
	if e.ld == n {
		e.codes(out[:rows*n], buf)
		return
	}
	codes := s.u8[:rows*n]
	e.codes(codes, buf)
	for r := range rows {
		copy(out[r*e.ld:r*e.ld+n], codes[r*n:(r+1)*n])
	}
}

// applyRows applies act to rows rows of n values, row r at x[r·ld:].
func applyRows(act func([]float32), x []float32, rows, n, ld int) {
	if ld == n {
		act(x[:rows*n])
		return
	}
	for r := range rows {
		act(x[r*ld : r*ld+n])
	}
}

// tileOut is a tile of P on its way to the output: rows rows of n =
// len(colTerm) columns, row r at p[r·ldp:], written at r·ldo of the output
// slice that goes with it, with ρ = rho[r] when zp is not empty.
type tileOut struct {
	rows, ldp, ldo int
	p, colTerm, zp []int32
	rho            []int32
}

func (t *tileOut) n() int { return len(t.colTerm) }

// row returns row r's P and ρ.
func (t *tileOut) row(r int) ([]int32, int32) {
	var rho int32
	if len(t.zp) > 0 {
		rho = t.rho[r]
	}
	return t.p[r*t.ldp : r*t.ldp+t.n()], rho
}

func (t *tileOut) rowsInt32(out []int32) {
	n := t.n()
	for r := range t.rows {
		p, rho := t.row(r)
		epiInt32Generic(p, t.colTerm, t.zp, rho, out[r*t.ldo:r*t.ldo+n])
	}
}

func (t *tileOut) rowsQuant(scale []float32, q *quantParams, out []byte) {
	n := t.n()
	for r := range t.rows {
		p, rho := t.row(r)
		epiQuantGeneric(p, t.colTerm, t.zp, rho, scale, q, out[r*t.ldo:r*t.ldo+n])
	}
}

func (t *tileOut) rowsFloat(scale, bias []float32, out []float32) {
	n := t.n()
	for r := range t.rows {
		p, rho := t.row(r)
		epiFloatGeneric(p, t.colTerm, t.zp, rho, scale, bias, out[r*t.ldo:r*t.ldo+n])
	}
}

// maxRun is the most rows a tile has (a run of depthwise pixels).
const maxRun = 64

// zeroRho is ρ for tiles whose weights have no zero points.
var zeroRho [maxRun]int32

// asmTile is a tile as the assembly epilogues take it: zp never empty
// (without zero points colTerm stands in for it, with ρ = 0), P and rho
// cut to the tile, and the length of output it covers.
type asmTile struct {
	rows, ldp, ldo      int
	p, colTerm, zp, rho []int32
	outLen              int
}

func (t *tileOut) asm() asmTile {
	n := t.n()
	a := asmTile{rows: t.rows, ldp: t.ldp, ldo: t.ldo, colTerm: t.colTerm, zp: t.zp, rho: t.rho,
		p: t.p[:(t.rows-1)*t.ldp+n], outLen: (t.rows-1)*t.ldo + n}
	if len(a.zp) == 0 {
		a.zp, a.rho = a.colTerm, zeroRho[:t.rows]
	}
	return a
}
