package graph

import (
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/internal/vec"
	"github.com/tensorquant/tensorquant/onnx"
)

// The backward of the element-wise ops of one input. An unaryOp holds
// kernels, not the name of its function, so its backward is looked up by
// the node's op type (unaryGradOf): dx = dy·f'(x), the derivative
// computed in float64 from the input (and rounded once), with the
// gradient PyTorch's autograd gives at the kinks: Relu, LeakyRelu and
// Clip pass dy where x is strictly inside (x > 0; lo < x < hi, as
// PyTorch's relu and hardtanh do: ReLU6 is exported as Clip), HardSwish
// has 0 below -3, x/3 + 1/2 up to 3 inclusive and 1 above
// (hardswish_backward), HardSigmoid alpha inside (0, 1) only, Abs the
// sign (0 at 0).

// derivs holds f'(x) of the float element-wise ops of one input without
// attributes.
var derivs = map[string]func(x float64) float64{
	"Sqrt":       func(x float64) float64 { return 0.5 / math.Sqrt(x) },
	"Erf":        func(x float64) float64 { return 2 / math.SqrtPi * math.Exp(-x*x) },
	"Tanh":       func(x float64) float64 { t := math.Tanh(x); return 1 - t*t },
	"Exp":        math.Exp,
	"Log":        func(x float64) float64 { return 1 / x },
	"Sigmoid":    func(x float64) float64 { s := sigmoid(x); return s * (1 - s) },
	"Reciprocal": func(x float64) float64 { return -1 / (x * x) },
	"Neg":        func(float64) float64 { return -1 },
	"Abs": func(x float64) float64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	},
	"HardSwish": func(x float64) float64 {
		switch {
		case x < -3:
			return 0
		case x <= 3:
			return x/3 + 0.5
		}
		return 1
	},
}

// geluDeriv is the derivative of gelu: Φ(x) + x·φ(x).
func geluDeriv(x float64) float64 {
	return 0.5*(1+math.Erf(x/math.Sqrt2)) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi)
}

// geluTanhDeriv is the derivative of geluTanh.
func geluTanhDeriv(x float64) float64 {
	c := math.Sqrt(2 / math.Pi)
	t := math.Tanh(c * (x + 0.044715*x*x*x))
	return 0.5*(1+t) + 0.5*x*(1-t*t)*c*(1+3*0.044715*x*x)
}

// unaryGrad is the backward of one element-wise op: dx = dy·deriv(x).
type unaryGrad struct {
	deriv func(x float64) float64
}

// unaryGradOf returns the backward of node n, whose op is an unaryOp, by
// its op type and attributes, or an error for an op without a gradient
// (Not) or an attribute it cannot read.
func unaryGradOf(n *Node) (Differentiable, error) {
	if n.OpType == "Relu" {
		return insideGrad{lo: 0, hi: math.Inf(1)}, nil
	}
	if d, ok := derivs[n.OpType]; ok {
		return unaryGrad{d}, nil
	}
	a := NewAttrs(n.Attrs)
	switch n.OpType {
	case "LeakyRelu":
		alpha, err := a.Float("alpha", 0.01)
		if err != nil {
			return nil, err
		}
		al := float64(alpha)
		return unaryGrad{func(x float64) float64 {
			if x > 0 {
				return 1
			}
			return al
		}}, nil
	case "HardSigmoid":
		alpha, err := a.Float("alpha", 0.2)
		if err != nil {
			return nil, err
		}
		beta, err := a.Float("beta", 0.5)
		if err != nil {
			return nil, err
		}
		al, be := float64(alpha), float64(beta)
		return unaryGrad{func(x float64) float64 {
			if h := al*x + be; h > 0 && h < 1 {
				return al
			}
			return 0
		}}, nil
	case "Gelu":
		approx, err := a.String("approximate", "none")
		if err != nil {
			return nil, err
		}
		if approx == "tanh" {
			return unaryGrad{geluTanhDeriv}, nil
		}
		return unaryGrad{geluDeriv}, nil
	}
	return nil, fmt.Errorf("op %s has no gradient", n.OpType)
}

