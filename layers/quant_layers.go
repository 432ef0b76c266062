package layers

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/tensorquant/tensorquant/tensor"
)

// QuantLayer is implemented by every quantized layer: QuantLinear,
// QuantConv1d/2d/3d, QuantConvTranspose1d/2d/3d, QuantMaxPool1d/2d/3d,
// QuantAvgPool1d/2d/3d and QuantAdaptiveAvgPool1d/2d/3d. Each embeds its
// float counterpart by value (so Weight, Bias, KernelSize ... are promoted
// fields) and adds the quantizers, which are its children "input_quantizer"
// and "weight_quantizer" (so a walk names them
// "features.0.input_quantizer").
//
// Forward quantizes the input with the input quantizer and the weight with
// the weight quantizer, then runs the float layer on the quantized values
// (pooling layers quantize the input only), as the original's quantized
// modules do. Backward runs the float layer's backward with the quantized
// values and passes the input and weight gradients through the quantizers'
// straight-through gradients; the weight gradient lands in the float
// weight's Grad.
type QuantLayer interface {
	Layer
	// Float returns a pointer to the embedded float layer, which shares
	// the weights.
	Float() Layer
	// Quantizers returns the quantizers; weight is nil for pooling layers.
	Quantizers() (input, weight *TensorQuantizer)
}

// QuantDescs chooses the descriptors of a quantized layer's quantizers:
// nil takes the default of the layer type (see SetDefaultQuantDescInput).
// Pooling layers have no weight quantizer: Weight must be nil for them.
type QuantDescs struct {
	Input, Weight *QuantDescriptor
}

// The quantized layers. Each embeds its float layer by value and adds its
// quantizers (see QuantLayer).
type (
	// QuantLinear is the original's QuantLinear.
	QuantLinear struct {
		Linear
		InputQuantizer, WeightQuantizer *TensorQuantizer
	}
	// QuantConv1d is the original's QuantConv1d.
	QuantConv1d struct {
		Conv1d
		InputQuantizer, WeightQuantizer *TensorQuantizer
	}
	// QuantConv2d is the original's QuantConv2d.
	QuantConv2d struct {
		Conv2d
		InputQuantizer, WeightQuantizer *TensorQuantizer
	}
	// QuantConv3d is the original's QuantConv3d.
	QuantConv3d struct {
		Conv3d
		InputQuantizer, WeightQuantizer *TensorQuantizer
	}
	// QuantConvTranspose1d is the original's QuantConvTranspose1d.
	QuantConvTranspose1d struct {
		ConvTranspose1d
		InputQuantizer, WeightQuantizer *TensorQuantizer
	}
	// QuantConvTranspose2d is the original's QuantConvTranspose2d.
	QuantConvTranspose2d struct {
		ConvTranspose2d
		InputQuantizer, WeightQuantizer *TensorQuantizer
	}
	// QuantConvTranspose3d is the original's QuantConvTranspose3d.
	QuantConvTranspose3d struct {
		ConvTranspose3d
		InputQuantizer, WeightQuantizer *TensorQuantizer
	}
	// QuantMaxPool1d is MaxPool1d with a quantized input.
	QuantMaxPool1d struct {
		MaxPool1d
		InputQuantizer *TensorQuantizer
	}
	// QuantMaxPool2d is the original's QuantMaxPool2d.
	QuantMaxPool2d struct {
		MaxPool2d
		InputQuantizer *TensorQuantizer
	}
	// QuantMaxPool3d is MaxPool3d with a quantized input.
	QuantMaxPool3d struct {
		MaxPool3d
		InputQuantizer *TensorQuantizer
	}
	// QuantAvgPool1d is the original's QuantAvgPool1d.
	QuantAvgPool1d struct {
		AvgPool1d
		InputQuantizer *TensorQuantizer
	}
	// QuantAvgPool2d is the original's QuantAvgPool2d.
	QuantAvgPool2d struct {
		AvgPool2d
		InputQuantizer *TensorQuantizer
	}
	// QuantAvgPool3d is the original's QuantAvgPool3d.
	QuantAvgPool3d struct {
		AvgPool3d
		InputQuantizer *TensorQuantizer
	}
	// QuantAdaptiveAvgPool1d is the original's QuantAdaptiveAvgPool1d.
	QuantAdaptiveAvgPool1d struct {
		AdaptiveAvgPool1d
		InputQuantizer *TensorQuantizer
	}
	// QuantAdaptiveAvgPool2d is the original's QuantAdaptiveAvgPool2d.
	QuantAdaptiveAvgPool2d struct {
		AdaptiveAvgPool2d
		InputQuantizer *TensorQuantizer
	}
	// QuantAdaptiveAvgPool3d is the original's QuantAdaptiveAvgPool3d.
	QuantAdaptiveAvgPool3d struct {
		AdaptiveAvgPool3d
		InputQuantizer *TensorQuantizer
	}
)

