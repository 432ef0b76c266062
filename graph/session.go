package graph

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tensorquant/tensorquant/internal/par"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// Options configures a Session.
type Options struct {
	// Threads bounds the goroutines an op may use at once (through
	// Ctx.Parallel, and the GEMM); 0 means runtime.GOMAXPROCS(0).
	Threads int
	// MaxMemory bounds the bytes of the values a run holds at once: the
	// buffers ops allocate through Ctx (activations and outputs, not the
	// graph's constants, the caller's inputs or an op's scratch space),
	// counted from their allocation until their last reader has run. 0
	// means the larger of MinMemoryLimit and MemoryFactor times the
	// bytes of the graph's constants and the run's inputs; a negative
	// value means no bound. A run that would exceed it fails with an
	// error that wraps ErrMemoryLimit and names the node, instead of
	// exhausting the machine's memory.
	MaxMemory int64
	// Optimization selects the rewrites applied before running (the
	// zero value, OptimizeAll: every pass; OptimizeNone: node by node).
	Optimization Optimization
	// Float runs quantized (QDQ) layers in float, QuantizeLinear and
	// DequantizeLinear as fake quantization, as ONNX Runtime runs them
	// node by node. By default (OptimizeAll) the int8 pass runs them in
	// integer arithmetic (see Session.Int8Nodes).
	Float bool
	// Keep names values the optimizer must leave in the graph, as it
	// leaves graph outputs: no pass fuses one away, so that
	// RunObserved can watch it (calibration watches the activations it
	// quantizes). A name that is no value of the graph is ignored here
	// and refused by RunObserved.
	Keep []string
	// Profile records how long each node's op takes in every run
	// (Session.Profile returns the totals), as ONNX Runtime's profiling
	// does: two clock readings per node.
	Profile bool
}

// The default bound of Options.MaxMemory: what a model can amplify its
// weights and inputs into before a run is refused.
const (
	MinMemoryLimit = 1 << 30
	MemoryFactor   = 64
)

// ErrMemoryLimit is wrapped by the errors of Ctx.Alloc (so of Run and of
// constant folding) for an allocation beyond the memory bound.
var ErrMemoryLimit = errors.New("graph: memory limit exceeded")

// Session runs a graph. It is safe for concurrent use: every Run has its
// own values and buffers.
//
// A run executes the nodes in topological order with a memory plan: each
// value's last reader is known in advance, and once it has run the value's
// buffer goes back to a pool from which later nodes allocate (or the last
// reader overwrites it in place, when its op can: see Ctx.Reusable). The
// pools are kept between runs.
type Session struct {
	g       *Graph
	threads int
	steps   []step
	slots   int             // number of value slots
	slotOf  map[string]int  // value name -> slot
	names   []string        // slot -> value name
	consts  map[int]*Tensor // slot -> constant value
	inputs  []int           // slot of each graph input
	outputs []int           // slot of each graph output
	// idle holds the arenas of finished runs for the next ones (one per
	// run in flight at most): kept across garbage collections, unlike a
	// sync.Pool's, so that a steady stream of runs allocates nothing.
	mu   sync.Mutex
	idle []*arena

	maxIn      int    // the most inputs of a node
	batch      string // the graph's batch dimension, when a run may be split (split.go)
	maxMemory  int64  // Options.MaxMemory
	constBytes int64  // bytes of the constants

	// itemBytes is the largest node output per item of a batch that a run
	// has made so far (0 before the first run of a batch): it sizes the
	// chunks of cacheChunks.
	itemBytes atomic.Int64

	// prof holds each step's op time (nanoseconds) and calls when
	// Options.Profile is set: nil otherwise.
	prof []stepTime
}

// stepTime is one step's profile: the time its op took, in nanoseconds,
// and how many times it ran.
type stepTime struct{ ns, calls atomic.Int64 }

// NodeTime is one node's profile (Session.Profile): how many times its op
// ran and how long it took in all.
type NodeTime struct {
	Name, OpType string
	Calls        int64
	Total        time.Duration
}

// step is one node with its values as slots.
type step struct {
	n        *Node
	in, out  []int // -1 for an absent value
	release  []int // slots whose last reader this step is
	reusable []bool
}

