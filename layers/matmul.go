package layers

import (
	"fmt"
	"math/rand/v2"

	"github.com/tensorquant/tensorquant/tensor"
)

// MatMul is y = x·W + b over the last dimension of x with a constant
// weight W of shape [InFeatures, OutFeatures] (K×N), so an input [...,
// InFeatures] gives [..., OutFeatures]; Bias is [OutFeatures] or nil. It is
// ONNX's MatMul with an initializer as second input (and an Add): what
// torch.onnx writes for nn.Linear on an input of more than two dimensions
// (its weight transposed), and the projections of transformer graphs. Its
// output channels are the weight's axis 1, along which a quantized MatMul
// quantizes the weight per channel, as the original toolkit does for the
// MatMul initializers of such a graph.
type MatMul struct {
	InFeatures, OutFeatures int
	Weight, Bias            *tensor.Tensor

	weightGrad, biasGrad *tensor.Tensor
	fw                   affine
}

func init() {
	// Not in the original's default quantization map: it has no
	// QuantMatMul module (its MatMuls come from QuantLinear).
	declareQuantizable[MatMul](quantFacts{kind: "MatMul", weightAxis: 1})
}

// NewMatMul returns MatMul(in, out, bias) with the weight and bias drawn
// from rng uniformly in ±1/sqrt(in), as nn.Linear's are. rng is a
// math/rand/v2 source; nil means rand.New(rand.NewPCG(0, 0)) (see
// NewConv). It returns an error for a size < 1 or a weight too large to
// allocate.
func NewMatMul(in, out int, bias bool, rng *rand.Rand) (*MatMul, error) {
	w, b, err := affineParams("MatMul", in, out, bias, false, rng)
	if err != nil {
		return nil, err
	}
	return &MatMul{InFeatures: in, OutFeatures: out, Weight: w, Bias: b}, nil
}

// Kind returns "MatMul".
func (m *MatMul) Kind() string { return "MatMul" }

// String returns "MatMul(in_features=16, out_features=8, bias=True)".
func (m *MatMul) String() string {
	b := "True"
	if m.Bias == nil {
		b = "False"
	}
	return fmt.Sprintf("MatMul(in_features=%d, out_features=%d, bias=%s)", m.InFeatures, m.OutFeatures, b)
}

// Params returns "weight" and, when the layer has one, "bias".
func (m *MatMul) Params() []Param { return m.WeightInfo().params() }

// WeightInfo returns the weight, whose output channels are axis 1, and
// the bias.
func (m *MatMul) WeightInfo() WeightInfo {
	return weightInfo(m.Weight, &m.weightGrad, m.Bias, &m.biasGrad, 1)
}

// Forward returns x·W + b. It returns an error for a scalar input, a last
// dimension other than InFeatures, or weights whose shape changed.
func (m *MatMul) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return m.ForwardWeight(x, m.Weight)
}

// Backward returns the input gradient of the last Forward and adds the
// weight and bias gradients to the parameters' Grad.
func (m *MatMul) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return m.BackwardWeight(dy, gradOf(m.Weight, &m.weightGrad))
}

// ForwardWeight is Forward with w in place of the weight (same shape): x
// and w are kept for Backward.
func (m *MatMul) ForwardWeight(x, w *tensor.Tensor) (*tensor.Tensor, error) {
	return m.fw.forward(m, x, w, m.Bias, m.InFeatures, m.OutFeatures, false)
}

// BackwardWeight is Backward, except that the gradient with respect to the
// weight the last Forward (or ForwardWeight) used is added to dw, which
// has as many elements, instead of the weight's Grad. The bias gradient
// goes to the bias's Grad.
func (m *MatMul) BackwardWeight(dy, dw *tensor.Tensor) (*tensor.Tensor, error) {
	return m.fw.backward(m, dy, dw, m.Bias, &m.biasGrad)
}

// unshare makes a copy of the layer made by assignment independent of the
// original: it forgets what the last Forward saved; the weight and bias
// tensors, and their gradients, stay shared.
func (m *MatMul) unshare() { m.fw = affine{} }

// Export writes the layer as MatMul of x and the weight, then Add of the
// bias. It returns an error for sizes and weights that do not fit each
// other or x.
func (m *MatMul) Export(b Builder, x Value) (Value, error) {
	in, out := m.InFeatures, m.OutFeatures
	shape, w, bias, err := exportAffine(b, x, in, out, m.Weight, m.Bias, in, out)
	if err != nil {
		return Value{}, err
	}
	y := b.Node("MatMul", []Value{x, w}, shape)
	if m.Bias == nil {
		return y, nil
	}
	return b.Node("Add", []Value{y, bias}, shape), nil
}
