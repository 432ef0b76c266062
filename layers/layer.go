package layers

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tensorquant/tensorquant/tensor"
)

// Layer is one differentiable module of a model.
//
// Forward computes the output for a batch and remembers what Backward
// needs; Backward takes the gradient of the loss with respect to that
// output, adds the gradients of the layer's parameters to their Grad
// tensors (so ZeroGrad must run between steps) and returns the gradient with
// respect to the input. Backward refers to the most recent Forward, so a
// layer instance must appear only once in a model, and a model must not be
// run by two goroutines at once (the GEMM underneath already uses every
// core for large layers).
//
// Errors from Forward and Backward are *Error values that name the layer by
// its hierarchical name in the model (see Error).
type Layer interface {
	Forward(x *tensor.Tensor) (*tensor.Tensor, error)
	Backward(dy *tensor.Tensor) (*tensor.Tensor, error)
	// Params returns the layer's own parameters (not those of its
	// children), named as in PyTorch ("weight", "bias").
	Params() []Param
	// Kind is the PyTorch class name: "Conv2d", "ReLU", "Sequential" ...
	Kind() string
	// String is the PyTorch repr of the layer without its children, for
	// example "Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1))".
	String() string
}

// Param is one trainable tensor of a layer and its gradient (same shape),
// which Backward accumulates into.
type Param struct {
	// Name is "weight", "bias" ... in Layer.Params, and the hierarchical
	// name ("features.0.weight") in NamedParams.
	Name  string
	Value *tensor.Tensor
	Grad  *tensor.Tensor
}

// Weighted is implemented by layers with a weight that can be replaced
// for one pass, which is how a quantized layer (Quant) runs its float
// layer on a quantized copy of the weight, and whose weight and bias an
// exporter can tell from other parameters: Conv*, ConvTranspose*, Linear,
// MatMul.
type Weighted interface {
	Layer
	// WeightInfo returns the weight and bias parameters (those of Params)
	// and the weight's axis of output channels.
	WeightInfo() WeightInfo
	// ForwardWeight is Forward with w, shaped like the weight, in its
	// place. It returns Forward's errors.
	ForwardWeight(x, w *tensor.Tensor) (*tensor.Tensor, error)
	// BackwardWeight is Backward after ForwardWeight (or Forward), except
	// that the gradient with respect to the weight used is added to dw,
	// which has as many elements, instead of the weight's Grad. It
	// returns Backward's errors and an error for a dw of another size.
	BackwardWeight(dy, dw *tensor.Tensor) (*tensor.Tensor, error)
}

// WeightInfo describes the weight and bias of a Weighted layer.
type WeightInfo struct {
	// Weight is the weight parameter.
	Weight Param
	// Axis is the weight's axis of output channels: 0 for Conv ([out,
	// in/groups, k...]) and Linear ([out, in]), 1 for ConvTranspose ([in,
	// out/groups, k...]) and MatMul ([in, out]). A per-channel weight
	// quantizer keeps one amax along it.
	Axis int
	// Bias is the bias parameter, one value per output channel; its Value
	// is nil for a layer without bias.
	Bias Param
}

// weightInfo returns the WeightInfo of the parameters "weight" (w, its
// gradient *wg) and, when b is not nil, "bias" (b, *bg); see gradOf.
func weightInfo(w *tensor.Tensor, wg **tensor.Tensor, b *tensor.Tensor, bg **tensor.Tensor, axis int) WeightInfo {
	info := WeightInfo{Weight: Param{Name: "weight", Value: w, Grad: gradOf(w, wg)}, Axis: axis}
	if b != nil {
		info.Bias = Param{Name: "bias", Value: b, Grad: gradOf(b, bg)}
	}
	return info
}

// params returns the weight and, when there is one, the bias.
func (w WeightInfo) params() []Param {
	if w.Bias.Value == nil {
		return []Param{w.Weight}
	}
	return []Param{w.Weight, w.Bias}
}

