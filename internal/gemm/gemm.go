// Package gemm is the float32 matrix multiply under packages layers and
// graph: the convolutions (through im2col), Linear, MatMul and Gemm spend
// nearly all their time here.
//
// The structure is the classic one of GotoBLAS and BLIS: the k dimension is
// cut into blocks of KC, B into column blocks of NC and A into row blocks of
// MC; each block is packed into contiguous panels (MR rows of A, NR columns
// of B, zero-padded at the edges) so that the micro-kernel streams through
// memory in order, and the micro-kernel keeps an MR×NR tile of C in vector
// registers for the whole depth of a k block.
//
// Each kernel family has its own micro-kernel: plain Go (the specification,
// compiled everywhere), AVX2+FMA and AVX-512 on amd64, NEON on arm64. The
// family comes from internal/cpufeat, like the other kernel packages. The
// families differ only in rounding: the assembly kernels fuse multiply and
// add, the Go kernel rounds twice, and the sums are associated in the same
// order (k ascending within a block, blocks ascending). Results never depend
// on the number of goroutines: each element of C is computed by exactly one
// of them, in the same order.
//
// Large products are split across GOMAXPROCS goroutines; small ones run on
// the caller's goroutine.
package gemm

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// Blocking parameters, chosen for 32-48 KiB L1 and 1-2 MiB L2 data caches:
// a kc×nr panel of B (16-48 KiB) stays in L1 while the micro-kernel runs
// down an mc×kc block of A (~200 KiB, in L2).
const (
	kc = 256
	nc = 3072 // a multiple of every family's nr
)

// parallelWork is the number of multiply-adds (m·n·k) per goroutine below
// which a product is not split: waking a parked core costs tens of
// microseconds, and on two idle cores a 256³ product (2^24) still ran
// faster on one.
const parallelWork = 1 << 24

// Sgemm computes C = op(A)·op(B), or C += op(A)·op(B) when accumulate is
// true, on row-major float32 matrices. op(A) is m×k: A itself (m×k, row
// stride lda) when transA is false, or the transpose of A (k×m, row stride
// lda) when transA is true. Likewise op(B) is k×n, B (k×n) or B transposed
// (B is n×k). C is m×n with row stride ldc. With k == 0 and accumulate
// false, C is zeroed.
//
// Sgemm is an internal routine: its callers check shapes, and it panics (as
// a BLAS does) when a dimension is negative, a leading dimension is too
// small or a slice is too short for the matrix it holds.
func Sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	checkMatrix("A", transA, m, k, a, lda)
	checkMatrix("B", transB, k, n, b, ldb)
	checkMatrix("C", false, m, n, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !accumulate {
			for i := range m {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	g := &gemmJob{
		kern: selectKernel(), transA: transA, transB: transB,
		m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
	}
	w := int(min(float64(runtime.GOMAXPROCS(0)), float64(m)*float64(n)*float64(k)/parallelWork))
	if w <= 1 {
		g.run(accumulate)
		return
	}
	// Split C into w blocks of whole tiles, along n when it is the longer
	// side, else along m; each goroutine packs and multiplies its own
	// block. Every element is still computed by one goroutine with the
	// same k order, so the split does not change a bit.
	var wg sync.WaitGroup
	for t := range w {
		sub := *g
		if n >= m {
			j0, j1 := split(n, g.kern.nr, w, t)
			if j0 == j1 {
				continue
			}
			sub.n, sub.c = j1-j0, c[j0:]
			if transB {
				sub.b = b[j0*ldb:]
			} else {
				sub.b = b[j0:]
			}
		} else {
			i0, i1 := split(m, g.kern.mr, w, t)
			if i0 == i1 {
				continue
			}
			sub.m, sub.c = i1-i0, c[i0*ldc:]
			if transA {
				sub.a = a[i0:]
			} else {
				sub.a = a[i0*lda:]
			}
		}
		if t == w-1 {
			sub.run(accumulate)
			break
		}
		wg.Go(func() { sub.run(accumulate) })
	}
	wg.Wait()
}

// split returns part t of w of [0, n), cut at multiples of unit.
func split(n, unit, w, t int) (lo, hi int) {
	units := (n + unit - 1) / unit
	return min(n, t*units/w*unit), min(n, (t+1)*units/w*unit)
}

// checkMatrix panics unless x can hold a rows×cols matrix (stored transposed
// when trans) with leading dimension ld.
func checkMatrix(name string, trans bool, rows, cols int, x []float32, ld int) {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("gemm: %s is %d×%d", name, rows, cols))
	}
	r, cl := rows, cols
	if trans {
		r, cl = cols, rows
	}
	if ld < max(cl, 1) {
		panic(fmt.Sprintf("gemm: %s has %d columns but leading dimension %d", name, cl, ld))
	}
	if r > 0 && cl > 0 && len(x) < (r-1)*ld+cl {
		panic(fmt.Sprintf("gemm: %s (%d×%d, ld %d) needs %d elements, has %d", name, r, cl, ld, (r-1)*ld+cl, len(x)))
	}
}

