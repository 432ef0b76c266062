package graph

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// TrainOptions configures NewTrainer.
type TrainOptions struct {
	// Threads bounds the goroutines a step uses at once; 0 means
	// runtime.GOMAXPROCS(0). When the graph computes each item of a batch
	// from that item alone (split.go), a step splits its batch into
	// Threads chunks of consecutive items (fewer for a smaller batch)
	// that run at once, and adds their gradients in order; otherwise its
	// ops share the threads. The numbers depend on Threads, not on the
	// machine's cores.
	Threads int
	// Output names the graph output the loss is computed on; "" means
	// the first.
	Output string
	// Params names the values to train; nil means DefaultParams.
	Params []string
	// MaxMemory bounds the bytes of the values one step (Grad) holds at
	// once, which for training are all the forward's values and the
	// gradients: as Options.MaxMemory bounds a Session's run (0: the
	// larger of MinMemoryLimit and MemoryFactor times the bytes of the
	// constants, parameters and inputs; negative: no bound). A step beyond
	// it fails with an error that wraps ErrMemoryLimit.
	MaxMemory int64
}

// Trainer fine-tunes the parameters of a graph (quantization-aware when
// the graph has QuantizeLinear/DequantizeLinear pairs): it runs the graph
// forward keeping what the backward needs, computes a loss on one output
// and its gradient with respect to every parameter by reverse-mode
// differentiation (the ops' Differentiable), and hands the parameters to
// the optimizers of package layers (Params). Trained returns the graph
// with the trained values.
//
// What trains: the parameters (DefaultParams, or TrainOptions.Params),
// each as a float tensor — codes stored as integers with a
// DequantizeLinear are trained as their float value, which a
// QuantizeLinear (same scale, zero point and axis as the
// DequantizeLinear) quantizes again on every forward pass, so the codes
// train as weights stored as floats with a QuantizeLinear→
// DequantizeLinear pair do (INT32 bias codes train as the float bias, and
// are rounded to their scale when written back). Scales, zero points and
// everything else stay fixed: amax does not move during fine-tuning, as
// in the original toolkit after calibration.
//
// A Trainer is not safe for concurrent use.
type Trainer struct {
	raw     *Graph // the caller's graph, unchanged
	g       *Graph // the training graph: parameters as inputs, inferred
	threads int
	params  []*trainParam
	loss    int // the slot of the loss output

	steps   []trainStep
	slots   int
	slotOf  map[string]int
	consts  map[int]*Tensor
	paramOf map[int]*trainParam // by slot
	static  []bool              // by slot: values computed from parameters and constants alone
	arenas  []*arena            // one per chunk of a step, and one for the nodes they share
	batch   string              // the batch dimension, when a step may split it (split.go)
	spare   [][]*Tensor         // the parameters' gradients of chunks 1, 2, ...

	maxMemory  int64 // TrainOptions.MaxMemory
	constBytes int64 // bytes of the constants and parameters
}

// trainParam is one trained value.
type trainParam struct {
	index       int // in Trainer.params
	src         *paramSource
	slot        int
	value, grad *Tensor // FLOAT, the value's shape
	quant       *qdqOp  // for codes: the op that quantizes the value to them (nil for INT32 codes)
	scale, zp   *Tensor // for codes: the DequantizeLinear's
	codes       onnx.DataType
}

// trainStep is one node of the training graph.
type trainStep struct {
	n       *Node
	in, out []int
	view    bool           // the op returns views of its input: it may be given them
	static  bool           // it reads only parameters and constants
	grad    Differentiable // nil: no gradient flows through the node
	needs   []bool         // inputs whose gradient the backward computes
}

