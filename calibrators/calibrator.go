package calibrators

import (
	"errors"
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/tensor"
)

// Calibrator is what a quantizer needs from a calibrator: feed it batches,
// ask it for an amax, and (for parallel or multi-process calibration) merge
// and save it. Max and Histogram satisfy it.
type Calibrator interface {
	// Collect adds one batch of data.
	Collect(x *tensor.Tensor) error
	// Reset forgets every batch.
	Reset()
	// Amax returns the calibrated amax for a method: MethodMax (or "") for
	// Max; MethodEntropy, MethodPercentile or MethodMSE for Histogram. It
	// returns ErrNoData before the first batch and an error, never a NaN,
	// when the amax would be NaN.
	Amax(method Method, o AmaxOptions) (*tensor.Tensor, error)
	// Merge adds another calibrator's batches, which must be of the same
	// kind and configuration.
	Merge(other Calibrator) error
	// MarshalBinary saves the state (see the package doc for the format),
	// UnmarshalBinary restores it.
	MarshalBinary() ([]byte, error)
	UnmarshalBinary(data []byte) error
}

// Method is a calibration method: how an amax is computed from what a
// calibrator collected. It is a string type so that the original's names
// read as they do there (ComputeAmax("entropy", ...)); text from a flag or
// a file converts with Method(s), and an unknown name is an error
// (ErrUnknownMethod) where it is used.
type Method string

// The calibration methods.
const (
	// MethodMax is the running abs-max of the Max calibrator.
	MethodMax Method = "max"
	// MethodEntropy is TensorRT's KL-divergence search over a histogram.
	MethodEntropy Method = "entropy"
	// MethodPercentile is a percentile of a histogram.
	MethodPercentile Method = "percentile"
	// MethodMSE minimizes the mean squared quantization error over a
	// histogram.
	MethodMSE Method = "mse"
)

// Errors that the functions of this package wrap; test with errors.Is.
var (
	// ErrNoData: no batch was collected (the original returns None).
	ErrNoData = errors.New("calibrators: no data collected")
	// ErrUnknownMethod: a calibration method this calibrator does not have.
	ErrUnknownMethod = errors.New("calibrators: unknown calibration method")
	// ErrNaNAmax: the amax is NaN (a batch contained NaN). The original
	// quantizes with it; we refuse.
	ErrNaNAmax = errors.New("calibrators: amax is NaN")
)

// The original's defaults.
const (
	DefaultNumBins    = 2048
	DefaultNumBits    = 8
	DefaultStride     = 1
	DefaultStartBin   = 128
	DefaultPercentile = 99.99
)

// AmaxOptions are the keyword arguments of the original's compute_amax.
// The zero value selects every default (stride 1, start_bin 128, percentile
// 99.99). StartBin and Percentile are pointers because 0 is a valid value
// of both: nil is the default, and Go's new(expr) gives the rest, so
// AmaxOptions{Percentile: new(99.9)} reads like the original's
// compute_amax("percentile", percentile=99.9). (A stride is never 0, so
// Stride 0 means the default.)
type AmaxOptions struct {
	// Stride between candidate bins of "entropy" and "mse"; 0 means 1.
	Stride int
	// StartBin is the first candidate of "entropy" and "mse"; nil means
	// 128.
	StartBin *int
	// Percentile of "percentile", in [0, 100]; nil means 99.99.
	Percentile *float64
	// FP8, when set (fakequant.E4M3FN or fakequant.E5M2), makes "mse"
	// search with FP8 fake quantization (fakequant.FakeQuantFP8) instead
	// of the calibrator's integer format; every candidate is then computed
	// exactly. "percentile" does not depend on the format and ignores it;
	// "entropy", whose divergence is built on integer levels, refuses it.
	// The original has no such search.
	FP8 fakequant.FP8Format
}

// amaxParams are AmaxOptions with the defaults applied.
type amaxParams struct {
	stride, startBin int
	percentile       float64
	fp8              fakequant.FP8Format
}

// resolve applies the defaults and validates the fields a method uses.
func (o AmaxOptions) resolve(method Method) (amaxParams, error) {
	p := amaxParams{stride: o.Stride, startBin: DefaultStartBin, percentile: DefaultPercentile, fp8: o.FP8}
	if p.stride == 0 {
		p.stride = DefaultStride
	}
	if o.StartBin != nil {
		p.startBin = *o.StartBin
	}
	if o.Percentile != nil {
		p.percentile = *o.Percentile
	}
	if p.fp8 != 0 {
		if err := p.fp8.Validate(); err != nil {
			return p, fmt.Errorf("calibrators: %s: %w", method, err)
		}
		if method == MethodEntropy {
			return p, fmt.Errorf("calibrators: entropy search with an FP8 format: the divergence is defined on integer levels")
		}
	}
	switch method {
	case MethodEntropy, MethodMSE:
		if p.stride < 1 {
			return p, fmt.Errorf("calibrators: %s stride %d, want at least 1", method, p.stride)
		}
		if p.startBin < 0 || method == MethodEntropy && p.startBin == 0 {
			return p, fmt.Errorf("calibrators: %s start_bin %d out of range (the original fails)", method, p.startBin)
		}
	case MethodPercentile:
		if !(p.percentile >= 0 && p.percentile <= 100) {
			return p, fmt.Errorf("calibrators: invalid percentile %v: must be in range 0 <= percentile <= 100", p.percentile)
		}
	}
	return p, nil
}

func unknownMethod(method Method, known string) error {
	return fmt.Errorf("%w %q (%s)", ErrUnknownMethod, method, known)
}

// checkNaN returns ErrNaNAmax naming the first NaN element of amax.
func checkNaN(amax *tensor.Tensor) error {
	for i, v := range amax.Data {
		if math.IsNaN(float64(v)) {
			return fmt.Errorf("%w at flat index %d of shape %v", ErrNaNAmax, i, amax.Shape)
		}
	}
	return nil
}
