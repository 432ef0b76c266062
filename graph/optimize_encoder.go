package graph

import (
	"fmt"
	"math"
	"slices"

	"github.com/tensorquant/tensorquant/internal/gemm"
	"github.com/tensorquant/tensorquant/internal/vec"
	"github.com/tensorquant/tensorquant/internal/vecmath"
	"github.com/tensorquant/tensorquant/onnx"
)

// The passes of transformer encoders as PyTorch exports them: the
// Erf-based Gelu subgraph as one Gelu; LayerNorm exported as its
// primitive ops (before opset 17) as one LayerNormalization; MatMul with a constant weight,
// bias row, residual Add and activation as one GEMM with the weight
// packed once and the rest in its epilogue (FusedMatMul); and the core of
// nn.MultiheadAttention (Transposes, scaling, MatMul, Softmax, MatMul,
// Transpose) as one attentionOp, which then reads Q, K and V in place
// from the projection they are sliced from.

func init() {
	RegisterPass(Pass{Name: "fuse-gelu", Stage: StageFuse - 10, Apply: fuseGelu})
	RegisterPass(Pass{Name: "fuse-layernorm", Stage: StageFuse - 10, Apply: fuseLayerNorm})
	RegisterPass(Pass{Name: "fuse-attention", Stage: StageFuse, Exact: true, Apply: func(r *Rewriter) error { return fuseAttention(r, true) }})
	RegisterPass(Pass{Name: "fuse-attention-scaled", Stage: StageFuse, Apply: func(r *Rewriter) error { return fuseAttention(r, false) }})
	RegisterPass(Pass{Name: "fuse-matmul", Stage: StageFuse, Exact: true, Apply: fuseMatMul})
	RegisterPass(Pass{Name: "attention-views", Stage: StageFuse + 1, Exact: true, Apply: attentionViews})
}

// scalarConst returns the value of a constant FLOAT scalar (any shape of
// one element), and whether there is one.
func scalarConst(r *Rewriter, name string) (float32, bool) {
	t := constFloat(r, name)
	if t == nil || t.Len() != 1 {
		return 0, false
	}
	return t.F32[0], true
}

// other returns the operand of the two-input node n that is not value, or
// "" when n does not read value exactly once.
func other(n *Node, value string) string {
	if len(n.Inputs) != 2 || (n.Inputs[0] == value) == (n.Inputs[1] == value) {
		return ""
	}
	if n.Inputs[0] == value {
		return n.Inputs[1]
	}
	return n.Inputs[0]
}

// isScalar reports whether value is the constant scalar v (within a
// relative 1e-6: √2 and 1/√2 are written with more or fewer digits).
func isScalar(r *Rewriter, value string, v float64) bool {
	c, ok := scalarConst(r, value)
	return ok && math.Abs(float64(c)-v) <= 1e-6*math.Abs(v)
}

// fuseGelu replaces x·(erf(x/√2) + 1)·0.5 (PyTorch's export of
// nn.GELU(), also with x·0.5 first or (erf + 1)·0.5, and x·(1/√2) for
// the division) by one Gelu node, which computes it with vecmath.Gelu in
// one pass. The result differs from the chain's by the roundings the
// chain makes (vecmath.Gelu is within 3.2 ulp of the exact function).
func fuseGelu(r *Rewriter) error {
	for _, erf := range r.Nodes() {
		if !onnxOp(erf, "Erf") || !r.Alive(erf) {
			continue
		}
		div := r.producer(erf.Inputs[0])
		if div == nil || r.SoleReader(div.Outputs[0]) != erf {
			continue
		}
		var x string
		switch {
		case onnxOp(div, "Div") && len(div.Inputs) == 2 && isScalar(r, div.Inputs[1], math.Sqrt2):
			x = div.Inputs[0]
		case onnxOp(div, "Mul"):
			for _, in := range div.Inputs {
				if isScalar(r, other(div, in), 1/math.Sqrt2) {
					x = in
				}
			}
		}
		if in := r.Info(x); x == "" || in == nil || in.DType != onnx.Float {
			continue
		}
		add := r.SoleReader(erf.Outputs[0])
		if !onnxOp(add, "Add") || !isScalar(r, other(add, erf.Outputs[0]), 1) {
			continue
		}
		chain, out := geluProduct(r, x, add.Outputs[0])
		if chain == nil {
			continue
		}
		op, err := geluBuilder()
		if err != nil {
			return err
		}
		r.Replace(append([]*Node{div, erf, add}, chain...), &Node{Name: erf.Name + "_gelu", OpType: "Gelu",
			Inputs: []string{x}, Outputs: []string{out}, Op: op})
	}
	return nil
}

