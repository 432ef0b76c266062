package graph

import (
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/onnx"
)

// The backward of the element-wise ops of two inputs: Add, Sub, Mul and
// Div on FLOAT and DOUBLE, Pow (FLOAT and DOUBLE base), Where. The
// gradient of a broadcast operand is summed over the dimensions it was
// broadcast along (sumTo, in float64).

// Backward returns the gradients of Add, Sub, Mul and Div:
//
//	Add  dA = dy        dB = dy
//	Sub  dA = dy        dB = -dy
//	Mul  dA = dy·B      dB = dy·A
//	Div  dA = dy/B      dB = -dy·A/B²  (computed as -(dy/B)·(A/B))
//
// each summed to its operand's shape. It returns an error for the other
// ops of binaryOp (comparisons: no gradient) and for integer operands.
func (o *binaryOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 2); err != nil {
		return nil, err
	}
	if o.cmp != nil {
		return nil, fmt.Errorf("%s has no gradient", o.name)
	}
	a, b, dy := in[0], in[1], dOut[0]
	if a.DType != onnx.Float && a.DType != onnx.Double {
		return nil, fmt.Errorf("%v operands have no gradient", a.DType)
	}
	bShape := b.Shape
	if o.aligned {
		bs, err := alignB(o, len(a.Shape), b.Shape, 1)
		if err != nil {
			return nil, err
		}
		b = view(b, bs)
	}
	dIn := make([]*Tensor, 2)
	if dy == nil {
		return dIn, nil
	}
	var err error
	for i, x := range []*Tensor{a, b} {
		if !wants(needs, i) {
			continue
		}
		var g *Tensor
		switch {
		case o.name == "Add" || o.name == "Sub" && i == 0:
			g = dy
		case o.name == "Sub":
			if g, err = gradFor(ctx, dy); err == nil {
				mapChunks(ctx, g.F32, dy.F32, negK[float32])
				mapChunks(ctx, g.F64, dy.F64, negK[float64])
			}
		case o.name == "Mul":
			g, err = broadcastOp(ctx, dy, []*Tensor{a, b}[1-i], mulK[float32], mulK[float64])
		case o.name == "Div" && i == 0:
			g, err = broadcastOp(ctx, dy, b, divK[float32], divK[float64])
		case o.name == "Div":
			// -dy·A/B² as -(dy/B)·(A/B) = -(dy/B)·Y.
			var q *Tensor
			if q, err = broadcastOp(ctx, dy, b, divK[float32], divK[float64]); err == nil {
				g, err = broadcastOp(ctx, q, out[0], mulNegK[float32], mulNegK[float64])
				ctx.free(q)
			}
		default:
			return nil, fmt.Errorf("%s has no gradient", o.name)
		}
		if err != nil {
			return nil, err
		}
		shape := x.Shape
		if i == 1 {
			shape = bShape
		}
		r, err := sumTo(ctx, g, x.Shape)
		if err != nil {
			return nil, err
		}
		if r.Len() != g.Len() && g != dy {
			ctx.free(g)
		}
		dIn[i] = view(r, shape)
	}
	return dIn, nil
}

// mulNegK is d = -(a·b), each operand a run of len(d) or one repeated
// element.
func mulNegK[T float32 | float64](d, a, b []T) {
	mulK(d, a, b)
	negK(d, d)
}

// broadcastOp returns k(dy, x) element by element, x broadcast to dy's
// shape (dy and x FLOAT, or both DOUBLE).
func broadcastOp(ctx *Ctx, dy, x *Tensor, k32 func(d, a, b []float32), k64 func(d, a, b []float64)) (*Tensor, error) {
	if x.DType != dy.DType {
		return nil, fmt.Errorf("operand %v with a %v gradient", x, dy.DType)
	}
	p, err := planBroadcast(dy.Shape, x.Shape)
	if err != nil {
		return nil, err
	}
	if len(p.shape) != len(dy.Shape) {
		return nil, fmt.Errorf("operand %v does not broadcast to the gradient %v", x, dy)
	}
	g, err := ctx.Alloc(dy.DType, p.shape...)
	if err != nil {
		return nil, err
	}
	if dy.DType == onnx.Double {
		rowsOf(ctx, p, g.F64, dy.F64, x.F64, k64)
	} else {
		rowsOf(ctx, p, g.F32, dy.F32, x.F32, k32)
	}
	return g, nil
}

