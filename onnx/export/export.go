package export

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
)

// DefaultOpset is the ai.onnx opset Model uses when Options.Opset is 0 and
// no quantizer needs a newer one: 13, the first with per-axis
// QuantizeLinear/DequantizeLinear, and the opset of the original toolkit's
// export.
const DefaultOpset = 13

// MinOpset and MaxOpset bound Options.Opset: QuantizeLinear and
// DequantizeLinear exist from opset 10; 22 is the newest opset with an IR
// version known to package onnx.
const (
	MinOpset = 10
	MaxOpset = 22
)

// WeightFormat selects how the weights of quantized layers are stored.
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

// BiasFormat selects how the bias of a quantized Conv or Linear is stored.
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

// Options control Model.
type Options struct {
	// InputShape is the shape of one sample without the batch dimension,
	// for example [1, 8, 8] for 8×8 single-channel images. Required: the
	// exporter derives every layer's shapes from it.
	InputShape []int
	// Opset is the ai.onnx opset, MinOpset to MaxOpset. 0 means
	// DefaultOpset, or the lowest opset that expresses every quantizer
	// when one needs more (19 for FP8, 21 for INT4).
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

// value is a tensor of the graph under construction: its name, element
// type and shape, where layers.Batch stands for the symbolic batch
// dimension.
type value struct {
	name  string
	elem  onnx.DataType
	shape []int
}

// builder accumulates the graph.
type builder struct {
	opts  Options
	opset int64
	g     onnx.Graph
	used  map[string]bool // node and value names taken
	info  []value         // the node outputs, for value_info
}

// Model exports model, a tree of layers, to an ONNX model for inference:
// BatchNorm uses its running statistics and Dropout is left out, whatever
// the layers' training mode. The graph has one float input of shape
// [batch, opts.InputShape...] and one float output; the weights are
// initializers named as PyTorch names parameters ("features.0.weight"),
// and nodes are named as PyTorch's exporter names them
// ("/features/features.0/Conv"). See the package documentation for the
// layers and quantizers it exports and what it refuses.
//
// It returns an error for bad options, a layer it cannot export, a layer
// whose hyper-parameters or weights do not fit each other or the shape
// reaching it, and a quantizer ONNX cannot express; the error names the
// layer or quantizer by its hierarchical name.
func Model(model layers.Layer, opts Options) (*onnx.Model, error) {
	// Walk checks the tree: no nil layer, valid child names, no model
	// that contains itself.
	if err := layers.Walk(model, func(string, layers.Layer) error { return nil }); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if opts.InputName == "" {
		opts.InputName = "input"
	}
	if opts.OutputName == "" {
		opts.OutputName = "output"
	}
	if opts.BatchName == "" {
		opts.BatchName = "batch"
	}
	if opts.InputName == opts.OutputName {
		return nil, fmt.Errorf("export: input and output are both named %q", opts.InputName)
	}
	if len(opts.InputShape) == 0 {
		return nil, errors.New("export: Options.InputShape is empty: give the shape of one sample without the batch dimension")
	}
	for _, d := range opts.InputShape {
		if d < 1 {
			return nil, fmt.Errorf("export: Options.InputShape %v: every dimension must be at least 1", opts.InputShape)
		}
	}
	if opts.Weights != WeightsFloat && opts.Weights != WeightsQuantized {
		return nil, fmt.Errorf("export: unknown weight format %v", opts.Weights)
	}
	if opts.Bias != BiasFloat && opts.Bias != BiasInt32 {
		return nil, fmt.Errorf("export: unknown bias format %v", opts.Bias)
	}
	opset, err := chooseOpset(model, opts.Opset)
	if err != nil {
		return nil, err
	}
	ir, err := onnx.IRVersionForOpset(opset)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	b := &builder{opts: opts, opset: opset, used: map[string]bool{}}
	in := value{name: opts.InputName, elem: onnx.Float, shape: append([]int{layers.Batch}, opts.InputShape...)}
	b.used[in.name] = true
	out, err := b.layer("", "", model, in)
	if err != nil {
		return nil, err
	}
	if out.name == in.name {
		out = b.node("", "Identity", []string{in.name}, onnx.Float, in.shape)
	}
	b.rename(out.name, opts.OutputName)
	out.name = opts.OutputName
	b.g.Name = "tensorquant"
	b.g.Input = []onnx.ValueInfo{b.valueInfo(in)}
	b.g.Output = []onnx.ValueInfo{b.valueInfo(out)}
	for _, v := range b.info {
		if v.name != out.name {
			b.g.ValueInfo = append(b.g.ValueInfo, b.valueInfo(v))
		}
	}
	return &onnx.Model{
		IRVersion:    ir,
		ProducerName: "tensorquant",
		OpsetImport:  []onnx.OperatorSetID{{Version: opset}},
		Graph:        &b.g,
	}, nil
}

// WriteFile exports model (see Model) and writes it to path atomically
// (see onnx.WriteFile). It returns Model's and onnx.WriteFile's errors.
func WriteFile(path string, model layers.Layer, opts Options) error {
	m, err := Model(model, opts)
	if err != nil {
		return err
	}
	return onnx.WriteFile(path, m)
}

// chooseOpset returns the opset to export with: the requested one, or for
// 0 DefaultOpset raised to what the model's quantizers need.
func chooseOpset(model layers.Layer, requested int) (int64, error) {
	if requested == 0 {
		return int64(max(DefaultOpset, neededOpset(model))), nil
	}
	if requested < MinOpset || requested > MaxOpset {
		return 0, fmt.Errorf("export: opset %d is not supported (want %d to %d)", requested, MinOpset, MaxOpset)
	}
	return int64(requested), nil
}

// valueInfo returns the ValueInfo of v, with the batch dimension symbolic.
func (b *builder) valueInfo(v value) onnx.ValueInfo {
	dims := make([]onnx.Dimension, len(v.shape))
	for i, d := range v.shape {
		if d == layers.Batch {
			dims[i] = onnx.DimParam(b.opts.BatchName)
		} else {
			dims[i] = onnx.DimValue(int64(d))
		}
	}
	return onnx.TensorValueInfo(v.name, v.elem, dims...)
}

// unique returns name, or name_1, name_2 ... (PyTorch's scheme) when it is
// taken, and marks the result as taken.
func (b *builder) unique(name string) string {
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
func (b *builder) node(scope, op string, inputs []string, elem onnx.DataType, shape []int, attrs ...onnx.Attribute) value {
	name := b.unique(scope + "/" + op)
	out := value{name: b.unique(name + "_output_0"), elem: elem, shape: shape}
	b.g.Node = append(b.g.Node, onnx.NewNode(op, name, inputs, []string{out.name}, attrs...))
	b.info = append(b.info, out)
	return out
}

// constant appends a Constant node holding t (unnamed, as PyTorch writes
// them) in scope and returns its output.
func (b *builder) constant(scope string, t onnx.Tensor) value {
	name := b.unique(scope + "/Constant")
	shape := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		shape[i] = int(d)
	}
	out := value{name: b.unique(name + "_output_0"), elem: t.DataType, shape: shape}
	b.g.Node = append(b.g.Node, onnx.ConstantNode(name, out.name, t))
	b.info = append(b.info, out)
	return out
}

// initializer adds t as an initializer called name (made unique) and
// returns that name.
func (b *builder) initializer(name string, t onnx.Tensor) string {
	t.Name = b.unique(name)
	b.g.Initializer = append(b.g.Initializer, t)
	return t.Name
}

// rename renames the value from to to in every node.
func (b *builder) rename(from, to string) {
	for i := range b.g.Node {
		n := &b.g.Node[i]
		for j := range n.Input {
			if n.Input[j] == from {
				n.Input[j] = to
			}
		}
		for j := range n.Output {
			if n.Output[j] == from {
				n.Output[j] = to
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

// exportError is an error of the exporter, already naming the layer or
// quantizer: it passes through the layers that contain it unchanged.
type exportError struct{ msg string }

func (e *exportError) Error() string { return e.msg }

// errorf returns an error for layer l at path: "export: path repr: msg".
func errorf(path string, l layers.Layer, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if path == "" {
		return &exportError{fmt.Sprintf("export: %s: %s", l.String(), msg)}
	}
	return &exportError{fmt.Sprintf("export: %s %s: %s", path, l.String(), msg)}
}

// dims64 converts a shape to ONNX tensor dimensions.
func dims64(shape []int) []int64 {
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	return dims
}
