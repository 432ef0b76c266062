package calibrators

import (
	"fmt"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/histogram"
	"github.com/tensorquant/tensorquant/tensor"
)

// HistogramOptions configures a Histogram calibrator. The zero value is the
// original's default HistogramCalibrator: 2048 bins, 8 bits, signed, zeros
// kept, torch.histc path.
type HistogramOptions struct {
	// NumBins of the first batch; 0 means 2048.
	NumBins int
	// NumBits of the format the amax is for (entropy and mse use it); 0
	// means 8.
	NumBits int
	// Unsigned format (entropy and mse use it).
	Unsigned bool
	// SkipZeros drops exact zeros before binning.
	SkipZeros bool
	// NumpyHist selects the original's torch_hist=False path (np.histogram
	// over [min|x|, max|x|]); false is the original's default torch_hist=True.
	NumpyHist bool
	// Axis must be empty: as in the original, histogram calibration is per
	// tensor only (per-channel weights: CalibrateWeight).
	Axis []int
}

// Histogram is the original's HistogramCalibrator: a histogram of |x| over
// the calibration batches (package histogram) and the amax searches over
// it ("entropy", "percentile", "mse"). Make one with NewHistogram (or
// restore one with UnmarshalBinary); the zero value is not usable.
type Histogram struct {
	numBits  int
	unsigned bool
	h        *histogram.Histogram
}

// NewHistogram returns a histogram calibrator. It returns an error for a
// non-empty Axis (the original: "Calibrator histogram collection only
// supports per tensor scaling"), NumBins outside [0, histogram.MaxBins],
// or a format (NumBits, 0 meaning 8, and Unsigned) that
// fakequant.Format.Validate refuses.
func NewHistogram(o HistogramOptions) (*Histogram, error) {
	if len(o.Axis) != 0 {
		return nil, fmt.Errorf("calibrators: histogram calibration with axis %v: only per tensor scaling is supported (per-channel weights: CalibrateWeight)", o.Axis)
	}
	o = o.withDefaults()
	if err := (fakequant.Format{NumBits: o.NumBits, Unsigned: o.Unsigned}).Validate(); err != nil {
		return nil, fmt.Errorf("calibrators: %w", err)
	}
	h, err := histogram.New(histogram.Options{NumBins: o.NumBins, NumPy: o.NumpyHist, SkipZeros: o.SkipZeros})
	if err != nil {
		return nil, fmt.Errorf("calibrators: %w", err)
	}
	return &Histogram{numBits: o.NumBits, unsigned: o.Unsigned, h: h}, nil
}

func (o HistogramOptions) withDefaults() HistogramOptions {
	if o.NumBins == 0 {
		o.NumBins = DefaultNumBins
	}
	if o.NumBits == 0 {
		o.NumBits = DefaultNumBits
	}
	return o
}

// Options returns the calibrator's options with the defaults filled in.
func (c *Histogram) Options() HistogramOptions {
	ho := c.h.Options()
	return HistogramOptions{NumBins: ho.NumBins, NumBits: c.numBits, Unsigned: c.unsigned, SkipZeros: ho.SkipZeros, NumpyHist: ho.NumPy}
}

// Collect adds one batch (any shape; its elements are binned as a flat
// list). Errors are those of histogram.Histogram.Collect, plus an invalid
// tensor; c is unchanged on error.
func (c *Histogram) Collect(x *tensor.Tensor) error {
	if err := x.Validate(); err != nil {
		return fmt.Errorf("calibrators: %w", err)
	}
	if err := c.h.Collect(x.Data); err != nil {
		return fmt.Errorf("calibrators: %w", err)
	}
	return nil
}

// Reset forgets every batch.
func (c *Histogram) Reset() { c.h.Reset() }

// Counts returns a copy of the collected bin counts (nil before the first
// batch).
func (c *Histogram) Counts() []int64 { return c.h.Counts() }

// Edges returns a copy of the bin edges (nil before the first batch); see
// Float32Edges for their dtype.
func (c *Histogram) Edges() []float64 { return c.h.Edges() }

// Float32Edges reports whether the edges are float32 values; they are
// float64 on the NumPy path after growth, as in the original.
func (c *Histogram) Float32Edges() bool { return c.h.Float32Edges() }

// NumBins returns the original's num_bins attribute (see
// histogram.Histogram.NumBins).
func (c *Histogram) NumBins() int { return c.h.NumBins() }

// Fork returns a calibrator with the same options and bins but no counts:
// give one to each shard of a parallel calibration and Merge them back.
func (c *Histogram) Fork() *Histogram {
	return &Histogram{numBits: c.numBits, unsigned: c.unsigned, h: c.h.Fork()}
}

// Clone returns a deep copy of c.
func (c *Histogram) Clone() *Histogram {
	return &Histogram{numBits: c.numBits, unsigned: c.unsigned, h: c.h.Clone()}
}

