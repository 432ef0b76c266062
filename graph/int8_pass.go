package graph

import (
	"fmt"
	"math"
	"slices"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/qgemm"
	"github.com/tensorquant/tensorquant/onnx"
)

// The int8 pass runs the quantized layers of QDQ models in integer
// arithmetic. It recognises
//
//	DequantizeLinear(x codes) ─┐
//	DequantizeLinear(W codes) ─┴→ Conv | Gemm | MatMul (→ Add bias) (→ Relu | Clip) (→ QuantizeLinear)
//
// with per-tensor activation scales, per-tensor or per-channel weight
// scales and INT8 or UINT8 codes, and replaces it by one node (QConv or
// QMatMul, in FusedDomain) that reads the codes x, holds the weights
// packed, accumulates in int32 and, with the QuantizeLinear, requantizes
// as QLinearConv and QLinearMatMul do (round half to even, saturate, the
// activation as bounds on the codes), else writes floats (the product
// dequantized, plus the float bias). The activations between two such
// nodes stay codes; everything else runs in float, as before.
//
// The results differ from the float graph's (Q/DQ as fake quantization)
// by the rounding of the bias to int32 and the order of the roundings:
// by at most a step of the output's quantization where nothing else
// intervenes, which is also how ONNX Runtime's fused integer kernels
// differ from its node-by-node run. Options.Float skips the pass.

func init() {
	RegisterPass(Pass{Name: "int8", Stage: StageInt8, Integer: true, Apply: int8Pass})
}

// StageInt8 is the stage of the int8 pass: before BatchNormalization is
// folded into convolutions (whose weights are then no longer codes) and
// the float convolutions and products are fused.
const StageInt8 = StageFold - 50

// dequantized is where a constant value folded from DequantizeLinear
// came from: its codes, scales and zero points (per tensor, or along
// axis).
type dequantized struct {
	codes, scale, zp *Tensor // zp nil: zero
	axis             int     // normalized; used when scale has more than one value
}

// noteDequantized records, on the info of the output of a folded node n
// (inputs in, their values vals), the codes it holds dequantized: those a
// DequantizeLinear read, or the codes of its input transposed by a
// Transpose (a weight that a MatMul reads transposed). Infer calls it;
// the int8 pass reads it.
func noteDequantized(n *Node, in []*Info, vals []*Tensor, out []*Info) {
	if len(out) != 1 || out[0] == nil || len(vals) == 0 || vals[0] == nil {
		return
	}
	switch o := n.Op.(type) {
	case *qdqOp:
		x := vals[0]
		if !o.dequant || o.block != 0 || len(vals) < 2 || !isCode(x.DType) && x.DType != onnx.Int32 {
			return
		}
		axis := 0
		if vals[1].Len() > 1 {
			a, err := normAxis(o.axis, len(x.Shape))
			if err != nil {
				return
			}
			axis = a
		}
		out[0].dq = &dequantized{codes: x, scale: vals[1], zp: opt(vals, 2), axis: axis}
	case *transposeOp:
		d := in[0].dq
		if d == nil {
			return
		}
		p, err := o.permFor(len(d.codes.Shape))
		if err != nil {
			return
		}
		t, err := o.Run(newCtx(nil, 1), []*Tensor{d.codes})
		if err != nil {
			return
		}
		out[0].dq = &dequantized{codes: t[0], scale: d.scale, zp: d.zp, axis: slices.Index(p, d.axis)}
	}
}

// Int8Node says how the int8 pass treated a Conv, Gemm or MatMul whose
// input is dequantized: in integer arithmetic (Int8), or in float and
// why (Reason).
type Int8Node struct {
	Node   string // the node's name
	OpType string // Conv, Gemm or MatMul
	Int8   bool
	// Output is what the integer node writes: "int8", "uint8" (the codes
	// of the QuantizeLinear it absorbed) or "float".
	Output string
	// Fused lists the ops absorbed after it (Add, Relu, Clip,
	// QuantizeLinear).
	Fused  []string
	Reason string // why it runs in float; empty when Int8
	// Layout is, for an integer convolution, the order of its input and
	// its output: "NCHW→NCHW", or NHWC (the kernels' order) on a side
	// whose values reach other integer convolutions through elementwise
	// ops alone, which saves transposing them (the nhwc pass,
	// int8_layout.go): "NCHW→NHWC", "NHWC→NHWC", "NHWC→NCHW". Empty for
	// products.
	Layout string
}

