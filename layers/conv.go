package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/tensorquant/tensorquant/internal/nn"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// Conv is a convolution (Transposed false) or transposed convolution
// (Transposed true) over 1, 2 or 3 spatial dimensions, with PyTorch's
// semantics for stride, padding, dilation, groups and output padding. The
// exported layer types Conv1d, Conv2d, Conv3d, ConvTranspose1d,
// ConvTranspose2d and ConvTranspose3d embed it; its fields are the
// hyper-parameters an exporter needs.
//
// Inputs are [N, C, L], [N, C, H, W] or [N, C, D, H, W] (batched, channels
// first). The weight is laid out as in PyTorch: [OutChannels,
// InChannels/Groups, k...] for a convolution and [InChannels,
// OutChannels/Groups, k...] for a transposed one; Bias is [OutChannels] or
// nil. The arithmetic is internal/nn's (im2col, or col2im for the
// transposed direction, and the float32 GEMM of internal/gemm; depthwise
// convolutions directly), which imported graphs share.
type Conv struct {
	InChannels, OutChannels int
	// One value per spatial dimension. OutputPadding is all zero for a
	// convolution.
	KernelSize, Stride, Padding, Dilation, OutputPadding []int
	Groups                                               int
	Transposed                                           bool

	Weight, Bias *tensor.Tensor

	weightGrad, biasGrad *tensor.Tensor
	fw                   convSaved // what the last forward used
	cols, tmp            []float32 // scratch
}

// convSaved is what backward needs from forward, copied so that a change
// of the exported fields in between cannot make backward inconsistent.
type convSaved struct {
	x, w     *tensor.Tensor
	conv     nn.Conv
	outShape []int
	bias     bool
}

// Conv1d is torch.nn.Conv1d: input [N, C, L].
type Conv1d struct{ Conv }

// Conv2d is torch.nn.Conv2d: input [N, C, H, W].
type Conv2d struct{ Conv }

// Conv3d is torch.nn.Conv3d: input [N, C, D, H, W].
type Conv3d struct{ Conv }

// ConvTranspose1d is torch.nn.ConvTranspose1d: input [N, C, L].
type ConvTranspose1d struct{ Conv }

// ConvTranspose2d is torch.nn.ConvTranspose2d: input [N, C, H, W].
type ConvTranspose2d struct{ Conv }

// ConvTranspose3d is torch.nn.ConvTranspose3d: input [N, C, D, H, W].
type ConvTranspose3d struct{ Conv }

func init() {
	// The original's QuantConv*d and QuantConvTranspose*d: weights per
	// output channel, in its default quantization map.
	declareQuantizable[Conv1d](quantFacts{kind: "Conv1d", weightAxis: 0, byDefault: true})
	declareQuantizable[Conv2d](quantFacts{kind: "Conv2d", weightAxis: 0, byDefault: true})
	declareQuantizable[Conv3d](quantFacts{kind: "Conv3d", weightAxis: 0, byDefault: true})
	declareQuantizable[ConvTranspose1d](quantFacts{kind: "ConvTranspose1d", weightAxis: 1, byDefault: true})
	declareQuantizable[ConvTranspose2d](quantFacts{kind: "ConvTranspose2d", weightAxis: 1, byDefault: true})
	declareQuantizable[ConvTranspose3d](quantFacts{kind: "ConvTranspose3d", weightAxis: 1, byDefault: true})
}

// ConvOptions are the optional hyper-parameters of the convolution
// constructors, the same for every spatial dimension (use NewConv for
// per-dimension values). Zero values mean PyTorch's defaults: stride 1,
// padding 0, dilation 1, output padding 0, groups 1, with a bias.
type ConvOptions struct {
	Stride, Padding, Dilation int
	// OutputPadding is for transposed convolutions only.
	OutputPadding int
	Groups        int
	NoBias        bool
}

