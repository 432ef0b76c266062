package graph

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// The ops that compute or change shapes without moving elements:
// Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout (inference),
// Shape, Constant, ConstantOfShape and Range. Their outputs are views of
// their input when the executor allows it (Ctx.Reusable), else copies;
// the values they compute from shapes carry Info.Elems, so that a
// Reshape fed by Shape → Gather → Unsqueeze → Concat has a known output
// shape at load, symbolic batch included.

func init() {
	Register("", "Reshape", func(d *NodeDef) (Op, error) {
		if d.Opset < 5 {
			return nil, fmt.Errorf("opset %d (shape as an attribute) is not supported", d.Opset)
		}
		if err := checkNode(d, 2, 2, 1, 1); err != nil {
			return nil, err
		}
		allowZero := 0
		if d.Opset >= 14 {
			var err error
			if allowZero, err = d.Attrs.Int("allowzero", 0); err != nil {
				return nil, err
			}
		}
		return &reshapeOp{allowZero: allowZero != 0}, nil
	})
	Register("", "Flatten", func(d *NodeDef) (Op, error) {
		if err := checkNode(d, 1, 1, 1, 1); err != nil {
			return nil, err
		}
		axis, err := d.Attrs.Int("axis", 1)
		return &flattenOp{axis: axis}, err
	})
	Register("", "Squeeze", func(d *NodeDef) (Op, error) {
		o := &squeezeOp{}
		return o, o.build(d)
	})
	Register("", "Unsqueeze", func(d *NodeDef) (Op, error) {
		o := &squeezeOp{unsqueeze: true}
		return o, o.build(d)
	})
	Register("", "Identity", func(d *NodeDef) (Op, error) {
		return identityOp{}, checkNode(d, 1, 1, 1, 1)
	})
	Register("", "Dropout", newDropout)
	Register("", "Shape", func(d *NodeDef) (Op, error) {
		if err := checkNode(d, 1, 1, 1, 1); err != nil {
			return nil, err
		}
		o := &shapeOp{end: math.MaxInt}
		if d.Opset >= 15 {
			var err error
			if o.start, err = d.Attrs.Int("start", 0); err != nil {
				return nil, err
			}
			if o.end, err = d.Attrs.Int("end", math.MaxInt); err != nil {
				return nil, err
			}
		}
		return o, nil
	})
	Register("", "Constant", newConstant)
	Register("", "ConstantOfShape", newConstantOfShape)
	Register("", "Range", func(d *NodeDef) (Op, error) {
		return rangeOp{}, checkNode(d, 3, 3, 1, 1)
	})
}

// reshapeOp is Reshape: 0 in the shape copies the input's dimension
// (unless allowzero, where it is a 0), -1 is inferred from the element
// count.
type reshapeOp struct{ allowZero bool }

func (o *reshapeOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	x, s := in[0], in[1]
	if s.DType != onnx.Int64 || s.Rank() != 1 {
		return nil, fmt.Errorf("shape must be a 1-D INT64 tensor, is %v", s)
	}
	if !s.Shape[0].Known() {
		return nil, fmt.Errorf("the length of the shape input is not known at load (the output rank would not be)")
	}
	target := elemsOf(s)
	if target == nil {
		target = make([]Elem, s.Shape[0].Size)
	}
	shape, err := reshapeDims(x.Shape, target, o.allowZero)
	if err != nil {
		return nil, err
	}
	return []*Info{withElems(info(x.DType, shape), elemsOf(x))}, nil
}

func (o *reshapeOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	target, err := intsInput(in[1], "shape")
	if err != nil {
		return nil, err
	}
	shape, err := reshapeDims(Sizes(in[0].Shape...), knownElems(target), o.allowZero)
	if err != nil {
		return nil, err
	}
	return one(reshaped(ctx, in[0], 0, ints(shape)))
}

// one wraps a single output.
func one(t *Tensor, err error) ([]*Tensor, error) {
	if err != nil {
		return nil, err
	}
	return []*Tensor{t}, nil
}

