// Package ptqtest makes QDQ models from float ONNX models for the tests of
// integer execution, as ONNX Runtime's static quantizer does in its QDQ
// format: every Conv, Gemm and MatMul whose weight is a constant gets a
// QuantizeLinear → DequantizeLinear pair on its input (per tensor, over
// calibration inputs: int8 with zero point 0 and scale amax/127, or, as
// ONNX Runtime's default, uint8 with scale (max − min)/255 and the zero
// point that maps 0 to a code), its weight as int8 codes per output
// channel (scale amax/127 of the channel) read through DequantizeLinear,
// and every graph output is quantized and dequantized the same way, so
// that its quantization step is known.
//
// It is a test helper: only _test.go files import it.
package ptqtest

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/onnx/export"
)

// Model is a QDQ model and the quantization step of each graph output.
type Model struct {
	*onnx.Model
	Steps map[string]float32 // output name → scale of its QuantizeLinear
}

// Quantize returns the QDQ model of the float model m, calibrated on
// calib (graph input name → value), with uint8 activations when unsigned
// (else int8). It returns an error when m does not import or run.
func Quantize(m *onnx.Model, calib map[string]*graph.Tensor, unsigned bool) (*Model, error) {
	g, err := graph.Import(m)
	if err != nil {
		return nil, err
	}
	var targets []*graph.Node
	acts := map[string]bool{}
	for _, n := range g.Nodes {
		if n.OpType != "Conv" && n.OpType != "Gemm" && n.OpType != "MatMul" || n.Domain != "" || len(n.Inputs) < 2 {
			continue
		}
		w := g.Initializers[n.Inputs[1]]
		if w == nil || w.DType != onnx.Float || n.OpType != "Conv" && len(w.Shape) != 2 {
			continue
		}
		if n.OpType == "Gemm" && gemmTransA(n) {
			continue
		}
		targets = append(targets, n)
		acts[n.Inputs[0]] = true
	}
	// Calibration: the largest magnitude of every value to quantize.
	cg, err := graph.Import(m)
	if err != nil {
		return nil, err
	}
	var names []string
	for v := range acts {
		names = append(names, v)
	}
	slices.Sort(names)
	for _, o := range g.Outputs {
		names = append(names, o.Name)
	}
	for _, v := range names {
		cg.Outputs = append(cg.Outputs, graph.ValueSpec{Name: v})
	}
	s, err := graph.NewSession(cg, graph.Options{Optimization: graph.OptimizeNone})
	if err != nil {
		return nil, err
	}
	out, err := s.Run(calib)
	if err != nil {
		return nil, err
	}
	scale, zero := map[string]float32{}, map[string]uint8{}
	for _, v := range names {
		lo, hi := float32(0), float32(0)
		for _, x := range out[v].F32 {
			lo, hi = min(lo, x), max(hi, x)
		}
		scale[v] = scaleOf(max(-lo, hi))
		if s := (hi - lo) / 255; unsigned && s > 0 && !math.IsInf(float64(s), 0) {
			scale[v] = s
			zero[v] = uint8(min(255, math.Round(float64(-lo/s))))
		}
	}

	var nodes []*graph.Node
	added := map[string]string{} // activation → its dequantized name
	uniq := 0
	name := func(base string) string {
		uniq++
		return fmt.Sprintf("%s_ptq%d", strings.ReplaceAll(base, "/", "_"), uniq)
	}
	qdq := func(v, out string) []*graph.Node {
		sc, zp := name(v+"_scale"), name(v+"_zp")
		g.Initializers[sc] = &graph.Tensor{DType: onnx.Float, Shape: []int{}, F32: []float32{scale[v]}}
		g.Initializers[zp] = &graph.Tensor{DType: onnx.Int8, Shape: []int{}, I8: []int8{0}}
		if unsigned {
			g.Initializers[zp] = &graph.Tensor{DType: onnx.Uint8, Shape: []int{}, U8: []uint8{zero[v]}}
		}
		q := name(v + "_q")
		return []*graph.Node{
			{Name: name("Q"), OpType: "QuantizeLinear", Inputs: []string{v, sc, zp}, Outputs: []string{q}},
			{Name: name("DQ"), OpType: "DequantizeLinear", Inputs: []string{q, sc, zp}, Outputs: []string{out}},
		}
	}
	isTarget := func(n *graph.Node) bool { return slices.Contains(targets, n) }
	for _, n := range g.Nodes {
		if isTarget(n) {
			if _, ok := added[n.Inputs[0]]; !ok {
				added[n.Inputs[0]] = name(n.Inputs[0] + "_dq")
				nodes = append(nodes, qdq(n.Inputs[0], added[n.Inputs[0]])...)
			}
			axis := 0
			if n.OpType == "MatMul" || n.OpType == "Gemm" && !gemmTransB(n) {
				axis = 1
			}
			wdq, wnodes := quantizeWeight(g, n.Inputs[1], axis, name)
			nodes = append(nodes, wnodes...)
			c := *n
			c.Inputs = slices.Clone(n.Inputs)
			c.Inputs[0], c.Inputs[1] = added[n.Inputs[0]], wdq
			c.Op = nil
			n = &c
		}
		nodes = append(nodes, n)
	}
	steps := map[string]float32{}
	for _, o := range g.Outputs {
		f := name(o.Name + "_float")
		for _, n := range nodes {
			for i, v := range n.Outputs {
				if v == o.Name {
					n.Outputs[i] = f
				}
			}
			for i, v := range n.Inputs {
				if v == o.Name {
					n.Inputs[i] = f
				}
			}
		}
		scale[f], zero[f] = scale[o.Name], zero[o.Name]
		nodes = append(nodes, qdq(f, o.Name)...)
		steps[o.Name] = scale[o.Name]
	}
	for _, n := range nodes {
		n.Op = nil
	}
	// Not inferred again: that would fold the weights' DequantizeLinear.
	g.Nodes = nodes
	used := map[string]bool{}
	for _, n := range nodes {
		for _, in := range n.Inputs {
			used[in] = true
		}
	}
	for name := range g.Initializers {
		if !used[name] {
			delete(g.Initializers, name) // the float weights
		}
	}
	g.ValueInfo = nil
	qm, err := export.Graph(g)
	if err != nil {
		return nil, err
	}
	return &Model{Model: qm, Steps: steps}, nil
}

