package qgemm

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
)

// Int8 is the element type of quantized tensors: int8 or uint8.
type Int8 interface{ ~int8 | ~uint8 }

// MaxK is the largest depth (K, or channels per group × kernel taps) a
// product may have: beyond it, 255²·K no longer fits in an int32 and the
// accumulation would not be exact.
const MaxK = 33025

// maxElems bounds every dimension and buffer of this package, so that
// sizes never overflow an int (their products are checked in int64).
const maxElems = math.MaxInt32

// ErrShape is wrapped by every error about dimensions that do not fit
// together or are out of range.
var ErrShape = errors.New("qgemm: bad shape")

func shapeErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrShape}, args...)...)
}

// Weights is the weight operand of a product, K×N with one zero point per
// column, packed once for the kernel family selected when it was packed
// (it is multiplied with that family's kernels for as long as it lives).
// A Weights is read-only once packed and may be used by any number of
// goroutines at once.
type Weights struct {
	k, n    int
	taps, c int // k = taps·c: one tap of c rows of B per pointer of a row
	c4      int // quads of k per tap: ceil(c/4)
	fam     family
	geo     geometry
	// panel holds ceil(n/nr) panels; panel p holds, for each tap t and
	// quad q < c4 in turn, nr columns of 4 bytes: β[t·c + 4q + i][p·nr + j]
	// at ((t·c4 + q)·nr + j)·4 + i, zero past c and n.
	panel  []int8
	colSum []int32 // Σ_k β[k][j]
	zp     []int32 // zβ[j]; nil when every zero point is 0
	// columns caches the epilogue's per-column terms of the last call
	// (a graph node calls with the same zero point, bias and scales on
	// every run).
	columns atomic.Pointer[columnTerms]
}

// K returns the depth of the product (rows of B).
func (w *Weights) K() int { return w.k }

// N returns the number of columns of B (output channels).
func (w *Weights) N() int { return w.n }

// SignedActivations reports whether the kernels w was packed for read
// int8 activations (arm64) rather than uint8 ones (amd64, generic):
// activations of the other type are copied with their top bit flipped
// on every product, so a caller that can choose the codes' type (a
// zero point shifted by 128 gives the same values) should choose this
// one.
func (w *Weights) SignedActivations() bool { return w.geo.signed }

// PackMatrix packs the K×N weight matrix B for the products of this
// package. B[k][n] is b[k·ld+n], or b[n·ld+k] when transposed is true (B
// stored N×K, as ONNX Gemm's transB and convolution weights store it).
// zeroPoint has 1 element (per tensor) or N (per column). It returns an
// error wrapping ErrShape when a dimension is negative, K exceeds MaxK, ld is
// too small or b or zeroPoint too short.
func PackMatrix[T Int8](b []T, k, n, ld int, transposed bool, zeroPoint []T) (*Weights, error) {
	rows, cols := k, n
	if transposed {
		rows, cols = n, k
	}
	if err := checkMatrix("weights", len(b), rows, cols, ld); err != nil {
		return nil, err
	}
	if transposed {
		return pack(1, k, n, zeroPoint, func(kk, j int) T { return b[j*ld+kk] })
	}
	w, err := newWeights(1, k, n, zeroPoint)
	if err != nil {
		return nil, err
	}
	// Row by row, without a call per element (pack's at): the B of a
	// product of two activations is packed on every run.
	flip, nr, quads := flipOf[T](), w.geo.nr, w.c4
	for j0 := 0; j0 < n; j0 += nr {
		cols := min(nr, n-j0)
		for q := range quads {
			dst := w.panel[(j0/nr*quads+q)*nr*4:][:nr*4]
			for i := range min(4, k-4*q) {
				for jj, v := range b[(4*q+i)*ld+j0:][:cols] {
					x := int8(uint8(v) ^ flip)
					dst[jj*4+i] = x
					w.colSum[j0+jj] += int32(x)
				}
			}
		}
	}
	return w, nil
}