// NewTrainer prepares g, a graph that has not been prepared (Infer has
// not run: ImportRaw, ImportFileRaw or FromLayers give one), for
// training; g is not modified. The training graph is a copy in which
// the parameters are inputs, codes have their QuantizeLinear, and
// constants are folded.
//
// It returns an error for a graph that has been prepared (its weights'
// quantizers may have been folded into constants), the errors of Infer
// on the copy, a parameter name that does not exist (TrainOptions.Params),
// a graph without parameters, an Output that is not a FLOAT output, and
// ops that a gradient would have to flow through without a backward
// (listed at once).
func NewTrainer(g *Graph, o TrainOptions) (*Trainer, error) {
	if g.infos != nil {
		return nil, fmt.Errorf("graph: train: the graph has been prepared (Infer), which folds the weights' QuantizeLinear/DequantizeLinear into constants: train the graph as imported (ImportRaw, ImportFileRaw) or converted (FromLayers)")
	}
	src, err := paramSources(g, o.Params)
	if err != nil {
		return nil, err
	}
	if len(src) == 0 {
		return nil, fmt.Errorf("graph: train: the graph has no parameters to train")
	}
	t := &Trainer{raw: g, threads: o.Threads, maxMemory: o.MaxMemory}
	if t.threads <= 0 {
		t.threads = runtime.GOMAXPROCS(0)
	}
	if err := t.build(src); err != nil {
		return nil, err
	}
	out := o.Output
	if out == "" {
		if len(t.g.Outputs) == 0 {
			return nil, fmt.Errorf("graph: train: the graph has no outputs")
		}
		out = t.g.Outputs[0].Name
	}
	i := slices.IndexFunc(t.g.Outputs, func(s ValueSpec) bool { return s.Name == out })
	if i < 0 {
		return nil, fmt.Errorf("graph: train: %q is not an output of the graph", out)
	}
	if dt := t.g.Outputs[i].DType; dt != onnx.Float {
		return nil, fmt.Errorf("graph: train: output %q is %v, the loss needs FLOAT", out, dt)
	}
	if err := t.plan(out); err != nil {
		return nil, err
	}
	var ins []string
	for _, in := range t.Inputs() {
		ins = append(ins, in.Name)
	}
	if p, ok := batchParam(t.g, ins, []string{out}); ok {
		t.batch = p
	}
	return t, nil
}

