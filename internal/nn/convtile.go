package nn

import (
	"github.com/tensorquant/tensorquant/internal/gemm"
	"github.com/tensorquant/tensorquant/internal/vec"
)

// Convolutions of 16, 32, 48 or 64 output channels per group (a
// network's first layers, small CNNs) read their im2col columns straight
// from the phase buffer (see columns) instead of the GEMM's packed
// panels: convTiles6 computes 6 positions × 16 output channels (AVX2,
// and AVX-512 for 16 or 48 channels) or × 32 (AVX-512) at a time, each
// position's input broadcast from the phase buffer, each output
// channel's weights one lane of a vector. The
// GEMM would spend its packing of the columns on few rows of weights,
// and its 6-row tiles of weights fit 16 or 32 channels badly (18 or 36
// rows); at 64 channels the two are within 10% (the tiles ahead). The
// sums are the GEMM's bit for bit (the same fused multiply-adds in the
// same order, blocks of gemm.DepthBlock steps added as the GEMM adds its
// blocks), so the results do not depend on the path.

// tileRows is the most output channels per group of a convolution whose
// product tileProduct computes.
const tileRows = 64

// packTiles returns the weights of one group (rows output channels × K,
// row-major) as convTiles6 reads them, with the lanes they are packed for
// (tileLanes), or nil when there is no kernel or rows is not a multiple
// of the lanes up to tileRows: per block of lanes channels, step kk of
// channel j at lanes·kk + j.
func packTiles(rows, K int, w []float32) ([]float32, int) {
	lanes := tileLanes(rows)
	if lanes == 0 || rows > tileRows || K == 0 {
		return nil, 0
	}
	t := make([]float32, rows*K)
	for b := range rows / lanes {
		for j := range lanes {
			for kk, v := range w[(lanes*b+j)*K : (lanes*b+j+1)*K] {
				t[(b*K+kk)*lanes+j] = v
			}
		}
	}
	return t, lanes
}

// tileRun is the tiles of 6 positions a unit of tileProduct's work
// computes into its buffer.
const tileRun = 16

// tileProduct writes the output positions of the group's product into cs
// (channel i's at cs[i·ldc:], in order, without the padding's columns
// that the GEMM computes): the weights wt (packTiles, for lanes) times
// the columns of pl read from the phase buffer buf at pl.pos, on up to
// threads goroutines, and reports whether it could (else the GEMM
// computes it): per unit of work, a block of lanes channels and a run of
// tiles of 6 positions, convTiles6 into buffers of 8 channels position
// by position, then scatter8 to the channels' rows. With act (nil: the
// sums as they are), each channel's row is finished as vec.FinishRows
// finishes it with channel i's bias (bias nil: none) and act, which must
// be a clamp (vec.Act.Clamp).
func tileProduct(cs []float32, ldc int, buf, wt []float32, lanes int, pl *columns, K, rows, threads int, bias []float32, act *vec.Act) bool {
	// Without tiles, or without their kernel (another family selected
	// since the weights were packed), the GEMM computes it.
	if wt == nil || pl.pos == nil || lanes == 0 || tileLanes(rows) != lanes {
		return false
	}
	tiles := len(pl.pos) / 6
	runs := (tiles + tileRun - 1) / tileRun
	const stride = 6 * 8 * tileRun
	parallel(threads, rows/lanes*runs, max(1, 1<<16/(6*lanes*K*tileRun)), func(lo, hi int) {
		var t [4 * stride]float32
		for u := lo; u < hi; u++ {
			b, i0 := u/runs, u%runs*tileRun
			n := min(tileRun, tiles-i0)
			var fin *tileFinish
			if act != nil {
				fin = &tileFinish{act: act}
				if bias != nil {
					fin.bias = bias[lanes*b : lanes*(b+1)]
				}
			}
			for k0 := 0; k0 < K; k0 += gemm.DepthBlock {
				k1 := min(K, k0+gemm.DepthBlock)
				f := fin
				if k1 < K {
					f = nil
				}
				// pl.maxOff and pl.maxPos bound every block's reads.
				convTiles6(lanes, pl.offs[k0:k1], pl.maxOff, buf, pl.pos[6*i0:], pl.maxPos, wt[(b*K+k0)*lanes:(b*K+k1)*lanes], t[:], stride, n, k0 > 0, f)
			}
			p0 := 6 * i0
			m := min(6*n, pl.npos-p0)
			for h := range lanes / 8 {
				scatter8(cs[(lanes*b+8*h)*ldc+p0:], ldc, t[h*stride:][:8*m], m)
			}
		}
	})
	return true
}
