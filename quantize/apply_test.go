package quantize

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// formatCases are the formats and options the QDQ tests write.
var formatCases = []struct {
	name   string
	o      Options
	method calibrators.Method
	opset  int
}{
	{"int8", Options{}, calibrators.MethodMax, 13},
	{"int8 every option", Options{UnsignedAfterReLU: true, QuantizeResidualAdd: true, QuantizeActivationMatMul: true}, calibrators.MethodPercentile, 13},
	{"int8 per-tensor weights", Options{PerTensorWeights: true}, calibrators.MethodEntropy, 13},
	{"int8 mse weights", Options{WeightMethod: calibrators.MethodMSE}, calibrators.MethodMSE, 13},
	{"fp8", Options{Format: FP8}, calibrators.MethodMSE, 19},
	{"int4 blocks of 32", Options{Format: Int4, BlockSize: 32}, calibrators.MethodMax, 21},
	{"int4 blocks of 5", Options{Format: Int4, BlockSize: 5}, calibrators.MethodMax, 21},
	{"int4 per channel", Options{Format: Int4}, calibrators.MethodPercentile, 21},
}

// checkQDQStructure checks that q holds one QuantizeLinear →
// DequantizeLinear pair per site of p, that each pair reads the site's
// value (or, for a block-quantized Conv weight, its matrix view) and
// feeds exactly the site's consumer input (through a Reshape back to the
// weight's shape for such a view), and that nothing else changed.
func checkQDQStructure(t *testing.T, p *Plan, q *graph.Graph) {
	t.Helper()
	byName := map[string]*graph.Node{}
	producer := map[string]*graph.Node{}
	readers := map[string]int{}
	for _, n := range q.Nodes {
		byName[n.Name] = n
		for _, o := range n.Outputs {
			producer[o] = n
		}
		for _, in := range n.Inputs {
			readers[in]++
		}
	}
	pairs := 0
	for _, n := range q.Nodes {
		if n.OpType == "QuantizeLinear" {
			pairs++
		}
	}
	if pairs != len(p.Sites) {
		t.Errorf("%d QuantizeLinear nodes for %d quantizers", pairs, len(p.Sites))
	}
	for _, s := range p.Sites {
		c := byName[s.Node]
		if c == nil {
			t.Fatalf("%s: consumer %s missing", s.Name, s.Node)
		}
		v := c.Inputs[s.Input]
		d := producer[v]
		if d != nil && d.OpType == "Reshape" && s.Kind == Weight {
			v = d.Inputs[0]
			d = producer[v]
		}
		if d == nil || d.OpType != "DequantizeLinear" || readers[v] != 1 {
			t.Errorf("%s: input %d of %s is %q, not a DequantizeLinear output read once", s.Name, s.Input, s.Node, v)
			continue
		}
		qn := producer[d.Inputs[0]]
		if qn == nil || qn.OpType != "QuantizeLinear" || qn.Inputs[0] != s.Value && !strings.HasPrefix(qn.Inputs[0], s.Name) {
			t.Errorf("%s: the DequantizeLinear does not read a QuantizeLinear of %q", s.Name, s.Value)
		}
	}
	if len(q.Nodes) < len(p.Graph().Nodes)+2*len(p.Sites) {
		t.Errorf("%d nodes, want at least %d", len(q.Nodes), len(p.Graph().Nodes)+2*len(p.Sites))
	}
}

