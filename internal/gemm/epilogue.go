package gemm

import (
	"fmt"

	"github.com/tensorquant/tensorquant/internal/vec"
)

// Epilogue is what Gemm does to each element of C once its sum is
// complete, tile by tile while the tile is in cache: a fused layer's bias,
// residual and activation. In order, for element (i, j):
//
//	c = sum (+ the old C when accumulating)
//	c += RowBias[i]          (when RowBias is not nil), or
//	c += ColBias[j]          (when ColBias is not nil)
//	c += Add[i·LdAdd + j]    (when Add is not nil)
//	c = Act(c)               (vec.Act: none, Relu, Clip, or a kernel)
//
// each operation rounded to float32, so that the result equals the
// unfused sequence (the GEMM, then an element-wise bias add, residual add
// and activation) bit for bit. Add must not overlap C: C holds the sums
// before the epilogue reads Add.
type Epilogue struct {
	RowBias, ColBias []float32
	Add              []float32
	LdAdd            int
	// Act is applied in place to runs of consecutive elements of a row
	// of C; a Func kernel must compute each element from that element
	// alone, as the float32 kernel of an element-wise op does.
	Act vec.Act
}

// check panics unless the epilogue's operands fit an m×n product.
func (e *Epilogue) check(m, n int) {
	if e.RowBias != nil && e.ColBias != nil {
		panic("gemm: epilogue with both a row and a column bias")
	}
	if e.RowBias != nil && len(e.RowBias) < m {
		panic(fmt.Sprintf("gemm: epilogue row bias has %d values for %d rows", len(e.RowBias), m))
	}
	if e.ColBias != nil && len(e.ColBias) < n {
		panic(fmt.Sprintf("gemm: epilogue column bias has %d values for %d columns", len(e.ColBias), n))
	}
	if e.Add != nil {
		checkMatrix("epilogue Add", false, m, n, e.Add, e.LdAdd)
	}
}

// Apply finishes seg, the elements of row i of C from column j on, in
// place as Gemm does. It is exported for callers that finish part of a
// product themselves (a convolution that scatters the columns of C).
func (e *Epilogue) Apply(seg []float32, i, j int) { e.apply(seg, i, j) }

// applyTile finishes the rows×cols tile of C at c (row stride ldc) whose
// first element is (i, j), as apply does row by row.
func (e *Epilogue) applyTile(c []float32, ldc, rows, cols, i, j int) {
	if e.ColBias != nil {
		for r := range rows {
			e.apply(c[r*ldc:r*ldc+cols], i+r, j)
		}
		return
	}
	var bias, add []float32
	if e.RowBias != nil {
		bias = e.RowBias[i : i+rows]
	}
	if e.Add != nil {
		add = e.Add[i*e.LdAdd+j:]
	}
	vec.FinishTile(c, ldc, rows, cols, bias, add, e.LdAdd, &e.Act)
}

func (e *Epilogue) apply(seg []float32, i, j int) {
	var add []float32
	if e.Add != nil {
		add = e.Add[i*e.LdAdd+j:][:len(seg)]
	}
	if e.ColBias != nil {
		cb := e.ColBias[j : j+len(seg)]
		for q := range seg {
			seg[q] += cb[q]
		}
	}
	var b float32
	if e.RowBias != nil {
		b = e.RowBias[i]
	}
	vec.Finish(seg, b, e.RowBias != nil, add, &e.Act)
}

// tileFinish is an epilogue that the micro-kernel of a whole tile can
// apply itself before it stores the tile (microKernelFinish): a bias per
// row or none, and a clamp (vec.Act.Clamp); no column bias, residual or
// Func kernel.
type tileFinish struct {
	rowBias      []float32
	lo, hi, zfix float32
	sfix         uint32
}

// noRowBias is the bias of the rows of a block of A without one (at most
// any family's mc rows): -0 adds nothing.
var noRowBias = func() (b [256]float32) {
	for i := range b {
		b[i] = vec.NegZero
	}
	return b
}()

// fuseFinish returns ep as a tileFinish for kern, and whether kern's
// family has a micro-kernel that applies it (hasFinishKernel).
func fuseFinish(kern kernel, ep *Epilogue) (tileFinish, bool) {
	if ep == nil || ep.ColBias != nil || ep.Add != nil || !hasFinishKernel(kern.impl) || kern.mc > len(noRowBias) {
		return tileFinish{}, false
	}
	lo, hi, zfix, sfix, ok := ep.Act.Clamp()
	return tileFinish{ep.RowBias, lo, hi, zfix, sfix}, ok
}

// biasOf returns the biases of the rows [i, i+rows) of C: noRowBias
// without a bias.
func (f *tileFinish) biasOf(i, rows int) []float32 {
	if f.rowBias == nil {
		return noRowBias[:rows]
	}
	return f.rowBias[i : i+rows]
}

// finishTileGeneric is the specification of the micro-kernels with a
// fused epilogue: for each tile of rows rows one below the other, the
// micro-kernel of kern's family (tilesGeneric), then the epilogue on
// the tile's rows, the first element of the tile at row t·mr being
// (i+t·mr, j) of C.
func finishTileGeneric(kern kernel, ep *Epilogue, k int, a, b, c []float32, ldc int, acc bool, i, j, rows int) {
	mr, nr := kern.mr, kern.nr
	for t := 0; t*mr < rows; t++ {
		mv := min(mr, rows-t*mr)
		ct := c[t*mr*ldc:]
		tilesGeneric(kern, k, a[t*k*mr:(t+1)*k*mr], b, ct, ldc, acc, mv)
		ep.applyTile(ct, ldc, mv, nr, i+t*mr, j)
	}
}

// tilesGeneric is microKernelTiles one tile at a time: a whole tile by
// microKernel, the last one's rows (when fewer than mr) computed whole
// into a scratch tile and copied (added, when acc) into c.
func tilesGeneric(kern kernel, k int, a, b, c []float32, ldc int, acc bool, rows int) {
	mr, nr := kern.mr, kern.nr
	for t := 0; t*mr < rows; t++ {
		at, ct := a[t*k*mr:(t+1)*k*mr], c[t*mr*ldc:]
		mv := rows - t*mr
		if mv >= mr {
			microKernel(kern.impl, k, at, b, ct, ldc, acc)
			continue
		}
		var edge [maxTile]float32
		tile := edge[:mr*nr]
		microKernel(kern.impl, k, at, b, tile, nr, false)
		for r := range mv {
			crow, trow := ct[r*ldc:r*ldc+nr], tile[r*nr:r*nr+nr]
			if acc {
				for q, v := range trow {
					crow[q] += v
				}
			} else {
				copy(crow, trow)
			}
		}
	}
}
