package qgemm

import (
	"unsafe"

	"github.com/tensorquant/tensorquant/internal/par"
)

// depthwise is the weights of a depthwise convolution (one input and one
// output channel per group), which runs a direct kernel: each output is a
// dot product of taps values, vectorized over the channels of a pixel.
type depthwise struct {
	fam  family
	taps int
	c    int
	// w holds β − zβ of channel ch, tap t at t·c + ch (in [−255, 255]).
	w []int16
	// pairs holds w two taps at a time, as the amd64 kernels read it
	// (pairTaps).
	pairs []int32
	// wsum holds Σ_t w of each channel: with the padding materialized,
	// every tap reads a value, and Σ (κ − zκ)·w = Σ κ·w − zκ·wsum.
	wsum []int32
	// k and rows, on the AVX2 family for a square window of 3 or 5 and
	// dilation 1 and at least 8 channels: its side, and w as dwRowWeights
	// packs it for the kernels that walk the window's rows (dwRows).
	k    int
	rows []int32
	// words, on the VNNI families for at least 32 channels and stride 1,
	// is w as dwWordWeights packs it for dwWordsVNNI, which reads the activations
	// widened to 16 bits (the input's copy widens each once, where the
	// byte kernels widen it once per tap): nil otherwise.
	words []int32
}

func packDepthwise[T Int8](c Conv, w []T, zeroPoint []T) *depthwise {
	taps := c.KH * c.KW
	d := &depthwise{fam: selected(), taps: taps, c: c.OutC, w: make([]int16, taps*c.OutC), wsum: make([]int32, c.OutC)}
	flip := flipOf[T]()
	for ch := range c.OutC {
		z := zeroPoint[0]
		if len(zeroPoint) > 1 {
			z = zeroPoint[ch]
		}
		zb := int16(int8(uint8(z) ^ flip))
		for t := range taps {
			d.w[t*c.OutC+ch] = int16(int8(uint8(w[ch*taps+t])^flip)) - zb
			d.wsum[ch] += int32(d.w[t*c.OutC+ch])
		}
	}
	d.pairs = pairTaps(d.w, taps, c.OutC)
	if d.fam.ymm() && c.KH == c.KW && (c.KH == 3 || c.KH == 5) && c.DilationH == 1 && c.DilationW == 1 && c.OutC >= 8 {
		d.k = c.KH
		d.rows = dwRowWeights(d.w, d.k, c.OutC)
	}
	// Strided, the words' copy costs more than the kernel saves (four
	// input pixels widened per output at stride 2: 96 channels at 112×112
	// 290 → 412 µs, where stride 1 gains 1.04-1.43×).
	if dwWordsKernel(d.fam) && c.OutC >= 32 && c.StrideH == 1 && c.StrideW == 1 {
		d.words = dwWordWeights(d.w, taps, c.OutC)
	}
	return d
}

// dwWordWeights returns the weights w (tap t, channel ch at t·c + ch) of
// a depthwise convolution of c ≥ 32 channels as dwWordsVNNI reads them:
// per block of 32 channels (block b: channels min(32b, c−32) on, the last
// overlapping the one before when c is not a multiple of 32), per tap,
// the 16 even channels' weights in the low 16 bits of 16 words (high 0),
// then the 16 odd channels' in the high bits (low 0): channel ch0 + 2i of
// tap t at ((b·taps + t)·2)·16 + i, channel ch0 + 2i + 1 at ((b·taps +
// t)·2 + 1)·16 + i.
func dwWordWeights(w []int16, taps, c int) []int32 {
	blocks := (c + 31) / 32
	out := make([]int32, blocks*taps*32)
	for b := range blocks {
		ch0 := min(32*b, c-32)
		for t := range taps {
			o := out[(b*taps+t)*32:]
			for i := range 16 {
				o[i] = int32(uint32(uint16(w[t*c+ch0+2*i])))
				o[16+i] = int32(uint32(uint16(w[t*c+ch0+2*i+1])) << 16)
			}
		}
	}
	return out
}