// ConvSpec describes a convolution completely, one value per spatial
// dimension; len(KernelSize) (1, 2 or 3) is the number of dimensions. Nil
// Stride, Padding, Dilation and OutputPadding mean the defaults, and a
// slice of one value applies to every dimension. Groups 0 means 1.
type ConvSpec struct {
	InChannels, OutChannels                  int
	KernelSize                               []int
	Stride, Padding, Dilation, OutputPadding []int
	Groups                                   int
	Bias, Transposed                         bool
}

// NewConv1d returns torch.nn.Conv1d(in, out, kernel, ...) with weights
// drawn from rng, a math/rand/v2 source (nil: a fixed seed), as PyTorch
// initialises them (see NewConv). It returns an error for invalid
// hyper-parameters.
func NewConv1d(in, out, kernel int, opt ConvOptions, rng *rand.Rand) (*Conv1d, error) {
	v, err := newConvOpt(1, false, in, out, kernel, opt, rng)
	return as(v, err, func(c *Conv) *Conv1d { return &Conv1d{*c} })
}

// NewConv2d returns torch.nn.Conv2d(in, out, kernel, ...) with weights
// drawn from rng, a math/rand/v2 source (nil: a fixed seed), as PyTorch
// initialises them (see NewConv). It returns an error for invalid
// hyper-parameters.
func NewConv2d(in, out, kernel int, opt ConvOptions, rng *rand.Rand) (*Conv2d, error) {
	v, err := newConvOpt(2, false, in, out, kernel, opt, rng)
	return as(v, err, func(c *Conv) *Conv2d { return &Conv2d{*c} })
}

// NewConv3d returns torch.nn.Conv3d(in, out, kernel, ...) with weights
// drawn from rng, a math/rand/v2 source (nil: a fixed seed), as PyTorch
// initialises them (see NewConv). It returns an error for invalid
// hyper-parameters.
func NewConv3d(in, out, kernel int, opt ConvOptions, rng *rand.Rand) (*Conv3d, error) {
	v, err := newConvOpt(3, false, in, out, kernel, opt, rng)
	return as(v, err, func(c *Conv) *Conv3d { return &Conv3d{*c} })
}

// NewConvTranspose1d returns torch.nn.ConvTranspose1d(in, out, kernel, ...)
// with weights drawn from rng, a math/rand/v2 source (nil: a fixed seed;
// see NewConv). It returns an error for invalid hyper-parameters.
func NewConvTranspose1d(in, out, kernel int, opt ConvOptions, rng *rand.Rand) (*ConvTranspose1d, error) {
	v, err := newConvOpt(1, true, in, out, kernel, opt, rng)
	return as(v, err, func(c *Conv) *ConvTranspose1d { return &ConvTranspose1d{*c} })
}

// NewConvTranspose2d returns torch.nn.ConvTranspose2d(in, out, kernel, ...)
// with weights drawn from rng, a math/rand/v2 source (nil: a fixed seed;
// see NewConv). It returns an error for invalid hyper-parameters.
func NewConvTranspose2d(in, out, kernel int, opt ConvOptions, rng *rand.Rand) (*ConvTranspose2d, error) {
	v, err := newConvOpt(2, true, in, out, kernel, opt, rng)
	return as(v, err, func(c *Conv) *ConvTranspose2d { return &ConvTranspose2d{*c} })
}

// NewConvTranspose3d returns torch.nn.ConvTranspose3d(in, out, kernel, ...)
// with weights drawn from rng, a math/rand/v2 source (nil: a fixed seed;
// see NewConv). It returns an error for invalid hyper-parameters.
func NewConvTranspose3d(in, out, kernel int, opt ConvOptions, rng *rand.Rand) (*ConvTranspose3d, error) {
	v, err := newConvOpt(3, true, in, out, kernel, opt, rng)
	return as(v, err, func(c *Conv) *ConvTranspose3d { return &ConvTranspose3d{*c} })
}

// as wraps a constructor's result b as the layer type T (f(b)), or passes
// its error on.
func as[B, T any](b *B, err error, f func(*B) *T) (*T, error) {
	if err != nil {
		return nil, err
	}
	return f(b), nil
}