// defaults holds the default descriptors of every quantized layer type,
// by Kind: the original's default_quant_desc_input and
// default_quant_desc_weight (nil weight for pooling).
var defaults = struct {
	sync.RWMutex
	m map[string]QuantDescs
}{m: map[string]QuantDescs{}}

func init() {
	weights := map[string]QuantDescriptor{
		"QuantLinear":          QuantDesc8BitLinearWeightPerRow(),
		"QuantConv1d":          QuantDesc8BitConv1dWeightPerChannel(),
		"QuantConv2d":          QuantDesc8BitConv2dWeightPerChannel(),
		"QuantConv3d":          QuantDesc8BitConv3dWeightPerChannel(),
		"QuantConvTranspose1d": QuantDesc8BitConvTranspose1dWeightPerChannel(),
		"QuantConvTranspose2d": QuantDesc8BitConvTranspose2dWeightPerChannel(),
		"QuantConvTranspose3d": QuantDesc8BitConvTranspose3dWeightPerChannel(),
	}
	for kind, w := range weights {
		in, w := QuantDesc8BitPerTensor(), w.Clone()
		defaults.m[kind] = QuantDescs{Input: &in, Weight: &w}
	}
	for _, pool := range []string{"MaxPool", "AvgPool", "AdaptiveAvgPool"} {
		for d := 1; d <= 3; d++ {
			in := QuantDesc8BitPerTensor()
			defaults.m[fmt.Sprintf("Quant%s%dd", pool, d)] = QuantDescs{Input: &in}
		}
	}
}

// DefaultQuantDescs returns copies of the default descriptors of the
// quantized layer type kind ("QuantConv2d", "QuantMaxPool2d" ...), Weight
// nil for pooling. The defaults are the original's: 8-bit per-tensor
// inputs, and 8-bit weights per row (Linear), per output channel (Conv,
// axis 0) or per output channel of a transposed convolution (axis 1). It
// returns an error for an unknown kind.
func DefaultQuantDescs(kind string) (QuantDescs, error) {
	defaults.RLock()
	defer defaults.RUnlock()
	d, ok := defaults.m[kind]
	if !ok {
		return QuantDescs{}, fmt.Errorf("layers: no quantized layer type %q", kind)
	}
	return d.clone(), nil
}

func (d QuantDescs) clone() QuantDescs {
	var out QuantDescs
	if d.Input != nil {
		in := d.Input.Clone()
		out.Input = &in
	}
	if d.Weight != nil {
		w := d.Weight.Clone()
		out.Weight = &w
	}
	return out
}

// SetDefaultQuantDescInput sets the input descriptor that layers of the
// quantized type kind ("QuantConv2d" ...) get when none is given (the
// original's set_default_quant_desc_input); layers made before keep
// theirs. It is safe for concurrent use. It returns an error for an
// unknown kind, a descriptor that does not validate or one that is not
// fake quantization (the quantized layers support only that, as in the
// original).
func SetDefaultQuantDescInput(kind string, d QuantDescriptor) error {
	return setDefault(kind, d, false)
}

// SetDefaultQuantDescWeight sets the weight descriptor of the quantized
// type kind, as SetDefaultQuantDescInput does for the input; pooling types
// have none, which is an error.
func SetDefaultQuantDescWeight(kind string, d QuantDescriptor) error {
	return setDefault(kind, d, true)
}

func setDefault(kind string, d QuantDescriptor, weight bool) error {
	if err := checkLayerDesc(kind, d); err != nil {
		return err
	}
	defaults.Lock()
	defer defaults.Unlock()
	cur, ok := defaults.m[kind]
	switch {
	case !ok:
		return fmt.Errorf("layers: no quantized layer type %q", kind)
	case weight && cur.Weight == nil:
		return fmt.Errorf("layers: %s has no weight quantizer", kind)
	}
	c := d.Clone()
	if weight {
		cur.Weight = &c
	} else {
		cur.Input = &c
	}
	defaults.m[kind] = cur
	return nil
}

