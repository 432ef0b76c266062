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
	// Amax returns the calibrated amax for a method: "max" (or "") for Max;
	// "entropy", "percentile" or "mse" for Histogram. It returns ErrNoData
	// before the first batch and an error, never a NaN, when the amax
	// would be NaN.
	Amax(method string, o AmaxOptions) (*tensor.Tensor, error)
	// Merge adds another calibrator's batches, which must be of the same
	// kind and configuration.
	Merge(other Calibrator) error
	// MarshalBinary saves the state (see the package doc for the format),
	// UnmarshalBinary restores it.
	MarshalBinary() ([]byte, error)
	UnmarshalBinary(data []byte) error
}

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
// 99.99), so AmaxOptions{Percentile: 99.9} reads like the original's
// compute_amax("percentile", percentile=99.9). Because 0 is also a valid
// start bin and a valid percentile, set Literal to have a zero StartBin or
// Percentile taken as given.
type AmaxOptions struct {
	// Stride between candidate bins of "entropy" and "mse"; 0 means 1.
	Stride int
	// StartBin is the first candidate of "entropy" and "mse"; 0 means 128
	// unless Literal.
	StartBin int
	// Percentile of "percentile", in [0, 100]; 0 means 99.99 unless
	// Literal.
	Percentile float64
	// Literal makes a zero StartBin or Percentile mean 0.
	Literal bool
	// FP8, when set (fakequant.E4M3FN or fakequant.E5M2), makes "mse"
	// search with FP8 fake quantization (fakequant.FakeQuantFP8) instead
	// of the calibrator's integer format; every candidate is then computed
	// exactly. "percentile" does not depend on the format and ignores it;
	// "entropy", whose divergence is built on integer levels, refuses it.
	// The original has no such search.
	FP8 fakequant.FP8Format
}

// resolve applies the defaults and validates the fields a method uses.
func (o AmaxOptions) resolve(method string) (AmaxOptions, error) {
	if o.Stride == 0 {
		o.Stride = DefaultStride
	}
	if !o.Literal {
		if o.StartBin == 0 {
			o.StartBin = DefaultStartBin
		}
		if o.Percentile == 0 {
			o.Percentile = DefaultPercentile
		}
	}
	if o.FP8 != 0 {
		if err := o.FP8.Validate(); err != nil {
			return o, fmt.Errorf("calibrators: %s: %w", method, err)
		}
		if method == "entropy" {
			return o, fmt.Errorf("calibrators: entropy search with an FP8 format: the divergence is defined on integer levels")
		}
	}
	switch method {
	case "entropy", "mse":
		if o.Stride < 1 {
			return o, fmt.Errorf("calibrators: %s stride %d, want at least 1", method, o.Stride)
		}
		if o.StartBin < 0 || method == "entropy" && o.StartBin == 0 {
			return o, fmt.Errorf("calibrators: %s start_bin %d out of range (the original fails)", method, o.StartBin)
		}
	case "percentile":
		if !(o.Percentile >= 0 && o.Percentile <= 100) {
			return o, fmt.Errorf("calibrators: invalid percentile %v: must be in range 0 <= percentile <= 100", o.Percentile)
		}
	}
	return o, nil
}

func unknownMethod(method string, known string) error {
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
