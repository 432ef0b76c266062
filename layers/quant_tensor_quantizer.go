package layers

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/pyfmt"
	"github.com/tensorquant/tensorquant/reduce"
	"github.com/tensorquant/tensorquant/tensor"
)

// TensorQuantizer is the original's TensorQuantizer: a layer that
// quantizes (or fake-quantizes) whatever passes through it, built from a
// QuantDescriptor. The quantized layers hold two of them (input and
// weight), and one can be placed anywhere in a model: before the addition
// of a Residual, around a custom operation.
//
// Forward runs three stages, each switched on and off as in the original:
//
//   - calib (EnableCalib, DisableCalib): the input is collected by the
//     quantizer's calibrator (max or histogram, from the descriptor's
//     CalibMethod); LoadCalibAmax then sets the amax from it;
//   - clip (learn_amax only: EnableClip, DisableClip): the input is clipped
//     to the learned range [clip_value_min, clip_value_max];
//   - quant (EnableQuant, DisableQuant; on by default): the input is
//     quantized with the static amax (from the descriptor, SetAmax,
//     LoadCalibAmax or a checkpoint) or, when there is none, with an amax
//     computed from the input itself over every axis not in the
//     descriptor's Axis (dynamic), times ScaleAmax when it is not 0. With
//     LearnAmax the input is clipped first and the amax is
//     max(-clip_value_min, clip_value_max).
//
// Disable bypasses everything: Forward returns its input. Backward is the
// straight-through estimator (the gradient passes where |x| <= amax), and
// with LearnAmax the PACT rule of the original's Clip: the input gradient
// passes where clip_value_min < x < clip_value_max (strictly), and the
// gradients of the two bounds, the sums of the output gradient over the
// elements clipped below and above, are added to the Grad of the
// quantizer's two parameters (while the clip stage is enabled).
//
// Quirks of the original that are reproduced, because models calibrated
// with it depend on them:
//
//   - A non-fake (FakeQuant false) quantizer always quantizes to the narrow
//     range, [-(2^(b-1)-1), 2^(b-1)-1], whatever NarrowRange says, and
//     returns the integer codes as float32.
//   - A dynamic amax does not normalise negative axes: Axis []int{-1} (or
//     any negative axis) is reduced like every other axis, so -1 means
//     per-tensor. The max calibrator does normalise them, so the same
//     descriptor calibrated gives an amax per element of the last axis.
//   - An amax with one element (dynamic or calibrated) is a 0-d scalar,
//     and a 1-D amax broadcasts against the input's last dimension.
//
// Deliberate differences: a NaN or infinite amax is an error (the original
// quantizes with it and returns NaN); an Axis entry beyond the input's rank
// is an error (the original ignores it). The numbers are those of the
// original on CPU; on a GPU its fake quantization ignores narrow_range
// (set NarrowRange to reproduce a model trained there) and differs in a
// few rarer ways, listed in fakequant's package doc.
//
// For the formats of QuantDescriptor.Format and BlockSize: an FP8
// quantizer fake-quantizes with fakequant.FakeTensorQuantFP8 (the amax
// found in the same ways), or with fakequant.ScaledE4M3Tensor for
// "scaled_e4m3" (the original's num_bits=(4, 3), outside export mode), a
// block quantizer with fakequant.FakeQuantBlock
// and one amax per block of the last axis (dynamic: fakequant.BlockAmax;
// calibrated: the max calibrator over those block maxima). Both use the
// straight-through gradient of the same amax.
//
// SetExportMode switches the integer fake quantization to the numbers ONNX
// Runtime computes for the exported QuantizeLinear→DequantizeLinear pair
// (the original v2.1.2's use_fb_fake_quant), so that a model can be
// compared with its export bit for bit.
//
// A TensorQuantizer is Stateful: its static amax is the buffer "amax",
// saved in checkpoints; loading one into a dynamic quantizer makes it
// static, as the original's state-dict loading does. With LearnAmax its
// parameters are "clip.clip_value_min" and "clip.clip_value_max" (0-d).
//
// Like every layer, a quantizer must appear once in a model and is not safe
// for concurrent use.
type TensorQuantizer struct {
	desc QuantDescriptor // settings; desc.Amax and desc.AmaxShape are not used after construction
	amax *tensor.Tensor  // the static amax buffer, nil while dynamic

	disabled, quant, clip, calib bool
	exportMode                   bool

	calibrator calibrators.Calibrator
	blockShape []int // block quantizers: the shape of one batch's block amax

	clipMin, clipMax         *tensor.Tensor // learn_amax bounds, 0-d
	clipMinGrad, clipMaxGrad *tensor.Tensor

	scale *tensor.Tensor // real quantization: the scale of the last Forward
	fw    quantSaved
}