// uniqueName returns base, or base with a number appended, that is not
// in used, and adds it.
func uniqueName(used map[string]bool, base string) string {
	name := base
	for i := 1; used[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	used[name] = true
	return name
}

// build makes the training graph: a copy of the caller's in which every
// parameter is an input (fed with its value on every run), Identity
// parameters lose their node, codes get a QuantizeLinear before their
// DequantizeLinear (INT32 codes: the float value in its place), and
// every op is built again, with what is constant now.
func (t *Trainer) build(src []*paramSource) error {
	g := t.raw
	tg := &Graph{Name: g.Name, Opsets: maps.Clone(g.Opsets), Inputs: slices.Clone(g.Inputs),
		Outputs: slices.Clone(g.Outputs), Initializers: maps.Clone(g.Initializers)}
	for i := range tg.Outputs {
		tg.Outputs[i].Shape = slices.Clone(tg.Outputs[i].Shape)
	}
	used := map[string]bool{}
	for name := range g.Initializers {
		used[name] = true
	}
	for _, in := range g.Inputs {
		used[in.Name] = true
	}
	dropped := map[*Node]bool{}
	replaced := map[*Node]*Node{}
	before := map[*Node][]*Node{} // QuantizeLinear nodes for codes, placed before their DequantizeLinear
	for _, n := range g.Nodes {
		used[n.Name] = true
		for _, o := range n.Outputs {
			used[o] = true
		}
	}
	for _, s := range src {
		init := g.Initializers[s.init]
		p := &trainParam{src: s}
		switch {
		case s.identity != nil:
			dropped[s.identity] = true
			p.value = init.Clone()
		case s.dq != nil:
			for _, n := range g.Nodes {
				if n != s.dq && slices.Contains(n.Inputs, s.init) {
					return fmt.Errorf("graph: train: codes %q are read by node %q as well as by their DequantizeLinear %q: they cannot be trained", s.init, n.Name, s.dq.Name)
				}
			}
			in := t.dqInputs(s.dq, init)
			op, err := buildOp(s.dq, g.Opsets, in)
			if err != nil {
				return nodeErr(s.dq, err)
			}
			v, err := op.Run(newCtx(nil, 1), in)
			if err != nil {
				return nodeErr(s.dq, err)
			}
			p.value, p.codes = v[0], init.DType
			p.scale = t.constOf(s.dq.Inputs[1])
			if len(s.dq.Inputs) > 2 && s.dq.Inputs[2] != "" {
				p.zp = t.constOf(s.dq.Inputs[2])
			}
			delete(tg.Initializers, s.init)
			if init.DType == onnx.Int32 {
				replaced[s.dq] = &Node{Name: s.dq.Name, OpType: "Identity", Inputs: []string{s.name}, Outputs: slices.Clone(s.dq.Outputs)}
				break
			}
			// Codes of the value, quantized as the DequantizeLinear
			// reads them: a zero point of the codes' type is given
			// explicitly (QuantizeLinear's default would be UINT8).
			zp := ""
			if p.zp == nil {
				z, err := New(init.DType, p.scale.Shape...)
				if err != nil {
					return err
				}
				zp = uniqueName(used, s.init+"/zero_point")
				tg.Initializers[zp] = z
				p.zp = z
			} else {
				zp = s.dq.Inputs[2]
			}
			codes := uniqueName(used, s.init+"/quantized")
			q := &Node{Name: uniqueName(used, s.dq.Name+"/QuantizeLinear"), OpType: "QuantizeLinear", Domain: s.dq.Domain,
				Inputs: []string{s.name, s.dq.Inputs[1], zp}, Outputs: []string{codes}, Attrs: slices.Clone(s.dq.Attrs)}
			dq := &Node{Name: s.dq.Name, OpType: s.dq.OpType, Domain: s.dq.Domain,
				Inputs: append([]string{codes}, s.dq.Inputs[1:]...), Outputs: slices.Clone(s.dq.Outputs), Attrs: s.dq.Attrs}
			replaced[s.dq] = dq
			before[s.dq] = append(before[s.dq], q)
			qop, err := buildOp(q, g.Opsets, []*Tensor{nil, p.scale, p.zp})
			if err != nil {
				return nodeErr(q, err)
			}
			p.quant = qop.(*qdqOp)
		default:
			p.value = init.Clone()
			delete(tg.Initializers, s.init)
		}
		if p.value.DType != onnx.Float {
			return fmt.Errorf("graph: train: parameter %q is %v, not FLOAT", s.name, p.value.DType)
		}
		p.grad = &Tensor{DType: onnx.Float, Shape: slices.Clone(p.value.Shape), F32: make([]float32, p.value.Len())}
		p.index = len(t.params)
		tg.Inputs = append(tg.Inputs, ValueSpec{Name: s.name, DType: onnx.Float, Shape: Sizes(p.value.Shape...)})
		t.params = append(t.params, p)
	}
	for _, n := range g.Nodes {
		if dropped[n] {
			continue
		}
		tg.Nodes = append(tg.Nodes, before[n]...)
		c := n
		if r, ok := replaced[n]; ok {
			c = r
		}
		outs := slices.Clone(c.Outputs)
		if c.OpType == "MaxPool" && normDomain(c.Domain) == "" && len(outs) == 1 && g.Opsets[""] >= 8 {
			// The maxima's indices, which the backward reads: finding
			// them again costs more than the forward's argmax.
			outs = append(outs, uniqueName(used, outs[0]+"/indices"))
		}
		tg.Nodes = append(tg.Nodes, &Node{Name: c.Name, OpType: c.OpType, Domain: c.Domain,
			Inputs: slices.Clone(c.Inputs), Outputs: outs, Attrs: c.Attrs})
	}
	var err error
	if tg.Nodes, err = fuseQDQ(tg.Nodes, tg.Opsets, tg.Outputs); err != nil {
		return err
	}
	if err := tg.Infer(); err != nil {
		return err
	}
	t.g = tg
	return nil
}

// dqInputs returns the inputs of DequantizeLinear node dq with codes in
// place of its first (its scale and zero point are constant).
func (t *Trainer) dqInputs(dq *Node, codes *Tensor) []*Tensor {
	in := []*Tensor{codes}
	for _, name := range dq.Inputs[1:] {
		var v *Tensor
		if name != "" {
			v = t.constOf(name)
		}
		in = append(in, v)
	}
	return in
}

// constOf returns the constant value called name of the caller's graph
// (paramSources checked that it is one).
func (t *Trainer) constOf(name string) *Tensor {
	if v, ok := t.raw.Initializers[name]; ok {
		return v
	}
	for _, n := range t.raw.Nodes {
		if len(n.Outputs) == 1 && n.Outputs[0] == name {
			op := n.Op
			if op == nil {
				op, _ = buildOp(n, t.raw.Opsets, nil)
			}
			if v, ok := op.(Valuer); ok {
				return v.Value()
			}
		}
	}
	return nil
}

// viewOps are the ops whose Run returns a view of its input when it may
// reuse it, and never writes it.
func viewOp(op Op) bool {
	switch op.(type) {
	case *reshapeOp, *flattenOp, *squeezeOp, identityOp, *dropoutOp:
		return true
	}
	return false
}

// plan assigns value slots, finds the nodes the loss depends on, which
// of their values a gradient flows through (those computed from a
// parameter, FLOAT or the codes of a QuantizeLinear), and the backward
// of each node it flows through.
func (t *Trainer) plan(lossName string) error {
	g := t.g
	t.slotOf, t.consts = map[string]int{}, map[int]*Tensor{}
	slot := func(name string) int { return slotOf(t.slotOf, &t.slots, name) }
	isParam := map[string]*trainParam{}
	for _, p := range t.params {
		isParam[p.src.name] = p
	}
	t.paramOf = map[int]*trainParam{}
	for _, in := range g.Inputs {
		i := slot(in.Name)
		if p := isParam[in.Name]; p != nil {
			p.slot = i
			t.paramOf[i] = p
		}
	}
	for name, v := range g.Initializers {
		t.consts[slot(name)] = v
		t.constBytes += v.bytes()
	}
	for _, p := range t.params {
		t.constBytes += 2 * p.value.bytes()
	}
	t.loss = slot(lossName)
	// Nodes the loss depends on, in order.
	producer := map[string]int{}
	for k, n := range g.Nodes {
		for _, o := range n.Outputs {
			producer[o] = k
		}
	}
	needed := make([]bool, len(g.Nodes))
	stack := []string{lossName}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		k, ok := producer[v]
		if !ok || needed[k] {
			continue
		}
		needed[k] = true
		for _, in := range g.Nodes[k].Inputs {
			if in != "" {
				stack = append(stack, in)
			}
		}
	}
	active := map[string]bool{}
	for _, p := range t.params {
		active[p.src.name] = true
	}
	var missing []string
	for k, n := range g.Nodes {
		if !needed[k] {
			continue
		}
		st := trainStep{n: n, in: make([]int, len(n.Inputs)), out: make([]int, len(n.Outputs)), view: viewOp(n.Op)}
		st.needs = make([]bool, len(n.Inputs))
		any := false
		for j, name := range n.Inputs {
			st.in[j] = slot(name)
			st.needs[j] = active[name]
			any = any || active[name]
		}
		flows := false // a gradient can flow back through the node
		for j, name := range n.Outputs {
			st.out[j] = slot(name)
			if any && name != "" {
				if info := g.Info(name); info.DType == onnx.Float || n.OpType == "QuantizeLinear" {
					active[name] = true
					flows = true
				}
			}
		}
		if flows {
			var err error
			if d, ok := n.Op.(Differentiable); ok {
				st.grad = d
				if g, ok := d.(gradless); ok {
					err = g.noGrad()
				}
			} else if _, ok := n.Op.(*unaryOp); ok {
				st.grad, err = unaryGradOf(n)
			} else {
				err = fmt.Errorf("no gradient")
			}
			if err != nil {
				missing = append(missing, fmt.Sprintf("%s (node %q: %v)", n.OpType, n.Name, err))
			}
		}
		t.steps = append(t.steps, st)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("graph: train: gradients would have to flow through %d node(s) without a backward: %s", len(missing), strings.Join(missing, ", "))
	}
	if !active[lossName] {
		return fmt.Errorf("graph: train: output %q does not depend on any parameter", lossName)
	}
	// What depends on the inputs; the rest (parameters, constants and
	// what is computed from them alone) is static.
	t.static = make([]bool, t.slots)
	for i := range t.static {
		t.static[i] = true
	}
	for _, in := range g.Inputs {
		if i := t.slotOf[in.Name]; t.paramOf[i] == nil {
			t.static[i] = false
		}
	}
	for k := range t.steps {
		st := &t.steps[k]
		st.static = true
		for _, v := range st.in {
			if v >= 0 && !t.static[v] {
				st.static = false
			}
		}
		for _, v := range st.out {
			if v >= 0 {
				t.static[v] = st.static
			}
		}
	}
	return nil
}