// scaleOf returns the int8 scale of a calibrated amax.
func scaleOf(amax float32) float32 {
	if !(amax > 0) || math.IsInf(float64(amax), 0) {
		return 1
	}
	return amax / 127
}

func gemmTransA(n *graph.Node) bool { return intAttr(n, "transA") != 0 }
func gemmTransB(n *graph.Node) bool { return intAttr(n, "transB") != 0 }

func intAttr(n *graph.Node, name string) int64 {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a.I
		}
	}
	return 0
}

// quantizeWeight adds int8 codes, per-channel scales (along axis) and a
// DequantizeLinear for the float initializer w, and returns the
// dequantized value's name and the node.
func quantizeWeight(g *graph.Graph, w string, axis int, name func(string) string) (string, []*graph.Node) {
	t := g.Initializers[w]
	outer, dim := 1, t.Shape[axis]
	for _, d := range t.Shape[:axis] {
		outer *= d
	}
	inner := t.Len() / max(outer*dim, 1)
	amax := make([]float32, dim)
	for i, v := range t.F32 {
		c := i / inner % dim
		amax[c] = max(amax[c], float32(math.Abs(float64(v))))
	}
	sc := make([]float32, dim)
	for c := range sc {
		sc[c] = scaleOf(amax[c])
	}
	q := &graph.Tensor{DType: onnx.Int8, Shape: slices.Clone(t.Shape), I8: make([]int8, t.Len())}
	for i, v := range t.F32 {
		q.I8[i] = int8(fakequant.QuantizeLinear(v, sc[i/inner%dim], 0, -127, 127))
	}
	qn, sn, zn, out := name(w+"_q"), name(w+"_scale"), name(w+"_zp"), name(w+"_dq")
	g.Initializers[qn] = q
	g.Initializers[sn] = &graph.Tensor{DType: onnx.Float, Shape: []int{dim}, F32: sc}
	g.Initializers[zn] = &graph.Tensor{DType: onnx.Int8, Shape: []int{dim}, I8: make([]int8, dim)}
	return out, []*graph.Node{{Name: name("DQ"), OpType: "DequantizeLinear", Inputs: []string{qn, sn, zn}, Outputs: []string{out},
		Attrs: []onnx.Attribute{onnx.IntAttr("axis", int64(axis))}}}
}