// geluProduct matches the product of x, 0.5 and e (= erf(x/√2) + 1) as
// one of x·e·0.5, (x·0.5)·e, x·(e·0.5), and returns its Mul nodes and
// output.
func geluProduct(r *Rewriter, x, e string) ([]*Node, string) {
	m := r.SoleReader(e)
	if !onnxOp(m, "Mul") {
		return nil, ""
	}
	f := other(m, e)
	switch {
	case f == x:
		// x·e, then ·0.5.
		h := r.SoleReader(m.Outputs[0])
		if onnxOp(h, "Mul") && isScalar(r, other(h, m.Outputs[0]), 0.5) {
			return []*Node{m, h}, h.Outputs[0]
		}
	case isScalar(r, f, 0.5):
		// e·0.5, then x·.
		h := r.SoleReader(m.Outputs[0])
		if onnxOp(h, "Mul") && other(h, m.Outputs[0]) == x {
			return []*Node{m, h}, h.Outputs[0]
		}
	default:
		// (x·0.5)·e.
		h := r.producer(f)
		if onnxOp(h, "Mul") && r.SoleReader(f) == m && isScalar(r, other(h, x), 0.5) {
			return []*Node{h, m}, m.Outputs[0]
		}
	}
	return nil, ""
}

// geluBuilder builds the op of an ONNX Gelu node (approximate "none").
func geluBuilder() (Op, error) {
	b, ok := lookup("", "Gelu")
	if !ok {
		return nil, fmt.Errorf("no Gelu op")
	}
	return b(&NodeDef{OpType: "Gelu", Opset: 20, Attrs: NewAttrs(nil), NumInputs: 1, NumOutputs: 1, Const: make([]*Tensor, 1)})
}

// geluAfter returns the Gelu (approximate "none" or "tanh") that alone
// reads value, as an activation, or nil.
func geluAfter(r *Rewriter, value string) *activation {
	if in := r.Info(value); in == nil || in.DType != onnx.Float {
		return nil
	}
	n := r.SoleReader(value)
	if !onnxOp(n, "Gelu") || len(n.Outputs) != 1 {
		return nil
	}
	u, ok := n.Op.(*unaryOp)
	if !ok || u.f32 == nil {
		return nil
	}
	return &activation{name: "Gelu", act: vec.Act{Kind: vec.Func, Func: u.f32}, nodes: []*Node{n}, out: n.Outputs[0], quantized: u.quantized}
}

// fuseMatMul replaces a MatMul whose B is a constant matrix [K, N] (and A
// of rank 2 or more), with the Add of a constant bias row [N] that alone
// reads its output, then an Add of another value of the output's shape
// (a residual), then an activation (each optional, in that order), by a
// FusedMatMul: B packed once, and the rest applied by the GEMM's epilogue
// to each tile of the product, which computes the separate ops' bits.
func fuseMatMul(r *Rewriter) error {
	for _, n := range r.Nodes() {
		if !onnxOp(n, "MatMul") || !r.Alive(n) {
			continue
		}
		w := constFloat(r, n.Inputs[1])
		a := r.Info(n.Inputs[0])
		if w == nil || len(w.Shape) != 2 || a == nil || a.DType != onnx.Float || a.Rank() < 2 {
			continue
		}
		k, cols := w.Shape[0], w.Shape[1]
		if d := a.Shape[a.Rank()-1]; d.Known() && d.Size != k {
			continue
		}
		f := &fusedMatMulOp{k: k, n: cols}
		chain, out := []*Node{n}, n.Outputs[0]
		inputs := []string{n.Inputs[0]}
		var epilogue []string
		if add := r.SoleReader(out); onnxOp(add, "Add") {
			if b := constFloat(r, other(add, out)); b != nil && b.Len() == cols && rowShape(b.Shape, a.Rank()) {
				f.bias = b.F32
				chain, out = append(chain, add), add.Outputs[0]
				epilogue = append(epilogue, "bias")
			}
		}
		if add := r.SoleReader(out); onnxOp(add, "Add") {
			if z := other(add, out); z != "" && r.Const(z) == nil && sameShape(r.Info(z), r.Info(out)) {
				f.residual = true
				inputs = append(inputs, z)
				chain, out = append(chain, add), add.Outputs[0]
				epilogue = append(epilogue, "Add")
			}
		}
		act := activationAfter(r, out)
		if act == nil {
			act = geluAfter(r, out)
		}
		if act != nil {
			f.act = act.act
			chain, out = append(chain, act.nodes...), act.out
			epilogue = append(epilogue, act.name)
		}
		f.b = gemm.PackB(false, k, cols, w.F32, max(cols, 1))
		r.Replace(chain, &Node{Name: n.Name, OpType: "FusedMatMul", Domain: FusedDomain, Inputs: inputs, Outputs: []string{out},
			Attrs: fusedAttrs(n.Attrs, epilogue, n.OpType), Op: f})
	}
	return nil
}