// Params returns the trained parameters with their gradients, sharing
// their data, for the optimizers of package layers (NewSGD, NewAdam):
// the values' names are those of the caller's graph (an initializer, the
// output of an Identity of one, or codes, trained as floats), sorted.
func (t *Trainer) Params() []layers.Param {
	out := make([]layers.Param, len(t.params))
	for i, p := range t.params {
		out[i] = layers.Param{Name: p.src.name,
			Value: &tensor.Tensor{Shape: p.value.Shape, Data: p.value.F32},
			Grad:  &tensor.Tensor{Shape: p.grad.Shape, Data: p.grad.F32}}
	}
	return out
}

// Inputs returns the graph inputs a run needs (the parameters are not
// among them).
func (t *Trainer) Inputs() []ValueSpec {
	var out []ValueSpec
	for _, in := range t.g.Inputs {
		if t.paramOf[t.slotOf[in.Name]] == nil {
			out = append(out, in)
		}
	}
	return out
}

// Grad runs the graph forward on one batch, computes the loss of the
// loss output against target (Loss), and sets the gradient of every
// parameter (Params) to the gradient of that loss: the gradients of the
// previous call are replaced. It returns the loss, and an error for a
// missing, unknown or mis-shaped input (as Session.Run does), a target
// that does not fit the output, a step beyond TrainOptions.MaxMemory
// (wrapping ErrMemoryLimit), and the first error of a node (naming it).
//
// With several threads, a batch of a graph that computes each item alone
// runs as chunks at once (TrainOptions.Threads): each chunk's loss is
// its items' mean, weighted by its share of the batch, so the loss and
// gradients are the whole batch's mean up to rounding.
func (t *Trainer) Grad(inputs map[string]*Tensor, target *Tensor) (float64, error) {
	specs := t.Inputs()
	for name := range inputs {
		if !slices.ContainsFunc(specs, func(s ValueSpec) bool { return s.Name == name }) {
			return 0, fmt.Errorf("graph: train: %q is not an input of the graph", name)
		}
	}
	var inBytes int64
	n := -1
	for _, spec := range specs {
		x, ok := inputs[spec.Name]
		if !ok || x == nil {
			return 0, fmt.Errorf("graph: train: input %q is missing", spec.Name)
		}
		if err := checkInput(spec, x); err != nil {
			return 0, err
		}
		inBytes += x.bytes()
		if len(x.Shape) == 0 || n >= 0 && x.Shape[0] != n {
			n = 0 // no split
		} else if n < 0 {
			n = x.Shape[0]
		}
	}
	limit := t.maxMemory
	if limit == 0 {
		limit = max(MinMemoryLimit, MemoryFactor*(t.constBytes+inBytes))
	}
	live := new(atomic.Int64)
	chunks := 1
	if t.batch != "" && target != nil && len(target.Shape) > 0 && target.Shape[0] == n {
		chunks = max(1, min(t.threads, n))
	}
	for len(t.arenas) <= chunks { // and one for the shared nodes
		t.arenas = append(t.arenas, &arena{})
	}
	for len(t.spare) < chunks-1 {
		g := make([]*Tensor, len(t.params))
		for i, p := range t.params {
			g[i] = &Tensor{DType: onnx.Float, Shape: slices.Clone(p.grad.Shape), F32: make([]float32, p.grad.Len())}
		}
		t.spare = append(t.spare, g)
	}
	grads := func(k int) []*Tensor {
		if k > 0 {
			return t.spare[k-1]
		}
		g := make([]*Tensor, len(t.params))
		for i, p := range t.params {
			g[i] = p.grad
		}
		return g
	}
	whole := func() (float64, error) {
		loss, _, err := t.step(inputs, target, 1, chunkEnv{t.arenas[0], t.threads, new(atomic.Int64), limit, grads(0)}, nil)
		return loss, err
	}
	if chunks == 1 {
		return whole()
	}
	// The nodes that read only parameters and constants (a weight's
	// fake quantization) run once, for every chunk.
	shared := t.newPass(chunkEnv{t.arenas[chunks], t.threads, live, limit, nil}, nil, nil)
	defer shared.release()
	if err := shared.forward(func(st trainStep) bool { return st.static }); err != nil {
		return whole()
	}
	losses := make([]float64, chunks)
	sg := make([][]*Tensor, chunks)
	errs := make([]error, chunks)
	var wg sync.WaitGroup
	for k := range chunks {
		lo, hi := n*k/chunks, n*(k+1)/chunks
		in := make(map[string]*Tensor, len(inputs))
		for name, x := range inputs {
			in[name], _ = x.Rows(lo, hi) // lo <= hi <= n, checked
		}
		tk, _ := target.Rows(lo, hi)
		env := chunkEnv{t.arenas[k], threadShare(t.threads, chunks, k), live, limit, grads(k)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			losses[k], sg[k], errs[k] = t.step(in, tk, float64(hi-lo)/float64(n), env, shared)
		}()
	}
	wg.Wait()
	if errors.Join(errs...) != nil {
		// Again whole, for the whole batch's error (or a step that fits
		// the memory bound whole where the chunks' peaks coincided).
		return whole()
	}
	loss := 0.0
	for k := range chunks {
		loss += losses[k]
	}
	for _, g := range t.spare[:chunks-1] {
		for i, p := range t.params {
			addInto(p.grad, g[i])
		}
	}
	// The chunks' gradients of the shared values, added in chunk order,
	// go back through the shared nodes once.
	for _, g := range sg[1:] {
		for v, x := range g {
			switch {
			case x == nil:
			case sg[0][v] == nil:
				sg[0][v] = x
			default:
				addInto(sg[0][v], x)
			}
		}
	}
	if err := shared.backward(sg[0], grads(0), func(st trainStep) bool { return st.static }); err != nil {
		return whole()
	}
	return loss, nil
}

