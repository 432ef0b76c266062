package layers

import (
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/tensorquant/tensorquant/tensor"
)

// QuantLayer is implemented by every quantized layer, Quant[L] for any
// quantizable float layer type L (QuantLinear, QuantConv2d, QuantMatMul,
// QuantMaxPool2d ...).
type QuantLayer interface {
	Layer
	// FloatLayer returns the float layer, which holds the weights.
	FloatLayer() Layer
	// Quantizers returns the quantizers; weight is nil for pooling layers.
	Quantizers() (input, weight *TensorQuantizer)
}

// QuantDescs chooses the descriptors of a quantized layer's quantizers:
// nil takes the default of the layer type (see SetDefaultQuantDescInput).
// Pooling layers have no weight quantizer: Weight must be nil for them.
type QuantDescs struct {
	Input, Weight *QuantDescriptor
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

// Quant is the quantized form of the float layer type L, the one
// mechanism behind every quantized layer: the original's QuantConv2d is
// Quant[*Conv2d] (the alias QuantConv2d), and so on for every type this
// package declares quantizable. Its quantizers are its children
// "input_quantizer" and "weight_quantizer" (a walk names them
// "features.0.input_quantizer"); its parameters are those of Float
// ("features.0.weight"); Kind and String are Float's with the prefix
// "Quant".
//
// Forward quantizes the input with the input quantizer and, for a
// Weighted float layer, the weight with the weight quantizer, then runs
// the float layer on the quantized values (its ForwardWeight), as the
// original's quantized modules do; pooling layers quantize the input only.
// Backward runs the float layer's backward with the quantized values and
// passes the input and weight gradients through the quantizers'
// straight-through gradients; the weight gradient lands in the float
// weight's Grad.
//
// A weight quantizer with a BlockSize sees a convolution's weight as a
// matrix with one row per leading index (output channel; input channel of
// a transposed convolution), so that blocks run over a filter; other
// weights it sees as they are.
type Quant[L Layer] struct {
	// Float is the float layer, whose weights the quantized layer uses.
	Float L
	// InputQuantizer quantizes the input.
	InputQuantizer *TensorQuantizer
	// WeightQuantizer quantizes the weight; nil for a layer without one.
	WeightQuantizer *TensorQuantizer
}

// Kind returns "Quant" and the float layer's kind: "QuantConv2d".
func (q *Quant[L]) Kind() string { return "Quant" + q.Float.Kind() }

// String returns the float layer's repr with the "Quant" prefix, for
// example "QuantLinear(in_features=4, out_features=2, bias=True)";
// Describe shows the quantizers below it.
func (q *Quant[L]) String() string { return "Quant" + q.Float.String() }

// Params returns the float layer's parameters.
func (q *Quant[L]) Params() []Param { return q.Float.Params() }

// Children returns "input_quantizer" and, when there is one,
// "weight_quantizer".
func (q *Quant[L]) Children() []Named {
	out := []Named{{Name: "input_quantizer", Layer: layerOrNil(q.InputQuantizer)}}
	if q.WeightQuantizer != nil {
		out = append(out, Named{Name: "weight_quantizer", Layer: q.WeightQuantizer})
	}
	return out
}

// FloatLayer returns Float.
func (q *Quant[L]) FloatLayer() Layer { return q.Float }

// Quantizers returns the input and weight quantizers.
func (q *Quant[L]) Quantizers() (input, weight *TensorQuantizer) {
	return q.InputQuantizer, q.WeightQuantizer
}

// layerOrNil keeps a nil *TensorQuantizer a nil Layer, which the walker
// reports.
func layerOrNil(q *TensorQuantizer) Layer {
	if q == nil {
		return nil
	}
	return q
}

// weighted returns the float layer as a Weighted one, or false for a
// layer quantized at its input only.
func (q *Quant[L]) weighted() (Weighted, bool) {
	w, ok := any(q.Float).(Weighted)
	return w, ok
}

// check returns an error for a missing quantizer.
func (q *Quant[L]) check() error {
	if _, ok := q.weighted(); ok && (q.InputQuantizer == nil || q.WeightQuantizer == nil) {
		return errorf(q, "nil input or weight quantizer")
	}
	if q.InputQuantizer == nil {
		return errorf(q, "nil input quantizer")
	}
	return nil
}

// own makes an error of the float layer about itself an error of the
// quantized layer (named by its repr), as the float layer is not a module
// of its own in the model.
func (q *Quant[L]) own(err error) error {
	var le *Error
	if errors.As(err, &le) && le.Path == "" {
		le.Layer = q.String()
	}
	return err
}

// Forward quantizes x and the weight and runs the float layer with them.
// It returns the errors of the quantizers (named "input_quantizer" and
// "weight_quantizer") and of the float layer's Forward, and an error for a
// nil quantizer.
func (q *Quant[L]) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	f, weighted := q.weighted()
	var w *tensor.Tensor
	if weighted {
		w = f.WeightInfo().Weight.Value
		if err := w.Validate(); err != nil {
			return nil, errorf(q, "weight: %v", err)
		}
	}
	qx, err := forward(q.InputQuantizer, x)
	if err != nil {
		return nil, inChild("input_quantizer", q.InputQuantizer, err)
	}
	if !weighted {
		y, err := q.Float.Forward(qx)
		return y, q.own(err)
	}
	qw, err := forward(q.WeightQuantizer, weightView(q.WeightQuantizer, w))
	if err != nil {
		return nil, inChild("weight_quantizer", q.WeightQuantizer, err)
	}
	y, err := f.ForwardWeight(qx, &tensor.Tensor{Shape: w.Shape, Data: qw.Data})
	return y, q.own(err)
}

