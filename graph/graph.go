package graph

import (
	"errors"
	"fmt"
	"slices"

	"github.com/tensorquant/tensorquant/onnx"
)

// Node is one operation of a graph: an Op applied to named values.
type Node struct {
	// Name is the node's name in the ONNX file (or one the graph made
	// up, unique in the graph).
	Name string
	// OpType and Domain identify the operator ("Conv", "").
	OpType, Domain string
	// Inputs and Outputs name the values the node reads and writes; an
	// absent optional input is "".
	Inputs, Outputs []string
	// Attrs are the node's ONNX attributes, kept for export and for
	// describing the node.
	Attrs []onnx.Attribute
	// Op computes the node. When it is nil, Infer builds it from the
	// registry (Register), as the importer does.
	Op Op
}

// ValueSpec describes a graph input or output.
type ValueSpec struct {
	Name  string
	DType onnx.DataType
	Shape []Dim
}

// Graph is a model as a directed acyclic graph of nodes that read and
// write named values. The values are the graph inputs, the initializers
// (constant tensors: weights, shapes) and the node outputs; every value
// has exactly one producer.
//
// Build one with the importer (Import, ImportFile), from a layers model
// (FromLayers) or by hand, then call Infer once before running it
// (NewSession does if needed).
type Graph struct {
	Name string
	// Opsets maps each imported domain ("" for ONNX) to its version.
	Opsets map[string]int
	// Inputs are the values the caller provides at run time.
	Inputs []ValueSpec
	// Outputs are the values a run returns, in order.
	Outputs []ValueSpec
	// Initializers are the constant values by name.
	Initializers map[string]*Tensor
	// Nodes in topological order after Infer.
	Nodes []*Node
	// ValueInfo declares the types of intermediate values, in order
	// (ONNX's value_info: what the imported model declared, or what
	// FromLayers knows); an ONNX writer writes those of the values nodes
	// compute. Infer does not need it.
	ValueInfo []ValueSpec

	infos map[string]*Info
	int8  []Int8Node // what the int8 pass did (Session.Int8Nodes)
}

// nodeErr prefixes an error with the node's name and op type.
func nodeErr(n *Node, err error) error {
	return fmt.Errorf("graph: node %q (%s): %w", n.Name, n.OpType, err)
}

// Info returns what inference knows of the value called name, or nil
// before Infer or for an unknown name.
func (g *Graph) Info(name string) *Info { return g.infos[name] }