// quantSaved is what Backward needs from the last Forward.
type quantSaved struct {
	mode   int            // fwNone, fwIdentity, fwClip or fwQuant
	x      *tensor.Tensor // the input
	in     *tensor.Tensor // what was quantized: x, or x clipped (learn_amax)
	amax   *tensor.Tensor // the amax used (fwQuant)
	out    []int          // the output shape (fwQuant): x's, or grown by amax
	lo, hi float32        // the clip bounds used (learn_amax)
	learn  bool
	block  bool
}

const (
	fwNone = iota
	fwIdentity
	fwClip
	fwQuant
)

// NewTensorQuantizer returns a quantizer with the settings of d, its quant
// stage on and, with LearnAmax, its clip stage on, with clip bounds ±amax
// (±1 without an amax), as the original's constructor. It returns an error
// if d does not validate, if LearnAmax comes with more than one amax value,
// or if the calibrator cannot be made (histogram calibration of a
// per-channel descriptor: the original's "Calibrator histogram collection
// only supports per tensor scaling").
func NewTensorQuantizer(d QuantDescriptor) (*TensorQuantizer, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	q := &TensorQuantizer{desc: d.Clone(), quant: true}
	amax, err := d.AmaxTensor()
	if err != nil {
		return nil, err
	}
	q.amax = amax
	if d.LearnAmax {
		init := float32(1)
		if amax != nil {
			if len(amax.Data) != 1 {
				return nil, fmt.Errorf("layers: %s: learn_amax needs a single amax value, got %d", d.label(), len(amax.Data))
			}
			init = amax.Data[0]
		}
		q.clipMin, q.clipMax = tensor.Scalar(-init), tensor.Scalar(init)
		q.clip = true
	}
	switch {
	case d.BlockSize > 0:
		// One running max per block: the block maxima of a batch are
		// collected as a 1-D tensor, each element its own "channel".
		q.calibrator = calibrators.NewMax(d.NumBits, []int{0}, d.Unsigned)
	case d.Method() == CalibMax:
		q.calibrator = calibrators.NewMax(d.NumBits, d.Axis, d.Unsigned)
	default:
		h, err := calibrators.NewHistogram(calibrators.HistogramOptions{NumBits: d.NumBits, Unsigned: d.Unsigned, Axis: d.Axis})
		if err != nil {
			return nil, fmt.Errorf("layers: %s: %w", d.label(), err)
		}
		q.calibrator = h
	}
	return q, nil
}

// Descriptor returns the quantizer's settings as a QuantDescriptor: those
// it was built from, with Amax (and AmaxShape) holding the current static
// amax buffer, nil while the amax is dynamic. (With LearnAmax that is the
// buffer the clip bounds were initialised from; Amax returns the learned
// value.)
func (q *TensorQuantizer) Descriptor() QuantDescriptor {
	d := q.desc.Clone()
	d.Amax, d.AmaxShape = nil, nil
	if a := q.amax; a != nil {
		d.Amax = append([]float32{}, a.Data...)
		if len(a.Shape) > 1 || len(a.Shape) == 1 && a.Shape[0] == 1 {
			d.AmaxShape = append([]int{}, a.Shape...)
		}
	}
	return d
}

// Kind returns "TensorQuantizer".
func (q *TensorQuantizer) Kind() string { return "TensorQuantizer" }

// String returns the original's repr, "TensorQuantizer(" followed by its
// extra_repr, e.g. "TensorQuantizer(8bit fake axis=0 amax=[0.4648,
// 0.8186](8) calibrator=MaxCalibrator scale=1.0 quant)", or
// "TensorQuantizer(disabled)". The scale of a real quantizer prints as a
// number when it has one element, and as "[min, max](count)" otherwise
// (the original prints the torch tensor). FP8 formats print "e4m3" or
// "e5m2" in place of "8bit" ("scaled_e4m3" the original's "(4, 3)bit"), a
// block size " block_size=32" after the axis,
// and the export mode " export" at the end.
func (q *TensorQuantizer) String() string {
	return "TensorQuantizer(" + q.extraRepr() + ")"
}

