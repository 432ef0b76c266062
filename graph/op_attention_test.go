package graph

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// attentionChain returns the model of the attention core as PyTorch's
// nn.MultiheadAttention exports it: inputs q, k, v [S, N, d], Transposes to
// [N, S, d] (K to [N, d, S]), Q divided by div, MatMul, Softmax, MatMul,
// Transpose back to [S, N, d] (output y).
func attentionChain(t testing.TB, s, n, d int, div float32) *onnx.Model {
	t.Helper()
	c, err := TensorToONNX("div", f32(scalar, div))
	if err != nil {
		t.Fatal(err)
	}
	g := &onnx.Graph{Name: "attention", Initializer: []onnx.Tensor{c}, Node: []onnx.Node{
		onnx.NewNode("Transpose", "tq", []string{"q"}, []string{"qt"}, onnx.IntsAttr("perm", 1, 0, 2)),
		onnx.NewNode("Div", "div_q", []string{"qt", "div"}, []string{"qs"}),
		onnx.NewNode("Transpose", "tk", []string{"k"}, []string{"kt"}, onnx.IntsAttr("perm", 1, 2, 0)),
		onnx.NewNode("MatMul", "scores", []string{"qs", "kt"}, []string{"sc"}),
		onnx.NewNode("Softmax", "softmax", []string{"sc"}, []string{"p"}, onnx.IntAttr("axis", -1)),
		onnx.NewNode("Transpose", "tv", []string{"v"}, []string{"vt"}, onnx.IntsAttr("perm", 1, 0, 2)),
		onnx.NewNode("MatMul", "context", []string{"p", "vt"}, []string{"o"}),
		onnx.NewNode("Transpose", "to", []string{"o"}, []string{"y"}, onnx.IntsAttr("perm", 1, 0, 2)),
	}}
	for _, name := range []string{"q", "k", "v"} {
		g.Input = append(g.Input, onnx.TensorValueInfo(name, onnx.Float, onnx.Dims(int64(s), int64(n), int64(d))...))
	}
	g.Output = []onnx.ValueInfo{{Name: "y"}}
	return &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: g}
}

// TestAttentionOp checks the fused attention against the exported chain it
// replaces: bit for bit when the scale is a power of two (head size 64 and
// 16, 1 and 3 threads), within rounding otherwise (head size 32).
func TestAttentionOp(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, c := range []struct{ s, n, d int }{{7, 3, 16}, {128, 4, 64}, {33, 8, 64}, {20, 2, 32}, {1, 1, 1}} {
		t.Run(fmt.Sprintf("S%d_N%d_d%d", c.s, c.n, c.d), func(t *testing.T) {
			div := float32(1)
			for div*div < float32(c.d) {
				div *= 2
			}
			exact := div*div == float32(c.d)
			if !exact {
				div = 5.656854 // √32
			}
			g, err := Import(attentionChain(t, c.s, c.n, c.d, div))
			if err != nil {
				t.Fatal(err)
			}
			sess, err := NewSession(g, Options{Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			q, k, v := randF32(rng, c.s, c.n, c.d), randF32(rng, c.s, c.n, c.d), randF32(rng, c.s, c.n, c.d)
			res, err := sess.Run(map[string]*Tensor{"q": q, "k": k, "v": v})
			if err != nil {
				t.Fatal(err)
			}
			want := res["y"]
			for _, threads := range []int{1, 3} {
				op := &attentionOp{scale: 1 / div}
				out, err := op.Run(newCtx(nil, threads), []*Tensor{q, k, v})
				if err != nil {
					t.Fatal(err)
				}
				if exact {
					check(t, fmt.Sprintf("%d threads", threads), out[0], want)
					continue
				}
				var big, diff float64
				for i, w := range want.F32 {
					big = max(big, math.Abs(float64(w)))
					diff = max(diff, math.Abs(float64(out[0].F32[i]-w)))
				}
				if diff > 1e-5*big {
					t.Errorf("%d threads: error %g, %g of the largest output", threads, diff, diff/big)
				}
			}
		})
	}
}

func TestAttentionOpErrors(t *testing.T) {
	op := &attentionOp{scale: 1}
	x := f32(s(2, 1, 4), make([]float32, 8)...)
	if _, err := op.Run(newCtx(nil, 1), []*Tensor{x, x, f32(s(2, 4), make([]float32, 8)...)}); err == nil {
		t.Error("V of rank 2 accepted")
	}
	if _, err := op.Infer([]*Info{InfoOf(x), InfoOf(x), info(onnx.Double, Sizes(2, 1, 4))}); err == nil {
		t.Error("DOUBLE V accepted")
	}
	if _, err := op.Infer([]*Info{InfoOf(x), InfoOf(x), info(onnx.Float, Sizes(3, 1, 4))}); err == nil {
		t.Error("V of another shape accepted")
	}
}

// BenchmarkAttention runs the attention core of the reference encoder at
// batch 8 (S 128, N = 8·4 heads, d 64) on one thread: attentionOp against
// the exported chain it replaces, node by node.
func BenchmarkAttention(b *testing.B) {
	const s, n, d = 128, 32, 64
	rng := rand.New(rand.NewPCG(8, 8))
	q, k, v := randF32(rng, s, n, d), randF32(rng, s, n, d), randF32(rng, s, n, d)
	b.Run("fused", func(b *testing.B) {
		op, ctx := &attentionOp{scale: 1.0 / 8}, newCtx(nil, 1)
		b.SetBytes(4 * s * n * d)
		for b.Loop() {
			out, err := op.Run(ctx, []*Tensor{q, k, v})
			if err != nil {
				b.Fatal(err)
			}
			ctx.arena.put(out[0])
		}
	})
	b.Run("chain", func(b *testing.B) {
		g, err := Import(attentionChain(b, s, n, d, 8))
		if err != nil {
			b.Fatal(err)
		}
		sess, err := NewSession(g, Options{Threads: 1, Optimization: OptimizeNone})
		if err != nil {
			b.Fatal(err)
		}
		feeds := map[string]*Tensor{"q": q, "k": k, "v": v}
		b.SetBytes(4 * s * n * d)
		for b.Loop() {
			if _, err := sess.Run(feeds); err != nil {
				b.Fatal(err)
			}
		}
	})
}
