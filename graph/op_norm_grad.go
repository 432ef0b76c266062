package graph

import (
	"fmt"

	"github.com/tensorquant/tensorquant/internal/nn"
	"github.com/tensorquant/tensorquant/onnx"
)

// Backward returns the gradients of BatchNormalization in inference
// mode, an affine map per channel with the running statistics fixed:
// y = (x - mean)·inv·scale + B with inv = 1/sqrt(var + epsilon), so
//
//	dx = dy·scale·inv     dscale = Σ dy·(x - mean)·inv     dB = Σ dy
//
// in float64 per channel (the sums over the batch and the plane); mean
// and var have none (they are statistics, not trained). Fine-tuning keeps
// the statistics the model was exported with, as PyTorch's QAT does once
// it freezes them (torch.ao.quantization's freeze_bn_stats): a small
// fine-tuning batch would estimate them worse than the training run
// did, and the deployed model uses these. InstanceNormalization has no
// gradient here.
func (o *normOp) Backward(ctx *Ctx, in, out, dOut []*Tensor, needs []bool) ([]*Tensor, error) {
	if err := o.noGrad(); err != nil {
		return nil, err
	}
	if err := gradArgs(in, out, dOut, 5); err != nil {
		return nil, err
	}
	if err := o.checkRun(in); err != nil {
		return nil, err
	}
	x, dy := in[0], dOut[0]
	dIn := make([]*Tensor, len(in))
	if dy == nil {
		return dIn, nil
	}
	N, C, P := x.Shape[0], x.Shape[1], prod(x.Shape[2:])
	scale, mean, variance := in[1].F32, in[3].F32, in[4].F32
	inv := make([]float64, C)
	for c := range C {
		inv[c] = nn.InvStd(float64(variance[c]), float64(o.eps))
	}
	if wants(needs, 0) {
		dx, err := ctx.Alloc(onnx.Float, x.Shape...)
		if err != nil {
			return nil, err
		}
		ctx.Parallel(N*C, max(1, grainElems/max(P, 1)), func(lo, hi int) {
			for p := lo; p < hi; p++ {
				k := float64(scale[p%C]) * inv[p%C]
				d, g := dx.F32[p*P:(p+1)*P], dy.F32[p*P:(p+1)*P]
				for i, v := range g {
					d[i] = float32(float64(v) * k)
				}
			}
		})
		dIn[0] = dx
	}
	if wants(needs, 1) || wants(needs, 2) {
		ds, db := make([]float64, C), make([]float64, C)
		for p := range N * C {
			c := p % C
			m := float64(mean[c])
			xs, g := x.F32[p*P:(p+1)*P], dy.F32[p*P:(p+1)*P]
			var s, t float64
			for i, v := range g {
				s += float64(v) * (float64(xs[i]) - m)
				t += float64(v)
			}
			ds[c] += s * inv[c]
			db[c] += t
		}
		for i, sums := range [][]float64{ds, db} {
			if !wants(needs, i+1) {
				continue
			}
			g, err := ctx.Alloc(onnx.Float, C)
			if err != nil {
				return nil, err
			}
			convert(g.F32, sums)
			dIn[i+1] = view(g, in[i+1].Shape)
		}
	}
	return dIn, nil
}

func (o *normOp) noGrad() error {
	if o.instance {
		return fmt.Errorf("InstanceNormalization has no gradient")
	}
	return nil
}
