package gemm

import "fmt"

// side says which operand of a product a Packed is.
type side uint8

const (
	sideA side = iota
	sideB
)

// Packed is an operand of Gemm packed once into the panel layout of one
// kernel family's micro-kernel, for the products that reuse it — a
// layer's weights: the A side of a convolution ([Cout, Cin·k·k]), the B
// side of a MatMul or Gemm weight ([K, N]). Packing is what Gemm
// otherwise does on every call; a packed operand skips it.
//
// The layout is Gemm's: the k dimension in blocks of kc, and within a
// block, panels of mr rows of A (nr columns of B), each kcb steps of mr
// (nr) values, zero-padded past the last row (column). A Packed is
// read-only once made and safe for concurrent use.
type Packed struct {
	kern       kernel
	side       side
	rows, cols int // m×k for A, k×n for B
	width      int // m or n rounded up to the panel width
	data       []float32
}

// PackA packs op(A), m×k: A (row stride lda) or, when transA, the
// transpose of A (k×m, row stride lda), for the kernel family selected
// now. It panics on inconsistent dimensions, as Sgemm does.
func PackA(transA bool, m, k int, a []float32, lda int) *Packed {
	checkMatrix("A", transA, m, k, a, lda)
	kern := selectKernel()
	p := &Packed{kern: kern, side: sideA, rows: m, cols: k, width: roundUp(m, kern.mr)}
	p.data = make([]float32, p.width*k)
	for pc := 0; pc < k; pc += kc {
		kcb := min(kc, k-pc)
		pack(p.data[pc*p.width:], a, lda, !transA, 0, pc, m, kcb, kern.mr)
	}
	return p
}

// PackB packs op(B), k×n: B (row stride ldb) or, when transB, the
// transpose of B (n×k, row stride ldb), for the kernel family selected
// now. It panics on inconsistent dimensions, as Sgemm does.
func PackB(transB bool, k, n int, b []float32, ldb int) *Packed {
	checkMatrix("B", transB, k, n, b, ldb)
	kern := selectKernel()
	p := &Packed{kern: kern, side: sideB, rows: k, cols: n, width: roundUp(n, kern.nr)}
	p.data = make([]float32, p.width*k)
	for pc := 0; pc < k; pc += kc {
		kcb := min(kc, k-pc)
		pack(p.data[pc*p.width:], b, ldb, transB, 0, pc, n, kcb, kern.nr)
	}
	return p
}

// Rows and Cols return the shape of the packed matrix: m×k for A, k×n
// for B.
func (p *Packed) Rows() int { return p.rows }

// Cols returns the packed matrix's number of columns (see Rows).
func (p *Packed) Cols() int { return p.cols }

// Len returns the number of float32 values the packed operand holds
// (its memory is 4·Len bytes): the matrix padded to whole panels.
func (p *Packed) Len() int { return len(p.data) }

// String describes the operand ("A 64×576 packed for avx512").
func (p *Packed) String() string {
	return fmt.Sprintf("%c %d×%d packed for %v", "AB"[p.side], p.rows, p.cols, p.kern.impl)
}

// block returns the packed panels of depth block pc (a multiple of kc)
// that hold lines [l0, l0+n) (rows of A or columns of B; l0 a multiple of
// the panel width).
func (p *Packed) block(pc, l0, n int) []float32 {
	w := p.kern.mr
	if p.side == sideB {
		w = p.kern.nr
	}
	kcb := min(kc, p.depth()-pc)
	start := pc*p.width + l0*kcb
	return p.data[start : start+roundUp(n, w)*kcb]
}

// depth returns k, the dimension the product sums over.
func (p *Packed) depth() int {
	if p.side == sideA {
		return p.cols
	}
	return p.rows
}
