package histogram

import (
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/reduce"
)

// Options configures a Histogram.
type Options struct {
	// NumBins is the number of bins of the first batch, in [1, MaxBins].
	NumBins int
	// NumPy selects the original's torch_hist=False path (np.histogram over
	// [min|x|, max|x|], float64 edges after growth); the zero value is the
	// original's default torch.histc path over [0, max|x|].
	NumPy bool
	// SkipZeros drops exact zeros before binning (the original's
	// skip_zeros).
	SkipZeros bool
}

// Histogram is the histogram of |x| that the original HistogramCalibrator
// collects over calibration batches: the first batch fixes the bin width,
// and a later batch whose maximum lies beyond the last edge adds bins of the
// same width. Counts and edges are those of the reference bit for bit, for
// both of its paths (see Options.NumPy).
//
// A Histogram is not safe for concurrent use; to calibrate in parallel,
// give each goroutine a Fork and Merge them (see Merge).
type Histogram struct {
	opts    Options
	numBins int       // the num_bins attribute: len(counts) on the torch path
	counts  []int64   // nil until the first batch
	edges   []float64 // float32 values unless !edges32
	edges32 bool
	b       binner
}

// maxTotal bounds the total count, so that every sum the amax searches take
// is exact in float64.
const maxTotal = 1 << 53

// torchCountMax is where a float32 counter stops counting one by one:
// torch.histc's per-call float32 bins saturate there.
const torchCountMax = 1 << 24

// New returns an empty histogram. It returns an error if o.NumBins is not in
// [1, MaxBins].
func New(o Options) (*Histogram, error) {
	if err := checkBins(o.NumBins); err != nil {
		return nil, err
	}
	return &Histogram{opts: o, numBins: o.NumBins}, nil
}

// Options returns the options h was made with.
func (h *Histogram) Options() Options { return h.opts }

// HasData reports whether h has bins (a batch was collected, or h is a
// Fork of a histogram that had).
func (h *Histogram) HasData() bool { return h.counts != nil }

// NumBins returns the original's num_bins attribute: the number of bins on
// the torch path (it grows with the range), the constructor's value on the
// NumPy path.
func (h *Histogram) NumBins() int { return h.numBins }

// Counts returns a copy of the bin counts, nil before the first batch. On
// the torch path they are the values of the original's float32 histogram.
func (h *Histogram) Counts() []int64 { return cloneOrNil(h.counts) }

// Edges returns a copy of the bin edges, nil before the first batch. They
// are float32 values (Float32Edges) except on the NumPy path after growth,
// where the original's edges become float64.
//
// The edges are non-decreasing, with one exception that the original has
// too: on the torch path, when the whole range lies deep in the subnormals
// (the last edge below 2^-100), torch's two-sided linspace recipe,
// reproduced bit for bit, steps back where its halves meet (a step of a few
// multiples of 2^-149 is rounded by up to 50%). Every amax found on such a
// histogram is below 2^-24, which quantization treats as zero.
func (h *Histogram) Edges() []float64 { return cloneOrNil(h.edges) }

// minOrderedRange is the last edge from which the edges of every
// collected histogram are non-decreasing (see Edges): above it the bin
// width is a normal float32 for any bin count up to MaxBins, and the
// linspace recipe's rounding stays far below one bin.
const minOrderedRange = 0x1p-100

// Float32Edges reports whether the edges are float32 values (the dtype of
// the original's bin_edges).
func (h *Histogram) Float32Edges() bool { return h.edges32 }

func cloneOrNil[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append([]T{}, s...)
}

// Reset forgets every batch: h is as New made it.
func (h *Histogram) Reset() {
	h.numBins, h.counts, h.edges, h.edges32 = h.opts.NumBins, nil, nil, false
}

// Clone returns a deep copy of h.
func (h *Histogram) Clone() *Histogram {
	return &Histogram{opts: h.opts, numBins: h.numBins, counts: cloneOrNil(h.counts), edges: cloneOrNil(h.edges), edges32: h.edges32}
}

// Fork returns a histogram with h's options and bins but every count zero:
// the starting point of one shard of a parallel calibration (see Merge).
func (h *Histogram) Fork() *Histogram {
	f := h.Clone()
	clear(f.counts)
	return f
}

// Collect adds one batch to the histogram, as the original's collect does:
// it bins |x|, growing the histogram first if max|x| lies beyond the last
// edge. On error h is unchanged.
//
// It returns an error for an empty batch, a NaN or infinite element (the
// original fails on the first batch, and on a later one silently drops the
// negative values; we reject both), a batch of zeros only with SkipZeros,
// and a growth that the original cannot do either (a zero bin width) or
// that would pass MaxBins bins.
func (h *Histogram) Collect(x []float32) error {
	if len(x) == 0 {
		return fmt.Errorf("histogram: empty batch (the original fails to take its min)")
	}
	if h.total()+int64(len(x)) > maxTotal {
		return fmt.Errorf("histogram: more than 2^53 elements collected")
	}
	if h.opts.NumPy {
		return h.collectNumPy(x)
	}
	return h.collectTorch(x)
}

func (h *Histogram) total() int64 {
	var t int64
	for _, c := range h.counts {
		t += c
	}
	return t
}

// absMax returns max|x| or an error naming a NaN or infinite element.
func absMax(x []float32) (float32, error) {
	m := reduce.AbsMax(x)
	if finite(m) {
		return m, nil
	}
	for i, v := range x {
		if !finite(v) {
			return 0, fmt.Errorf("histogram: element %v at flat index %d: a calibration batch must be finite", v, i)
		}
	}
	return 0, fmt.Errorf("histogram: internal error: max|x| = %v but every element is finite", m)
}

