package graph

import (
	"fmt"
	"slices"
	"sync"

	"github.com/tensorquant/tensorquant/internal/gemm"
	"github.com/tensorquant/tensorquant/internal/vecmath"
	"github.com/tensorquant/tensorquant/onnx"
)

// attentionOp is the scaled dot-product attention of multi-head attention,
// as PyTorch's nn.MultiheadAttention exports it: Q, K and V are [S, N, d]
// (sequence first, N = batch·heads, d the head size), and for each of the
// N heads
//
//	out[:, h, :] = softmax(scale · Q_h·K_hᵀ) · V_h
//
// with the softmax over the last axis, out [S, N, d]. It computes what the
// exported chain does (Transposes to [N, S, d] and [N, d, S], Div by √d,
// MatMul, Softmax, MatMul, Transpose back) without moving Q, K, V or the
// output: the GEMM reads each head with a row stride of N·d, K transposed,
// and writes the output in place. The scores of one head at a time (S×S)
// are the only scratch. With a scale that is a power of two (1/√d for d =
// 4^k: 64 gives 1/8), scaling the scores instead of Q changes no bit, and
// the result is the chain's bit for bit.
type attentionOp struct {
	scale   float32
	scratch sync.Pool // of *[]float32, S×S scores
}

func (o *attentionOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 3); err != nil {
		return nil, err
	}
	for i, x := range in {
		if x.DType != onnx.Float || x.Rank() != 3 {
			return nil, fmt.Errorf("%s is %v, want FLOAT [sequence, heads, head size]", [3]string{"Q", "K", "V"}[i], x)
		}
	}
	for i, d := range in[0].Shape {
		for _, x := range in[1:] {
			if d.Known() && x.Shape[i].Known() && d.Size != x.Shape[i].Size {
				return nil, fmt.Errorf("the query, key and value have shapes %s, %s and %s, want one shape", ShapeString(in[0].Shape), ShapeString(in[1].Shape), ShapeString(in[2].Shape))
			}
		}
	}
	return []*Info{info(onnx.Float, slices.Clone(in[0].Shape))}, nil
}

func (o *attentionOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 3); err != nil {
		return nil, err
	}
	q, k, v := in[0], in[1], in[2]
	for i, x := range in {
		if x.DType != onnx.Float || len(x.Shape) != 3 || !slices.Equal(x.Shape, q.Shape) {
			return nil, fmt.Errorf("%s is %v, want FLOAT of Q's shape %v (3 dimensions)", [3]string{"Q", "K", "V"}[i], x, q.Shape)
		}
	}
	s, n, d := q.Shape[0], q.Shape[1], q.Shape[2]
	out, err := ctx.Alloc(onnx.Float, s, n, d)
	if err != nil {
		return nil, err
	}
	if s == 0 || n == 0 || d == 0 {
		clear(out.F32)
		return []*Tensor{out}, nil
	}
	// One part of the heads per goroutine, each with its scores.
	parts := min(ctx.Threads(), n)
	ctx.Parallel(parts, 1, func(plo, phi int) {
		buf := o.scores(s * s)
		defer o.scratch.Put(buf)
		for part := plo; part < phi; part++ {
			o.heads(q, k, v, out, part*n/parts, (part+1)*n/parts, *buf)
		}
	})
	return []*Tensor{out}, nil
}

// heads computes heads [lo, hi) into out with scores as scratch, on the
// calling goroutine.
func (o *attentionOp) heads(q, k, v, out *Tensor, lo, hi int, scores []float32) {
	s, n, d := q.Shape[0], q.Shape[1], q.Shape[2]
	ld := n * d
	for h := lo; h < hi; h++ {
		gemm.Gemm(&gemm.Params{M: s, N: s, K: d, A: q.F32[h*d:], LdA: ld, B: k.F32[h*d:], LdB: ld, TransB: true,
			C: scores, LdC: s, Threads: 1})
		for r := range s {
			row := scores[r*s : (r+1)*s]
			vecmath.Softmax(row, row, o.scale)
		}
		gemm.Gemm(&gemm.Params{M: s, N: d, K: s, A: scores, LdA: s, B: v.F32[h*d:], LdB: ld,
			C: out.F32[h*d:], LdC: ld, Threads: 1})
	}
}

// scores returns a scratch buffer of n float32.
func (o *attentionOp) scores(n int) *[]float32 {
	if p, ok := o.scratch.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]float32, n)
	return &b
}
