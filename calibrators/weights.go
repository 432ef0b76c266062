package calibrators

import (
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/histogram"
	"github.com/tensorquant/tensorquant/reduce"
	"github.com/tensorquant/tensorquant/tensor"
)

// WeightOptions configures CalibrateWeight, the original's calibrate_weights
// for one weight tensor.
type WeightOptions struct {
	// Axis is the kept (channel) axis: nil or empty for per tensor, {0}
	// for Conv and Linear weights, {1} for ConvTranspose weights. Negative
	// axes count from the end. At most one axis.
	Axis []int
	// NumBits of the weight format; 0 means 8.
	NumBits int
	// Unsigned weight format.
	Unsigned bool
	// NumBins of each per-channel histogram; 0 means 2048. As in the
	// original, the per-tensor histogram always has 2048 bins.
	NumBins int
	// Amax holds Percentile (and Stride, StartBin and FP8 for "mse"), with
	// the zero-value defaults of AmaxOptions.
	Amax AmaxOptions
}

// CalibrateWeight computes the amax of a weight tensor as the original's
// calibrate_weights does: per channel of Axis (or for the whole tensor),
// the histogram np.histogram(|w|, bins, range=(0, max|w|)), then the
// channel's amax by method: "max" (the abs-max; per channel only),
// "percentile" or "mse" over that histogram. The result is shaped like the
// weight with 1 on every axis but the channel axis (a 0-d tensor per
// tensor).
//
// It returns an error for an invalid or empty weight, a format (NumBits,
// Unsigned) that fakequant.Format.Validate refuses, NumBins outside [0,
// histogram.MaxBins], more than one axis or one out of range, a NaN or
// infinite weight (np.histogram fails), an
// unknown method ("entropy" included, as in the original), "max" per tensor
// (the original fails there with "list.remove(x): x not in list"), and the
// errors of Histogram.ComputeAmax.
func CalibrateWeight(w *tensor.Tensor, method Method, o WeightOptions) (*tensor.Tensor, error) {
	if err := w.Validate(); err != nil {
		return nil, fmt.Errorf("calibrators: weight: %w", err)
	}
	if len(w.Data) == 0 {
		return nil, fmt.Errorf("calibrators: empty weight of shape %v", w.Shape)
	}
	switch method {
	case MethodMax, MethodPercentile, MethodMSE:
	default:
		return nil, fmt.Errorf("%w %q for weights (calibrate_weights has \"max\", \"percentile\" and \"mse\")", ErrUnknownMethod, method)
	}
	if len(o.Axis) > 1 {
		return nil, fmt.Errorf("calibrators: weight calibration over axes %v: one channel axis at most", o.Axis)
	}
	for i, v := range w.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("calibrators: weight element %v at flat index %d (the original's np.histogram fails on it)", v, i)
		}
	}
	if o.NumBits == 0 {
		o.NumBits = DefaultNumBits
	}
	if err := (fakequant.Format{NumBits: o.NumBits, Unsigned: o.Unsigned}).Validate(); err != nil {
		return nil, fmt.Errorf("calibrators: %w", err)
	}
	if o.NumBins == 0 {
		o.NumBins = DefaultNumBins
	}
	ao, err := o.Amax.resolve(method)
	if err != nil {
		return nil, err
	}
	if len(o.Axis) == 0 {
		if method == MethodMax {
			return nil, fmt.Errorf("calibrators: per-tensor \"max\" weight calibration fails in the original (list.remove(x): x not in list); use reduce.Amax")
		}
		v, err := weightChannelAmax(w.Data, DefaultNumBins, method, o, ao)
		if err != nil {
			return nil, err
		}
		return tensor.Scalar(v), nil
	}
	axis, err := tensor.NormalizeAxis(o.Axis[0], len(w.Shape))
	if err != nil {
		return nil, fmt.Errorf("calibrators: weight of shape %v: %w", w.Shape, err)
	}
	if method == MethodMax {
		return reduce.Amax(w, []int{axis})
	}
	outShape := make([]int, len(w.Shape))
	for i := range outShape {
		outShape[i] = 1
	}
	outShape[axis] = w.Shape[axis]
	out := tensor.New(outShape...)
	inner := 1
	for _, d := range w.Shape[axis+1:] {
		inner *= d
	}
	ch := w.Shape[axis]
	buf := make([]float32, len(w.Data)/ch)
	for c := range ch {
		// Gather channel c: the runs of inner elements at c along axis.
		buf = buf[:0]
		for r := c * inner; r < len(w.Data); r += ch * inner {
			buf = append(buf, w.Data[r:r+inner]...)
		}
		if out.Data[c], err = weightChannelAmax(buf, o.NumBins, method, o, ao); err != nil {
			return nil, fmt.Errorf("calibrators: channel %d: %w", c, err)
		}
	}
	return out, nil
}

func weightChannelAmax(x []float32, bins int, method Method, o WeightOptions, ao amaxParams) (float32, error) {
	counts, edges32, err := histogram.NumpyHistogram(x, bins, 0, reduce.AbsMax(x), false)
	if err != nil {
		return 0, fmt.Errorf("calibrators: %w", err)
	}
	edges := make([]float64, len(edges32))
	for i, e := range edges32 {
		edges[i] = float64(e)
	}
	if method == MethodPercentile {
		return percentileAmax(counts, edges, ao.percentile)
	}
	if ao.fp8 != 0 {
		return mseFP8Amax(counts, edges, ao.fp8, ao.stride, ao.startBin)
	}
	return mseAmax(counts, edges, o.NumBits, o.Unsigned, ao.stride, ao.startBin)
}
