package graph

import (
	"fmt"
	"math"
	"slices"

	"github.com/tensorquant/tensorquant/internal/vecmath"
	"github.com/tensorquant/tensorquant/onnx"
)

// Reductions and normalisations: ReduceMean, ReduceSum, ReduceMax,
// Softmax and LayerNormalization. Float sums accumulate in float64, but
// for the FLOAT rows of Softmax (over the last axis) and
// LayerNormalization, which are internal/vecmath's row kernels (float32,
// summed in 16 lanes).

func init() {
	reduce := func(name string, kind reduceKind, types []onnx.DataType, inputSince int) {
		Register("", name, func(d *NodeDef) (Op, error) {
			o := &reduceOp{kind: kind, types: types}
			keep, err := d.Attrs.Int("keepdims", 1)
			if err != nil {
				return nil, err
			}
			o.keepDims = keep != 0
			if d.Opset >= inputSince {
				noop, err := d.Attrs.Int("noop_with_empty_axes", 0)
				o.noop = noop != 0
				if err == nil {
					err = checkNode(d, 1, 2, 1, 1)
				}
				return o, err
			}
			o.attr = true
			if o.axes, err = d.Attrs.Ints("axes", nil); err != nil {
				return nil, err
			}
			return o, checkNode(d, 1, 1, 1, 1)
		})
	}
	reduce("ReduceMean", reduceMean, floatTypes, 18)
	reduce("ReduceSum", reduceSum, []onnx.DataType{onnx.Float, onnx.Double, onnx.Int64, onnx.Int32}, 13)
	reduce("ReduceMax", reduceMax, numericTypes, 18)
	Register("", "Softmax", func(d *NodeDef) (Op, error) {
		if err := checkNode(d, 1, 1, 1, 1); err != nil {
			return nil, err
		}
		o := &softmaxOp{legacy: d.Opset < 13}
		def := -1
		if o.legacy {
			def = 1
		}
		var err error
		o.axis, err = d.Attrs.Int("axis", def)
		return o, err
	})
	Register("", "LayerNormalization", newLayerNorm)
}

type reduceKind int

const (
	reduceMean reduceKind = iota
	reduceSum
	reduceMax
)

// reduceOp is ReduceMean, ReduceSum or ReduceMax over axes (an attribute
// before opset 18, 13 for ReduceSum; an input since): every axis when
// none are given, unless noop_with_empty_axes makes that the identity.
// An empty reduction gives NaN (mean), 0 (sum) or the lowest value (max).
type reduceOp struct {
	kind     reduceKind
	types    []onnx.DataType
	keepDims bool
	noop     bool
	attr     bool
	axes     []int
}

// reduced returns, for rank r, which axes are reduced (nil: none, the
// identity), with ok false when the axes input is not known.
func (o *reduceOp) reduced(r int, axes *Info) (red []bool, ok bool, err error) {
	ax := o.axes
	if !o.attr && axes != nil {
		if ax, ok = constInts(axes); !ok {
			return nil, false, nil
		}
	}
	red = make([]bool, r)
	if len(ax) == 0 {
		if o.noop {
			return nil, true, nil
		}
		for i := range red {
			red[i] = true
		}
		return red, true, nil
	}
	n, err := normAxes(ax, r)
	if err != nil {
		return nil, false, err
	}
	for _, a := range n {
		red[a] = true
	}
	return red, true, nil
}

// outDims returns the output shape.
func (o *reduceOp) outDims(shape []Dim, red []bool) []Dim {
	if red == nil {
		return slices.Clone(shape)
	}
	var out []Dim
	for i, d := range shape {
		switch {
		case !red[i]:
			out = append(out, d)
		case o.keepDims:
			out = append(out, Dim{Size: 1})
		}
	}
	return out
}

func (o *reduceOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if err := oneOf(x.DType, o.types...); err != nil {
		return nil, err
	}
	red, ok, err := o.reduced(x.Rank(), opt(in, 1))
	if err != nil {
		return nil, err
	}
	if !ok {
		// The axes are not known, their number is: so is the rank.
		r := x.Rank()
		if !o.keepDims {
			n, err := countOf(in[1], "axes")
			if err != nil {
				return nil, err
			}
			if n == 0 || n > r {
				return nil, fmt.Errorf("%d axes for a rank-%d input", n, r)
			}
			r -= n
		}
		return []*Info{info(x.DType, unknownDims(r))}, nil
	}
	return []*Info{info(x.DType, o.outDims(x.Shape, red))}, nil
}