func (q *TensorQuantizer) extraRepr() string {
	if q.disabled {
		return "disabled"
	}
	d := &q.desc
	var b strings.Builder
	if d.Unsigned {
		b.WriteString("unsigned ")
	}
	b.WriteString(d.width())
	if d.NarrowRange {
		b.WriteString(" narrow")
	}
	if d.FakeQuant {
		b.WriteString(" fake")
	}
	if d.Axis != nil {
		b.WriteString(" axis=" + pyAxis(d.Axis))
	} else {
		b.WriteString(" per-tensor")
	}
	if d.BlockSize > 0 {
		fmt.Fprintf(&b, " block_size=%d", d.BlockSize)
	}
	b.WriteString(" amax=" + shortValues(q.amax, "dynamic"))
	if d.ScaleAmax != 0 {
		b.WriteString(" *" + pyfmt.Scalar(d.ScaleAmax))
	}
	if d.LearnAmax {
		b.WriteString(" learned")
	}
	if _, ok := q.calibrator.(*calibrators.Histogram); ok {
		b.WriteString(" calibrator=HistogramCalibrator")
	} else {
		b.WriteString(" calibrator=MaxCalibrator")
	}
	switch {
	case d.FakeQuant:
		b.WriteString(" scale=1.0")
	case q.scale != nil && len(q.scale.Data) == 1:
		b.WriteString(" scale=" + pyfmt.Float(float64(q.scale.Data[0])))
	case q.scale != nil:
		b.WriteString(" scale=" + shortValues(q.scale, ""))
	}
	for _, s := range []struct {
		on   bool
		name string
	}{{q.quant, " quant"}, {q.clip, " clip"}, {q.calib, " calib"}, {q.exportMode, " export"}} {
		if s.on {
			b.WriteString(s.name)
		}
	}
	return b.String()
}

// shortValues prints t as the original's _short_amax: the value with four
// decimals for one element, "[min, max](count)" otherwise, or none for a
// nil t.
func shortValues(t *tensor.Tensor, none string) string {
	if t == nil {
		return none
	}
	if len(t.Data) == 1 {
		return pyfmt.Fixed(float64(t.Data[0]), 4)
	}
	lo, hi := reduce.MinMax(t.Data)
	return fmt.Sprintf("[%s, %s](%d)", pyfmt.Fixed(float64(lo), 4), pyfmt.Fixed(float64(hi), 4), len(t.Data))
}

// Disable bypasses the quantizer entirely: Forward returns its input.
func (q *TensorQuantizer) Disable() { q.disabled = true }

// Enable undoes Disable.
func (q *TensorQuantizer) Enable() { q.disabled = false }

// Disabled reports whether the quantizer is bypassed (Disable).
func (q *TensorQuantizer) Disabled() bool { return q.disabled }

// EnableQuant turns the quant stage on.
func (q *TensorQuantizer) EnableQuant() { q.quant = true }

// DisableQuant turns the quant stage off (during calibration, say).
func (q *TensorQuantizer) DisableQuant() { q.quant = false }

// QuantEnabled reports whether the quant stage is on. An exporter emits
// the quantizer only when !Disabled() && QuantEnabled().
func (q *TensorQuantizer) QuantEnabled() bool { return q.quant }

// EnableCalib turns the calib stage on: every Forward feeds its input to
// the calibrator.
func (q *TensorQuantizer) EnableCalib() { q.calib = true }

// DisableCalib turns the calib stage off.
func (q *TensorQuantizer) DisableCalib() { q.calib = false }

// CalibEnabled reports whether the calib stage is on.
func (q *TensorQuantizer) CalibEnabled() bool { return q.calib }

// EnableClip turns the clip stage on. It returns an error, as the original
// does, unless the descriptor has LearnAmax.
func (q *TensorQuantizer) EnableClip() error {
	if !q.desc.LearnAmax {
		return errorf(q, "learn_amax is false: cannot enable clip")
	}
	q.clip = true
	return nil
}

// DisableClip turns the clip stage off; the clip bounds then get no
// gradient (a learn_amax quantizer still clips before quantizing).
func (q *TensorQuantizer) DisableClip() { q.clip = false }

// ClipEnabled reports whether the clip stage is on.
func (q *TensorQuantizer) ClipEnabled() bool { return q.clip }

// Calibrator returns the quantizer's calibrator (a *calibrators.Max or a
// *calibrators.Histogram), for merging the work of parallel calibration
// runs or saving it. A block quantizer's max calibrator holds the block
// maxima flattened to one dimension.
func (q *TensorQuantizer) Calibrator() calibrators.Calibrator { return q.calibrator }