// rowShape reports whether a bias of shape s broadcasts as one row to an
// output of rank r without changing its shape: [N] or [1, ..., 1, N].
func rowShape(s []int, r int) bool {
	if len(s) == 0 || len(s) > r {
		return false
	}
	for _, d := range s[:len(s)-1] {
		if d != 1 {
			return false
		}
	}
	return true
}

// sameShape reports whether two values are known to have one shape.
func sameShape(a, b *Info) bool {
	if a == nil || b == nil || a.DType != b.DType || a.Rank() != b.Rank() {
		return false
	}
	for i, d := range a.Shape {
		if !d.Same(b.Shape[i]) {
			return false
		}
	}
	return true
}

// fusedMatMulOp is a MatMul by a constant [K, N] matrix, packed once,
// with an optional bias row, residual input (input 1, of the output's
// shape) and activation applied in the GEMM's epilogue: A [..., K] gives
// [..., N], its leading dimensions rows of one product.
type fusedMatMulOp struct {
	k, n     int
	b        *gemm.Packed
	bias     []float32
	residual bool
	act      vec.Act
}

func (o *fusedMatMulOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	a := in[0]
	if a.DType != onnx.Float || a.Rank() < 2 || a.Shape[a.Rank()-1].Known() && a.Shape[a.Rank()-1].Size != o.k {
		return nil, fmt.Errorf("input A is %v, want FLOAT [..., %d]", a, o.k)
	}
	out := append(slices.Clone(a.Shape[:a.Rank()-1]), Dim{Size: o.n})
	if o.residual {
		if err := need(in, 2); err != nil {
			return nil, err
		}
		if z := in[1]; z.DType != onnx.Float || z.Rank() != len(out) {
			return nil, fmt.Errorf("the residual is %v, want FLOAT of shape %s", z, ShapeString(out))
		}
	}
	return []*Info{info(onnx.Float, out)}, nil
}

func (o *fusedMatMulOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	a := in[0]
	r := len(a.Shape)
	if a.DType != onnx.Float || r < 2 || a.Shape[r-1] != o.k {
		return nil, fmt.Errorf("input A is %v, want FLOAT [..., %d]", a, o.k)
	}
	shape := append(slices.Clone(a.Shape[:r-1]), o.n)
	y, err := ctx.Alloc(onnx.Float, shape...)
	if err != nil {
		return nil, err
	}
	var z []float32
	if o.residual {
		if err := need(in, 2); err != nil {
			return nil, err
		}
		if in[1].DType != onnx.Float || !slices.Equal(in[1].Shape, shape) {
			return nil, fmt.Errorf("the residual is %v, the product's shape %v", in[1], shape)
		}
		z = in[1].F32
	}
	rows := prod(shape[:r-1])
	gemm.Gemm(&gemm.Params{M: rows, N: o.n, K: o.k, A: a.F32, LdA: max(o.k, 1), PackedB: o.b,
		C: y.F32, LdC: max(o.n, 1), Threads: ctx.Threads()})
	if o.bias == nil && z == nil && o.act.Kind == vec.None {
		return []*Tensor{y}, nil
	}
	// The bias, residual and activation go over whole rows, in vecmath's
	// kernels: in the GEMM's epilogue they would run on segments of one
	// tile's width, 16 or 32 elements, mostly call overhead.
	ctx.Parallel(rows, max(1, grainElems/max(o.n, 1)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := y.F32[i*o.n : (i+1)*o.n]
			if o.bias != nil {
				vecmath.Add(row, row, o.bias)
			}
			if z != nil {
				vecmath.Add(row, row, z[i*o.n:(i+1)*o.n])
			}
			switch o.act.Kind {
			case vec.None:
			case vec.Func:
				o.act.Func(row, row) // Apply would first add -0 to the row
			default:
				o.act.Apply(row)
			}
		}
	})
	return []*Tensor{y}, nil
}

