package graph

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// The ai.onnx opsets FromLayers writes: DefaultLayersOpset (13, the first
// with per-axis QuantizeLinear/DequantizeLinear, and the opset of the
// original toolkit's export) unless a quantizer needs a newer one;
// LayersOptions.Opset from MinLayersOpset (QuantizeLinear exists from
// opset 10) to MaxLayersOpset (the newest with an IR version known to
// package onnx).
const (
	DefaultLayersOpset = 13
	MinLayersOpset     = 10
	MaxLayersOpset     = 22
)

// WeightFormat selects how FromLayers stores the weights of quantized
// layers.
type WeightFormat int

const (
	// WeightsFloat stores a quantized weight as a float initializer
	// followed by QuantizeLinear and DequantizeLinear, as the original
	// toolkit exports it (TensorRT's style: the builder quantizes).
	WeightsFloat WeightFormat = iota
	// WeightsQuantized stores the quantized codes (INT8, UINT8, FLOAT8 or
	// packed INT4, the quantizer's format) as the initializer, followed by
	// DequantizeLinear only (ONNX Runtime's style): a quarter of the size
	// for 8-bit formats. The codes are those QuantizeLinear computes, so
	// both styles give the same numbers.
	WeightsQuantized
)

// String returns "float" or "quantized".
func (f WeightFormat) String() string {
	switch f {
	case WeightsFloat:
		return "float"
	case WeightsQuantized:
		return "quantized"
	}
	return "WeightFormat(" + strconv.Itoa(int(f)) + ")"
}

// BiasFormat selects how FromLayers stores the bias of a quantized Conv
// or Linear.
type BiasFormat int

const (
	// BiasFloat stores every bias as a float initializer.
	BiasFloat BiasFormat = iota
	// BiasInt32 stores the bias of a layer whose input quantizer is
	// per-tensor and whose weight quantizer is per-tensor or per output
	// channel (both enabled, 8-bit integer) as INT32 codes with scale
	// input_scale·weight_scale, followed by DequantizeLinear, as ONNX
	// Runtime's quantizer does; other biases stay float. The codes are
	// round-half-even(bias/scale): the bias moves by at most half a step
	// of that (small) scale.
	BiasInt32
)

// String returns "float" or "int32".
func (f BiasFormat) String() string {
	switch f {
	case BiasFloat:
		return "float"
	case BiasInt32:
		return "int32"
	}
	return "BiasFormat(" + strconv.Itoa(int(f)) + ")"
}

// LayersOptions control FromLayers.
type LayersOptions struct {
	// InputShape is the shape of one sample without the batch dimension,
	// for example [1, 8, 8] for 8×8 single-channel images. Required: the
	// conversion derives every layer's shapes from it.
	InputShape []int
	// Opset is the ai.onnx opset, MinLayersOpset to MaxLayersOpset. 0
	// means DefaultLayersOpset, or the lowest opset that expresses every
	// quantizer when one needs more (19 for FP8, 21 for INT4).
	Opset int
	// Weights selects the storage of quantized weights (WeightsFloat by
	// default). Weights without an enabled quantizer are always float.
	Weights WeightFormat
	// Bias selects the storage of the biases of quantized layers
	// (BiasFloat by default).
	Bias BiasFormat
	// FoldBatchNorm folds every BatchNorm that directly follows a
	// (non-transposed) convolution in a Sequential into that convolution's
	// weight and bias. Other BatchNorms become BatchNormalization nodes.
	FoldBatchNorm bool
	// InputName and OutputName name the graph's input and output; ""
	// means "input" and "output", the names the original toolkit's
	// export uses.
	InputName, OutputName string
	// BatchName is the name of the symbolic batch dimension; "" means
	// "batch".
	BatchName string
}

// ConversionError is the error of FromLayers: a bad option (Option names
// the LayersOptions field), or a layer or quantizer that cannot be
// converted, which Msg names by its hierarchical name.
type ConversionError struct {
	Option string
	Msg    string
}

// Error returns "graph: [LayersOptions.OPTION ]MSG".
func (e *ConversionError) Error() string {
	if e.Option != "" {
		return "graph: LayersOptions." + e.Option + " " + e.Msg
	}
	return "graph: " + e.Msg
}

func convErrorf(format string, args ...any) error {
	return &ConversionError{Msg: fmt.Sprintf(format, args...)}
}