// chunkEnv is what one chunk of a step runs with: its arena and threads,
// the step's memory count and bound, and the parameters' gradients it
// sets (by trainParam.index).
type chunkEnv struct {
	arena   *arena
	threads int
	live    *atomic.Int64
	limit   int64
	grads   []*Tensor
}

// step is Grad on one chunk of a batch (inputs checked), with the loss
// and its gradient weighted by share. With shared (a split step), the
// nodes that read only parameters and constants are not run again: their
// values are shared's, and the gradients that reach them are returned
// (by slot, copies) for Grad to add up and take through them once.
func (t *Trainer) step(inputs map[string]*Tensor, target *Tensor, share float64, env chunkEnv, shared *pass) (float64, []*Tensor, error) {
	p := t.newPass(env, inputs, shared)
	defer p.release()
	mine := func(st trainStep) bool { return shared == nil || !st.static }
	if err := p.forward(mine); err != nil {
		return 0, nil, err
	}
	loss, dy, err := Loss(p.vals[t.loss], target)
	if err != nil {
		return 0, nil, err
	}
	if share != 1 {
		loss *= share
		for i := range dy.F32 {
			dy.F32[i] *= float32(share)
		}
	}
	for _, g := range env.grads {
		clear(g.F32)
	}
	grads := make([]*Tensor, t.slots)
	grads[t.loss] = dy
	if err := p.backward(grads, env.grads, mine); err != nil {
		return 0, nil, err
	}
	var out []*Tensor
	if shared != nil {
		out = make([]*Tensor, t.slots)
		for v, g := range grads {
			if g != nil && t.static[v] {
				out[v] = g.Clone()
			}
		}
	}
	for _, g := range grads {
		if g != nil {
			p.owned = append(p.owned, g)
		}
	}
	return loss, out, nil
}

