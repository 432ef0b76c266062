package graph

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"

	"github.com/tensorquant/tensorquant/internal/gemm"
	"github.com/tensorquant/tensorquant/internal/nn"
	"github.com/tensorquant/tensorquant/internal/vec"
	"github.com/tensorquant/tensorquant/internal/vecmath"
	"github.com/tensorquant/tensorquant/onnx"
)

// The built-in passes: Identity and Dropout removed, nodes whose outputs
// nothing reads removed, BatchNormalization
// folded into the convolution before it, and convolutions and Gemm fused
// with their bias, residual Add and activation into one op with packed
// weights.

func init() {
	RegisterPass(Pass{Name: "remove-identity", Stage: StageCleanup, Exact: true, Apply: removeIdentity})
	RegisterPass(Pass{Name: "remove-unread", Stage: StageCleanup + 1, Exact: true, Apply: removeUnreadNodes})
	RegisterPass(Pass{Name: "fold-batchnorm", Stage: StageFold, Apply: foldBatchNorm})
	RegisterPass(Pass{Name: "fuse-conv-winograd", Stage: StageFuse - 1, Apply: func(r *Rewriter) error { return fuseConv(r, true) }})
	RegisterPass(Pass{Name: "fuse-conv", Stage: StageFuse, Exact: true, Apply: func(r *Rewriter) error { return fuseConv(r, false) }})
	RegisterPass(Pass{Name: "fuse-gemm", Stage: StageFuse, Exact: true, Apply: fuseGemm})
	RegisterPass(Pass{Name: "fuse-silu", Stage: StageFuse + 50, Exact: true, Apply: fuseSiLU})
}

// FusedDomain is the domain of the op types the passes create
// ("FusedConv", "FusedGemm", and the int8 pass's "QConv", "QMatMul"):
// they exist only in optimised graphs, never in a file.
const FusedDomain = "tensorquant.fused"

// onnxOp reports whether n is op type opType of the ONNX domain.
func onnxOp(n *Node, opType string) bool {
	return n != nil && n.OpType == opType && normDomain(n.Domain) == ""
}

// removeIdentity bypasses Identity nodes and Dropout nodes whose mask
// nobody reads, unless their output is a graph output.
func removeIdentity(r *Rewriter) error {
	for _, n := range r.Nodes() {
		switch {
		case onnxOp(n, "Identity"):
		case onnxOp(n, "Dropout") && (len(n.Outputs) < 2 || n.Outputs[1] == "" || len(r.Readers(n.Outputs[1])) == 0 && !r.IsOutput(n.Outputs[1])):
		default:
			continue
		}
		r.Bypass(n, n.Inputs[0], n.Outputs[0])
	}
	return nil
}

// constFloat returns the constant FLOAT value called name, or nil.
func constFloat(r *Rewriter, name string) *Tensor {
	if t := r.Const(name); t != nil && t.DType == onnx.Float {
		return t
	}
	return nil
}