func newConvOpt(dims int, transposed bool, in, out, kernel int, opt ConvOptions, rng *rand.Rand) (*Conv, error) {
	stride, dil := opt.Stride, opt.Dilation
	if stride == 0 {
		stride = 1
	}
	if dil == 0 {
		dil = 1
	}
	return newConv(ConvSpec{
		InChannels: in, OutChannels: out,
		KernelSize: repeat(kernel, dims), Stride: []int{stride}, Padding: []int{opt.Padding},
		Dilation: []int{dil}, OutputPadding: []int{opt.OutputPadding},
		Groups: opt.Groups, Bias: !opt.NoBias, Transposed: transposed,
	}, rng)
}

// NewConv returns the convolution layer spec describes: a *Conv1d, *Conv2d,
// *Conv3d, *ConvTranspose1d, *ConvTranspose2d or *ConvTranspose3d. The
// weight and bias are drawn from rng as PyTorch's reset_parameters does:
// uniform in ±1/sqrt(fan_in), with fan_in = weight.Shape[1]·prod(kernel)
// (kaiming_uniform with a = sqrt(5) gives that bound). rng is a
// math/rand/v2 source; nil means rand.New(rand.NewPCG(0, 0)), so that a
// layer whose weights are loaded afterwards needs none, and layers made
// without one are the same every time. It returns an error for channels <
// 1, channel counts Groups does not divide, a kernel, stride or dilation <
// 1, a negative padding, an output padding on a convolution, an output
// padding not smaller than the stride or the dilation, or a weight too
// large to allocate.
func NewConv(spec ConvSpec, rng *rand.Rand) (Layer, error) {
	c, err := newConv(spec, rng)
	if err != nil {
		return nil, err
	}
	switch {
	case len(c.KernelSize) == 1 && !c.Transposed:
		return &Conv1d{*c}, nil
	case len(c.KernelSize) == 2 && !c.Transposed:
		return &Conv2d{*c}, nil
	case len(c.KernelSize) == 3 && !c.Transposed:
		return &Conv3d{*c}, nil
	case len(c.KernelSize) == 1:
		return &ConvTranspose1d{*c}, nil
	case len(c.KernelSize) == 2:
		return &ConvTranspose2d{*c}, nil
	}
	return &ConvTranspose3d{*c}, nil
}

func newConv(spec ConvSpec, rng *rand.Rand) (*Conv, error) {
	dims := len(spec.KernelSize)
	name := "Conv"
	if spec.Transposed {
		name = "ConvTranspose"
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("layers: %s%dd(%d, %d, kernel_size=%v): %s", name, dims, spec.InChannels, spec.OutChannels, spec.KernelSize, fmt.Sprintf(format, args...))
	}
	if dims < 1 || dims > 3 {
		return nil, bad("%d kernel dimensions, want 1, 2 or 3", dims)
	}
	c := &Conv{InChannels: spec.InChannels, OutChannels: spec.OutChannels, Groups: spec.Groups, Transposed: spec.Transposed}
	if c.Groups == 0 {
		c.Groups = 1
	}
	var err error
	expand := func(what string, v []int, def int) []int {
		if err != nil {
			return nil
		}
		switch len(v) {
		case 0:
			return repeat(def, dims)
		case 1:
			return repeat(v[0], dims)
		case dims:
			return append([]int{}, v...)
		}
		err = bad("%s %v: want 1 or %d values", what, v, dims)
		return nil
	}
	c.KernelSize = append([]int{}, spec.KernelSize...)
	c.Stride = expand("stride", spec.Stride, 1)
	c.Padding = expand("padding", spec.Padding, 0)
	c.Dilation = expand("dilation", spec.Dilation, 1)
	c.OutputPadding = expand("output_padding", spec.OutputPadding, 0)
	if err != nil {
		return nil, err
	}
	if err := c.checkHyper(); err != nil {
		return nil, bad("%v", err)
	}
	rng = orDefault(rng)
	wshape := append([]int{c.OutChannels, c.InChannels / c.Groups}, c.KernelSize...)
	if c.Transposed {
		wshape[0], wshape[1] = c.InChannels, c.OutChannels/c.Groups
	}
	n, err := tensor.NumelOf(wshape)
	if err != nil || n > maxParamElems {
		return nil, bad("weight shape %v is too large", wshape)
	}
	c.Weight, c.weightGrad = tensor.New(wshape...), tensor.New(wshape...)
	bound := float32(1 / math.Sqrt(float64(n/wshape[0])))
	uniform(c.Weight.Data, bound, rng)
	if spec.Bias {
		c.Bias, c.biasGrad = tensor.New(c.OutChannels), tensor.New(c.OutChannels)
		uniform(c.Bias.Data, bound, rng)
	}
	return c, nil
}

