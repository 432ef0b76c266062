package nn

import (
	"slices"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// Convolutions of few output channels per group (at most tileRows, a
// multiple of 8: a network's first layers, small CNNs) read their im2col
// columns straight from the phase buffer (see columns) instead of the
// GEMM's packed panels: convTiles computes 8 positions × 8 output
// channels at a time, each position's input broadcast from the phase
// buffer, each output channel's weights one lane of a vector. The GEMM
// would spend its packing of the columns on few rows of weights, and its
// 6-row tiles of weights fit 16 or 32 channels badly (18 or 36 rows). The
// sums are the GEMM's bit for bit (the same fused multiply-adds in the
// same order, blocks of gemmKC steps added as the GEMM adds its blocks),
// so the results do not depend on the path.

// tileRows is the most output channels per group of a convolution whose
// product convTiles computes.
const tileRows = 32

// gemmKC is the GEMM's block of the depth (internal/gemm's kc): its
// kernels sum each block from zero and add the block's sum to C.
const gemmKC = 256

// packTiles returns the weights of one group (rows output channels × K,
// row-major) as convTiles reads them, or nil when the AVX2 family is not
// the selected one or rows is not a multiple of 8 up to tileRows: per
// block of 8 channels, step kk of channel j at 8kk + j.
func packTiles(rows, K int, w []float32) []float32 {
	if cpufeat.Selected != cpufeat.AVX2 || rows%8 != 0 || rows > tileRows || K == 0 {
		return nil
	}
	t := make([]float32, rows*K)
	for b := range rows / 8 {
		for j := range 8 {
			for kk, v := range w[(8*b+j)*K : (8*b+j+1)*K] {
				t[(b*K+kk)*8+j] = v
			}
		}
	}
	return t
}

// tileProduct writes the first cols columns (a multiple of 8) of cs
// (rows of stride ldc) = the group's weights wt (packTiles) times the
// columns of pl read from buf (those past pl.n read the slack after the
// phase buffer), on up to threads goroutines, and reports whether it
// could (else the GEMM computes it).
func tileProduct(cs []float32, ldc, cols int, buf, wt []float32, pl *columns, K, rows, threads int) bool {
	if wt == nil {
		return false
	}
	// Units of work: a block of 8 channels × a run of up to 16 tiles.
	const run = 16
	tiles := cols / 8
	runs := (tiles + run - 1) / run
	ok := true
	parallel(threads, rows/8*runs, max(1, 1<<16/(64*K*run)), func(lo, hi int) {
		for u := lo; u < hi && ok; u++ {
			b, t0 := u/runs, u%runs*run
			n := min(run, tiles-t0)
			out := cs[8*b*ldc+8*t0:]
			for k0 := 0; k0 < K; k0 += gemmKC {
				k1 := min(K, k0+gemmKC)
				offs := pl.offs[k0:k1]
				if !convTiles(offs, slices.Max(offs), buf[8*t0:], wt[(b*K+k0)*8:(b*K+k1)*8], out, ldc, n, k0 > 0) {
					ok = false
					return
				}
			}
		}
	})
	return ok
}
