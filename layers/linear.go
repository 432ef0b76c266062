package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/tensorquant/tensorquant/internal/gemm"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// Linear is torch.nn.Linear: y = x·Wᵀ + b over the last dimension of x, so
// an input [..., InFeatures] gives [..., OutFeatures]. Weight is
// [OutFeatures, InFeatures] and Bias [OutFeatures] (nil without bias), as in
// PyTorch.
type Linear struct {
	InFeatures, OutFeatures int
	Weight, Bias            *tensor.Tensor

	weightGrad, biasGrad *tensor.Tensor
	fw                   affine
}

func init() {
	// The original's QuantLinear: weights per row, in its default
	// quantization map.
	declareQuantizable[Linear](quantFacts{kind: "Linear", weightAxis: 0, byDefault: true})
}

// NewLinear returns torch.nn.Linear(in, out, bias) with weight and bias
// drawn from rng uniformly in ±1/sqrt(in), as PyTorch initialises them.
// rng is a math/rand/v2 source; nil means rand.New(rand.NewPCG(0, 0)) (see
// NewConv). It returns an error for a size < 1 or a weight too large to
// allocate.
func NewLinear(in, out int, bias bool, rng *rand.Rand) (*Linear, error) {
	w, b, err := affineParams("Linear", in, out, bias, true, rng)
	if err != nil {
		return nil, err
	}
	return &Linear{InFeatures: in, OutFeatures: out, Weight: w, Bias: b}, nil
}

// Kind returns "Linear".
func (l *Linear) Kind() string { return "Linear" }

// String returns PyTorch's repr: "Linear(in_features=16, out_features=8,
// bias=True)".
func (l *Linear) String() string {
	b := "True"
	if l.Bias == nil {
		b = "False"
	}
	return fmt.Sprintf("Linear(in_features=%d, out_features=%d, bias=%s)", l.InFeatures, l.OutFeatures, b)
}

// Params returns "weight" and, when the layer has one, "bias".
func (l *Linear) Params() []Param { return l.WeightInfo().params() }

// WeightInfo returns the weight, whose output channels (rows) are axis 0,
// and the bias.
func (l *Linear) WeightInfo() WeightInfo {
	return weightInfo(l.Weight, &l.weightGrad, l.Bias, &l.biasGrad, 0)
}

// Forward returns x·Wᵀ + b. It returns an error for a scalar input, a last
// dimension other than InFeatures, or weights whose shape changed.
func (l *Linear) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return l.ForwardWeight(x, l.Weight)
}

// Backward returns the input gradient of the last Forward and adds the
// weight and bias gradients to the parameters' Grad.
func (l *Linear) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return l.BackwardWeight(dy, gradOf(l.Weight, &l.weightGrad))
}

// Export writes the layer as PyTorch does: Gemm (transB=1) on a 2-D
// input, else Transpose of the weight, MatMul and Add; at opset 10, whose
// Gemm needs a bias, a layer without bias is always MatMul. It returns an
// error for sizes and weights that do not fit each other or x.
func (l *Linear) Export(b Builder, x Value) (Value, error) {
	in, outF := l.InFeatures, l.OutFeatures
	out, w, bias, err := exportAffine(b, x, in, outF, l.Weight, l.Bias, outF, in)
	if err != nil {
		return Value{}, err
	}
	if len(x.Shape) == 2 && (l.Bias != nil || b.Opset() >= 11) {
		inputs := []Value{x, w}
		if l.Bias != nil {
			inputs = append(inputs, bias)
		}
		return b.Node("Gemm", inputs, out,
			onnx.FloatAttr("alpha", 1), onnx.FloatAttr("beta", 1), onnx.IntAttr("transB", 1)), nil
	}
	wt := b.Node("Transpose", []Value{w}, []int{in, outF}, onnx.IntsAttr("perm", 1, 0))
	y := b.Node("MatMul", []Value{x, wt}, out)
	if l.Bias == nil {
		return y, nil
	}
	return b.Node("Add", []Value{y, bias}, out), nil
}