// pass is the values of one forward and backward pass through the
// training graph (a chunk's, or the nodes that read only parameters once
// for all chunks), the buffers it allocated, and the ones it must not
// give back to its arena.
type pass struct {
	t      *Trainer
	ctx    *Ctx
	arena  *arena
	vals   []*Tensor
	pinned map[unsafe.Pointer]bool
	owned  []*Tensor
}

// newPass returns a pass with the constants, the parameters, the inputs
// and, with shared, the values of shared's nodes.
func (t *Trainer) newPass(env chunkEnv, inputs map[string]*Tensor, shared *pass) *pass {
	p := &pass{t: t, arena: env.arena, vals: make([]*Tensor, t.slots), pinned: map[unsafe.Pointer]bool{}}
	for i, v := range t.consts {
		p.vals[i] = v
		p.pinned[dataPtr(v)] = true
	}
	for _, tp := range t.params {
		p.vals[tp.slot] = tp.value
		p.pinned[dataPtr(tp.value)] = true
	}
	for name, x := range inputs {
		p.vals[t.slotOf[name]] = x
		p.pinned[dataPtr(x)] = true
	}
	if shared != nil {
		for v, x := range shared.vals {
			if x != nil && p.vals[v] == nil {
				p.vals[v] = x
				p.pinned[dataPtr(x)] = true
			}
		}
	}
	p.ctx = newCtx(env.arena, env.threads)
	p.ctx.live, p.ctx.limit = env.live, env.limit
	return p
}

// release gives back to the arena everything the pass allocated.
func (p *pass) release() {
	seen := map[unsafe.Pointer]bool{}
	for _, v := range p.owned {
		if v == nil {
			continue
		}
		ptr := dataPtr(v)
		if ptr == nil || p.pinned[ptr] || seen[ptr] {
			continue
		}
		seen[ptr] = true
		p.arena.put(v)
	}
	p.owned = nil
}

// forward runs the nodes that run says, in order.
func (p *pass) forward(run func(trainStep) bool) error {
	ctx, vals := p.ctx, p.vals
	for _, st := range p.t.steps {
		if !run(st) {
			continue
		}
		in := make([]*Tensor, len(st.in))
		for j, v := range st.in {
			if v >= 0 {
				in[j] = vals[v]
			}
		}
		ctx.reusable = nil
		if st.view {
			ctx.reusable = []bool{true}
		}
		out, err := st.n.Op.Run(ctx, in)
		if err != nil {
			return nodeErr(st.n, err)
		}
		if len(out) != len(st.out) {
			return nodeErr(st.n, fmt.Errorf("the op returned %d outputs, the node has %d", len(out), len(st.out)))
		}
		for j, v := range st.out {
			if v >= 0 {
				vals[v] = out[j]
			}
		}
		p.owned = append(p.owned, out...)
	}
	return nil
}