// SetExportMode switches the export-equivalent forward on or off: with it
// the integer fake quantization computes exactly what ONNX Runtime's
// QuantizeLinear→DequantizeLinear pair computes for the exported
// quantizer (fakequant.FakeQuantQDQ and FakeQuantQDQPerChannel with scale
// float32(amax/bound), 1 where that is 0, bound = 2^(b-1)-1 or 2^b-1
// unsigned, zero point 0 and the full range [-bound-1, bound] or [0,
// bound]), the analog of the original v2.1.2's use_fb_fake_quant. It
// differs from the default forward in the last bit of some values (x/scale
// instead of x·(bound/amax)), in -0 (+0 here) and for negative inputs of
// an unsigned quantizer (0 here, an error otherwise); the amax may vary
// along one axis at most, and blocks are quantized one by one the same
// way. The "e4m3" and "e5m2" quantizers already compute the ONNX
// numbers: the mode changes nothing for them; a "scaled_e4m3" quantizer
// switches to those of "e4m3" (fakequant.FakeTensorQuantFP8), which its
// export computes.
//
// It returns an error, naming the quantizer, for a real (non-fake)
// quantizer, a narrow range (ONNX Q/DQ has none) and NumBits above 16.
func (q *TensorQuantizer) SetExportMode(on bool) error {
	if on {
		switch d := q.desc; {
		case !d.FakeQuant:
			return errorf(q, "export mode needs fake quantization")
		case d.NarrowRange && !d.Unsigned:
			return errorf(q, "export mode: ONNX QuantizeLinear has no narrow range")
		case d.NumBits > 16:
			return errorf(q, "export mode: num_bits %d, ONNX QuantizeLinear has at most 16", d.NumBits)
		}
	}
	q.exportMode = on
	return nil
}

// ExportMode reports whether the export-equivalent forward is on.
func (q *TensorQuantizer) ExportMode() bool { return q.exportMode }

// Amax returns a copy of the static amax (from the descriptor, SetAmax,
// LoadCalibAmax or a checkpoint), shaped to broadcast against the
// quantizer's input (for a block quantizer: the input's shape with the last
// dimension replaced by the number of blocks), or nil while the amax is
// dynamic. With LearnAmax it returns the learned amax,
// max(-clip_value_min, clip_value_max), as a 0-d tensor.
func (q *TensorQuantizer) Amax() *tensor.Tensor {
	if q.desc.LearnAmax {
		lo, hi, err := q.clipBounds()
		if err != nil {
			return tensor.Scalar(float32(math.NaN()))
		}
		return tensor.Scalar(learnedAmax(lo, hi))
	}
	if q.amax == nil {
		return nil
	}
	return q.amax.Clone()
}

// SetAmax sets the static amax to a copy of a (the original's amax
// setter). It returns an error for an invalid tensor, a negative, NaN or
// infinite element, and a shape other than the current static amax's
// ("changing shape when setting amax is not allowed").
func (q *TensorQuantizer) SetAmax(a *tensor.Tensor) error {
	if err := a.Validate(); err != nil {
		return errorf(q, "SetAmax: %v", err)
	}
	for i, v := range a.Data {
		if !(v >= 0) || math.IsInf(float64(v), 1) {
			return errorf(q, "SetAmax: amax %v at flat index %d: want finite and >= 0", v, i)
		}
	}
	if q.amax != nil && !tensor.SameShape(q.amax.Shape, a.Shape) {
		return errorf(q, "SetAmax: changing the amax shape from %v to %v is not allowed", q.amax.Shape, a.Shape)
	}
	q.amax = a.Clone()
	return nil
}

// Scale returns a copy of the scale (maxBound/amax) of the last Forward of
// a real (non-fake) quantizer, nil before one and for fake quantization.
func (q *TensorQuantizer) Scale() *tensor.Tensor {
	if q.scale == nil {
		return nil
	}
	return q.scale.Clone()
}

// LoadCalibAmax sets the static amax from the calibrator (the original's
// load_calib_amax, strict): method is calibrators.MethodMax (or "") for a
// max calibrator, MethodEntropy, MethodPercentile or MethodMSE for a
// histogram calibrator, with the search options o ("mse" of an FP8
// quantizer searches with its FP8 format unless o.FP8 says otherwise). The
// amax replaces any previous one, whatever its shape. It returns an error,
// naming the quantizer, when the calibrator has seen no data
// (calibrators.ErrNoData), for an unknown method or bad options, and when
// the amax would be NaN (a calibration batch held NaN).
func (q *TensorQuantizer) LoadCalibAmax(method calibrators.Method, o calibrators.AmaxOptions) error {
	return q.loadCalibAmax(method, o, true)
}