// reshapeDims resolves Reshape's target shape against the input shape as
// far as it is known.
func reshapeDims(in []Dim, target []Elem, allowZero bool) ([]Dim, error) {
	out := make([]Dim, len(target))
	infer, zero := -1, false
	for i, t := range target {
		switch {
		case !t.Known:
			out[i] = t.dim()
		case t.Value == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %s: the 0 at index %d copies a dimension the input %s does not have", elemsString(target), i, ShapeString(in))
			}
			out[i] = in[i]
		case t.Value == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %s has more than one -1", elemsString(target))
			}
			infer = i
		case t.Value < 0:
			return nil, fmt.Errorf("shape %s has the invalid dimension %d", elemsString(target), t.Value)
		default:
			zero = zero || t.Value == 0
			out[i] = Dim{Size: t.Value}
		}
	}
	if infer < 0 {
		a, b := dimsProduct(in), dimsProduct(out)
		if a.Known() && b.Known() && a.Size != b.Size {
			return nil, fmt.Errorf("cannot reshape %s (%d elements) to %s", ShapeString(in), a.Size, elemsString(target))
		}
		return out, nil
	}
	if zero {
		return nil, fmt.Errorf("shape %s has both 0 (with allowzero) and -1", elemsString(target))
	}
	others := slices.Delete(slices.Clone(out), infer, infer+1)
	d, err := quotient(in, others)
	if err != nil {
		return nil, fmt.Errorf("cannot reshape %s to %s: %v", ShapeString(in), elemsString(target), err)
	}
	out[infer] = d
	return out, nil
}

// quotient returns what is known of product(num) / product(den): symbolic
// factors cancel by name; what remains is a known size or a symbolic
// product.
func quotient(num, den []Dim) (Dim, error) {
	kn, sn, un := splitDims(num)
	kd, sd, ud := splitDims(den)
	if un || ud {
		return Unknown(), nil
	}
	for _, s := range sd {
		i := slices.Index(sn, s)
		if i < 0 {
			return Unknown(), nil
		}
		sn = slices.Delete(sn, i, i+1)
	}
	switch {
	case kd == 0:
		return Dim{}, fmt.Errorf("the other dimensions hold 0 elements, so -1 is ambiguous")
	case len(sn) == 0 && kn%kd != 0:
		return Dim{}, fmt.Errorf("%d elements do not divide into rows of %d", kn, kd)
	case kn%kd != 0:
		return Unknown(), nil
	}
	return product(kn/kd, sn), nil
}

// flattenOp is Flatten: the dimensions before axis become the rows, the
// others the columns of a 2-D output.
type flattenOp struct{ axis int }

func (o *flattenOp) outDims(shape []Dim) ([]Dim, error) {
	a := o.axis
	if a < 0 {
		a += len(shape)
	}
	if a < 0 || a > len(shape) {
		return nil, fmt.Errorf("axis %d is out of range for rank %d", o.axis, len(shape))
	}
	return []Dim{dimsProduct(shape[:a]), dimsProduct(shape[a:])}, nil
}

func (o *flattenOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	shape, err := o.outDims(in[0].Shape)
	if err != nil {
		return nil, err
	}
	return []*Info{info(in[0].DType, shape)}, nil
}

func (o *flattenOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	shape, err := o.outDims(Sizes(in[0].Shape...))
	if err != nil {
		return nil, err
	}
	return one(reshaped(ctx, in[0], 0, []int{shape[0].Size, shape[1].Size}))
}

// squeezeOp is Squeeze (remove dimensions of size 1) or Unsqueeze
// (insert them). The axes are an attribute before opset 13 and an input
// since, which must be known at load (it decides the output rank).
type squeezeOp struct {
	unsqueeze bool
	attr      bool  // axes is an attribute
	axes      []int // the attribute (nil: absent)
}

func (o *squeezeOp) build(d *NodeDef) error {
	if d.Opset < 13 {
		if err := checkNode(d, 1, 1, 1, 1); err != nil {
			return err
		}
		o.attr = true
		var err error
		o.axes, err = d.Attrs.Ints("axes", nil)
		if err == nil && o.unsqueeze && o.axes == nil {
			err = fmt.Errorf("attribute axes is required")
		}
		return err
	}
	if o.unsqueeze {
		return checkNode(d, 2, 2, 1, 1)
	}
	return checkNode(d, 1, 2, 1, 1)
}

// axesOf returns the axes given to the node (nil when absent), from the
// attribute or the input; ok is false when the input is not known.
func (o *squeezeOp) axesOf(axes *Info) (ax []int, ok bool) {
	if o.attr || axes == nil {
		return o.axes, true
	}
	if ax, ok = constInts(axes); ok && ax == nil {
		ax = []int{}
	}
	return ax, ok
}