// backward takes grads, the gradients of values by slot, back through
// the nodes that run says, in reverse order, adding the parameters' into
// pgrads (by trainParam.index); the gradients of values whose node does
// not run stay in grads.
func (p *pass) backward(grads, pgrads []*Tensor, run func(trainStep) bool) error {
	t, ctx, vals := p.t, p.ctx, p.vals
	for k := len(t.steps) - 1; k >= 0; k-- {
		st := t.steps[k]
		if st.grad == nil || !run(st) {
			continue
		}
		dOut := make([]*Tensor, len(st.out))
		reached := false
		for j, v := range st.out {
			if v >= 0 && grads[v] != nil {
				dOut[j], grads[v] = grads[v], nil
				reached = true
			}
		}
		if !reached {
			continue
		}
		in := make([]*Tensor, len(st.in))
		for j, v := range st.in {
			if v >= 0 {
				in[j] = vals[v]
			}
		}
		out := make([]*Tensor, len(st.out))
		for j, v := range st.out {
			if v >= 0 {
				out[j] = vals[v]
			}
		}
		ctx.reusable = nil
		dIn, err := st.grad.Backward(ctx, in, out, dOut, st.needs)
		if err != nil {
			return nodeErr(st.n, fmt.Errorf("backward: %w", err))
		}
		if len(dIn) != len(st.in) {
			return nodeErr(st.n, fmt.Errorf("backward returned %d gradients for %d inputs", len(dIn), len(st.in)))
		}
		if err := t.accumulate(ctx, st, in, dIn, dOut, grads, pgrads); err != nil {
			return nodeErr(st.n, err)
		}
	}
	return nil
}

// accumulate adds the input gradients of one node's backward to grads
// (and a parameter's to its gradient in pgrads), taking ownership of each buffer
// once: a gradient that shares a buffer already taken is copied, one
// added into an existing sum is released, as are the output gradients
// the backward did not pass on.
func (t *Trainer) accumulate(ctx *Ctx, st trainStep, in, dIn, dOut []*Tensor, grads, pgrads []*Tensor) error {
	taken := map[unsafe.Pointer]bool{}
	isOut := map[unsafe.Pointer]bool{}
	for _, g := range dOut {
		if g != nil {
			isOut[dataPtr(g)] = true
		}
	}
	release := func(g *Tensor) {
		if p := dataPtr(g); p != nil && !taken[p] && !isOut[p] {
			ctx.free(g)
		}
	}
	for j, g := range dIn {
		v := st.in[j]
		if g == nil || v < 0 || !st.needs[j] {
			continue
		}
		if g.Len() != in[j].Len() {
			return fmt.Errorf("backward: the gradient of input %d is %v, the input %v", j, g, in[j])
		}
		if p := t.paramOf[v]; p != nil {
			if g.DType != onnx.Float {
				return fmt.Errorf("backward: the gradient of parameter %q is %v", p.src.name, g.DType)
			}
			addInto(pgrads[p.index], g)
			release(g)
			continue
		}
		if cur := grads[v]; cur != nil {
			if cur.DType != g.DType {
				return fmt.Errorf("backward: gradients %v and %v of one value", cur, g)
			}
			addInto(cur, g)
			release(g)
			continue
		}
		if p := dataPtr(g); p != nil && taken[p] {
			c, err := ctx.Alloc(g.DType, g.Shape...)
			if err != nil {
				return err
			}
			copyData(c, g)
			g = c
		}
		taken[dataPtr(g)] = true
		grads[v] = view(g, slices.Clone(in[j].Shape))
	}
	for _, g := range dOut {
		if g == nil {
			continue
		}
		if p := dataPtr(g); !taken[p] {
			ctx.free(g)
			taken[p] = true
		}
	}
	return nil
}

// Loss returns the training loss of an output y against target, and its
// gradient with respect to y:
//
//   - class labels (target INT64 or INT32 [N], y [N, C] or [N, C, 1, ...]):
//     cross-entropy with mean reduction, layers.CrossEntropy (PyTorch's
//     nn.CrossEntropyLoss, the original toolkit's classification
//     examples);
//   - values (target FLOAT of y's shape): the mean squared error,
//     mean((y - target)²) with gradient 2·(y - target)/numel (PyTorch's
//     nn.MSELoss), for models whose output is not a class score, such as
//     an encoder trained towards the float model's outputs.
//
// The sums are in float64. It returns an error for a target of another
// type or shape, a label outside [0, C), and a NaN loss.
func Loss(y, target *Tensor) (float64, *Tensor, error) {
	if y == nil || y.DType != onnx.Float {
		return 0, nil, fmt.Errorf("graph: loss: the output is %v, want FLOAT", y)
	}
	if target == nil {
		return 0, nil, fmt.Errorf("graph: loss: no target")
	}
	switch target.DType {
	case onnx.Int64, onnx.Int32:
		labels, err := target.Ints()
		if err != nil {
			return 0, nil, err
		}
		if len(target.Shape) != 1 || len(y.Shape) < 2 || prod(y.Shape[2:]) != 1 {
			return 0, nil, fmt.Errorf("graph: loss: labels %v for an output %v: want labels [N] and an output [N, C]", target, y)
		}
		logits := &tensor.Tensor{Shape: y.Shape[:2], Data: y.F32}
		loss, g, err := layers.CrossEntropy(logits, labels)
		if err != nil {
			return 0, nil, fmt.Errorf("graph: loss: %w", err)
		}
		if math.IsNaN(loss) {
			return 0, nil, fmt.Errorf("graph: loss: NaN")
		}
		return loss, &Tensor{DType: onnx.Float, Shape: slices.Clone(y.Shape), F32: g.Data}, nil
	case onnx.Float:
		if !slices.Equal(target.Shape, y.Shape) {
			return 0, nil, fmt.Errorf("graph: loss: target %v for an output %v: want the output's shape", target, y)
		}
		n := y.Len()
		g := &Tensor{DType: onnx.Float, Shape: slices.Clone(y.Shape), F32: make([]float32, n)}
		var s float64
		for i, v := range y.F32 {
			d := float64(v) - float64(target.F32[i])
			s += d * d
			g.F32[i] = float32(2 * d / float64(n))
		}
		loss := s / float64(max(n, 1))
		if math.IsNaN(loss) {
			return 0, nil, fmt.Errorf("graph: loss: NaN")
		}
		return loss, g, nil
	}
	return 0, nil, fmt.Errorf("graph: loss: a %v target: want INT64 class labels or FLOAT values", target.DType)
}

