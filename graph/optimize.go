package graph

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"
)

// Optimization selects the rewrites NewSession applies to a graph before
// running it (Options.Optimization).
type Optimization int

const (
	// OptimizeAll, the zero value, runs every registered pass: the
	// graph runs fused (BatchNormalization folded into convolutions,
	// convolutions and Gemm with their bias, residual and activation in
	// one op, weights packed once) and fast.
	OptimizeAll Optimization = iota
	// OptimizeExact runs only the passes that change no output bit
	// (Pass.Exact): everything but the folding of constants into
	// weights, whose rounding differs from the separate ops'.
	OptimizeExact
	// OptimizeNone runs the graph node by node, as imported: the
	// specification the optimised graph is compared with.
	OptimizeNone
)

// String names the level ("all", "exact", "none").
func (o Optimization) String() string {
	switch o {
	case OptimizeAll:
		return "all"
	case OptimizeExact:
		return "exact"
	case OptimizeNone:
		return "none"
	}
	return "Optimization(" + strconv.Itoa(int(o)) + ")"
}

// Pass is a rewrite of a prepared graph (one Infer has run): it finds
// patterns of nodes and replaces them through the Rewriter, which keeps
// the graph consistent. Passes run in order of Stage, then of
// registration; after the last one the graph is inferred again, which
// checks the result.
type Pass struct {
	// Name identifies the pass in errors.
	Name string
	// Stage orders the passes: StageCleanup, StageFold, StageFuse, or
	// any value in between.
	Stage int
	// Exact reports that the pass changes no output bit, so that
	// OptimizeExact runs it.
	Exact bool
	// Integer reports that the pass runs quantized layers in integer
	// arithmetic, which Options.Float turns off.
	Integer bool
	// Apply rewrites the graph; an error aborts NewSession.
	Apply func(r *Rewriter) error
}

// The stages of the built-in passes.
const (
	// StageCleanup removes nodes that compute nothing (Identity,
	// Dropout at inference).
	StageCleanup = 100
	// StageFold folds constant operations into weights
	// (BatchNormalization into the convolution before it).
	StageFold = 200
	// StageFuse merges chains of nodes into one op that computes them
	// in one pass (convolution + bias + residual + activation).
	StageFuse = 300
)

var passRegistry struct {
	sync.Mutex
	list []Pass
}

// RegisterPass adds p to the passes NewSession runs (OptimizeAll, and
// OptimizeExact when p.Exact). It panics when a pass of the same name is
// registered, or p has no name or no Apply: registration happens in init
// functions, where that is a programming error.
func RegisterPass(p Pass) {
	passRegistry.Lock()
	defer passRegistry.Unlock()
	if p.Name == "" || p.Apply == nil {
		panic("graph: RegisterPass needs a name and an Apply function")
	}
	for _, q := range passRegistry.list {
		if q.Name == p.Name {
			panic(fmt.Sprintf("graph: pass %s registered twice", p.Name))
		}
	}
	passRegistry.list = append(passRegistry.list, p)
}

// Passes returns the registered passes in the order they run.
func Passes() []Pass {
	passRegistry.Lock()
	defer passRegistry.Unlock()
	out := slices.Clone(passRegistry.list)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Stage < out[j].Stage })
	return out
}

