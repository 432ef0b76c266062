package graph

import (
	"errors"
	"slices"
	"sync/atomic"

	"github.com/tensorquant/tensorquant/internal/par"
)

// A run of a batch can be split into chunks of items that run at once,
// each on its share of the session's threads, when the graph computes every item of
// the batch from that item alone: a small model (the Fashion CNN, a
// MobileNetV3, a transformer encoder at batch 8) keeps two cores busy
// this way, where each of its small ops alone does not. batchParam finds
// out, once per session, by following the batch through the nodes.
//
// A batched value holds the batch as one digit of its row-major index: in
// the dimension of the batch (its size c times the batch, so that a
// sequence-first encoder's [S, N·heads, d] still holds it), the index is
// q·(batch·n) + b·n + r for item b — batchAt. A Transpose moves that
// dimension, a Reshape keeps the digit's place in the linear order (which
// must fall within one dimension of the result), and every other op must
// treat the batch's dimension as a loop: elementwise ops with the static
// operands broadcast along it, convolutions and pooling with it first,
// Softmax and LayerNormalization normalising after it, Reduce, Concat,
// Split, Slice and Gather along other axes, matrix products with it among
// the rows or the leading dimensions. Values computed from the inputs'
// shapes (Shape and its arithmetic) may only shape a tensor (a Reshape's
// target), which each chunk then computes from its own. Graph inputs and
// outputs hold the batch as their outermost digit, so that the chunks are
// their consecutive items. The rules are conservative: an op they do not
// list, or a shape they cannot follow, makes the graph run whole.

// batchAt is where a batched value holds the batch: in dimension axis,
// whose size is c·batch for a constant c that n divides, item b is the
// middle digit, of weight n.
type batchAt struct{ axis, n int }

// batchScan is the state of batchParam's walk.
type batchScan struct {
	g      *Graph
	param  string
	at     map[string]batchAt // batched values
	shaped map[string]bool    // shape arithmetic
}

// batchParam returns the symbolic dimension that is the first of every
// graph input named in inputs (the others, a trainer's parameters, are
// static), and true if g computes each item of that batch from that item
// alone, each graph output named in outputs holding the batch first. g
// must have been inferred.
func batchParam(g *Graph, inputs, outputs []string) (string, bool) {
	sc := &batchScan{g: g, at: map[string]batchAt{}, shaped: map[string]bool{}}
	for _, in := range g.Inputs {
		if !slices.Contains(inputs, in.Name) {
			continue
		}
		if len(in.Shape) == 0 || in.Shape[0].Known() || in.Shape[0].Param == "" ||
			sc.param != "" && in.Shape[0].Param != sc.param {
			return "", false
		}
		sc.param = in.Shape[0].Param
		if axis, c, ok := sc.locate(in.Shape); !ok || axis != 0 || c != 1 {
			return "", false
		}
		sc.at[in.Name] = batchAt{0, 1}
	}
	if sc.param == "" {
		return "", false
	}
	for _, n := range g.Nodes {
		if !sc.node(n) {
			return "", false
		}
	}
	for _, o := range outputs {
		at, ok := sc.at[o]
		if !ok || at.axis != 0 || sc.factor(g.infos[o].Shape[0]) != at.n {
			return "", false
		}
	}
	return sc.param, true
}