// fuseAttention replaces the attention core of nn.MultiheadAttention's
// export, from Q, K, V as [S, N, d] (N = batch·heads) to the context as
// [S, N, d]:
//
//	Transpose(Q, [1 0 2]) / c  ·  Transpose(K, [1 2 0])  →  Softmax(axis -1)
//	  ·  Transpose(V, [1 0 2])  →  Transpose([1 0 2])
//
// (the scaling a Div by c or a Mul by 1/c, or none) by one attentionOp.
// With exact, only where the scale is a power of two (the fused op then
// computes the chain's bits); without, only where it is not.
func fuseAttention(r *Rewriter, exact bool) error {
	for _, sm := range r.Nodes() {
		if !onnxOp(sm, "Softmax") || !r.Alive(sm) {
			continue
		}
		if o, ok := sm.Op.(*softmaxOp); !ok || o.legacy || o.axis != -1 && o.axis != 2 {
			continue
		}
		m1 := r.producer(sm.Inputs[0])
		if !onnxOp(m1, "MatMul") || r.SoleReader(sm.Inputs[0]) != sm {
			continue
		}
		nodes := []*Node{m1, sm}
		q, scale, qNodes := attentionQ(r, m1)
		kt := transposeInto(r, m1.Inputs[1], m1, 1, 2, 0)
		m2 := r.SoleReader(sm.Outputs[0])
		if q == "" || kt == nil || !onnxOp(m2, "MatMul") || m2.Inputs[0] != sm.Outputs[0] {
			continue
		}
		vt := transposeInto(r, m2.Inputs[1], m2, 1, 0, 2)
		t4 := r.SoleReader(m2.Outputs[0])
		if vt == nil || !onnxOp(t4, "Transpose") || !hasPerm(t4, 1, 0, 2) {
			continue
		}
		k, v := kt.Inputs[0], vt.Inputs[0]
		qi := r.Info(q)
		if qi == nil || qi.DType != onnx.Float || qi.Rank() != 3 || !sameShape(qi, r.Info(k)) || !sameShape(qi, r.Info(v)) {
			continue
		}
		if pow2 := scale == float32(math.Ldexp(1, math.Ilogb(float64(scale)))); pow2 != exact {
			continue
		}
		nodes = append(append(nodes, qNodes...), kt, m2, vt, t4)
		r.Replace(nodes, &Node{Name: sm.Name + "_attention", OpType: "Attention", Domain: FusedDomain,
			Inputs: []string{q, k, v}, Outputs: slices.Clone(t4.Outputs), Op: &attentionOp{scale: scale}})
	}
	return nil
}

// attentionViews lets each attentionOp read Q, K and V where the export
// slices them from one projection [S, B, 3E] (Slice of the last axis,
// then Reshape to [S, N, d]): the op reads the projection's columns in
// place, and the Reshapes go, with their shape arithmetic and the Slices
// (copies) when nothing else reads them (the export takes a Shape of
// each Slice for its Reshape). The reshape keeps S and splits E into
// heads of size d, so head n of the view is item n/(E/d), columns start +
// (n mod E/d)·d: the same values, the same bits.
func attentionViews(r *Rewriter) error {
	for _, n := range r.Nodes() {
		o, ok := n.Op.(*attentionOp)
		if !ok || o.views != nil || !r.Alive(n) {
			continue
		}
		var views [3]headView
		inputs := slices.Clone(n.Inputs)
		var removed []*Node
		var shapes []string
		d := 0
		for i, value := range n.Inputs {
			rs, sl, v, ok := slicedHeads(r, n, value)
			if !ok || d != 0 && r.Info(value).Shape[2].Size != d {
				continue
			}
			d = r.Info(value).Shape[2].Size
			views[i], inputs[i] = v, sl.Inputs[0]
			removed = append(removed, rs)
			shapes = append(shapes, rs.Inputs[1], rs.Inputs[0])
		}
		if removed == nil {
			continue
		}
		c := *n
		c.Inputs = inputs
		c.Op = &attentionOp{scale: o.scale, views: &views, d: d, out: slices.Clone(r.Info(n.Outputs[0]).Shape)}
		r.Replace(append(removed, n), &c)
		for _, v := range shapes {
			if v != "" {
				r.removeUnread(v)
			}
		}
	}
	return nil
}

