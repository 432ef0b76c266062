package layers

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// How a layer writes itself into a graph: each layer type says, next to
// its Forward and Backward, which ONNX nodes it is (Exporter), and
// containers say how their children's values flow (Builder.Apply, Chain,
// Node). graph.FromLayers implements Builder to make a model a graph,
// which onnx/export writes as an ONNX model.

// Value is a tensor of a graph under construction: its name in the graph
// and its shape, in which Batch stands for the symbolic batch dimension.
type Value struct {
	Name  string
	Shape []int
}

// Batch marks the symbolic batch dimension in a Value's shape.
const Batch = -1

// FormatShape formats a shape with its symbolic batch dimension:
// "[batch 3 8 8]".
func FormatShape(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		if d == Batch {
			parts[i] = "batch"
		} else {
			parts[i] = strconv.Itoa(d)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Builder receives the nodes of one layer of a model (its scope: the
// nodes it adds are named after the layer) and gives access to its
// children. Its methods append to the graph in call order.
type Builder interface {
	// Opset returns the ai.onnx opset of the graph, for layers whose best
	// form depends on it.
	Opset() int
	// Node appends a node of the ONNX operator op (attributes in the
	// order given) on inputs, whose one float output has the given shape,
	// and returns that output.
	Node(op string, inputs []Value, shape []int, attrs ...onnx.Attribute) Value
	// Constant appends a Constant node holding t and returns its output.
	Constant(t onnx.Tensor) Value
	// Param returns the value of the layer's parameter or buffer called
	// name, whose value is t: an initializer named after the layer
	// ("features.0.weight"), or, for the weight and bias of a quantized
	// layer, what quantizes them. It returns an error for a tensor the
	// graph cannot hold and for a quantization it cannot express.
	Param(name string, t *tensor.Tensor) (Value, error)
	// Apply writes the layer's child called name, applied to x, and
	// returns its output. It returns the child's errors.
	Apply(name string, child Layer, x Value) (Value, error)
	// Chain applies the children one after the other, each to the
	// previous one's output, starting from x (Sequential). A builder may
	// write two children as one node (a BatchNorm folded into the
	// convolution before it). It returns the children's errors.
	Chain(children []Named, x Value) (Value, error)
}

// Exporter is implemented by the layers that know how they are written
// into a graph: Export writes the layer applied to x to b and returns its
// output. It returns an error, which the builder attributes to the layer,
// for hyper-parameters, weights or an input shape that do not fit, or a
// form ONNX cannot express.
//
// A type that embeds an Exporter layer inherits its Export: a layer that
// computes something else must define its own (or be refused by an
// exporter that sees it does not implement Exporter).
type Exporter interface {
	Export(b Builder, x Value) (Value, error)
}

// BatchNormFolder is implemented by layers a BatchNorm that follows them
// can be folded into (the convolutions that are not transposed).
type BatchNormFolder interface {
	// FoldBatchNorm returns a layer that computes next(l(x)) in
	// inference (next using its running statistics) as one layer of l's
	// kind, and false when next is not a BatchNorm that fits l's output
	// or either layer's tensors do not fit their hyper-parameters.
	FoldBatchNorm(next Layer) (Layer, bool)
}

// checkTensor returns an error unless t is a valid tensor of the given
// shape; what names it.
func checkTensor(what string, t *tensor.Tensor, shape ...int) error {
	if t == nil {
		return fmt.Errorf("%s is nil", what)
	}
	if err := t.Validate(); err != nil {
		return fmt.Errorf("%s: %v", what, err)
	}
	if !slices.Equal(t.Shape, shape) {
		return fmt.Errorf("%s shape %v, want %v", what, t.Shape, shape)
	}
	return nil
}

// ints64 converts to the int64 lists of ONNX attributes.
func ints64(v ...[]int) []int64 {
	var out []int64
	for _, s := range v {
		for _, x := range s {
			out = append(out, int64(x))
		}
	}
	return out
}