// optimized returns a copy of the prepared graph g rewritten by the passes
// of level (without the Integer ones when float) and keeping the values
// named in keep as it keeps graph outputs, prepared again; g itself is not
// changed (the copy shares its nodes and constants until a pass replaces
// them).
func optimized(g *Graph, level Optimization, float bool, keep []string) (*Graph, error) {
	if level == OptimizeNone {
		return g, nil
	}
	if level != OptimizeAll && level != OptimizeExact {
		return nil, fmt.Errorf("graph: optimization level %v is not one of all, exact, none", level)
	}
	c := *g
	c.Nodes = slices.Clone(g.Nodes)
	c.Initializers = maps.Clone(g.Initializers)
	c.Inputs = slices.Clone(g.Inputs)
	c.Outputs = slices.Clone(g.Outputs)
	c.infos = maps.Clone(g.infos)
	c.int8 = nil
	r := newRewriter(&c)
	for _, v := range keep {
		r.outputs[v] = true
	}
	for _, p := range Passes() {
		if level == OptimizeExact && !p.Exact || float && p.Integer {
			continue
		}
		if err := p.Apply(r); err != nil {
			return nil, fmt.Errorf("graph: optimization pass %s: %w", p.Name, err)
		}
	}
	c.Nodes = r.live()
	if err := c.Infer(); err != nil {
		return nil, fmt.Errorf("graph: the optimised graph: %w", err)
	}
	// The constants no node reads any more (weights a fused op holds
	// packed) are not kept, not even by inference: their memory is the
	// original graph's alone.
	for name, info := range c.infos {
		if _, used := c.Initializers[name]; info.Const != nil && !used && !r.IsOutput(name) {
			delete(c.infos, name)
		}
	}
	return &c, nil
}

// Rewriter is what a Pass works with: the graph's nodes in order, who
// produces and who reads each value, what inference knows, and
// operations that replace nodes while keeping all of that consistent.
// Values keep their names: a node that replaces a chain writes the
// chain's last output, so that readers and graph outputs are unchanged.
type Rewriter struct {
	g       *Graph
	nodes   []*Node // in order; nil where a node was removed
	index   map[*Node]int
	readers map[string][]*Node
	outputs map[string]bool // graph outputs and Options.Keep
	names   map[string]bool // every value name in use
}

func newRewriter(g *Graph) *Rewriter {
	r := &Rewriter{g: g, nodes: slices.Clone(g.Nodes), index: map[*Node]int{}, readers: map[string][]*Node{},
		outputs: map[string]bool{}, names: map[string]bool{}}
	for i, n := range r.nodes {
		r.index[n] = i
		for _, in := range n.Inputs {
			if in != "" && !slices.Contains(r.readers[in], n) {
				r.readers[in] = append(r.readers[in], n)
			}
		}
		for _, o := range n.Outputs {
			r.names[o] = true
		}
	}
	for _, o := range g.Outputs {
		r.outputs[o.Name] = true
	}
	for name := range g.infos {
		r.names[name] = true
	}
	for name := range g.Initializers {
		r.names[name] = true
	}
	return r
}