// checkLayerDesc validates a descriptor for a quantized layer of kind.
func checkLayerDesc(kind string, d QuantDescriptor) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("layers: %s: %w", kind, err)
	}
	if !d.FakeQuant {
		return fmt.Errorf("layers: %s: %s: only fake quantization is supported in quantized layers", kind, d)
	}
	return nil
}

// newQuantizers builds the quantizers of a layer of kind from d, filling
// in the defaults.
func newQuantizers(kind string, d QuantDescs) (in, w *TensorQuantizer, err error) {
	def, err := DefaultQuantDescs(kind)
	if err != nil {
		return nil, nil, err
	}
	if def.Weight == nil && d.Weight != nil {
		return nil, nil, fmt.Errorf("layers: %s has no weight quantizer, got a weight descriptor %s", kind, d.Weight)
	}
	d = d.clone()
	if d.Input == nil {
		d.Input = def.Input
	}
	if d.Weight == nil {
		d.Weight = def.Weight
	}
	for _, x := range []*QuantDescriptor{d.Input, d.Weight} {
		if x == nil {
			continue
		}
		if err := checkLayerDesc(kind, *x); err != nil {
			return nil, nil, err
		}
	}
	if in, err = NewTensorQuantizer(*d.Input); err != nil {
		return nil, nil, fmt.Errorf("layers: %s input quantizer: %w", kind, err)
	}
	if d.Weight != nil {
		if w, err = NewTensorQuantizer(*d.Weight); err != nil {
			return nil, nil, fmt.Errorf("layers: %s weight quantizer: %w", kind, err)
		}
	}
	return in, w, nil
}

// Quantize returns the quantized counterpart of a float layer (*Linear,
// *Conv1d ... *ConvTranspose3d, *MaxPool1d ... *AdaptiveAvgPool3d), with
// quantizers from d (defaults where nil). The quantized layer shares the
// float layer's weight and bias tensors (and their gradients), so an
// optimizer built on the float model keeps working; the float layer itself
// should no longer be used. It returns an error for a layer type without a
// quantized counterpart and for the errors of the descriptors
// (DefaultQuantDescs, SetDefaultQuantDescInput).
func Quantize(l Layer, d QuantDescs) (QuantLayer, error) {
	if l == nil {
		return nil, fmt.Errorf("layers: Quantize: nil layer")
	}
	var build func(in, w *TensorQuantizer) QuantLayer
	switch v := l.(type) {
	case *Linear:
		build = func(in, w *TensorQuantizer) QuantLayer {
			return &QuantLinear{Linear: v.fresh(), InputQuantizer: in, WeightQuantizer: w}
		}
	case *Conv1d:
		build = func(in, w *TensorQuantizer) QuantLayer {
			return &QuantConv1d{Conv1d: Conv1d{v.fresh()}, InputQuantizer: in, WeightQuantizer: w}
		}
	case *Conv2d:
		build = func(in, w *TensorQuantizer) QuantLayer {
			return &QuantConv2d{Conv2d: Conv2d{v.fresh()}, InputQuantizer: in, WeightQuantizer: w}
		}
	case *Conv3d:
		build = func(in, w *TensorQuantizer) QuantLayer {
			return &QuantConv3d{Conv3d: Conv3d{v.fresh()}, InputQuantizer: in, WeightQuantizer: w}
		}
	case *ConvTranspose1d:
		build = func(in, w *TensorQuantizer) QuantLayer {
			return &QuantConvTranspose1d{ConvTranspose1d: ConvTranspose1d{v.fresh()}, InputQuantizer: in, WeightQuantizer: w}
		}
	case *ConvTranspose2d:
		build = func(in, w *TensorQuantizer) QuantLayer {
			return &QuantConvTranspose2d{ConvTranspose2d: ConvTranspose2d{v.fresh()}, InputQuantizer: in, WeightQuantizer: w}
		}
	case *ConvTranspose3d:
		build = func(in, w *TensorQuantizer) QuantLayer {
			return &QuantConvTranspose3d{ConvTranspose3d: ConvTranspose3d{v.fresh()}, InputQuantizer: in, WeightQuantizer: w}
		}
	case *MaxPool1d:
		build = func(in, _ *TensorQuantizer) QuantLayer {
			return &QuantMaxPool1d{MaxPool1d: MaxPool1d{MaxPool{Window: v.Window.clone()}}, InputQuantizer: in}
		}
	case *MaxPool2d:
		build = func(in, _ *TensorQuantizer) QuantLayer {
			return &QuantMaxPool2d{MaxPool2d: MaxPool2d{MaxPool{Window: v.Window.clone()}}, InputQuantizer: in}
		}
	case *MaxPool3d:
		build = func(in, _ *TensorQuantizer) QuantLayer {
			return &QuantMaxPool3d{MaxPool3d: MaxPool3d{MaxPool{Window: v.Window.clone()}}, InputQuantizer: in}
		}
	case *AvgPool1d:
		build = func(in, _ *TensorQuantizer) QuantLayer {
			return &QuantAvgPool1d{AvgPool1d: AvgPool1d{AvgPool{Window: v.Window.clone()}}, InputQuantizer: in}
		}
	case *AvgPool2d:
		build = func(in, _ *TensorQuantizer) QuantLayer {
			return &QuantAvgPool2d{AvgPool2d: AvgPool2d{AvgPool{Window: v.Window.clone()}}, InputQuantizer: in}
		}
	case *AvgPool3d:
		build = func(in, _ *TensorQuantizer) QuantLayer {
			return &QuantAvgPool3d{AvgPool3d: AvgPool3d{AvgPool{Window: v.Window.clone()}}, InputQuantizer: in}
		}
	case *AdaptiveAvgPool1d:
		build = func(in, _ *TensorQuantizer) QuantLayer {
			return &QuantAdaptiveAvgPool1d{AdaptiveAvgPool1d: AdaptiveAvgPool1d{v.fresh()}, InputQuantizer: in}
		}
	case *AdaptiveAvgPool2d:
		build = func(in, _ *TensorQuantizer) QuantLayer {
			return &QuantAdaptiveAvgPool2d{AdaptiveAvgPool2d: AdaptiveAvgPool2d{v.fresh()}, InputQuantizer: in}
		}
	case *AdaptiveAvgPool3d:
		build = func(in, _ *TensorQuantizer) QuantLayer {
			return &QuantAdaptiveAvgPool3d{AdaptiveAvgPool3d: AdaptiveAvgPool3d{v.fresh()}, InputQuantizer: in}
		}
	default:
		return nil, fmt.Errorf("layers: %s (%T) has no quantized counterpart", l, l)
	}
	in, w, err := newQuantizers("Quant"+l.Kind(), d)
	if err != nil {
		return nil, err
	}
	return build(in, w), nil
}

