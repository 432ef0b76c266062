package graph

import (
	"fmt"

	"github.com/tensorquant/tensorquant/internal/nn"
	"github.com/tensorquant/tensorquant/onnx"
)

// BatchNormalization (inference) and InstanceNormalization on FLOAT, with
// internal/nn's normalisation, which the layers package's BatchNorm uses
// too: per channel, y = (x - mean)·(1/sqrt(var + epsilon))·scale + B,
// computed in float64 and rounded once.

func init() {
	Register("", "BatchNormalization", newBatchNorm)
	Register("", "InstanceNormalization", func(d *NodeDef) (Op, error) {
		if err := checkNode(d, 3, 3, 1, 1); err != nil {
			return nil, err
		}
		eps, err := d.Attrs.Float("epsilon", 1e-5)
		return &normOp{eps: eps, instance: true}, err
	})
}

// normOp is BatchNormalization in inference mode (X, scale, B, mean, var)
// or InstanceNormalization (instance: X, scale, B, the statistics of each
// plane).
type normOp struct {
	eps      float32
	instance bool
}

func newBatchNorm(d *NodeDef) (Op, error) {
	if err := checkNode(d, 5, 5, 1, -1); err != nil {
		return nil, err
	}
	o := &normOp{}
	var err error
	if o.eps, err = d.Attrs.Float("epsilon", 1e-5); err != nil {
		return nil, err
	}
	// momentum only matters in training.
	if _, err := d.Attrs.Float("momentum", 0.9); err != nil {
		return nil, err
	}
	training := d.NumOutputs > 1
	if d.Opset >= 14 {
		t, err := d.Attrs.Int("training_mode", 0)
		if err != nil {
			return nil, err
		}
		training = training || t != 0
	}
	if d.Opset < 9 {
		spatial, err := d.Attrs.Int("spatial", 1)
		if err != nil {
			return nil, err
		}
		if spatial != 1 {
			return nil, fmt.Errorf("spatial %d: only 1 (statistics per channel) is supported", spatial)
		}
	}
	if d.Opset < 7 {
		// is_test and consumed_inputs say nothing the outputs do not.
		if _, err := d.Attrs.Int("is_test", 0); err != nil {
			return nil, err
		}
		if _, err := d.Attrs.Ints("consumed_inputs", nil); err != nil {
			return nil, err
		}
	}
	if training {
		return nil, fmt.Errorf("training mode (training_mode 1, or the running and saved statistics as outputs: %d outputs) is not supported: only inference", d.NumOutputs)
	}
	return o, nil
}

// check returns an error unless x has a channel dimension and every
// parameter is a [C] vector of x's type.
func (o *normOp) check(x *Info, params []*Info) error {
	if x.DType != onnx.Float {
		return fmt.Errorf("input is %v, only FLOAT is supported", x.DType)
	}
	if x.Rank() < 2 || o.instance && x.Rank() < 3 {
		return fmt.Errorf("input shape %s: want N, C and (for InstanceNormalization at least one) spatial dimensions", ShapeString(x.Shape))
	}
	names := []string{"scale", "B", "mean", "var"}
	for i, p := range params {
		if p.DType != onnx.Float {
			return fmt.Errorf("%s is %v, only FLOAT is supported", names[i], p.DType)
		}
		if p.Rank() != 1 || p.Shape[0].Known() && x.Shape[1].Known() && p.Shape[0].Size != x.Shape[1].Size {
			return fmt.Errorf("%s has shape %s, want [%s] (the input's channels)", names[i], ShapeString(p.Shape), x.Shape[1])
		}
	}
	return nil
}

func (o *normOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, len(in)); err != nil {
		return nil, err
	}
	if err := o.check(in[0], in[1:]); err != nil {
		return nil, err
	}
	return []*Info{info(onnx.Float, in[0].Shape)}, nil
}

// checkRun is check on the tensors of a run.
func (o *normOp) checkRun(in []*Tensor) error {
	if err := need(in, len(in)); err != nil {
		return err
	}
	infos := make([]*Info, len(in))
	for i, t := range in {
		infos[i] = InfoOf(t)
	}
	return o.check(infos[0], infos[1:])
}

func (o *normOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := o.checkRun(in); err != nil {
		return nil, err
	}
	x := in[0]
	y, err := outputFor(ctx, x.Shape, x, 0, x, 0)
	if err != nil {
		return nil, err
	}
	C, P := x.Shape[1], prod(x.Shape[2:])
	scale, b := in[1].F32, in[2].F32
	eps := float64(o.eps)
	ctx.Parallel(x.Shape[0]*C, max(1, grainElems/max(P, 1)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			c := p % C
			plane := x.F32[p*P : (p+1)*P]
			var mean, variance float64
			if o.instance {
				mean, variance, _ = nn.Moments(plane, 1, 1, P, 0)
			} else {
				mean, variance = float64(in[3].F32[c]), float64(in[4].F32[c])
			}
			nn.Normalize(y.F32[p*P:(p+1)*P], nil, plane, mean, nn.InvStd(variance, eps), float64(scale[c]), float64(b[c]))
		}
	})
	return []*Tensor{y}, nil
}