// maxParamElems bounds the size of one parameter tensor (1 Gi elements, 4
// GiB) so that a typo in a constructor fails instead of exhausting memory.
const maxParamElems = 1 << 30

// maxHyper bounds kernel sizes, strides, paddings and dilations so that
// output sizes cannot overflow.
const maxHyper = 1 << 24

// checkHyper validates the hyper-parameters (they are exported fields and
// may have been changed since construction).
func (c *Conv) checkHyper() error {
	dims := len(c.KernelSize)
	if dims < 1 || dims > 3 {
		return fmt.Errorf("%d kernel dimensions, want 1, 2 or 3", dims)
	}
	for _, v := range [][]int{c.Stride, c.Padding, c.Dilation, c.OutputPadding} {
		if len(v) != dims {
			return fmt.Errorf("stride %v, padding %v, dilation %v, output_padding %v: want %d values each", c.Stride, c.Padding, c.Dilation, c.OutputPadding, dims)
		}
	}
	switch {
	case c.InChannels < 1 || c.OutChannels < 1:
		return fmt.Errorf("channels %d -> %d: want at least 1", c.InChannels, c.OutChannels)
	case c.Groups < 1 || c.InChannels%c.Groups != 0 || c.OutChannels%c.Groups != 0:
		return fmt.Errorf("groups %d must divide in_channels %d and out_channels %d", c.Groups, c.InChannels, c.OutChannels)
	}
	for i := range dims {
		for _, v := range []int{c.KernelSize[i], c.Stride[i], c.Padding[i], c.Dilation[i], c.OutputPadding[i]} {
			if v > maxHyper {
				return fmt.Errorf("kernel_size %v, stride %v, padding %v, dilation %v, output_padding %v: want at most %d", c.KernelSize, c.Stride, c.Padding, c.Dilation, c.OutputPadding, maxHyper)
			}
		}
		switch {
		case c.KernelSize[i] < 1:
			return fmt.Errorf("kernel_size %v: want at least 1", c.KernelSize)
		case c.Stride[i] < 1:
			return fmt.Errorf("stride %v: want at least 1", c.Stride)
		case c.Dilation[i] < 1:
			return fmt.Errorf("dilation %v: want at least 1", c.Dilation)
		case c.Padding[i] < 0:
			return fmt.Errorf("padding %v: want at least 0", c.Padding)
		case c.OutputPadding[i] < 0:
			return fmt.Errorf("output_padding %v: want at least 0", c.OutputPadding)
		case c.OutputPadding[i] != 0 && !c.Transposed:
			return fmt.Errorf("output_padding %v on a convolution that is not transposed", c.OutputPadding)
		case c.OutputPadding[i] >= max(c.Stride[i], c.Dilation[i]):
			return fmt.Errorf("output_padding %v must be smaller than either stride %v or dilation %v", c.OutputPadding, c.Stride, c.Dilation)
		}
	}
	return nil
}

// Kind returns "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d",
// "ConvTranspose2d" or "ConvTranspose3d".
func (c *Conv) Kind() string {
	if c.Transposed {
		return fmt.Sprintf("ConvTranspose%dd", len(c.KernelSize))
	}
	return fmt.Sprintf("Conv%dd", len(c.KernelSize))
}

