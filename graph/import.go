package graph

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tensorquant/tensorquant/onnx"
)

// UnsupportedError is returned by Import for a model that uses op types
// the graph package does not implement: it lists every such op type once,
// with the name of its first node.
type UnsupportedError struct {
	// Ops maps each unsupported op type (with its domain, if not ONNX's:
	// "com.microsoft.FusedConv") to the name of its first node.
	Ops map[string]string
}

// Error lists the unsupported op types, sorted.
func (e *UnsupportedError) Error() string {
	types := make([]string, 0, len(e.Ops))
	for t := range e.Ops {
		types = append(types, t)
	}
	sort.Strings(types)
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = fmt.Sprintf("%s (first node %q)", t, e.Ops[t])
	}
	return fmt.Sprintf("graph: %d unsupported op type(s): %s", len(types), strings.Join(parts, ", "))
}

// Import converts a decoded ONNX model into a Graph and prepares it
// (Infer). Every node's op is built from its attributes; the graph inputs
// are the model's inputs that are not initializers.
//
// It returns an *UnsupportedError listing every unsupported op type at
// once, and otherwise the first error: a missing graph, an unsupported
// element type or opset, a node whose attributes its op rejects (or has
// attributes it does not know), and the errors of Infer.
func Import(m *onnx.Model) (*Graph, error) {
	if m == nil || m.Graph == nil {
		return nil, fmt.Errorf("graph: the model has no graph")
	}
	g := &Graph{Name: m.Graph.Name, Opsets: map[string]int{}, Initializers: map[string]*Tensor{}}
	for _, o := range m.OpsetImport {
		g.Opsets[normDomain(o.Domain)] = int(o.Version)
	}
	if _, ok := g.Opsets[""]; !ok {
		return nil, fmt.Errorf("graph: the model imports no ONNX opset")
	}
	for i := range m.Graph.Initializer {
		t := &m.Graph.Initializer[i]
		if t.Name == "" {
			return nil, fmt.Errorf("graph: initializer %d has no name", i)
		}
		if _, dup := g.Initializers[t.Name]; dup {
			return nil, fmt.Errorf("graph: initializer %q is defined twice", t.Name)
		}
		x, err := TensorFromONNX(t)
		if err != nil {
			return nil, err
		}
		g.Initializers[t.Name] = x
	}
	for _, vi := range m.Graph.Input {
		if _, isInit := g.Initializers[vi.Name]; isInit {
			continue
		}
		spec, err := valueSpec(vi)
		if err != nil {
			return nil, fmt.Errorf("graph: input %q: %w", vi.Name, err)
		}
		g.Inputs = append(g.Inputs, spec)
	}
	for _, vi := range m.Graph.Output {
		spec, err := valueSpec(vi)
		if err != nil {
			// An output's type may be left to inference.
			spec = ValueSpec{Name: vi.Name}
		}
		g.Outputs = append(g.Outputs, spec)
	}
	unsupported := map[string]string{}
	names := map[string]bool{}
	consts := map[string]*Tensor{}
	for name, t := range g.Initializers {
		consts[name] = t
	}
	for i := range m.Graph.Node {
		n := &m.Graph.Node[i]
		name := n.Name
		if name == "" || names[name] {
			name = fmt.Sprintf("%s_%d", n.OpType, i)
		}
		names[name] = true
		b, ok := lookup(n.Domain, n.OpType)
		if !ok {
			key := n.OpType
			if d := normDomain(n.Domain); d != "" {
				key = d + "." + n.OpType
			}
			if _, seen := unsupported[key]; !seen {
				unsupported[key] = name
			}
			continue
		}
		opset, ok := g.Opsets[normDomain(n.Domain)]
		if !ok {
			return nil, fmt.Errorf("graph: node %q (%s): the model imports no opset for domain %q", name, n.OpType, n.Domain)
		}
		def := &NodeDef{Name: name, OpType: n.OpType, Domain: normDomain(n.Domain), Opset: opset,
			Attrs: NewAttrs(n.Attribute), NumInputs: len(n.Input), NumOutputs: len(n.Output),
			Const: make([]*Tensor, len(n.Input))}
		for j, in := range n.Input {
			def.Const[j] = consts[in]
		}
		op, err := b(def)
		if err != nil {
			return nil, fmt.Errorf("graph: node %q (%s): %w", name, n.OpType, err)
		}
		if unread := def.Attrs.Unread(); len(unread) > 0 {
			return nil, fmt.Errorf("graph: node %q (%s): unsupported attribute(s) %s", name, n.OpType, strings.Join(unread, ", "))
		}
		node := &Node{Name: name, OpType: n.OpType, Domain: def.Domain,
			Inputs: append([]string{}, n.Input...), Outputs: append([]string{}, n.Output...),
			Attrs: n.Attribute, Op: op}
		g.Nodes = append(g.Nodes, node)
		if c, ok := op.(Valuer); ok && len(node.Outputs) == 1 {
			consts[node.Outputs[0]] = c.Value()
		}
	}
	if len(unsupported) > 0 {
		return nil, &UnsupportedError{Ops: unsupported}
	}
	if err := g.Infer(); err != nil {
		return nil, err
	}
	return g, nil
}

// valueSpec converts a graph input or output's declared type.
func valueSpec(vi onnx.ValueInfo) (ValueSpec, error) {
	if vi.Type == nil || vi.Type.Tensor == nil {
		return ValueSpec{}, fmt.Errorf("not a tensor")
	}
	tt := vi.Type.Tensor
	if !Supported(tt.ElemType) {
		return ValueSpec{}, fmt.Errorf("element type %v is not supported", tt.ElemType)
	}
	spec := ValueSpec{Name: vi.Name, DType: tt.ElemType}
	if tt.Shape == nil {
		return ValueSpec{}, fmt.Errorf("no shape (unknown rank)")
	}
	for _, d := range tt.Shape.Dim {
		switch {
		case d.Param != "":
			spec.Shape = append(spec.Shape, Dim{Size: -1, Param: d.Param})
		case d.Value > 0:
			spec.Shape = append(spec.Shape, Dim{Size: int(d.Value)})
		default:
			spec.Shape = append(spec.Shape, Unknown())
		}
	}
	return spec, nil
}