// slicedHeads matches value, read by the attention a alone (and once: Q,
// K and V of one value stay as they are): a Reshape to
// [S, N, d] (d known) of a Slice of the last axis of [S, B, W] (step 1, W
// known, a width that is a multiple of d). It returns the Reshape, the
// Slice and the columns.
func slicedHeads(r *Rewriter, a *Node, value string) (rs, sl *Node, v headView, ok bool) {
	rs = r.producer(value)
	if !onnxOp(rs, "Reshape") || r.SoleReader(value) != a || r.IsOutput(value) {
		return nil, nil, v, false
	}
	sliced := rs.Inputs[0]
	sl = r.producer(sliced)
	if !onnxOp(sl, "Slice") {
		return nil, nil, v, false
	}
	so, isSlice := sl.Op.(*sliceOp)
	x, y := r.Info(sl.Inputs[0]), r.Info(value)
	if !isSlice || x == nil || y == nil || x.DType != onnx.Float || x.Rank() != 3 || y.Rank() != 3 ||
		!x.Shape[2].Known() || !y.Shape[2].Known() || y.Shape[2].Size == 0 || !x.Shape[0].Same(y.Shape[0]) {
		return nil, nil, v, false
	}
	in := make([]*Info, len(sl.Inputs))
	for i, name := range sl.Inputs {
		if name != "" {
			in[i] = r.Info(name)
		}
	}
	starts, ends, axes, steps, known := so.params(in)
	if !known {
		return nil, nil, v, false
	}
	plan, err := slicePlan(x.Shape, starts, ends, axes, steps)
	if err != nil || len(plan) != 1 || plan[0].axis != 2 || plan[0].step != 1 || plan[0].count <= 0 || plan[0].count%y.Shape[2].Size != 0 {
		return nil, nil, v, false
	}
	return rs, sl, headView{start: plan[0].start, width: plan[0].count}, true
}

// attentionQ matches the first operand of the scores MatMul m: Q
// transposed to [N, S, d] and scaled (divided by a constant c, multiplied
// by a constant, or neither), and returns Q, the scale and the nodes.
func attentionQ(r *Rewriter, m *Node) (string, float32, []*Node) {
	qs := m.Inputs[0]
	s := r.producer(qs)
	if s == nil || r.SoleReader(qs) != m {
		return "", 0, nil
	}
	scale := float32(1)
	nodes := []*Node{}
	if onnxOp(s, "Div") || onnxOp(s, "Mul") {
		c, ok := scalarConst(r, s.Inputs[1])
		if !ok || !(c > 0) || math.IsInf(float64(c), 0) {
			return "", 0, nil
		}
		scale = c
		if onnxOp(s, "Div") {
			scale = 1 / c
		}
		nodes = append(nodes, s)
		qs = s.Inputs[0]
		s = r.producer(qs)
	}
	if t := transposeInto(r, qs, nodes0(nodes, m), 1, 0, 2); t != nil && t == s {
		return t.Inputs[0], scale, append(nodes, t)
	}
	return "", 0, nil
}

// nodes0 returns the first of nodes, or m when there is none: the reader
// of the transposed Q.
func nodes0(nodes []*Node, m *Node) *Node {
	if len(nodes) > 0 {
		return nodes[0]
	}
	return m
}

// transposeInto returns the Transpose with permutation perm that writes
// value, when reader alone reads it, or nil.
func transposeInto(r *Rewriter, value string, reader *Node, perm ...int) *Node {
	t := r.producer(value)
	if !onnxOp(t, "Transpose") || !hasPerm(t, perm...) || r.SoleReader(value) != reader {
		return nil
	}
	return t
}

// hasPerm reports whether the Transpose t permutes with perm.
func hasPerm(t *Node, perm ...int) bool {
	o, ok := t.Op.(*transposeOp)
	return ok && slices.Equal(o.perm, perm)
}