// foldBatchNorm folds a BatchNormalization (inference, constant
// parameters) that alone reads the output of a Conv with a constant
// weight (and bias) into the Conv's weight and bias, as ONNX Runtime's
// ConvBNFusion does, in float32 and in its order: s = scale /
// sqrt(var + epsilon), W' = W·s per output channel, B' = (B - mean)·s +
// beta, or beta - mean·s without B. The separate ops compute
// ((x - mean)/sqrt(var + epsilon))·scale + beta in float64 from the
// convolution's float32 output, so the folded outputs differ from theirs
// by a few float32 roundings (as ONNX Runtime's do).
func foldBatchNorm(r *Rewriter) error {
	for _, bn := range r.Nodes() {
		if !onnxOp(bn, "BatchNormalization") || len(bn.Outputs) != 1 || len(bn.Inputs) != 5 {
			continue
		}
		norm, ok := bn.Op.(*normOp)
		if !ok || norm.instance {
			continue
		}
		conv := r.producer(bn.Inputs[0])
		if !onnxOp(conv, "Conv") || r.SoleReader(bn.Inputs[0]) != bn {
			continue
		}
		if _, ok := conv.Op.(*convOp); !ok {
			continue
		}
		w := constFloat(r, conv.Inputs[1])
		if w == nil || len(w.Shape) < 3 {
			continue
		}
		M := w.Shape[0]
		params := make([][]float32, 4)
		for i := range params {
			t := constFloat(r, bn.Inputs[1+i])
			if t == nil || len(t.Shape) != 1 || t.Shape[0] != M {
				params = nil
				break
			}
			params[i] = t.F32
		}
		var b []float32
		if len(conv.Inputs) > 2 && conv.Inputs[2] != "" {
			bt := constFloat(r, conv.Inputs[2])
			if bt == nil || len(bt.Shape) != 1 || bt.Shape[0] != M {
				continue
			}
			b = bt.F32
		}
		if params == nil {
			continue
		}
		scale, beta, mean, variance := params[0], params[1], params[2], params[3]
		per := len(w.F32) / M
		nw := &Tensor{DType: onnx.Float, Shape: slices.Clone(w.Shape), F32: make([]float32, len(w.F32))}
		nb := &Tensor{DType: onnx.Float, Shape: []int{M}, F32: make([]float32, M)}
		for c := range M {
			s := scale[c] / float32(math.Sqrt(float64(variance[c]+norm.eps)))
			for i, v := range w.F32[c*per : (c+1)*per] {
				nw.F32[c*per+i] = v * s
			}
			if b != nil {
				nb.F32[c] = (b[c]-mean[c])*s + beta[c]
			} else {
				nb.F32[c] = beta[c] - mean[c]*s
			}
		}
		folded := *conv
		folded.Inputs = []string{conv.Inputs[0], r.AddConst(conv.Inputs[1]+"_bnfolded", nw), r.AddConst(bn.Inputs[2]+"_bnfolded", nb)}
		folded.Outputs = slices.Clone(bn.Outputs)
		r.Replace([]*Node{conv, bn}, &folded)
	}
	return nil
}

// producer returns the node that writes value, or nil.
func (r *Rewriter) producer(value string) *Node {
	for _, n := range r.nodes {
		if n != nil && slices.Contains(n.Outputs, value) {
			return n
		}
	}
	return nil
}

// activation is an element-wise function of one FLOAT input that a fused
// op applies to its output: the float32 kernel of the node (or nodes) it
// replaces, so that the fused op computes the same bits.
type activation struct {
	name  string
	act   vec.Act
	nodes []*Node // the nodes that compute it
	out   string  // its output
	// quantized is the op's kernel for values quantized next (see
	// unaryOp), or nil.
	quantized func(d, x []float32)
}

// activationAfter returns the activation that alone reads value (and
// FLOAT), or nil: Relu, LeakyRelu, Sigmoid, HardSigmoid, HardSwish, Clip
// with constant bounds, or SiLU (x·Sigmoid(x): a Sigmoid and a Mul that
// are value's only readers).
func activationAfter(r *Rewriter, value string) *activation {
	if in := r.Info(value); in == nil || in.DType != onnx.Float || r.IsOutput(value) {
		return nil
	}
	readers := r.Readers(value)
	if len(readers) == 2 {
		return silu(r, value, readers)
	}
	n := r.SoleReader(value)
	if n == nil || len(n.Outputs) != 1 {
		return nil
	}
	a := &activation{name: n.OpType, nodes: []*Node{n}, out: n.Outputs[0]}
	switch {
	case onnxOp(n, "Relu"):
		if _, ok := n.Op.(*unaryOp); !ok {
			return nil
		}
		a.act = vec.Act{Kind: vec.Relu}
	case onnxOp(n, "LeakyRelu") || onnxOp(n, "Sigmoid") || onnxOp(n, "HardSigmoid") || onnxOp(n, "HardSwish"):
		u, ok := n.Op.(*unaryOp)
		if !ok || u.f32 == nil {
			return nil
		}
		a.act = vec.Act{Kind: vec.Func, Func: u.f32}
	case onnxOp(n, "Clip"):
		lo, hi, ok := constClipBounds(r, n)
		if !ok {
			return nil
		}
		a.act = vec.Act{Kind: vec.Clip, Lo: lo, Hi: hi}
	default:
		return nil
	}
	return a
}

