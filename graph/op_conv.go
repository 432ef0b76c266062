package graph

import (
	"fmt"
	"slices"

	"github.com/tensorquant/tensorquant/internal/nn"
	"github.com/tensorquant/tensorquant/onnx"
)

// Conv and ConvTranspose on FLOAT, over 1 to 3 spatial dimensions, with
// the arithmetic of internal/nn that the layers package's convolutions
// use (im2col and the GEMM, or the direct depthwise kernel), and the
// sliding-window attributes they share with the pooling ops.

func init() {
	Register("", "Conv", func(d *NodeDef) (Op, error) { return newConv(d, false) })
	Register("", "ConvTranspose", func(d *NodeDef) (Op, error) { return newConv(d, true) })
}

// maxWindowAttr bounds kernel sizes, strides, dilations and paddings, so
// that no output size computed from them can overflow.
const maxWindowAttr = 1 << 24

// window holds the sliding-window attributes of Conv, ConvTranspose,
// MaxPool and AveragePool: kernel_shape, strides, dilations and pads (nil
// when absent: the kernel then comes from the weight, the others default
// to 1, 1 and 0), and auto_pad.
type window struct {
	kernel, strides, dilations, pads []int
	autoPad                          string
	ceil                             bool
}

// readWindow reads the window attributes of d; dilations and ceil say
// whether the op has those attributes at d's opset.
func readWindow(d *NodeDef, dilations, ceil bool) (*window, error) {
	w := &window{}
	var err error
	if w.autoPad, err = d.Attrs.String("auto_pad", "NOTSET"); err != nil {
		return nil, err
	}
	if !slices.Contains([]string{"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"}, w.autoPad) {
		return nil, fmt.Errorf("auto_pad %q is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", w.autoPad)
	}
	for _, a := range []struct {
		name string
		dst  *[]int
		min  int
		read bool
	}{{"kernel_shape", &w.kernel, 1, true}, {"strides", &w.strides, 1, true}, {"dilations", &w.dilations, 1, dilations}, {"pads", &w.pads, 0, true}} {
		if !a.read {
			continue
		}
		if *a.dst, err = d.Attrs.Ints(a.name, nil); err != nil {
			return nil, err
		}
		for _, v := range *a.dst {
			if v < a.min || v > maxWindowAttr {
				return nil, fmt.Errorf("%s %v: want values from %d to %d", a.name, *a.dst, a.min, maxWindowAttr)
			}
		}
	}
	if ceil {
		c, err := d.Attrs.Int("ceil_mode", 0)
		if err != nil {
			return nil, err
		}
		w.ceil = c != 0
	}
	return w, nil
}

// check returns an error unless the attributes given have dims values
// (pads 2·dims) and the kernel, when both are known, is kernel.
func (w *window) check(dims int, kernel []int) error {
	for _, a := range []struct {
		name string
		v    []int
		n    int
	}{{"kernel_shape", w.kernel, dims}, {"strides", w.strides, dims}, {"dilations", w.dilations, dims}, {"pads", w.pads, 2 * dims}} {
		if a.v != nil && len(a.v) != a.n {
			return fmt.Errorf("%s %v: want %d values for %d spatial dimensions", a.name, a.v, a.n, dims)
		}
	}
	if kernel != nil && w.kernel != nil && !slices.Equal(kernel, w.kernel) {
		return fmt.Errorf("kernel_shape %v differs from the weight's kernel %v", w.kernel, kernel)
	}
	return nil
}

// at returns the value of attribute v at dimension i, or def when absent.
func at(v []int, i, def int) int {
	if v == nil {
		return def
	}
	return v[i]
}