// fresh returns a copy of the layer's hyper-parameters and parameters
// (the same weight, bias and gradient tensors) without what its last
// Forward saved.
func (l *Linear) fresh() Linear {
	return Linear{InFeatures: l.InFeatures, OutFeatures: l.OutFeatures, Weight: l.Weight, Bias: l.Bias,
		weightGrad: l.weightGrad, biasGrad: l.biasGrad}
}

// fresh returns a copy of the convolution's hyper-parameters and
// parameters (the same weight, bias and gradient tensors) without what its
// last Forward saved or its scratch buffers.
func (c *Conv) fresh() Conv {
	return Conv{InChannels: c.InChannels, OutChannels: c.OutChannels,
		KernelSize: slices.Clone(c.KernelSize), Stride: slices.Clone(c.Stride), Padding: slices.Clone(c.Padding),
		Dilation: slices.Clone(c.Dilation), OutputPadding: slices.Clone(c.OutputPadding),
		Groups: c.Groups, Transposed: c.Transposed, Weight: c.Weight, Bias: c.Bias,
		weightGrad: c.weightGrad, biasGrad: c.biasGrad}
}

// fresh returns a copy of the output size, without what the last Forward
// saved.
func (a *AdaptiveAvgPool) fresh() AdaptiveAvgPool {
	return AdaptiveAvgPool{OutputSize: slices.Clone(a.OutputSize)}
}

// clone returns a deep copy of the window.
func (w Window) clone() Window {
	return Window{slices.Clone(w.KernelSize), slices.Clone(w.Stride), slices.Clone(w.Padding), slices.Clone(w.Dilation)}
}

// quantizeAs quantizes the result of a float constructor into *T.
func quantizeAs[T any](l Layer, err error, d QuantDescs) (*T, error) {
	if err != nil {
		return nil, err
	}
	q, err := Quantize(l, d)
	if err != nil {
		return nil, err
	}
	return any(q).(*T), nil
}

