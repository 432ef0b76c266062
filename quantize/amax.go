package quantize

import (
	"fmt"
	"math"
	"slices"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/reduce"
	"github.com/tensorquant/tensorquant/tensor"
)

// Amax computes the amax of every quantizer of the plan, in the order of
// Plan.Sites: for an activation the calibration method's over what its
// group collected (a 0-d tensor): "max" from the max calibrator,
// "entropy", "percentile" and "mse" from the histogram, with o as the
// original's compute_amax keyword arguments (with the FP8 format, "mse"
// searches FP8 quantization and "entropy" is refused); for a weight the
// plan's weight method over its initializer (see WeightAmax).
//
// It returns the calibrators' errors, naming the quantizer.
func (c *Calibration) Amax(method calibrators.Method, o calibrators.AmaxOptions) ([]*tensor.Tensor, error) {
	p := c.plan
	if p.Options.Format == FP8 {
		o.FP8 = fakequant.E4M3FN
	}
	byGroup := make([]*tensor.Tensor, len(p.Groups))
	out := make([]*tensor.Tensor, len(p.Sites))
	for i, s := range p.Sites {
		if s.Kind == Weight {
			a, err := p.WeightAmax(s, o)
			if err != nil {
				return nil, err
			}
			out[i] = a
			continue
		}
		if byGroup[s.Group] == nil {
			a, err := c.sets[s.Group].Amax(method, o)
			if err != nil {
				return nil, fmt.Errorf("quantize: %s (value %q): %w", s.Name, s.Value, err)
			}
			byGroup[s.Group] = a
		}
		out[i] = byGroup[s.Group].Clone()
	}
	return out, nil
}

// WeightAmax returns the amax of the weight quantizer s from its
// initializer: per channel of s.Axis by the plan's weight method (the
// original's calibrate_weights: "max" is the channel's max |w|;
// "percentile" and "mse" search its histogram, with o's options), shaped
// like the weight with 1 on the other axes; max |w| as a 0-d tensor per
// tensor; with Int4 blocks, max |w| per block, shaped like the weight as
// quantized (see Options.BlockSize) with the blocked axis divided into
// blocks.
//
// It returns an error for a site that is not a weight of the plan's graph
// and the errors of calibrators.CalibrateWeight.
func (p *Plan) WeightAmax(s Site, o calibrators.AmaxOptions) (*tensor.Tensor, error) {
	info := p.g.Info(s.Value)
	if s.Kind != Weight || info == nil || info.Const == nil {
		return nil, fmt.Errorf("quantize: %s is not a weight quantizer of the graph", s.Name)
	}
	w, err := info.Const.AsFloat()
	if err != nil {
		return nil, fmt.Errorf("quantize: %s: %w", s.Name, err)
	}
	for i, v := range w.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("quantize: %s: weight %q holds %v at flat index %d", s.Name, s.Value, v, i)
		}
	}
	if view, axis := p.blockLayout(s, w.Shape); axis >= 0 {
		return blockAmax(&tensor.Tensor{Shape: view, Data: w.Data}, axis, p.Options.BlockSize), nil
	}
	if s.Axis < 0 {
		return tensor.Scalar(reduce.AbsMax(w.Data)), nil
	}
	o.FP8 = 0 // FP8 weights take "max", which has no format
	bits := p.Options.weightBits()
	if bits == 0 {
		bits = 8
	}
	a, err := calibrators.CalibrateWeight(w, p.Options.WeightMethod, calibrators.WeightOptions{Axis: []int{s.Axis}, NumBits: bits, Amax: o})
	if err != nil {
		return nil, fmt.Errorf("quantize: %s: %w", s.Name, err)
	}
	return a, nil
}

// blockLayout returns, for Int4 blocks, the shape the weight of s (of
// the given shape) is quantized as and the blocked axis: a convolution's
// weight as [filters, rest] blocked along rest, a Gemm's or MatMul's
// along its reduction (input) axis. Without blocks (and for
// ConvTranspose) the axis is -1.
func (p *Plan) blockLayout(s Site, shape []int) ([]int, int) {
	if p.Options.BlockSize == 0 || s.Kind != Weight {
		return shape, -1
	}
	switch s.OpType {
	case "Conv":
		rest := 1
		for _, d := range shape[1:] {
			rest *= d
		}
		return []int{shape[0], rest}, 1
	case "Gemm":
		return shape, 1 - s.Axis
	case "MatMul":
		return shape, len(shape) - 2
	}
	return shape, -1
}

// blockAmax returns max |w| over each block of size consecutive indices
// along axis: w's shape with that axis divided into blocks (the last may
// be shorter).
func blockAmax(w *tensor.Tensor, axis, size int) *tensor.Tensor {
	shape := slices.Clone(w.Shape)
	dim := shape[axis]
	shape[axis] = (dim + size - 1) / size
	out := tensor.New(shape...)
	inner := 1
	for _, d := range w.Shape[axis+1:] {
		inner *= d
	}
	for i, v := range w.Data {
		o, rest := i/(dim*inner), i%(dim*inner)
		j := (o*shape[axis]+rest/inner/size)*inner + rest%inner
		out.Data[j] = max(out.Data[j], float32(math.Abs(float64(v))))
	}
	return out
}