// forward returns, for spatial dimension i of dims with input size in
// and kernel size k, the output size of a convolution or pooling and the
// padding before and after: explicit pads (floor, or with ceil_mode ceil
// unless the last window would start in the end padding), VALID (none),
// SAME_UPPER and SAME_LOWER (output ceil(in/stride), the odd padding
// after, or before, the input). It returns an error for an output size
// below 1.
func (w *window) forward(i, dims, in, k int) (out, pb, pe int, err error) {
	s, d := at(w.strides, i, 1), at(w.dilations, i, 1)
	span := d*(k-1) + 1
	switch w.autoPad {
	case "SAME_UPPER", "SAME_LOWER":
		out = (in + s - 1) / s
		total := max(0, (out-1)*s+span-in)
		pb = total / 2
		if w.autoPad == "SAME_LOWER" {
			pb = total - total/2
		}
		pe = total - pb
	case "VALID":
		if in >= span {
			out = (in-span)/s + 1
		}
	default:
		pb, pe = at(w.pads, i, 0), at(w.pads, dims+i, 0)
		if n := in + pb + pe - span; n >= 0 {
			out = n/s + 1
			if w.ceil && n%s != 0 {
				out++
				if (out-1)*s >= in+pb {
					out--
				}
			}
		}
	}
	if out < 1 {
		return 0, 0, 0, fmt.Errorf("spatial size %d is too small for kernel %d (dilation %d, padding %d+%d, auto_pad %s)", in, k, d, pb, pe, w.autoPad)
	}
	return out, pb, pe, nil
}

// convOp is Conv or ConvTranspose (transposed): the input X [N, C,
// spatial...], the weight W ([M, C/group, k...], or [C, M/group, k...]
// when transposed), and an optional bias B [M].
type convOp struct {
	win        *window
	group      int
	transposed bool
	outPad     []int // output_padding
	outShape   []int // output_shape (spatial dims only)
}