// String returns PyTorch's repr, for example
// "Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))".
func (c *Conv) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s(%d, %d, kernel_size=%s, stride=%s", c.Kind(), c.InChannels, c.OutChannels, tuple(c.KernelSize), tuple(c.Stride))
	if !allEqual(c.Padding, 0) {
		fmt.Fprintf(&b, ", padding=%s", tuple(c.Padding))
	}
	if !allEqual(c.Dilation, 1) {
		fmt.Fprintf(&b, ", dilation=%s", tuple(c.Dilation))
	}
	if !allEqual(c.OutputPadding, 0) {
		fmt.Fprintf(&b, ", output_padding=%s", tuple(c.OutputPadding))
	}
	if c.Groups != 1 {
		fmt.Fprintf(&b, ", groups=%d", c.Groups)
	}
	if c.Bias == nil {
		b.WriteString(", bias=False")
	}
	b.WriteString(")")
	return b.String()
}

// Params returns "weight" and, when the layer has one, "bias".
func (c *Conv) Params() []Param { return c.WeightInfo().params() }

// WeightInfo returns the weight, whose output channels are axis 0 ([out,
// in/groups, k...]), or axis 1 for a transposed convolution ([in,
// out/groups, k...]), and the bias.
func (c *Conv) WeightInfo() WeightInfo {
	axis := 0
	if c.Transposed {
		axis = 1
	}
	return weightInfo(c.Weight, &c.weightGrad, c.Bias, &c.biasGrad, axis)
}

// Forward returns the convolution of x. It returns an error for an input of
// the wrong rank or channel count, an input too small for the kernel, or
// weights whose shape no longer matches the hyper-parameters.
func (c *Conv) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return c.ForwardWeight(x, c.Weight)
}

// Backward returns the gradient with respect to the input of the last
// Forward and adds the weight and bias gradients to the parameters' Grad.
func (c *Conv) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return c.BackwardWeight(dy, gradOf(c.Weight, &c.weightGrad))
}

// unshare makes a copy of the layer made by assignment independent of the
// original: its own hyper-parameter slices, nothing of the last Forward,
// no scratch buffers. The weight and bias tensors, and their gradients,
// stay shared.
func (c *Conv) unshare() {
	c.KernelSize, c.Stride, c.Padding = slices.Clone(c.KernelSize), slices.Clone(c.Stride), slices.Clone(c.Padding)
	c.Dilation, c.OutputPadding = slices.Clone(c.Dilation), slices.Clone(c.OutputPadding)
	c.fw, c.cols, c.tmp = convSaved{}, nil, nil
}

// Export writes the layer as Conv, or ConvTranspose, with PyTorch's
// attributes, on x, the weight and the bias. It returns an error for
// hyper-parameters and weights that do not fit each other or x.
func (c *Conv) Export(b Builder, x Value) (Value, error) {
	out, err := c.exportShape(x)
	if err != nil {
		return Value{}, err
	}
	w, err := b.Param("weight", c.Weight)
	if err != nil {
		return Value{}, err
	}
	inputs := []Value{x, w}
	if c.Bias != nil {
		bv, err := b.Param("bias", c.Bias)
		if err != nil {
			return Value{}, err
		}
		inputs = append(inputs, bv)
	}
	attrs := []onnx.Attribute{
		onnx.IntsAttr("dilations", ints64(c.Dilation)...),
		onnx.IntAttr("group", int64(c.Groups)),
		onnx.IntsAttr("kernel_shape", ints64(c.KernelSize)...),
	}
	op := "Conv"
	if c.Transposed {
		op = "ConvTranspose"
		attrs = append(attrs, onnx.IntsAttr("output_padding", ints64(c.OutputPadding)...))
	}
	attrs = append(attrs,
		onnx.IntsAttr("pads", ints64(c.Padding, c.Padding)...),
		onnx.IntsAttr("strides", ints64(c.Stride)...))
	return b.Node(op, inputs, out, attrs...), nil
}