// TestFormatsRunInORT quantizes both vector models in every format and
// with every option, checks the QDQ graph's structure and opset, and runs
// the written file in ONNX Runtime (graph optimisation disabled) on
// calibration batch 0: its outputs are our Session's, bit for bit with the
// assembly GEMM (which multiplies and adds as ONNX Runtime's MLAS) on
// INT8 and INT4, and within 1% of the largest output with FP8 or the
// pure-Go GEMM (see the comment there).
// mlp_attn's ReduceMean nodes get their axes as an input from opset 18.
func TestFormatsRunInORT(t *testing.T) {
	models := []string{"cnn", "mlp_attn"}
	if testing.Short() {
		models = models[1:] // the one with attention, LayerNorm and the opset raise
	}
	for _, name := range models {
		g, x, v := loadPTQ(t, name)
		xb := firstRows(x, v.BatchSize)
		for _, fc := range formatCases {
			p, c := calibrate(t, g, x, fc.o, v.BatchSize)
			amax, err := c.Amax(fc.method, calibrators.AmaxOptions{})
			if err != nil {
				t.Fatalf("%s %s: %v", name, fc.name, err)
			}
			q, err := p.Apply(amax)
			if err != nil {
				t.Fatalf("%s %s: %v", name, fc.name, err)
			}
			checkQDQStructure(t, p, q)
			if q.Opsets[""] != fc.opset {
				t.Errorf("%s %s: opset %d, want %d", name, fc.name, q.Opsets[""], fc.opset)
			}
			for _, n := range q.Nodes {
				if n.OpType == "ReduceMean" && fc.opset >= 18 && (len(n.Inputs) != 2 || slices.ContainsFunc(n.Attrs, func(a onnx.Attribute) bool { return a.Name == "axes" })) {
					t.Errorf("%s %s: %s at opset %d: inputs %v, attributes %v", name, fc.name, n.Name, fc.opset, n.Inputs, n.Attrs)
				}
			}
			got := runGraph(t, q, xb)
			float := runGraph(t, g, xb)
			if n, _ := compare(got, float); n == 0 {
				t.Errorf("%s %s: the quantized model computes the float model's outputs", name, fc.name)
			}
			t.Run(name+"/"+fc.name, func(t *testing.T) {
				out := exttool.RunORT(t, writeQDQ(t, q), "disabled", map[string]exttool.Input{"input": {Dims: xb.Shape, Type: "float32", F32: xb.Data}})
				ort := out["output"].F32
				var tol float64
				for _, w := range ort {
					tol = max(tol, 1e-5*math.Abs(float64(w)))
				}
				n, worst := compare(got, ort)
				switch {
				case fc.o.Format == FP8 || cpufeat.Selected == cpufeat.Generic:
					// FP8 values are not on an integer grid, so a
					// convolution's sum depends on its order, and ONNX
					// Runtime's differs from ours in the last bit of some
					// elements (as on float models); the pure-Go GEMM
					// rounds each product. A quantizer after such a sum
					// may round an element to the neighbouring level:
					// the outputs move by a fraction of a level.
					if worst > 1000*tol {
						t.Errorf("%d of %d outputs differ from ONNX Runtime's, the largest by %g, more than 1%% of the largest output", n, len(ort), worst)
					}
				case n > 0:
					t.Errorf("%d of %d outputs differ from ONNX Runtime's (largest by %g)", n, len(ort), worst)
				}
			})
		}
	}
}

// TestApplyRefuses checks Apply's errors: the number and shapes of the
// amax, bad values, an opset it cannot raise, and FP8 entropy.
func TestApplyRefuses(t *testing.T) {
	g, x, _ := loadPTQ(t, "cnn")
	p, c := calibrate(t, g, x, Options{}, 64)
	amax, err := c.Amax(calibrators.MethodMax, calibrators.AmaxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(amax[1:]); err == nil {
		t.Error("too few amax accepted")
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), -1} {
		a := slices.Clone(amax)
		a[0] = tensor.Scalar(bad)
		if _, err := p.Apply(a); err == nil || !strings.Contains(err.Error(), "/conv1/Conv/input_quantizer") {
			t.Errorf("amax %v: %v", bad, err)
		}
	}
	a := slices.Clone(amax)
	a[1] = tensor.Scalar(1) // a per-channel weight with one amax
	if _, err := p.Apply(a); err == nil || !strings.Contains(err.Error(), "weight_quantizer") {
		t.Errorf("a weight with one amax: %v", err)
	}
	old := *g
	old.Opsets = map[string]int{"": 11}
	p11, err := Place(&old, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p11.Apply(amax); err == nil || !strings.Contains(err.Error(), "opset 11") {
		t.Errorf("opset 11 with per-channel weights: %v", err)
	}
	pt, ct := calibrate(t, &old, x, Options{PerTensorWeights: true}, 64)
	at, err := ct.Amax(calibrators.MethodMax, calibrators.AmaxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if q, err := pt.Apply(at); err != nil || q.Opsets[""] != 11 {
		t.Errorf("opset 11 with per-tensor weights: %v", err)
	}
	_, cf := calibrate(t, g, x, Options{Format: FP8}, 64)
	if _, err := cf.Amax(calibrators.MethodEntropy, calibrators.AmaxOptions{}); err == nil || !strings.Contains(err.Error(), "FP8") {
		t.Errorf("FP8 entropy: %v", err)
	}
}