// node follows the batch through n, and reports whether n computes each
// item from that item alone.
func (sc *batchScan) node(n *Node) bool {
	in := make([]*Info, len(n.Inputs))
	at := make([]*batchAt, len(n.Inputs))
	var batched, shaped bool
	for i, name := range n.Inputs {
		if name == "" {
			continue
		}
		if in[i] = sc.g.infos[name]; in[i] == nil {
			return false
		}
		if a, ok := sc.at[name]; ok {
			at[i], batched = &a, true
		}
		shaped = shaped || sc.shaped[name]
	}
	outs := make([]*Info, len(n.Outputs))
	for i, name := range n.Outputs {
		if name != "" {
			if outs[i] = sc.g.infos[name]; outs[i] == nil {
				return false
			}
		}
	}
	switch {
	case n.OpType == "Shape" || n.OpType == "Size":
		return sc.mark(n, nil)
	case batched:
		for i, name := range n.Inputs {
			if sc.shaped[name] && !slices.Contains(shapeInputs[n.OpType], i) {
				return false
			}
		}
		rule, ok := batchRules[n.OpType]
		if !ok {
			return false
		}
		out, ok := rule(sc, n, in, at, outs)
		if !ok {
			return false
		}
		// The result's dimension of the batch is the batched input's
		// (moved by a Transpose), except through a Reshape.
		src := -1
		for i := range at {
			if at[i] != nil {
				src = i
				break
			}
		}
		for _, o := range outs {
			if o == nil {
				continue
			}
			if out.axis >= len(o.Shape) || sc.factor(o.Shape[out.axis])%out.n != 0 || sc.factor(o.Shape[out.axis]) == 0 {
				return false
			}
			if !relabels(n) && !o.Shape[out.axis].Same(in[src].Shape[at[src].axis]) {
				return false
			}
			if axis, _, ok := sc.locate(o.Shape); !ok || axis != out.axis {
				return false
			}
		}
		return sc.mark(n, &out)
	case shaped:
		if !shapeArith[n.OpType] {
			return false
		}
		// A tensor of the batch's size made from shapes alone
		// (ConstantOfShape, Expand of a constant) is the same in every
		// item.
		for i, o := range outs {
			if o == nil {
				continue
			}
			if axis, c, ok := sc.locate(o.Shape); ok {
				if (n.OpType != "ConstantOfShape" && n.OpType != "Expand") || c != 1 {
					return false
				}
				sc.at[n.Outputs[i]] = batchAt{axis, 1}
				continue
			}
			sc.shaped[n.Outputs[i]] = true
		}
		return true
	}
	return true
}

// mark records n's outputs as batched at out, or as shape arithmetic when
// out is nil.
func (sc *batchScan) mark(n *Node, out *batchAt) bool {
	for _, name := range n.Outputs {
		switch {
		case name == "":
		case out == nil:
			sc.shaped[name] = true
		default:
			sc.at[name] = *out
		}
	}
	return true
}

// factor returns c when d is c times the batch, else 0.
func (sc *batchScan) factor(d Dim) int {
	if d.Known() || d.Param == "" {
		return 0
	}
	known, syms, unknown := splitDims([]Dim{d})
	if unknown || len(syms) != 1 || syms[0] != sc.param {
		return 0
	}
	return known
}

// locate returns the dimension of shape that holds the batch and its
// factor, and false unless exactly one does and every other is known.
func (sc *batchScan) locate(shape []Dim) (axis, c int, ok bool) {
	axis = -1
	for i, d := range shape {
		switch f := sc.factor(d); {
		case f > 0 && axis < 0:
			axis, c = i, f
		case !d.Known():
			return 0, 0, false
		}
	}
	return axis, c, axis >= 0
}

// inner returns the product of shape's dimensions after axis, all known.
func inner(shape []Dim, axis int) int {
	p := 1
	for _, d := range shape[axis+1:] {
		p = satMul(p, d.Size)
	}
	return p
}

// shapeInputs lists, per op, the inputs that may be shape arithmetic when
// another input is batched: the ones that only say how to shape the
// batched tensor.
var shapeInputs = map[string][]int{"Reshape": {1}, "Expand": {1}, "Tile": {1}}

// shapeArith lists the ops that may compute with shape arithmetic alone.
var shapeArith = map[string]bool{
	"Gather": true, "Unsqueeze": true, "Squeeze": true, "Concat": true, "Slice": true, "Cast": true,
	"Identity": true, "Add": true, "Sub": true, "Mul": true, "Div": true, "Equal": true, "Where": true,
	"ConstantOfShape": true, "Expand": true, "Reshape": true,
}

// reshapes lists the ops that relabel the linear order.
var reshapes = map[string]bool{"Reshape": true, "Flatten": true, "Squeeze": true, "Unsqueeze": true}

// relabels reports whether n's output holds the batch in another
// dimension than its batched input does: a reshape, or an attention that
// reads its heads from views of [S, B, W].
func relabels(n *Node) bool {
	o, ok := n.Op.(*attentionOp)
	return reshapes[n.OpType] || ok && o.views != nil
}

