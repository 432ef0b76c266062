package graph

import (
	"fmt"
	"slices"

	"github.com/tensorquant/tensorquant/internal/qgemm"
	"github.com/tensorquant/tensorquant/internal/vecmath"
	"github.com/tensorquant/tensorquant/onnx"
)

// The nhwc pass keeps the activations of an int8 graph in NHWC ([N,
// spatial..., C]), the order the integer convolutions work in, wherever
// that saves transposing them: an integer convolution reads and writes
// NCHW through a transposition of its whole input or output, and between
// two of them there are often only elementwise ops — a Relu, the SiLU or
// HardSwish of the float graph (SiLU fused by fuse-silu), the QuantizeLinear and DequantizeLinear
// of the next layer, a residual Add, the channel scaling of a
// squeeze-and-excitation block — which compute the same values in either
// order.
//
// The values joined by such ops form a group that is NHWC or NCHW as a
// whole. A group is NHWC when an integer convolution writes or reads one
// of its values and every op that touches them can take NHWC: integer
// convolutions (either side), elementwise ops whose other operands are
// scalars or one value per channel ([N or 1, C, 1, ...] or [C, 1, ...],
// which are given to them as [.., 1, C]), per-tensor QuantizeLinear and
// DequantizeLinear, and GlobalAveragePool (which reads NHWC and writes its
// [N, C, 1, ...] output, the same bytes in either order, with the same
// float32 sums in the same order; or the int8-pool pass's
// QGlobalAveragePool, its codes summed in int32). Graph inputs and
// outputs, the values of Options.Keep and constants stay NCHW. The
// outputs are the same bits as without the pass.

func init() {
	RegisterPass(Pass{Name: "nhwc", Stage: StageFuse + 100, Integer: true, Apply: nhwcPass})
}

// elementwise lists the ops of one input that compute each output element
// from the input element alone (Clip's bounds are scalars).
var elementwise = map[string]bool{
	"Relu": true, "LeakyRelu": true, "Sigmoid": true, "HardSigmoid": true, "HardSwish": true, "Tanh": true,
	"Gelu": true, "Erf": true, "Exp": true, "Log": true, "Sqrt": true, "Neg": true, "Abs": true, "Reciprocal": true, "Clip": true,
}

// arithmetic lists the broadcasting elementwise ops of two inputs.
var arithmetic = map[string]bool{"Add": true, "Sub": true, "Mul": true, "Div": true}

// layoutRole is what an op can do with NHWC values.
type layoutRole uint8

const (
	rolePinned layoutRole = iota // every input and output NCHW
	roleQConv                    // an integer convolution: each side NHWC or not
	roleJoin                     // its full-size inputs and its output share a layout
	roleGAP                      // GlobalAveragePool: input either way, output NCHW
)