// LoadCalibAmaxNonStrict is LoadCalibAmax with the original's strict=False:
// a calibrator that has seen no data sets the amax to NaN (a 0-d tensor)
// instead of failing; Forward then refuses to quantize with it. Other
// errors are those of LoadCalibAmax.
func (q *TensorQuantizer) LoadCalibAmaxNonStrict(method calibrators.Method, o calibrators.AmaxOptions) error {
	return q.loadCalibAmax(method, o, false)
}

func (q *TensorQuantizer) loadCalibAmax(method calibrators.Method, o calibrators.AmaxOptions, strict bool) error {
	if f, ok := q.desc.FP8(); ok && method == calibrators.MethodMSE && o.FP8 == 0 {
		o.FP8 = f
	}
	a, err := q.calibrator.Amax(method, o)
	switch {
	case errors.Is(err, calibrators.ErrNoData) && !strict:
		q.amax = tensor.Scalar(float32(math.NaN()))
		return nil
	case err != nil:
		return errorf(q, "load_calib_amax(%q): %w", method, err)
	}
	if q.desc.BlockSize > 0 {
		if a, err = a.Reshape(q.blockShape...); err != nil {
			return errorf(q, "load_calib_amax: block amax: %v", err)
		}
	}
	q.amax = a
	return nil
}

// InitLearnAmax sets the clip bounds of a learn_amax quantizer to ±amax of
// its static amax (its largest element when it has several), the
// original's init_learn_amax: calibrate, load the amax, then learn from
// there. It returns an error without LearnAmax or without a static amax.
func (q *TensorQuantizer) InitLearnAmax() error {
	if !q.desc.LearnAmax {
		return errorf(q, "init_learn_amax with learn_amax false")
	}
	if q.amax == nil {
		return errorf(q, "init_learn_amax without a static amax (calibrate and load one first)")
	}
	if _, _, err := q.clipBounds(); err != nil {
		return err
	}
	_, hi := reduce.MinMax(q.amax.Data)
	q.clipMin.Data[0], q.clipMax.Data[0] = -hi, hi
	return nil
}

// clipBounds returns the learn_amax clip bounds, or an error if the
// parameters no longer hold one value each.
func (q *TensorQuantizer) clipBounds() (lo, hi float32, err error) {
	if len(q.clipMin.Data) != 1 || len(q.clipMax.Data) != 1 {
		return 0, 0, errorf(q, "clip bounds of %d and %d values, want one each", len(q.clipMin.Data), len(q.clipMax.Data))
	}
	return q.clipMin.Data[0], q.clipMax.Data[0], nil
}

// learnedAmax is max(-lo, hi), NaN if either is.
func learnedAmax(lo, hi float32) float32 {
	a, b := -lo, hi
	if a != a || b != b {
		return float32(math.NaN())
	}
	return max(a, b)
}

// Params returns the clip bounds "clip.clip_value_min" and
// "clip.clip_value_max" (0-d) of a learn_amax quantizer, nil otherwise.
func (q *TensorQuantizer) Params() []Param {
	if !q.desc.LearnAmax {
		return nil
	}
	return []Param{
		{Name: "clip.clip_value_min", Value: q.clipMin, Grad: gradOf(q.clipMin, &q.clipMinGrad)},
		{Name: "clip.clip_value_max", Value: q.clipMax, Grad: gradOf(q.clipMax, &q.clipMaxGrad)},
	}
}

// State returns the static amax as the buffer "amax" (nothing while the
// amax is dynamic).
func (q *TensorQuantizer) State() []NamedTensor {
	if q.amax == nil {
		return nil
	}
	return []NamedTensor{{Name: "amax", Tensor: q.amax}}
}

// SetState sets the buffer "amax" to a copy of t, making a dynamic
// quantizer static. NaN and infinite values are accepted (a non-strict
// LoadCalibAmax can save them; Forward refuses them). It returns an error
// for another name, an invalid tensor, a negative element, or a shape other
// than the current static amax's.
func (q *TensorQuantizer) SetState(name string, t *tensor.Tensor) error {
	if name != "amax" {
		return errorf(q, "no buffer named %q", name)
	}
	if err := t.Validate(); err != nil {
		return errorf(q, "amax: %v", err)
	}
	for i, v := range t.Data {
		if v < 0 {
			return errorf(q, "amax %v at flat index %d is negative", v, i)
		}
	}
	if q.amax != nil && !tensor.SameShape(q.amax.Shape, t.Shape) {
		return errorf(q, "amax shape %v, the quantizer's is %v", t.Shape, q.amax.Shape)
	}
	q.amax = t.Clone()
	return nil
}

// OptionalBuffers returns "amax" while the amax is dynamic: SetState
// takes one then, making the quantizer static.
func (q *TensorQuantizer) OptionalBuffers() []string {
	if q.amax == nil {
		return []string{"amax"}
	}
	return nil
}