// reducedAt returns which axes of x a run reduces, given the axes input
// (nil: absent).
func (o *reduceOp) reducedAt(x, axes *Tensor) ([]bool, error) {
	a, err := axesInput(axes)
	if err != nil {
		return nil, err
	}
	red, _, err := o.reduced(len(x.Shape), a)
	return red, err
}

func (o *reduceOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if err := oneOf(x.DType, o.types...); err != nil {
		return nil, err
	}
	red, err := o.reducedAt(x, opt(in, 1))
	if err != nil {
		return nil, err
	}
	shape := ints(o.outDims(Sizes(x.Shape...), red))
	if !slices.Contains(red, true) {
		// No axes (noop), or a scalar: every value is its own reduction.
		return one(reshaped(ctx, x, 0, shape))
	}
	out, err := ctx.Alloc(x.DType, shape...)
	if err != nil {
		return nil, err
	}
	// Reduce [outer, r, inner]: the reduced axes must be one block; if
	// they are not, the kept axes are first moved in front of them.
	src, dims := x, x.Shape
	lo, hi := slices.Index(red, true), 0
	for i, r := range red {
		if r {
			hi = i
		}
	}
	if slices.Contains(red[lo:hi+1], false) {
		var perm []int
		for _, want := range []bool{false, true} {
			for i, r := range red {
				if r == want {
					perm = append(perm, i)
				}
			}
		}
		lo, hi = slices.Index(perm, slices.Index(red, true)), len(perm)-1
		res, err := (&transposeOp{perm: perm}).Run(ctx, []*Tensor{x})
		if err != nil {
			return nil, err
		}
		src, dims = res[0], res[0].Shape
		defer ctx.arena.put(src)
	}
	outer, r, inner := prod(dims[:lo]), prod(dims[lo:hi+1]), prod(dims[hi+1:])
	k := o.kind
	switch x.DType {
	case onnx.Float:
		reduceRun[float32, float64](ctx, k, out.F32, src.F32, outer, r, inner)
	case onnx.Double:
		reduceRun[float64, float64](ctx, k, out.F64, src.F64, outer, r, inner)
	case onnx.Int64:
		reduceRun[int64, int64](ctx, k, out.I64, src.I64, outer, r, inner)
	case onnx.Int32:
		reduceRun[int32, int64](ctx, k, out.I32, src.I32, outer, r, inner)
	case onnx.Int8:
		reduceRun[int8, int64](ctx, k, out.I8, src.I8, outer, r, inner)
	default:
		reduceRun[uint8, int64](ctx, k, out.U8, src.U8, outer, r, inner)
	}
	return []*Tensor{out}, nil
}

// reduceRun reduces src [outer, r, inner] into dst [outer, inner], in
// parallel over outer; sums accumulate in A (float64 for floats, int64
// for integers, wrapping).
func reduceRun[T number, A float64 | int64](ctx *Ctx, kind reduceKind, dst, src []T, outer, r, inner int) {
	ctx.Parallel(outer, max(1, grainElems/max(r*inner, 1)), func(lo, hi int) {
		var acc []A
		if kind != reduceMax && inner > 1 {
			acc = make([]A, inner)
		}
		for o := lo; o < hi; o++ {
			d, s := dst[o*inner:(o+1)*inner], src[o*r*inner:(o+1)*r*inner]
			if kind == reduceMax {
				maxRows(d, s, r)
			} else {
				sumRows(d, s, r, acc, kind == reduceMean)
			}
		}
	})
}