// Infer prepares the graph to run. It checks that every value has one
// producer and every node input exists, sorts the nodes topologically,
// infers the element type and shape of every value (symbolic dimensions
// included) and folds constants: a node whose inputs are all constant is
// run once, here, and its outputs become initializers, as long as the
// folded values stay within a bound (MinFoldLimit, FoldFactor); beyond
// it a node stays in the graph. Initializers no node or output uses any
// longer are dropped.
//
// A node without an Op gets one from the registry, built with the
// constant values of its inputs; the graph's unsupported op types are
// refused first, all at once (*UnsupportedError).
//
// It returns an error naming the node for a cycle, a missing or doubly
// produced value, an op that cannot be built, and what an Op's Infer or
// Run rejects.
func (g *Graph) Infer() error {
	if err := unsupportedNodes(g.Nodes); err != nil {
		return err
	}
	infos := map[string]*Info{}
	producer := map[string]*Node{}
	for _, in := range g.Inputs {
		if in.Name == "" {
			return fmt.Errorf("graph: an input has no name")
		}
		if _, dup := infos[in.Name]; dup {
			return fmt.Errorf("graph: input %q is declared twice", in.Name)
		}
		if !Supported(in.DType) {
			return fmt.Errorf("graph: input %q has element type %v, which is not supported", in.Name, in.DType)
		}
		infos[in.Name] = &Info{DType: in.DType, Shape: slices.Clone(in.Shape)}
	}
	for name, t := range g.Initializers {
		if _, dup := infos[name]; dup {
			// ONNX allows an input to be overridden by an initializer of
			// the same name (a default); the input wins at run time, so
			// the value is not constant.
			continue
		}
		if err := t.Validate(); err != nil {
			return fmt.Errorf("graph: initializer %q: %w", name, err)
		}
		infos[name] = InfoOf(t)
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			if _, dup := infos[o]; dup {
				return fmt.Errorf("graph: node %q (%s) writes %q, which is already a graph input or initializer", n.Name, n.OpType, o)
			}
			if p, dup := producer[o]; dup {
				return fmt.Errorf("graph: nodes %q and %q both write %q", p.Name, n.Name, o)
			}
			producer[o] = n
		}
	}
	order, err := topoSort(g.Nodes, producer, infos)
	if err != nil {
		return err
	}
	fold := newCtx(nil, 1)
	fold.limit = foldLimit(g.Initializers)
	var kept []*Node
	for _, n := range order {
		in := make([]*Info, len(n.Inputs))
		allConst := true
		for i, name := range n.Inputs {
			if name == "" {
				continue
			}
			in[i] = infos[name]
			if in[i].Const == nil {
				allConst = false
			}
		}
		if n.Op == nil {
			consts := make([]*Tensor, len(in))
			for i, info := range in {
				if info != nil {
					consts[i] = info.Const
				}
			}
			if n.Op, err = buildOp(n, g.Opsets, consts); err != nil {
				return nodeErr(n, err)
			}
		}
		out, err := n.Op.Infer(in)
		if err != nil {
			return nodeErr(n, err)
		}
		if len(out) != len(n.Outputs) {
			return nodeErr(n, fmt.Errorf("the op infers %d outputs, the node has %d", len(out), len(n.Outputs)))
		}
		if !allConst && foldElems(n, out) {
			// Shape arithmetic on static shapes: every output's
			// elements are known, so the node folds too.
			for i, o := range n.Outputs {
				if o != "" {
					infos[o] = out[i]
				}
			}
			continue
		}
		if allConst {
			vals := make([]*Tensor, len(n.Inputs))
			for i, info := range in {
				if info != nil {
					vals[i] = info.Const
				}
			}
			res, err := n.Op.Run(fold, vals)
			switch {
			case errors.Is(err, ErrMemoryLimit):
				// Too large to keep: the node runs with the graph.
				allConst = false
			case err != nil:
				return nodeErr(n, err)
			default:
				if err := checkOutputs(out, res); err != nil {
					return nodeErr(n, err)
				}
				for i, o := range n.Outputs {
					if o != "" {
						out[i] = InfoOf(res[i])
					}
				}
				noteDequantized(n, in, vals, out)
			}
		}
		for i, o := range n.Outputs {
			if o != "" {
				infos[o] = out[i]
			}
		}
		if !allConst {
			kept = append(kept, n)
		}
	}
	for i, o := range g.Outputs {
		info, ok := infos[o.Name]
		if !ok {
			return fmt.Errorf("graph: output %q is not computed by any node", o.Name)
		}
		g.Outputs[i].DType = info.DType
		if len(o.Shape) == 0 || len(o.Shape) != len(info.Shape) {
			g.Outputs[i].Shape = slices.Clone(info.Shape)
		}
	}
	g.Nodes = kept
	g.infos = infos
	g.pruneConstants()
	return nil
}

// The values constant folding computes may take, all together, no more
// than FoldFactor times the bytes of the graph's initializers, or
// MinFoldLimit bytes if that is more: a node whose folding would go
// beyond is not folded but runs with the graph (under the run's memory
// bound, Options.MaxMemory), so that a small model cannot make its
// loading allocate without limit.
const (
	MinFoldLimit = 16 << 20
	FoldFactor   = 8
)

// foldLimit returns the bound of the bytes constant folding may compute.
func foldLimit(init map[string]*Tensor) int64 {
	var n int64
	for _, t := range init {
		n += t.bytes()
	}
	return max(MinFoldLimit, FoldFactor*n)
}