// unshare makes a copy of the layer made by assignment independent of the
// original: it forgets what the last Forward saved; the weight and bias
// tensors, and their gradients, stay shared.
func (l *Linear) unshare() { l.fw = affine{} }

// ForwardWeight is Forward with w in place of the weight (same shape): x
// and w are kept for Backward.
func (l *Linear) ForwardWeight(x, w *tensor.Tensor) (*tensor.Tensor, error) {
	return l.fw.forward(l, x, w, l.Bias, l.InFeatures, l.OutFeatures, true)
}

// BackwardWeight is Backward, except that the gradient with respect to the
// weight the last Forward (or ForwardWeight) used is added to dw, which
// has as many elements, instead of the weight's Grad. The bias gradient
// goes to the bias's Grad.
func (l *Linear) BackwardWeight(dy, dw *tensor.Tensor) (*tensor.Tensor, error) {
	return l.fw.backward(l, dy, dw, l.Bias, &l.biasGrad)
}

// affineParams returns a weight ([out, in] when outIn, else [in, out])
// and, with bias, a bias, drawn from rng (nil: see orDefault) uniformly in
// ±1/sqrt(in), as nn.Linear initialises them. It returns an error naming
// the layer kind for a size < 1 or a weight too large to allocate.
func affineParams(kind string, in, out int, bias, outIn bool, rng *rand.Rand) (w, b *tensor.Tensor, err error) {
	if in < 1 || out < 1 || in > maxParamElems/out {
		return nil, nil, fmt.Errorf("layers: %s(in_features=%d, out_features=%d): want sizes from 1 to a weight of %d elements", kind, in, out, maxParamElems)
	}
	rng = orDefault(rng)
	if outIn {
		w = tensor.New(out, in)
	} else {
		w = tensor.New(in, out)
	}
	bound := float32(1 / math.Sqrt(float64(in)))
	uniform(w.Data, bound, rng)
	if bias {
		b = tensor.New(out)
		uniform(b.Data, bound, rng)
	}
	return w, b, nil
}

// exportAffine checks the sizes, the weight (of shape wshape) and the bias
// (nil or [out]) against the input x, and returns the output shape and
// the values of the weight and the bias (the zero Value without one).
func exportAffine(b Builder, x Value, in, out int, w, bias *tensor.Tensor, wshape ...int) (shape []int, wv, bv Value, err error) {
	if in < 1 || out < 1 {
		return nil, wv, bv, fmt.Errorf("in_features %d, out_features %d: want at least 1", in, out)
	}
	if err := checkTensor("weight", w, wshape...); err != nil {
		return nil, wv, bv, err
	}
	if bias != nil {
		if err := checkTensor("bias", bias, out); err != nil {
			return nil, wv, bv, err
		}
	}
	if len(x.Shape) < 2 || x.Shape[len(x.Shape)-1] != in {
		return nil, wv, bv, fmt.Errorf("input shape %s: want last dimension %d", FormatShape(x.Shape), in)
	}
	shape = append(slices.Clone(x.Shape[:len(x.Shape)-1]), out)
	if wv, err = b.Param("weight", w); err != nil {
		return nil, wv, bv, err
	}
	if bias != nil {
		if bv, err = b.Param("bias", bias); err != nil {
			return nil, wv, bv, err
		}
	}
	return shape, wv, bv, nil
}

// affine is the arithmetic of y = x·W + b over the last dimension of x,
// shared by Linear (W stored [out, in], transposed) and MatMul (W stored
// [in, out]), and what its backward needs from its forward.
type affine struct {
	x, w     *tensor.Tensor
	outShape []int
	in, out  int
	bias     bool
	outIn    bool // W is stored [out, in]
}