// kernel describes one family's micro-kernel: it multiplies an mr×kc packed
// panel of A by a kc×nr packed panel of B into an mr×nr tile of C.
type kernel struct {
	impl   cpufeat.Impl
	mr, nr int
	mc     int // rows of A per block, a multiple of mr
}

type gemmJob struct {
	kern           kernel
	transA, transB bool
	m, n, k        int
	a, b, c        []float32
	lda, ldb, ldc  int
}

// Packing buffers for A and B, reused across calls.
var aPool, bPool sync.Pool // of *[]float32

func getBuf(pool *sync.Pool, n int) *[]float32 {
	if p, ok := pool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

func roundUp(n, m int) int { return (n + m - 1) / m * m }

func (g *gemmJob) run(accumulate bool) {
	kern := g.kern
	kmax := min(kc, g.k)
	bp := getBuf(&bPool, kmax*roundUp(min(nc, g.n), kern.nr))
	ap := getBuf(&aPool, kmax*min(kern.mc, roundUp(g.m, kern.mr)))
	defer bPool.Put(bp)
	defer aPool.Put(ap)
	for jc := 0; jc < g.n; jc += nc {
		ncb := min(nc, g.n-jc)
		for pc := 0; pc < g.k; pc += kc {
			kcb := min(kc, g.k-pc)
			acc := accumulate || pc > 0
			pack(*bp, g.b, g.ldb, g.transB, jc, pc, ncb, kcb, kern.nr)
			for ic := 0; ic < g.m; ic += kern.mc {
				mcb := min(kern.mc, g.m-ic)
				pack(*ap, g.a, g.lda, !g.transA, ic, pc, mcb, kcb, kern.mr)
				g.macro(*ap, *bp, ic, jc, mcb, ncb, kcb, acc)
			}
		}
	}
}

// macro runs the micro-kernel over the packed mcb×kcb block of A and the
// packed kcb×ncb block of B, writing C[ic:, jc:].
func (g *gemmJob) macro(ap, bp []float32, ic, jc, mcb, ncb, kcb int, acc bool) {
	mr, nr := g.kern.mr, g.kern.nr
	var edge [maxTile]float32
	for j := 0; j < ncb; j += nr {
		jp := j / nr
		nv := min(nr, ncb-j)
		bpan := bp[jp*kcb*nr : (jp+1)*kcb*nr]
		for i := 0; i < mcb; i += mr {
			mv := min(mr, mcb-i)
			apan := ap[(i/mr)*kcb*mr : (i/mr+1)*kcb*mr]
			off := (ic+i)*g.ldc + jc + j
			if mv == mr && nv == nr {
				microKernel(g.kern.impl, kcb, apan, bpan, g.c[off:off+(mr-1)*g.ldc+nr], g.ldc, acc)
				continue
			}
			t := edge[:mr*nr]
			microKernel(g.kern.impl, kcb, apan, bpan, t, nr, false)
			for r := range mv {
				crow := g.c[off+r*g.ldc : off+r*g.ldc+nv]
				trow := t[r*nr : r*nr+nv]
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
}

// pack copies a block of lines×kcb values into panels of w lines: panel q
// holds, for each of the kcb depth steps in turn, the w values of lines
// q·w … q·w+w-1, zero past the last line. The lines are the rows of op(A)
// (w = mr) or the columns of op(B) (w = nr). Line i at depth p is
// x[(line0+i)·ld + depth0 + p] when lineMajor (A, or B transposed), else
// x[(depth0+p)·ld + line0 + i].
func pack(dst, x []float32, ld int, lineMajor bool, line0, depth0, lines, kcb, w int) {
	for l0 := 0; l0 < lines; l0 += w {
		v := min(w, lines-l0)
		pan := dst[(l0/w)*kcb*w : (l0/w+1)*kcb*w]
		if lineMajor {
			interleave(pan, x, ld, line0+l0, depth0, v, w, kcb)
			continue
		}
		for p := range kcb {
			d := pan[p*w : p*w+w]
			copy(d, x[(depth0+p)*ld+line0+l0:][:v])
			clear(d[v:])
		}
	}
}

// interleave writes pan[p·w + r] = x[(row0+r)·ld + col0 + p] for r < v and
// p < kcb, and 0 for v <= r < w: v rows of x, each read in order, become
// the columns of a kcb×w panel. Four rows go at a time.
func interleave(pan, x []float32, ld, row0, col0, v, w, kcb int) {
	pan = pan[:kcb*w]
	if v < w {
		clear(pan)
	}
	r := 0
	for ; r+4 <= v; r += 4 {
		s0 := x[(row0+r)*ld+col0:][:kcb]
		s1 := x[(row0+r+1)*ld+col0:][:len(s0)]
		s2 := x[(row0+r+2)*ld+col0:][:len(s0)]
		s3 := x[(row0+r+3)*ld+col0:][:len(s0)]
		for p, v0 := range s0 {
			d := pan[p*w+r : p*w+r+4 : p*w+r+4]
			d[0], d[1], d[2], d[3] = v0, s1[p], s2[p], s3[p]
		}
	}
	for ; r < v; r++ {
		for p, v0 := range x[(row0+r)*ld+col0:][:kcb] {
			pan[p*w+r] = v0
		}
	}
}
