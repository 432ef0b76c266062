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
	scale float32
	// views, when set, says where each of Q, K and V (a view of width 0:
	// the input [S, N, d] itself) lies in its input: a tensor [S, B, W]
	// whose columns [start, start+width) hold the B items' heads of size
	// d, width/d of them (the Slice of a fused projection and the Reshape
	// to [S, B·width/d, d] that the export makes, read in place); out is
	// then the output's dimensions, the Reshapes' as inference knew them.
	views *[3]headView
	d     int
	out   []Dim

	scratch sync.Pool // of *[]float32, S×S scores
}

// headView is the columns [start, start+width) of an input [S, B, W]
// (width 0: the input is [S, N, d]).
type headView struct{ start, width int }

// headsOf is where one of Q, K, V holds its heads: n heads of size d, on
// s rows; head h's row r starts at x[at(h) + r·ld].
type headsOf struct {
	x             []float32
	s, n, d, ld   int
	perItem, item int // heads per item of the batch, the item's columns
	start         int
}

// at returns the offset of head h's first row.
func (h *headsOf) at(head int) int { return head/h.perItem*h.item + head%h.perItem*h.d + h.start }

func (o *attentionOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 3); err != nil {
		return nil, err
	}
	for i, x := range in {
		if x.DType != onnx.Float || x.Rank() != 3 {
			return nil, fmt.Errorf("%s is %v, want FLOAT [sequence, heads, head size]", qkvName[i], x)
		}
		if v := o.view(i); v.width > 0 && x.Shape[2].Known() && x.Shape[2].Size < v.start+v.width {
			return nil, fmt.Errorf("%s is %v, want at least %d columns", qkvName[i], x, v.start+v.width)
		}
	}
	if o.views != nil {
		return []*Info{info(onnx.Float, slices.Clone(o.out))}, nil
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

var qkvName = [3]string{"Q", "K", "V"}

// view returns input i's view (width 0: none).
func (o *attentionOp) view(i int) headView {
	if o.views == nil {
		return headView{}
	}
	return o.views[i]
}

// headsIn returns where input i, x, holds its heads.
func (o *attentionOp) headsIn(i int, x *Tensor) (headsOf, error) {
	if x.DType != onnx.Float || len(x.Shape) != 3 {
		return headsOf{}, fmt.Errorf("%s is %v, want FLOAT of 3 dimensions", qkvName[i], x)
	}
	v := o.view(i)
	if v.width == 0 {
		s, n, d := x.Shape[0], x.Shape[1], x.Shape[2]
		return headsOf{x: x.F32, s: s, n: n, d: d, ld: n * d, perItem: max(n, 1)}, nil
	}
	s, b, w := x.Shape[0], x.Shape[1], x.Shape[2]
	if w < v.start+v.width {
		return headsOf{}, fmt.Errorf("%s is %v, want at least %d columns", qkvName[i], x, v.start+v.width)
	}
	per := v.width / o.d
	return headsOf{x: x.F32, s: s, n: b * per, d: o.d, ld: b * w, perItem: per, item: w, start: v.start}, nil
}

func (o *attentionOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 3); err != nil {
		return nil, err
	}
	var h [3]headsOf
	for i, x := range in {
		var err error
		if h[i], err = o.headsIn(i, x); err != nil {
			return nil, err
		}
		if q := h[0]; h[i].s != q.s || h[i].n != q.n || h[i].d != q.d {
			return nil, fmt.Errorf("%s holds %d heads of %d×%d, Q %d of %d×%d: want one shape", qkvName[i], h[i].n, h[i].s, h[i].d, q.n, q.s, q.d)
		}
	}
	s, n, d := h[0].s, h[0].n, h[0].d
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
			o.heads(&h, out, part*n/parts, (part+1)*n/parts, *buf)
		}
	})
	return []*Tensor{out}, nil
}

// heads computes heads [lo, hi) of q, k, v (h) into out, [S, N, d], with
// scores as scratch, on the calling goroutine.
func (o *attentionOp) heads(h *[3]headsOf, out *Tensor, lo, hi int, scores []float32) {
	q, k, v := &h[0], &h[1], &h[2]
	s, n, d := q.s, q.n, q.d
	for i := lo; i < hi; i++ {
		gemm.Gemm(&gemm.Params{M: s, N: s, K: d, A: q.x[q.at(i):], LdA: q.ld, B: k.x[k.at(i):], LdB: k.ld, TransB: true,
			C: scores, LdC: s, Threads: 1})
		for r := range s {
			row := scores[r*s : (r+1)*s]
			vecmath.Softmax(row, row, o.scale)
		}
		gemm.Gemm(&gemm.Params{M: s, N: d, K: s, A: scores, LdA: s, B: v.x[v.at(i):], LdB: v.ld,
			C: out.F32[i*d:], LdC: n * d, Threads: 1})
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