// FromLayers converts model, a tree of layers, into a graph for
// inference: BatchNorm uses its running statistics and Dropout is left
// out, whatever the layers' training mode. Every layer writes its own
// nodes (layers.Exporter) through the layers.Builder that FromLayers
// implements, containers included; FromLayers adds the quantization:
// a TensorQuantizer becomes a QuantizeLinear/DequantizeLinear pair (its
// scale and zero point as Constant nodes), a quantized layer
// (layers.QuantLayer) is its input's pair followed by its float layer,
// whose weight and bias go through the weight quantizer (and, with
// BiasInt32, become INT32); and, with FoldBatchNorm, BatchNorm folding.
//
// The graph has one float input of shape [batch, o.InputShape...] and one
// float output; the weights are initializers named as PyTorch names
// parameters ("features.0.weight"), nodes are named as PyTorch's exporter
// names them ("/features/features.0/Conv", output
// "/features/features.0/Conv_output_0"), and ValueInfo holds every
// intermediate value's type: the graph is what onnx/export writes. Its
// nodes have no Op yet: Infer (which NewSession calls) builds them from
// the registry, and folds the constants.
//
// It returns a *ConversionError for bad options, a layer it cannot
// convert, a layer whose hyper-parameters or weights do not fit each
// other or the shape reaching it, and a quantizer ONNX cannot express.
func FromLayers(model layers.Layer, o LayersOptions) (*Graph, error) {
	// Walk checks the tree: no nil layer, valid child names, no model
	// that contains itself.
	if err := layers.Walk(model, func(string, layers.Layer) error { return nil }); err != nil {
		return nil, &ConversionError{Msg: err.Error()}
	}
	if o.InputName == "" {
		o.InputName = "input"
	}
	if o.OutputName == "" {
		o.OutputName = "output"
	}
	if o.BatchName == "" {
		o.BatchName = "batch"
	}
	if o.InputName == o.OutputName {
		return nil, convErrorf("input and output are both named %q", o.InputName)
	}
	if len(o.InputShape) == 0 {
		return nil, &ConversionError{"InputShape", "is empty: give the shape of one sample without the batch dimension"}
	}
	for _, d := range o.InputShape {
		if d < 1 {
			return nil, &ConversionError{"InputShape", fmt.Sprintf("%v: every dimension must be at least 1", o.InputShape)}
		}
	}
	if o.Weights != WeightsFloat && o.Weights != WeightsQuantized {
		return nil, convErrorf("unknown weight format %v", o.Weights)
	}
	if o.Bias != BiasFloat && o.Bias != BiasInt32 {
		return nil, convErrorf("unknown bias format %v", o.Bias)
	}
	opset, err := chooseOpset(model, o.Opset)
	if err != nil {
		return nil, err
	}
	b := &layersBuilder{opts: o, opset: opset, used: map[string]bool{},
		g: &Graph{Name: "tensorquant", Opsets: map[string]int{"": int(opset)}, Initializers: map[string]*Tensor{}}}
	in := layerValue{name: o.InputName, elem: onnx.Float, shape: append([]int{layers.Batch}, o.InputShape...)}
	b.used[in.name] = true
	out, err := b.layer("", "", model, in)
	if err != nil {
		return nil, err
	}
	if out.name == in.name {
		out = b.node("", "Identity", []string{in.name}, onnx.Float, in.shape)
	}
	b.rename(out.name, o.OutputName)
	out.name = o.OutputName
	b.g.Inputs = []ValueSpec{b.spec(in)}
	b.g.Outputs = []ValueSpec{b.spec(out)}
	for _, v := range b.info {
		if v.name != out.name {
			b.g.ValueInfo = append(b.g.ValueInfo, b.spec(v))
		}
	}
	return b.g, nil
}

// chooseOpset returns the opset to convert with: the requested one, or
// for 0 DefaultLayersOpset raised to what the model's quantizers need.
func chooseOpset(model layers.Layer, requested int) (int64, error) {
	if requested == 0 {
		return int64(max(DefaultLayersOpset, neededOpset(model))), nil
	}
	if requested < MinLayersOpset || requested > MaxLayersOpset {
		return 0, convErrorf("opset %d is not supported (want %d to %d)", requested, MinLayersOpset, MaxLayersOpset)
	}
	return int64(requested), nil
}

