package quantize

import (
	"testing"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/testkit/ptqvec"
	"github.com/tensorquant/tensorquant/tensor"
)

// ptqDir is testdata/conformance/onnx_ptq.
func ptqDir(t testing.TB) string {
	t.Helper()
	dir, err := ptqvec.Dir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// loadPTQ reads a vector model: its float graph, its calibration inputs
// and the vectors.
func loadPTQ(t testing.TB, name string) (*graph.Graph, *tensor.Tensor, *ptqvec.Vectors) {
	t.Helper()
	g, x, v, err := ptqvec.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	return g, x, v
}

func inputData(t testing.TB, g *graph.Graph, x *tensor.Tensor) Data {
	t.Helper()
	d, err := Tensors(map[string]*graph.Tensor{g.Inputs[0].Name: graph.Float(x)})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// calibrate places the quantizers of g with o and calibrates them on x in
// batches of batch.
func calibrate(t testing.TB, g *graph.Graph, x *tensor.Tensor, o Options, batch int) (*Plan, *Calibration) {
	t.Helper()
	p, err := Place(g, o)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Calibrate(inputData(t, g, x), CalibrateOptions{BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	return p, c
}

// firstRows returns the first n samples of x.
func firstRows(x *tensor.Tensor, n int) *tensor.Tensor {
	per := len(x.Data) / x.Shape[0]
	return &tensor.Tensor{Shape: append([]int{n}, x.Shape[1:]...), Data: x.Data[:n*per]}
}

// siteOf returns the index of the site on input k of node.
func siteOf(p *Plan, node string, k int) int {
	for i, s := range p.Sites {
		if s.Node == node && s.Input == k {
			return i
		}
	}
	return -1
}

// TestPlacementMatchesOriginal checks Place against the original's export
// of both vector models: a quantizer on input input_index of each
// quantizer's float_onnx.node, as many as the original has (mlp_attn:
// three on the tensor q, k and v read), nothing else; weights per channel
// on the initializer's channel axis (1 for the MatMul initializers, the
// transposed torch weight); the attention MatMuls listed as left float.
func TestPlacementMatchesOriginal(t *testing.T) {
	for _, name := range []string{"cnn", "mlp_attn"} {
		g, _, v := loadPTQ(t, name)
		p, err := Place(g, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Sites) != len(v.Quantizer) {
			t.Errorf("%s: %d quantizers, the original has %d", name, len(p.Sites), len(v.Quantizer))
		}
		for _, q := range v.Quantizer {
			i := siteOf(p, q.Node, q.InputIndex)
			if i < 0 {
				t.Errorf("%s: %s: no quantizer on input %d of %s", name, q.Name, q.InputIndex, q.Node)
				continue
			}
			s := p.Sites[i]
			if s.Value != q.Input || s.OpType != q.OpType || (s.Kind == Weight) != (q.Kind == "weight") {
				t.Errorf("%s: %s: site %+v, want %s input %d (%s) of %s", name, q.Name, s, q.Kind, q.InputIndex, q.Input, q.OpType)
			}
			if s.Kind == Weight && s.Axis != q.Axis {
				t.Errorf("%s: %s: axis %d, the original's channel axis in the initializer is %d", name, q.Name, s.Axis, q.Axis)
			}
		}
		left := map[string]bool{}
		for _, u := range p.Unquantized {
			left[u.Node] = true
		}
		for _, u := range v.Unquantized {
			if u.OpType == "MatMul" && !left[u.Node] {
				t.Errorf("%s: %s is float in the original, Unquantized does not list it", name, u.Node)
			}
		}
	}
}

// TestAmaxMatchesOriginal calibrates both vector models on their four
// batches of 32 and compares every amax with the original's, for the
// four methods:
//
//   - where our float activations hash equal to those the original's
//     quantizer saw (the SHA-256 of the vectors: the graph inputs, and the
//     tensor mlp_attn's q, k and v read, a MatMul and an Add away), bit
//     for bit;
//   - elsewhere within 5 ulps, the largest difference the original's own
//     calibrators showed when fed ONNX Runtime's activations instead of
//     torch's (ort_experiment of either model): our forward differs from
//     torch's in the last bits there, as ONNX Runtime's does. In the cnn
//     the exporter folded BatchNorm into the first Conv, so everything
//     after it is computed from other weights than torch's Conv and
//     BatchNorm; in mlp_attn the first difference is Softmax (exp and its
//     sum computed otherwise), then every MatMul after it;
//   - weights: the per-channel max of the initializer, bit for bit (the
//     folded one for the cnn's first Conv, amax_max_of_initializer).
func TestAmaxMatchesOriginal(t *testing.T) {
	bound, err := ptqvec.ULPBound()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range ptqvec.Models {
		g, x, v := loadPTQ(t, name)
		p, c := calibrate(t, g, x, Options{}, v.BatchSize)
		var values []string
		for _, grp := range p.Groups {
			values = append(values, grp.Value)
		}
		acts, err := ptqvec.Fingerprint(g, x, v.BatchSize, values)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ptqvec.Methods {
			amax, err := c.Amax(m.Method, calibrators.AmaxOptions{})
			if err != nil {
				t.Fatal(err)
			}
			errs, exact := v.Compare(m.Key, g, acts, bound, func(node string, k int) (ptqvec.Site, bool) {
				i := siteOf(p, node, k)
				if i < 0 {
					return ptqvec.Site{}, false
				}
				return ptqvec.Site{Value: p.Sites[i].Value, Weight: p.Sites[i].Kind == Weight, Amax: amax[i].Data}, true
			})
			for _, e := range errs {
				t.Errorf("%s: %s", name, e)
			}
			t.Logf("%s %s: %d activation amax bit for bit the original's (the others' activations differ)", name, m.Key, exact)
		}
	}
}

// vectorAmax returns the original's amax for every site of p (activations:
// method key of the vectors; weights: per channel of the initializer).
func vectorAmax(t *testing.T, p *Plan, v *ptqvec.Vectors, key string) []*tensor.Tensor {
	t.Helper()
	out := make([]*tensor.Tensor, len(p.Sites))
	for _, q := range v.Quantizer {
		a := q.Amax[key]
		if q.Kind == "weight" {
			a = q.WeightAmax()
		}
		x, err := tensor.FromSlice(a.Floats(), a.Shape...)
		if err != nil {
			t.Fatal(err)
		}
		out[siteOf(p, q.Node, q.InputIndex)] = x
	}
	return out
}
