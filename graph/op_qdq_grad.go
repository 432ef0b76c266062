package graph

import (
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/onnx"
)

// The backward of QuantizeLinear and DequantizeLinear: together, a pair
// has the straight-through gradient of the original toolkit's fake
// quantization (FORMAT.md: grad_in = grad_out where |x| <= amax, inclusive,
// else 0; fakequant.STEGrad). The codes between them carry the gradient
// of the value they stand for (not of the integers): DequantizeLinear
// passes its output gradient to the codes unchanged, and QuantizeLinear
// passes the codes' gradient to x where x lies in the quantizer's range,
// so that the pair computes dx = dy there exactly, as the original does.
// The scales and zero points have none: amax stays fixed during
// quantization-aware fine-tuning, as in the original after calibration.
//
// The range of a scale s and zero point z with codes [qmin, qmax] is
// [s·(qmin - z), s·(qmax - z)]. For signed codes with zero point 0 (the
// original's and TensorRT's symmetric quantizers) and for FP8 codes, it
// is the original's |x| <= amax, with amax recovered from the exported
// scale = float32(amax/qmax) (qmax the largest code, or the format's
// largest finite value): the largest float32 amax that exports to s, so
// that an element at the original's amax, which a max-calibrated weight
// always has, passes as it does there (one above it by less than an ulp
// of amax would pass too). Unsigned codes with zero point 0 are
// [0, amax] likewise.

// amaxOf returns the largest float32 a with float32(a/qmax) == s (s > 0
// finite), or float32(s·qmax) when no a gives s exactly.
func amaxOf(s, qmax float32) float32 {
	a := s * qmax
	for range 4 {
		if a/qmax == s {
			break
		}
		if a/qmax < s {
			a = math.Nextafter32(a, float32(math.Inf(1)))
		} else {
			a = math.Nextafter32(a, 0)
		}
	}
	if a/qmax != s {
		return s * qmax
	}
	for range 8 {
		next := math.Nextafter32(a, float32(math.Inf(1)))
		if next/qmax != s {
			break
		}
		a = next
	}
	return a
}

// fp8Max returns the largest finite value of an FP8 format.
func fp8Max(t onnx.DataType) float32 {
	if t == onnx.Float8E5M2 {
		return 57344
	}
	return 448
}

// Backward returns QuantizeLinear's input gradient: the codes' gradient
// where x is inside the range, 0 outside (and for NaN).
func (o *qdqOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	dIn := make([]*Tensor, len(in))
	dy := dOut[0]
	if len(dOut) != 1 {
		return nil, fmt.Errorf("%d output gradients, want 1", len(dOut))
	}
	if !wants(needs, 0) || dy == nil {
		return dIn, nil
	}
	x, scale, zp := in[0], in[1], opt(in, 2)
	if dy.DType != onnx.Float || dy.Len() != x.Len() {
		return nil, fmt.Errorf("output gradient %v for codes %v", dy, out[0])
	}
	if o.dequant {
		// The codes' gradient is the value's.
		dIn[0] = view(dy, x.Shape)
		return dIn, nil
	}
	t, l, zps, err := o.prepare(x, scale, zp)
	if err != nil {
		return nil, err
	}
	lo, hi := make([]float32, len(scale.F32)), make([]float32, len(scale.F32))
	r := qRange(t)
	for i, s := range scale.F32 {
		switch {
		case !(s > 0) || math.IsInf(float64(s), 0):
			lo[i], hi[i] = s*float32(r[0]-zps[i]), s*float32(r[1]-zps[i])
			if s < 0 {
				lo[i], hi[i] = hi[i], lo[i]
			}
		case isFP8(t):
			hi[i] = amaxOf(s, fp8Max(t))
			lo[i] = -hi[i]
		case zps[i] == 0 && r[0] < 0:
			hi[i] = amaxOf(s, float32(r[1]))
			lo[i] = -hi[i]
		case zps[i] == 0:
			lo[i], hi[i] = 0, amaxOf(s, float32(r[1]))
		default:
			lo[i], hi[i] = s*float32(r[0]-zps[i]), s*float32(r[1]-zps[i])
		}
	}
	dx, err := ctx.Alloc(onnx.Float, x.Shape...)
	if err != nil {
		return nil, err
	}
	l.runs(ctx, func(at, n, s, step int) {
		d, g, xs := dx.F32[at:at+n], dy.F32[at:at+n], x.F32[at:at+n]
		if step == 0 && lo[s] == -hi[s] && hi[s] >= 0 {
			// A symmetric range: |x| <= hi, the vector kernels of STE (a
			// NaN x gives 0, as the comparisons below do).
			fakequant.STE(d, xs, g, hi[s])
			return
		}
		for i, v := range xs {
			j := s + i*step
			if v >= lo[j] && v <= hi[j] {
				d[i] = g[i]
			} else {
				d[i] = 0
			}
		}
	})
	dIn[0] = dx
	return dIn, nil
}