// outDims returns the output shape for the given axes.
func (o *squeezeOp) outDims(shape []Dim, axes []int) ([]Dim, error) {
	if o.unsqueeze {
		r := len(shape) + len(axes)
		ax, err := normAxes(axes, r)
		if err != nil {
			return nil, err
		}
		out := make([]Dim, r)
		for _, a := range ax {
			out[a] = Dim{Size: 1}
		}
		j := 0
		for i := range out {
			if !slices.Contains(ax, i) {
				out[i] = shape[j]
				j++
			}
		}
		return out, nil
	}
	drop := make([]bool, len(shape))
	if axes == nil {
		for i, d := range shape {
			if !d.Known() {
				return nil, fmt.Errorf("without axes, every dimension must be known at load; the input is %s", ShapeString(shape))
			}
			drop[i] = d.Size == 1
		}
	} else {
		ax, err := normAxes(axes, len(shape))
		if err != nil {
			return nil, err
		}
		for _, a := range ax {
			if shape[a].Known() && shape[a].Size != 1 {
				return nil, fmt.Errorf("cannot squeeze axis %d of shape %s: its size is not 1", a, ShapeString(shape))
			}
			drop[a] = true
		}
	}
	var out []Dim
	for i, d := range shape {
		if !drop[i] {
			out = append(out, d)
		}
	}
	return out, nil
}

func (o *squeezeOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	axes, ok := o.axesOf(opt(in, 1))
	if !ok {
		// The values are not known, their number is: so is the rank.
		n, err := countOf(in[1], "axes")
		if err != nil {
			return nil, err
		}
		r := in[0].Rank() - n
		if o.unsqueeze {
			r = in[0].Rank() + n
		}
		if r < 0 {
			return nil, fmt.Errorf("cannot squeeze %d axes of a rank-%d input", n, in[0].Rank())
		}
		return []*Info{info(in[0].DType, unknownDims(r))}, nil
	}
	shape, err := o.outDims(in[0].Shape, axes)
	if err != nil {
		return nil, err
	}
	return []*Info{withElems(info(in[0].DType, shape), elemsOf(in[0]))}, nil
}

func (o *squeezeOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	axes, err := axesInput(opt(in, 1))
	if err != nil {
		return nil, err
	}
	ax, _ := o.axesOf(axes)
	shape, err := o.outDims(Sizes(in[0].Shape...), ax)
	if err != nil {
		return nil, err
	}
	return one(reshaped(ctx, in[0], 0, ints(shape)))
}

// identityOp is Identity.
type identityOp struct{}

func (identityOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	return []*Info{withElems(info(in[0].DType, slices.Clone(in[0].Shape)), elemsOf(in[0]))}, nil
}

func (identityOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	return one(reshaped(ctx, in[0], 0, slices.Clone(in[0].Shape)))
}

// dropoutOp is Dropout at inference: the input unchanged and, when the
// node asks for it, a mask of all true (BOOL since opset 10, of the
// input's type before). A training_mode input that is true is an error
// unless the ratio is 0 (random dropping is not supported).
type dropoutOp struct {
	mask     bool
	maskType onnx.DataType
}

func newDropout(d *NodeDef) (Op, error) {
	if d.Opset < 7 {
		return nil, fmt.Errorf("opset %d (is_test) is not supported", d.Opset)
	}
	if d.Opset < 12 {
		if err := checkNode(d, 1, 1, 1, 2); err != nil {
			return nil, err
		}
		if _, err := d.Attrs.Float("ratio", 0.5); err != nil {
			return nil, err
		}
	} else {
		if err := checkNode(d, 1, 3, 1, 2); err != nil {
			return nil, err
		}
		if _, err := d.Attrs.Int("seed", 0); err != nil {
			return nil, err
		}
	}
	o := &dropoutOp{mask: d.NumOutputs == 2, maskType: onnx.Bool}
	if d.Opset < 10 {
		o.maskType = 0 // the input's type
	}
	return o, nil
}