// exportShape checks the hyper-parameters, the weights and the input x
// and returns the output shape.
func (c *Conv) exportShape(x Value) ([]int, error) {
	dims := len(c.KernelSize)
	if dims < 1 || dims > 3 || len(c.Stride) != dims || len(c.Padding) != dims || len(c.Dilation) != dims || len(c.OutputPadding) != dims {
		return nil, fmt.Errorf("kernel_size %v, stride %v, padding %v, dilation %v, output_padding %v: want 1 to 3 values each, the same number",
			c.KernelSize, c.Stride, c.Padding, c.Dilation, c.OutputPadding)
	}
	if c.InChannels < 1 || c.OutChannels < 1 || c.Groups < 1 || c.InChannels%c.Groups != 0 || c.OutChannels%c.Groups != 0 {
		return nil, fmt.Errorf("channels %d -> %d with groups %d: want groups dividing both", c.InChannels, c.OutChannels, c.Groups)
	}
	if err := checkTensor("weight", c.Weight, c.weightShape()...); err != nil {
		return nil, err
	}
	if c.Bias != nil {
		if err := checkTensor("bias", c.Bias, c.OutChannels); err != nil {
			return nil, err
		}
	}
	if len(x.Shape) != dims+2 || x.Shape[1] != c.InChannels {
		return nil, fmt.Errorf("input shape %s: want %d dimensions with %d channels", FormatShape(x.Shape), dims+2, c.InChannels)
	}
	out := []int{x.Shape[0], c.OutChannels}
	for i := range dims {
		k, s, p, d, op := c.KernelSize[i], c.Stride[i], c.Padding[i], c.Dilation[i], c.OutputPadding[i]
		if k < 1 || s < 1 || d < 1 || p < 0 || op < 0 {
			return nil, fmt.Errorf("kernel_size %v, stride %v, dilation %v must be at least 1, padding %v and output_padding %v at least 0",
				c.KernelSize, c.Stride, c.Dilation, c.Padding, c.OutputPadding)
		}
		in, span := x.Shape[2+i], d*(k-1)+1
		var o int
		if c.Transposed {
			o = (in-1)*s - 2*p + span + op
		} else if in+2*p >= span {
			o = (in+2*p-span)/s + 1
		}
		if o < 1 {
			return nil, fmt.Errorf("input shape %s: spatial size %v is too small for the kernel", FormatShape(x.Shape), x.Shape[2:])
		}
		out = append(out, o)
	}
	return out, nil
}

// FoldBatchNorm returns the convolution followed by next, a BatchNorm in
// inference, as one convolution with
//
//	weight' = weight·γ/√(var+ε)   (per output channel)
//	bias'   = (bias − mean)·γ/√(var+ε) + β
//
// computed in float64 and rounded once to float32 (the weights are new
// tensors). It returns false for a transposed convolution, a next that is
// not a BatchNorm of the output's rank and channels, and tensors that do
// not fit their layers.
func (c *Conv) FoldBatchNorm(next Layer) (Layer, bool) {
	n, ok := next.(interface{ norm() *BatchNorm })
	if !ok || c.Transposed || c.checkHyper() != nil || checkTensor("weight", c.Weight, c.weightShape()...) != nil ||
		c.Bias != nil && checkTensor("bias", c.Bias, c.OutChannels) != nil {
		return nil, false
	}
	bn, C := n.norm(), c.OutChannels
	if bn.exportCheck(append([]int{Batch, C}, repeat(1, len(c.KernelSize))...)) != nil {
		return nil, false
	}
	f := *c
	f.unshare()
	f.weightGrad, f.biasGrad = nil, nil
	f.Weight, f.Bias = c.Weight.Clone(), tensor.New(C)
	per := len(f.Weight.Data) / C
	for o := range C {
		s := float64(bn.Weight.Data[o]) / math.Sqrt(float64(bn.RunningVar.Data[o])+bn.Eps)
		for i := o * per; i < (o+1)*per; i++ {
			f.Weight.Data[i] = float32(float64(f.Weight.Data[i]) * s)
		}
		b0 := 0.0
		if c.Bias != nil {
			b0 = float64(c.Bias.Data[o])
		}
		f.Bias.Data[o] = float32((b0-float64(bn.RunningMean.Data[o]))*s + float64(bn.Bias.Data[o]))
	}
	return &f, true
}

