package layers

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// ReLU is torch.nn.ReLU: max(x, 0) elementwise, with NaN passed through as
// PyTorch does. Its gradient is dy where x > 0, else 0.
type ReLU struct {
	x *tensor.Tensor
}

// NewReLU returns a ReLU.
func NewReLU() *ReLU { return &ReLU{} }

// Kind returns "ReLU".
func (r *ReLU) Kind() string { return "ReLU" }

// String returns "ReLU()".
func (r *ReLU) String() string { return "ReLU()" }

// Params returns nil.
func (r *ReLU) Params() []Param { return nil }

// Forward returns max(x, 0). It returns an error for an invalid tensor.
func (r *ReLU) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if err := x.Validate(); err != nil {
		return nil, errorf(r, "input: %v", err)
	}
	y := tensor.New(x.Shape...)
	for i, v := range x.Data {
		if !(v <= 0) {
			y.Data[i] = v
		}
	}
	r.x = x
	return y, nil
}

// Export writes the layer as Relu.
func (r *ReLU) Export(b Builder, x Value) (Value, error) {
	return b.Node("Relu", []Value{x}, x.Shape), nil
}

// Backward returns dy where the input of the last Forward was positive, 0
// elsewhere.
func (r *ReLU) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	var shape []int
	if r.x != nil {
		shape = r.x.Shape
	}
	if err := checkGrad(r, shape, dy); err != nil {
		return nil, err
	}
	dx := tensor.New(dy.Shape...)
	for i, v := range r.x.Data {
		if v > 0 {
			dx.Data[i] = dy.Data[i]
		}
	}
	return dx, nil
}

// Flatten is torch.nn.Flatten: it merges the dimensions StartDim..EndDim
// (inclusive; negative values count from the end) into one. The output
// shares the input's data.
type Flatten struct {
	StartDim, EndDim int

	inShape, outShape []int
}

// NewFlatten returns torch.nn.Flatten(start_dim, end_dim); PyTorch's
// default is NewFlatten(1, -1).
func NewFlatten(startDim, endDim int) *Flatten { return &Flatten{StartDim: startDim, EndDim: endDim} }

// Kind returns "Flatten".
func (f *Flatten) Kind() string { return "Flatten" }

// String returns PyTorch's repr: "Flatten(start_dim=1, end_dim=-1)".
func (f *Flatten) String() string {
	return fmt.Sprintf("Flatten(start_dim=%d, end_dim=%d)", f.StartDim, f.EndDim)
}

// Params returns nil.
func (f *Flatten) Params() []Param { return nil }

// Forward returns x with dimensions StartDim..EndDim merged (sharing x's
// data). It returns an error if a dimension is out of range or StartDim
// comes after EndDim.
func (f *Flatten) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if err := x.Validate(); err != nil {
		return nil, errorf(f, "input: %v", err)
	}
	rank := max(len(x.Shape), 1) // torch treats a scalar as having one dimension here
	s, err1 := tensor.NormalizeAxis(f.StartDim, rank)
	e, err2 := tensor.NormalizeAxis(f.EndDim, rank)
	if err1 != nil || err2 != nil || s > e {
		return nil, errorf(f, "input shape %v: cannot flatten dimensions %d to %d", x.Shape, f.StartDim, f.EndDim)
	}
	out := []int{1}
	if len(x.Shape) > 0 {
		merged := 1
		for _, d := range x.Shape[s : e+1] {
			merged *= d
		}
		out = append(append(append([]int{}, x.Shape[:s]...), merged), x.Shape[e+1:]...)
	}
	f.inShape, f.outShape = x.Shape, out
	return &tensor.Tensor{Shape: out, Data: x.Data}, nil
}