func (o *dropoutOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	if err := oneOf(in[0].DType, floatTypes...); err != nil {
		return nil, err
	}
	if r := opt(in, 1); r != nil && (!slices.Contains(floatTypes, r.DType) || r.Rank() != 0) {
		return nil, fmt.Errorf("ratio must be a float scalar, is %v", r)
	}
	if t := opt(in, 2); t != nil && (t.DType != onnx.Bool || t.Rank() != 0) {
		return nil, fmt.Errorf("training_mode must be a BOOL scalar, is %v", t)
	}
	out := []*Info{info(in[0].DType, slices.Clone(in[0].Shape))}
	if o.mask {
		out = append(out, info(o.maskOf(in[0].DType), slices.Clone(in[0].Shape)))
	}
	return out, nil
}

func (o *dropoutOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	if t := opt(in, 2); t != nil && t.DType == onnx.Bool && t.Len() == 1 && t.U8[0] != 0 {
		if r := opt(in, 1); r == nil || !zeroRatio(r) {
			return nil, fmt.Errorf("training mode with a non-zero ratio (random dropout) is not supported")
		}
	}
	y, err := reshaped(ctx, in[0], 0, slices.Clone(in[0].Shape))
	if err != nil {
		return nil, err
	}
	out := []*Tensor{y}
	if o.mask {
		m, err := ctx.Alloc(o.maskOf(in[0].DType), in[0].Shape...)
		if err != nil {
			return nil, err
		}
		fill(m.U8, 1)
		fill(m.F32, 1)
		fill(m.F64, 1)
		out = append(out, m)
	}
	return out, nil
}

// maskOf returns the mask's element type for input type t.
func (o *dropoutOp) maskOf(t onnx.DataType) onnx.DataType {
	if o.maskType == 0 {
		return t
	}
	return o.maskType
}

func zeroRatio(r *Tensor) bool {
	switch {
	case len(r.F32) == 1:
		return r.F32[0] == 0
	case len(r.F64) == 1:
		return r.F64[0] == 0
	}
	return false
}

// shapeOp is Shape: the input's dimensions [start, end) (opset 15; both
// may be negative, and are clamped to the rank) as INT64.
type shapeOp struct {
	start, end int
	// perm, when set, permutes the input's dimensions before they are
	// cut: the Shape of a Transpose's output that a pass (transposed-reads)
	// removed, read from the Transpose's input.
	perm []int
}

// dims returns the input's dimensions as the op sees them: permuted by
// perm when it is set and fits the rank (else nil).
func dims[D any](o *shapeOp, shape []D) []D {
	switch {
	case o.perm == nil:
		return shape
	case len(o.perm) != len(shape):
		return nil
	}
	return permuted(o.perm, shape)
}

// bounds returns the clamped [start, end) for rank r.
func (o *shapeOp) bounds(r int) (int, int) {
	clamp := func(i int) int {
		if i < 0 {
			i += r
		}
		return min(max(i, 0), r)
	}
	s, e := clamp(o.start), clamp(o.end)
	return s, max(s, e)
}

func (o *shapeOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	shape := dims(o, in[0].Shape)
	if shape == nil {
		return nil, fmt.Errorf("rank %d input, a permutation of %d axes", in[0].Rank(), len(o.perm))
	}
	s, e := o.bounds(len(shape))
	out := info(onnx.Int64, Sizes(e-s))
	out.Elems = make([]Elem, e-s)
	for i, d := range shape[s:e] {
		out.Elems[i] = elemOfDim(d)
	}
	return []*Info{out}, nil
}

func (o *shapeOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	shape := dims(o, in[0].Shape)
	if shape == nil {
		return nil, fmt.Errorf("rank %d input, a permutation of %d axes", len(in[0].Shape), len(o.perm))
	}
	s, e := o.bounds(len(shape))
	out, err := ctx.Alloc(onnx.Int64, e-s)
	if err != nil {
		return nil, err
	}
	for i, d := range shape[s:e] {
		out.I64[i] = int64(d)
	}
	return []*Tensor{out}, nil
}

// constantOp is Constant: a value given as an attribute (value, or
// value_float(s) / value_int(s) since opset 12). It implements Valuer.
type constantOp struct{ value *Tensor }

