package nn

import (
	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/gemm"
)

// Convolutions of 16, 32, 48 or 64 output channels per group (a
// network's first layers, small CNNs) read their im2col columns straight
// from the phase buffer (see columns) instead of the GEMM's packed
// panels: convTiles6 computes 6 positions × 16 output channels at a time,
// each position's input broadcast from the phase buffer, each output
// channel's weights one lane of a vector. The GEMM would spend its
// packing of the columns on few rows of weights, and its 6-row tiles of
// weights fit 16 or 32 channels badly (18 or 36 rows); at 64 channels the
// two are within 10% (the tiles ahead). The sums are the GEMM's bit for
// bit (the same fused multiply-adds in the same order, blocks of
// gemm.DepthBlock steps added as the GEMM adds its blocks), so the
// results do not depend on the path.

// tileRows is the most output channels per group of a convolution whose
// product tileProduct computes.
const tileRows = 64

// packTiles returns the weights of one group (rows output channels × K,
// row-major) as convTiles6 reads them, or nil when the AVX2 family is not
// the selected one or rows is not a multiple of 16 up to tileRows: per
// block of 16 channels, step kk of channel j at 16kk + j.
func packTiles(rows, K int, w []float32) []float32 {
	if cpufeat.Selected != cpufeat.AVX2 || rows%16 != 0 || rows > tileRows || K == 0 {
		return nil
	}
	t := make([]float32, rows*K)
	for b := range rows / 16 {
		for j := range 16 {
			for kk, v := range w[(16*b+j)*K : (16*b+j+1)*K] {
				t[(b*K+kk)*16+j] = v
			}
		}
	}
	return t
}

// tileRun is the tiles of 6 positions a unit of tileProduct's work
// computes into its buffer.
const tileRun = 16

// tileProduct writes the output positions of the group's product into cs
// (channel i's at cs[i·ldc:], in order, without the padding's columns
// that the GEMM computes): the weights wt (packTiles) times the columns
// of pl read from the phase buffer buf at pl.pos, on up to threads
// goroutines, and reports whether it could (else the GEMM computes it):
// per unit of work, a block of 16 channels and a run of tiles of 6
// positions, convTiles6 into a buffer position by position, then
// scatter8 to the channels' rows.
func tileProduct(cs []float32, ldc int, buf, wt []float32, pl *columns, K, rows, threads int) bool {
	// Without tiles, or without the kernel (another family selected since
	// the weights were packed), the GEMM computes it.
	if wt == nil || pl.pos == nil || !convTiles6(nil, 0, nil, nil, 0, nil, nil, nil, 0, false) {
		return false
	}
	tiles := len(pl.pos) / 6
	runs := (tiles + tileRun - 1) / tileRun
	parallel(threads, rows/16*runs, max(1, 1<<16/(96*K*tileRun)), func(lo, hi int) {
		var t [2][6 * 8 * tileRun]float32
		for u := lo; u < hi; u++ {
			b, i0 := u/runs, u%runs*tileRun
			n := min(tileRun, tiles-i0)
			for k0 := 0; k0 < K; k0 += gemm.DepthBlock {
				k1 := min(K, k0+gemm.DepthBlock)
				// pl.maxOff and pl.maxPos bound every block's reads.
				convTiles6(pl.offs[k0:k1], pl.maxOff, buf, pl.pos[6*i0:], pl.maxPos, wt[(b*K+k0)*16:(b*K+k1)*16], t[0][:], t[1][:], n, k0 > 0)
			}
			p0 := 6 * i0
			m := min(6*n, pl.npos-p0)
			for h := range 2 {
				scatter8(cs[(16*b+8*h)*ldc+p0:], ldc, t[h][:8*m], m)
			}
		}
	})
	return true
}