// batchRule reports whether node n computes each item of its outputs from
// that item of its batched inputs (at[i] non-nil: where input i holds the
// batch) and its static ones, and where its outputs hold the batch.
type batchRule func(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool)

var batchRules = map[string]batchRule{}

func init() {
	for _, op := range []string{
		"Add", "Sub", "Mul", "Div", "Pow", "Where", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
		"And", "Or", "Xor", "Not", "Min", "Max", "Sum", "Mean", "Mod",
		"Relu", "LeakyRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Gelu", "Erf", "Exp",
		"Log", "Sqrt", "Neg", "Abs", "Reciprocal", "Clip", "Floor", "Ceil", "Round", "Sign", "Softplus",
		"Cast", "Identity", "Dropout", "SiLU", "Expand", "Tile", "PRelu",
	} {
		batchRules[op] = elementwiseRule
	}
	for _, op := range []string{"QuantizeLinear", "DequantizeLinear", "QuantizeLinear+DequantizeLinear"} {
		batchRules[op] = quantizeRule
	}
	for _, op := range []string{
		"Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
		"BatchNormalization", "InstanceNormalization", "LRN", "Resize", "DepthToSpace", "SpaceToDepth",
		"FusedConv", "QConv", "QGlobalAveragePool",
	} {
		batchRules[op] = firstAxisRule
	}
	for _, op := range []string{"Reshape", "Flatten", "Squeeze", "Unsqueeze"} {
		batchRules[op] = reshapeRule
	}
	for _, op := range []string{"Softmax", "LogSoftmax", "Hardmax", "LayerNormalization"} {
		batchRules[op] = normalizeRule
	}
	for _, op := range []string{"Concat", "Split", "ArgMax", "ArgMin"} {
		batchRules[op] = axisRule
	}
	for _, op := range []string{"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
		"ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"} {
		batchRules[op] = reduceRule
	}
	for _, op := range []string{"MatMul", "FusedMatMul", "FusedGemm", "QMatMul", "QMatMulDynamic", "MatMulInteger", "QLinearMatMul"} {
		batchRules[op] = matMulRule
	}
	batchRules["Gemm"] = gemmRule
	batchRules["Transpose"] = transposeRule
	batchRules["Gather"] = gatherRule
	batchRules["Slice"] = sliceRule
	batchRules["Attention"] = attentionRule
	// The int8 pass's NHWC forms keep the batch first, as NCHW does.
	for _, op := range []string{"Add", "Sub", "Mul", "Div", "Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "SiLU",
		"Tanh", "LeakyRelu", "QuantizeLinear", "DequantizeLinear", "Concat", "GlobalAveragePool", "QGlobalAveragePool"} {
		batchRules[op+"NHWC"] = firstOf(batchRules[op])
	}
	batchRules["MulQuantizeLinearNHWC"] = firstOf(elementwiseRule)
}

// firstOf is rule for batches held first (n = 1).
func firstOf(rule batchRule) batchRule {
	return func(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool) {
		for _, a := range at {
			if a != nil && (a.axis != 0 || a.n != 1) {
				return batchAt{}, false
			}
		}
		return rule(sc, n, in, at, out)
	}
}

// elementwiseRule: the batched inputs hold the batch at the same place,
// counted from the last dimension (NumPy broadcasting aligns them so), and
// every static input broadcasts along it (size 1 there, or too few
// dimensions to reach it).
func elementwiseRule(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool) {
	back, weight := 0, 0 // the batch's dimension counted from the end, and n
	for i, a := range at {
		if a == nil {
			continue
		}
		b := len(in[i].Shape) - a.axis
		if back != 0 && (b != back || a.n != weight) {
			return batchAt{}, false
		}
		back, weight = b, a.n
	}
	for i, x := range in {
		if x == nil || at[i] != nil || sc.shaped[n.Inputs[i]] {
			continue
		}
		if j := len(x.Shape) - back; j >= 0 && x.Shape[j].Size != 1 {
			return batchAt{}, false
		}
	}
	if out[0] == nil || len(out[0].Shape) < back {
		return batchAt{}, false
	}
	return batchAt{len(out[0].Shape) - back, weight}, true
}