// weightShape is the shape the weight must have.
func (c *Conv) weightShape() []int {
	s := append([]int{c.OutChannels, c.InChannels / c.Groups}, c.KernelSize...)
	if c.Transposed {
		s[0], s[1] = c.InChannels, c.OutChannels/c.Groups
	}
	return s
}

// ForwardWeight is Forward with w in place of the weight (same shape): x
// and w are kept for Backward.
func (c *Conv) ForwardWeight(x, w *tensor.Tensor) (*tensor.Tensor, error) {
	if err := c.checkHyper(); err != nil {
		return nil, errorf(c, "%v", err)
	}
	if err := w.Validate(); err != nil {
		return nil, errorf(c, "weight: %v", err)
	}
	if ws := c.weightShape(); !tensor.SameShape(w.Shape, ws) {
		return nil, errorf(c, "weight shape %v, want %v", w.Shape, ws)
	}
	if c.Bias != nil && (c.Bias.Validate() != nil || !tensor.SameShape(c.Bias.Shape, []int{c.OutChannels})) {
		return nil, errorf(c, "bias shape %v, want [%d]", c.Bias.Shape, c.OutChannels)
	}
	dims := len(c.KernelSize)
	if err := x.Validate(); err != nil {
		return nil, errorf(c, "input: %v", err)
	}
	if len(x.Shape) != dims+2 {
		return nil, errorf(c, "input shape %v: want %d dimensions (N, C%s)", x.Shape, dims+2, spatialNames(dims))
	}
	if x.Shape[1] != c.InChannels {
		return nil, errorf(c, "input shape %v: has %d channels, want %d", x.Shape, x.Shape[1], c.InChannels)
	}
	out := []int{x.Shape[0], c.OutChannels}
	for i := range dims {
		in := x.Shape[2+i]
		var o int
		if c.Transposed {
			o = (in-1)*c.Stride[i] - 2*c.Padding[i] + c.Dilation[i]*(c.KernelSize[i]-1) + c.OutputPadding[i] + 1
		} else {
			o = (in+2*c.Padding[i]-c.Dilation[i]*(c.KernelSize[i]-1)-1)/c.Stride[i] + 1
			if in+2*c.Padding[i] < c.Dilation[i]*(c.KernelSize[i]-1)+1 {
				o = 0
			}
		}
		if o < 1 || in < 1 {
			return nil, errorf(c, "input shape %v: spatial size %v is too small for kernel %v (dilation %v, padding %v)",
				x.Shape, x.Shape[2:], c.KernelSize, c.Dilation, c.Padding)
		}
		out = append(out, o)
	}
	if n, err := tensor.NumelOf(out); err != nil || n > maxActivation {
		return nil, errorf(c, "input shape %v: output shape %v is too large", x.Shape, out)
	}
	big, small := x.Shape[2:], out[2:]
	if c.Transposed {
		big, small = small, big
	}
	k := nn.Conv{Geom: nn.NewGeom(big, small, c.KernelSize, c.Stride, c.Padding, nil, c.Dilation),
		InC: c.InChannels, OutC: c.OutChannels, Groups: c.Groups, Transposed: c.Transposed}
	y := tensor.New(out...)
	c.fw = convSaved{x: x, w: w, conv: k, outShape: out, bias: c.Bias != nil}
	var bias []float32
	if c.Bias != nil {
		bias = c.Bias.Data
	}
	N := x.Shape[0]
	if !k.Depthwise() {
		c.scratch(k.Scratch(N))
	}
	k.Forward(y.Data, x.Data, w.Data, bias, c.cols, c.tmp, 0, N)
	return y, nil
}