func newConv(d *NodeDef, transposed bool) (Op, error) {
	if err := checkNode(d, 2, 3, 1, 1); err != nil {
		return nil, err
	}
	win, err := readWindow(d, true, false)
	if err != nil {
		return nil, err
	}
	o := &convOp{win: win, transposed: transposed}
	if o.group, err = d.Attrs.Int("group", 1); err != nil {
		return nil, err
	}
	if o.group < 1 {
		return nil, fmt.Errorf("group %d: want at least 1", o.group)
	}
	if transposed {
		if o.outPad, err = d.Attrs.Ints("output_padding", nil); err != nil {
			return nil, err
		}
		if o.outShape, err = d.Attrs.Ints("output_shape", nil); err != nil {
			return nil, err
		}
		for _, v := range append(slices.Clone(o.outPad), o.outShape...) {
			if v < 0 || v > maxValueElems {
				return nil, fmt.Errorf("output_padding %v, output_shape %v: want values from 0 to %d", o.outPad, o.outShape, maxValueElems)
			}
		}
	}
	// A constant weight is checked now, so that a bad model fails at load.
	if w := d.Const[1]; w != nil {
		if w.DType != onnx.Float {
			return nil, fmt.Errorf("weight is %v, only FLOAT is supported", w.DType)
		}
		if len(w.Shape) < 3 || len(w.Shape) > 5 {
			return nil, fmt.Errorf("weight shape %v: want 3 to 5 dimensions ([M, C/group, k...], 1 to 3 spatial)", w.Shape)
		}
		if err := o.win.check(len(w.Shape)-2, w.Shape[2:]); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// shapes returns the output shape for input shape x and weight shape w as
// far as they are known, and the geometry when every size is known (ok).
func (o *convOp) shapes(x, w, b []Dim) (out []Dim, k nn.Conv, ok bool, err error) {
	dims := len(x) - 2
	if dims < 1 || dims > 3 {
		return nil, k, false, fmt.Errorf("input shape %s: want 3 to 5 dimensions (N, C and 1 to 3 spatial)", ShapeString(x))
	}
	if len(w) != len(x) {
		return nil, k, false, fmt.Errorf("weight shape %s does not match the input's rank (%s)", ShapeString(w), ShapeString(x))
	}
	var kernel []int
	if ws, known := (&Info{Shape: w[2:]}).Static(); known {
		kernel = ws
	}
	if err := o.win.check(dims, kernel); err != nil {
		return nil, k, false, err
	}
	if kernel == nil {
		kernel = o.win.kernel
	}
	g := o.group
	// C is the input's channels, M the output's.
	cIn, cOut := x[1], Dim{Size: -1}
	if w[0].Known() && w[0].Size%g != 0 {
		return nil, k, false, fmt.Errorf("weight shape %s: %d filters do not split into %d groups", ShapeString(w), w[0].Size, g)
	}
	if o.transposed {
		if w[1].Known() {
			cOut = Dim{Size: w[1].Size * g}
		}
		if cIn.Known() && w[0].Known() && cIn.Size != w[0].Size {
			return nil, k, false, fmt.Errorf("input shape %s has %d channels, the weight %s wants %d", ShapeString(x), cIn.Size, ShapeString(w), w[0].Size)
		}
	} else {
		cOut = w[0]
		if cIn.Known() && w[1].Known() && cIn.Size != w[1].Size*g {
			return nil, k, false, fmt.Errorf("input shape %s has %d channels, the weight %s and group %d want %d", ShapeString(x), cIn.Size, ShapeString(w), g, w[1].Size*g)
		}
	}
	if b != nil {
		if len(b) != 1 || b[0].Known() && cOut.Known() && b[0].Size != cOut.Size {
			return nil, k, false, fmt.Errorf("bias shape %s: want [%s]", ShapeString(b), cOut)
		}
	}
	if o.transposed && o.outPad != nil && len(o.outPad) != dims {
		return nil, k, false, fmt.Errorf("output_padding %v: want %d values", o.outPad, dims)
	}
	if o.transposed && o.outShape != nil && len(o.outShape) != dims && len(o.outShape) != dims+2 {
		return nil, k, false, fmt.Errorf("output_shape %v: want %d (or %d) values", o.outShape, dims, dims+2)
	}
	out = []Dim{x[0], cOut}
	ok = cIn.Known() && cOut.Known() && kernel != nil
	in, sp, pb, pe := make([]int, dims), make([]int, dims), make([]int, dims), make([]int, dims)
	for i := range dims {
		if !x[2+i].Known() || kernel == nil {
			out = append(out, Unknown())
			ok = false
			continue
		}
		in[i] = x[2+i].Size
		if o.transposed {
			sp[i], pb[i], pe[i], err = o.transposedDim(i, dims, in[i], kernel[i])
		} else {
			sp[i], pb[i], pe[i], err = o.win.forward(i, dims, in[i], kernel[i])
		}
		if err != nil {
			return nil, k, false, fmt.Errorf("input shape %s: %w", ShapeString(x), err)
		}
		out = append(out, Dim{Size: sp[i]})
	}
	if !ok {
		return out, k, false, nil
	}
	strides, dil := make([]int, dims), make([]int, dims)
	for i := range dims {
		strides[i], dil[i] = at(o.win.strides, i, 1), at(o.win.dilations, i, 1)
	}
	big, small := in, sp
	if o.transposed {
		big, small = sp, in
	}
	k = nn.Conv{Geom: nn.NewGeom(big, small, kernel, strides, pb, pe, dil), InC: cIn.Size, OutC: cOut.Size, Groups: g, Transposed: o.transposed}
	return out, k, true, nil
}

// transposedDim returns the output size and the padding before and after
// (which crops the full output; negative values extend it with zeros) of
// dimension i of a transposed convolution. The full output has size
// stride·(in-1) + output_padding + dilation·(k-1) + 1; output_shape, or
// auto_pad SAME_* (output in·stride), fixes the size and the padding
// follows as the ONNX specification computes it: the odd unit after the
// output for SAME_UPPER, before it otherwise. (ONNX Runtime places it the
// other way round; the backend suite agrees with the specification.)
func (o *convOp) transposedDim(i, dims, in, k int) (out, pb, pe int, err error) {
	s, d := at(o.win.strides, i, 1), at(o.win.dilations, i, 1)
	full := s*(in-1) + at(o.outPad, i, 0) + d*(k-1) + 1
	target := -1
	switch {
	case o.outShape != nil:
		target = o.outShape[len(o.outShape)-dims+i]
	case o.win.autoPad == "SAME_UPPER" || o.win.autoPad == "SAME_LOWER":
		target = in * s
	}
	if target >= 0 {
		total := full - target
		pb = total - total/2
		if o.win.autoPad == "SAME_UPPER" {
			pb = total / 2
		}
		if total < 0 {
			pb = 0
		}
		out, pe = target, total-pb
	} else {
		if o.win.autoPad == "NOTSET" {
			pb, pe = at(o.win.pads, i, 0), at(o.win.pads, dims+i, 0)
		}
		out = full - pb - pe
	}
	if out < 1 {
		return 0, 0, 0, fmt.Errorf("the transposed convolution's output size %d along spatial dimension %d is below 1", out, i)
	}
	return out, pb, pe, nil
}

func (o *convOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	for i, x := range in {
		if x != nil && x.DType != onnx.Float {
			return nil, fmt.Errorf("input %d is %v, only FLOAT is supported", i, x.DType)
		}
	}
	var b []Dim
	if c := opt(in, 2); c != nil {
		b = c.Shape
	}
	out, _, _, err := o.shapes(in[0].Shape, in[1].Shape, b)
	if err != nil {
		return nil, err
	}
	return []*Info{info(onnx.Float, out)}, nil
}

func (o *convOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	x, w, b := in[0], in[1], opt(in, 2)
	var bias []float32
	var bs []Dim
	for i, t := range []*Tensor{x, w, b} {
		if t != nil && t.DType != onnx.Float {
			return nil, fmt.Errorf("input %d is %v, only FLOAT is supported", i, t.DType)
		}
	}
	if b != nil {
		bias, bs = b.F32, Sizes(b.Shape...)
	}
	shape, k, ok, err := o.shapes(Sizes(x.Shape...), Sizes(w.Shape...), bs)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("input %v and weight %v: no kernel size", x, w)
	}
	out := ints(shape)
	if err := checkValueShape(out); err != nil {
		return nil, err
	}
	y, err := ctx.Alloc(onnx.Float, out...)
	if err != nil {
		return nil, err
	}
	N := x.Shape[0]
	if k.Depthwise() {
		P, n, b := k.SmallN(), N*k.OutC, nn.DepthwiseBlock
		// Parts of whole blocks of nn.DepthwiseBlock planes.
		ctx.Parallel((n+b-1)/b, max(1, grainElems/max(b*P*k.KernelN(), 1)), func(lo, hi int) {
			k.DepthwisePlanes(y.F32, x.F32, w.F32, bias, lo*b, min(n, hi*b))
		})
		return []*Tensor{y}, nil
	}
	// The fused op's packed path with the weights packed for this run
	// (they may change between runs: a trainer's parameters): an
	// implicit im2col, and Forward's bits.
	cw := nn.PackConvWeights(k.InC, k.OutC, k.Groups, k.KernelN(), k.Transposed, w.F32)
	if err := forwardPacked(ctx, &k, cw, y.F32, x.F32, N, &nn.Fused{Bias: bias}); err != nil {
		return nil, fmt.Errorf("input %v and weight %v: %w", x, w, err)
	}
	return []*Tensor{y}, nil
}

// forwardPacked writes y, the convolution k of the N samples of x with
// the prepared weights cw finished by f, by nn's packed path on the
// context's threads with scratch from its pool. It returns an error when
// the scratch would be too large or exceeds the run's memory bound.
func forwardPacked(ctx *Ctx, k *nn.Conv, cw *nn.ConvWeights, y, x []float32, N int, f *nn.Fused) error {
	plan, threads := k.Plan(), ctx.Threads()
	n := plan.Scratch(cw, N, threads)
	if n > maxValueElems/2 {
		return fmt.Errorf("the convolution needs %d elements of scratch, too many", n)
	}
	scratch, err := ctx.scratch(n)
	if err != nil {
		return err
	}
	defer ctx.release(scratch)
	plan.ForwardPacked(y, x, cw, f, 0, N, threads, scratch)
	return nil
}

// releaseScratch gives a buffer an op allocated (with Alloc) for its own
// use back to the run's pool, and no longer counts it as in use.
func releaseScratch(ctx *Ctx, t *Tensor) {
	ctx.live.Add(-t.bytes())
	ctx.arena.put(t)
}