// quantizeRule is elementwiseRule with a scale per item of an axis only
// along another axis than the batch's.
func quantizeRule(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool) {
	res, ok := elementwiseRule(sc, n, in, at, out)
	if !ok || !alone(at) || len(in) < 2 || in[1] == nil {
		return batchAt{}, false
	}
	if len(in[1].Shape) == 0 || len(in[1].Shape) == 1 && in[1].Shape[0].Size == 1 {
		return res, true
	}
	axis, ok := attrAxis(n, "axis", 1, len(in[0].Shape))
	return res, ok && axis != at[0].axis
}

// firstAxisRule: ops that map each item of their first dimension (an
// image of a batch) to one (convolutions, pooling, normalisation): the
// batch in the first dimension of input 0, any other batched input (a
// fused residual) held as the result holds it.
func firstAxisRule(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool) {
	if at[0] == nil || at[0].axis != 0 {
		return batchAt{}, false
	}
	for i, a := range at[1:] {
		if a != nil && (*a != *at[0] || len(in[i+1].Shape) != len(in[0].Shape)) {
			return batchAt{}, false
		}
	}
	return *at[0], true
}

// reshapeRule: the batch's digit keeps its weight in the linear order and
// must fall within one dimension of the result.
func reshapeRule(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool) {
	if at[0] == nil || out[0] == nil {
		return batchAt{}, false
	}
	axis, c, ok := sc.locate(out[0].Shape)
	if !ok {
		return batchAt{}, false
	}
	stride := at[0].n * inner(in[0].Shape, at[0].axis)
	t := inner(out[0].Shape, axis)
	if stride <= 0 || t <= 0 || stride%t != 0 || c%(stride/t) != 0 { // items of no elements: not split
		return batchAt{}, false
	}
	return batchAt{axis, stride / t}, true
}

// transposeRule moves the batch's dimension.
func transposeRule(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool) {
	rank := len(in[0].Shape)
	perm, err := NewAttrs(n.Attrs).Ints("perm", nil)
	if err != nil || at[0] == nil {
		return batchAt{}, false
	}
	if perm == nil {
		for i := range rank {
			perm = append(perm, rank-1-i)
		}
	}
	j := slices.Index(perm, at[0].axis)
	return batchAt{j, at[0].n}, j >= 0
}

// normalizeRule: Softmax, LogSoftmax, Hardmax and LayerNormalization
// work on the dimensions from axis on (Softmax before opset 13; after, on
// axis alone): the batch before them.
func normalizeRule(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool) {
	if !alone(at) {
		return batchAt{}, false
	}
	axis, ok := attrAxis(n, "axis", -1, len(in[0].Shape))
	return *at[0], ok && at[0].axis < axis
}

// axisRule: Concat, Split, ArgMax and ArgMin along another axis than the
// batch's (ArgMax's keepdims=0 drops its axis).
func axisRule(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool) {
	if at[0] == nil {
		return batchAt{}, false
	}
	for i, a := range at {
		if in[i] != nil && (a == nil || *a != *at[0]) {
			return batchAt{}, false
		}
	}
	axis, ok := attrAxis(n, "axis", 0, len(in[0].Shape))
	if !ok || axis == at[0].axis {
		return batchAt{}, false
	}
	res := *at[0]
	if n.OpType == "ArgMax" || n.OpType == "ArgMin" {
		keep, err := NewAttrs(n.Attrs).Int("keepdims", 1)
		if err != nil {
			return batchAt{}, false
		}
		if keep == 0 && axis < res.axis {
			res.axis--
		}
	}
	return res, true
}

// reduceRule: known axes that leave out the batch's (no axes reduce every
// axis, unless noop_with_empty_axes).
func reduceRule(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool) {
	if at[0] == nil {
		return batchAt{}, false
	}
	a := NewAttrs(n.Attrs)
	axes, err := a.Ints("axes", nil)
	if err != nil {
		return batchAt{}, false
	}
	if len(in) > 1 && in[1] != nil {
		if in[1].Const == nil {
			return batchAt{}, false
		}
		if axes, err = in[1].Const.Ints(); err != nil {
			return batchAt{}, false
		}
	}
	keep, err := a.Int("keepdims", 1)
	if err != nil {
		return batchAt{}, false
	}
	if len(axes) == 0 {
		noop, err := a.Int("noop_with_empty_axes", 0)
		return *at[0], err == nil && noop != 0
	}
	rank, res := len(in[0].Shape), *at[0]
	for _, ax := range axes {
		if ax < 0 {
			ax += rank
		}
		switch {
		case ax == at[0].axis:
			return batchAt{}, false
		case ax < at[0].axis && keep == 0:
			res.axis--
		}
	}
	return res, true
}