// Backward returns the input gradient of the last Forward and adds the
// weight and bias gradients to the parameters' Grad, through the
// quantizers' straight-through gradients. It returns an error before
// Forward, for a dy not shaped like the output, and when the weight
// changed size since Forward.
func (q *Quant[L]) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if err := q.check(); err != nil {
		return nil, err
	}
	in, wq := q.InputQuantizer, q.WeightQuantizer
	f, weighted := q.weighted()
	var dqx *tensor.Tensor
	if !weighted {
		var err error
		if dqx, err = q.Float.Backward(dy); err != nil {
			return nil, q.own(err)
		}
	} else {
		if wq.fw.mode == fwNone || in.fw.mode == fwNone {
			return nil, errorf(q, "Backward called before Forward")
		}
		dqw := tensor.New(wq.fw.x.Shape...)
		var err error
		if dqx, err = f.BackwardWeight(dy, dqw); err != nil {
			return nil, q.own(err)
		}
		dw, err := wq.Backward(dqw)
		if err != nil {
			return nil, inChild("weight_quantizer", wq, err)
		}
		grad := f.WeightInfo().Weight.Grad
		if len(dw.Data) != len(grad.Data) {
			return nil, errorf(q, "weight changed between Forward and Backward")
		}
		for i, v := range dw.Data {
			grad.Data[i] += v
		}
	}
	dx, err := in.Backward(dqx)
	if err != nil {
		return nil, inChild("input_quantizer", in, err)
	}
	return dx, nil
}

// weightView is how a weight quantizer sees the weight: as is, or, for a
// block quantizer of a weight of rank 3 or more (a convolution's), as a
// matrix with one row per leading index.
func weightView(wq *TensorQuantizer, w *tensor.Tensor) *tensor.Tensor {
	if wq.desc.BlockSize == 0 || len(w.Shape) < 3 {
		return w
	}
	return &tensor.Tensor{Shape: []int{w.Shape[0], len(w.Data) / max(w.Shape[0], 1)}, Data: w.Data}
}

// The default descriptors of the quantized types that were changed by
// SetDefaultQuantDescInput or SetDefaultQuantDescWeight, by float type.
var defaults = struct {
	sync.RWMutex
	m map[reflect.Type]QuantDescs
}{m: map[reflect.Type]QuantDescs{}}

// defaultsOf returns copies of the default descriptors of the quantized
// form of t: as set, or the original's: 8-bit per-tensor inputs, 8-bit
// weights per output channel.
func defaultsOf(t *layerType) QuantDescs {
	defaults.RLock()
	defer defaults.RUnlock()
	if d, ok := defaults.m[t.typ]; ok {
		return d.clone()
	}
	in := QuantDesc8BitPerTensor()
	d := QuantDescs{Input: &in}
	if t.weightAxis >= 0 {
		w := perChannel(t.weightAxis)
		d.Weight = &w
	}
	return d
}

// quantizableType returns the declared type P, or an error naming it.
func quantizableType[P Layer]() (*layerType, error) {
	t := typeFor[P]()
	if t == nil {
		return nil, fmt.Errorf("layers: %v has no quantized form", reflect.TypeFor[P]())
	}
	return t, nil
}