// nhwcPass finds the groups and makes the NHWC ones so.
func nhwcPass(r *Rewriter) error {
	parent := map[string]string{}
	var find func(v string) string
	find = func(v string) string {
		p, ok := parent[v]
		if !ok || p == v {
			return v
		}
		root := find(p)
		parent[v] = root
		return root
	}
	nodes := r.Nodes()
	roles := make([]layoutRole, len(nodes))
	per := make([][]int, len(nodes)) // a join's per-channel operands
	// grouped reports whether input i of node k is one of the values of
	// its group (not a scalar or per-channel operand of a join).
	grouped := func(k, i int) bool {
		return roles[k] != roleJoin || !slices.Contains(per[k], i) && !oneElement(r.Info(nodes[k].Inputs[i]))
	}
	for k, n := range nodes {
		roles[k], per[k] = nhwcRole(r, n)
		if roles[k] == roleJoin {
			for i, v := range n.Inputs {
				if v != "" && grouped(k, i) {
					parent[find(v)] = find(n.Outputs[0])
				}
			}
		}
	}
	bad, useful := map[string]bool{}, map[string]bool{}
	mark := func(v string, m map[string]bool) {
		if v != "" {
			m[find(v)] = true
		}
	}
	for k, n := range nodes {
		switch roles[k] {
		case rolePinned:
			for _, v := range slices.Concat(n.Inputs, n.Outputs) {
				mark(v, bad)
			}
			continue
		case roleQConv:
			mark(n.Inputs[0], useful)
			mark(n.Outputs[0], useful)
		case roleGAP:
			mark(n.Outputs[0], bad) // [N, C, 1, ...]: NCHW
		}
		// A join's per-channel operands stay NCHW, whatever its output
		// (the join takes them as [..., 1, C] when its output is NHWC).
		if roles[k] == roleJoin {
			for _, i := range per[k] {
				mark(n.Inputs[i], bad)
			}
		}
		// Graph inputs, constants, outputs and kept values stay NCHW.
		for i, v := range n.Inputs {
			if v != "" && grouped(k, i) && (r.isInput(v) || r.Const(v) != nil || r.IsOutput(v)) {
				mark(v, bad)
			}
		}
		if r.IsOutput(n.Outputs[0]) {
			mark(n.Outputs[0], bad)
		}
	}
	nhwc := func(v string) bool { root := find(v); return useful[root] && !bad[root] }
	for k, n := range nodes {
		switch roles[k] {
		case roleQConv:
			o := n.Op.(*fusedQConvOp)
			if nhwc(n.Inputs[0]) {
				o.in = qgemm.NHWC
			}
			if nhwc(n.Outputs[0]) {
				o.out = qgemm.NHWC
			}
		case roleGAP:
			if nhwc(n.Inputs[0]) {
				c := *n
				if q, ok := n.Op.(*qGlobalPoolOp); ok {
					op := *q
					op.nhwc = true
					c.OpType, c.Op = "QGlobalAveragePoolNHWC", &op
				} else {
					c.Domain, c.OpType, c.Op = FusedDomain, "GlobalAveragePoolNHWC", globalPoolNHWCOp{}
				}
				r.Replace([]*Node{n}, &c)
			}
		case roleJoin:
			if nhwc(n.Outputs[0]) && len(per[k]) > 0 {
				// One per-channel operand (the other is full-size): its
				// channel is at out's axis 1, right-aligned.
				i := per[k][0]
				axis := r.Info(n.Inputs[i]).Rank() - (r.Info(n.Outputs[0]).Rank() - 1)
				c := *n
				c.Domain, c.OpType, c.Op = FusedDomain, n.OpType+"NHWC", &nhwcJoinOp{op: n.Op, arg: i, axis: axis}
				r.Replace([]*Node{n}, &c)
			}
		}
	}
	names := map[qgemm.Layout]string{qgemm.NCHW: "NCHW", qgemm.NHWC: "NHWC"}
	for _, n := range r.Nodes() {
		if o, ok := n.Op.(*fusedQConvOp); ok && o.note >= 0 {
			r.g.int8[o.note].Layout = names[o.in] + "→" + names[o.out]
		}
	}
	return nil
}

// nhwcRole returns what n can do with NHWC values and, for a join, the
// indices of its per-channel operands.
func nhwcRole(r *Rewriter, n *Node) (layoutRole, []int) {
	if o, ok := n.Op.(*fusedQConvOp); ok && len(n.Inputs) == 1 && len(n.Outputs) == 1 && len(o.q.wShape) >= 3 {
		return roleQConv, nil
	}
	if len(n.Outputs) != 1 {
		return rolePinned, nil
	}
	if _, ok := n.Op.(*qGlobalPoolOp); ok && len(n.Inputs) == 1 { // int8-pool's (its output flattened or not)
		return roleGAP, nil
	}
	out := r.Info(n.Outputs[0])
	if out == nil || out.Rank() < 3 {
		return rolePinned, nil
	}
	if n.Domain == FusedDomain && n.OpType == "SiLU" && len(n.Inputs) == 1 { // fuse-silu's
		return roleJoin, nil
	}
	if n.Domain != "" {
		return rolePinned, nil
	}
	switch {
	case n.OpType == "GlobalAveragePool":
		if o, ok := n.Op.(*globalPoolOp); ok && !o.max && out.DType == onnx.Float {
			return roleGAP, nil
		}
	case elementwise[n.OpType]:
		for _, v := range n.Inputs[1:] {
			if v != "" && !oneElement(r.Info(v)) {
				return rolePinned, nil
			}
		}
		return roleJoin, nil
	case n.OpType == "QuantizeLinear" || n.OpType == "DequantizeLinear":
		if o, ok := n.Op.(*qdqOp); ok && o.block == 0 && oneElement(r.Info(n.Inputs[1])) {
			return roleJoin, nil
		}
	case arithmetic[n.OpType] && len(n.Inputs) == 2:
		var per []int
		for i, v := range n.Inputs {
			in := r.Info(v)
			switch {
			case in == nil:
				return rolePinned, nil
			case equalDims(in.Shape, out.Shape) || oneElement(in):
			case perChannelOf(in.Shape, out.Shape):
				per = append(per, i)
			default:
				return rolePinned, nil
			}
		}
		if len(per) < len(n.Inputs) {
			return roleJoin, per
		}
	}
	return rolePinned, nil
}

