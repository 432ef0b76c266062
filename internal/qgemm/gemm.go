package qgemm

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/tensorquant/tensorquant/internal/par"
)

// Matrix is the activation operand of a product: Rows rows of K elements
// (K is the weights' depth), row i at Data[i·Stride:], with one zero point.
type Matrix[T Int8] struct {
	Data      []T
	Rows      int
	Stride    int
	ZeroPoint T
}

// MatMulInt32 computes c[m·ldc + n] = Σ_k (A[m][k] − za)·(B[k][n] − zb[n]) +
// bias[n] for the Rows×K matrix a and the K×N weights w (ONNX MatMulInteger,
// with a bias), on up to threads goroutines. bias is nil or has N values;
// the output must not overlap a.
// It returns an error when threads < 1, w holds convolution weights, or a
// slice is too short for its shape (wrapping ErrShape).
func MatMulInt32[T Int8](threads int, a Matrix[T], w *Weights, bias []int32, c []int32, ldc int) error {
	e := &epilogue{kind: outInt32, i32: c, ld: ldc}
	return matmul(threads, a, w, bias, nil, e, len(c))
}

// MatMulQuant is MatMulInt32 followed by the requantization q, into y of
// type Y (int8 or uint8) with row stride ldy (ONNX QLinearMatMul). It also
// returns an error when a scale is not finite or q's zero point or bounds
// are outside Y's range.
func MatMulQuant[T, Y Int8](threads int, a Matrix[T], w *Weights, bias []int32, q Requant, y []Y, ldy int) error {
	e := &epilogue{kind: outQuant, u8: bytesOf(y), ld: ldy}
	lo, hi := rangeOf[Y]()
	if err := e.setQuant(q, lo, hi); err != nil {
		return err
	}
	return matmul(threads, a, w, bias, q.Scale, e, len(y))
}

// MatMulFloat is MatMulInt32 (without an int32 bias) followed by the float
// output d, into y with row stride ldy. It also returns an error when a
// scale is not finite or d.Bias has neither 0 nor N values.
func MatMulFloat[T Int8](threads int, a Matrix[T], w *Weights, d Dequant, y []float32, ldy int) error {
	if w == nil {
		return errors.New("qgemm: nil weights")
	}
	e := &epilogue{kind: outFloat, f32: y, ld: ldy}
	if err := e.setFloat(d, w.n, "weights have %d columns"); err != nil {
		return err
	}
	return matmul(threads, a, w, nil, d.Scale, e, len(y))
}

// MatMulFloatQuant is MatMulFloat (with d.Act) followed by the
// QuantizeLinear q, into y of type Y (int8 or uint8) with row stride ldy:
// the codes of a product, its activation and the next layer's
// quantization, without writing the float values. It also returns an
// error when q's zero point is outside Y's range.
func MatMulFloatQuant[T, Y Int8](threads int, a Matrix[T], w *Weights, d Dequant, q Quantize, y []Y, ldy int) error {
	if w == nil {
		return errors.New("qgemm: nil weights")
	}
	e := &epilogue{kind: outFloatQuant, u8: bytesOf(y), ld: ldy}
	if err := e.setFloat(d, w.n, "weights have %d columns"); err != nil {
		return err
	}
	if err := setCodes[Y](e, q); err != nil {
		return err
	}
	return matmul(threads, a, w, nil, d.Scale, e, len(y))
}

// floatBias returns the float bias of n columns: bias itself, or zeros
// when it is empty. what describes n in the error.
func floatBias(bias []float32, n int, what string) ([]float32, error) {
	switch len(bias) {
	case n:
		return bias, nil
	case 0:
		return make([]float32, n), nil
	}
	return nil, shapeErr(what+" but the bias has %d values", n, len(bias))
}