// silu recognises Mul(x, Sigmoid(x)) (either operand order) on value x
// read by exactly the two nodes readers. Its kernel is vecmath.SiLU: the
// Sigmoid op's kernel (vecmath.Sigmoid) then a float32 product in each
// lane, the bits of the two ops, in one pass without a buffer.
func silu(r *Rewriter, value string, readers []*Node) *activation {
	sig, mul := readers[0], readers[1]
	if onnxOp(sig, "Mul") {
		sig, mul = mul, sig
	}
	if !onnxOp(sig, "Sigmoid") || !onnxOp(mul, "Mul") || len(sig.Outputs) != 1 || len(mul.Outputs) != 1 {
		return nil
	}
	u, ok := sig.Op.(*unaryOp)
	if !ok || u.f32 == nil || r.SoleReader(sig.Outputs[0]) != mul || len(mul.Inputs) != 2 {
		return nil
	}
	if !(mul.Inputs[0] == value && mul.Inputs[1] == sig.Outputs[0] || mul.Inputs[1] == value && mul.Inputs[0] == sig.Outputs[0]) {
		return nil
	}
	if b, ok := mul.Op.(*binaryOp); !ok || b.aligned {
		return nil
	}
	return &activation{name: "SiLU", act: vec.Act{Kind: vec.Func, Func: vecmath.SiLU}, nodes: []*Node{sig, mul}, out: mul.Outputs[0]}
}

// fuseSiLU replaces each x·Sigmoid(x) that no convolution or product took
// into its epilogue (one after an integer convolution, or after an op
// with no epilogue) by one SiLU node: vecmath.SiLU, the bits of the
// Sigmoid and the Mul in one pass over the values instead of two, and no
// buffer between them.
func fuseSiLU(r *Rewriter) error {
	for _, n := range r.Nodes() {
		if !r.Alive(n) || !onnxOp(n, "Sigmoid") || len(n.Inputs) != 1 || len(n.Outputs) != 1 || r.IsOutput(n.Outputs[0]) {
			continue
		}
		x := n.Inputs[0]
		if in := r.Info(x); in == nil || in.DType != onnx.Float {
			continue
		}
		readers := r.Readers(x)
		if len(readers) != 2 {
			continue
		}
		if a := silu(r, x, readers); a != nil {
			r.Replace(a.nodes, &Node{Name: a.nodes[1].Name, Domain: FusedDomain, OpType: "SiLU",
				Inputs: []string{x}, Outputs: []string{a.out}, Op: &unaryOp{f32: vecmath.SiLU}})
		}
	}
	return nil
}

// residualAdd returns the Add that alone reads value and adds to it a
// FLOAT value z of the same shape (no broadcasting), and z; or nil.
func residualAdd(r *Rewriter, value string) (*Node, string) {
	add := r.SoleReader(value)
	if !onnxOp(add, "Add") || len(add.Inputs) != 2 || len(add.Outputs) != 1 {
		return nil, ""
	}
	if b, ok := add.Op.(*binaryOp); !ok || b.aligned {
		return nil, ""
	}
	z := add.Inputs[0]
	if z == value {
		z = add.Inputs[1]
	}
	vi, zi := r.Info(value), r.Info(z)
	if vi == nil || zi == nil || zi.DType != onnx.Float || len(vi.Shape) != len(zi.Shape) {
		return nil, ""
	}
	for i, d := range vi.Shape {
		if !d.Same(zi.Shape[i]) {
			return nil, ""
		}
	}
	return add, z
}

