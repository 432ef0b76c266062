package graph

import (
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// Benchmarks of the hot element-wise, normalisation and matrix ops on one
// thread, each with copy() of its output's bytes as the baseline
// (b.SetBytes counts the output).

// benchOp builds op type op and runs it on in, allocating outputs from a
// warm arena as a session would.
func benchOp(b *testing.B, op string, opset int, attrs []onnx.Attribute, in ...*Tensor) {
	b.Helper()
	build, ok := lookup("", op)
	if !ok {
		b.Fatalf("no op %s", op)
	}
	o, err := build(&NodeDef{OpType: op, Opset: opset, Attrs: NewAttrs(attrs), NumInputs: len(in), NumOutputs: 1, Const: make([]*Tensor, len(in))})
	if err != nil {
		b.Fatal(err)
	}
	ctx := newCtx(nil, 1)
	out, err := o.Run(ctx, in)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(4 * out[0].Len()))
	ctx.arena.put(out[0])
	for b.Loop() {
		out, _ := o.Run(ctx, in)
		ctx.arena.put(out[0])
	}
}

// benchCopy is the baseline: copy() of n float32 values.
func benchCopy(b *testing.B, n int) {
	src, dst := make([]float32, n), make([]float32, n)
	b.SetBytes(int64(4 * n))
	for b.Loop() {
		copy(dst, src)
	}
}

func BenchmarkElementwise(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := randF32(rng, 32, 64, 28, 28) // 1.6M elements, 6.4 MB
	n := x.Len()
	b.Run("copy", func(b *testing.B) { benchCopy(b, n) })
	b.Run("Add/same", func(b *testing.B) { benchOp(b, "Add", 14, nil, x, randF32(rng, x.Shape...)) })
	b.Run("Add/scalar", func(b *testing.B) { benchOp(b, "Add", 14, nil, x, f32(scalar, 1)) })
	b.Run("Add/channel", func(b *testing.B) { benchOp(b, "Add", 14, nil, x, randF32(rng, 1, 64, 1, 1)) })
	b.Run("Mul/row", func(b *testing.B) { benchOp(b, "Mul", 14, nil, x, randF32(rng, 28)) })
	b.Run("Relu", func(b *testing.B) { benchOp(b, "Relu", 14, nil, x) })
	b.Run("Clip", func(b *testing.B) { benchOp(b, "Clip", 13, nil, x, f32(scalar, 0), f32(scalar, 6)) })
	b.Run("HardSwish", func(b *testing.B) { benchOp(b, "HardSwish", 14, nil, x) })
	b.Run("Sigmoid", func(b *testing.B) { benchOp(b, "Sigmoid", 13, nil, x) })
	b.Run("Gelu", func(b *testing.B) { benchOp(b, "Gelu", 20, nil, x) })
	b.Run("Transpose/NCHW-NHWC", func(b *testing.B) {
		benchOp(b, "Transpose", 13, []onnx.Attribute{onnx.IntsAttr("perm", 0, 2, 3, 1)}, x)
	})
}

func BenchmarkEncoderOps(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	// Batch 8, sequence 128, d 256, 4 heads.
	tokens := randF32(rng, 8, 128, 256)
	scores := randF32(rng, 8, 4, 128, 128)
	b.Run("copy/tokens", func(b *testing.B) { benchCopy(b, tokens.Len()) })
	b.Run("LayerNormalization", func(b *testing.B) {
		benchOp(b, "LayerNormalization", 17, nil, tokens, randF32(rng, 256), randF32(rng, 256))
	})
	b.Run("copy/scores", func(b *testing.B) { benchCopy(b, scores.Len()) })
	b.Run("Softmax", func(b *testing.B) { benchOp(b, "Softmax", 13, nil, scores) })
	b.Run("MatMul/linear", func(b *testing.B) { benchOp(b, "MatMul", 13, nil, tokens, randF32(rng, 256, 256)) })
	b.Run("MatMul/attention", func(b *testing.B) {
		benchOp(b, "MatMul", 13, nil, randF32(rng, 8, 4, 128, 64), randF32(rng, 8, 4, 64, 128))
	})
}