// Int8Nodes returns, in graph order, how the int8 pass treated each
// Conv, Gemm and MatMul that reads a dequantized value: nil when the pass
// did not run (Options.Float, OptimizeNone, OptimizeExact) or the graph
// has none.
func (s *Session) Int8Nodes() []Int8Node { return slices.Clone(s.g.int8) }

// int8Pass replaces the quantized convolutions and products of the graph
// by integer nodes, and packs the constant weights of QLinearConv and
// QLinearMatMul nodes once.
func int8Pass(r *Rewriter) error {
	for _, n := range r.Nodes() {
		if r.Alive(n) && (onnxOp(n, "QLinearConv") || onnxOp(n, "QLinearMatMul")) {
			prepackQLinear(r, n)
			continue
		}
		if !r.Alive(n) || !(onnxOp(n, "Conv") || onnxOp(n, "Gemm") || onnxOp(n, "MatMul")) || len(n.Inputs) < 2 {
			continue
		}
		dqx := r.producer(n.Inputs[0])
		if !onnxOp(dqx, "DequantizeLinear") {
			continue // not a quantized layer
		}
		note := Int8Node{Node: n.Name, OpType: n.OpType}
		if node, err := int8Replace(r, n, dqx, &note); err != nil {
			note.Reason = err.Error()
		} else {
			note.Int8 = true
			switch o := node.Op.(type) {
			case *fusedQConvOp:
				o.note = len(r.g.int8)
			case *fusedQMatMulOp:
				o.note = len(r.g.int8)
			}
		}
		r.g.int8 = append(r.g.int8, note)
	}
	return nil
}

// qInput is the quantized activation input of a layer.
type qInput struct {
	codes string // the value DequantizeLinear reads
	dtype onnx.DataType
	scale float32
	zp    int32
}

// activationCodes reads the DequantizeLinear dq of a layer's input:
// per-tensor scale and zero point, constant, INT8 or UINT8 codes.
func activationCodes(r *Rewriter, dq *Node) (qInput, error) {
	var q qInput
	o, ok := dq.Op.(*qdqOp)
	xi := r.Info(dq.Inputs[0])
	if !ok || o.block != 0 || xi == nil || !isCode(xi.DType) {
		return q, fmt.Errorf("its input is not dequantized from INT8 or UINT8 codes per tensor")
	}
	s := r.Const(dq.Inputs[1])
	if s == nil || s.DType != onnx.Float || s.Len() != 1 {
		return q, fmt.Errorf("its input's scale is not one constant (per-tensor activations only)")
	}
	q = qInput{codes: dq.Inputs[0], dtype: xi.DType, scale: s.F32[0]}
	if len(dq.Inputs) > 2 && dq.Inputs[2] != "" {
		z := r.Const(dq.Inputs[2])
		if z == nil || z.Len() != 1 || z.DType != xi.DType {
			return q, fmt.Errorf("its input's zero point is not one constant")
		}
		q.zp = codes(z)[0]
	}
	if !(q.scale > 0) || math.IsInf(float64(q.scale), 0) {
		return q, fmt.Errorf("its input's scale %v is not positive and finite", q.scale)
	}
	return q, nil
}

// qWeights are a layer's weights as codes, with their scales and zero
// points per output channel (or one for all).
type qWeights struct {
	codes *Tensor
	scale []float32
	zp    []int32
}

// weightCodes returns the codes of the constant weight value w, whose
// output channels lie along axis (of its dimensions): what the
// DequantizeLinear folded into it read.
func weightCodes(r *Rewriter, w string, axis int) (qWeights, error) {
	var q qWeights
	in := r.Info(w)
	if in == nil || in.dq == nil || !isCode(in.dq.codes.DType) {
		return q, fmt.Errorf("its weight is not dequantized from constant INT8 or UINT8 codes")
	}
	d := in.dq
	if d.scale.Len() > 1 && d.axis != axis {
		return q, fmt.Errorf("its weight is quantized along axis %d, not along the output channels (axis %d)", d.axis, axis)
	}
	q = qWeights{codes: d.codes, scale: d.scale.F32, zp: []int32{0}}
	if d.zp != nil {
		q.zp = codes(d.zp)
	}
	for _, s := range q.scale {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return q, fmt.Errorf("its weight scale %v is not positive and finite", s)
		}
	}
	return q, nil
}