// sliceRule: known axes that leave out the batch's.
func sliceRule(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool) {
	if !alone(at) {
		return batchAt{}, false
	}
	rank := len(in[0].Shape)
	var axes []int
	if len(in) > 1 { // opset 10: starts, ends, axes, steps as inputs
		switch {
		case len(in) > 3 && in[3] != nil:
			if in[3].Const == nil {
				return batchAt{}, false
			}
			v, err := in[3].Const.Ints()
			if err != nil {
				return batchAt{}, false
			}
			axes = v
		case in[1] != nil && len(in[1].Shape) == 1 && in[1].Shape[0].Known():
			for i := range in[1].Shape[0].Size {
				axes = append(axes, i)
			}
		default:
			return batchAt{}, false
		}
	} else {
		a := NewAttrs(n.Attrs)
		starts, err1 := a.Ints("starts", nil)
		v, err2 := a.Ints("axes", nil)
		if err1 != nil || err2 != nil {
			return batchAt{}, false
		}
		axes = v
		if axes == nil {
			for i := range starts {
				axes = append(axes, i)
			}
		}
	}
	for _, ax := range axes {
		if ax == at[0].axis || ax+rank == at[0].axis {
			return batchAt{}, false
		}
	}
	return *at[0], true
}

// gatherRule: from batched data along another axis at static indices, or
// from static data (an embedding) at batched indices.
func gatherRule(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return batchAt{}, false
	}
	axis, ok := attrAxis(n, "axis", 0, len(in[0].Shape))
	if !ok {
		return batchAt{}, false
	}
	switch {
	case at[0] != nil && at[1] == nil && !sc.shaped[n.Inputs[1]] && axis != at[0].axis:
		res := *at[0]
		if axis < res.axis {
			res.axis += len(in[1].Shape) - 1
		}
		return res, true
	case at[0] == nil && at[1] != nil:
		return batchAt{axis + at[1].axis, at[1].n}, true
	}
	return batchAt{}, false
}

// matMulRule: the matrix products (and the fused and integer ones, whose
// B is held packed): the batch among A's rows or leading dimensions, or
// among B's leading dimensions, and where both are batched, in both at
// the same leading dimension; a static operand's leading dimension there
// is 1. Other batched inputs (a fused residual) hold it as the result.
func matMulRule(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool) {
	a, b := 0, 1
	if n.OpType == "QLinearMatMul" {
		b = 3
	}
	if n.OpType == "FusedMatMul" || n.OpType == "FusedGemm" || n.OpType == "QMatMul" {
		b = -1 // held by the op
	}
	if out[0] == nil || at[0] == nil && (b < 0 || at[b] == nil) {
		return batchAt{}, false
	}
	back, weight := 0, 0
	for _, i := range []int{a, b} {
		if i < 0 || at[i] == nil {
			continue
		}
		r := len(in[i].Shape) - at[i].axis
		switch {
		case r < 2 || i == b && r < 3:
			return batchAt{}, false // K, or B's columns
		case back != 0 && (r < 3 || back != r || weight != at[i].n):
			return batchAt{}, false
		}
		back, weight = r, at[i].n
	}
	for _, i := range []int{a, b} {
		if i >= 0 && at[i] == nil && back >= 3 {
			if j := len(in[i].Shape) - back; j >= 0 && in[i].Shape[j].Size != 1 {
				return batchAt{}, false
			}
		}
	}
	res := batchAt{len(out[0].Shape) - back, weight}
	for i, x := range at {
		if x != nil && i != a && i != b && (*x != res || len(in[i].Shape) != len(out[0].Shape)) {
			return batchAt{}, false
		}
	}
	return res, true
}

