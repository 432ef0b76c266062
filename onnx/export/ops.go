package export

import (
	"errors"

	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// layer exports l, found at path (scope is its node-name scope), applied to
// x, and returns its output.
func (b *builder) layer(path, scope string, l layers.Layer, x value) (value, error) {
	return b.exportAs(path, scope, l, nil, x)
}

// exportAs exports layer l at path applied to x: a TensorQuantizer as
// Q/DQ, any other layer by its Export (layers.Exporter), a quantized layer
// (layers.QuantLayer) as Q/DQ of its input followed by its float layer,
// whose weight and bias go through its quantizers (see layerBuilder.Param).
// When folded is not nil, it is exported in place of l's float layer,
// with initializers named "<name>_folded".
func (b *builder) exportAs(path, scope string, l, folded layers.Layer, x value) (value, error) {
	if q, ok := l.(*layers.TensorQuantizer); ok {
		v, _, err := b.quantize(path, scope, q, x)
		return v, err
	}
	lb := &layerBuilder{b: b, path: path, scope: scope, layer: l}
	f := l
	if ql, ok := l.(layers.QuantLayer); ok {
		f = ql.FloatLayer()
		inQ, wQ := ql.Quantizers()
		lb.quant = &quantParams{weight: wQ}
		if w, ok := f.(layers.Weighted); ok {
			lb.quant.info, lb.quant.weighted = w.WeightInfo(), true
		}
		var err error
		if x, lb.quant.inP, err = b.inputQuant(path, scope, inQ, x); err != nil {
			return value{}, err
		}
	}
	if folded != nil {
		f, lb.suffix = folded, "_folded"
	}
	e, ok := f.(layers.Exporter)
	if !ok {
		return value{}, errorf(path, l, "layer kind %s is not exportable (see the package documentation of onnx/export for the list)", l.Kind())
	}
	v, err := e.Export(lb, layers.Value{Name: x.name, Shape: x.shape})
	if err != nil {
		var ee *exportError
		if errors.As(err, &ee) {
			return value{}, err
		}
		return value{}, errorf(path, l, "%v", err)
	}
	return value{name: v.Name, elem: onnx.Float, shape: v.Shape}, nil
}

// quantParams are the quantizers of a quantized layer as its Param needs
// them.
type quantParams struct {
	weighted bool
	info     layers.WeightInfo       // of the float layer, when weighted
	weight   *layers.TensorQuantizer // the weight quantizer
	inP, wP  *qdq                    // the Q/DQ parameters of the input and (once exported) the weight
}

// layerBuilder is the layers.Builder of one layer of the model.
type layerBuilder struct {
	b           *builder
	path, scope string
	layer       layers.Layer // named in errors
	quant       *quantParams // nil for a float layer
	suffix      string       // of initializer names
}

// Opset returns the opset being exported.
func (lb *layerBuilder) Opset() int { return int(lb.b.opset) }

// Node appends op in the layer's scope.
func (lb *layerBuilder) Node(op string, inputs []layers.Value, shape []int, attrs ...onnx.Attribute) layers.Value {
	names := make([]string, len(inputs))
	for i, v := range inputs {
		names[i] = v.Name
	}
	v := lb.b.node(lb.scope, op, names, onnx.Float, shape, attrs...)
	return layers.Value{Name: v.name, Shape: v.shape}
}

// Constant appends a Constant node in the layer's scope.
func (lb *layerBuilder) Constant(t onnx.Tensor) layers.Value {
	v := lb.b.constant(lb.scope, t)
	return layers.Value{Name: v.name, Shape: v.shape}
}

// Param adds t as the initializer "<path>.<name>" and returns it; the
// weight of a quantized layer goes through its weight quantizer
// (weightInput) and its bias may become INT32 (biasInput).
func (lb *layerBuilder) Param(name string, t *tensor.Tensor) (layers.Value, error) {
	b, full := lb.b, joinPath(lb.path, name)+lb.suffix
	var n string
	var err error
	switch q := lb.quant; {
	case q != nil && q.weighted && name == q.info.Weight.Name:
		n, q.wP, err = b.weightInput(lb.path, lb.scope, lb.layer, full, t, q.weight)
	case q != nil && q.weighted && q.info.Bias.Value != nil && name == q.info.Bias.Name:
		n, err = b.biasInput(lb.path, lb.scope, lb.layer, full, t, q.inP, q.wP, q.info.Axis)
	default:
		if n, err = b.floatInitializer(full, t); err != nil {
			err = errorf(lb.path, lb.layer, "%v", err)
		}
	}
	if err != nil {
		return layers.Value{}, err
	}
	return layers.Value{Name: n, Shape: t.Shape}, nil
}

// Apply exports the child called name.
func (lb *layerBuilder) Apply(name string, child layers.Layer, x layers.Value) (layers.Value, error) {
	p := joinPath(lb.path, name)
	v, err := lb.b.layer(p, scopeOf(lb.scope, p), child, value{name: x.Name, elem: onnx.Float, shape: x.Shape})
	return layers.Value{Name: v.name, Shape: v.shape}, err
}

// Chain exports the children in order. With FoldBatchNorm, a child whose
// float layer is a layers.BatchNormFolder followed by a BatchNorm it can
// absorb is exported as the folded layer, and the BatchNorm not at all.
func (lb *layerBuilder) Chain(kids []layers.Named, x layers.Value) (layers.Value, error) {
	v := value{name: x.Name, elem: onnx.Float, shape: x.Shape}
	for i := 0; i < len(kids); i++ {
		k := kids[i]
		if k.Layer == nil {
			return layers.Value{}, errorf(lb.path, lb.layer, "layer %s is nil", k.Name)
		}
		p := joinPath(lb.path, k.Name)
		sc := scopeOf(lb.scope, p)
		var folded layers.Layer
		if lb.b.opts.FoldBatchNorm && i+1 < len(kids) {
			var err error
			if folded, err = foldInto(p, k.Layer, joinPath(lb.path, kids[i+1].Name), kids[i+1].Layer); err != nil {
				return layers.Value{}, err
			}
		}
		out, err := lb.b.exportAs(p, sc, k.Layer, folded, v)
		if err != nil {
			return layers.Value{}, err
		}
		if folded != nil {
			i++
		}
		v = out
	}
	return layers.Value{Name: v.name, Shape: v.shape}, nil
}

// foldInto returns the float layer of l (at path) with next (at nextPath)
// folded into it, or nil when it cannot be folded. It refuses a layer
// whose weight quantizer is active: the quantizer's amax was calibrated on
// the unfolded weight.
func foldInto(path string, l layers.Layer, nextPath string, next layers.Layer) (layers.Layer, error) {
	f, wQ := l, (*layers.TensorQuantizer)(nil)
	if ql, ok := l.(layers.QuantLayer); ok {
		f = ql.FloatLayer()
		_, wQ = ql.Quantizers()
	}
	fb, ok := f.(layers.BatchNormFolder)
	if !ok {
		return nil, nil
	}
	folded, ok := fb.FoldBatchNorm(next)
	if !ok {
		return nil, nil
	}
	if active(wQ) {
		return nil, errorf(path, l, "FoldBatchNorm: cannot fold %s into weights quantized by %s, whose amax was calibrated on the unfolded weight (fold before calibrating, or export without folding)",
			nextPath, joinPath(path, "weight_quantizer"))
	}
	return folded, nil
}

// floatInitializer adds t as a FLOAT initializer called name and returns
// its (unique) name.
func (b *builder) floatInitializer(name string, t *tensor.Tensor) (string, error) {
	ot, err := onnx.NewTensor(name, dims64(t.Shape), t.Data)
	if err != nil {
		return "", err
	}
	return b.initializer(name, ot), nil
}
