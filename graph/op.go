package graph

import (
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/tensorquant/tensorquant/onnx"
)

// Op is the computation of one node.
//
// Infer checks what is known of the inputs before the graph runs and
// returns what is known of the outputs (one Info per node output): element
// types, shapes with symbolic dimensions, and, for shape arithmetic,
// Info.Elems. An absent optional input is nil. Infer must not return
// outputs with Const set: the graph folds constants itself, by calling Run
// when every input is constant.
//
// Run computes the outputs from the inputs (nil for an absent optional
// input); it allocates them through ctx, which lets the executor reuse
// buffers. Run must be safe for concurrent use by several goroutines: an
// Op keeps its attributes and weights, never per-run state. Inputs are
// read-only unless ctx.Reusable says otherwise, and an output must not
// share memory with an input unless ctx.Reusable allows it (a Reshape
// returns a view of its input only then, and copies otherwise): the
// executor's memory plan recycles buffers by owner.
//
// Both return errors for inputs the op cannot compute with, naming the
// offending type, shape or value; the graph prefixes the node's name.
type Op interface {
	Infer(in []*Info) ([]*Info, error)
	Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error)
}

// Valuer is implemented by ops whose single output is known when they are
// built (Constant): the importer hands the value to the builders of the
// nodes that read it, through NodeDef.Const.
type Valuer interface {
	Value() *Tensor
}

// NodeDef is what a Builder builds an Op from: an ONNX node and the opset
// version of its domain in the model.
type NodeDef struct {
	Name, OpType, Domain string
	// Opset is the version of the node's domain the model imports.
	Opset int
	// Attrs are the node's attributes; a Builder reads them through its
	// getters, and the importer refuses attributes nobody read.
	Attrs *Attrs
	// NumInputs and NumOutputs count the node's inputs and outputs,
	// absent optional inputs ("") included.
	NumInputs, NumOutputs int
	// Const holds, for each input, its value when it is known at load
	// (an initializer, a Constant, a folded value), else nil. Builders
	// may use it (a Conv's weight), but must not require it where ONNX
	// allows a computed input.
	Const []*Tensor
}

// Builder builds the Op of a node, or returns an error for attributes or
// an opset it does not support.
type Builder func(d *NodeDef) (Op, error)

type opKey struct{ domain, opType string }

var registry = struct {
	sync.RWMutex
	m map[opKey]Builder
}{m: map[opKey]Builder{}}

// Register makes the builder of op type opType in domain ("" is the
// default ONNX domain, also written "ai.onnx") known to the importer. It
// panics if the op type is registered twice: registration happens in
// init functions, where a duplicate is a programming error.
func Register(domain, opType string, b Builder) {
	k := opKey{normDomain(domain), opType}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[k]; dup {
		panic(fmt.Sprintf("graph: op %s registered twice", opType))
	}
	registry.m[k] = b
}

func normDomain(d string) string {
	if d == "ai.onnx" {
		return ""
	}
	return d
}

// lookup returns the builder of an op type.
func lookup(domain, opType string) (Builder, bool) {
	registry.RLock()
	defer registry.RUnlock()
	b, ok := registry.m[opKey{normDomain(domain), opType}]
	return b, ok
}

// OpTypes returns the registered op types of the default domain, sorted.
func OpTypes() []string {
	registry.RLock()
	defer registry.RUnlock()
	var out []string
	for k := range registry.m {
		if k.domain == "" {
			out = append(out, k.opType)
		}
	}
	sort.Strings(out)
	return out
}

// Attrs gives typed access to a node's attributes and remembers which
// were read, so that an attribute the op does not understand is an error
// rather than silently ignored.
type Attrs struct {
	list []onnx.Attribute
	read []bool
}

// NewAttrs wraps a node's attributes.
func NewAttrs(list []onnx.Attribute) *Attrs {
	return &Attrs{list: list, read: make([]bool, len(list))}
}

func (a *Attrs) find(name string, want onnx.AttributeType) (*onnx.Attribute, error) {
	for i := range a.list {
		if a.list[i].Name != name {
			continue
		}
		a.read[i] = true
		at := &a.list[i]
		if at.Type != want {
			return nil, fmt.Errorf("attribute %s is %v, want %v", name, at.Type, want)
		}
		return at, nil
	}
	return nil, nil
}

// Has reports whether the node has the attribute (and marks it read).
func (a *Attrs) Has(name string) bool {
	for i := range a.list {
		if a.list[i].Name == name {
			a.read[i] = true
			return true
		}
	}
	return false
}

// Int returns the INT attribute name, or def when it is absent. It returns
// an error when the attribute has another type.
func (a *Attrs) Int(name string, def int) (int, error) {
	at, err := a.find(name, onnx.AttrInt)
	if err != nil || at == nil {
		return def, err
	}
	return int(at.I), nil
}

// Float returns the FLOAT attribute name, or def when it is absent.
func (a *Attrs) Float(name string, def float32) (float32, error) {
	at, err := a.find(name, onnx.AttrFloat)
	if err != nil || at == nil {
		return def, err
	}
	return at.F, nil
}

// String returns the STRING attribute name, or def when it is absent.
func (a *Attrs) String(name, def string) (string, error) {
	at, err := a.find(name, onnx.AttrString)
	if err != nil || at == nil {
		return def, err
	}
	return string(at.S), nil
}

// Ints returns the INTS attribute name, or def when it is absent.
func (a *Attrs) Ints(name string, def []int) ([]int, error) {
	at, err := a.find(name, onnx.AttrInts)
	if err != nil || at == nil {
		return slices.Clone(def), err
	}
	out := make([]int, len(at.Ints))
	for i, v := range at.Ints {
		out[i] = int(v)
	}
	return out, nil
}

// Floats returns the FLOATS attribute name, or def when it is absent.
func (a *Attrs) Floats(name string, def []float32) ([]float32, error) {
	at, err := a.find(name, onnx.AttrFloats)
	if err != nil || at == nil {
		return slices.Clone(def), err
	}
	return slices.Clone(at.Floats), nil
}

// Tensor returns the TENSOR attribute name converted with TensorFromONNX, or
// nil when it is absent.
func (a *Attrs) Tensor(name string) (*Tensor, error) {
	at, err := a.find(name, onnx.AttrTensor)
	if err != nil || at == nil {
		return nil, err
	}
	if at.T == nil {
		return nil, fmt.Errorf("attribute %s has no tensor", name)
	}
	return TensorFromONNX(at.T)
}

// Unread returns the names of the attributes no getter asked for.
func (a *Attrs) Unread() []string {
	var out []string
	for i, r := range a.read {
		if !r {
			out = append(out, a.list[i].Name)
		}
	}
	return out
}