// NewQuantLinear returns QuantLinear(in, out, bias) with the weights of
// NewLinear and quantizers from d. It returns the errors of NewLinear and
// Quantize.
func NewQuantLinear(in, out int, bias bool, rng *rand.Rand, d QuantDescs) (*QuantLinear, error) {
	l, err := NewLinear(in, out, bias, rng)
	return quantizeAs[QuantLinear](l, err, d)
}

// NewQuantConv1d returns QuantConv1d(in, out, kernel, ...) with the
// weights of NewConv1d and quantizers from d. It returns the errors of
// NewConv1d and Quantize.
func NewQuantConv1d(in, out, kernel int, opt ConvOptions, rng *rand.Rand, d QuantDescs) (*QuantConv1d, error) {
	l, err := NewConv1d(in, out, kernel, opt, rng)
	return quantizeAs[QuantConv1d](l, err, d)
}

// NewQuantConv2d returns QuantConv2d(in, out, kernel, ...) with the
// weights of NewConv2d and quantizers from d. It returns the errors of
// NewConv2d and Quantize.
func NewQuantConv2d(in, out, kernel int, opt ConvOptions, rng *rand.Rand, d QuantDescs) (*QuantConv2d, error) {
	l, err := NewConv2d(in, out, kernel, opt, rng)
	return quantizeAs[QuantConv2d](l, err, d)
}

// NewQuantConv3d returns QuantConv3d(in, out, kernel, ...) with the
// weights of NewConv3d and quantizers from d. It returns the errors of
// NewConv3d and Quantize.
func NewQuantConv3d(in, out, kernel int, opt ConvOptions, rng *rand.Rand, d QuantDescs) (*QuantConv3d, error) {
	l, err := NewConv3d(in, out, kernel, opt, rng)
	return quantizeAs[QuantConv3d](l, err, d)
}

// NewQuantConvTranspose2d returns QuantConvTranspose2d(in, out, kernel,
// ...) with the weights of NewConvTranspose2d and quantizers from d. It
// returns the errors of NewConvTranspose2d and Quantize. (For the other
// dimensions, and per-dimension hyper-parameters: NewQuantConv.)
func NewQuantConvTranspose2d(in, out, kernel int, opt ConvOptions, rng *rand.Rand, d QuantDescs) (*QuantConvTranspose2d, error) {
	l, err := NewConvTranspose2d(in, out, kernel, opt, rng)
	return quantizeAs[QuantConvTranspose2d](l, err, d)
}

// NewQuantConv returns the quantized convolution spec describes (a
// *QuantConv1d ... *QuantConvTranspose3d) with the weights of NewConv and
// quantizers from d. It returns the errors of NewConv and Quantize.
func NewQuantConv(spec ConvSpec, rng *rand.Rand, d QuantDescs) (QuantLayer, error) {
	l, err := NewConv(spec, rng)
	if err != nil {
		return nil, err
	}
	return Quantize(l, d)
}

// NewQuantMaxPool2d returns QuantMaxPool2d(kernel, ...) with an input
// quantizer from d. It returns the errors of NewMaxPool2d and Quantize.
// (For the other pooling layers: Quantize the float layer.)
func NewQuantMaxPool2d(kernel int, opt PoolOptions, d QuantDescs) (*QuantMaxPool2d, error) {
	l, err := NewMaxPool2d(kernel, opt)
	return quantizeAs[QuantMaxPool2d](l, err, d)
}

// NewQuantAvgPool2d returns QuantAvgPool2d(kernel, ...) with an input
// quantizer from d. It returns the errors of NewAvgPool2d and Quantize.
func NewQuantAvgPool2d(kernel int, opt PoolOptions, d QuantDescs) (*QuantAvgPool2d, error) {
	l, err := NewAvgPool2d(kernel, opt)
	return quantizeAs[QuantAvgPool2d](l, err, d)
}

// NewQuantAdaptiveAvgPool2d returns QuantAdaptiveAvgPool2d((h, w)) with an
// input quantizer from d. It returns the errors of NewAdaptiveAvgPool2d
// and Quantize.
func NewQuantAdaptiveAvgPool2d(h, w int, d QuantDescs) (*QuantAdaptiveAvgPool2d, error) {
	l, err := NewAdaptiveAvgPool2d(h, w)
	return quantizeAs[QuantAdaptiveAvgPool2d](l, err, d)
}

