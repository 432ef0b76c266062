package graph

import (
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/internal/nn"
	"github.com/tensorquant/tensorquant/onnx"
)

// The pooling ops MaxPool (FLOAT, DOUBLE, INT8, UINT8; the optional
// Indices output), AveragePool (FLOAT), GlobalMaxPool and
// GlobalAveragePool, over 1 to 3 spatial dimensions, with internal/nn's
// kernels, which the layers package's pooling layers use too. A NaN in a
// max-pooling window wins, as in PyTorch (ONNX leaves it open; ONNX
// Runtime's result depends on where the NaN is).

func init() {
	Register("", "MaxPool", func(d *NodeDef) (Op, error) { return newPool(d, true) })
	Register("", "AveragePool", func(d *NodeDef) (Op, error) { return newPool(d, false) })
	Register("", "GlobalMaxPool", func(d *NodeDef) (Op, error) {
		return &globalPoolOp{max: true}, checkNode(d, 1, 1, 1, 1)
	})
	Register("", "GlobalAveragePool", func(d *NodeDef) (Op, error) {
		return &globalPoolOp{}, checkNode(d, 1, 1, 1, 1)
	})
}

// poolOp is MaxPool (max) or AveragePool.
type poolOp struct {
	max          bool
	win          *window
	countPad     bool // count_include_pad
	storageOrder int  // of the Indices output: 0 row major, 1 column major
	outputs      int
}

func newPool(d *NodeDef, isMax bool) (Op, error) {
	outs := 1
	if isMax && d.Opset >= 8 {
		outs = 2
	}
	if err := checkNode(d, 1, 1, 1, outs); err != nil {
		return nil, err
	}
	dil := isMax && d.Opset >= 10 || !isMax && d.Opset >= 19
	win, err := readWindow(d, dil, d.Opset >= 10)
	if err != nil {
		return nil, err
	}
	if win.kernel == nil {
		return nil, fmt.Errorf("kernel_shape is required")
	}
	if err := win.check(len(win.kernel), nil); err != nil {
		return nil, err
	}
	o := &poolOp{max: isMax, win: win, outputs: d.NumOutputs}
	if isMax && d.Opset >= 8 {
		if o.storageOrder, err = d.Attrs.Int("storage_order", 0); err != nil {
			return nil, err
		}
		if o.storageOrder != 0 && o.storageOrder != 1 {
			return nil, fmt.Errorf("storage_order %d: want 0 or 1", o.storageOrder)
		}
	}
	if !isMax && d.Opset >= 7 {
		c, err := d.Attrs.Int("count_include_pad", 0)
		if err != nil {
			return nil, err
		}
		o.countPad = c != 0
	}
	return o, nil
}

// types returns the element types the op computes with.
func (o *poolOp) types() []onnx.DataType {
	if o.max {
		return []onnx.DataType{onnx.Float, onnx.Double, onnx.Int8, onnx.Uint8}
	}
	return []onnx.DataType{onnx.Float}
}

// shapes returns the output shape as far as it is known, and the geometry
// when every spatial size is (ok).
func (o *poolOp) shapes(x []Dim) (out []Dim, g nn.Geom, ok bool, err error) {
	dims := len(o.win.kernel)
	if len(x) != dims+2 {
		return nil, g, false, fmt.Errorf("input shape %s: want %d dimensions (N, C and the kernel's %d)", ShapeString(x), dims+2, dims)
	}
	out = []Dim{x[0], x[1]}
	ok = true
	in, sp, pb, pe := make([]int, dims), make([]int, dims), make([]int, dims), make([]int, dims)
	for i := range dims {
		if !x[2+i].Known() {
			out, ok = append(out, Unknown()), false
			continue
		}
		in[i] = x[2+i].Size
		if sp[i], pb[i], pe[i], err = o.win.forward(i, dims, in[i], o.win.kernel[i]); err != nil {
			return nil, g, false, fmt.Errorf("input shape %s: %w", ShapeString(x), err)
		}
		out = append(out, Dim{Size: sp[i]})
	}
	if !ok {
		return out, g, false, nil
	}
	strides, dil := make([]int, dims), make([]int, dims)
	for i := range dims {
		strides[i], dil[i] = at(o.win.strides, i, 1), at(o.win.dilations, i, 1)
	}
	return out, nn.NewGeom(in, sp, o.win.kernel, strides, pb, pe, dil), true, nil
}

func (o *poolOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if err := oneOf(x.DType, o.types()...); err != nil {
		return nil, err
	}
	out, _, _, err := o.shapes(x.Shape)
	if err != nil {
		return nil, err
	}
	res := []*Info{info(x.DType, out)}
	if o.outputs > 1 {
		res = append(res, info(onnx.Int64, out))
	}
	return res, nil
}