// unsetBuffer makes the quantizer dynamic again (for a failed checkpoint
// Restore that had set its amax).
func (q *TensorQuantizer) unsetBuffer(name string) {
	if name == "amax" {
		q.amax = nil
	}
}

// Forward runs the enabled stages on x (see TensorQuantizer) and returns
// the result: x itself when the quantizer is disabled or no stage changes
// it. It returns an error naming the quantizer for an invalid input, a
// calibration failure, an Axis beyond the input's rank, an amax that does
// not broadcast against x (or does not have one value per block), a
// negative, NaN or infinite amax, and a negative input of an unsigned
// format.
func (q *TensorQuantizer) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	q.fw = quantSaved{}
	if err := x.Validate(); err != nil {
		return nil, errorf(q, "input: %v", err)
	}
	if q.disabled {
		q.fw = quantSaved{mode: fwIdentity, x: x}
		return x, nil
	}
	if q.calib {
		if err := q.collect(x); err != nil {
			return nil, err
		}
	}
	if q.quant {
		return q.quantForward(x)
	}
	if q.clip {
		lo, hi, err := q.clipBounds()
		if err != nil {
			return nil, err
		}
		q.fw = quantSaved{mode: fwClip, x: x, lo: lo, hi: hi, learn: true}
		return clipTensor(x, lo, hi), nil
	}
	q.fw = quantSaved{mode: fwIdentity, x: x}
	return x, nil
}

// collect feeds x to the calibrator (a block quantizer: its block maxima).
func (q *TensorQuantizer) collect(x *tensor.Tensor) error {
	if q.desc.BlockSize == 0 {
		if err := q.calibrator.Collect(x); err != nil {
			return errorf(q, "calibration: input shape %v: %v", x.Shape, err)
		}
		return nil
	}
	a, err := q.blockAmax(x)
	if err != nil {
		return err
	}
	if q.blockShape != nil && !tensor.SameShape(q.blockShape, a.Shape) {
		return errorf(q, "calibration: input shape %v gives block amax shape %v, earlier batches %v", x.Shape, a.Shape, q.blockShape)
	}
	if err := q.calibrator.Collect(&tensor.Tensor{Shape: []int{len(a.Data)}, Data: a.Data}); err != nil {
		return errorf(q, "calibration: input shape %v: %v", x.Shape, err)
	}
	q.blockShape = a.Shape
	return nil
}

// blockAmax returns the dynamic amax of every block of x's last axis,
// shaped like x with the last dimension replaced by the block count.
func (q *TensorQuantizer) blockAmax(x *tensor.Tensor) (*tensor.Tensor, error) {
	if len(x.Shape) == 0 {
		return nil, errorf(q, "input shape %v: block quantization needs at least one dimension", x.Shape)
	}
	rowLen := x.Shape[len(x.Shape)-1]
	a, err := fakequant.BlockAmax(x.Data, rowLen, q.desc.BlockSize)
	if err != nil {
		return nil, errorf(q, "input shape %v: %v", x.Shape, err)
	}
	shape := append(append([]int{}, x.Shape[:len(x.Shape)-1]...), (rowLen+q.desc.BlockSize-1)/q.desc.BlockSize)
	return &tensor.Tensor{Shape: shape, Data: a}, nil
}

// amaxFor returns the amax to quantize x with: the static amax or the
// dynamic one, times ScaleAmax.
func (q *TensorQuantizer) amaxFor(x *tensor.Tensor) (*tensor.Tensor, error) {
	var amax *tensor.Tensor
	switch {
	case q.amax != nil:
		amax = q.amax
		if q.desc.BlockSize > 0 {
			want := append(append([]int{}, x.Shape[:max(len(x.Shape)-1, 0)]...), 0)
			if len(x.Shape) > 0 {
				want[len(want)-1] = (x.Shape[len(x.Shape)-1] + q.desc.BlockSize - 1) / q.desc.BlockSize
			}
			if !tensor.SameShape(amax.Shape, want) {
				return nil, errorf(q, "input shape %v: block amax shape %v, want %v (one per block of %d)", x.Shape, amax.Shape, want, q.desc.BlockSize)
			}
		}
	case q.desc.BlockSize > 0:
		var err error
		if amax, err = q.blockAmax(x); err != nil {
			return nil, err
		}
	default:
		var keep []int
		for _, a := range q.desc.Axis {
			switch {
			case a < 0:
				// Not normalised, as in the original: reduced like
				// any axis that is not kept.
			case a >= len(x.Shape):
				return nil, errorf(q, "input shape %v: axis %d out of range", x.Shape, a)
			default:
				keep = append(keep, a)
			}
		}
		var err error
		if amax, err = reduce.Amax(x, keep); err != nil {
			return nil, errorf(q, "input shape %v: %v", x.Shape, err)
		}
		if len(amax.Data) == 1 {
			amax.Shape = []int{}
		}
	}
	if s := q.desc.ScaleAmax; s != 0 {
		scaled := tensor.New(amax.Shape...)
		for i, v := range amax.Data {
			scaled.Data[i] = v * s
		}
		amax = scaled
	}
	return amax, nil
}

