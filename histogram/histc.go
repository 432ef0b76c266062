package histogram

import (
	"fmt"
	"math"
)

// MaxBins is the largest number of bins a histogram may have, from the
// constructor or after growth. The reference has no limit and would try to
// allocate whatever a batch's range asks for; we return an error instead.
const MaxBins = 1 << 22

// histcParams is one torch.histc binning of |x| over the closed range
// [lo, hi]: the bin of v = |x| is
//
//	int(float32(float32(v-lo)/rng) * fn), with n becoming n-1,
//
// rng = float32(hi-lo) and fn = float32(n). Kernels count into slots of
// uint32: 0..n-1 the bins, n the zeros dropped by skipZeros, n+1 the NaNs and
// values outside the range.
type histcParams struct {
	lo, hi, rng, fn float32
	// zero is what an element equal to is dropped as a zero: 0 with
	// skipZeros, else NaN, which nothing equals.
	zero      float32
	n         int32
	last      int32 // n-1
	trashZero int32 // n
	trashOut  int32 // n+1
	skipZeros bool
	// laneOff[k] is the slot offset of the sub-histogram that vector lane
	// k counts into: (k%subHists)*(n+2).
	laneOff [16]int32
}

// newHistcParams returns the binning torch.histc(bins=n, min=lo, max=hi)
// uses: a range of zero width becomes [lo-1, hi+1] (computed in float64 and
// rounded, as torch does).
func newHistcParams(n int, lo, hi float32, skipZeros bool) *histcParams {
	if lo == hi {
		lo, hi = float32(float64(lo)-1), float32(float64(hi)+1)
	}
	p := &histcParams{lo: lo, hi: hi, rng: hi - lo, fn: float32(n), zero: float32(math.NaN()),
		n: int32(n), last: int32(n - 1), trashZero: int32(n), trashOut: int32(n + 1), skipZeros: skipZeros}
	if skipZeros {
		p.zero = 0
	}
	for k := range p.laneOff {
		p.laneOff[k] = int32(k%subHists) * int32(n+2)
	}
	return p
}

// subHists is how many sub-histograms the SIMD kernels spread consecutive
// elements over, so that increments of one bin do not wait on each other.
const subHists = 4

// maxChunk bounds the elements binned per kernel call, so that no uint32
// slot can overflow.
const maxChunk = 1 << 30

// binner owns the uint32 sub-histograms of one binning (reused between
// batches) and folds them into int64 counts.
type binner struct {
	sub []uint32
}

// histc bins |x| with p and adds the bin counts to counts[:p.n]. It returns
// the number of zeros dropped (skipZeros) and of elements not counted
// because they are NaN or outside [p.lo, p.hi].
func (b *binner) histc(counts []int64, x []float32, p *histcParams) (zeros, outside int64) {
	stride := int(p.n) + 2
	if need := subHists * stride; cap(b.sub) < need {
		b.sub = make([]uint32, need)
	} else {
		b.sub = b.sub[:need]
	}
	for len(x) > 0 {
		chunk := x[:min(len(x), maxChunk)]
		x = x[len(chunk):]
		used := 1
		if histcKernel(b.sub, chunk, p) {
			used = subHists
		}
		for s := range used {
			h := b.sub[s*stride : (s+1)*stride]
			for i, c := range h[:p.n] {
				counts[i] += int64(c)
			}
			zeros += int64(h[p.n])
			outside += int64(h[p.n+1])
			clear(h)
		}
	}
	return zeros, outside
}

// HistcAbs adds to counts the histogram that torch.histc(|x|,
// bins=len(counts), min=lo, max=hi) computes on CPU, and returns how many
// elements it left out because they are NaN or outside [lo, hi]. The bin of
// v = |x| is int(float32(float32(v-lo)/float32(hi-lo)) * float32(bins)), the
// last bin is closed (v == hi counts in it), and a range with lo == hi is
// widened to [lo-1, hi+1], all as torch does. This is the hot loop of
// calibration; it runs the SIMD kernel of cpufeat.Selected.
//
// It returns an error if counts is empty or longer than MaxBins, or if lo or
// hi is not finite or lo > hi (torch: "range of [lo, hi] is not finite").
func HistcAbs(counts []int64, x []float32, lo, hi float32) (skipped int, err error) {
	if err := checkBins(len(counts)); err != nil {
		return 0, err
	}
	if !finite(lo) || !finite(hi) || lo > hi {
		return 0, fmt.Errorf("histogram: range of [%v, %v] is not finite and increasing", lo, hi)
	}
	var b binner
	_, out := b.histc(counts, x, newHistcParams(len(counts), lo, hi, false))
	return int(out), nil
}

// checkBins is the one check of a bin count: 1 to MaxBins.
func checkBins(n int) error {
	if n < 1 || n > MaxBins {
		return fmt.Errorf("histogram: num_bins %d, want 1 to %d", n, MaxBins)
	}
	return nil
}

func finite(v float32) bool { return !math.IsInf(float64(v), 0) && v == v }

// abs32 clears the sign bit.
func abs32(v float32) float32 {
	return math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
}

// Implementation returns the name of the kernel family HistcAbs and Collect
// run on this machine: "avx512", "avx2", "neon" or "generic".
func Implementation() string { return family(0).String() }
