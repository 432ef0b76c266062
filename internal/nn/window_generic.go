package nn

import (
	"github.com/tensorquant/tensorquant/internal/vec"
	"github.com/tensorquant/tensorquant/internal/vecmath"
)

// The kernels of one input row of a sliding window, for the interior
// windows (every tap inside the row): the specification of the assembly
// of window_amd64.s and window_arm64.s.

// dwRowGeneric adds to out[i] the products of the k weights w with the
// taps of window i, which start at row[i·s] and are d apart, in order,
// each product rounded before it is added: one kernel row of a depthwise
// convolution.
func dwRowGeneric(out, row, w []float32, s, d int) {
	if len(w) == 3 && d == 1 {
		w0, w1, w2 := w[0], w[1], w[2]
		for i, acc := range out {
			r := row[i*s : i*s+3 : i*s+3]
			acc += float32(w0 * r[0])
			acc += float32(w1 * r[1])
			acc += float32(w2 * r[2])
			out[i] = acc
		}
		return
	}
	for i, acc := range out {
		for c, wv := range w {
			acc += float32(wv * row[i*s+c*d])
		}
		out[i] = acc
	}
}

// maxRowGeneric updates out[i] with the k taps of window i, which start at
// row[i·s] and are d apart: a tap replaces the maximum when it is greater,
// or NaN (so the last NaN wins, and the first of equal values stays).
func maxRowGeneric[T Number](out, row []T, k, s, d int) {
	if k == 3 && d == 1 {
		for i, m := range out {
			r := row[i*s : i*s+3 : i*s+3]
			if v := r[0]; v > m || v != v {
				m = v
			}
			if v := r[1]; v > m || v != v {
				m = v
			}
			if v := r[2]; v > m || v != v {
				m = v
			}
			out[i] = m
		}
		return
	}
	for i, m := range out {
		for c := range k {
			if v := row[i*s+c*d]; v > m || v != v {
				m = v
			}
		}
		out[i] = m
	}
}

// windowAsmLen returns how many of n outputs (a multiple of 8) a window
// kernel of k taps and stride s may compute from a row of capacity c: a
// stride-2 kernel reads one element past the last tap.
func windowAsmLen(n, k, s, c int) int {
	n &^= 7
	for n > 0 && (n-1)*s+k-1+(s-1) >= c {
		n -= 8
	}
	return n
}

// gatherRowsGeneric copies, for each p, the w elements of src from
// offs[p]+j into dst[p·w : (p+1)·w]: the rows of one panel of a
// convolution's B in the GEMM's layout (packPhases), w its width.
func gatherRowsGeneric(dst, src []float32, offs []int, j, w int) {
	for p, o := range offs {
		copy(dst[p*w:(p+1)*w], src[o+j:o+j+w])
	}
}

// evensGeneric writes dst[i] = src[2i] for i < len(dst): a row of the
// even columns of src (a phase of a stride-2 split). src has at least
// 2·len(dst)-1 elements.
func evensGeneric(dst, src []float32) {
	if len(dst) == 0 {
		return
	}
	src = src[:2*len(dst)-1]
	for i := range dst {
		dst[i] = src[2*i]
	}
}

// zipGeneric writes dst[2i] = a[i] and dst[2i+1] = b[i] for i < len(a):
// two rows interleaved (b and dst at least as long as a and 2·len(a)).
func zipGeneric(dst, a, b []float32) {
	b, dst = b[:len(a)], dst[:2*len(a)]
	for i, v := range a {
		dst[2*i], dst[2*i+1] = v, b[i]
	}
}

// convTilesGeneric is the specification of the kernels of convolutions
// of few output channels (tileProduct): lanes output channels (16 for
// AVX2's kernel, 32 for AVX-512's) and tiles of 6 positions at a time,
// written position by position: for tile i, position r (at pos[6i + r]
// of x), channel j < lanes of the weight block w (step kk of channel j at
// lanes·kk + j), in buffer h = j/8 of t (at h·stride),
//
//	t[h·stride + 8(6i + r) + j%8] = Σ_kk x[offs[kk] + pos[6i + r]] · w[lanes·kk + j]
//
// in ascending kk, each product fused into the sum (as the GEMM's
// assembly kernels do), then added to what t holds when acc: the GEMM's
// element of the same block of the depth, bit for bit. With fin (the last
// block of the depth), each element is then finished as vec.Finish
// finishes it with channel j's bias.
func convTilesGeneric(lanes int, offs []int, x []float32, pos []int, w, t []float32, stride, tiles int, acc bool, fin *tileFinish) {
	for p, at := range pos[:6*tiles] {
		for j := range lanes {
			var sum float32
			for kk, off := range offs {
				sum = vecmath.FMA32(x[off+at], w[lanes*kk+j], sum)
			}
			i := j/8*stride + 8*p + j%8
			if acc {
				sum += t[i]
			}
			t[i] = sum
			if fin != nil {
				var b float32
				if fin.bias != nil {
					b = fin.bias[j]
				}
				vec.Finish(t[i:i+1], b, fin.bias != nil, nil, fin.act)
			}
		}
	}
}

// tileFinish is what convTiles6 applies to the sums of the last block of
// the depth: the bias of each of its lanes channels (nil: none) and an
// activation of the clamp's form (vec.Act.Clamp), as vec.FinishRows
// finishes a channel's row.
type tileFinish struct {
	bias []float32
	act  *vec.Act
}

// maxK2S2Generic is the specification of the kernel of 2×2 max pooling of
// stride 2 without padding: output (i, j) of rows × wo is the maximum of
// the window at input rows 2i, 2i+1 and columns 2j, 2j+1 (rows of wd
// values), the taps in scan order from the first, each taken where it is
// greater or NaN (maxRowGeneric's rule: the last NaN wins, the first of
// equal values stays).
func maxK2S2Generic(out, in []float32, rows, wo, wd int) {
	for i := range rows {
		top, bot := in[2*i*wd:], in[(2*i+1)*wd:]
		for j := range wo {
			m := top[2*j]
			for _, v := range [3]float32{top[2*j+1], bot[2*j], bot[2*j+1]} {
				if v > m || v != v {
					m = v
				}
			}
			out[i*wo+j] = m
		}
	}
}