// NewSession prepares g to run (calling g.Infer if it has not been) and
// returns a session for it: for a copy of g rewritten by the passes that
// o.Optimization selects (g itself is not changed further; the session
// does not refer to it, and the weights a pass replaces — a packed
// convolution's — are g's alone). It returns the errors of Infer and of
// the passes.
func NewSession(g *Graph, o Options) (*Session, error) {
	if g.infos == nil {
		if err := g.Infer(); err != nil {
			return nil, err
		}
	}
	g, err := optimized(g, o.Optimization, o.Float, o.Keep)
	if err != nil {
		return nil, err
	}
	s := &Session{g: g, threads: o.Threads, slotOf: map[string]int{}, consts: map[int]*Tensor{}, maxMemory: o.MaxMemory}
	if o.Profile {
		s.prof = make([]stepTime, len(g.Nodes))
	}
	if s.threads <= 0 {
		s.threads = runtime.GOMAXPROCS(0)
	}
	slot := func(name string) int {
		i := slotOf(s.slotOf, &s.slots, name)
		if i == len(s.names) { // a new value
			s.names = append(s.names, name)
		}
		return i
	}
	pinned := map[int]bool{} // never released: inputs, constants, outputs
	for _, in := range g.Inputs {
		i := slot(in.Name)
		s.inputs = append(s.inputs, i)
		pinned[i] = true
	}
	for name, t := range g.Initializers {
		i := slot(name)
		if !pinned[i] {
			s.consts[i] = t
			s.constBytes += t.bytes()
			pinned[i] = true
		}
	}
	for _, o := range g.Outputs {
		i := slot(o.Name)
		s.outputs = append(s.outputs, i)
		pinned[i] = true
	}
	last := map[int]int{}
	for k, n := range g.Nodes {
		st := step{n: n, in: make([]int, len(n.Inputs)), out: make([]int, len(n.Outputs))}
		s.maxIn = max(s.maxIn, len(n.Inputs))
		for j, name := range n.Inputs {
			st.in[j] = slot(name)
			if st.in[j] >= 0 {
				last[st.in[j]] = k
			}
		}
		for j, name := range n.Outputs {
			st.out[j] = slot(name)
		}
		s.steps = append(s.steps, st)
	}
	var ins, outs []string
	for _, in := range g.Inputs {
		ins = append(ins, in.Name)
	}
	for _, o := range g.Outputs {
		outs = append(outs, o.Name)
	}
	if p, ok := batchParam(g, ins, outs); ok {
		s.batch = p
	}
	for k := range s.steps {
		st := &s.steps[k]
		st.reusable = make([]bool, len(st.in))
		uses := map[int]int{}
		for _, v := range st.in {
			uses[v]++
		}
		for j, v := range st.in {
			if v >= 0 && !pinned[v] && last[v] == k && uses[v] == 1 {
				st.reusable[j] = true
			}
		}
		for v, l := range last {
			if l == k && !pinned[v] {
				st.release = append(st.release, v)
			}
		}
	}
	return s, nil
}

// slotOf returns the slot of value name in slots (-1 for ""), giving it
// the next one, *n, when it has none.
func slotOf(slots map[string]int, n *int, name string) int {
	if name == "" {
		return -1
	}
	if i, ok := slots[name]; ok {
		return i
	}
	slots[name] = *n
	*n++
	return *n - 1
}

// Profile returns the time each node of the session's graph (Graph: the
// optimised one, whose fused nodes are named as the first node they
// replace) took in the runs since NewSession or ResetProfile, in the
// graph's node order: nil unless Options.Profile was set. A batch run in
// chunks at once (see Run) adds up the chunks' times, which can then
// exceed the run's. It is safe to call during runs.
func (s *Session) Profile() []NodeTime {
	if s.prof == nil {
		return nil
	}
	out := make([]NodeTime, len(s.steps))
	for k, st := range s.steps {
		out[k] = NodeTime{Name: st.n.Name, OpType: st.n.OpType, Calls: s.prof[k].calls.Load(), Total: time.Duration(s.prof[k].ns.Load())}
	}
	return out
}

// ResetProfile sets the times Profile returns back to zero (after a
// warm-up run, say).
func (s *Session) ResetProfile() {
	for k := range s.prof {
		s.prof[k].ns.Store(0)
		s.prof[k].calls.Store(0)
	}
}

// Graph returns the graph the session runs: the optimised copy (with
// FusedConv, FusedGemm, QConv and QMatMul nodes, in FusedDomain) unless
// OptimizeNone.
func (s *Session) Graph() *Graph { return s.g }