// Export writes the layer as ONNX Flatten (axis 1) when that gives the
// same result (start_dim 1 through the last dimension), else as Reshape
// (0 keeps the batch dimension, -1 is the merged one). It returns an error
// for dimensions out of range and for merging the symbolic batch
// dimension.
func (f *Flatten) Export(b Builder, x Value) (Value, error) {
	r := len(x.Shape)
	s, err1 := tensor.NormalizeAxis(f.StartDim, r)
	e, err2 := tensor.NormalizeAxis(f.EndDim, r)
	if err1 != nil || err2 != nil || s > e {
		return Value{}, fmt.Errorf("input shape %s: cannot flatten dimensions %d to %d", FormatShape(x.Shape), f.StartDim, f.EndDim)
	}
	if slices.Contains(x.Shape[s:e+1], Batch) {
		return Value{}, fmt.Errorf("input shape %s: flattening from dimension %d merges the batch dimension, which the export keeps symbolic", FormatShape(x.Shape), s)
	}
	if s == e {
		return x, nil
	}
	merged := 1
	for _, d := range x.Shape[s : e+1] {
		merged *= d
	}
	out := append(append(slices.Clone(x.Shape[:s]), merged), x.Shape[e+1:]...)
	if e == r-1 && s == 1 {
		return b.Node("Flatten", []Value{x}, out, onnx.IntAttr("axis", 1)), nil
	}
	target := make([]int64, len(out))
	for i, d := range out {
		target[i] = int64(d)
	}
	target[0], target[s] = 0, -1
	t, err := onnx.NewTensor("", []int64{int64(len(target))}, target)
	if err != nil {
		return Value{}, err
	}
	return b.Node("Reshape", []Value{x, b.Constant(t)}, out), nil
}

// Backward returns dy reshaped to the input shape of the last Forward
// (sharing dy's data).
func (f *Flatten) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if err := checkGrad(f, f.outShape, dy); err != nil {
		return nil, err
	}
	return &tensor.Tensor{Shape: append([]int{}, f.inShape...), Data: dy.Data}, nil
}

// Dropout is torch.nn.Dropout: in training mode each element is zeroed
// with probability P and the others are scaled by 1/(1-P) (inverted
// dropout); in evaluation mode it is the identity. The mask comes from the
// layer's own generator, seeded at construction, so runs are reproducible.
type Dropout struct {
	P float64

	rng      *rand.Rand
	training bool
	mask     []float32 // the factor (0 or 1/(1-P)) of each element; nil in eval mode
	shape    []int
}

// NewDropout returns torch.nn.Dropout(p) with its mask generator seeded
// with seed. It returns an error unless 0 <= p <= 1.
func NewDropout(p float64, seed uint64) (*Dropout, error) {
	if !(p >= 0 && p <= 1) {
		return nil, fmt.Errorf("layers: Dropout(p=%v): want 0 <= p <= 1", p)
	}
	return &Dropout{P: p, rng: rand.New(rand.NewPCG(seed, 0x64726f706f7574)), training: true}, nil
}

// Kind returns "Dropout".
func (d *Dropout) Kind() string { return "Dropout" }

// String returns PyTorch's repr: "Dropout(p=0.5, inplace=False)".
func (d *Dropout) String() string { return fmt.Sprintf("Dropout(p=%v, inplace=False)", d.P) }

// Params returns nil.
func (d *Dropout) Params() []Param { return nil }

// SetTraining switches between training (random mask) and evaluation
// (identity).
func (d *Dropout) SetTraining(training bool) { d.training = training }

// Training reports whether the layer is in training mode.
func (d *Dropout) Training() bool { return d.training }

// Forward applies a fresh random mask in training mode and returns a copy
// of x in evaluation mode. It returns an error for an invalid tensor or P
// outside [0, 1].
func (d *Dropout) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if err := x.Validate(); err != nil {
		return nil, errorf(d, "input: %v", err)
	}
	if !(d.P >= 0 && d.P <= 1) {
		return nil, errorf(d, "p=%v: want 0 <= p <= 1", d.P)
	}
	d.shape = x.Shape
	y := x.Clone()
	if !d.training || d.P == 0 {
		d.mask = nil
		return y, nil
	}
	if cap(d.mask) < len(x.Data) {
		d.mask = make([]float32, len(x.Data))
	}
	d.mask = d.mask[:len(x.Data)]
	scale := float32(0)
	if d.P < 1 {
		scale = float32(1 / (1 - d.P))
	}
	for i := range d.mask {
		f := scale
		if d.rng.Float64() < d.P {
			f = 0
		}
		d.mask[i] = f
		y.Data[i] *= f
	}
	return y, nil
}

// Export writes nothing: in inference Dropout is the identity.
func (d *Dropout) Export(_ Builder, x Value) (Value, error) { return x, nil }

// Backward applies the last Forward's mask to dy.
func (d *Dropout) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if err := checkGrad(d, d.shape, dy); err != nil {
		return nil, err
	}
	dx := dy.Clone()
	if d.mask != nil {
		for i, f := range d.mask {
			dx.Data[i] *= f
		}
	}
	return dx, nil
}