// sumRows sets d[j] to the sum (or mean) of the r rows of s (each len(d)
// long) at j, accumulating in acc (len(d), or nil when len(d) is 1).
func sumRows[T number, A float64 | int64](d, s []T, r int, acc []A, mean bool) {
	finish := func(v A) T {
		switch {
		case mean && r == 0:
			return T(math.NaN()) // not 0/0, whose NaN's sign depends on the CPU
		case mean:
			return T(v / A(r))
		}
		return T(v)
	}
	if len(d) == 1 {
		var v A
		for _, x := range s[:r] {
			v += A(x)
		}
		d[0] = finish(v)
		return
	}
	clear(acc)
	for k := range r {
		row := s[k*len(d) : (k+1)*len(d)]
		for j, x := range row {
			acc[j] += A(x)
		}
	}
	for j, v := range acc {
		d[j] = finish(v)
	}
}

// maxRows sets d[j] to the largest of the r rows of s at j (NaN if any is
// NaN; the lowest value of T when r is 0).
func maxRows[T number](d, s []T, r int) {
	if r == 0 {
		fill(d, lowest[T]())
		return
	}
	if len(d) == 1 {
		m := s[0]
		for _, x := range s[1:r] {
			m = max(m, x)
		}
		d[0] = m
		return
	}
	copy(d, s[:len(d)])
	for k := 1; k < r; k++ {
		row := s[k*len(d) : (k+1)*len(d)]
		for j, x := range row {
			d[j] = max(d[j], x)
		}
	}
}

// lowest returns -Inf for a float type, else its smallest value.
func lowest[T number]() T {
	if isFloat[T]() {
		return T(math.Inf(-1))
	}
	lo, _ := intLimits[T]()
	return T(lo)
}

// softmaxOp is Softmax: exp(x - max) / sum(exp(x - max)) along axis
// (opset 13, default -1), or, before opset 13 (legacy), over all the
// dimensions from axis on (default 1) as if the input were 2-D.
type softmaxOp struct {
	axis   int
	legacy bool
}

func (o *softmaxOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if err := oneOf(x.DType, floatTypes...); err != nil {
		return nil, err
	}
	if _, _, _, err := o.split(Sizes(make([]int, x.Rank())...)); err != nil {
		return nil, err
	}
	return []*Info{info(x.DType, slices.Clone(x.Shape))}, nil
}

// split returns the input as [outer, n, inner] with the softmax over n.
func (o *softmaxOp) split(shape []Dim) (outer, n, inner int, err error) {
	s := ints(shape)
	if o.legacy {
		a := o.axis
		if a < 0 {
			a += len(s)
		}
		if a < 0 || a > len(s) || (a == len(s) && len(s) > 0) {
			return 0, 0, 0, fmt.Errorf("axis %d is out of range for rank %d", o.axis, len(s))
		}
		return prod(s[:a]), prod(s[a:]), 1, nil
	}
	a, err := normAxis(o.axis, len(s))
	if err != nil {
		return 0, 0, 0, err
	}
	return prod(s[:a]), s[a], prod(s[a+1:]), nil
}

func (o *softmaxOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	outer, n, inner, err := o.split(Sizes(x.Shape...))
	if err != nil {
		return nil, err
	}
	out, err := outputFor(ctx, x.Shape, x, 0, x, 0)
	if err != nil {
		return nil, err
	}
	switch {
	case x.DType == onnx.Float && inner == 1:
		ctx.Parallel(outer, max(1, grainElems/max(n, 1)), func(lo, hi int) {
			for o := lo; o < hi; o++ {
				vecmath.Softmax(out.F32[o*n:(o+1)*n], x.F32[o*n:(o+1)*n], 1)
			}
		})
	case x.DType == onnx.Float:
		softmaxRun(ctx, out.F32, x.F32, outer, n, inner)
	case x.DType == onnx.Double:
		softmaxRun(ctx, out.F64, x.F64, outer, n, inner)
	default:
		return nil, fmt.Errorf("element type %v is not supported", x.DType)
	}
	return []*Tensor{out}, nil
}

// softmaxRun computes the softmax of src [outer, n, inner] over n, in
// parallel over outer.
func softmaxRun[T float32 | float64](ctx *Ctx, dst, src []T, outer, n, inner int) {
	ctx.Parallel(outer, max(1, grainElems/max(n*inner, 1)), func(lo, hi int) {
		var m, sum []float64
		if inner > 1 {
			m, sum = make([]float64, inner), make([]float64, inner)
		}
		for o := lo; o < hi; o++ {
			d, s := dst[o*n*inner:(o+1)*n*inner], src[o*n*inner:(o+1)*n*inner]
			if inner == 1 {
				softmaxRow(d, s)
			} else {
				softmaxCols(d, s, n, m, sum)
			}
		}
	})
}