// Run computes the graph outputs for the given inputs (by graph input
// name) and returns them by output name. It returns an error for a missing,
// unknown or mis-typed input, an input whose shape contradicts a known
// dimension of the graph's, and the first error of a node (naming it).
//
// A run of a batch of several items on a graph that computes each item
// from its own alone (SplitsBatch: most image classifiers and encoders)
// splits the batch into chunks: with more than one thread, chunks that
// run at once, each on its share of the threads; and chunks small enough
// that no node makes more than 8 MiB of output (the size of an item's
// largest output is known from the session's first run of a batch), so
// that a model of large activations keeps them in the cache. The outputs
// are the whole run's (bit for bit on every reference model: the kernels
// compute an item the same way in any batch). RunObserved runs whole.
func (s *Session) Run(inputs map[string]*Tensor) (map[string]*Tensor, error) {
	n, workers := s.splitParts(inputs)
	chunks := s.cacheChunks(n)
	if workers > 1 {
		chunks = max(chunks, min(n, chunksPerWorker*workers))
	}
	if chunks > 1 {
		return s.splitRun(inputs, n, workers, chunks)
	}
	return s.run(inputs, nil, nil, s.threads, nil, 0)
}

// RunObserved is Run that also shows the values named in watch to
// observe, each once, as soon as it is known: the graph inputs and
// constants before the first node runs, a node's outputs right after the
// node has run, in the order of the nodes — before the memory plan
// recycles or overwrites their buffers, so that observing costs no
// memory. It is how calibration sees the float activations of a graph it
// does not change.
//
// The tensor is valid only during the call: observe must neither modify
// nor keep it (copy what it needs). Calls come from the goroutine that
// called RunObserved. An error of observe ends the run; RunObserved
// returns it, prefixed with the value's name. Other errors are Run's, and
// an error for a watched name that is no value of the session's graph
// (after constant folding: a folded value that no node reads is gone; and
// after the optimizer: name the values to watch in Options.Keep).
func (s *Session) RunObserved(inputs map[string]*Tensor, watch []string, observe func(name string, t *Tensor) error) (map[string]*Tensor, error) {
	watched := make([]bool, s.slots)
	for _, name := range watch {
		i, ok := s.slotOf[name]
		if !ok {
			return nil, fmt.Errorf("graph: run: watched value %q is not a value of the graph", name)
		}
		watched[i] = true
	}
	return s.run(inputs, watched, observe, s.threads, nil, 0)
}

// run is Run, whole, on the given number of threads, calling observe for
// the slots that watched marks (see RunObserved). It counts the bytes in
// use in live (a new counter if nil: the chunks of a split run share one)
// against limit (if 0, the session's bound for these inputs).
func (s *Session) run(inputs map[string]*Tensor, watched []bool, observe func(name string, t *Tensor) error,
	threads int, live *atomic.Int64, limit int64) (map[string]*Tensor, error) {
	show := func(slots []int, vals []*Tensor) error {
		for _, v := range slots {
			if v >= 0 && watched != nil && watched[v] {
				watched[v] = false // once, even if a slot is listed twice
				if err := observe(s.names[v], vals[v]); err != nil {
					return fmt.Errorf("graph: run: observing %q: %w", s.names[v], err)
				}
			}
		}
		return nil
	}
	vals := make([]*Tensor, s.slots)
	for i, v := range s.consts {
		vals[i] = v
	}
	if len(inputs) != len(s.g.Inputs) {
		for name := range inputs {
			if _, ok := s.slotOf[name]; !ok || !s.isInput(name) {
				return nil, fmt.Errorf("graph: run: %q is not an input of the graph", name)
			}
		}
	}
	var inBytes int64
	for k, spec := range s.g.Inputs {
		t, ok := inputs[spec.Name]
		if !ok || t == nil {
			return nil, fmt.Errorf("graph: run: input %q is missing", spec.Name)
		}
		if err := checkInput(spec, t); err != nil {
			return nil, err
		}
		vals[s.inputs[k]] = t
		inBytes += t.bytes()
	}
	if watched != nil {
		var known []int
		for i, v := range vals {
			if v != nil {
				known = append(known, i)
			}
		}
		if err := show(known, vals); err != nil {
			return nil, err
		}
	}
	a := s.getArena()
	defer s.putArena(a)
	ctx := newCtx(a, threads)
	if live != nil {
		ctx.live = live
	}
	ctx.limit = limit
	if limit == 0 {
		ctx.limit = s.limit(inBytes)
	}
	inBuf := make([]*Tensor, s.maxIn)
	var peak int64
	for k, st := range s.steps {
		in := inBuf[:len(st.in)]
		for j, v := range st.in {
			in[j] = nil
			if v >= 0 {
				in[j] = vals[v]
			}
		}
		ctx.reusable = st.reusable
		var t0 time.Time
		if s.prof != nil {
			t0 = time.Now()
		}
		out, err := st.n.Op.Run(ctx, in)
		if s.prof != nil {
			s.prof[k].ns.Add(int64(time.Since(t0)))
			s.prof[k].calls.Add(1)
		}
		if err != nil {
			return nil, nodeErr(st.n, err)
		}
		if err := checkAliasing(st, in, out); err != nil {
			return nil, nodeErr(st.n, err)
		}
		for j, v := range st.out {
			if v >= 0 {
				vals[v] = out[j]
			}
		}
		if err := show(st.out, vals); err != nil {
			return nil, err
		}
		for _, t := range out {
			if t != nil {
				peak = max(peak, t.bytes())
			}
		}
		for _, v := range st.release {
			if t := vals[v]; t != nil && !aliases(t, out) {
				a.put(t)
				ctx.live.Add(-t.bytes())
			}
			vals[v] = nil
		}
	}
	if s.batch != "" && len(s.g.Inputs) > 0 {
		if t := inputs[s.g.Inputs[0].Name]; len(t.Shape) > 0 && t.Shape[0] > 0 {
			s.noteItemBytes(peak / int64(t.Shape[0]))
		}
	}
	res := make(map[string]*Tensor, len(s.outputs))
	for k, o := range s.g.Outputs {
		res[o.Name] = vals[s.outputs[k]]
	}
	return res, nil
}