// foldElems reports whether every output of n is a small integer value
// whose elements inference knows (Info.Elems), and if so makes them the
// outputs' constant values.
func foldElems(n *Node, out []*Info) bool {
	vals := make([]*Tensor, len(out))
	for i, info := range out {
		if n.Outputs[i] == "" {
			continue
		}
		if info == nil || info.Elems == nil || info.Rank() > 1 {
			return false
		}
		shape := []int{}
		if info.Rank() == 1 {
			shape = []int{len(info.Elems)}
		}
		t, err := New(info.DType, shape...)
		if err != nil || t.Len() != len(info.Elems) {
			return false
		}
		for j, e := range info.Elems {
			if !e.Known {
				return false
			}
			switch info.DType {
			case onnx.Int64:
				t.I64[j] = int64(e.Value)
			case onnx.Int32:
				t.I32[j] = int32(e.Value)
			case onnx.Int8:
				t.I8[j] = int8(e.Value)
			case onnx.Uint8, onnx.Bool:
				t.U8[j] = uint8(e.Value)
			default:
				return false
			}
		}
		vals[i] = t
	}
	for i, t := range vals {
		if t != nil {
			out[i] = InfoOf(t)
		}
	}
	return true
}

// pruneConstants turns the constant values that nodes still read, or that
// are outputs, into initializers, and drops the rest.
func (g *Graph) pruneConstants() {
	used := map[string]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			used[in] = true
		}
	}
	for _, o := range g.Outputs {
		used[o.Name] = true
	}
	inputs := map[string]bool{}
	for _, in := range g.Inputs {
		inputs[in.Name] = true
	}
	init := map[string]*Tensor{}
	for name, info := range g.infos {
		if info.Const != nil && used[name] && !inputs[name] {
			init[name] = info.Const
		}
	}
	g.Initializers = init
}

// topoSort orders nodes so that every node comes after the producers of
// its inputs, keeping the file's order where it is already valid.
func topoSort(nodes []*Node, producer map[string]*Node, known map[string]*Info) ([]*Node, error) {
	const (
		unvisited = iota
		active
		done
	)
	state := map[*Node]int{}
	var order []*Node
	var visit func(n *Node) error
	visit = func(n *Node) error {
		switch state[n] {
		case done:
			return nil
		case active:
			return fmt.Errorf("graph: node %q (%s) is part of a cycle", n.Name, n.OpType)
		}
		state[n] = active
		for _, in := range n.Inputs {
			if in == "" {
				continue
			}
			if p, ok := producer[in]; ok {
				if err := visit(p); err != nil {
					return err
				}
			} else if _, ok := known[in]; !ok {
				return fmt.Errorf("graph: node %q (%s) reads %q, which no node, input or initializer provides", n.Name, n.OpType, in)
			}
		}
		state[n] = done
		order = append(order, n)
		return nil
	}
	for _, n := range nodes {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// checkOutputs checks that an op's Run returned what its Infer promised:
// one tensor per output, of the inferred type, rank and known sizes.
func checkOutputs(want []*Info, got []*Tensor) error {
	if len(got) != len(want) {
		return fmt.Errorf("the op returned %d outputs, want %d", len(got), len(want))
	}
	for i, t := range got {
		w := want[i]
		if w == nil {
			continue
		}
		if t == nil {
			return fmt.Errorf("output %d is nil", i)
		}
		if err := t.Validate(); err != nil {
			return fmt.Errorf("output %d: %w", i, err)
		}
		if t.DType != w.DType || len(t.Shape) != len(w.Shape) {
			return fmt.Errorf("output %d is %v, inferred %v", i, t, w)
		}
		for j, d := range w.Shape {
			if d.Known() && d.Size != t.Shape[j] {
				return fmt.Errorf("output %d is %v, inferred %v", i, t, w)
			}
		}
	}
	return nil
}