// qEpilogue is what follows a layer: a constant bias (float), an
// activation as bounds, and the QuantizeLinear of its output.
type qEpilogue struct {
	chain  []*Node // the nodes absorbed after the layer
	out    string  // the value the integer node writes
	start  string  // the layer's output
	fused  []string
	bias   []float32 // nil: none
	lo, hi float32   // the activation's bounds (±Inf: none)
	q      *Node     // the QuantizeLinear, or nil
	ys     float32
	zy     int32
	yType  onnx.DataType
}

// epilogueAfter collects what follows value out of a layer with n
// output channels: an Add of a constant bias of n values and at most
// biasRank dimensions (none when biasRank is 0),
// a Relu or a Clip with constant bounds, and a QuantizeLinear per tensor
// with constant parameters, each the only reader of the value before it.
func epilogueAfter(r *Rewriter, out string, n, biasRank int) qEpilogue {
	e := qEpilogue{out: out, start: out, lo: float32(math.Inf(-1)), hi: float32(math.Inf(1))}
	next := func() *Node { return r.SoleReader(e.out) }
	if a := next(); biasRank > 0 && onnxOp(a, "Add") && len(a.Inputs) == 2 {
		other := a.Inputs[0]
		if other == e.out {
			other = a.Inputs[1]
		}
		if b := constFloat(r, other); b != nil && b.Len() == n && len(b.Shape) >= 1 && len(b.Shape) <= biasRank && b.Shape[len(b.Shape)-1] == n && prod(b.Shape) == n {
			e.bias = b.F32
			e.chain, e.out, e.fused = append(e.chain, a), a.Outputs[0], append(e.fused, "Add")
		}
	}
	if a := next(); onnxOp(a, "Relu") || onnxOp(a, "Clip") {
		lo, hi, ok := float32(0), float32(math.Inf(1)), true
		if onnxOp(a, "Clip") {
			lo, hi, ok = constClipBounds(r, a)
		}
		if ok && !(lo > hi) && lo == lo && hi == hi {
			e.lo, e.hi = lo, hi
			e.chain, e.out, e.fused = append(e.chain, a), a.Outputs[0], append(e.fused, a.OpType)
		}
	}
	if q, ys, zy, yType := quantizeAfter(r, e.out); q != nil {
		e.q, e.ys, e.zy, e.yType = q, ys, zy, yType
		e.chain, e.out, e.fused = append(e.chain, q), q.Outputs[0], append(e.fused, "QuantizeLinear")
	}
	return e
}

// quantizeAfter returns the QuantizeLinear that alone reads value, per
// tensor, with a constant positive finite scale ys and zero point zy, to
// INT8 or UINT8 codes (yType); or nil.
func quantizeAfter(r *Rewriter, value string) (q *Node, ys float32, zy int32, yType onnx.DataType) {
	q = r.SoleReader(value)
	if !onnxOp(q, "QuantizeLinear") || len(q.Outputs) != 1 || len(q.Inputs) < 2 {
		return nil, 0, 0, 0
	}
	o, ok := q.Op.(*qdqOp)
	s := r.Const(q.Inputs[1])
	yi := r.Info(q.Outputs[0])
	if !ok || o.block != 0 || s == nil || s.DType != onnx.Float || s.Len() != 1 || yi == nil || !isCode(yi.DType) || !(s.F32[0] > 0) || math.IsInf(float64(s.F32[0]), 0) {
		return nil, 0, 0, 0
	}
	if len(q.Inputs) > 2 && q.Inputs[2] != "" {
		z := r.Const(q.Inputs[2])
		if z == nil || z.Len() != 1 || z.DType != yi.DType {
			return nil, 0, 0, 0
		}
		zy = codes(z)[0]
	}
	return q, s.F32[0], zy, yi.DType
}