// layerValue is a tensor of the graph under construction: its name,
// element type and shape, where layers.Batch stands for the symbolic
// batch dimension.
type layerValue struct {
	name  string
	elem  onnx.DataType
	shape []int
}

// layersBuilder accumulates the graph.
type layersBuilder struct {
	opts  LayersOptions
	opset int64
	g     *Graph
	used  map[string]bool // node and value names taken
	info  []layerValue    // the node outputs, for ValueInfo
}

// spec returns the ValueSpec of v, with the batch dimension symbolic.
func (b *layersBuilder) spec(v layerValue) ValueSpec {
	dims := make([]Dim, len(v.shape))
	for i, d := range v.shape {
		if d == layers.Batch {
			dims[i] = Dim{Size: -1, Param: b.opts.BatchName}
		} else {
			dims[i] = Dim{Size: d}
		}
	}
	return ValueSpec{Name: v.name, DType: v.elem, Shape: dims}
}

// unique returns name, or name_1, name_2 ... (PyTorch's scheme) when it is
// taken, and marks the result as taken.
func (b *layersBuilder) unique(name string) string {
	n := name
	for i := 1; b.used[n]; i++ {
		n = name + "_" + strconv.Itoa(i)
	}
	b.used[n] = true
	return n
}

// node appends an op-type node in scope and returns its single output, of
// element type elem and the given shape. The node is named scope/op (made
// unique) and its output scope/op_output_0, as PyTorch names them.
func (b *layersBuilder) node(scope, op string, inputs []string, elem onnx.DataType, shape []int, attrs ...onnx.Attribute) layerValue {
	name := b.unique(scope + "/" + op)
	out := layerValue{name: b.unique(name + "_output_0"), elem: elem, shape: shape}
	b.g.Nodes = append(b.g.Nodes, &Node{Name: name, OpType: op, Inputs: slices.Clone(inputs), Outputs: []string{out.name},
		Attrs: slices.Clone(attrs)})
	b.info = append(b.info, out)
	return out
}

// constant appends a Constant node holding t (unnamed, as PyTorch writes
// them) in scope and returns its output.
func (b *layersBuilder) constant(scope string, t onnx.Tensor) layerValue {
	shape := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		shape[i] = int(d)
	}
	return b.node(scope, "Constant", nil, t.DataType, shape, onnx.TensorAttr("value", t))
}

// initializer adds t as an initializer called name (made unique) and
// returns that name. It returns an error for a tensor a Graph cannot
// hold.
func (b *layersBuilder) initializer(name string, t onnx.Tensor) (string, error) {
	x, err := TensorFromONNX(&t)
	if err != nil {
		return "", err
	}
	name = b.unique(name)
	b.g.Initializers[name] = x
	return name, nil
}

// rename renames the value from to to in every node.
func (b *layersBuilder) rename(from, to string) {
	for _, n := range b.g.Nodes {
		for j := range n.Inputs {
			if n.Inputs[j] == from {
				n.Inputs[j] = to
			}
		}
		for j := range n.Outputs {
			if n.Outputs[j] == from {
				n.Outputs[j] = to
			}
		}
	}
	for i := range b.info {
		if b.info[i].name == from {
			b.info[i].name = to
		}
	}
}