// fuseConv replaces every Conv and ConvTranspose with a constant FLOAT
// weight (and bias) by a FusedConv that holds the weights packed, with the
// residual Add that alone reads its output (when the other addend has the
// same shape) and the activation after that. With winograd it replaces
// only the convolutions that nn.Conv.Winograd admits at their input's
// shape (3×3, stride 1, enough channels and tiles: Winograd's F(2×2,
// 3×3) is faster there than im2col, and rounds differently), and not
// those whose input a DequantizeLinear computes: a fake-quantized
// convolution keeps the node-by-node bits that a later QuantizeLinear
// would turn from an ulp into a step.
func fuseConv(r *Rewriter, winograd bool) error {
	for _, n := range r.Nodes() {
		if !onnxOp(n, "Conv") && !onnxOp(n, "ConvTranspose") {
			continue
		}
		conv, ok := n.Op.(*convOp)
		w := constFloat(r, n.Inputs[1])
		if !ok || w == nil || len(w.Shape) < 3 || len(w.Shape) > 5 {
			continue
		}
		var bias *Tensor
		if len(n.Inputs) > 2 && n.Inputs[2] != "" {
			if bias = constFloat(r, n.Inputs[2]); bias == nil {
				continue
			}
		}
		if xi := r.Info(n.Inputs[0]); xi == nil || xi.DType != onnx.Float || len(xi.Shape) != len(w.Shape) {
			continue
		}
		// The weight must fit the op's own checks, or the fused op would
		// refuse at run time what the Conv reports.
		var bs []Dim
		if bias != nil {
			bs = Sizes(bias.Shape...)
		}
		_, k, known, err := conv.shapes(r.Info(n.Inputs[0]).Shape, Sizes(w.Shape...), bs)
		if err != nil {
			continue
		}
		if winograd {
			if p := r.producer(n.Inputs[0]); !known || !k.Winograd() || p != nil && onnxOp(p, "DequantizeLinear") {
				continue
			}
		}
		f := &fusedConvOp{conv: conv, wShape: Sizes(w.Shape...), bShape: bs}
		if bias != nil {
			f.bias = bias.F32
		}
		g := conv.group
		kn := prod(w.Shape[2:])
		inC, outC := w.Shape[1]*g, w.Shape[0]
		if conv.transposed {
			inC, outC = w.Shape[0], w.Shape[1]*g
		}
		attrs := n.Attrs
		if winograd {
			f.weights = nn.PackWinogradWeights(inC, outC, w.F32)
			attrs = append(slices.Clone(attrs), onnx.Attribute{Name: "algorithm", Type: onnx.AttrString, S: []byte(winogradAlgorithm)})
		} else {
			f.weights = nn.PackConvWeights(inC, outC, g, kn, conv.transposed, w.F32)
		}
		chain := []*Node{n}
		out := n.Outputs[0]
		inputs := []string{n.Inputs[0]}
		var names []string
		if add, z := residualAdd(r, out); add != nil {
			chain = append(chain, add)
			out = add.Outputs[0]
			inputs = append(inputs, z)
			f.residual = true
			names = append(names, "Add")
		}
		if a := activationAfter(r, out); a != nil {
			chain = append(chain, a.nodes...)
			out = a.out
			f.act = a.act
			names = append(names, a.name)
		}
		r.Replace(chain, &Node{Name: n.Name, OpType: "FusedConv", Domain: FusedDomain, Inputs: inputs, Outputs: []string{out},
			Attrs: fusedAttrs(attrs, names, n.OpType), Op: f})
	}
	return nil
}

// fusedAttrs returns a fused node's attributes: those of the op it
// extends, with "fused_op" (the op's type) and "epilogue" (the ops fused
// after it, comma-separated) for describing the node.
func fusedAttrs(base []onnx.Attribute, epilogue []string, opType string) []onnx.Attribute {
	out := slices.Clone(base)
	out = append(out, onnx.Attribute{Name: "fused_op", Type: onnx.AttrString, S: []byte(opType)})
	s := ""
	for i, e := range epilogue {
		if i > 0 {
			s += ","
		}
		s += e
	}
	return append(out, onnx.Attribute{Name: "epilogue", Type: onnx.AttrString, S: []byte(s)})
}