// quantizedOrBias returns e when it ends with a QuantizeLinear, else
// only its bias Add (a float output takes no activation).
func (e qEpilogue) quantizedOrBias() qEpilogue {
	if e.q != nil {
		return e
	}
	f := qEpilogue{out: e.start, start: e.start, lo: float32(math.Inf(-1)), hi: float32(math.Inf(1))}
	if e.bias != nil {
		f.chain, f.out, f.fused, f.bias = e.chain[:1], e.chain[0].Outputs[0], []string{"Add"}, e.bias
	}
	return f
}

// constClipBounds returns the constant bounds of a Clip node.
func constClipBounds(r *Rewriter, n *Node) (lo, hi float32, ok bool) {
	c, isClip := n.Op.(*clipOp)
	if !isClip {
		return 0, 0, false
	}
	lo, hi = float32(math.Inf(-1)), float32(math.Inf(1))
	if c.attrs {
		lo, hi = c.min, c.max
	}
	for i, bound := range []*float32{&lo, &hi} {
		if len(n.Inputs) <= i+1 || n.Inputs[i+1] == "" {
			continue
		}
		t := constFloat(r, n.Inputs[i+1])
		if t == nil || t.Len() != 1 {
			return 0, 0, false
		}
		*bound = t.F32[0]
	}
	return lo, hi, true
}

// output returns the output of the integer node for input x, weights w
// (n channels) and epilogue e: requantized codes when e has a
// QuantizeLinear, else floats.
func (e *qEpilogue) output(x qInput, w qWeights, n int) (qOut, error) {
	ws := w.scale
	if len(ws) == 1 {
		ws = slices.Repeat(ws, n)
	}
	if e.q == nil { // no activation either: quantizedOrBias
		d := qgemm.Dequant{Scale: make([]float32, n), Bias: e.bias}
		for i, s := range ws {
			d.Scale[i] = x.scale * s
		}
		return qOut{kind: qFloat, dtype: onnx.Float, deq: d}, nil
	}
	qlo, qhi := codeRange(e.yType)
	lo, hi := qlo, qhi
	if !math.IsInf(float64(e.lo), -1) {
		lo = max(lo, fakequant.QuantizeLinear(e.lo, e.ys, e.zy, qlo, qhi))
	}
	if !math.IsInf(float64(e.hi), 1) {
		hi = min(hi, fakequant.QuantizeLinear(e.hi, e.ys, e.zy, qlo, qhi))
	}
	o := qOut{kind: qQuant, dtype: e.yType, req: requant(x.scale, ws, e.ys, e.zy, lo, hi)}
	if e.bias != nil {
		o.bias = make([]int32, n)
		for i, b := range e.bias {
			// The bias in units of the product, rounded half to even.
			v := math.RoundToEven(float64(b) / (float64(x.scale) * float64(ws[i])))
			if !(math.Abs(v) < 1<<30) {
				return qOut{}, fmt.Errorf("its bias %v is too large for int32 in units of the product's scale", b)
			}
			o.bias[i] = int32(v)
		}
	}
	return o, nil
}

// int8Replace replaces layer n, whose input dqx dequantizes, by an
// integer node and returns it, or returns why it cannot.
func int8Replace(r *Rewriter, n, dqx *Node, note *Int8Node) (*Node, error) {
	x, err := activationCodes(r, dqx)
	if err != nil {
		return nil, err
	}
	var node *Node
	var e qEpilogue
	switch n.OpType {
	case "Conv":
		node, e, err = int8Conv(r, n, x)
	default:
		node, e, err = int8MatMul(r, n, x)
	}
	if err != nil {
		return nil, err
	}
	chain := append([]*Node{n}, e.chain...)
	if r.SoleReader(dqx.Outputs[0]) == n {
		chain = append([]*Node{dqx}, chain...)
	}
	node.Name, node.Domain, node.Inputs, node.Outputs = n.Name, FusedDomain, []string{x.codes}, []string{e.out}
	if o, ok := node.Op.(*dynQMatMulOp); ok {
		node.Inputs = append(node.Inputs, o.b)
		if dqb := r.producer(n.Inputs[1]); dqb != dqx && r.SoleReader(dqb.Outputs[0]) == n {
			chain = append([]*Node{dqb}, chain...)
		}
	}
	node.Attrs = fusedAttrs(n.Attrs, e.fused, n.OpType)
	r.Replace(chain, node)
	note.Fused = e.fused
	note.Output = "float"
	if e.q != nil {
		note.Output = codeName(e.yType)
	}
	return node, nil
}

