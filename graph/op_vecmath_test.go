package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// TestVecmathAccuracy records how far the FLOAT ops that run on
// internal/vecmath's float32 kernels are from the float64 computation
// they replaced, and fails when an op moves further than its bound: ulps
// of the float64 result for the element-wise ops (whose former FLOAT
// kernels computed what the DOUBLE ops still do, rounded once) and for
// Softmax (against the former FLOAT row, softmaxRow, which subtracted the
// maximum in float32 too), and for LayerNormalization the error relative
// to the row's largest output (the float32 mean and variance shift every
// output of a row alike) against the former layerNormRun.
func TestVecmathAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	wide := make([]float32, 1<<16)
	for i := range wide {
		wide[i] = float32((rng.Float64()*2 - 1) * 12)
	}
	for i := range 4096 {
		wide[i] = float32(rng.NormFloat64() * 1e-3) // near 0
	}
	for _, c := range []struct {
		name, op string
		opset    int64
		attrs    []onnx.Attribute
		ulps     float64
	}{
		{"Exp", "Exp", 13, nil, 1.5},
		{"Erf", "Erf", 13, nil, 1.9},
		{"Tanh", "Tanh", 13, nil, 1.9},
		{"Sigmoid", "Sigmoid", 13, nil, 2.9},
		{"Gelu", "Gelu", 20, nil, 3.7},
		{"Gelu tanh", "Gelu", 20, []onnx.Attribute{onnx.StringAttr("approximate", "tanh")}, 3.5},
	} {
		x := f32(s(len(wide)), wide...)
		if c.op == "Gelu" {
			// Where the documented bounds are in ulps (see vecmath).
			x = f32(s(0))
			for _, v := range wide {
				if v >= -1 {
					x.F32 = append(x.F32, v)
				}
			}
			x.Shape = s(len(x.F32))
		}
		n := node(c.op, in(1), y, c.attrs...)
		got := runNode(t, c.opset, n, x)[0]
		old := runNode(t, c.opset, n, toF64(x))[0]
		worst, at := worstULPs(got.F32, old.F64)
		t.Logf("%s: %.2f ulp from the float64 path (x = %v)", c.name, worst, x.F32[at])
		if worst > c.ulps {
			t.Errorf("%s: %.2f ulp from the float64 path at x = %v, bound %v", c.name, worst, x.F32[at], c.ulps)
		}
	}

	// Attention scores (4 heads of 128×128) and encoder rows (256).
	scores := randF32(rng, 4, 128, 128)
	for i := range scores.F32 {
		scores.F32[i] *= 3
	}
	got := runNode(t, 13, node("Softmax", in(1), y), scores)[0]
	old := make([]float32, scores.Len())
	for r := range 4 * 128 {
		softmaxRow(old[r*128:(r+1)*128], scores.F32[r*128:(r+1)*128])
	}
	worst, _ := worstULPs(got.F32, toF64(f32(s(len(old)), old...)).F64)
	t.Logf("Softmax: %.2f ulp from the float64 path", worst)
	if worst > 5 {
		t.Errorf("Softmax: %.2f ulp from the float64 path, bound 5", worst)
	}

	tokens, w, b := randF32(rng, 2, 128, 256), randF32(rng, 256), randF32(rng, 256)
	ln := node("LayerNormalization", in(3), y)
	got = runNode(t, 17, ln, tokens, w, b)[0]
	old = make([]float32, tokens.Len())
	layerNormRun(newCtx(nil, 1), old, tokens.F32, w.F32, b.F32, 2*128, 256, 1e-5, nil, nil)
	var rel float64
	for r := range 2 * 128 {
		row, ref := got.F32[r*256:(r+1)*256], old[r*256:(r+1)*256]
		var big, diff float64
		for i, v := range ref {
			big = max(big, math.Abs(float64(v)))
			diff = max(diff, math.Abs(float64(row[i]-v)))
		}
		rel = max(rel, diff/big)
	}
	t.Logf("LayerNormalization: error %.3g of the row's largest output", rel)
	if rel > 4e-7 {
		t.Errorf("LayerNormalization: error %.3g of the row's largest output, bound 4e-7", rel)
	}
}

// toF64 converts a FLOAT tensor to DOUBLE (exactly).
func toF64(x *Tensor) *Tensor {
	out := f64(x.Shape)
	for _, v := range x.F32 {
		out.F64 = append(out.F64, float64(v))
	}
	return out
}

// worstULPs returns the largest |got - want| in ulps of want rounded to
// float32 (NaN and infinities must agree), and where it is.
func worstULPs(got []float32, want []float64) (float64, int) {
	var worst float64
	at := 0
	for i, w := range want {
		g := float64(got[i])
		w32 := float32(w)
		if math.IsNaN(w) || math.IsInf(float64(w32), 0) {
			if !(math.IsNaN(g) && math.IsNaN(w)) && g != float64(w32) {
				return math.Inf(1), i
			}
			continue
		}
		a := float32(math.Abs(float64(w32)))
		ulp := math.Max(float64(math.Nextafter32(a, float32(math.Inf(1)))-a), 0x1p-149)
		if u := math.Abs(g-w) / ulp; u > worst {
			worst, at = u, i
		}
	}
	return worst, at
}