// checkMatrix checks that a slice of length have holds a rows×cols matrix
// with row stride ld.
func checkMatrix(name string, have, rows, cols, ld int) error {
	switch {
	case rows < 0 || cols < 0 || rows > maxElems || cols > maxElems:
		return shapeErr("%s of %d×%d is out of range", name, rows, cols)
	case ld < cols || ld > maxElems:
		return shapeErr("%s has %d columns but row stride %d", name, cols, ld)
	case rows > 0 && cols > 0 && int64(have) < int64(rows-1)*int64(ld)+int64(cols):
		return shapeErr("%s (%d×%d, row stride %d) needs %d elements, has %d", name, rows, cols, ld, (rows-1)*ld+cols, have)
	}
	return nil
}

// pack packs the weights whose element (t·c + i, j) is at(t·c + i, j), for
// k = taps·c rows and n columns, for the selected family.
func pack[T Int8](taps, k, n int, zeroPoint []T, at func(k, j int) T) (*Weights, error) {
	w, err := newWeights(taps, k, n, zeroPoint)
	if err != nil {
		return nil, err
	}
	flip, nr, quads := flipOf[T](), w.geo.nr, w.taps*w.c4
	for j := range n {
		p, jj := j/nr, j%nr
		var sum int32
		for t := range taps {
			for i := range w.c {
				v := int8(uint8(at(t*w.c+i, j)) ^ flip)
				q := t*w.c4 + i/4
				w.panel[((p*quads+q)*nr+jj)*4+i%4] = v
				sum += int32(v)
			}
		}
		w.colSum[j] = sum
	}
	return w, nil
}

// newWeights checks the shape of weights of k = taps·c rows and n
// columns and returns them empty (zero panels and sums) with their zero
// points, for the selected family.
func newWeights[T Int8](taps, k, n int, zeroPoint []T) (*Weights, error) {
	if k < 0 || n < 0 {
		return nil, shapeErr("weights are %d×%d", k, n)
	}
	if k > MaxK {
		return nil, shapeErr("depth %d exceeds %d, the largest whose int32 sums are exact", k, MaxK)
	}
	if len(zeroPoint) != 1 && len(zeroPoint) != n {
		return nil, shapeErr("weights have %d columns but %d zero points", n, len(zeroPoint))
	}
	c := 0
	if taps > 0 {
		c = k / taps
	}
	fam := columnsFamily(selected(), n)
	geo := geometries[fam]
	w := &Weights{k: k, n: n, taps: taps, c: c, c4: (c + 3) / 4, fam: fam, geo: geo}
	flip := flipOf[T]() // ε: 0x80 for uint8 weights
	nr := geo.nr
	panels := (n + nr - 1) / nr
	quads := taps * w.c4
	if int64(panels)*int64(quads)*int64(nr)*4 > maxElems {
		return nil, shapeErr("weights %d×%d are too large", k, n)
	}
	w.panel = make([]int8, panels*quads*nr*4)
	w.colSum = make([]int32, n)
	zp := make([]int32, n)
	anyZP := false
	for j := range n {
		z := zeroPoint[0]
		if len(zeroPoint) == n {
			z = zeroPoint[j]
		}
		zp[j] = int32(int8(uint8(z) ^ flip))
		anyZP = anyZP || zp[j] != 0
	}
	if anyZP {
		w.zp = zp
	}
	return w, nil
}

// columnsFamily returns the family weights of n columns are packed for
// when f is selected: famAVX512VNNI32 in place of famAVX512VNNI when its
// tiles of 32 columns pad fewer columns (n mod 64 in 1..32: MobileNet's
// 16, 24, 96 and 144 channels), which costs nothing else: both kernels
// are bound by their VPDPBUSD, one per 16 columns of a row and quad.
func columnsFamily(f family, n int) family {
	if f == famAVX512VNNI && (n+31)/32*32 < (n+63)/64*64 {
		return famAVX512VNNI32
	}
	return f
}

// flipOf returns the top-bit flip that maps T to int8: 0x80 for uint8
// (x − 128), 0 for int8.
func flipOf[T Int8]() uint8 {
	var x T
	x--
	if x > 0 { // unsigned: 0 − 1 wrapped to the maximum
		return 0x80
	}
	return 0
}