// codeName is Int8Node.Output's name of code type t (INT8 or UINT8).
func codeName(t onnx.DataType) string {
	if t == onnx.Int8 {
		return "int8"
	}
	return "uint8"
}

// minInt8Depth is the depth (input channels per group × taps) below which
// a convolution of fewer than 4 channels per group, but for a depthwise
// one, stays in float: the kernels read 4 channels at a time, the input
// copied with 4 channels a pixel (qgemm's quadChannels: the extra ones
// weighted 0), so with 1 channel three quarters of each product is
// padding. The Fashion CNN's first convolution (1 channel, 3×3 taps)
// made its int8 run 0.80× its run with that layer in float (20.5k
// against 25.6k images/s at batch 1); MobileNetV2's stem (3 channels, 3×3,
// stride 2) in int8 made its run 1.08× (245.9 → 266.0 images/s), as the
// Q→DQ pair before it and the Q after it go. A variable for the tests,
// which run small layers in int8 (export_test.go).
var minInt8Depth = 16

// int8Conv builds the integer node of the quantized Conv n.
func int8Conv(r *Rewriter, n *Node, x qInput) (*Node, qEpilogue, error) {
	var e qEpilogue
	conv, ok := n.Op.(*convOp)
	if !ok || conv.transposed {
		return nil, e, fmt.Errorf("not a Conv")
	}
	w, err := weightCodes(r, n.Inputs[1], 0)
	if err != nil {
		return nil, e, err
	}
	ws := w.codes.Shape
	if len(ws) != 3 && len(ws) != 4 {
		return nil, e, fmt.Errorf("its weight %v is not of a 1-D or 2-D convolution", w.codes)
	}
	m := ws[0]
	if cg, taps := ws[1], prod(ws[2:]); cg < 4 && cg*taps < minInt8Depth && m != conv.group { // not depthwise
		return nil, e, fmt.Errorf("its %d input channel(s) per group and %d taps are too few for the integer kernels (float is faster)", cg, taps)
	}
	if len(w.scale) != 1 && len(w.scale) != m || len(w.zp) != 1 && len(w.zp) != m {
		return nil, e, fmt.Errorf("its weight has %d scales and %d zero points for %d channels", len(w.scale), len(w.zp), m)
	}
	xi := r.Info(x.codes)
	if xi == nil || len(xi.Shape) != len(ws) {
		return nil, e, fmt.Errorf("its input's rank differs from the weight's")
	}
	var bias []float32
	if len(n.Inputs) > 2 && n.Inputs[2] != "" {
		b := constFloat(r, n.Inputs[2])
		if b == nil || b.Len() != m {
			return nil, e, fmt.Errorf("its bias is not a constant of %d values", m)
		}
		bias = b.F32
	}
	q := &qConv{conv: conv, wShape: ws}
	if err := q.pack(xi, w.codes, w.zp); err != nil {
		return nil, e, err
	}
	e = epilogueAfter(r, n.Outputs[0], m, 0).quantizedOrBias()
	e.bias = bias
	if q.out, err = e.output(x, w, m); err != nil {
		return nil, e, err
	}
	return &Node{OpType: "QConv", Op: &fusedQConvOp{q: q, xType: x.dtype, zx: x.zp, note: -1}}, e, nil
}

// pack packs the weights w (zero points zp) of q for inputs xi. They are
// packed for the input's size when it is known (for batch 1:
// qgemm.ConvWeights.ForShape adapts them to every run).
func (q *qConv) pack(xi *Info, w *Tensor, zp []int32) error {
	shape, ok := xi.Static()
	if !ok {
		if _, spatial := (&Info{Shape: xi.Shape[1:]}).Static(); !spatial || xi.Rank() < 1 {
			return fmt.Errorf("its input's size %s is not known", ShapeString(xi.Shape))
		}
		shape = append([]int{1}, ints(xi.Shape[1:])...)
	}
	shape[0] = 1
	c, _, err := q.geometry(shape)
	if err != nil {
		return err
	}
	q.w, err = packConv(c, w, zp)
	return err
}

