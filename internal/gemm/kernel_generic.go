package gemm

// Shape of the pure-Go micro-kernel: 2×4 keeps its 8 accumulators and the
// 6 values of a step in registers (amd64 has 15 for floats; a 4×4 tile
// spills and runs at a third of the speed).
const (
	mrGeneric = 2
	nrGeneric = 4
)

// maxTile is the largest mr·nr of any family (the edge-tile scratch size).
const maxTile = 8 * 32

// kernelGeneric is the specification of every micro-kernel: for the packed
// panels a (k columns of mr = 2 values) and b (k rows of nr = 4 values) it
// computes the 2×4 tile t[i][j] = sum over p of a[p][i]·b[p][j], summing p
// in ascending order, and stores it into c (row stride ldc), added to what
// c holds when acc is true. Each product is rounded before it is added
// (the assembly kernels fuse the two).
func kernelGeneric(k int, a, b, c []float32, ldc int, acc bool) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	a = a[:2*k]
	b = b[:4*k]
	for p := range k {
		ap := a[2*p : 2*p+2 : 2*p+2]
		bp := b[4*p : 4*p+4 : 4*p+4]
		a0, a1 := ap[0], ap[1]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += float32(a0 * b0)
		c01 += float32(a0 * b1)
		c02 += float32(a0 * b2)
		c03 += float32(a0 * b3)
		c10 += float32(a1 * b0)
		c11 += float32(a1 * b1)
		c12 += float32(a1 * b2)
		c13 += float32(a1 * b3)
	}
	r0 := c[0:4:4]
	r1 := c[ldc : ldc+4 : ldc+4]
	if acc {
		c00, c01, c02, c03 = c00+r0[0], c01+r0[1], c02+r0[2], c03+r0[3]
		c10, c11, c12, c13 = c10+r1[0], c11+r1[1], c12+r1[2], c13+r1[3]
	}
	r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
	r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
}
