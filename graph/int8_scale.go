package graph

import (
	"fmt"
	"slices"
	"sync"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/vecmath"
	"github.com/tensorquant/tensorquant/onnx"
)

// The int8-scale pass runs the channel scaling of a squeeze-and-excitation
// block that the nhwc pass left NHWC, when the next layer's input
// quantizer alone reads it,
//
//	MulNHWC(x [N, spatial..., C], s [N or 1, ..., 1, C]) → QuantizeLinear (per tensor)
//
// as one node that writes the codes: a few pixels at a time, x times s
// repeated for those pixels (vecmath.Mul), then their codes
// (fakequant.QuantizeLinearCodes), so that the scaled floats are never
// written. The same float32 products and the same QuantizeLinear: the
// bits of the two nodes. (A per-pixel product, which the broadcasting Mul
// runs, costs a kernel call for every C values.)

func init() {
	RegisterPass(Pass{Name: "int8-scale", Stage: StageFuse + 110, Integer: true, Apply: int8ScalePass})
}

// int8ScalePass replaces each NHWC channel scaling read only by a
// per-tensor QuantizeLinear by a scaleQuantOp.
func int8ScalePass(r *Rewriter) error {
	for _, n := range r.Nodes() {
		j, ok := n.Op.(*nhwcJoinOp)
		if !ok || !r.Alive(n) || len(n.Inputs) != 2 || len(n.Outputs) != 1 {
			continue
		}
		if b, ok := j.op.(*binaryOp); !ok || b.name != "Mul" || b.aligned {
			continue
		}
		xi, yi := r.Info(n.Inputs[1-j.arg]), r.Info(n.Outputs[0])
		if xi == nil || yi == nil || xi.DType != onnx.Float || !equalDims(xi.Shape, yi.Shape) || xi.Rank() < 3 {
			continue
		}
		q, ys, zy, yType := quantizeAfter(r, n.Outputs[0])
		if q == nil {
			continue
		}
		r.Replace([]*Node{n, q}, &Node{Name: n.Name, Domain: FusedDomain, OpType: "MulQuantizeLinearNHWC",
			Inputs: n.Inputs, Outputs: q.Outputs,
			Op: &scaleQuantOp{arg: j.arg, axis: j.axis, ys: ys, zy: zy, yType: yType}})
	}
	return nil
}

// scaleQuantOp is QuantizeLinear(x · s) for x NHWC [N, spatial..., C]
// and s (input arg) one value per channel, its channel at axis (moved
// last, as nhwcJoinOp gives it), for one batch or each.
type scaleQuantOp struct {
	arg, axis int
	ys        float32
	zy        int32
	yType     onnx.DataType
}

// scaleQuantRun is the floats scaleQuantOp multiplies and quantizes at a
// time.
const scaleQuantRun = 4096

// scaleQuantBufs holds the buffers of scaleQuantOp's goroutines (the
// scales repeated for a block of pixels, and the block's products).
var scaleQuantBufs sync.Pool // of *[]float32

func (o *scaleQuantOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	x := in[1-o.arg]
	if x.DType != onnx.Float || in[o.arg].DType != onnx.Float || x.Rank() < 3 {
		return nil, fmt.Errorf("inputs %v and %v: want FLOAT NHWC and FLOAT per channel", in[0], in[1])
	}
	return []*Info{info(o.yType, slices.Clone(x.Shape))}, nil
}

func (o *scaleQuantOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	x, s := in[1-o.arg], in[o.arg]
	if x.DType != onnx.Float || s.DType != onnx.Float || len(x.Shape) < 3 || len(s.Shape) <= o.axis {
		return nil, fmt.Errorf("inputs %v and %v: want FLOAT NHWC and FLOAT per channel", in[0], in[1])
	}
	n, c := x.Shape[0], x.Shape[len(x.Shape)-1]
	ns := s.Len() / max(c, 1) // 1 or n rows of c scales
	if s.Len() != ns*c || ns != 1 && ns != n || s.Shape[o.axis] != c {
		return nil, fmt.Errorf("scale %v is not one value per channel of %v", s, x)
	}
	y, err := ctx.Alloc(o.yType, x.Shape...)
	if err != nil {
		return nil, err
	}
	if x.Len() == 0 {
		return []*Tensor{y}, nil
	}
	pix := x.Len() / n / c
	k := max(1, scaleQuantRun/c) // pixels per block
	blocks := (pix + k - 1) / k
	lo, hi := codeRange(o.yType)
	if o.zy < lo || o.zy > hi {
		return nil, fmt.Errorf("zero point %d is outside [%d, %d]", o.zy, lo, hi)
	}
	ctx.Parallel(n*blocks, 1, func(u0, u1 int) {
		buf, _ := scaleQuantBufs.Get().(*[]float32)
		if buf == nil || cap(*buf) < 2*k*c {
			b := make([]float32, 2*k*c)
			buf = &b
		}
		defer scaleQuantBufs.Put(buf)
		rep, tmp := (*buf)[:k*c], (*buf)[k*c:2*k*c]
		img := -1
		for u := u0; u < u1; u++ {
			b, p0 := u/blocks, u%blocks*k
			if sb := b % ns; sb != img {
				img = sb
				for p := range k {
					copy(rep[p*c:(p+1)*c], s.F32[sb*c:(sb+1)*c])
				}
			}
			at, m := (b*pix+p0)*c, min(k, pix-p0)*c
			vecmath.Mul(tmp[:m], x.F32[at:at+m], rep[:m])
			// The zero point is in range: QuantizeLinearCodes cannot fail.
			if o.yType == onnx.Int8 {
				_ = fakequant.QuantizeLinearCodes(y.I8[at:at+m], tmp[:m], o.ys, o.zy, lo, hi)
			} else {
				_ = fakequant.QuantizeLinearCodes(y.U8[at:at+m], tmp[:m], o.ys, o.zy, lo, hi)
			}
		}
	})
	return []*Tensor{y}, nil
}