// limit returns the memory bound of a run whose inputs take inBytes.
func (s *Session) limit(inBytes int64) int64 {
	if s.maxMemory != 0 {
		return s.maxMemory
	}
	return max(MinMemoryLimit, MemoryFactor*(s.constBytes+inBytes))
}

// getArena returns an idle arena, or a new one.
func (s *Session) getArena() *arena {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.idle); n > 0 {
		a := s.idle[n-1]
		s.idle = s.idle[:n-1]
		return a
	}
	return &arena{}
}

// putArena keeps a finished run's arena for the next run.
func (s *Session) putArena(a *arena) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idle = append(s.idle, a)
}

func (s *Session) isInput(name string) bool {
	for _, in := range s.g.Inputs {
		if in.Name == name {
			return true
		}
	}
	return false
}

// aliases reports whether t's buffer is one of out's.
func aliases(t *Tensor, out []*Tensor) bool {
	for _, o := range out {
		if o != nil && sameBuffer(t, o) {
			return true
		}
	}
	return false
}

// checkAliasing checks that the op returned one tensor per output and
// that none shares memory with an input it may not overwrite: the memory
// plan relies on it (a view of a constant would be recycled with the
// view).
func checkAliasing(st step, in, out []*Tensor) error {
	if len(out) != len(st.out) {
		return fmt.Errorf("the op returned %d outputs, the node has %d", len(out), len(st.out))
	}
	for j, t := range in {
		if t == nil || st.reusable[j] {
			continue
		}
		if aliases(t, out) {
			return fmt.Errorf("the op returned a view of input %d, which it may not overwrite", j)
		}
	}
	return nil
}

// checkInput checks a run input against its spec.
func checkInput(spec ValueSpec, t *Tensor) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("graph: run: input %q: %w", spec.Name, err)
	}
	if t.DType != spec.DType {
		return fmt.Errorf("graph: run: input %q is %v, the graph wants %v", spec.Name, t.DType, spec.DType)
	}
	if len(t.Shape) != len(spec.Shape) {
		return fmt.Errorf("graph: run: input %q has shape %v, the graph wants %s", spec.Name, t.Shape, ShapeString(spec.Shape))
	}
	for i, d := range spec.Shape {
		if d.Known() && d.Size != t.Shape[i] {
			return fmt.Errorf("graph: run: input %q has shape %v, the graph wants %s", spec.Name, t.Shape, ShapeString(spec.Shape))
		}
	}
	return nil
}

// Ctx is what an Op's Run gets from the executor: buffers, the inputs it
// may overwrite, and the goroutines it may use.
type Ctx struct {
	arena    *arena
	threads  int
	reusable []bool
	limit    int64         // bound of live; negative: none
	live     *atomic.Int64 // bytes allocated and not yet released
}