func newConstant(d *NodeDef) (Op, error) {
	if err := checkNode(d, 0, 0, 1, 1); err != nil {
		return nil, err
	}
	for _, name := range []string{"sparse_value", "value_string", "value_strings"} {
		if d.Attrs.Has(name) {
			return nil, fmt.Errorf("attribute %s is not supported", name)
		}
	}
	var vals []*Tensor
	add := func(t *Tensor, err error) error {
		if err == nil && t != nil {
			vals = append(vals, t)
		}
		return err
	}
	if err := add(d.Attrs.Tensor("value")); err != nil {
		return nil, err
	}
	if d.Attrs.Has("value_float") {
		v, err := d.Attrs.Float("value_float", 0)
		if err != nil {
			return nil, err
		}
		if err := add(Floats([]float32{v})); err != nil {
			return nil, err
		}
	}
	if d.Attrs.Has("value_floats") {
		v, err := d.Attrs.Floats("value_floats", nil)
		if err != nil {
			return nil, err
		}
		if err := add(Floats(v, len(v))); err != nil {
			return nil, err
		}
	}
	if d.Attrs.Has("value_int") {
		v, err := d.Attrs.Int("value_int", 0)
		if err != nil {
			return nil, err
		}
		if err := add(Int64s([]int64{int64(v)})); err != nil {
			return nil, err
		}
	}
	if d.Attrs.Has("value_ints") {
		v, err := d.Attrs.Ints("value_ints", nil)
		if err != nil {
			return nil, err
		}
		iv := make([]int64, len(v))
		for i, x := range v {
			iv[i] = int64(x)
		}
		if err := add(Int64s(iv, len(iv))); err != nil {
			return nil, err
		}
	}
	if len(vals) != 1 {
		return nil, fmt.Errorf("exactly one value attribute is required, the node has %d", len(vals))
	}
	if err := vals[0].Validate(); err != nil {
		return nil, err
	}
	return &constantOp{value: vals[0]}, nil
}

// Value returns the constant.
func (o *constantOp) Value() *Tensor { return o.value }

func (o *constantOp) Infer([]*Info) ([]*Info, error) {
	return []*Info{info(o.value.DType, Sizes(o.value.Shape...))}, nil
}

func (o *constantOp) Run(*Ctx, []*Tensor) ([]*Tensor, error) {
	return []*Tensor{o.value.Clone()}, nil
}

// constantOfShapeOp is ConstantOfShape: a tensor of the given shape
// filled with one value (FLOAT 0 by default).
type constantOfShapeOp struct{ value *Tensor }

func newConstantOfShape(d *NodeDef) (Op, error) {
	if err := checkNode(d, 1, 1, 1, 1); err != nil {
		return nil, err
	}
	v, err := d.Attrs.Tensor("value")
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = &Tensor{DType: onnx.Float, Shape: []int{1}, F32: []float32{0}}
	}
	if v.Len() != 1 {
		return nil, fmt.Errorf("value must hold one element, has shape %v", v.Shape)
	}
	return &constantOfShapeOp{value: v}, nil
}

func (o *constantOfShapeOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	shape, err := shapeInput(in[0])
	if err != nil {
		return nil, err
	}
	out := info(o.value.DType, shape)
	if len(shape) == 1 && shape[0].Known() && shape[0].Size <= maxShapeElems {
		if v, err := o.value.Ints(); err == nil {
			elems := make([]Elem, shape[0].Size)
			for i := range elems {
				elems[i] = known(v[0])
			}
			withElems(out, elems)
		}
	}
	return []*Info{out}, nil
}

func (o *constantOfShapeOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	shape, err := intsInput(in[0], "shape")
	if err != nil {
		return nil, err
	}
	if err := checkValueShape(shape); err != nil {
		return nil, err
	}
	out, err := ctx.Alloc(o.value.DType, shape...)
	if err != nil {
		return nil, err
	}
	stridedCopy(ctx, out, contiguous(shape), o.value, region{strides: make([]int, len(shape))}, shape)
	return []*Tensor{out}, nil
}

// rangeOp is Range: start, start+delta, ... up to (not including) limit,
// max(ceil((limit-start)/delta), 0) elements.
type rangeOp struct{}

var rangeTypes = []onnx.DataType{onnx.Float, onnx.Double, onnx.Int64, onnx.Int32}