// joinPath joins hierarchical names as layers.Walk does.
func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// scopeOf returns the node-name scope of the child called name at path,
// within its parent's scope: PyTorch's exporter names each module by its
// qualified name from the last non-numeric part on ("features.0" stays
// "features.0", "features.0.conv" becomes "conv"), so the nodes of
// features.0 are "/features/features.0/Conv". A quantized layer's
// quantizers are named as the original toolkit's attributes,
// "_input_quantizer" and "_weight_quantizer".
func scopeOf(parent, path string) string {
	atoms := strings.Split(path, ".")
	i := len(atoms) - 1
	for i > 0 && isNumeric(atoms[i]) {
		i--
	}
	part := strings.Join(atoms[i:], ".")
	if part == "input_quantizer" || part == "weight_quantizer" {
		part = "_" + part
	}
	return parent + "/" + part
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// layerErrorf returns an error for layer l at path: "path repr: msg".
func layerErrorf(path string, l layers.Layer, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if path == "" {
		return convErrorf("%s: %s", l.String(), msg)
	}
	return convErrorf("%s %s: %s", path, l.String(), msg)
}

// dims64 converts a shape to ONNX tensor dimensions.
func dims64(shape []int) []int64 {
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	return dims
}

// layer converts l, found at path (scope is its node-name scope), applied
// to x, and returns its output.
func (b *layersBuilder) layer(path, scope string, l layers.Layer, x layerValue) (layerValue, error) {
	return b.convertAs(path, scope, l, nil, x)
}

// convertAs converts layer l at path applied to x: a TensorQuantizer as
// Q/DQ, any other layer by its Export (layers.Exporter), a quantized layer
// (layers.QuantLayer) as Q/DQ of its input followed by its float layer,
// whose weight and bias go through its quantizers (see layerBuilder.Param).
// When folded is not nil, it is converted in place of l's float layer,
// with initializers named "<name>_folded".
func (b *layersBuilder) convertAs(path, scope string, l, folded layers.Layer, x layerValue) (layerValue, error) {
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
			return layerValue{}, err
		}
	}
	if folded != nil {
		f, lb.suffix = folded, "_folded"
	}
	e, ok := f.(layers.Exporter)
	if !ok {
		return layerValue{}, layerErrorf(path, l, "layer kind %s is not exportable (see the package documentation of onnx/export for the list)", l.Kind())
	}
	v, err := e.Export(lb, layers.Value{Name: x.name, Shape: x.shape})
	if err != nil {
		var ce *ConversionError
		if errors.As(err, &ce) {
			return layerValue{}, err
		}
		return layerValue{}, layerErrorf(path, l, "%v", err)
	}
	return layerValue{name: v.Name, elem: onnx.Float, shape: v.Shape}, nil
}

// quantParams are the quantizers of a quantized layer as its Param needs
// them.
type quantParams struct {
	weighted bool
	info     layers.WeightInfo       // of the float layer, when weighted
	weight   *layers.TensorQuantizer // the weight quantizer
	inP, wP  *qdq                    // the Q/DQ parameters of the input and (once converted) the weight
}

// layerBuilder is the layers.Builder of one layer of the model.
type layerBuilder struct {
	b           *layersBuilder
	path, scope string
	layer       layers.Layer // named in errors
	quant       *quantParams // nil for a float layer
	suffix      string       // of initializer names
}

// Opset returns the opset being written.
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
			err = layerErrorf(lb.path, lb.layer, "%v", err)
		}
	}
	if err != nil {
		return layers.Value{}, err
	}
	return layers.Value{Name: n, Shape: t.Shape}, nil
}

// Apply converts the child called name.
func (lb *layerBuilder) Apply(name string, child layers.Layer, x layers.Value) (layers.Value, error) {
	p := joinPath(lb.path, name)
	v, err := lb.b.layer(p, scopeOf(lb.scope, p), child, layerValue{name: x.Name, elem: onnx.Float, shape: x.Shape})
	return layers.Value{Name: v.name, Shape: v.shape}, err
}

// Chain converts the children in order. With FoldBatchNorm, a child whose
// float layer is a layers.BatchNormFolder followed by a BatchNorm it can
// absorb is converted as the folded layer, and the BatchNorm not at all.
func (lb *layerBuilder) Chain(kids []layers.Named, x layers.Value) (layers.Value, error) {
	v := layerValue{name: x.Name, elem: onnx.Float, shape: x.Shape}
	for i := 0; i < len(kids); i++ {
		k := kids[i]
		if k.Layer == nil {
			return layers.Value{}, layerErrorf(lb.path, lb.layer, "layer %s is nil", k.Name)
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
		out, err := lb.b.convertAs(p, sc, k.Layer, folded, v)
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
		return nil, layerErrorf(path, l, "FoldBatchNorm: cannot fold %s into weights quantized by %s, whose amax was calibrated on the unfolded weight (fold before calibrating, or export without folding)",
			nextPath, joinPath(path, "weight_quantizer"))
	}
	return folded, nil
}

// floatInitializer adds t as a FLOAT initializer called name and returns
// its (unique) name.
func (b *layersBuilder) floatInitializer(name string, t *tensor.Tensor) (string, error) {
	ot, err := onnx.NewTensor(name, dims64(t.Shape), t.Data)
	if err != nil {
		return "", err
	}
	return b.initializer(name, ot)
}