func matmul[T Int8](threads int, a Matrix[T], w *Weights, bias []int32, scale []float32, e *epilogue, outLen int) error {
	if w == nil {
		return errors.New("qgemm: nil weights")
	}
	if w.taps != 1 {
		return errors.New("qgemm: convolution weights used for a matrix product")
	}
	if threads < 1 {
		return fmt.Errorf("qgemm: %d threads", threads)
	}
	if err := checkMatrix("activations", len(a.Data), a.Rows, w.k, a.Stride); err != nil {
		return err
	}
	if err := checkMatrix("output", outLen, a.Rows, w.n, e.ld); err != nil {
		return err
	}
	flip := actFlip[T](w.geo)
	zk := kappa(uint8(a.ZeroPoint)^flip, w.geo.signed)
	if err := e.setColumns(w, zk, bias, scale); err != nil {
		return err
	}
	x, ld := bytesOf(a.Data), a.Stride
	if w.k == 0 {
		// Empty rows: checkMatrix asked for no element, so none is read.
		x, ld = nil, 0
	}
	src := newMatrixSource(x, a.Rows, ld, w, flip)
	run(threads, w, src, e, a.Rows)
	if src.buf != nil {
		bytePool.Put(src.buf)
	}
	return nil
}

// actFlip returns the top-bit flip that turns activations of type T into
// the bytes the kernels of geometry g read: 0 when T has the kernels'
// signedness, 0x80 otherwise.
func actFlip[T Int8](g geometry) uint8 {
	if (flipOf[T]() == 0) == g.signed {
		return 0
	}
	return 0x80
}

// kappa returns the value a kernel byte stands for.
func kappa(b uint8, signed bool) int32 {
	if signed {
		return int32(int8(b))
	}
	return int32(b)
}

// rowSource gives the micro-kernels the activation rows.
type rowSource interface {
	// fill sets the pointers of the rows [r0, r0+rows) in tiles of mr
	// rows: for row r0 + t·mr + r, ind[(t·ptrs + p)·mr + r] is the address
	// of its elements for pointer p (ptrs pointers a row); the last
	// tile's rows from rows on (past the end of the block) repeat row
	// r0+rows−1. Each address has 4·c4 readable elements (of the
	// geometry's size).
	fill(ind []unsafe.Pointer, r0, rows, mr int)
	// sums sets rho[r] = ρ of row r0+r (Σ_k κ over its K values), r < rows.
	sums(rho []int32, r0, rows int)
}

// matrixSource is the rows of a matrix: row r at base[r·stride:], or, for
// the rows from tail on (whose last quad would be read past the end of
// base), at pad[(r−tail)·4·c4·es:].
type matrixSource struct {
	base   []byte
	stride int
	tail   int
	pad    []byte
	buf    *[]byte // base, from bytePool (nil: base is the caller's)
	k, c4  int
	geo    geometry
	empty  [4]byte // what the pointers address when there is nothing to read
}

// newMatrixSource returns the rows×K matrix x (row stride ld) as the
// kernels of w read it: x itself when flip is 0 and the kernels read
// bytes, else a copy with every byte xor flip (and widened to 16 bits for
// the wide kernels).
func newMatrixSource(x []byte, rows, ld int, w *Weights, flip uint8) *matrixSource {
	s := &matrixSource{base: x, stride: ld, tail: rows, k: w.k, c4: w.c4, geo: w.geo}
	rowBytes := 4 * w.c4 * w.geo.es()
	if flip != 0 || w.geo.wide {
		s.buf = getBuf[byte](&bytePool, rows*rowBytes)
		s.base = *s.buf
		s.stride = rowBytes
		for r := range rows {
			row := s.base[r*rowBytes : (r+1)*rowBytes]
			if w.geo.wide {
				widenCopy(row, x[r*ld:r*ld+w.k], flip)
			} else {
				xorCopy(row, x[r*ld:r*ld+w.k], flip)
			}
			clear(row[w.k*w.geo.es():]) // the pooled buffer's old bytes
		}
		return s
	}
	for s.tail > 0 && (s.tail-1)*ld+rowBytes > len(x) {
		s.tail--
	}
	if s.tail < rows {
		s.pad = make([]byte, (rows-s.tail)*rowBytes)
		for r := s.tail; r < rows; r++ {
			copy(s.pad[(r-s.tail)*rowBytes:], x[r*ld:r*ld+w.k])
		}
	}
	return s
}