// BackwardWeight is Backward, except that the gradient with respect to the
// weight the last Forward (or ForwardWeight) used is added to dw, which
// has as many elements, instead of the weight's Grad. The bias gradient
// goes to the bias's Grad.
func (c *Conv) BackwardWeight(dy, dw *tensor.Tensor) (*tensor.Tensor, error) {
	fw := &c.fw
	if fw.x == nil {
		return nil, errorf(c, "Backward called before Forward")
	}
	if err := dy.Validate(); err != nil {
		return nil, errorf(c, "output gradient: %v", err)
	}
	if !tensor.SameShape(dy.Shape, fw.outShape) {
		return nil, errorf(c, "output gradient shape %v, want %v", dy.Shape, fw.outShape)
	}
	if len(dw.Data) != len(fw.w.Data) {
		return nil, errorf(c, "weight gradient of %d elements for a weight of shape %v", len(dw.Data), fw.w.Shape)
	}
	var db []float32
	if fw.bias {
		if c.Bias == nil || len(c.Bias.Data) != fw.conv.OutC {
			return nil, errorf(c, "bias changed between Forward and Backward")
		}
		db = gradOf(c.Bias, &c.biasGrad).Data
	}
	dx := tensor.New(fw.x.Shape...)
	N := fw.x.Shape[0]
	c.scratch(fw.conv.Scratch(N))
	d, byConv := fw.conv.DataGrad()
	if !byConv {
		fw.conv.Backward(dx.Data, dw.Data, db, dy.Data, fw.x.Data, fw.w.Data, c.cols, c.tmp, N)
		return dx, nil
	}
	// Stride 1: the input's gradient is the forward pass of the
	// convolution with the weights flipped (nn.Conv.DataGrad), cheaper
	// than the backward's GEMM and col2im.
	wf := make([]float32, len(fw.w.Data))
	fw.conv.FlipWeights(wf, fw.w.Data)
	c.scratch(d.Scratch(N))
	d.Forward(dx.Data, dy.Data, wf, nil, c.cols, c.tmp, 0, N)
	fw.conv.Backward(nil, dw.Data, db, dy.Data, fw.x.Data, fw.w.Data, c.cols, c.tmp, N)
	return dx, nil
}

// maxActivation bounds the elements of one output tensor (2^31 - 1, 8 GiB),
// so that absurd hyper-parameters give an error instead of an allocation
// failure.
const maxActivation = 1<<31 - 1

// scratch makes the scratch buffers at least cols and tmp elements long.
func (c *Conv) scratch(cols, tmp int) {
	if cap(c.cols) < cols {
		c.cols = make([]float32, cols)
	}
	if cap(c.tmp) < tmp {
		c.tmp = make([]float32, tmp)
	}
	c.cols, c.tmp = c.cols[:cap(c.cols)], c.tmp[:cap(c.tmp)]
}

// gradOf returns the gradient tensor *g of the parameter v, replacing it by
// zeros of v's shape when v was replaced by a tensor of another shape (or
// *g is nil). An invalid v gets an empty gradient, which the optimizers
// and Forward report.
func gradOf(v *tensor.Tensor, g **tensor.Tensor) *tensor.Tensor {
	if *g != nil && tensor.SameShape((*g).Shape, v.Shape) && len((*g).Data) == len(v.Data) {
		return *g
	}
	if v.Validate() != nil {
		*g = &tensor.Tensor{Shape: []int{0}, Data: nil}
	} else {
		*g = tensor.New(v.Shape...)
	}
	return *g
}

// orDefault returns rng, or for nil the fixed-seed source the
// constructors document: rand.New(rand.NewPCG(0, 0)).
func orDefault(rng *rand.Rand) *rand.Rand {
	if rng == nil {
		return rand.New(rand.NewPCG(0, 0))
	}
	return rng
}

// uniform fills x with values drawn uniformly from [-bound, bound).
func uniform(x []float32, bound float32, rng *rand.Rand) {
	for i := range x {
		x[i] = bound * float32(2*rng.Float64()-1)
	}
}

// repeat returns n copies of v.
func repeat(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func allEqual(s []int, v int) bool {
	for _, x := range s {
		if x != v {
			return false
		}
	}
	return true
}

// tuple formats s as a Python tuple: "(3, 3)", "(3,)".
func tuple(s []int) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = fmt.Sprint(v)
	}
	if len(s) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// spatialNames returns ", L", ", H, W" or ", D, H, W".
func spatialNames(dims int) string {
	return [...]string{"", ", L", ", H, W", ", D, H, W"}[dims]
}