// Trained returns a copy of the graph NewTrainer was given with the
// trained values: a float parameter's initializer holds its value (an
// Identity parameter becomes an initializer of its own, its node
// dropped), codes are the value quantized again as the graph's
// QuantizeLinear quantizes it (INT32 bias codes rounded half to even to
// the nearest multiple of their scale, saturated). Nodes have no Op, as
// after FromLayers: Infer (or NewSession) builds them. The copy shares
// the caller's unchanged initializers.
func (t *Trainer) Trained() (*Graph, error) {
	g := t.raw
	out := &Graph{Name: g.Name, Opsets: maps.Clone(g.Opsets), Inputs: slices.Clone(g.Inputs),
		Outputs: slices.Clone(g.Outputs), Initializers: maps.Clone(g.Initializers), ValueInfo: slices.Clone(g.ValueInfo)}
	dropped := map[*Node]bool{}
	for _, p := range t.params {
		s := p.src
		switch {
		case s.dq != nil:
			codes, err := p.quantize()
			if err != nil {
				return nil, fmt.Errorf("graph: train: parameter %q: %w", s.name, err)
			}
			out.Initializers[s.init] = codes
		default:
			if s.identity != nil {
				dropped[s.identity] = true
			}
			out.Initializers[s.name] = p.value.Clone()
		}
	}
	read := map[string]bool{}
	for _, n := range g.Nodes {
		if dropped[n] {
			continue
		}
		out.Nodes = append(out.Nodes, &Node{Name: n.Name, OpType: n.OpType, Domain: n.Domain,
			Inputs: slices.Clone(n.Inputs), Outputs: slices.Clone(n.Outputs), Attrs: n.Attrs})
		for _, in := range n.Inputs {
			read[in] = true
		}
	}
	for _, o := range g.Outputs {
		read[o.Name] = true
	}
	for name := range out.Initializers {
		if !read[name] {
			delete(out.Initializers, name)
		}
	}
	return out, nil
}

// quantize returns the codes of a codes parameter's value.
func (p *trainParam) quantize() (*Tensor, error) {
	if p.quant != nil {
		res, err := p.quant.Run(newCtx(nil, 1), []*Tensor{p.value, p.scale, p.zp})
		if err != nil {
			return nil, err
		}
		return res[0], nil
	}
	// INT32 codes: round(v/scale) + zero point, saturated; the scale is
	// per tensor or per element of axis (the bias of a Conv or Gemm).
	c := &Tensor{DType: onnx.Int32, Shape: slices.Clone(p.value.Shape), I32: make([]int32, p.value.Len())}
	zps, err := zeroPoints(p.zp, len(p.scale.F32), onnx.Int32)
	if err != nil {
		return nil, err
	}
	for i, v := range p.value.F32 {
		j := min(i, len(p.scale.F32)-1)
		if len(p.scale.F32) != 1 && len(p.scale.F32) != len(p.value.F32) {
			return nil, fmt.Errorf("INT32 codes %v with scale %v: want one scale, or one per element", p.value.Shape, p.scale.Shape)
		}
		q := math.RoundToEven(float64(v)/float64(p.scale.F32[j])) + float64(zps[j])
		c.I32[i] = int32(max(math.MinInt32, min(math.MaxInt32, q)))
	}
	return c, nil
}