// oneElement reports whether i is a value of one element.
func oneElement(i *Info) bool {
	if i == nil {
		return false
	}
	for _, d := range i.Shape {
		if !d.Known() || d.Size != 1 {
			return false
		}
	}
	return true
}

// equalDims reports whether a and b are the same shape (a dimension of
// unknown size equal to one of the same name).
func equalDims(a, b []Dim) bool { return slices.Equal(a, b) }

// perChannelOf reports whether a value of shape s broadcasts as one value
// per channel to a full-size value of shape out, [N, C, spatial...]: s is
// out's shape right-aligned, with ones but for its channel dimension
// (C, not 1) and, in the full rank, its batch dimension (N or 1).
func perChannelOf(s, out []Dim) bool {
	c := len(s) - (len(out) - 1) // the channel axis in s
	if c < 0 || c > 1 || !s[c].Known() || s[c] != out[1] || s[c].Size == 1 {
		return false
	}
	for i, d := range s {
		if i != c && !(d.Known() && d.Size == 1) && !(i == 0 && c == 1 && d == out[0]) {
			return false
		}
	}
	return true
}

// nhwcJoinOp is an elementwise op of two inputs whose full-size operand
// and output are NHWC: it gives the op its per-channel operand (input
// arg) with its channel axis moved last, [..., 1, C], the same elements
// in the same order.
type nhwcJoinOp struct {
	op        Op
	arg, axis int
}

func (o *nhwcJoinOp) Infer(in []*Info) ([]*Info, error) {
	if o.arg >= len(in) || in[o.arg] == nil || in[o.arg].Rank() <= o.axis {
		return nil, fmt.Errorf("operand %d is not per channel along axis %d", o.arg, o.axis)
	}
	in = slices.Clone(in)
	c := *in[o.arg]
	c.Shape = moveLast(c.Shape, o.axis)
	in[o.arg] = &c
	return o.op.Infer(in)
}

func (o *nhwcJoinOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if o.arg >= len(in) || in[o.arg] == nil || len(in[o.arg].Shape) <= o.axis {
		return nil, fmt.Errorf("operand %d is not per channel along axis %d", o.arg, o.axis)
	}
	in = slices.Clone(in)
	c := *in[o.arg]
	c.Shape = moveLast(c.Shape, o.axis)
	in[o.arg] = &c
	return o.op.Run(ctx, in)
}

// globalPoolNHWCOp is GlobalAveragePool on an NHWC input [N, spatial...,
// C], with the NCHW output [N, C, 1, ...]: each channel's float32 sum in
// the order of the pixels, as globalPoolOp sums its planes, divided by
// the pixel count.
type globalPoolNHWCOp struct{}

func (globalPoolNHWCOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if x.DType != onnx.Float || x.Rank() < 3 {
		return nil, fmt.Errorf("input %v: want FLOAT [N, spatial..., C]", x)
	}
	out := []Dim{x.Shape[0], x.Shape[x.Rank()-1]}
	for range x.Rank() - 2 {
		out = append(out, Dim{Size: 1})
	}
	return []*Info{info(onnx.Float, out)}, nil
}

func (globalPoolNHWCOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if x.DType != onnx.Float || len(x.Shape) < 3 {
		return nil, fmt.Errorf("input %v: want FLOAT [N, spatial..., C]", x)
	}
	n, c := x.Shape[0], x.Shape[len(x.Shape)-1]
	pixels := prod(x.Shape[1 : len(x.Shape)-1])
	out := append([]int{n, c}, slices.Repeat([]int{1}, len(x.Shape)-2)...)
	y, err := ctx.Alloc(onnx.Float, out...)
	if err != nil {
		return nil, err
	}
	ctx.Parallel(n, 1, func(lo, hi int) {
		for b := lo; b < hi; b++ {
			sum := y.F32[b*c : (b+1)*c]
			clear(sum)
			img := x.F32[b*pixels*c : (b+1)*pixels*c]
			for p := range pixels {
				vecmath.Add(sum, sum, img[p*c:(p+1)*c])
			}
			for i := range sum {
				sum[i] /= float32(pixels)
			}
		}
	})
	return []*Tensor{y}, nil
}