// prepackQLinear replaces a QLinearConv or QLinearMatMul node n whose
// inputs other than x are constants (an ONNX Runtime QOperator file) by
// the integer node with its weights packed once, as the pass's own.
// It reports false, changing nothing, when they are not constants or do
// not fit.
func prepackQLinear(r *Rewriter, n *Node) bool {
	if len(n.Inputs) < 8 || len(n.Outputs) != 1 {
		return false
	}
	xi := r.Info(n.Inputs[0])
	if xi == nil || !isCode(xi.DType) {
		return false
	}
	in := []*Tensor{{DType: xi.DType}}
	for _, v := range n.Inputs[1:] {
		c := r.Const(v)
		if c == nil && v != "" {
			return false
		}
		in = append(in, c)
	}
	w := in[3]
	if w == nil || !isCode(w.DType) || len(w.Shape) < 2 {
		return false
	}
	var op Op
	switch o := n.Op.(type) {
	case *intConvOp:
		q := &qConv{conv: o.conv, wShape: w.Shape}
		zx, zw, err := readZeroPoints(in, true, in[0], w, w.Shape[0], &q.out, "x", "w")
		if err != nil || len(xi.Shape) != len(w.Shape) || q.pack(xi, w, zw) != nil {
			return false
		}
		op = &fusedQConvOp{q: q, xType: xi.DType, zx: zx, note: -1}
	case intMatMulOp:
		if len(w.Shape) != 2 || xi.Rank() < 2 {
			return false
		}
		q := &qMatMul{}
		zx, zw, err := readZeroPoints(in, true, in[0], w, w.Shape[1], &q.out, "a", "b")
		if err != nil || w.Shape[0] == 0 {
			return false
		}
		if q.w, err = packMatrix(w, 0, w.Shape[0], w.Shape[1], false, zw); err != nil {
			return false
		}
		op = &fusedQMatMulOp{q: q, xType: xi.DType, zx: zx, note: -1}
	default:
		return false
	}
	r.Replace([]*Node{n}, &Node{Name: n.Name, OpType: map[bool]string{true: "QConv", false: "QMatMul"}[n.OpType == "QLinearConv"],
		Domain: FusedDomain, Inputs: n.Inputs[:1], Outputs: n.Outputs, Attrs: fusedAttrs(n.Attrs, nil, n.OpType), Op: op})
	return true
}

// int8MatMul builds the integer node of the quantized Gemm or MatMul n.
func int8MatMul(r *Rewriter, n *Node, x qInput) (*Node, qEpilogue, error) {
	var e qEpilogue
	trans := false
	var bias []float32
	if n.OpType == "Gemm" {
		o, ok := n.Op.(*gemmOp)
		if !ok || o.transA || o.alpha != 1 {
			return nil, e, fmt.Errorf("a Gemm with transA or alpha other than 1")
		}
		trans = o.transB
		if len(n.Inputs) > 2 && n.Inputs[2] != "" && o.beta != 0 {
			c := constFloat(r, n.Inputs[2])
			if c == nil || len(c.Shape) > 2 || len(c.Shape) == 2 && c.Shape[0] != 1 {
				return nil, e, fmt.Errorf("its C is not a constant row")
			}
			bias = slices.Clone(c.F32)
			for i := range bias {
				bias[i] *= o.beta
			}
		}
	}
	wi := r.Info(n.Inputs[1])
	if n.OpType == "MatMul" && (wi == nil || wi.dq == nil) && onnxOp(r.producer(n.Inputs[1]), "DequantizeLinear") {
		return int8MatMulDynamic(r, n, x)
	}
	if wi == nil || wi.dq == nil || len(wi.dq.codes.Shape) != 2 {
		return nil, e, fmt.Errorf("its weight is not a matrix dequantized from constant codes")
	}
	axis := 1
	if trans {
		axis = 0
	}
	w, err := weightCodes(r, n.Inputs[1], axis)
	if err != nil {
		return nil, e, err
	}
	k, cols := w.codes.Shape[0], w.codes.Shape[1]
	if trans {
		k, cols = cols, k
	}
	if len(w.scale) != 1 && len(w.scale) != cols || len(w.zp) != 1 && len(w.zp) != cols {
		return nil, e, fmt.Errorf("its weight has %d scales and %d zero points for %d columns", len(w.scale), len(w.zp), cols)
	}
	if bias != nil && len(bias) != cols {
		if len(bias) != 1 {
			return nil, e, fmt.Errorf("its bias has %d values for %d columns", len(bias), cols)
		}
		bias = slices.Repeat(bias, cols)
	}
	xi := r.Info(x.codes)
	if xi == nil || xi.Rank() < 2 || n.OpType == "Gemm" && xi.Rank() != 2 || !xi.Shape[xi.Rank()-1].Known() || xi.Shape[xi.Rank()-1].Size != k {
		return nil, e, fmt.Errorf("its input is not a matrix (or batch of rows) of depth %d", k)
	}
	if k == 0 {
		return nil, e, fmt.Errorf("its depth is 0")
	}
	q := &qMatMul{}
	if q.w, err = packMatrix(w.codes, 0, k, cols, trans, w.zp); err != nil {
		return nil, e, err
	}
	biasRank := 0
	if bias == nil {
		biasRank = xi.Rank()
	}
	e = epilogueAfter(r, n.Outputs[0], cols, biasRank).quantizedOrBias()
	if bias != nil {
		e.bias = bias
	}
	if q.out, err = e.output(x, w, cols); err != nil {
		return nil, e, err
	}
	return &Node{OpType: "QMatMul", Op: &fusedQMatMulOp{q: q, xType: x.dtype, zx: x.zp, note: -1}}, e, nil
}

