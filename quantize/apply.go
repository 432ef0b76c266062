package quantize

import (
	"fmt"
	"math"
	"slices"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// Apply returns the quantized model: a copy of the plan's float graph
// with a QuantizeLinear → DequantizeLinear pair on every site, amax[i]
// giving the scale of Plan.Sites[i] (Amax computes them). It is the one
// representation of the quantized model: graph.NewSession runs it (its
// Infer folds the weights' pairs into fake-quantized constants, bit for
// bit as ONNX Runtime computes them), onnx/export.Graph writes it as the
// QDQ ONNX file TensorRT and ONNX Runtime load.
//
// The pairs follow TensorRT's explicit quantization conventions, as the
// original's export does: symmetric, zero point 0 (INT8, UINT8 for
// unsigned activations, INT4, FLOAT8E4M3FN), scale = amax/127 (255
// unsigned, 7 for INT4; amax/448 for FP8, saturating), 1 where amax is 0;
// per tensor for activations; per channel (the axis attribute) or per
// block (axis and block_size) for weights, which stay float initializers
// followed by the pair. Each pair reads the quantized value and feeds
// only its consumer's input; its nodes are SITE/QuantizeLinear and
// SITE/DequantizeLinear, its scale and zero point initializers
// SITE/scale and SITE/zero_point.
//
// The graph's ai.onnx opset is kept, or raised to what the format needs
// (13 for per-channel INT8, 19 for FP8, 21 for INT4; 10 for per-tensor
// INT8): from 13 on, raising past 17 moves the axes attribute of the
// Reduce ops (ReduceMean ...) into their input, as opset 18 wants; a
// graph below opset 13 that needs a newer one is refused (export it from
// PyTorch at opset 13 or later), and so is one whose GroupNormalization
// (changed at 21) or RoiAlign (16) a raise would change.
//
// It returns an error for an amax list that does not match the sites
// (their number, shapes, a NaN, infinite or negative amax), naming the
// quantizer, and for the opsets above.
func (p *Plan) Apply(amax []*tensor.Tensor) (*graph.Graph, error) {
	if len(amax) != len(p.Sites) {
		return nil, fmt.Errorf("quantize: %d amax for %d quantizers", len(amax), len(p.Sites))
	}
	src := p.g
	opset, err := p.opset()
	if err != nil {
		return nil, err
	}
	g := &graph.Graph{Name: src.Name, Opsets: map[string]int{}, Inputs: slices.Clone(src.Inputs), Outputs: slices.Clone(src.Outputs),
		Initializers: map[string]*graph.Tensor{}, ValueInfo: slices.Clone(src.ValueInfo)}
	for d, v := range src.Opsets {
		g.Opsets[d] = v
	}
	g.Opsets[""] = opset
	names := newNamer(src)
	for k, v := range src.Initializers {
		g.Initializers[k] = v
	}
	bySite := map[string][]int{} // node -> sites
	for i, s := range p.Sites {
		bySite[s.Node] = append(bySite[s.Node], i)
	}
	for _, n := range src.Nodes {
		c := *n
		c.Inputs = slices.Clone(n.Inputs)
		if src.Opsets[""] < 18 && opset >= 18 {
			if err := moveAxes(g, &c, names); err != nil {
				return nil, err
			}
		}
		for _, i := range bySite[n.Name] {
			s := p.Sites[i]
			out, err := p.emit(g, names, s, amax[i])
			if err != nil {
				return nil, err
			}
			c.Inputs[s.Input] = out
			c.Op = nil // rebuilt by Infer for its new inputs
		}
		g.Nodes = append(g.Nodes, &c)
	}
	return g, nil
}

// opset returns the ai.onnx opset of the quantized graph.
func (p *Plan) opset() (int, error) {
	have := p.g.Opsets[""]
	need := 10
	for _, s := range p.Sites {
		if s.Kind == Weight && s.Axis >= 0 {
			need = 13
		}
	}
	switch p.Options.Format {
	case FP8:
		need = 19
	case Int4:
		need = 21
	}
	if have >= need || len(p.Sites) == 0 {
		return have, nil
	}
	if have < 13 {
		return 0, fmt.Errorf("quantize: the model imports ai.onnx opset %d; its %s quantization needs opset %d: export it at opset 13 or later (torch.onnx.export(opset_version=13))",
			have, p.Options.Format, need)
	}
	for _, n := range p.g.Nodes {
		if n.OpType == "GroupNormalization" && need >= 21 || n.OpType == "RoiAlign" && have < 16 && need >= 16 {
			return 0, fmt.Errorf("quantize: node %q: %s changes meaning between opsets %d and %d, which %s quantization needs", n.Name, n.OpType, have, need, p.Options.Format)
		}
	}
	return need, nil
}

// reduceOps take their axes as an attribute before opset 18 and as an
// input from it (ReduceSum already from 13).
var reduceOps = []string{"ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSumSquare"}

// moveAxes rewrites a Reduce node of an opset before 18 for opset 18: its
// axes attribute becomes an INT64 initializer input.
func moveAxes(g *graph.Graph, n *graph.Node, names *namer) error {
	if !slices.Contains(reduceOps, n.OpType) {
		return nil
	}
	i := slices.IndexFunc(n.Attrs, func(a onnx.Attribute) bool { return a.Name == "axes" })
	if i < 0 {
		return nil
	}
	axes := make([]int64, len(n.Attrs[i].Ints))
	copy(axes, n.Attrs[i].Ints)
	t, err := graph.Int64s(axes, len(axes))
	if err != nil {
		return err
	}
	name := names.value(n.Name + "/axes")
	g.Initializers[name] = t
	n.Attrs = slices.Delete(slices.Clone(n.Attrs), i, i+1)
	n.Inputs = append(n.Inputs, name)
	n.Op = nil
	return nil
}

// qformat is the integer or FP8 format of one site.
type qformat struct {
	zp    onnx.DataType
	bound float32 // amax/bound is the scale; 0 for FP8
}

func (p *Plan) format(s Site) qformat {
	switch {
	case p.Options.Format == FP8:
		return qformat{onnx.Float8E4M3FN, 0}
	case s.Kind == Weight && p.Options.Format == Int4:
		return qformat{onnx.Int4, 7}
	case s.Unsigned:
		return qformat{onnx.Uint8, 255}
	}
	return qformat{onnx.Int8, 127}
}

// emit adds the Q/DQ pair of site s to g and returns the value that
// replaces the consumer's input.
func (p *Plan) emit(g *graph.Graph, names *namer, s Site, amax *tensor.Tensor) (string, error) {
	if amax == nil {
		return "", fmt.Errorf("quantize: %s: no amax", s.Name)
	}
	for i, a := range amax.Data {
		if !(a >= 0) || math.IsInf(float64(a), 1) {
			return "", fmt.Errorf("quantize: %s: amax %v at flat index %d: want finite and >= 0", s.Name, a, i)
		}
	}
	x := s.Value
	var shape []int // of the quantized value, for weights
	axis, block := -1, 0
	var scaleShape []int
	if s.Kind == Weight {
		w := p.g.Info(s.Value).Const
		shape = w.Shape
		view, baxis := p.blockLayout(s, w.Shape)
		switch {
		case baxis >= 0:
			axis, block = baxis, p.Options.BlockSize
			scaleShape = slices.Clone(view)
			scaleShape[baxis] = (view[baxis] + block - 1) / block
			if !slices.Equal(view, w.Shape) {
				x = names.value(s.Name + "/weight")
				g.Initializers[x] = &graph.Tensor{DType: onnx.Float, Shape: view, F32: w.F32}
			}
		case s.Axis >= 0:
			axis = s.Axis
			scaleShape = []int{w.Shape[s.Axis]}
		}
	}
	if n, _ := tensor.NumelOf(scaleShape); n != len(amax.Data) {
		return "", fmt.Errorf("quantize: %s: %d amax values (shape %v), want %d", s.Name, len(amax.Data), amax.Shape, n)
	}
	f := p.format(s)
	scale, err := graph.New(onnx.Float, scaleShape...)
	if err != nil {
		return "", err
	}
	for i, a := range amax.Data {
		if f.zp == onnx.Float8E4M3FN {
			if scale.F32[i], err = fakequant.FP8Scale(a, fakequant.E4M3FN); err != nil {
				return "", fmt.Errorf("quantize: %s: %w", s.Name, err)
			}
		} else if scale.F32[i] = a / f.bound; scale.F32[i] == 0 {
			scale.F32[i] = 1
		}
	}
	zp, err := graph.New(f.zp, scaleShape...)
	if err != nil {
		return "", err
	}
	sn, zn := names.value(s.Name+"/scale"), names.value(s.Name+"/zero_point")
	g.Initializers[sn], g.Initializers[zn] = scale, zp
	var attrs []onnx.Attribute
	if axis >= 0 {
		attrs = append(attrs, onnx.IntAttr("axis", int64(axis)))
	}
	if block > 0 {
		attrs = append(attrs, onnx.IntAttr("block_size", int64(block)))
	}
	qAttrs := attrs
	if f.zp == onnx.Float8E4M3FN {
		qAttrs = append(slices.Clone(attrs), onnx.IntAttr("saturate", 1))
	}
	q := names.value(s.Name + "/QuantizeLinear")
	dq := names.value(s.Name + "/DequantizeLinear")
	qo, dqo := names.value(q+"_output_0"), names.value(dq+"_output_0")
	g.Nodes = append(g.Nodes,
		&graph.Node{Name: q, OpType: "QuantizeLinear", Inputs: []string{x, sn, zn}, Outputs: []string{qo}, Attrs: qAttrs},
		&graph.Node{Name: dq, OpType: "DequantizeLinear", Inputs: []string{qo, sn, zn}, Outputs: []string{dqo}, Attrs: attrs})
	if x == s.Value {
		return dqo, nil
	}
	dims := make([]int64, len(shape))
	for i, d := range shape {
		dims[i] = int64(d)
	}
	st, err := graph.Int64s(dims, len(dims))
	if err != nil {
		return "", err
	}
	shn := names.value(s.Name + "/shape")
	g.Initializers[shn] = st
	r := names.value(s.Name + "/Reshape")
	ro := names.value(r + "_output_0")
	g.Nodes = append(g.Nodes, &graph.Node{Name: r, OpType: "Reshape", Inputs: []string{dqo, shn}, Outputs: []string{ro}})
	return ro, nil
}

// namer makes names that no node or value of a graph has (one namespace
// serves both).
type namer struct {
	used map[string]bool
}

func newNamer(g *graph.Graph) *namer {
	n := &namer{used: map[string]bool{}}
	for _, in := range g.Inputs {
		n.used[in.Name] = true
	}
	for k := range g.Initializers {
		n.used[k] = true
	}
	for _, nd := range g.Nodes {
		n.used[nd.Name] = true
		for _, o := range nd.Outputs {
			n.used[o] = true
		}
	}
	for _, v := range g.ValueInfo {
		n.used[v.Name] = true
	}
	for _, o := range g.Outputs {
		n.used[o.Name] = true
	}
	return n
}

// value returns want, or want_1, want_2 ... if it is taken, and marks it
// taken.
func (n *namer) value(want string) string {
	name := want
	for k := 1; n.used[name]; k++ {
		name = fmt.Sprintf("%s_%d", want, k)
	}
	n.used[name] = true
	return name
}
