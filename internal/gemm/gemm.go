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
// Sgemm is the BLAS-style entry point. Gemm takes the same product as
// Params, with what layers of a network need besides: operands packed
// once in advance (PackA, PackB: a layer's weights), B packed on demand
// by the caller (a convolution's im2col, written straight into the panel
// layout, never stored whole), an Epilogue applied to each tile of C as
// soon as its sums are complete (bias per row or column, a residual, an
// activation), and an explicit bound on the goroutines (Params.Threads;
// Sgemm uses GOMAXPROCS). Large products are split across goroutines,
// small ones run on the caller's.
package gemm

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/par"
	"github.com/tensorquant/tensorquant/internal/vec"
)

// Blocking parameters, chosen for 32-48 KiB L1 and 1-2 MiB L2 data caches:
// a kc×nr panel of B (16-48 KiB) stays in L1 while the micro-kernel runs
// down an mc×kc block of A (~200 KiB, in L2).
const (
	kc = DepthBlock
	nc = 3072 // a multiple of every family's nr
)

// parallelWork is the number of multiply-adds (m·n·k) per goroutine below
// which a product is not split: waking a parked core costs microseconds.
// On the 2-core AVX2-only EPYC of session 10 a lone 128³ product (2^21)
// took as long on two goroutines as on one, a 96×3136×24 one (a
// MobileNetV2 1×1 convolution) 1.15× less, 256³ 1.4× less; batch-1 runs
// on two threads gained 23-28% (mobilenet_v2, efficientnet_b0) and 15%
// (the encoder) from 2^24 to 2^21. A product of fewer than gemvRows rows
// counts as gemvRows: it streams its n·k weights from memory for few
// multiply-adds each (a classifier at batch 1, 1×1280×1000, took 0.25 ms
// on one goroutine, 0.13 on two).
var parallelWork = float64(1 << 21) // a variable for the tests

// gemvRows is the fewest rows a product's work counts (parallelWork).
const gemvRows = 8

// Sgemm computes C = op(A)·op(B), or C += op(A)·op(B) when accumulate is
// true, on row-major float32 matrices. op(A) is m×k: A itself (m×k, row
// stride lda) when transA is false, or the transpose of A (k×m, row stride
// lda) when transA is true. Likewise op(B) is k×n, B (k×n) or B transposed
// (B is n×k). C is m×n with row stride ldc. With k == 0 and accumulate
// false, C is zeroed. Large products are split across GOMAXPROCS
// goroutines (Gemm takes an explicit bound).
//
// Sgemm is an internal routine: its callers check shapes, and it panics (as
// a BLAS does) when a dimension is negative, a leading dimension is too
// small or a slice is too short for the matrix it holds.
func Sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	Gemm(&Params{M: m, N: n, K: k, A: a, LdA: lda, TransA: transA, B: b, LdB: ldb, TransB: transB, C: c, LdC: ldc, Accumulate: accumulate})
}

// Params describes one product for Gemm: C = op(A)·op(B) (plus C when
// Accumulate), then the Epilogue, with op(A) m×k, op(B) k×n and C m×n.
//
// A is given either as a matrix (A, LdA, TransA, as for Sgemm) or packed
// in advance (PackedA, from PackA). B is a matrix (B, LdB, TransB), packed
// in advance (PackedB, from PackB), or packed on demand by the caller
// (PackB: the implicit GEMM of a convolution, whose B is an im2col matrix
// that is never stored whole).
type Params struct {
	M, N, K int

	A       []float32
	LdA     int
	TransA  bool
	PackedA *Packed

	B       []float32
	LdB     int
	TransB  bool
	PackedB *Packed
	// PackB, when not nil, writes rows [k0, k0+kn) and columns [j0,
	// j0+jn) of op(B) into dst in the panel layout of the micro-kernel:
	// panels of nr columns (the last one zero-padded to nr), each kn rows
	// of nr values, so that element (k0+p, j0+q·nr+r) goes to
	// dst[q·kn·nr + p·nr + r]. Gemm calls it from several goroutines at
	// once (on disjoint column ranges) when it splits the product.
	PackB func(dst []float32, nr, k0, kn, j0, jn int)

	C          []float32
	LdC        int
	Accumulate bool
	// Epilogue, when not nil, finishes every element of C once its sum
	// is complete, while the tile is still in cache.
	Epilogue *Epilogue
	// Threads bounds the goroutines the product may use (the caller's
	// included); 0 means runtime.GOMAXPROCS(0). Results do not depend on
	// it.
	Threads int
}