// Named is a layer with its name: a child's name within its parent in
// Parent.Children, the hierarchical name in NamedLayers.
type Named struct {
	Name  string
	Layer Layer
}

// Parent is implemented by layers that contain other layers: Sequential,
// Residual, and the quantized layers (whose quantizers are children). The
// walker (Walk, NamedLayers, NamedParams ...) discovers sub-modules through
// it. Child names must be non-empty and must not contain a dot.
type Parent interface {
	Children() []Named
}

// Container is a Parent whose children can be replaced by name, which is
// how a model-wide replacement swaps layers in place.
type Container interface {
	Parent
	// SetChild replaces the child called name. It returns an error if
	// there is no such child or l is nil.
	SetChild(name string, l Layer) error
}

// Trainer is implemented by layers whose forward pass differs between
// training and evaluation (BatchNorm, Dropout). New layers start in
// training mode, as in PyTorch; SetTraining switches a whole model.
type Trainer interface {
	SetTraining(training bool)
	Training() bool
}

// Stateful is implemented by layers that keep tensors which are not
// trained by gradient but belong in a checkpoint: BatchNorm's running
// statistics, a quantizer's amax.
type Stateful interface {
	// State returns the layer's buffers by local name, in a fixed order.
	// A buffer that is not set yet (a nil tensor) is left out.
	State() []NamedTensor
	// SetState replaces the buffer called name with a copy of t. It
	// returns an error for an unknown name or a shape the layer cannot
	// use.
	SetState(name string, t *tensor.Tensor) error
}

// OptionalBuffers is implemented by Stateful layers that accept, in
// SetState, buffers they do not hold yet (a quantizer with a dynamic amax
// takes an "amax" and becomes static), so that a loader may set them.
type OptionalBuffers interface {
	// OptionalBuffers returns the local names of the buffers the layer
	// does not hold but accepts.
	OptionalBuffers() []string
}

// NamedTensor is a tensor with its (local or hierarchical) name.
type NamedTensor struct {
	Name   string
	Tensor *tensor.Tensor
}

// Error is the error every layer returns for bad input: it names the layer
// by its hierarchical name in the model (Path, "" for the model itself),
// its repr (Layer), and what was wrong (Err), for example
//
//	layers: features.0 Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1)): input shape [4 3 8 8]: has 3 channels, want 1
//
// Containers prefix Path with the child's name as the error passes up, so
// the name is right however the model was assembled.
type Error struct {
	Path  string
	Layer string
	Err   error
}