// ComputeAmax returns the amax that method finds in the collected
// histogram, as a 0-d tensor, exactly as the original's compute_amax:
//
//   - "entropy": TensorRT's KL-divergence search (options Stride,
//     StartBin), the last candidate with the smallest divergence;
//   - "percentile": the edge where the cumulative distribution reaches
//     Percentile;
//   - "mse": the bin center that minimizes the mean squared error of
//     narrow-range fake quantization (options Stride, StartBin), the first
//     minimum; with AmaxOptions.FP8, of FP8 fake quantization instead.
//
// It never changes the histogram (the original's entropy search writes
// bins[0] = bins[1] into it on the NumPy path; we work on a copy).
//
// The mse search is the original's, bit for bit, without its cost of one
// pass over the bins per candidate: it ranks the candidates in float64 (a
// step per quantization level that holds a count, at most
// min(2^(bits-1), bins) per candidate) and evaluates exactly only those
// within float32 rounding of the minimum. Two limits bound a hostile
// histogram (the exact stage is one pass per candidate, and every
// candidate can be within rounding of the others): where the exact stage
// would pass MSEExactLimit bin evaluations (never below 32768 bins), the
// candidate with the smallest float64 objective is returned, which may
// differ from the original's among candidates whose float32 objectives
// agree to within their rounding (about 1e-5 relative); where ranking
// passes MSERankLimit runs (never while 2^(bits-1) (2^bits unsigned)
// times the bins stays within it: up to 2 Mi bins at 8 bits, any width
// below 16384 bins), ComputeAmax returns an error. The FP8 search
// evaluates every candidate exactly and fails past MSEExactLimit bin
// evaluations.
//
// It returns ErrUnknownMethod for another method, an error for invalid
// options (a percentile outside [0, 100], a stride below 1, start_bin 0 for
// entropy), ErrNoData before the first batch, an error where the original
// fails: no candidate (start_bin beyond the bins), entropy over a single
// bin, mse with negative bin centers (NumPy's range for a first batch whose
// |x| are all equal and below 0.5); and the mse work-limit errors above.
func (c *Histogram) ComputeAmax(method Method, o AmaxOptions) (*tensor.Tensor, error) {
	switch method {
	case MethodEntropy, MethodPercentile, MethodMSE:
	default:
		return nil, unknownMethod(method, `the histogram calibrator has "entropy", "percentile" and "mse"`)
	}
	p, err := o.resolve(method)
	if err != nil {
		return nil, err
	}
	if !c.h.HasData() {
		return nil, ErrNoData
	}
	counts, edges := c.h.Counts(), c.h.Edges()
	var v float32
	switch {
	case method == MethodEntropy:
		v, err = entropyAmax(counts, edges, c.numBits, c.unsigned, p.stride, p.startBin)
	case method == MethodPercentile:
		v, err = percentileAmax(counts, edges, p.percentile)
	case p.fp8 != 0:
		v, err = mseFP8Amax(counts, edges, p.fp8, p.stride, p.startBin)
	default:
		v, err = mseAmax(counts, edges, c.numBits, c.unsigned, p.stride, p.startBin)
	}
	if err != nil {
		return nil, err
	}
	return tensor.Scalar(v), nil
}

// Amax is ComputeAmax, for the Calibrator interface.
func (c *Histogram) Amax(method Method, o AmaxOptions) (*tensor.Tensor, error) {
	return c.ComputeAmax(method, o)
}

// Merge adds another *Histogram's counts (see histogram.Histogram.Merge for
// when the result equals collecting every batch into one calibrator). It
// returns an error if other is not a *Histogram, has other options, or
// other bins; c is then unchanged.
func (c *Histogram) Merge(other Calibrator) error {
	o, ok := other.(*Histogram)
	if !ok {
		return fmt.Errorf("calibrators: cannot merge %T into a histogram calibrator", other)
	}
	if o.numBits != c.numBits || o.unsigned != c.unsigned {
		return fmt.Errorf("calibrators: cannot merge histogram calibrators for num_bits %d unsigned %v and num_bits %d unsigned %v", c.numBits, c.unsigned, o.numBits, o.unsigned)
	}
	if err := c.h.Merge(o.h); err != nil {
		return fmt.Errorf("calibrators: %w", err)
	}
	return nil
}

// String describes the calibrator like the original's str().
func (c *Histogram) String() string {
	ho := c.h.Options()
	return fmt.Sprintf("HistogramCalibrator(num_bits=%d, unsigned=%s, num_bins=%d, skip_zeros=%s, torch_hist=%s)",
		c.numBits, pyBool(c.unsigned), c.h.NumBins(), pyBool(ho.SkipZeros), pyBool(!ho.NumPy))
}