func (rangeOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 3); err != nil {
		return nil, err
	}
	t := in[0].DType
	if err := oneOf(t, rangeTypes...); err != nil {
		return nil, err
	}
	for i, x := range in {
		if err := sameType(t, x); err != nil {
			return nil, err
		}
		if n := dimsProduct(x.Shape); x.Rank() > 1 || (n.Known() && n.Size != 1) {
			return nil, fmt.Errorf("%s must be a scalar, is %v", [3]string{"start", "limit", "delta"}[i], x)
		}
	}
	n := Unknown()
	s, l, d := elemsOf(in[0]), elemsOf(in[1]), elemsOf(in[2])
	// Range(0, N, 1), position ids: N elements, symbolic or not.
	if s != nil && l != nil && d != nil && s[0].Known && s[0].Value == 0 && d[0].Known && d[0].Value == 1 {
		n = l[0].dim()
		if l[0].Known && l[0].Value < 0 {
			n = Dim{Size: 0}
		}
	}
	return []*Info{info(t, []Dim{n})}, nil
}

func (rangeOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 3); err != nil {
		return nil, err
	}
	t := in[0].DType
	if err := oneOf(t, rangeTypes...); err != nil {
		return nil, err
	}
	for i, x := range in {
		if x.DType != t || x.Len() != 1 {
			return nil, fmt.Errorf("%s must be a scalar %v, is %v", [3]string{"start", "limit", "delta"}[i], t, x)
		}
	}
	if isInt(t) {
		v := make([]int64, 3)
		for i, x := range in {
			n, _ := x.Ints()
			v[i] = int64(n[0])
		}
		start, limit, delta := v[0], v[1], v[2]
		if delta == 0 {
			return nil, fmt.Errorf("delta is 0")
		}
		// ceil((limit-start)/delta) without overflow: in float64 the
		// distance is exact enough to bound the count first.
		f := math.Ceil((float64(limit) - float64(start)) / float64(delta))
		if f > maxValueElems {
			return nil, fmt.Errorf("range(%d, %d, %d) has more than %d elements", start, limit, delta, maxValueElems)
		}
		n := max(int(f), 0)
		out, err := ctx.Alloc(t, n)
		if err != nil {
			return nil, err
		}
		for i := range n {
			x := start + int64(i)*delta
			if t == onnx.Int64 {
				out.I64[i] = x
			} else {
				out.I32[i] = int32(x)
			}
		}
		return []*Tensor{out}, nil
	}
	v := make([]float64, 3)
	for i, x := range in {
		f, _ := floatsOf(x)
		v[i] = f[0]
	}
	start, limit, delta := v[0], v[1], v[2]
	if t == onnx.Float {
		// Compute as float32 does (numpy.arange on float32 scalars).
		start, limit, delta = float64(float32(start)), float64(float32(limit)), float64(float32(delta))
	}
	f := math.Ceil((limit - start) / delta)
	if delta == 0 || f != f || f > maxValueElems {
		return nil, fmt.Errorf("range(%g, %g, %g) does not have a valid element count", start, limit, delta)
	}
	n := max(int(f), 0)
	out, err := ctx.Alloc(t, n)
	if err != nil {
		return nil, err
	}
	for i := range n {
		x := start + float64(i)*delta
		if t == onnx.Float {
			out.F32[i] = float32(x)
		} else {
			out.F64[i] = x
		}
	}
	return []*Tensor{out}, nil
}

// Helpers of the shape ops, also used by the other families.

// normAxis maps axis (negative counts from the end) into [0, rank).
func normAxis(axis, rank int) (int, error) {
	a, err := tensor.NormalizeAxis(axis, rank)
	if err != nil {
		return 0, fmt.Errorf("axis %d is out of range for rank %d", axis, rank)
	}
	return a, nil
}

// normAxes normalizes a list of axes for rank and rejects duplicates.
func normAxes(axes []int, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := make([]bool, rank)
	for i, ax := range axes {
		a, err := normAxis(ax, rank)
		if err != nil {
			return nil, err
		}
		if seen[a] {
			return nil, fmt.Errorf("axes %v name axis %d twice", axes, a)
		}
		seen[a] = true
		out[i] = a
	}
	return out, nil
}

// dim returns the dimension whose size is e: unknown unless e is known
// and not negative, or symbolic.
func (e Elem) dim() Dim {
	switch {
	case e.Known && e.Value >= 0:
		return Dim{Size: e.Value}
	case !e.Known && e.Param != "":
		return Dim{Size: -1, Param: e.Param}
	}
	return Unknown()
}

// unknownDims returns n unknown dimensions.
func unknownDims(n int) []Dim {
	out := make([]Dim, n)
	for i := range out {
		out[i] = Unknown()
	}
	return out
}