// live returns the nodes left, in order.
func (r *Rewriter) live() []*Node {
	out := make([]*Node, 0, len(r.nodes))
	for _, n := range r.nodes {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

// Nodes returns the graph's nodes in topological order (a copy: a pass may
// rewrite while it iterates; check Alive for nodes removed meanwhile).
func (r *Rewriter) Nodes() []*Node { return r.live() }

// Alive reports whether n is still in the graph.
func (r *Rewriter) Alive(n *Node) bool {
	i, ok := r.index[n]
	return ok && r.nodes[i] == n
}

// Info returns what inference knows of a value (nil for an unknown name;
// values created by the rewrite keep the Info of the value they replace).
func (r *Rewriter) Info(value string) *Info { return r.g.infos[value] }

// Const returns the value's constant tensor (an initializer, or a value
// inference folded), or nil.
func (r *Rewriter) Const(value string) *Tensor {
	if value == "" {
		return nil
	}
	if t, ok := r.g.Initializers[value]; ok && !r.isInput(value) {
		return t
	}
	if in := r.g.infos[value]; in != nil && in.Const != nil {
		return in.Const
	}
	return nil
}

func (r *Rewriter) isInput(value string) bool {
	return slices.ContainsFunc(r.g.Inputs, func(s ValueSpec) bool { return s.Name == value })
}

// Readers returns the nodes that read value.
func (r *Rewriter) Readers(value string) []*Node { return slices.Clone(r.readers[value]) }

// IsOutput reports whether value is a graph output (or a value the
// session keeps, Options.Keep): a pass must leave it computed.
func (r *Rewriter) IsOutput(value string) bool { return r.outputs[value] }

// SoleReader returns the one node that reads value when nothing else
// does (no other node, and it is not a graph output), else nil: the
// condition under which a pass may fuse the value's producer with it.
func (r *Rewriter) SoleReader(value string) *Node {
	if r.outputs[value] || len(r.readers[value]) != 1 {
		return nil
	}
	n := r.readers[value][0]
	uses := 0
	for _, in := range n.Inputs {
		if in == value {
			uses++
		}
	}
	if uses != 1 {
		return nil // read twice by the same node
	}
	return n
}

// AddConst adds an initializer for t under a new name derived from hint,
// and returns the name.
func (r *Rewriter) AddConst(hint string, t *Tensor) string {
	name := hint
	for i := 1; r.names[name]; i++ {
		name = hint + "_" + strconv.Itoa(i)
	}
	r.names[name] = true
	r.g.Initializers[name] = t
	r.g.infos[name] = InfoOf(t)
	return name
}

// Replace removes the nodes old (a chain that the pass has checked:
// their intermediate values read by nobody else) and puts n in the place
// of the last of them. n must read only values available there (graph
// inputs, constants, outputs of nodes before it) and write the outputs
// of old that other nodes or the graph still need.
func (r *Rewriter) Replace(old []*Node, n *Node) {
	last := -1
	for _, o := range old {
		i, ok := r.index[o]
		if !ok || r.nodes[i] != o {
			panic(fmt.Sprintf("graph: Replace: node %q is not in the graph", o.Name))
		}
		last = max(last, i)
	}
	for _, o := range old {
		r.detach(o)
		r.nodes[r.index[o]] = nil
		delete(r.index, o)
	}
	r.nodes[last] = n
	r.index[n] = last
	for _, in := range n.Inputs {
		if in != "" && !slices.Contains(r.readers[in], n) {
			r.readers[in] = append(r.readers[in], n)
		}
	}
}

// Bypass removes n, which computes its output out from its input in
// unchanged (Identity), by making every reader of out read in instead
// (each reader is replaced by a copy: the nodes of the graph NewSession
// was given are never changed). It reports false, changing nothing, when
// out is a graph output.
func (r *Rewriter) Bypass(n *Node, in, out string) bool {
	if r.outputs[out] {
		return false
	}
	for _, m := range r.Readers(out) {
		c := *m
		c.Inputs = slices.Clone(m.Inputs)
		for i, v := range c.Inputs {
			if v == out {
				c.Inputs[i] = in
			}
		}
		r.Replace([]*Node{m}, &c)
	}
	r.detach(n)
	r.nodes[r.index[n]] = nil
	delete(r.index, n)
	return true
}

// removeUnread removes the node that writes value when nothing reads any
// of its outputs and none is a graph output, then the producers of its
// inputs in the same way: the shape computations of a value that a pass
// has stopped reading.
func (r *Rewriter) removeUnread(value string) {
	if n := r.producer(value); n != nil {
		r.removeIfUnread(n)
	}
}

// removeIfUnread removes n and then its inputs' producers as removeUnread
// does, if nothing reads n's outputs.
func (r *Rewriter) removeIfUnread(n *Node) {
	for _, o := range n.Outputs {
		if o != "" && (len(r.readers[o]) > 0 || r.outputs[o]) {
			return
		}
	}
	r.detach(n)
	r.nodes[r.index[n]] = nil
	delete(r.index, n)
	for _, in := range n.Inputs {
		if in != "" {
			r.removeUnread(in)
		}
	}
}

// removeUnreadNodes removes every node whose outputs nothing reads (the
// Shape nodes whose readers constant folding replaced, for one): they
// would run for nothing, and their reading a value keeps it from being
// fused with its only other reader.
func removeUnreadNodes(r *Rewriter) error {
	nodes := r.Nodes()
	for i := len(nodes) - 1; i >= 0; i-- {
		if r.Alive(nodes[i]) {
			r.removeIfUnread(nodes[i])
		}
	}
	return nil
}

// detach removes n from the readers of its inputs.
func (r *Rewriter) detach(n *Node) {
	for _, in := range n.Inputs {
		r.readers[in] = slices.DeleteFunc(r.readers[in], func(m *Node) bool { return m == n })
		if len(r.readers[in]) == 0 {
			delete(r.readers, in)
		}
	}
}