func (s *matrixSource) row(r int) []byte {
	n := 4 * s.c4 * s.geo.es()
	if n == 0 {
		return s.empty[:]
	}
	if r >= s.tail {
		return s.pad[(r-s.tail)*n : (r-s.tail+1)*n]
	}
	return s.base[r*s.stride : r*s.stride+n]
}

func (s *matrixSource) fill(ind []unsafe.Pointer, r0, rows, mr int) {
	ind = ind[:(rows+mr-1)/mr*mr]
	for r := range ind {
		ind[r] = unsafe.Pointer(unsafe.SliceData(s.row(r0 + min(r, rows-1))))
	}
}

func (s *matrixSource) sums(rho []int32, r0, rows int) {
	for r := range rows {
		rho[r] = s.geo.sum(s.row(r0+r), s.k)
	}
}

// parallelWork is the number of multiply-adds per goroutine below which a
// product is not split: about 2.5 µs of the VNNI kernels and 8-10 µs of
// the AVX2 ones, against 1-3 µs to hand a part to internal/par's spinning
// workers. (It was 2^26, then 2^22, which on AVX2 kept every layer of
// mobilenet_v2 at batch 1 from its fourth block on (1×1 products of
// 100-200 µs, depthwise ones of 40-140 µs) on one goroutine: per layer,
// two threads ran 1.00-1.05× one; at 2^19 1.6-2.0×, and the model's sum
// of layers 1.75-1.82× (1.23-1.31× at 2^22) when the VM's second core
// was free. At 2^19 the Fashion CNN's convolutions at batch 1 (0.9 M
// multiply-adds and less) stayed on one goroutine, and its int8 run on
// two threads fell behind its float one (whose few-channel convolutions
// split finer); at 2^18 that int8 run went 13.1-13.4k → 14.2-14.9k
// items/s (float: 16.0-16.4k), and at 2^17, which splits its 7×7
// convolutions (451k multiply-adds, 19-24 µs on one goroutine), 15.7k →
// 17.0k (resnet18, mobilenet_v2 and the encoder unchanged on two
// threads). Tests lower it to split small products.
var parallelWork = float64(1 << 17)

// blockBytes bounds the activation bytes a block of rows reads (the rows
// stay in L2 while the block runs down every panel of the weights).
const blockBytes = 192 << 10

// run computes the product of the m rows of src by w into e on up to
// threads goroutines: blocks of whole panels when the weights have at
// least as many columns as there are rows, else blocks of whole tiles of
// rows.
func run(threads int, w *Weights, src rowSource, e *epilogue, m int) {
	if m == 0 || w.n == 0 {
		return
	}
	mr, nr := w.geo.mr, w.geo.nr
	panels := (w.n + nr - 1) / nr
	tiles := (m + mr - 1) / mr
	byPanels := w.n >= m
	units := tiles
	if byPanels {
		units = panels
	}
	work := float64(m) * float64(w.n) * float64(max(w.k, 1))
	t := int(min(float64(threads), float64(units), work/parallelWork))
	if t <= 1 {
		runBlock(w, src, e, 0, m, 0, panels)
		return
	}
	par.Do(t, func(i int) {
		lo, hi := i*units/t, (i+1)*units/t
		i0, i1, p0, p1 := 0, m, lo, hi
		if !byPanels {
			i0, i1, p0, p1 = lo*mr, min(m, hi*mr), 0, panels
		}
		runBlock(w, src, e, i0, i1, p0, p1)
	})
}

// scratch is one goroutine's buffers: the pointers of a block's rows,
// their ρ, and the tiles of a group of rows; for a depthwise
// convolution, the pointers of its taps and the sums of a run of pixels.
type scratch struct {
	ind []unsafe.Pointer
	rho []int32
	// tiles holds the products of up to maxRun rows (row stride nr).
	tiles [maxRun * maxNR]int32
	sums  []int32
	f32   []float32 // float values on their way to codes (outFloatQuant)
	u8    []byte    // and their codes
}