// The shared bodies of the quantized layers.

// quantChildren names the quantizers as the walker sees them.
func quantChildren(in, w *TensorQuantizer) []Named {
	out := []Named{{Name: "input_quantizer", Layer: layerOrNil(in)}}
	if w != nil {
		out = append(out, Named{Name: "weight_quantizer", Layer: w})
	}
	return out
}

// layerOrNil keeps a nil *TensorQuantizer a nil Layer, which the walker
// reports.
func layerOrNil(q *TensorQuantizer) Layer {
	if q == nil {
		return nil
	}
	return q
}

// weightView is how a weight quantizer sees the weight: as is, or, for a
// block quantizer of a convolution's weight, as a matrix with one row per
// leading index (output channel; input channel of a transposed
// convolution).
func weightView(wq *TensorQuantizer, w *tensor.Tensor) *tensor.Tensor {
	if wq.desc.BlockSize == 0 || len(w.Shape) < 3 {
		return w
	}
	return &tensor.Tensor{Shape: []int{w.Shape[0], len(w.Data) / max(w.Shape[0], 1)}, Data: w.Data}
}

// forwardWeighted quantizes x and w (w seen through weightView) and runs
// f, the float layer's forward, on them.
func forwardWeighted(self Layer, in, wq *TensorQuantizer, x, w *tensor.Tensor,
	f func(x, w *tensor.Tensor) (*tensor.Tensor, error)) (*tensor.Tensor, error) {
	if in == nil || wq == nil {
		return nil, errorf(self, "nil input or weight quantizer")
	}
	if err := w.Validate(); err != nil {
		return nil, errorf(self, "weight: %v", err)
	}
	qx, err := in.Forward(x)
	if err != nil {
		return nil, inChild("input_quantizer", in, err)
	}
	qw, err := wq.Forward(weightView(wq, w))
	if err != nil {
		return nil, inChild("weight_quantizer", wq, err)
	}
	return f(qx, &tensor.Tensor{Shape: w.Shape, Data: qw.Data})
}

// backwardWeighted runs b, the float layer's backward, with a fresh
// gradient for the quantized weight, passes it through the weight
// quantizer into wGrad, and the input gradient through the input
// quantizer.
func backwardWeighted(self Layer, in, wq *TensorQuantizer, dy, wGrad *tensor.Tensor,
	b func(dy, dw *tensor.Tensor) (*tensor.Tensor, error)) (*tensor.Tensor, error) {
	if in == nil || wq == nil {
		return nil, errorf(self, "nil input or weight quantizer")
	}
	if wq.fw.mode == fwNone || in.fw.mode == fwNone {
		return nil, errorf(self, "Backward called before Forward")
	}
	dqw := tensor.New(wq.fw.x.Shape...)
	dqx, err := b(dy, dqw)
	if err != nil {
		return nil, err
	}
	dw, err := wq.Backward(dqw)
	if err != nil {
		return nil, inChild("weight_quantizer", wq, err)
	}
	if len(dw.Data) != len(wGrad.Data) {
		return nil, errorf(self, "weight changed between Forward and Backward")
	}
	for i, v := range dw.Data {
		wGrad.Data[i] += v
	}
	dx, err := in.Backward(dqx)
	if err != nil {
		return nil, inChild("input_quantizer", in, err)
	}
	return dx, nil
}

// forwardInput quantizes x and runs f, a pooling layer's forward.
func forwardInput(self Layer, in *TensorQuantizer, x *tensor.Tensor, f func(x *tensor.Tensor) (*tensor.Tensor, error)) (*tensor.Tensor, error) {
	if in == nil {
		return nil, errorf(self, "nil input quantizer")
	}
	qx, err := in.Forward(x)
	if err != nil {
		return nil, inChild("input_quantizer", in, err)
	}
	return f(qx)
}

// backwardInput runs b, a pooling layer's backward, and the input
// quantizer's.
func backwardInput(self Layer, in *TensorQuantizer, dy *tensor.Tensor, b func(dy *tensor.Tensor) (*tensor.Tensor, error)) (*tensor.Tensor, error) {
	if in == nil {
		return nil, errorf(self, "nil input quantizer")
	}
	dqx, err := b(dy)
	if err != nil {
		return nil, err
	}
	dx, err := in.Backward(dqx)
	if err != nil {
		return nil, inChild("input_quantizer", in, err)
	}
	return dx, nil
}