// Error formats the error as shown in the type's documentation.
func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("layers: %s: %v", e.Layer, e.Err)
	}
	return fmt.Sprintf("layers: %s %s: %v", e.Path, e.Layer, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// errorf returns an *Error for layer l.
func errorf(l Layer, format string, args ...any) error {
	return &Error{Layer: l.String(), Err: fmt.Errorf(format, args...)}
}

// inChild prefixes the path of an *Error coming out of the child called
// name; other errors are wrapped into an *Error for that child.
func inChild(name string, child Layer, err error) error {
	if err == nil {
		return nil
	}
	var le *Error
	if errors.As(err, &le) {
		if le.Path == "" {
			le.Path = name
		} else {
			le.Path = name + "." + le.Path
		}
		return err
	}
	return &Error{Path: name, Layer: child.String(), Err: err}
}

// Walk calls fn for root and then, depth first in order, for every layer
// below it, with its hierarchical name: "" for root, then PyTorch's dotted
// names ("features", "features.0", "features.0.input_quantizer"). It stops
// at and returns the first error fn returns, and returns an error for a nil
// root, a child with an empty name, a name containing a dot, a nil layer, or
// nesting deeper than 1000 levels (a model that contains itself).
func Walk(root Layer, fn func(name string, l Layer) error) error {
	if root == nil {
		return fmt.Errorf("layers: nil model")
	}
	return walk("", root, fn, 0)
}

// maxDepth bounds the nesting of a model, so that a model that contains
// itself gives an error instead of exhausting the stack.
const maxDepth = 1000

func walk(name string, l Layer, fn func(string, Layer) error, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("layers: %q is nested more than %d levels deep (does the model contain itself?)", name, maxDepth)
	}
	if err := fn(name, l); err != nil {
		return err
	}
	p, ok := l.(Parent)
	if !ok {
		return nil
	}
	for _, c := range p.Children() {
		full := joinName(name, c.Name)
		if c.Name == "" || strings.Contains(c.Name, ".") {
			return fmt.Errorf("layers: %q %s has a child named %q", name, l.Kind(), c.Name)
		}
		if c.Layer == nil {
			return fmt.Errorf("layers: %q is a nil layer", full)
		}
		if err := walk(full, c.Layer, fn, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func joinName(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// NamedLayers returns root and every layer below it with their hierarchical
// names, in the order of Walk (PyTorch's named_modules).
func NamedLayers(root Layer) ([]Named, error) {
	var out []Named
	err := Walk(root, func(name string, l Layer) error {
		out = append(out, Named{Name: name, Layer: l})
		return nil
	})
	return out, err
}

// Find returns the layer with the given hierarchical name ("" is root), or
// an error naming it if there is none.
func Find(root Layer, name string) (Layer, error) {
	var found Layer
	err := Walk(root, func(n string, l Layer) error {
		if n == name {
			found = l
			return errStop
		}
		return nil
	})
	if found != nil {
		return found, nil
	}
	if err != nil && err != errStop {
		return nil, err
	}
	return nil, fmt.Errorf("layers: no layer named %q", name)
}

var errStop = errors.New("stop")

// NamedParams returns every parameter of the model with its hierarchical
// name ("features.0.weight"), in the order of Walk (PyTorch's
// named_parameters).
func NamedParams(root Layer) ([]Param, error) {
	var out []Param
	err := Walk(root, func(name string, l Layer) error {
		for _, p := range l.Params() {
			p.Name = joinName(name, p.Name)
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// ZeroGrad sets every parameter gradient of the model to zero.
func ZeroGrad(root Layer) error {
	return Walk(root, func(_ string, l Layer) error {
		for _, p := range l.Params() {
			clear(p.Grad.Data)
		}
		return nil
	})
}

// SetTraining puts every layer of the model that implements Trainer into
// training (true) or evaluation (false) mode, like PyTorch's train() and
// eval().
func SetTraining(root Layer, training bool) error {
	return Walk(root, func(_ string, l Layer) error {
		if t, ok := l.(Trainer); ok {
			t.SetTraining(training)
		}
		return nil
	})
}

// Describe returns PyTorch's multi-line repr of the model: each layer's
// String, with its children indented below it as "(name): ...".
func Describe(root Layer) string {
	var b strings.Builder
	describe(&b, root, 0)
	return b.String()
}

func describe(b *strings.Builder, l Layer, depth int) {
	p, ok := l.(Parent)
	var kids []Named
	if ok {
		kids = p.Children()
	}
	s := l.String()
	if len(kids) == 0 {
		b.WriteString(s)
		return
	}
	// A layer with children prints "Kind(", its own fields on a line of
	// their own, the children, then ")".
	open := strings.Index(s, "(")
	if open < 0 || !strings.HasSuffix(s, ")") {
		open = len(s)
		s += "()"
	}
	indent := "\n" + strings.Repeat("  ", depth+1)
	b.WriteString(s[:open+1])
	if extra := s[open+1 : len(s)-1]; extra != "" {
		b.WriteString(indent + extra)
	}
	for _, c := range kids {
		b.WriteString(indent + "(" + c.Name + "): ")
		if c.Layer == nil {
			b.WriteString("None")
			continue
		}
		describe(b, c.Layer, depth+1)
	}
	b.WriteString("\n" + strings.Repeat("  ", depth) + ")")
}