var errAllZeros = fmt.Errorf("histogram: every element is zero and skip_zeros drops them all (the original fails to take the max of an empty tensor)")

func (h *Histogram) collectTorch(x []float32) error {
	if h.counts == nil {
		amax, err := absMax(x)
		if err != nil {
			return err
		}
		if h.opts.SkipZeros && amax == 0 {
			return errAllZeros
		}
		n := h.opts.NumBins
		counts := make([]int64, n)
		h.b.histc(counts, x, newHistcParams(n, 0, amax, h.opts.SkipZeros))
		for i, c := range counts {
			counts[i] = min(c, torchCountMax)
		}
		h.counts, h.edges, h.edges32, h.numBins = counts, widen(torchLinspace0(amax, n+1)), true, n
		return nil
	}
	n := len(h.counts)
	last := float32(h.edges[len(h.edges)-1])
	batch := make([]int64, n)
	zeros, outside := h.b.histc(batch, x, newHistcParams(n, 0, last, h.opts.SkipZeros))
	// With last == 0 histc widens the range to [-1, 1], so values up to 1
	// are binned although they lie beyond the last edge.
	if outside == 0 && (last > 0 || zeros == int64(len(x)) || reduce.AbsMax(x) == 0) {
		// No element is NaN or beyond the last edge: no growth, as the
		// original decides from x.max().
		if zeros == int64(len(x)) {
			return errAllZeros
		}
		h.counts = addTorch(batch, h.counts)
		return nil
	}
	amax, err := absMax(x)
	if err != nil {
		return err
	}
	if amax <= last {
		// Only NaN lies outside [0, last], and absMax rejected it.
		return fmt.Errorf("histogram: internal error: %d elements outside [0, %v] but max|x| = %v", outside, last, amax)
	}
	width := float32(h.edges[1]) - float32(h.edges[0])
	nb := float32(math.Ceil(float64(amax / width)))
	if !(nb <= MaxBins) {
		return fmt.Errorf("histogram: max|x| = %v with bin width %v needs %v bins, more than %d (the original fails or runs out of memory)", amax, width, nb, MaxBins)
	}
	nbins := int(nb)
	if nbins < n {
		return fmt.Errorf("histogram: growing to max|x| = %v gives %d bins, fewer than the %d collected", amax, nbins, n)
	}
	ne, ok := torchArangeLen(amax+width, width, MaxBins+2)
	if !ok || ne < 2 {
		return fmt.Errorf("histogram: cannot grow to max|x| = %v with bin width %v", amax, width)
	}
	edges := torchArange0(width, ne)
	batch = make([]int64, nbins)
	h.b.histc(batch, x, newHistcParams(nbins, 0, edges[ne-1], h.opts.SkipZeros))
	h.counts, h.edges, h.numBins = addTorch(batch, h.counts), widen(edges), nbins
	return nil
}

// addTorch is the original's hist[:len(old)] += old on float32 histograms:
// the batch's counts saturate at 2^24 (a float32 counter) and the sums are
// rounded to float32. Exact while every count stays below 2^24.
func addTorch(batch, old []int64) []int64 {
	for i, c := range batch {
		c = min(c, torchCountMax)
		if i < len(old) {
			c = int64(float32(c) + float32(old[i]))
		}
		batch[i] = c
	}
	return batch
}

func widen(e []float32) []float64 {
	out := make([]float64, len(e))
	for i, v := range e {
		out[i] = float64(v)
	}
	return out
}

func (h *Histogram) collectNumPy(x []float32) error {
	amax, err := absMax(x)
	if err != nil {
		return err
	}
	if h.counts == nil {
		n := h.opts.NumBins
		lo, any := float32(math.Inf(1)), false
		for _, v := range x {
			if a := abs32(v); a < lo && !(h.opts.SkipZeros && a == 0) {
				lo, any = a, true
			}
		}
		var counts []int64
		var edges []float32
		if !any {
			// np.histogram of an empty array: range (0, 1).
			counts, edges = make([]int64, n), numpyLinspace(0, 1, n+1)
		} else if counts, edges, err = NumpyHistogram(x, n, lo, amax, h.opts.SkipZeros); err != nil {
			return err
		}
		h.counts, h.edges, h.edges32 = counts, widen(edges), true
		return nil
	}
	if h.opts.SkipZeros && amax == 0 {
		return errAllZeros
	}
	edges, edges32 := h.edges, h.edges32
	if last := edges[len(edges)-1]; float64(amax) > last {
		var a0, a1, ratio float64
		if edges32 {
			w := float32(edges[1]) - float32(edges[0])
			s := float32(last) + w
			a0, a1 = float64(s), float64(s+w)
			ratio = float64(float32((amax+w)-s) / w)
		} else {
			w := edges[1] - edges[0]
			s := last + w
			a0, a1 = s, s+w
			ratio = (float64(amax) + w - s) / w
		}
		n, ok := numpyArangeLen(ratio, MaxBins+1-len(edges))
		if !ok {
			return fmt.Errorf("histogram: cannot grow to max|x| = %v from the last edge %v (more than %d bins, or a zero bin width)", amax, last, MaxBins)
		}
		grown := make([]float64, len(edges)+n)
		copy(grown, edges)
		numpyArangeFill(grown[len(edges):], a0, a1)
		edges, edges32 = grown, false
	}
	counts := make([]int64, len(edges)-1)
	binByEdges(counts, x, edges, h.opts.SkipZeros)
	for i, c := range h.counts {
		counts[i] += c
	}
	h.counts, h.edges, h.edges32 = counts, edges, edges32
	return nil
}