// fusedQConvOp is the int8 pass's convolution: codes in, codes or floats
// out, the weights packed once. Its input, its output or both may be
// NHWC ([N, H, W, C]) rather than ONNX's NCHW: the nhwc pass
// (int8_layout.go) sets that where it saves transposing the values.
type fusedQConvOp struct {
	q       *qConv
	xType   onnx.DataType
	zx      int32
	in, out qgemm.Layout
	note    int // its entry in Graph.int8, or -1 (a QLinearConv's)
}

func (o *fusedQConvOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	if in[0].DType != o.xType {
		return nil, fmt.Errorf("input is %v, want %v", in[0].DType, o.xType)
	}
	x := in[0].Shape
	if o.in == qgemm.NHWC {
		x = channelsFirst(x)
	}
	out, _, _, err := o.q.conv.shapes(x, Sizes(o.q.wShape...), nil)
	if err != nil {
		return nil, err
	}
	if o.out == qgemm.NHWC {
		out = channelsLast(out)
	}
	return []*Info{info(o.q.out.dtype, out)}, nil
}

func (o *fusedQConvOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	if in[0].DType != o.xType {
		return nil, fmt.Errorf("input is %v, want %v", in[0].DType, o.xType)
	}
	y, err := o.q.run(ctx, in[0], o.zx, o.in, o.out)
	if err != nil {
		return nil, err
	}
	return []*Tensor{y}, nil
}

// fusedQMatMulOp is the int8 pass's product of rows by a constant
// matrix: codes in, codes or floats out, the weights packed once.
type fusedQMatMulOp struct {
	q     *qMatMul
	xType onnx.DataType
	zx    int32
	note  int // its entry in Graph.int8, or -1 (a QLinearMatMul's)
}

func (o *fusedQMatMulOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if x.DType != o.xType || x.Rank() < 2 || x.Shape[x.Rank()-1].Known() && x.Shape[x.Rank()-1].Size != o.q.w.K() {
		return nil, fmt.Errorf("input is %v, want %v [... %d]", x, o.xType, o.q.w.K())
	}
	out := append(slices.Clone(x.Shape[:x.Rank()-1]), Dim{Size: o.q.w.N()})
	return []*Info{info(o.q.out.dtype, out)}, nil
}

func (o *fusedQMatMulOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if x.DType != o.xType || len(x.Shape) < 2 || x.Shape[len(x.Shape)-1] != o.q.w.K() {
		return nil, fmt.Errorf("input is %v, want %v [... %d]", x, o.xType, o.q.w.K())
	}
	shape := append(slices.Clone(x.Shape[:len(x.Shape)-1]), o.q.w.N())
	y, err := o.q.run(ctx, x, o.zx, shape)
	if err != nil {
		return nil, err
	}
	return []*Tensor{y}, nil
}