// fuseGemm replaces a Gemm whose B is a constant matrix, A not transposed
// and alpha 1, with a bias C of one row (or none), by a FusedGemm that
// holds B packed and applies the bias and the activation that alone reads
// its output as each tile of the product is done.
func fuseGemm(r *Rewriter) error {
	for _, n := range r.Nodes() {
		if !onnxOp(n, "Gemm") {
			continue
		}
		o, ok := n.Op.(*gemmOp)
		b := constFloat(r, n.Inputs[1])
		if !ok || o.transA || o.alpha != 1 || b == nil || len(b.Shape) != 2 {
			continue
		}
		ai := r.Info(n.Inputs[0])
		if ai == nil || ai.DType != onnx.Float || ai.Rank() != 2 {
			continue
		}
		k, cols := b.Shape[0], b.Shape[1]
		if o.transB {
			k, cols = cols, k
		}
		if d := ai.Shape[1]; d.Known() && d.Size != k {
			continue
		}
		f := &fusedGemmOp{k: k, n: cols}
		if len(n.Inputs) > 2 && n.Inputs[2] != "" && o.beta != 0 {
			c := constFloat(r, n.Inputs[2])
			if c == nil || c.Len() != cols || len(c.Shape) > 2 || len(c.Shape) == 2 && c.Shape[0] != 1 {
				continue
			}
			f.bias = make([]float32, cols)
			for j, v := range c.F32 {
				f.bias[j] = v
				if o.beta != 1 {
					f.bias[j] = v * o.beta
				}
			}
		}
		ldb := cols
		if o.transB {
			ldb = k
		}
		f.b = gemm.PackB(o.transB, k, cols, b.F32, max(ldb, 1))
		chain := []*Node{n}
		out := n.Outputs[0]
		var names []string
		if a := activationAfter(r, out); a != nil {
			chain = append(chain, a.nodes...)
			out = a.out
			f.act = a.act
			names = append(names, a.name)
		}
		r.Replace(chain, &Node{Name: n.Name, OpType: "FusedGemm", Domain: FusedDomain, Inputs: []string{n.Inputs[0]}, Outputs: []string{out},
			Attrs: fusedAttrs(n.Attrs, names, n.OpType), Op: f})
	}
	return nil
}

// winogradAlgorithm is the "algorithm" attribute of a FusedConv node that
// runs by Winograd's F(2×2, 3×3).
const winogradAlgorithm = "winograd_f2x2_3x3"

// WinogradNodes returns, in graph order, the names of the convolutions
// the session computes by Winograd's F(2×2, 3×3) (float 3×3 stride-1
// convolutions with enough channels, under OptimizeAll; see
// internal/nn): their outputs are within a few ulps of the node-by-node
// run's, not its bits.
func (s *Session) WinogradNodes() []string {
	var names []string
	for _, n := range s.g.Nodes {
		for _, a := range n.Attrs {
			if a.Name == "algorithm" && string(a.S) == winogradAlgorithm {
				names = append(names, n.Name)
			}
		}
	}
	return names
}

// fusedConvOp is a Conv or ConvTranspose with a constant weight, packed
// once, its bias, an optional residual input added after the bias and an
// optional activation, computed in one pass (nn.Conv.ForwardPacked): the
// bits of the separate Conv, Add and activation ops.
type fusedConvOp struct {
	conv     *convOp
	wShape   []Dim
	bShape   []Dim // nil without a bias
	weights  *nn.ConvWeights
	bias     []float32
	residual bool // input 1 is added
	act      vec.Act
	// plan caches the convolution prepared for the last input shape.
	plan atomic.Pointer[shapePlan]
}

// shapePlan is a convolution prepared for one input shape.
type shapePlan struct {
	in, out []int
	plan    *nn.ConvPlan
}

// planFor returns the output shape and the prepared convolution for
// input shape x, from the cache when x is the last shape seen.
func (o *fusedConvOp) planFor(x []int) (*shapePlan, error) {
	if p := o.plan.Load(); p != nil && slices.Equal(p.in, x) {
		return p, nil
	}
	shape, k, ok, err := o.conv.shapes(Sizes(x...), o.wShape, o.bShape)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("input %v: no kernel size", x)
	}
	out := ints(shape)
	if err := checkValueShape(out); err != nil {
		return nil, err
	}
	p := &shapePlan{in: slices.Clone(x), out: out, plan: k.Plan()}
	o.plan.Store(p)
	return p, nil
}