// DefaultQuantDescs returns copies of the default descriptors of the
// quantized form of the float layer type L (DefaultQuantDescs[*Conv2d]
// for QuantConv2d), Weight nil for pooling. The defaults are the
// original's: 8-bit per-tensor inputs, and 8-bit weights per output
// channel (WeightInfo.Axis: 0 for Conv and Linear, 1 for ConvTranspose
// and MatMul), unless changed by SetDefaultQuantDescInput or
// SetDefaultQuantDescWeight. It returns an error for a type without a
// quantized form.
func DefaultQuantDescs[L Layer]() (QuantDescs, error) {
	t, err := quantizableType[L]()
	if err != nil {
		return QuantDescs{}, err
	}
	return defaultsOf(t), nil
}

// SetDefaultQuantDescInput sets the input descriptor that quantized
// layers of the float type L get when none is given (the original's
// QuantConv2d.set_default_quant_desc_input is
// SetDefaultQuantDescInput[*Conv2d]); layers made before keep theirs. It
// is safe for concurrent use. It returns an error for a type without a
// quantized form, a descriptor that does not validate or one that is not
// fake quantization (the quantized layers support only that, as in the
// original).
func SetDefaultQuantDescInput[L Layer](d QuantDescriptor) error {
	t, err := quantizableType[L]()
	if err != nil {
		return err
	}
	return setDefault(t, d, false)
}

// SetDefaultQuantDescWeight sets the weight descriptor of the quantized
// form of the float type L, as SetDefaultQuantDescInput does for the
// input. Only Weighted types have one.
func SetDefaultQuantDescWeight[L Weighted](d QuantDescriptor) error {
	t, err := quantizableType[L]()
	if err != nil {
		return err
	}
	return setDefault(t, d, true)
}

func setDefault(t *layerType, d QuantDescriptor, weight bool) error {
	kind := "Quant" + t.kind
	if err := checkLayerDesc(kind, d); err != nil {
		return err
	}
	cur := defaultsOf(t)
	c := d.Clone()
	if weight {
		cur.Weight = &c
	} else {
		cur.Input = &c
	}
	defaults.Lock()
	defer defaults.Unlock()
	defaults.m[t.typ] = cur
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

// newQuant returns the quantized form of f (a declared type) with
// quantizers from d, the defaults where nil.
func newQuant[P Layer](f P, d QuantDescs) (*Quant[P], error) {
	t, err := quantizableType[P]()
	if err != nil {
		return nil, err
	}
	kind := "Quant" + t.kind
	def := defaultsOf(t)
	if def.Weight == nil && d.Weight != nil {
		return nil, fmt.Errorf("layers: %s has no weight quantizer, got a weight descriptor %s", kind, d.Weight)
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
			return nil, err
		}
	}
	q := &Quant[P]{Float: f}
	if q.InputQuantizer, err = NewTensorQuantizer(*d.Input); err != nil {
		return nil, fmt.Errorf("layers: %s input quantizer: %w", kind, err)
	}
	if d.Weight != nil {
		if q.WeightQuantizer, err = NewTensorQuantizer(*d.Weight); err != nil {
			return nil, fmt.Errorf("layers: %s weight quantizer: %w", kind, err)
		}
	}
	return q, nil
}

// quantizer is implemented by every opType: it builds the quantized form
// of a layer of that type.
type quantizer interface {
	quantize(l Layer, d QuantDescs) (QuantLayer, error)
}

// quantize returns Quant[P] around a copy of l (a P) that shares its
// parameter tensors.
func (opType[T, P]) quantize(l Layer, d QuantDescs) (QuantLayer, error) {
	c := P(new(T))
	*c = *l.(P)
	c.unshare()
	return newQuant(c, d)
}

// Quantize returns the quantized form of a float layer of a quantizable
// type (*Linear, *MatMul, *Conv1d ... *ConvTranspose3d, *MaxPool1d ...
// *AdaptiveAvgPool3d), a *Quant[L] of the layer's type (Quantize of a
// *Conv2d is a *QuantConv2d), with quantizers from d (defaults where
// nil). The quantized layer's Float is a copy of l with its own
// hyper-parameters and the same weight and bias tensors (and gradients),
// so an optimizer built on the float model keeps working; l itself should
// no longer be used. It returns an error for a nil layer, a type without a
// quantized form, and for the errors of the descriptors (a weight
// descriptor for pooling, and those of SetDefaultQuantDescInput).
func Quantize(l Layer, d QuantDescs) (QuantLayer, error) {
	if l == nil {
		return nil, fmt.Errorf("layers: Quantize: nil layer")
	}
	t := typeOf(l)
	if t == nil {
		return nil, fmt.Errorf("layers: %s (%T) has no quantized counterpart", l, l)
	}
	return t.op.(quantizer).quantize(l, d)
}