// quantForward is the quant stage.
func (q *TensorQuantizer) quantForward(x *tensor.Tensor) (*tensor.Tensor, error) {
	in, amax := x, (*tensor.Tensor)(nil)
	saved := quantSaved{mode: fwQuant, x: x, block: q.desc.BlockSize > 0}
	if q.desc.LearnAmax {
		var err error
		if saved.lo, saved.hi, err = q.clipBounds(); err != nil {
			return nil, err
		}
		saved.learn = true
		in = clipTensor(x, saved.lo, saved.hi)
		amax = tensor.Scalar(learnedAmax(saved.lo, saved.hi))
	} else {
		var err error
		if amax, err = q.amaxFor(x); err != nil {
			return nil, err
		}
	}
	for i, v := range amax.Data {
		if v != v || math.IsInf(float64(v), 0) || v < 0 {
			return nil, errorf(q, "input shape %v: amax %v at flat index %d of shape %v: want finite and >= 0", x.Shape, v, i, amax.Shape)
		}
	}
	if q.desc.Unsigned && !q.exportMode {
		for i, v := range in.Data {
			if v < 0 {
				return nil, errorf(q, "input shape %v: negative value %v at flat index %d in unsigned quantization", x.Shape, v, i)
			}
		}
	}
	var y *tensor.Tensor
	var err error
	fp8, isFP8 := q.desc.FP8()
	switch {
	case q.desc.Format == FormatScaledE4M3 && !q.exportMode:
		y, err = fakequant.ScaledE4M3Tensor(in, amax)
	case isFP8:
		y, err = fakequant.FakeTensorQuantFP8(in, amax, fp8)
	case saved.block:
		y, err = q.blockQuant(in, amax)
	case q.exportMode:
		y, err = q.qdq(in, amax)
	case q.desc.FakeQuant:
		y, err = fakequant.FakeTensorQuant(in, amax, q.desc.IntFormat())
	default:
		f := q.desc.IntFormat()
		f.NarrowRange = true // tensor_quant's default, which the original's real quantization keeps
		var scale *tensor.Tensor
		if y, scale, err = fakequant.TensorQuant(in, amax, f); err == nil {
			q.scale = scale
		}
	}
	if err != nil {
		return nil, errorf(q, "input shape %v, amax shape %v: %v", x.Shape, amax.Shape, err)
	}
	saved.in, saved.amax, saved.out = in, amax, y.Shape
	q.fw = saved
	return y, nil
}

// blockQuant fake-quantizes x with one amax per block of its last axis.
func (q *TensorQuantizer) blockQuant(x, amax *tensor.Tensor) (*tensor.Tensor, error) {
	y := tensor.New(x.Shape...)
	rowLen, bs := x.Shape[len(x.Shape)-1], q.desc.BlockSize
	if !q.exportMode {
		return y, fakequant.FakeQuantBlock(y.Data, x.Data, amax.Data, rowLen, bs, q.desc.IntFormat())
	}
	lo, hi := q.qdqRange()
	b := 0
	for r := 0; r < len(x.Data); r += rowLen {
		for s := r; s < r+rowLen; s += bs {
			e := min(s+bs, r+rowLen)
			if err := fakequant.FakeQuantQDQ(y.Data[s:e], x.Data[s:e], qdqScale(amax.Data[b], hi), 0, lo, hi); err != nil {
				return nil, err
			}
			b++
		}
	}
	return y, nil
}

// qdqRange returns the code range of the export mode: [-bound-1, bound],
// or [0, bound] unsigned.
func (q *TensorQuantizer) qdqRange() (lo, hi int32) {
	_, b := q.desc.IntFormat().Bounds()
	if q.desc.Unsigned {
		return 0, int32(b)
	}
	return -int32(b) - 1, int32(b)
}

// qdqScale is the exported scale of one amax: float32(amax/bound), 1 where
// that is 0.
func qdqScale(amax float32, bound int32) float32 {
	if s := amax / float32(bound); s != 0 {
		return s
	}
	return 1
}

