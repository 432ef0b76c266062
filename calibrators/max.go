package calibrators

import (
	"fmt"

	"github.com/tensorquant/tensorquant/reduce"
	"github.com/tensorquant/tensorquant/tensor"
)

// Max is the original's MaxCalibrator: the running abs-max of the batches,
// per tensor or per channel.
type Max struct {
	numBits  int
	axis     []int
	unsigned bool
	track    bool
	amax     *tensor.Tensor   // nil before the first batch
	amaxs    []*tensor.Tensor // per-batch amax, when tracking
}

// NewMax returns a max calibrator. axis names the axes that keep their own
// amax (the "remaining axes" of QuantDescriptor.Axis; negative axes count
// from the end of each batch's shape); nil or empty is per tensor. numBits
// and unsigned describe the format the amax is for; the max search does not
// use them.
func NewMax(numBits int, axis []int, unsigned bool) *Max {
	return &Max{numBits: numBits, axis: append([]int(nil), axis...), unsigned: unsigned}
}

// NumBits returns the format width given to NewMax.
func (m *Max) NumBits() int { return m.numBits }

// Axis returns a copy of the kept axes given to NewMax.
func (m *Max) Axis() []int { return append([]int(nil), m.axis...) }

// Unsigned reports the format signedness given to NewMax.
func (m *Max) Unsigned() bool { return m.unsigned }

// SetTrackAmax turns on or off the recording of every batch's amax (the
// original's track_amax); see Amaxs.
func (m *Max) SetTrackAmax(on bool) { m.track = on }

// Amaxs returns copies of the per-batch amaxes recorded while tracking.
func (m *Max) Amaxs() []*tensor.Tensor {
	out := make([]*tensor.Tensor, len(m.amaxs))
	for i, a := range m.amaxs {
		out[i] = a.Clone()
	}
	return out
}

// Collect folds one batch into the running amax: the abs-max over every
// axis not kept, with the reduced dimensions kept as size 1 (the whole
// result squeezed to a 0-d scalar when it has one element), and an
// element-wise max with the previous batches in which NaN is sticky.
//
// It returns an error for an invalid or empty tensor, a kept axis out of
// range or given twice, and a batch whose amax shape differs from the
// previous ones (the original's "amax shape changed!"); m is then
// unchanged.
func (m *Max) Collect(x *tensor.Tensor) error {
	if err := x.Validate(); err != nil {
		return fmt.Errorf("calibrators: %w", err)
	}
	if len(x.Data) == 0 {
		return fmt.Errorf("calibrators: empty batch of shape %v", x.Shape)
	}
	local, err := reduce.Amax(x, m.axis)
	if err != nil {
		return fmt.Errorf("calibrators: %w", err)
	}
	if len(local.Data) == 1 {
		local.Shape = []int{}
	}
	if m.amax == nil {
		m.amax = local.Clone()
	} else {
		if !tensor.SameShape(local.Shape, m.amax.Shape) {
			return fmt.Errorf("calibrators: amax shape changed from %v to %v (batch shape %v)", m.amax.Shape, local.Shape, x.Shape)
		}
		maxInto(m.amax.Data, local.Data)
	}
	if m.track {
		m.amaxs = append(m.amaxs, local)
	}
	return nil
}

// maxInto sets dst[i] = max(dst[i], src[i]) with NaN sticky.
func maxInto(dst, src []float32) {
	for i, v := range src {
		switch d := dst[i]; {
		case d != d:
		case v != v || v > d:
			dst[i] = v
		}
	}
}

// ComputeAmax returns a copy of the running amax, or nil before the first
// batch. It may hold NaN (see Amax).
func (m *Max) ComputeAmax() *tensor.Tensor {
	if m.amax == nil {
		return nil
	}
	return m.amax.Clone()
}

// Amax is ComputeAmax for the Calibrator interface: method must be
// MethodMax or "" (o is ignored). It returns ErrNoData before the first batch,
// ErrNaNAmax if the amax holds NaN, and ErrUnknownMethod for another method.
func (m *Max) Amax(method Method, o AmaxOptions) (*tensor.Tensor, error) {
	if method != MethodMax && method != "" {
		return nil, unknownMethod(method, `the max calibrator has "max"`)
	}
	a := m.ComputeAmax()
	if a == nil {
		return nil, ErrNoData
	}
	if err := checkNaN(a); err != nil {
		return nil, err
	}
	return a, nil
}

// Reset forgets every batch and the recorded amaxes.
func (m *Max) Reset() { m.amax, m.amaxs = nil, nil }

// Merge folds another *Max into m as if m had also collected its batches:
// element-wise max of the amaxes (NaN sticky), and its recorded amaxes
// appended to m's. It returns an error if other is not a *Max, has another
// configuration, or an amax of another shape; m is then unchanged.
func (m *Max) Merge(other Calibrator) error {
	o, ok := other.(*Max)
	if !ok {
		return fmt.Errorf("calibrators: cannot merge %T into a max calibrator", other)
	}
	if o.numBits != m.numBits || o.unsigned != m.unsigned || !tensor.SameShape(o.axis, m.axis) {
		return fmt.Errorf("calibrators: cannot merge max calibrators of num_bits %d axis %v unsigned %v and num_bits %d axis %v unsigned %v",
			m.numBits, m.axis, m.unsigned, o.numBits, o.axis, o.unsigned)
	}
	if o.amax == nil {
		return nil
	}
	if m.amax == nil {
		m.amax = o.amax.Clone()
	} else {
		if !tensor.SameShape(o.amax.Shape, m.amax.Shape) {
			return fmt.Errorf("calibrators: cannot merge amax of shape %v into %v", o.amax.Shape, m.amax.Shape)
		}
		maxInto(m.amax.Data, o.amax.Data)
	}
	m.amaxs = append(m.amaxs, o.Amaxs()...)
	return nil
}

// String describes the calibrator as the original's str() does.
func (m *Max) String() string {
	return fmt.Sprintf("MaxCalibrator(track_amax=%v)", pyBool(m.track))
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