var scratchPool sync.Pool // of *scratch

// getScratch returns a goroutine's scratch from the pool; scratchPool.Put
// returns it.
func getScratch() *scratch {
	if s, ok := scratchPool.Get().(*scratch); ok {
		return s
	}
	return new(scratch)
}

// runBlock computes the rows [i0, i1) of the output for the panels
// [p0, p1) of w.
func runBlock(w *Weights, src rowSource, e *epilogue, i0, i1, p0, p1 int) {
	mr, nr := w.geo.mr, w.geo.nr
	rowBytes := max(4*w.taps*w.c4*w.geo.es(), 1)
	mc := max(mr, blockBytes/rowBytes/mr*mr)
	// An activation or codes through floats are applied to a whole row
	// block once its panels are done (long runs: the kernels' set-up
	// costs as much as a tile's row), the block's floats kept in L2.
	c0, c1 := p0*nr, min(p1*nr, w.n) // the block's columns
	finish := e.kind == outFloatQuant || e.kind == outFloat && e.act != nil
	if finish {
		mc = min(mc, max(mr, finishFloats/(c1-c0)/mr*mr))
	}
	mc = min(mc, (i1-i0+mr-1)/mr*mr)
	s := getScratch()
	defer scratchPool.Put(s)
	te, dm := e, 0 // the tiles' epilogue, and its first row less the output's
	if e.kind == outFloatQuant {
		if cap(s.f32) < mc*(c1-c0) {
			s.f32, s.u8 = make([]float32, mc*(c1-c0)), make([]byte, mc*(c1-c0))
		}
		te = &epilogue{kind: outFloat, colTerm: e.colTerm, zp: e.zp, scale: e.scale, bias: e.bias, f32: s.f32, ld: c1 - c0, off: -c0}
	} else if finish {
		c := *e
		c.act = nil // finishBlock applies it
		te = &c
	}
	per := w.taps * mr // pointers per tile
	if need := mc / mr * per; cap(s.ind) < need {
		s.ind = make([]unsafe.Pointer, need)
	}
	if cap(s.rho) < mc {
		s.rho = make([]int32, mc)
	}
	ind, rho := s.ind[:mc/mr*per], s.rho[:mc]
	epiRows := maxRun / mr * mr
	quads := w.taps * w.c4
	panelLen := quads * nr * 4
	for ib := i0; ib < i1; ib += mc {
		ie := min(ib+mc, i1)
		if e.kind == outFloatQuant {
			dm = ib
		}
		src.fill(ind, ib, ie-ib, mr)
		if w.zp != nil {
			src.sums(rho, ib, ie-ib)
		}
		for p := p0; p < p1; p++ {
			wp := w.panel[p*panelLen : (p+1)*panelLen]
			n0 := p * nr
			nv := min(nr, w.n-n0)
			// The tiles of up to maxRun rows (ρ's bound) go through the
			// epilogue in one call: per tile, its set-up cost as much
			// as the work.
			for g := ib; g < ie; g += epiRows {
				ge := min(g+epiRows, ie)
				// The whole tiles in one call (their set-up and the
				// call cost as much as a tile of few quads), then the
				// last rows.
				t0, full := (g-ib)/mr, (ge-g)/mr
				if full > 0 {
					dotTiles(w.fam, full, w.taps, w.c4, ind[t0*per:(t0+full)*per], wp, s.tiles[:full*mr*nr])
				}
				if i := g + full*mr; i < ge {
					t := (i - ib) / mr
					dot(w.fam, ge-i, w.taps, w.c4, ind[t*per:(t+1)*per], wp, s.tiles[(i-g)*nr:])
				}
				te.tile(w.fam, s.tiles[:], nr, ge-g, g-dm, n0, nv, rho[g-ib:], s)
			}
		}
		if finish {
			e.finishBlock(s, ib, ie-ib, c0, c1)
		}
	}
	// The pointers must not keep the activations alive from the pool.
	clear(ind)
}