// qdq is the export mode's fake quantization: per tensor, or per channel
// along the one axis where amax has more than one value.
func (q *TensorQuantizer) qdq(x, amax *tensor.Tensor) (*tensor.Tensor, error) {
	lo, hi := q.qdqRange()
	y := tensor.New(x.Shape...)
	if len(amax.Data) == 1 {
		return y, fakequant.FakeQuantQDQ(y.Data, x.Data, qdqScale(amax.Data[0], hi), 0, lo, hi)
	}
	off := len(x.Shape) - len(amax.Shape)
	axis := -1
	for i, d := range amax.Shape {
		if d == 1 {
			continue
		}
		if axis >= 0 || off < 0 || d != x.Shape[off+i] {
			return nil, fmt.Errorf("amax shape %v: export mode needs one amax per element of a single axis of the input", amax.Shape)
		}
		axis = off + i
	}
	inner := 1
	for _, d := range x.Shape[axis+1:] {
		inner *= d
	}
	scale := make([]float32, len(amax.Data))
	for i, a := range amax.Data {
		scale[i] = qdqScale(a, hi)
	}
	return y, fakequant.FakeQuantQDQPerChannel(y.Data, x.Data, scale, make([]int32, len(scale)), inner, lo, hi)
}

// clipTensor is the original's Clip forward, min(max(x... in its order:
// min(x, hi) then max(·, lo), with NaN propagated.
func clipTensor(x *tensor.Tensor, lo, hi float32) *tensor.Tensor {
	y := tensor.New(x.Shape...)
	for i, v := range x.Data {
		if v > hi {
			v = hi
		}
		if v < lo {
			v = lo
		}
		y.Data[i] = v
	}
	return y
}

// Backward returns the gradient with respect to the input of the last
// Forward: dy itself where the quantizer was the identity, the
// straight-through gradient of the amax used after quantization (summed
// back to the input's shape where the amax grew the output's, as autograd
// does), and with LearnAmax the Clip rule (and, while the clip stage is
// on, the bounds' gradients added to their Grad). It returns an error
// before any Forward or for a dy not shaped like that Forward's output.
func (q *TensorQuantizer) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	fw := &q.fw
	var shape []int
	switch {
	case fw.mode == fwQuant:
		shape = fw.out
	case fw.mode != fwNone:
		shape = fw.x.Shape
	}
	if err := checkGrad(q, shape, dy); err != nil {
		return nil, err
	}
	switch fw.mode {
	case fwIdentity:
		return dy, nil
	case fwClip:
		return q.clipBackward(dy), nil
	}
	var g *tensor.Tensor
	if fw.block {
		g = tensor.New(dy.Shape...)
		rowLen, bs := fw.in.Shape[len(fw.in.Shape)-1], q.desc.BlockSize
		b := 0
		for r := 0; r < len(dy.Data); r += rowLen {
			for s := r; s < r+rowLen; s += bs {
				e := min(s+bs, r+rowLen)
				fakequant.STE(g.Data[s:e], fw.in.Data[s:e], dy.Data[s:e], fw.amax.Data[b])
				b++
			}
		}
	} else {
		var err error
		if g, err = fakequant.STEGrad(fw.in, fw.amax, dy); err != nil {
			return nil, errorf(q, "%v", err)
		}
	}
	if fw.learn {
		return q.clipBackward(g), nil
	}
	return g, nil
}

// clipBackward is the original's Clip backward for gradient g of the
// clipped output: g where lo < x < hi (strictly), else g·0; the gradients
// of the bounds (sums of g over the elements at or beyond each bound) are
// added to their Grad while the clip stage is on.
func (q *TensorQuantizer) clipBackward(g *tensor.Tensor) *tensor.Tensor {
	fw := &q.fw
	dx := tensor.New(g.Shape...)
	var sMin, sMax float64
	for i, v := range fw.x.Data {
		var fMin, fMax float32
		if v > fw.lo {
			fMin = 1
		}
		if v < fw.hi {
			fMax = 1
		}
		d := g.Data[i]
		dx.Data[i] = d * fMin * fMax
		sMin += float64(d * (1 - fMin))
		sMax += float64(d * (1 - fMax))
	}
	if q.clip {
		if gMin := gradOf(q.clipMin, &q.clipMinGrad); len(gMin.Data) == 1 {
			gMin.Data[0] += float32(sMin)
		}
		if gMax := gradOf(q.clipMax, &q.clipMaxGrad); len(gMax.Data) == 1 {
			gMax.Data[0] += float32(sMax)
		}
	}
	return dx
}