// forward returns x·W + b for layer self (named in errors), with w stored
// [out, in] when outIn, else [in, out], and bias nil or [out]; x and w are
// kept for backward.
func (a *affine) forward(self Layer, x, w, bias *tensor.Tensor, in, out int, outIn bool) (*tensor.Tensor, error) {
	wshape := []int{in, out}
	if outIn {
		wshape = []int{out, in}
	}
	if err := w.Validate(); err != nil {
		return nil, errorf(self, "weight: %v", err)
	}
	if !tensor.SameShape(w.Shape, wshape) {
		return nil, errorf(self, "weight shape %v, want %v", w.Shape, wshape)
	}
	if bias != nil && (bias.Validate() != nil || !tensor.SameShape(bias.Shape, []int{out})) {
		return nil, errorf(self, "bias shape %v, want [%d]", bias.Shape, out)
	}
	if err := x.Validate(); err != nil {
		return nil, errorf(self, "input: %v", err)
	}
	if len(x.Shape) == 0 || x.Shape[len(x.Shape)-1] != in {
		return nil, errorf(self, "input shape %v: want last dimension %d", x.Shape, in)
	}
	outShape := append(append([]int{}, x.Shape[:len(x.Shape)-1]...), out)
	if n, err := tensor.NumelOf(outShape); err != nil || n > maxActivation {
		return nil, errorf(self, "input shape %v: output shape %v is too large", x.Shape, outShape)
	}
	y := tensor.New(outShape...)
	m := len(x.Data) / in
	if outIn {
		gemm.Sgemm(false, true, m, out, in, x.Data, in, w.Data, in, y.Data, out, false)
	} else {
		gemm.Sgemm(false, false, m, out, in, x.Data, in, w.Data, out, y.Data, out, false)
	}
	if bias != nil {
		for i := 0; i < len(y.Data); i += out {
			row := y.Data[i : i+out]
			for j, b := range bias.Data {
				row[j] += b
			}
		}
	}
	*a = affine{x: x, w: w, outShape: outShape, in: in, out: out, bias: bias != nil, outIn: outIn}
	return y, nil
}

// backward returns dx for the last forward of layer self, adds the
// gradient with respect to the weight it used to dw and the bias gradient
// to *biasGrad (the gradient of bias, see gradOf).
func (a *affine) backward(self Layer, dy, dw, bias *tensor.Tensor, biasGrad **tensor.Tensor) (*tensor.Tensor, error) {
	if a.x == nil {
		return nil, errorf(self, "Backward called before Forward")
	}
	if err := dy.Validate(); err != nil {
		return nil, errorf(self, "output gradient: %v", err)
	}
	if !tensor.SameShape(dy.Shape, a.outShape) {
		return nil, errorf(self, "output gradient shape %v, want %v", dy.Shape, a.outShape)
	}
	in, out := a.in, a.out
	if len(dw.Data) != in*out {
		return nil, errorf(self, "weight gradient of %d elements for a weight of %d", len(dw.Data), in*out)
	}
	if a.bias && (bias == nil || len(bias.Data) != out) {
		return nil, errorf(self, "bias changed between Forward and Backward")
	}
	m := len(dy.Data) / out
	if a.outIn {
		gemm.Sgemm(true, false, out, in, m, dy.Data, out, a.x.Data, in, dw.Data, in, true)
	} else {
		gemm.Sgemm(true, false, in, out, m, a.x.Data, in, dy.Data, out, dw.Data, out, true)
	}
	if a.bias {
		bg := gradOf(bias, biasGrad)
		sums := make([]float64, out)
		for i := 0; i < len(dy.Data); i += out {
			for j, v := range dy.Data[i : i+out] {
				sums[j] += float64(v)
			}
		}
		for j, s := range sums {
			bg.Data[j] += float32(s)
		}
	}
	dx := tensor.New(a.x.Shape...)
	if a.outIn {
		gemm.Sgemm(false, false, m, in, out, dy.Data, out, a.w.Data, in, dx.Data, in, false)
	} else {
		gemm.Sgemm(false, true, m, in, out, dy.Data, out, a.w.Data, out, dx.Data, in, false)
	}
	return dx, nil
}