// Gemm computes the product p describes. Each element of C is summed over
// k in ascending order by exactly one goroutine, so the result depends
// neither on Threads nor on whether an operand was packed in advance:
// Gemm with packed operands gives Sgemm's bits, provided they were packed
// under the kernel family Sgemm runs (a packed operand fixes the family
// of its product; two packed operands of different families panic).
//
// Like Sgemm it panics on inconsistent dimensions, leading dimensions or
// slice lengths, and when A or B is given in none or more than one form.
func Gemm(p *Params) {
	g := newJob(p)
	m, n := p.M, p.N
	if m == 0 || n == 0 {
		return
	}
	if p.K == 0 {
		for i := range m {
			row := p.C[i*p.LdC : i*p.LdC+n]
			if !p.Accumulate {
				clear(row)
			}
			if p.Epilogue != nil {
				p.Epilogue.apply(row, i, 0)
			}
		}
		return
	}
	threads := p.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	w := int(min(float64(threads), float64(max(m, gemvRows))*float64(n)*float64(p.K)/parallelWork))
	if w <= 1 {
		g.run(0, m, 0, n)
		return
	}
	// Split C into w blocks of whole tiles, along n when it is the longer
	// side, else along m; each goroutine (internal/par's workers) packs
	// and multiplies its own block. Every element is still computed by
	// one goroutine with the same k order, so the split does not change a
	// bit.
	par.Do(w, func(t int) {
		i0, i1, j0, j1 := 0, m, 0, n
		if n >= m {
			j0, j1 = split(n, g.kern.nr, w, t)
		} else {
			i0, i1 = split(m, g.kern.mr, w, t)
		}
		if i0 < i1 && j0 < j1 {
			g.run(i0, i1, j0, j1)
		}
	})
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

// gemmJob is a checked Params with the kernel that runs it.
type gemmJob struct {
	*Params
	kern kernel
	// tileEp is the epilogue applied to each tile: the Epilogue, or, when
	// its activation is a Func kernel, the Epilogue without it, and post
	// is that kernel, run once over each row of a finished block (one
	// call on up to nc elements, not one per row of each micro-tile; the
	// tile's bias and clamp stay fusable into the micro-kernel).
	tileEp *Epilogue
	post   func(dst, src []float32)
}

// newJob checks p and picks the kernel: the family of a packed operand,
// else the selected one.
func newJob(p *Params) *gemmJob {
	g := &gemmJob{Params: p, kern: selectKernel()}
	switch {
	case p.PackedA != nil && p.PackedB != nil && p.PackedA.kern != p.PackedB.kern:
		panic(fmt.Sprintf("gemm: A is packed for %v, B for %v", p.PackedA.kern.impl, p.PackedB.kern.impl))
	case p.PackedA != nil:
		g.kern = p.PackedA.kern
	case p.PackedB != nil:
		g.kern = p.PackedB.kern
	}
	if p.M < 0 || p.N < 0 || p.K < 0 {
		panic(fmt.Sprintf("gemm: product of %d×%d and %d×%d", p.M, p.K, p.K, p.N))
	}
	if p.PackedA != nil {
		if p.A != nil || p.PackedA.side != sideA || p.PackedA.rows != p.M || p.PackedA.cols != p.K {
			panic(fmt.Sprintf("gemm: A is packed as %v, the product wants A %d×%d (and no plain A)", p.PackedA, p.M, p.K))
		}
	} else {
		checkMatrix("A", p.TransA, p.M, p.K, p.A, p.LdA)
	}
	switch {
	case p.PackedB != nil:
		if p.B != nil || p.PackB != nil || p.PackedB.side != sideB || p.PackedB.rows != p.K || p.PackedB.cols != p.N {
			panic(fmt.Sprintf("gemm: B is packed as %v, the product wants B %d×%d (and no other B)", p.PackedB, p.K, p.N))
		}
	case p.PackB != nil:
		if p.B != nil {
			panic("gemm: B given both as a matrix and as a packing function")
		}
	default:
		checkMatrix("B", p.TransB, p.K, p.N, p.B, p.LdB)
	}
	checkMatrix("C", false, p.M, p.N, p.C, p.LdC)
	if p.Epilogue != nil {
		p.Epilogue.check(p.M, p.N)
	}
	g.tileEp = p.Epilogue
	if e := p.Epilogue; e != nil && e.Act.Kind == vec.Func {
		tile := *e
		tile.Act = vec.Act{}
		g.tileEp, g.post = &tile, e.Act.Func
	}
	return g
}

// DepthBlock is the block of the depth (K) the GEMM sums at a time: each
// block's products are summed from zero (each product fused into the sum,
// in ascending order, by the assembly kernels) and the block's sum added
// to C, so that a kernel computing the same elements another way gets
// the same bits only by summing the same blocks (internal/nn's
// convolutions of few channels do).
const DepthBlock = 256

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

// run computes rows [i0, i1) and columns [j0, j1) of C, i0 a multiple of
// mr and j0 of nr (so that packed operands split at panel boundaries).
//
// When the rows are one block of A and B is packed here, B is packed a
// few panels at a time, each right before the micro-kernel runs over it:
// the panels are still in L1 and L2 when they are read, where a whole
// kc×nc block would have gone out to L3 in between (a convolution's
// weights against its im2col columns: M is the output channels, often
// at most mc).
func (g *gemmJob) run(i0, i1, j0, j1 int) {
	kern := g.kern
	kmax := min(kc, g.K)
	oneBlock := i1-i0 <= kern.mc && g.PackedB == nil
	bcols := min(nc, j1-j0)
	if oneBlock {
		bcols = min(bcols, chunkPanels*kern.nr)
	}
	var bp, ap *[]float32
	if g.PackedB == nil {
		bp = getBuf(&bPool, kmax*roundUp(bcols, kern.nr))
		defer bPool.Put(bp)
	}
	if g.PackedA == nil {
		ap = getBuf(&aPool, kmax*min(kern.mc, roundUp(i1-i0, kern.mr)))
		defer aPool.Put(ap)
	}
	for jc := j0; jc < j1; jc += nc {
		ncb := min(nc, j1-jc)
		for pc := 0; pc < g.K; pc += kc {
			kcb := min(kc, g.K-pc)
			acc, last := g.Accumulate || pc > 0, pc+kcb == g.K
			if oneBlock {
				ablk := g.blockA(ap, i0, pc, i1-i0, kcb)
				for jb := jc; jb < jc+ncb; jb += bcols {
					w := min(bcols, jc+ncb-jb)
					g.macro(ablk, g.blockB(bp, jb, pc, w, kcb), i0, jb, i1-i0, w, kcb, acc, last)
				}
				if last {
					g.finishBlock(i0, i1, jc, ncb)
				}
				continue
			}
			bblk := g.blockB(bp, jc, pc, ncb, kcb)
			for ic := i0; ic < i1; ic += kern.mc {
				mcb := min(kern.mc, i1-ic)
				g.macro(g.blockA(ap, ic, pc, mcb, kcb), bblk, ic, jc, mcb, ncb, kcb, acc, last)
				if last {
					g.finishBlock(ic, ic+mcb, jc, ncb)
				}
			}
		}
	}
}

// chunkPanels is how many panels of B run packs at a time when the rows
// are one block of A.
const chunkPanels = 4

// blockB returns the packed panels of rows [pc, pc+kcb) and columns [jc,
// jc+w) of op(B): a block of PackedB, or those panels packed into *bp.
func (g *gemmJob) blockB(bp *[]float32, jc, pc, w, kcb int) []float32 {
	nr := g.kern.nr
	switch {
	case g.PackedB != nil:
		return g.PackedB.block(pc, jc, w)
	case g.PackB != nil:
		blk := (*bp)[:kcb*roundUp(w, nr)]
		g.PackB(blk, nr, pc, kcb, jc, w)
		return blk
	}
	blk := *bp
	pack(blk, g.B, g.LdB, g.TransB, jc, pc, w, kcb, nr)
	return blk
}

// blockA returns the packed panels of rows [ic, ic+mcb) and columns [pc,
// pc+kcb) of op(A): a block of PackedA, or those panels packed into *ap.
func (g *gemmJob) blockA(ap *[]float32, ic, pc, mcb, kcb int) []float32 {
	if g.PackedA != nil {
		return g.PackedA.block(pc, ic, mcb)
	}
	blk := *ap
	pack(blk, g.A, g.LdA, !g.TransA, ic, pc, mcb, kcb, g.kern.mr)
	return blk
}

// macro runs the micro-kernel over the packed mcb×kcb block of A and the
// packed kcb×ncb block of B, writing C[ic:, jc:], and applies tileEp to
// each tile when last (its sums are complete).
func (g *gemmJob) macro(ap, bp []float32, ic, jc, mcb, ncb, kcb int, acc, last bool) {
	mr, nr := g.kern.mr, g.kern.nr
	ldc, c := g.LdC, g.C
	ep := g.tileEp
	if !last {
		ep = nil
	}

	var edge [maxTile]float32
	fin, fused := fuseFinish(g.kern, ep)
	for j := 0; j < ncb; j += nr {
		jp := j / nr
		nv := min(nr, ncb-j)
		bpan := bp[jp*kcb*nr : (jp+1)*kcb*nr]
		i := 0
		if nv == nr {
			// The panel's whole column of tiles in one call.
			off := ic*ldc + jc + j
			ct := c[off : off+(mcb-1)*ldc+nr]
			if fused {
				microKernelFinish(g.kern, ep, &fin, kcb, ap, bpan, ct, ldc, acc, ic, jc+j, mcb)
			} else {
				microKernelTiles(g.kern, kcb, ap, bpan, ct, ldc, acc, mcb)
				if ep != nil {
					for t := 0; t < mcb; t += mr {
						ep.applyTile(c[off+t*ldc:], ldc, min(mr, mcb-t), nr, ic+t, jc+j)
					}
				}
			}
			i = mcb
		}
		for ; i < mcb; i += mr {
			mv := min(mr, mcb-i)
			apan := ap[(i/mr)*kcb*mr : (i/mr+1)*kcb*mr]
			off := (ic+i)*ldc + jc + j
			// A tile of a partial panel of B: computed whole into edge,
			// its part copied.
			t := edge[:mr*nr]
			microKernel(g.kern.impl, kcb, apan, bpan, t, nr, false)
			for r := range mv {
				crow := c[off+r*ldc : off+r*ldc+nv]
				trow := t[r*nr : r*nr+nv]
				if acc {
					for q, v := range trow {
						crow[q] += v
					}
				} else {
					copy(crow, trow)
				}
			}
			if ep != nil {
				ep.applyTile(c[off:], ldc, mv, nv, ic+i, jc+j)
			}
		}
	}
}

// finishBlock applies post (the epilogue's Func activation) to rows [i0,
// i1) and columns [jc, jc+ncb) of C, whose sums and tile epilogue are
// complete: once per row (once for the whole block when its rows are
// contiguous).
func (g *gemmJob) finishBlock(i0, i1, jc, ncb int) {
	if g.post == nil {
		return
	}
	ldc, c := g.LdC, g.C
	if ncb == ldc {
		// The block's rows are contiguous (a matrix-vector product's
		// column, a narrow C): one run.
		blk := c[i0*ldc:][:(i1-i0)*ldc]
		g.post(blk, blk)
		return
	}
	for r := i0; r < i1; r++ {
		row := c[r*ldc+jc:][:ncb]
		g.post(row, row)
	}
}

// transposeGeneric sets dst[p·ldd + r] = src[r·lds + p] for r < 8 and
// p < n: 8 rows of src become the first 8 values of n rows of dst.
func transposeGeneric(dst []float32, ldd int, src []float32, lds int, n int) {
	if n == 0 {
		return
	}
	s0 := src[:n]
	s1, s2, s3 := src[lds:][:n], src[2*lds:][:n], src[3*lds:][:n]
	s4, s5, s6, s7 := src[4*lds:][:n], src[5*lds:][:n], src[6*lds:][:n], src[7*lds:][:n]
	for p, v0 := range s0 {
		d := dst[p*ldd : p*ldd+8 : p*ldd+8]
		d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7] = v0, s1[p], s2[p], s3[p], s4[p], s5[p], s6[p], s7[p]
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
// the columns of a kcb×w panel. Six rows into a panel of 6 go through
// transpose6Blocks first (the blocks of 8 columns); eight rows go at a
// time through transposeBlocks (the blocks of 8 columns) and
// transposeGeneric (the rest), then four at a time, then one.
func interleave(pan, x []float32, ld, row0, col0, v, w, kcb int) {
	pan = pan[:kcb*w]
	if v < w {
		clear(pan)
	}
	if v == 6 && w == 6 {
		// The AVX2 family's panels of A: whole blocks of 8 columns by
		// transpose6Blocks, the rest below.
		n := transpose6Blocks(pan, x[row0*ld+col0:], ld, kcb)
		pan, col0, kcb = pan[n*w:], col0+n, kcb-n
	}
	r := 0
	for ; r+8 <= v; r += 8 {
		src := x[(row0+r)*ld+col0:]
		if n := transposeBlocks(pan[r:], w, src, ld, kcb); n < kcb {
			transposeGeneric(pan[n*w+r:], w, src[n:], ld, kcb-n)
		}
	}
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