func (o *poolOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if err := oneOf(x.DType, o.types()...); err != nil {
		return nil, err
	}
	shape, g, _, err := o.shapes(Sizes(x.Shape...))
	if err != nil {
		return nil, err
	}
	out := ints(shape)
	if err := checkValueShape(out); err != nil {
		return nil, err
	}
	B, P := g.BigN(), g.SmallN()
	if B > math.MaxInt32 {
		return nil, fmt.Errorf("input shape %v: planes of more than 2^31 elements", x.Shape)
	}
	y, err := ctx.Alloc(x.DType, out...)
	if err != nil {
		return nil, err
	}
	planes := out[0] * out[1]
	grain := max(1, grainElems/max(P*g.KernelN(), 1))
	if !o.max {
		ctx.Parallel(planes, grain, func(lo, hi int) { nn.AvgPool(y.F32, x.F32, &g, o.countPad, lo, hi) })
		return []*Tensor{y}, nil
	}
	var argmax []int32
	var idx *Tensor
	if o.outputs > 1 {
		if idx, err = ctx.Alloc(onnx.Int64, out...); err != nil {
			return nil, err
		}
		am, err := ctx.Alloc(onnx.Int32, out...)
		if err != nil {
			return nil, err
		}
		defer releaseScratch(ctx, am)
		argmax = am.I32
	}
	ctx.Parallel(planes, grain, func(lo, hi int) {
		switch x.DType {
		case onnx.Float:
			nn.MaxPool(y.F32, argmax, x.F32, &g, lo, hi)
		case onnx.Double:
			nn.MaxPool(y.F64, argmax, x.F64, &g, lo, hi)
		case onnx.Int8:
			nn.MaxPool(y.I8, argmax, x.I8, &g, lo, hi)
		default:
			nn.MaxPool(y.U8, argmax, x.U8, &g, lo, hi)
		}
		if idx != nil {
			o.indices(idx.I64[lo*P:hi*P], argmax[lo*P:hi*P], x.Shape[2:], lo, P)
		}
	})
	if idx == nil {
		return []*Tensor{y}, nil
	}
	return []*Tensor{y, idx}, nil
}

// indices converts argmax, each maximum's index in its input plane (row
// major) for the output planes from p0 on (P elements each), into ONNX
// MaxPool's Indices: the index in the whole input, the plane's part row
// major and the position in the plane row major (storage_order 0) or
// column major (1). A window of padding only has index -1.
func (o *poolOp) indices(dst []int64, argmax []int32, spatial []int, p0, P int) {
	B := prod(spatial)
	if o.storageOrder == 0 {
		for i := 0; i < len(argmax); i += P {
			base := int64((p0 + i/P) * B)
			for j, a := range argmax[i : i+P] {
				if a < 0 {
					dst[i+j] = -1
				} else {
					dst[i+j] = base + int64(a)
				}
			}
		}
		return
	}
	coords := make([]int, len(spatial))
	for i, a := range argmax {
		if a < 0 {
			dst[i] = -1
			continue
		}
		// Row-major coordinates, re-linearised with the first dimension
		// fastest.
		cm, stride, r := 0, 1, int(a)
		for j := len(spatial) - 1; j >= 0; j-- {
			coords[j] = r % spatial[j]
			r /= spatial[j]
		}
		for j, c := range coords {
			cm += c * stride
			stride *= spatial[j]
		}
		dst[i] = int64((p0+i/P)*B + cm)
	}
}

// globalPoolOp is GlobalMaxPool (max) or GlobalAveragePool: every plane
// [N, C, spatial...] reduced to one value, the output [N, C, 1, ...].
type globalPoolOp struct{ max bool }

func (o *globalPoolOp) types() []onnx.DataType {
	if o.max {
		return []onnx.DataType{onnx.Float, onnx.Double, onnx.Int8, onnx.Uint8}
	}
	return []onnx.DataType{onnx.Float}
}

func (o *globalPoolOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if err := oneOf(x.DType, o.types()...); err != nil {
		return nil, err
	}
	if x.Rank() < 3 {
		return nil, fmt.Errorf("input shape %s: want N, C and at least one spatial dimension", ShapeString(x.Shape))
	}
	out := []Dim{x.Shape[0], x.Shape[1]}
	for range x.Rank() - 2 {
		out = append(out, Dim{Size: 1})
	}
	return []*Info{info(x.DType, out)}, nil
}

func (o *globalPoolOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if err := oneOf(x.DType, o.types()...); err != nil {
		return nil, err
	}
	if len(x.Shape) < 3 {
		return nil, fmt.Errorf("input shape %v: want N, C and at least one spatial dimension", x.Shape)
	}
	out := []int{x.Shape[0], x.Shape[1]}
	for range len(x.Shape) - 2 {
		out = append(out, 1)
	}
	y, err := ctx.Alloc(x.DType, out...)
	if err != nil {
		return nil, err
	}
	n, planes := prod(x.Shape[2:]), out[0]*out[1]
	ctx.Parallel(planes, max(1, grainElems/max(n, 1)), func(lo, hi int) {
		switch x.DType {
		case onnx.Float:
			if o.max {
				nn.MaxPlanes(y.F32, x.F32, n, lo, hi)
			} else {
				nn.AdaptiveAvgPool(y.F32, x.F32, [3]int{1, 1, n}, [3]int{1, 1, 1}, lo, hi)
			}
		case onnx.Double:
			nn.MaxPlanes(y.F64, x.F64, n, lo, hi)
		case onnx.Int8:
			nn.MaxPlanes(y.I8, x.I8, n, lo, hi)
		default:
			nn.MaxPlanes(y.U8, x.U8, n, lo, hi)
		}
	})
	return []*Tensor{y}, nil
}