func newCtx(a *arena, threads int) *Ctx {
	if a == nil {
		a = &arena{}
	}
	return &Ctx{arena: a, threads: threads, limit: -1, live: new(atomic.Int64)}
}

// Alloc returns a tensor of element type t and the given shape whose
// contents are unspecified (a reused buffer keeps old values): the op must
// write every element. It returns an error for an unsupported type or an
// invalid shape, and one that wraps ErrMemoryLimit when the tensor would
// take the run past its memory bound (Options.MaxMemory).
func (c *Ctx) Alloc(t onnx.DataType, shape ...int) (*Tensor, error) {
	if !Supported(t) {
		return nil, fmt.Errorf("element type %v is not supported", t)
	}
	n, err := tensor.NumelOf(shape)
	if err != nil {
		return nil, err
	}
	x := &Tensor{DType: t, Shape: append([]int{}, shape...)}
	if err := c.reserve(x, n); err != nil {
		return nil, err
	}
	c.arena.get(x, n)
	return x, nil
}

// maxAllocBytes is more than any machine holds, and few enough that the
// counts below cannot overflow: an allocation beyond it is refused even
// without a bound (make would panic).
const maxAllocBytes = 1 << 50

// reserve counts n elements of x's type against the memory bound.
func (c *Ctx) reserve(x *Tensor, n int) error {
	size := int64(elemBytes(x.DType))
	if int64(n) > maxAllocBytes/size {
		return fmt.Errorf("%w: %v%v takes more than %d bytes", ErrMemoryLimit, x.DType, x.Shape, int64(maxAllocBytes))
	}
	b := int64(n) * size
	if live := c.live.Add(b); c.limit >= 0 && live > c.limit {
		c.live.Add(-b)
		return fmt.Errorf("%w: %v%v takes %d bytes, with %d in use the limit is %d", ErrMemoryLimit, x.DType, x.Shape, b, live-b, c.limit)
	}
	return nil
}

// fits returns the error Alloc would return for a tensor of element type
// t and the given shape, without allocating it: an op whose scratch data
// grows with its output's shape checks the output first.
func (c *Ctx) fits(t onnx.DataType, shape ...int) error {
	n, err := tensor.NumelOf(shape)
	if err != nil {
		return err
	}
	x := &Tensor{DType: t, Shape: shape}
	if err := c.reserve(x, n); err != nil {
		return err
	}
	c.live.Add(-int64(n) * int64(elemBytes(t)))
	return nil
}

// scratch returns a float32 buffer of n elements (contents unspecified)
// for an op's own use during its Run, counted against the memory bound
// until release gives it back.
func (c *Ctx) scratch(n int) ([]float32, error) {
	x := &Tensor{DType: onnx.Float, Shape: []int{n}}
	if err := c.reserve(x, n); err != nil {
		return nil, err
	}
	return c.arena.f32.get(n), nil
}

// release gives back a buffer from scratch.
func (c *Ctx) release(b []float32) {
	c.live.Add(-4 * int64(len(b)))
	c.arena.f32.put(b)
}

// Zeros is Alloc with every element zero.
func (c *Ctx) Zeros(t onnx.DataType, shape ...int) (*Tensor, error) {
	x, err := c.Alloc(t, shape...)
	if err != nil {
		return nil, err
	}
	clear(x.F32)
	clear(x.F64)
	clear(x.I64)
	clear(x.I32)
	clear(x.I8)
	clear(x.U8)
	return x, nil
}

// Reusable reports whether input i may be overwritten and returned as an
// output (this node is its last reader, it is not a graph input, output or
// constant, and the node does not read it twice).
func (c *Ctx) Reusable(i int) bool { return i < len(c.reusable) && c.reusable[i] }

// Threads returns the number of goroutines an op may use.
func (c *Ctx) Threads() int { return c.threads }

// Parallel calls fn on consecutive ranges [lo, hi) that cover [0, n), on
// up to Threads goroutines (internal/par's workers), each range at least
// grain long (grain < 1 is 1), and returns when all have returned. With one thread or a small n it
// calls fn(0, n) on the calling goroutine.
func (c *Ctx) Parallel(n, grain int, fn func(lo, hi int)) {
	grain = max(grain, 1)
	parts := min(c.threads, (n+grain-1)/grain)
	if parts <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	par.Do(parts, func(p int) { fn(n*p/parts, n*(p+1)/parts) })
}