// shapeInput returns the shape that a 1-D INT64 input of known length
// (Expand's, ConstantOfShape's) gives as far as its elements are known,
// and an error for a known negative dimension.
func shapeInput(s *Info) ([]Dim, error) {
	if s.DType != onnx.Int64 || s.Rank() != 1 || !s.Shape[0].Known() {
		return nil, fmt.Errorf("shape must be a 1-D INT64 tensor of known length, is %v", s)
	}
	shape := unknownDims(s.Shape[0].Size)
	for i, v := range elemsOf(s) {
		if v.Known && v.Value < 0 {
			return nil, fmt.Errorf("shape %s has a negative dimension", elemsString(elemsOf(s)))
		}
		shape[i] = v.dim()
	}
	return shape, nil
}

// axesInput checks an axes input at run time and returns its Info (nil
// when absent), for the code that reads axes at load and at run time
// alike.
func axesInput(a *Tensor) (*Info, error) {
	if a == nil {
		return nil, nil
	}
	if _, err := intsInput(a, "axes"); err != nil {
		return nil, err
	}
	return InfoOf(a), nil
}

// countOf returns the length of a 1-D input (axes ...), which must be
// known at load.
func countOf(in *Info, name string) (int, error) {
	if in.Rank() != 1 || !in.Shape[0].Known() {
		return 0, fmt.Errorf("%s must be a 1-D tensor of known length, is %v", name, in)
	}
	return in.Shape[0].Size, nil
}

// knownElems returns the Elems of known values.
func knownElems(v []int) []Elem {
	out := make([]Elem, len(v))
	for i, x := range v {
		out[i] = known(x)
	}
	return out
}

// elemsString formats elems like a shape: [N -1 ?].
func elemsString(elems []Elem) string {
	parts := make([]string, len(elems))
	for i, e := range elems {
		switch {
		case e.Known:
			parts[i] = strconv.Itoa(e.Value)
		case e.Param != "":
			parts[i] = e.Param
		default:
			parts[i] = "?"
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// ints returns the sizes of a shape whose dims are all known.
func ints(shape []Dim) []int {
	out := make([]int, len(shape))
	for i, d := range shape {
		out[i] = d.Size
	}
	return out
}

// constInts returns the integer values of an input known at load: its
// constant value, or its Elems when every element is known.
func constInts(in *Info) ([]int, bool) {
	if in == nil {
		return nil, false
	}
	if in.Const != nil {
		v, err := in.Const.Ints()
		return v, err == nil
	}
	if in.Elems == nil {
		return nil, false
	}
	out := make([]int, len(in.Elems))
	for i, e := range in.Elems {
		if !e.Known {
			return nil, false
		}
		out[i] = e.Value
	}
	return out, true
}

// elemOfDim returns what a dimension says of an element equal to its size.
func elemOfDim(d Dim) Elem {
	if d.Known() {
		return known(d.Size)
	}
	return Elem{Param: d.Param}
}

// intsInput reads an integer input of rank 0 or 1 (Reshape's shape,
// Slice's starts ...), naming it in errors.
func intsInput(x *Tensor, name string) ([]int, error) {
	if len(x.Shape) > 1 {
		return nil, fmt.Errorf("%s must have rank 0 or 1, has shape %v", name, x.Shape)
	}
	v, err := x.Ints()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return v, nil
}

// checkValueShape returns an error unless shape is a valid shape of at
// most maxValueElems elements.
func checkValueShape(shape []int) error {
	n, err := tensor.NumelOf(shape)
	if err != nil {
		return err
	}
	if n > maxValueElems {
		return fmt.Errorf("shape %v has %d elements, more than the %d an op may create", shape, n, maxValueElems)
	}
	return nil
}

// reshaped returns x's data under a new shape: a view when input i may be
// reused, else a copy.
func reshaped(ctx *Ctx, x *Tensor, i int, shape []int) (*Tensor, error) {
	if ctx.Reusable(i) {
		return view(x, shape), nil
	}
	out, err := ctx.Alloc(x.DType, shape...)
	if err != nil {
		return nil, err
	}
	copyData(out, x)
	return out, nil
}

// copyData copies src's elements into dst, of the same type and length.
func copyData(dst, src *Tensor) {
	d, s := wordsOf(dst), wordsOf(src)
	copy(d.b1, s.b1)
	copy(d.b4, s.b4)
	copy(d.b8, s.b8)
}