// Backward returns the gradients of Pow for a FLOAT or DOUBLE base A and
// exponent B (a float tensor; an integer exponent has no gradient):
// dA = dy·B·A^(B-1), dB = dy·Y·ln(A), in float64, each summed to its
// operand's shape.
func (powOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 2); err != nil {
		return nil, err
	}
	a, e, dy := in[0], in[1], dOut[0]
	if a.DType != onnx.Float && a.DType != onnx.Double {
		return nil, fmt.Errorf("a %v base has no gradient", a.DType)
	}
	dIn := make([]*Tensor, 2)
	if dy == nil {
		return dIn, nil
	}
	ef, err := floatsOf(e)
	if err != nil {
		return nil, err
	}
	af, err := floatsOf(a)
	if err != nil {
		return nil, err
	}
	yf, err := floatsOf(out[0])
	if err != nil {
		return nil, err
	}
	df, err := floatsOf(dy)
	if err != nil {
		return nil, err
	}
	p, err := planBroadcast(a.Shape, e.Shape)
	if err != nil {
		return nil, err
	}
	for i, x := range []*Tensor{a, e} {
		if !wants(needs, i) {
			continue
		}
		if i == 1 && e.DType != onnx.Float && e.DType != onnx.Double {
			continue
		}
		full := make([]float64, p.n)
		p.rows(newCtx(nil, 1), func(o, n int, offs []int) {
			for j := range n {
				av, ev := af[offs[0]], ef[offs[1]]
				if p.inner[0] {
					av = af[offs[0]+j]
				}
				if p.inner[1] {
					ev = ef[offs[1]+j]
				}
				if i == 0 {
					full[o+j] = df[o+j] * ev * math.Pow(av, ev-1)
				} else {
					full[o+j] = df[o+j] * yf[o+j] * math.Log(av)
				}
			}
		})
		g, err := ctx.Alloc(dy.DType, p.shape...)
		if err != nil {
			return nil, err
		}
		if g.DType == onnx.Double {
			copy(g.F64, full)
		} else {
			convert(g.F32, full)
		}
		if dIn[i], err = sumTo(ctx, g, x.Shape); err != nil {
			return nil, err
		}
		if dIn[i].Len() != g.Len() {
			ctx.free(g)
		}
	}
	return dIn, nil
}

// Backward returns the gradients of Where's X and Y: dy where the
// condition holds (for X) or does not (for Y), 0 elsewhere, each summed
// to its operand's shape; the condition has none.
func (whereOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 3); err != nil {
		return nil, err
	}
	c, dy := in[0], dOut[0]
	dIn := make([]*Tensor, 3)
	if dy == nil {
		return dIn, nil
	}
	p, err := planBroadcast(dy.Shape, c.Shape)
	if err != nil {
		return nil, err
	}
	for i := 1; i < 3; i++ {
		if !wants(needs, i) {
			continue
		}
		if in[i].DType != dy.DType {
			return nil, fmt.Errorf("a %v operand has no gradient", in[i].DType)
		}
		g, err := ctx.Alloc(dy.DType, dy.Shape...)
		if err != nil {
			return nil, err
		}
		keep := uint8(0)
		if i == 1 {
			keep = 1
		}
		if dy.DType == onnx.Double {
			rowsOf(ctx, p, g.F64, dy.F64, c.U8, func(d, x []float64, c []uint8) { selectK(d, x, c, keep) })
		} else {
			rowsOf(ctx, p, g.F32, dy.F32, c.U8, func(d, x []float32, c []uint8) { selectK(d, x, c, keep) })
		}
		r, err := sumTo(ctx, g, in[i].Shape)
		if err != nil {
			return nil, err
		}
		if r.Len() != g.Len() {
			ctx.free(g)
		}
		dIn[i] = r
	}
	return dIn, nil
}

// selectK sets d[i] = x[i] where (c[i] != 0) == (keep != 0), else 0; x
// is a run of len(d), c a run or one repeated element.
func selectK[T float32 | float64](d, x []T, c []uint8, keep uint8) {
	for i := range d {
		if (c[min(i, len(c)-1)] != 0) == (keep != 0) {
			d[i] = x[i]
		} else {
			d[i] = 0
		}
	}
}