// dwRowWeights returns the weights w (tap t, channel ch at t·c + ch) of a
// k×k window, c ≥ 8, as the row kernels (dwRows) read them: per block of
// 8 channels (block b: channels min(8b, c−8) on, the last overlapping the
// one before when c is not a multiple of 8), per kernel row r, per slot j
// of the row, the 8 channels' weights of taps 2j (low 16 bits) and 2j+1
// (high 16 bits; 0 past the row's last tap): slot j of row r of block b
// holds channel ch0 + l at ((b·k + r)·slots + j)·8 + l, slots =
// (k+1)/2.
func dwRowWeights(w []int16, k, c int) []int32 {
	slots := (k + 1) / 2
	blocks := (c + 7) / 8
	out := make([]int32, blocks*k*slots*8)
	for b := range blocks {
		ch0 := min(8*b, c-8)
		for r := range k {
			for j := range slots {
				t := r*k + 2*j
				for l := range 8 {
					lo, hi := uint16(w[t*c+ch0+l]), uint16(0)
					if 2*j+1 < k {
						hi = uint16(w[(t+1)*c+ch0+l])
					}
					out[((b*k+r)*slots+j)*8+l] = int32(uint32(lo) | uint32(hi)<<16)
				}
			}
		}
	}
	return out
}

// pairTaps returns the weights w (tap t, channel ch at t·c + ch) two taps
// at a time: pair j, channel ch at j·c + ch holds w_2j[ch] in its low 16
// bits and w_2j+1[ch] in its high ones (0 past the last tap), the operand
// of a VPMADDWD against the two taps' activations.
func pairTaps(w []int16, taps, c int) []int32 {
	pairs := make([]int32, (taps+1)/2*c)
	for t := 0; t < taps; t += 2 {
		for ch := range c {
			lo, hi := uint16(w[t*c+ch]), uint16(0)
			if t+1 < taps {
				hi = uint16(w[(t+1)*c+ch])
			}
			pairs[t/2*c+ch] = int32(uint32(lo) | uint32(hi)<<16)
		}
	}
	return pairs
}

// setDepthwise sets the per-channel terms of a depthwise convolution's
// epilogue for activations of kernel zero point zk: its kernel computes
// Σ κ·w, and C = that − zk·wsum + bias.
func (e *epilogue) setDepthwise(d *depthwise, zk int32, bias []int32, scales []float32) {
	e.colTerm = make([]int32, d.c)
	for ch := range e.colTerm {
		e.colTerm[ch] = -zk * d.wsum[ch]
		if bias != nil {
			e.colTerm[ch] += bias[ch]
		}
	}
	e.zp = nil
	e.scale = scales
}

// run computes the depthwise convolution of in into e's output, split
// over whole output pixels among up to threads goroutines.
func (d *depthwise) run(threads int, fam family, in *padded, e *epilogue, c Conv, pixels int) {
	work := float64(pixels) * float64(d.c) * float64(d.taps)
	t := int(min(float64(threads), float64(pixels), work*4/parallelWork))
	t = max(t, 1)
	src := &convSource{in: in, ohw: c.OutH() * c.OutW(), ow: c.OutW(), sh: c.StrideH, sw: c.StrideW}
	src.setTaps(c, false)
	step := c.StrideW * in.c * in.es // bytes from one output pixel's input to the next's
	par.Do(t, func(i int) { d.block(fam, src, step, e, i*pixels/t, (i+1)*pixels/t) })
}

// block computes the output pixels [lo, hi), in runs of at most maxRun
// consecutive pixels of one output row.
func (d *depthwise) block(fam family, src *convSource, step int, e *epilogue, lo, hi int) {
	s := getScratch()
	defer scratchPool.Put(s)
	if cap(s.ind) < d.taps {
		s.ind = make([]unsafe.Pointer, d.taps)
	}
	if cap(s.sums) < maxRun*d.c {
		s.sums = make([]int32, maxRun*d.c)
	}
	ind, p := s.ind[:d.taps], s.sums[:maxRun*d.c]
	ld := src.in.wp * src.in.c // bytes from one padded row to the next
	for r := lo; r < hi; {
		n := min(hi-r, maxRun, src.ow-r%src.ow) // to the end of the row
		if d.words != nil || !dwRows(fam, d.k, d.c, n, step, ld, src.in.x[src.origin(r)*d.c:], d.rows, p) {
			src.fill(ind, r, 1, 1)
			if d.words != nil {
				dwWords(fam, d.taps, d.c, n, step, ind, d.w, d.words, p)
			} else {
				dwRun(fam, d.taps, d.c, n, step, ind, d.w, d.pairs, p)
			}
		}
		e.tile(fam, p, d.c, n, r, 0, d.c, nil, s)
		r += n
	}
	clear(ind)
}