// Backward returns dx = dy·f'(x) for a FLOAT or DOUBLE input.
func (u unaryGrad) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 1); err != nil {
		return nil, err
	}
	x, dy := in[0], dOut[0]
	if x.DType != onnx.Float && x.DType != onnx.Double {
		return nil, fmt.Errorf("%v has no gradient", x.DType)
	}
	if !wants(needs, 0) || dy == nil {
		return []*Tensor{nil}, nil
	}
	dx, err := gradFor(ctx, x)
	if err != nil {
		return nil, err
	}
	if x.DType == onnx.Double {
		derivChunks(ctx, dx.F64, dy.F64, x.F64, u.deriv)
	} else {
		derivChunks(ctx, dx.F32, dy.F32, x.F32, u.deriv)
	}
	return []*Tensor{dx}, nil
}

// derivChunks sets d[i] = dy[i]·f(x[i]) (0 where f is 0), in parallel.
func derivChunks[T float32 | float64](ctx *Ctx, d, dy, x []T, f func(float64) float64) {
	ctx.Parallel(len(d), grainElems, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if s := f(float64(x[i])); s != 0 {
				d[i] = T(float64(dy[i]) * s)
			} else {
				d[i] = 0
			}
		}
	})
}

// insideGrad is the backward of Relu (lo 0, hi +Inf) and of Clip: dy
// where lo < x < hi, else 0.
type insideGrad struct{ lo, hi float64 }

// Backward returns dy where lo < x < hi, else 0.
func (u insideGrad) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := gradArgs(in, out, dOut, 1); err != nil {
		return nil, err
	}
	x, dy := in[0], dOut[0]
	dIn := make([]*Tensor, len(in))
	if x.DType != onnx.Float && x.DType != onnx.Double {
		return nil, fmt.Errorf("%v has no gradient", x.DType)
	}
	if !wants(needs, 0) || dy == nil {
		return dIn, nil
	}
	dx, err := gradFor(ctx, x)
	if err != nil {
		return nil, err
	}
	if x.DType == onnx.Double {
		ctx.Parallel(x.Len(), grainElems, func(lo, hi int) { insideK(dx.F64[lo:hi], dy.F64[lo:hi], x.F64[lo:hi], u.lo, u.hi) })
	} else if u.lo == 0 && math.IsInf(u.hi, 1) {
		ctx.Parallel(x.Len(), grainElems, func(lo, hi int) { vec.ReluGrad(dx.F32[lo:hi], dy.F32[lo:hi], x.F32[lo:hi]) })
	} else {
		l, h := float32(u.lo), float32(u.hi)
		ctx.Parallel(x.Len(), grainElems, func(lo, hi int) { insideK(dx.F32[lo:hi], dy.F32[lo:hi], x.F32[lo:hi], l, h) })
	}
	dIn[0] = dx
	return dIn, nil
}

// insideK sets d[i] = dy[i] where lo < x[i] < hi, else 0.
func insideK[T float32 | float64](d, dy, x []T, lo, hi T) {
	dy, x = dy[:len(d)], x[:len(d)]
	for i, v := range x {
		if v > lo && v < hi {
			d[i] = dy[i]
		} else {
			d[i] = 0
		}
	}
}

// Backward returns Clip's gradient: dy where lo < x < hi (the bounds that
// are given), else 0; the bounds have none.
func (o *clipOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	lo, hi := math.Inf(-1), math.Inf(1)
	if o.attrs {
		lo, hi = float64(o.min), float64(o.max)
	}
	for i, b := range []*Tensor{opt(in, 1), opt(in, 2)} {
		if b == nil {
			continue
		}
		if b.DType != x.DType || b.Len() != 1 {
			return nil, fmt.Errorf("%s must be a scalar %v, is %v", [2]string{"min", "max"}[i], x.DType, b)
		}
		v := b.F64
		if b.DType == onnx.Float {
			v = []float64{float64(b.F32[0])}
		}
		if i == 0 {
			lo = v[0]
		} else {
			hi = v[0]
		}
	}
	return insideGrad{lo, hi}.Backward(ctx, in, out, dOut, needs)
}
