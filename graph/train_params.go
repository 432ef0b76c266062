package graph

import (
	"fmt"
	"slices"
	"sort"

	"github.com/tensorquant/tensorquant/onnx"
)

// Which values of a graph are trained, and how each is found: the
// parameters of a graph are its float initializers that a model trains in
// PyTorch, found by where they go.

// paramSource is one trainable parameter of a graph and where its value
// lives: a float initializer (init), the output of an Identity of one
// (identity: PyTorch's exporter writes equal parameters once and gives
// every other one an Identity of it; each is a parameter of its own), or
// integer codes whose DequantizeLinear (dq) gives the value.
type paramSource struct {
	name     string // the parameter: init, or the Identity's output
	init     string // the initializer that holds the value (or its codes)
	identity *Node
	dq       *Node
}

// weightInputs lists, per op type, the inputs that are weights or
// biases of a layer a model trains.
var weightInputs = map[string][]int{
	"Conv":               {1, 2},
	"ConvTranspose":      {1, 2},
	"Gemm":               {0, 1, 2},
	"MatMul":             {0, 1},
	"BatchNormalization": {1, 2},
	"LayerNormalization": {1, 2},
	// Element-wise parameters: the biases PyTorch exports as Add after a
	// MatMul, and the scale and shift of a LayerNorm exported as
	// arithmetic (before opset 17). A scalar (an epsilon, a constant
	// factor) is never a parameter: see paramSources.
	"Add": {0, 1},
	"Sub": {0, 1},
	"Mul": {0, 1},
}

// graphIndex is what paramSources needs of a graph: each value's
// producer and the constant values (initializers and Constant outputs).
type graphIndex struct {
	g        *Graph
	producer map[string]*Node
	consts   map[string]*Tensor
}

func indexGraph(g *Graph) (*graphIndex, error) {
	x := &graphIndex{g: g, producer: map[string]*Node{}, consts: map[string]*Tensor{}}
	for name, t := range g.Initializers {
		x.consts[name] = t
	}
	for _, in := range g.Inputs {
		delete(x.consts, in.Name)
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				x.producer[o] = n
			}
		}
		if n.OpType != "Constant" || normDomain(n.Domain) != "" || len(n.Outputs) != 1 {
			continue
		}
		op := n.Op
		if op == nil {
			var err error
			if op, err = buildOp(n, g.Opsets, nil); err != nil {
				return nil, nodeErr(n, err)
			}
		}
		if v, ok := op.(Valuer); ok {
			x.consts[n.Outputs[0]] = v.Value()
		}
	}
	return x, nil
}

// source returns the parameter that value v of node input traces back
// to, through Identity, Transpose and reshapes, and QuantizeLinear →
// DequantizeLinear pairs, or false when v is computed from something
// other than one float initializer (or one set of codes).
func (x *graphIndex) source(v string) (*paramSource, bool) {
	for range len(x.g.Nodes) + 1 {
		if t, ok := x.consts[v]; ok {
			_, isInit := x.g.Initializers[v]
			if t.DType != onnx.Float || !isInit {
				return nil, false
			}
			return &paramSource{name: v, init: v}, true
		}
		n := x.producer[v]
		if n == nil || normDomain(n.Domain) != "" {
			return nil, false
		}
		switch n.OpType {
		case "Identity":
			_, isInit := x.g.Initializers[n.Inputs[0]]
			if t, ok := x.consts[n.Inputs[0]]; ok && isInit && t.DType == onnx.Float {
				return &paramSource{name: v, init: n.Inputs[0], identity: n}, true
			}
			v = n.Inputs[0]
		case "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten":
			v = n.Inputs[0]
		case "DequantizeLinear":
			codes := n.Inputs[0]
			if q := x.producer[codes]; q != nil && q.OpType == "QuantizeLinear" && normDomain(q.Domain) == "" {
				v = q.Inputs[0]
				continue
			}
			t, isInit := x.g.Initializers[codes]
			if !isInit || t.DType == onnx.Float {
				return nil, false
			}
			for _, in := range n.Inputs[1:] {
				if _, ok := x.consts[in]; in != "" && !ok {
					return nil, false // a computed scale
				}
			}
			return &paramSource{name: codes, init: codes, dq: n}, true
		default:
			return nil, false
		}
	}
	return nil, false
}

// paramSources returns the trainable parameters of g, sorted by name:
// the float initializers (directly, or as codes with their
// DequantizeLinear) that are the weights and biases of Conv,
// ConvTranspose, Gemm and MatMul, the scale and B of
// BatchNormalization and LayerNormalization, and the operands of Add,
// Sub and Mul with more than one element (MatMul biases, the scale and
// shift of a LayerNorm written as arithmetic), reached through Identity,
// Transpose, reshapes and QuantizeLinear→DequantizeLinear pairs.
// Everything else is constant: shapes, scales and zero points,
// BatchNormalization's statistics, scalars. When names is not nil, it
// selects the parameters by name instead (an error names one that is not
// a float initializer, an Identity of one, or codes with a constant
// DequantizeLinear).
func paramSources(g *Graph, names []string) ([]*paramSource, error) {
	x, err := indexGraph(g)
	if err != nil {
		return nil, err
	}
	found := map[string]*paramSource{}
	if names != nil {
		// Any value that traces back to one initializer may be named.
		all := map[string]*paramSource{}
		for _, n := range g.Nodes {
			for _, in := range n.Inputs {
				if s, ok := x.source(in); ok {
					all[s.name] = s
				}
			}
		}
		for _, name := range names {
			s, ok := all[name]
			if !ok {
				return nil, fmt.Errorf("graph: %q is not a float initializer a node reads, an Identity of one, or codes of one", name)
			}
			found[name] = s
		}
	} else {
		for _, n := range g.Nodes {
			if normDomain(n.Domain) != "" {
				continue
			}
			for _, i := range weightInputs[n.OpType] {
				if i >= len(n.Inputs) || n.Inputs[i] == "" {
					continue
				}
				s, ok := x.source(n.Inputs[i])
				if !ok {
					continue
				}
				if slices.Contains([]string{"Add", "Sub", "Mul"}, n.OpType) && g.Initializers[s.init].Len() < 2 {
					continue
				}
				found[s.name] = s
			}
		}
	}
	out := make([]*paramSource, 0, len(found))
	for _, s := range found {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// DefaultParams returns the names of the parameters NewTrainer trains in
// g when TrainOptions.Params is nil, sorted: the float initializers
// (directly, through an Identity, or as integer codes with a constant
// DequantizeLinear) that are the weights and biases of Conv,
// ConvTranspose, Gemm and MatMul, the scale and B of BatchNormalization
// and LayerNormalization, and operands of Add, Sub and Mul with more than
// one element (biases added after a MatMul, a LayerNorm's scale and shift
// written as arithmetic); they may reach their node through Identity,
// Transpose, reshapes and QuantizeLinear→DequantizeLinear pairs. An
// Identity of an initializer is a parameter of its own, named by its
// output (PyTorch's exporter writes equal parameters once, the others as
// Identity nodes). It returns an error for a Constant node it cannot
// build.
func DefaultParams(g *Graph) ([]string, error) {
	src, err := paramSources(g, nil)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(src))
	for i, s := range src {
		names[i] = s.name
	}
	return names, nil
}