// lastAxisMean reports whether n is a ReduceMean over the last axis of
// its input only, keeping the dimension.
func lastAxisMean(r *Rewriter, n *Node) bool {
	o, ok := n.Op.(*reduceOp)
	x := r.Info(n.Inputs[0])
	if !onnxOp(n, "ReduceMean") || !ok || o.kind != reduceMean || !o.keepDims || x == nil || x.Rank() == 0 {
		return false
	}
	var axes *Info
	if len(n.Inputs) > 1 && n.Inputs[1] != "" {
		axes = r.Info(n.Inputs[1])
	}
	red, known, err := o.reduced(x.Rank(), axes)
	if err != nil || !known || red == nil {
		return false
	}
	for i, v := range red {
		if v != (i == len(red)-1) {
			return false
		}
	}
	return true
}

// fuseLayerNorm replaces LayerNorm as PyTorch exports it before opset 17,
//
//	m = ReduceMean(x, -1); d = x - m; v = ReduceMean(d^2, -1)
//	y = d / Sqrt(v + epsilon) · Scale + B
//
// (Scale and B constants, B optional) by one LayerNormalization over the
// last axis, which computes it with vecmath.LayerNorm in one pass: within
// float32 rounding of the chain (it multiplies by 1/sqrt(v + epsilon)
// rather than dividing, and sums in 16 lanes).
func fuseLayerNorm(r *Rewriter) error {
	for _, mean := range r.Nodes() {
		if !r.Alive(mean) || !lastAxisMean(r, mean) {
			continue
		}
		x := mean.Inputs[0]
		if in := r.Info(x); in == nil || in.DType != onnx.Float {
			continue
		}
		sub := r.SoleReader(mean.Outputs[0])
		if !onnxOp(sub, "Sub") || len(sub.Inputs) != 2 || sub.Inputs[0] != x || sub.Inputs[1] != mean.Outputs[0] {
			continue
		}
		d := sub.Outputs[0]
		readers := r.Readers(d)
		if len(readers) != 2 || r.IsOutput(d) {
			continue
		}
		pow, div := readers[0], readers[1]
		if onnxOp(pow, "Div") {
			pow, div = div, pow
		}
		if !onnxOp(pow, "Pow") || pow.Inputs[0] != d || !isScalar(r, pow.Inputs[1], 2) || !onnxOp(div, "Div") || div.Inputs[0] != d {
			continue
		}
		vmean := r.SoleReader(pow.Outputs[0])
		if vmean == nil || !lastAxisMean(r, vmean) {
			continue
		}
		add := r.SoleReader(vmean.Outputs[0])
		if !onnxOp(add, "Add") {
			continue
		}
		eps, ok := scalarConst(r, other(add, vmean.Outputs[0]))
		sqrt := r.SoleReader(add.Outputs[0])
		if !ok || !onnxOp(sqrt, "Sqrt") || r.SoleReader(sqrt.Outputs[0]) != div || div.Inputs[1] != sqrt.Outputs[0] {
			continue
		}
		n := r.Info(x).Shape[r.Info(x).Rank()-1]
		mul := r.SoleReader(div.Outputs[0])
		if !onnxOp(mul, "Mul") {
			continue
		}
		scale := constFloat(r, other(mul, div.Outputs[0]))
		if scale == nil || len(scale.Shape) != 1 || !n.Known() || scale.Shape[0] != n.Size {
			continue
		}
		chain, out := []*Node{mean, sub, pow, vmean, add, sqrt, div, mul}, mul.Outputs[0]
		inputs := []string{x, other(mul, div.Outputs[0])}
		if b := r.SoleReader(out); onnxOp(b, "Add") {
			if bias := constFloat(r, other(b, out)); bias != nil && len(bias.Shape) == 1 && bias.Shape[0] == n.Size {
				inputs = append(inputs, other(b, out))
				chain, out = append(chain, b), b.Outputs[0]
			}
		}
		build, ok := lookup("", "LayerNormalization")
		if !ok {
			return fmt.Errorf("no LayerNormalization op")
		}
		attrs := []onnx.Attribute{onnx.IntAttr("axis", -1), onnx.FloatAttr("epsilon", eps)}
		op, err := build(&NodeDef{OpType: "LayerNormalization", Opset: 17, Attrs: NewAttrs(attrs), NumInputs: len(inputs), NumOutputs: 1, Const: make([]*Tensor, len(inputs))})
		if err != nil {
			return err
		}
		r.Replace(chain, &Node{Name: mean.Name + "_layernorm", OpType: "LayerNormalization", Inputs: inputs, Outputs: []string{out}, Attrs: attrs, Op: op})
	}
	return nil
}