// gemmRule: Gemm's A batched along its rows (not transposed), B static,
// and C broadcast along them.
func gemmRule(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool) {
	transA, err := NewAttrs(n.Attrs).Int("transA", 0)
	if err != nil || transA != 0 || !alone(at) || len(in) < 2 {
		return batchAt{}, false
	}
	if len(in) > 2 && in[2] != nil && len(in[2].Shape) == 2 && in[2].Shape[0].Size != 1 {
		return batchAt{}, false
	}
	return *at[0], true
}

// attentionRule: the fused attention's Q, K and V are [S, N, d] with the
// batch among the N heads, or views of [S, B, W] (attentionViews) with
// the batch in B: head j·(width/d) + h of a view is row j of B, so the
// batch's digit, of weight n in B, has weight n·width/d among the heads.
func attentionRule(sc *batchScan, n *Node, in []*Info, at []*batchAt, out []*Info) (batchAt, bool) {
	o, ok := n.Op.(*attentionOp)
	if !ok || len(at) < 3 {
		return batchAt{}, false
	}
	var heads batchAt
	for i := range 3 {
		if at[i] == nil || at[i].axis != 1 {
			return batchAt{}, false
		}
		a := *at[i]
		if v := o.view(i); v.width > 0 {
			a.n *= v.width / o.d
		}
		if i > 0 && a != heads {
			return batchAt{}, false
		}
		heads = a
	}
	return heads, true
}

// alone reports whether input 0 is batched and no other input is.
func alone(at []*batchAt) bool {
	if len(at) == 0 || at[0] == nil {
		return false
	}
	for _, a := range at[1:] {
		if a != nil {
			return false
		}
	}
	return true
}

// attrAxis returns n's axis attribute (def when absent) made non-negative
// for a rank, and false when it is not an INT or out of range.
func attrAxis(n *Node, name string, def, rank int) (int, bool) {
	axis, err := NewAttrs(n.Attrs).Int(name, def)
	if err != nil || axis < -rank || axis >= rank {
		return 0, false
	}
	if axis < 0 {
		axis += rank
	}
	return axis, true
}

// splitRun runs a batch of n items (n >= 2, the first dimension of every
// input) in chunks (2 to n) of consecutive items on workers goroutines at
// once, and joins the chunks' outputs along the first axis. The results
// do not depend on the chunks (TestSplitBatchModels); a worker takes the
// next one when it is done with its own, so that a worker that starts
// late (a core waking up) leaves its share to the others. The chunks share the
// run's memory bound. A split run that fails runs again whole, so that
// its error is the one a whole run gives (about the batch, not a chunk;
// and two chunks' peaks may coincide where one run's do not).
func (s *Session) splitRun(inputs map[string]*Tensor, n, workers, chunks int) (map[string]*Tensor, error) {
	var inBytes int64
	for _, spec := range s.g.Inputs {
		t := inputs[spec.Name]
		if err := checkInput(spec, t); err != nil {
			return nil, err
		}
		inBytes += t.bytes()
	}
	var live atomic.Int64
	limit := s.limit(inBytes)
	res := make([]map[string]*Tensor, chunks)
	errs := make([]error, chunks)
	var next atomic.Int64
	var failed atomic.Bool
	work := func(threads int) {
		for {
			k := int(next.Add(1) - 1)
			if k >= chunks || failed.Load() {
				return
			}
			lo, hi := n*k/chunks, n*(k+1)/chunks
			feeds := make(map[string]*Tensor, len(inputs))
			for name, t := range inputs {
				feeds[name], _ = t.Rows(lo, hi) // lo <= hi <= n, checked
			}
			if res[k], errs[k] = s.run(feeds, nil, nil, threads, &live, limit); errs[k] != nil {
				failed.Store(true)
			}
		}
	}
	// On internal/par's workers, which spin between runs: a goroutine
	// started per run waits for an idle core to wake (the Fashion CNN at
	// batch 8 on two threads: 28.3k items/s so, 38.7k on the workers).
	par.Do(workers, func(w int) { work(threadShare(s.threads, workers, w)) })
	if errors.Join(errs...) != nil {
		// Again whole, for the whole batch's error (or a run that fits
		// the memory bound whole where the chunks' peaks coincided).
		return s.run(inputs, nil, nil, s.threads, nil, limit)
	}
	out := make(map[string]*Tensor, len(s.g.Outputs))
	for _, o := range s.g.Outputs {
		all := make([]*Tensor, chunks)
		for k := range chunks {
			all[k] = res[k][o.Name]
		}
		out[o.Name] = joinRows(all)
	}
	return out, nil
}

