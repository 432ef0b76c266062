package graph

import (
	"fmt"
	"path/filepath"
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
//
// A tensor that keeps its data in an external file (onnx.Tensor.External)
// is refused: ImportFile reads those, relative to the model's file.
func Import(m *onnx.Model) (*Graph, error) {
	return prepared(importFrom(m, ""))
}

// ImportFile reads the ONNX model in path and imports it (Import). The
// model is read as onnx.ReadFile reads it (a regular file, no more than
// its size); the data of external tensors, initializers and TENSOR
// attributes, is read from the files the model names, relative to path's
// directory and only inside it, within the bounds of each file
// (onnx.ReadExternalData). An initializer's data is converted as it is
// read, so that a large model is held once, not twice.
//
// It returns the errors of onnx.ReadFile, onnx.ReadExternalData and
// Import.
func ImportFile(path string) (*Graph, error) {
	m, err := onnx.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return prepared(importFrom(m, filepath.Dir(path)))
}

// ImportRaw converts a decoded ONNX model into a Graph as Import does,
// every node's op built and checked, but does not prepare it: the graph is
// the model's, node for node, with nothing folded (Infer, which NewSession
// and NewTrainer call on their own copy or on the graph, does that). It
// is the form to train (NewTrainer: constant folding would turn a
// weight's QuantizeLinear/DequantizeLinear pair into a constant) and to
// edit and write back (onnx/export.Graph) with the model's structure.
//
// It returns the errors of Import other than Infer's.
func ImportRaw(m *onnx.Model) (*Graph, error) {
	return importFrom(m, "")
}

// ImportFileRaw is ImportFile without Infer: see ImportRaw. It returns the
// errors of onnx.ReadFile, onnx.ReadExternalData and ImportRaw.
func ImportFileRaw(path string) (*Graph, error) {
	m, err := onnx.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return importFrom(m, filepath.Dir(path))
}

// prepared calls Infer on an imported graph.
func prepared(g *Graph, err error) (*Graph, error) {
	if err != nil {
		return nil, err
	}
	if err := g.Infer(); err != nil {
		return nil, err
	}
	return g, nil
}

// importFrom is ImportRaw, reading external data from dir ("": refused).
// It may replace external attribute tensors of m with loaded ones.
func importFrom(m *onnx.Model, dir string) (*Graph, error) {
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
	if err := Unsupported(m); err != nil {
		return nil, err
	}
	for i := range m.Graph.Initializer {
		t := &m.Graph.Initializer[i]
		if t.Name == "" {
			return nil, fmt.Errorf("graph: initializer %d has no name", i)
		}
		if _, dup := g.Initializers[t.Name]; dup {
			return nil, fmt.Errorf("graph: initializer %q is defined twice", t.Name)
		}
		t, err := inline(t, dir)
		if err != nil {
			return nil, err
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
	for _, vi := range m.Graph.ValueInfo {
		if spec, err := valueSpec(vi); err == nil {
			g.ValueInfo = append(g.ValueInfo, spec)
		}
	}
	consts := map[string]*Tensor{}
	for name, t := range g.Initializers {
		consts[name] = t
	}
	names := nodeNames(m.Graph)
	for i := range m.Graph.Node {
		n := &m.Graph.Node[i]
		name := names[i]
		for k := range n.Attribute {
			a := &n.Attribute[k]
			if a.T == nil || dir == "" {
				continue
			}
			var err error
			if a.T, err = inline(a.T, dir); err != nil {
				return nil, fmt.Errorf("graph: node %q (%s): attribute %s: %w", name, n.OpType, a.Name, err)
			}
		}
		node := &Node{Name: name, OpType: n.OpType, Domain: normDomain(n.Domain),
			Inputs: append([]string{}, n.Input...), Outputs: append([]string{}, n.Output...),
			Attrs: n.Attribute}
		in := make([]*Tensor, len(n.Input))
		for j, name := range n.Input {
			in[j] = consts[name]
		}
		var err error
		if node.Op, err = buildOp(node, g.Opsets, in); err != nil {
			return nil, nodeErr(node, err)
		}
		g.Nodes = append(g.Nodes, node)
		if c, ok := node.Op.(Valuer); ok && len(node.Outputs) == 1 {
			consts[node.Outputs[0]] = c.Value()
		}
	}
	return g, nil
}

// Unsupported returns an *UnsupportedError that lists every op type of m
// with no registered builder, each with the name of its first node (as
// Import names nodes), or nil when every op type is known (or m has no
// graph). Import returns this error before it reads any tensor.
func Unsupported(m *onnx.Model) error {
	if m == nil || m.Graph == nil {
		return nil
	}
	names := nodeNames(m.Graph)
	nodes := make([]*Node, len(m.Graph.Node))
	for i, n := range m.Graph.Node {
		nodes[i] = &Node{Name: names[i], OpType: n.OpType, Domain: n.Domain}
	}
	return unsupportedNodes(nodes)
}

// unsupportedNodes returns an *UnsupportedError listing the op types of
// the nodes without an Op that have no registered builder, or nil.
func unsupportedNodes(nodes []*Node) error {
	unsupported := map[string]string{}
	for _, n := range nodes {
		if n.Op != nil {
			continue
		}
		if _, ok := lookup(n.Domain, n.OpType); ok {
			continue
		}
		key := n.OpType
		if d := normDomain(n.Domain); d != "" {
			key = d + "." + n.OpType
		}
		if _, seen := unsupported[key]; !seen {
			unsupported[key] = n.Name
		}
	}
	if len(unsupported) > 0 {
		return &UnsupportedError{Ops: unsupported}
	}
	return nil
}

// buildOp builds the Op of node n with its registered builder, given the
// opset of its domain and the constant values of its inputs (nil where
// unknown). It returns an error for an op type without a builder, a
// domain the graph imports no opset of, the builder's errors, and an
// attribute the builder did not read.
func buildOp(n *Node, opsets map[string]int, consts []*Tensor) (Op, error) {
	b, ok := lookup(n.Domain, n.OpType)
	if !ok {
		return nil, fmt.Errorf("op type %s is not supported", n.OpType)
	}
	opset, ok := opsets[normDomain(n.Domain)]
	if !ok {
		return nil, fmt.Errorf("the model imports no opset for domain %q", n.Domain)
	}
	def := &NodeDef{Name: n.Name, OpType: n.OpType, Domain: normDomain(n.Domain), Opset: opset,
		Attrs: NewAttrs(n.Attrs), NumInputs: len(n.Inputs), NumOutputs: len(n.Outputs), Const: consts}
	op, err := b(def)
	if err != nil {
		return nil, err
	}
	if unread := def.Attrs.Unread(); len(unread) > 0 {
		return nil, fmt.Errorf("unsupported attribute(s) %s", strings.Join(unread, ", "))
	}
	return op, nil
}

// nodeNames returns the name of each node of g: its own, or, when it has
// none or one an earlier node has, OPTYPE_INDEX.
func nodeNames(g *onnx.Graph) []string {
	out := make([]string, len(g.Node))
	seen := map[string]bool{}
	for i, n := range g.Node {
		name := n.Name
		if name == "" || seen[name] {
			name = fmt.Sprintf("%s_%d", n.OpType, i)
		}
		seen[name] = true
		out[i] = name
	}
	return out
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

// inline returns t, or, when t is external and dir is not "", a copy of
// t that holds its data read from dir.
func inline(t *onnx.Tensor, dir string) (*onnx.Tensor, error) {
	if dir == "" || t.DataLocation != onnx.DataLocationExternal {
		return t, nil
	}
	raw, err := onnx.ReadExternalData(dir, t)
	if err != nil {
		return nil, err
	}
	c := *t
	c.RawData, c.DataLocation, c.ExternalData = raw, onnx.DataLocationDefault, nil
	return &c, nil
}