// softmaxRow is the softmax of one contiguous row (d may alias s).
func softmaxRow[T float32 | float64](d, s []T) {
	if len(s) == 0 {
		return
	}
	m := s[0]
	for _, v := range s[1:] {
		m = max(m, v)
	}
	var sum float64
	for i, v := range s {
		e := math.Exp(float64(v - m))
		d[i] = T(e)
		sum += e
	}
	inv := 1 / sum
	for i, v := range d[:len(s)] {
		d[i] = T(float64(v) * inv)
	}
}

// softmaxCols is the softmax over the n rows of s (each len(m) long) for
// every column, with scratch m and sum of len(m).
func softmaxCols[T float32 | float64](d, s []T, n int, m, sum []float64) {
	w := len(m)
	if n == 0 {
		return
	}
	for j, v := range s[:w] {
		m[j] = float64(v)
	}
	for k := 1; k < n; k++ {
		for j, v := range s[k*w : (k+1)*w] {
			m[j] = max(m[j], float64(v))
		}
	}
	clear(sum)
	for k := range n {
		row, out := s[k*w:(k+1)*w], d[k*w:(k+1)*w]
		for j, v := range row {
			e := math.Exp(float64(v) - m[j])
			out[j] = T(e)
			sum[j] += e
		}
	}
	for j := range sum {
		sum[j] = 1 / sum[j]
	}
	for k := range n {
		out := d[k*w : (k+1)*w]
		for j, v := range out {
			out[j] = T(float64(v) * sum[j])
		}
	}
}

// layerNormOp is LayerNormalization (opset 17): each row of the
// dimensions from axis on is normalised to zero mean and unit variance
// (1/sqrt(var + epsilon)), then scaled and shifted by Scale and B, which
// broadcast to those dimensions. The optional outputs Mean and
// InvStdDev have the input's shape with 1s from axis on, and are FLOAT
// (stash_type 1, the only one supported).
type layerNormOp struct {
	axis    int
	eps     float32
	outputs int
}

func newLayerNorm(d *NodeDef) (Op, error) {
	if err := checkNode(d, 2, 3, 1, 3); err != nil {
		return nil, err
	}
	o := &layerNormOp{outputs: d.NumOutputs}
	var err error
	if o.axis, err = d.Attrs.Int("axis", -1); err != nil {
		return nil, err
	}
	if o.eps, err = d.Attrs.Float("epsilon", 1e-5); err != nil {
		return nil, err
	}
	stash, err := d.Attrs.Int("stash_type", 1)
	if err != nil {
		return nil, err
	}
	if stash != 1 {
		return nil, fmt.Errorf("stash_type %d is not supported (only 1, FLOAT)", stash)
	}
	return o, nil
}

// checkParam checks that Scale or B (shape p) broadcasts to the
// normalised dimensions norm.
func checkParam(name string, p, norm []Dim) error {
	if len(p) > len(norm) {
		return fmt.Errorf("%s has shape %s, more dimensions than the normalised %s", name, ShapeString(p), ShapeString(norm))
	}
	off := len(norm) - len(p)
	for i, d := range p {
		if d.Known() && d.Size != 1 && !d.Same(norm[off+i]) && norm[off+i].Known() {
			return fmt.Errorf("%s has shape %s, which does not broadcast to the normalised %s", name, ShapeString(p), ShapeString(norm))
		}
	}
	return nil
}

func (o *layerNormOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	x := in[0]
	if err := oneOf(x.DType, floatTypes...); err != nil {
		return nil, err
	}
	a, err := normAxis(o.axis, x.Rank())
	if err != nil {
		return nil, err
	}
	for i, p := range in[1:] {
		if p == nil {
			continue
		}
		name := [2]string{"Scale", "B"}[i]
		if err := sameType(x.DType, p); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := checkParam(name, p.Shape, x.Shape[a:]); err != nil {
			return nil, err
		}
	}
	out := []*Info{info(x.DType, slices.Clone(x.Shape))}
	stat := slices.Clone(x.Shape)
	for i := a; i < len(stat); i++ {
		stat[i] = Dim{Size: 1}
	}
	for range o.outputs - 1 {
		out = append(out, info(onnx.Float, slices.Clone(stat)))
	}
	return out, nil
}