// threadShare returns the threads of part k of parts that share threads:
// as many each, the first ones one more for the rest.
func threadShare(threads, parts, k int) int {
	if k < threads%parts {
		return threads/parts + 1
	}
	return threads / parts
}

// chunksPerWorker is how many chunks a split run makes per worker (at
// most one per item, at least cacheChunks): two, so that a worker that
// starts late leaves a share to the other, and the chunks of a small
// model keep items enough for its GEMMs (the Fashion CNN at batch 8 on two
// threads of an AVX2-only EPYC: 16.3k items/s in chunks of one item, 18.3k
// in chunks of two; the others within noise).
const chunksPerWorker = 2

// SplitsBatch reports whether the graph computes each item of a batch
// from that item alone, as far as the rules of split.go can tell: then,
// with several threads, Run splits a batch of several items into chunks
// of items that run at once.
func (s *Session) SplitsBatch() bool { return s.batch != "" }

// chunkBytes is how much of the largest node output of a batch a chunk
// of it may make (cacheChunks): a batch of MobileNetV2 at 224×224 (4.8 MB
// of activations per image in its first layers) runs image by image, out
// of its cores' last-level cache less often; one thread, batch 8, on an
// AVX2-only EPYC: 1.1-1.2× mobilenet_v2 and efficientnet_b0, resnet18
// (3.2 MB) in chunks of two as fast as whole.
const chunkBytes = 8 << 20

// cacheChunks returns how many chunks a batch of n items should run in so
// that no chunk's node makes an output of more than chunkBytes, by the
// largest output per item of the session's runs so far (1 before the
// first, or for a graph Run does not split).
func (s *Session) cacheChunks(n int) int {
	per := s.itemBytes.Load()
	if s.batch == "" || n < 2 || per == 0 {
		return 1
	}
	items := max(1, chunkBytes/per)
	return int((int64(n) + items - 1) / items)
}

// noteItemBytes records the largest output per item of a run.
func (s *Session) noteItemBytes(b int64) {
	for {
		old := s.itemBytes.Load()
		if b <= old || s.itemBytes.CompareAndSwap(old, b) {
			return
		}
	}
}

// splitParts returns the first dimension of the inputs and the number of
// workers to run them on: 1 when the session runs whole (a graph that is
// not sample-wise, one thread, one item, or inputs whose first dimensions
// differ: Run then reports what is wrong with them); n is 0 where the
// batch cannot be split.
func (s *Session) splitParts(inputs map[string]*Tensor) (n, workers int) {
	if s.batch == "" || len(inputs) != len(s.g.Inputs) {
		return 0, 1
	}
	n = -1
	for _, spec := range s.g.Inputs {
		t := inputs[spec.Name]
		if t == nil || len(t.Shape) == 0 || n >= 0 && t.Shape[0] != n {
			return 0, 1
		}
		n = t.Shape[0]
	}
	return n, max(1, min(s.threads, n))
}

// joinRows concatenates tensors of one element type along their first
// dimension, the others being equal.
func joinRows(parts []*Tensor) *Tensor {
	shape := slices.Clone(parts[0].Shape)
	for _, t := range parts[1:] {
		shape[0] += t.Shape[0]
	}
	out := &Tensor{DType: parts[0].DType, Shape: shape}
	out.alloc(prod(shape))
	dw, off := wordsOf(out), 0
	for _, t := range parts {
		sw := wordsOf(t)
		switch {
		case dw.b4 != nil:
			off += copy(dw.b4[off:], sw.b4)
		case dw.b8 != nil:
			off += copy(dw.b8[off:], sw.b8)
		default:
			off += copy(dw.b1[off:], sw.b1)
		}
	}
	return out
}