func (o *fusedConvOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	if in[0].DType != onnx.Float {
		return nil, fmt.Errorf("input is %v, only FLOAT is supported", in[0].DType)
	}
	out, _, _, err := o.conv.shapes(in[0].Shape, o.wShape, o.bShape)
	if err != nil {
		return nil, err
	}
	if o.residual {
		if err := need(in, 2); err != nil {
			return nil, err
		}
		z := in[1]
		if z.DType != onnx.Float || len(z.Shape) != len(out) {
			return nil, fmt.Errorf("the residual is %v, want FLOAT of shape %s", z, ShapeString(out))
		}
	}
	return []*Info{info(onnx.Float, out)}, nil
}

func (o *fusedConvOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if x.DType != onnx.Float {
		return nil, fmt.Errorf("input is %v, only FLOAT is supported", x.DType)
	}
	p, err := o.planFor(x.Shape)
	if err != nil {
		return nil, err
	}
	f := &nn.Fused{Bias: o.bias, Act: o.act}
	if o.residual {
		if err := need(in, 2); err != nil {
			return nil, err
		}
		z := in[1]
		if z.DType != onnx.Float || !slices.Equal(z.Shape, p.out) {
			return nil, fmt.Errorf("the residual is %v, the convolution's output %v", z, p.out)
		}
		f.Add = z.F32
	}
	y, err := ctx.Alloc(onnx.Float, p.out...)
	if err != nil {
		return nil, err
	}
	N, threads := x.Shape[0], ctx.Threads()
	scratch, err := ctx.scratch(p.plan.Scratch(o.weights, N, threads))
	if err != nil {
		return nil, err
	}
	defer ctx.release(scratch)
	p.plan.ForwardPacked(y.F32, x.F32, o.weights, f, 0, N, threads, scratch)
	return []*Tensor{y}, nil
}

// fusedGemmOp is Gemm(A, B, C) with B constant (packed once), alpha 1,
// beta·C a row bias (or none), and an optional activation: the product
// accumulated onto the bias, as Gemm computes it, activated tile by tile.
type fusedGemmOp struct {
	k, n int
	b    *gemm.Packed
	bias []float32
	act  vec.Act
}

func (o *fusedGemmOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	a := in[0]
	if a.DType != onnx.Float || a.Rank() != 2 || a.Shape[1].Known() && a.Shape[1].Size != o.k {
		return nil, fmt.Errorf("input A is %v, want FLOAT [M %d]", a, o.k)
	}
	return []*Info{info(onnx.Float, []Dim{a.Shape[0], {Size: o.n}})}, nil
}

func (o *fusedGemmOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	a := in[0]
	if a.DType != onnx.Float || len(a.Shape) != 2 || a.Shape[1] != o.k {
		return nil, fmt.Errorf("input A is %v, want FLOAT [M %d]", a, o.k)
	}
	m := a.Shape[0]
	y, err := ctx.Alloc(onnx.Float, m, o.n)
	if err != nil {
		return nil, err
	}
	p := &gemm.Params{M: m, N: o.n, K: o.k, A: a.F32, LdA: max(o.k, 1), PackedB: o.b, C: y.F32, LdC: max(o.n, 1), Threads: ctx.Threads()}
	if o.bias != nil {
		// The product is added to the bias, as Gemm adds it to C
		// (a bias added after the sums would round differently when
		// the GEMM sums k in several blocks).
		for i := range m {
			copy(y.F32[i*o.n:(i+1)*o.n], o.bias)
		}
		p.Accumulate = true
	}
	if o.act.Kind != vec.None {
		p.Epilogue = &gemm.Epilogue{Act: o.act}
	}
	gemm.Gemm(p)
	return []*Tensor{y}, nil
}