func (o *layerNormOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	x := in[0]
	a, err := normAxis(o.axis, len(x.Shape))
	if err != nil {
		return nil, err
	}
	norm := x.Shape[a:]
	rows, n := prod(x.Shape[:a]), prod(norm)
	// Scale and B as full rows of n.
	params := make([]*Tensor, 2)
	for i, p := range in[1:min(len(in), 3)] {
		if p == nil {
			continue
		}
		if p.DType != x.DType {
			return nil, fmt.Errorf("%s is %v, the input %v", [2]string{"Scale", "B"}[i], p.DType, x.DType)
		}
		if err := checkParam([2]string{"Scale", "B"}[i], Sizes(p.Shape...), Sizes(norm...)); err != nil {
			return nil, err
		}
		params[i] = p
		if p.Len() != n {
			full, err := ctx.Alloc(x.DType, norm...)
			if err != nil {
				return nil, err
			}
			defer ctx.arena.put(full)
			stridedCopy(ctx, full, contiguous(norm), p, region{strides: broadcastStrides(p.Shape, norm)}, norm)
			params[i] = full
		}
	}
	y, err := outputFor(ctx, x.Shape, x, 0, x, 0)
	if err != nil {
		return nil, err
	}
	out := []*Tensor{y}
	stat := slices.Clone(x.Shape)
	for i := a; i < len(stat); i++ {
		stat[i] = 1
	}
	var mean, inv []float32
	for range o.outputs - 1 {
		t, err := ctx.Alloc(onnx.Float, stat...)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if o.outputs > 1 {
		mean = out[1].F32
	}
	if o.outputs > 2 {
		inv = out[2].F32
	}
	switch x.DType {
	case onnx.Float:
		w, b := dataF32(params[0]), dataF32(params[1])
		ctx.Parallel(rows, max(1, grainElems/max(n, 1)), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				m, is := vecmath.LayerNorm(y.F32[r*n:(r+1)*n], x.F32[r*n:(r+1)*n], w, b, o.eps)
				if mean != nil {
					mean[r] = m
				}
				if inv != nil {
					inv[r] = is
				}
			}
		})
	case onnx.Double:
		layerNormRun(ctx, y.F64, x.F64, dataF64(params[0]), dataF64(params[1]), rows, n, float64(o.eps), mean, inv)
	default:
		return nil, fmt.Errorf("element type %v is not supported", x.DType)
	}
	return out, nil
}

func dataF32(t *Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.F32
}

func dataF64(t *Tensor) []float64 {
	if t == nil {
		return nil
	}
	return t.F64
}

// layerNormRun normalises the rows of x (n each) into y with scale w and
// bias b (nil: none), writing each row's mean and 1/stddev to mean and
// inv when they are not nil.
func layerNormRun[T float32 | float64](ctx *Ctx, y, x, w, b []T, rows, n int, eps float64, mean, inv []float32) {
	ctx.Parallel(rows, max(1, grainElems/max(n, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*n:(r+1)*n], y[r*n:(r+1)*n]
			var s float64
			for _, v := range xr {
				s += float64(v)
			}
			m := s / float64(n)
			var q float64
			for _, v := range xr {
				d := float64(v) - m
				q += d * d
			}
			is := 1 / math.Sqrt(q/float64(n)+eps)
			if mean != nil {
				mean[r] = float32(m)
			}
			if inv != nil {
				inv[r] = float32(is)
			}
			normRow(yr, xr, w, b, T(m), T(is))
		}
	})
}

// normRow writes y = (x - m)·is·w + b (w, b nil: 1, 0).
func normRow[T float32 | float64](y, x, w, b []T, m, is T) {
	x = x[:len(y)]
	for i, v := range x {
		d := T((v - m) * is)
		if w != nil {
			d = T(d * w[i])
		}
		if b != nil {
			d += b[i]
		}
		y[i] = d
	}
}
