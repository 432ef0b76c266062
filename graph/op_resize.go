package graph

import (
	"fmt"
	"math"
	"slices"

	"github.com/tensorquant/tensorquant/onnx"
)

// Resize (opsets 10 to 19) and the deprecated Upsample (7, 9): nearest
// (any element type), linear and cubic (FLOAT, DOUBLE) interpolation over
// any axes, with every coordinate transformation, the scales or the sizes
// input, roi (tf_crop_and_resize), antialias, axes and
// keep_aspect_ratio_policy, as the ONNX reference computes them:
// coordinates in float64, each axis interpolated in turn (the
// interpolation is separable), sums in float64, values rounded to the
// element type between axes.

func init() {
	Register("", "Resize", newResize)
	Register("", "Upsample", newUpsample)
}

// resizeOp is Resize or Upsample.
type resizeOp struct {
	scalesAttr []float32 // Upsample-7's scales attribute
	iRoi       int       // input positions; -1 when the op has no such input
	iScales    int
	iSizes     int

	mode, ctm, nearest, keepAspect string
	cubicA                         float64
	exclude, antialias             bool
	extrapolation                  float64
	axes                           []int
	legacy                         bool // before opset 11: ONNX Runtime's rounding of nearest
	upsample                       bool // Upsample: scales of at least 1
}

var (
	resizeModes = []string{"nearest", "linear", "cubic"}
	resizeCTMs  = []string{"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize"}
	nearestMode = []string{"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}
)

func newUpsample(d *NodeDef) (Op, error) {
	o := &resizeOp{iRoi: -1, iScales: 1, iSizes: -1, ctm: "asymmetric", legacy: true, upsample: true}
	var err error
	if d.Opset < 9 {
		if err := checkNode(d, 1, 1, 1, 1); err != nil {
			return nil, err
		}
		o.iScales = -1
		if o.scalesAttr, err = d.Attrs.Floats("scales", nil); err != nil {
			return nil, err
		}
		if len(o.scalesAttr) == 0 {
			return nil, fmt.Errorf("the scales attribute is required")
		}
	} else if err := checkNode(d, 2, 2, 1, 1); err != nil {
		return nil, err
	}
	if o.mode, err = d.Attrs.String("mode", "nearest"); err != nil {
		return nil, err
	}
	if o.mode != "nearest" && o.mode != "linear" {
		return nil, fmt.Errorf("mode %q: Upsample has nearest and linear", o.mode)
	}
	return o, nil
}

func newResize(d *NodeDef) (Op, error) {
	o := &resizeOp{iRoi: 1, iScales: 2, iSizes: 3, keepAspect: "stretch"}
	var err error
	switch {
	case d.Opset < 11:
		o.iRoi, o.iScales, o.iSizes, o.ctm, o.legacy = -1, 1, -1, "asymmetric", true
		err = checkNode(d, 2, 2, 1, 1)
	case d.Opset < 13:
		err = checkNode(d, 3, 4, 1, 1)
	default:
		err = checkNode(d, 1, 4, 1, 1)
	}
	if err != nil {
		return nil, err
	}
	if o.mode, err = d.Attrs.String("mode", "nearest"); err != nil {
		return nil, err
	}
	modes := resizeModes
	if d.Opset < 11 {
		modes = resizeModes[:2]
	}
	if !slices.Contains(modes, o.mode) {
		return nil, fmt.Errorf("mode %q is not one of %v", o.mode, modes)
	}
	if d.Opset < 11 {
		return o, nil
	}
	ctms := slices.Clone(resizeCTMs)
	if d.Opset == 11 {
		ctms = append(ctms, "tf_half_pixel_for_nn")
	}
	if d.Opset >= 19 {
		ctms = append(ctms, "half_pixel_symmetric")
	}
	if o.ctm, err = d.Attrs.String("coordinate_transformation_mode", "half_pixel"); err != nil {
		return nil, err
	}
	if !slices.Contains(ctms, o.ctm) {
		return nil, fmt.Errorf("coordinate_transformation_mode %q is not one of %v", o.ctm, ctms)
	}
	if o.nearest, err = d.Attrs.String("nearest_mode", "round_prefer_floor"); err != nil {
		return nil, err
	}
	if !slices.Contains(nearestMode, o.nearest) {
		return nil, fmt.Errorf("nearest_mode %q is not one of %v", o.nearest, nearestMode)
	}
	a, err := d.Attrs.Float("cubic_coeff_a", -0.75)
	if err != nil {
		return nil, err
	}
	o.cubicA = float64(a)
	ex, err := d.Attrs.Int("exclude_outside", 0)
	if err != nil {
		return nil, err
	}
	o.exclude = ex != 0
	e, err := d.Attrs.Float("extrapolation_value", 0)
	if err != nil {
		return nil, err
	}
	o.extrapolation = float64(e)
	if d.Opset >= 18 {
		aa, err := d.Attrs.Int("antialias", 0)
		if err != nil {
			return nil, err
		}
		o.antialias = aa != 0
		if o.antialias && o.mode == "nearest" {
			return nil, fmt.Errorf("antialias applies to the linear and cubic modes, not nearest")
		}
		if o.axes, err = d.Attrs.Ints("axes", nil); err != nil {
			return nil, err
		}
		if o.keepAspect, err = d.Attrs.String("keep_aspect_ratio_policy", "stretch"); err != nil {
			return nil, err
		}
		if !slices.Contains([]string{"stretch", "not_larger", "not_smaller"}, o.keepAspect) {
			return nil, fmt.Errorf("keep_aspect_ratio_policy %q is not one of stretch, not_larger, not_smaller", o.keepAspect)
		}
	}
	return o, nil
}

// resizePlan is what a run resizes: the output shape, the scale of every
// axis and, for tf_crop_and_resize, the roi of every axis (starts, then
// ends).
type resizePlan struct {
	out   []int
	scale []float64
	roi   []float64
}

// axesFor returns the axes the scales, sizes and roi inputs name: the
// axes attribute normalised for rank r, or every axis.
func (o *resizeOp) axesFor(r int) ([]int, error) {
	if o.axes == nil {
		axes := make([]int, r)
		for i := range axes {
			axes[i] = i
		}
		return axes, nil
	}
	return normAxes(o.axes, r)
}

// plan computes the output shape, scales and roi for input shape x from
// the scales (nil or empty when absent), sizes (nil or empty when absent)
// and roi (nil or empty: none) values.
func (o *resizeOp) plan(x []int, scales []float64, sizes []int, roi []float64) (*resizePlan, error) {
	r := len(x)
	axes, err := o.axesFor(r)
	if err != nil {
		return nil, err
	}
	p := &resizePlan{out: slices.Clone(x), scale: make([]float64, r)}
	for i := range p.scale {
		p.scale[i] = 1
	}
	switch {
	case len(scales) > 0 && len(sizes) > 0:
		return nil, fmt.Errorf("scales %v and sizes %v are both given: want one", scales, sizes)
	case len(scales) > 0:
		if len(scales) != len(axes) {
			return nil, fmt.Errorf("%d scales for %d axes", len(scales), len(axes))
		}
		for i, a := range axes {
			s := scales[i]
			if !(s > 0) || math.IsInf(s, 1) || o.upsample && s < 1 {
				return nil, fmt.Errorf("scale %v: want a finite value above 0 (at least 1 for Upsample)", s)
			}
			p.scale[a] = s
			v := math.Floor(s * float64(x[a]))
			if v > maxValueElems {
				return nil, fmt.Errorf("scale %v of axis %d (size %d) gives more than %d elements", s, a, x[a], maxValueElems)
			}
			p.out[a] = int(v)
		}
	case len(sizes) > 0:
		if len(sizes) != len(axes) {
			return nil, fmt.Errorf("%d sizes for %d axes", len(sizes), len(axes))
		}
		for i, a := range axes {
			if sizes[i] < 0 || sizes[i] > maxValueElems {
				return nil, fmt.Errorf("size %d of axis %d: want 0 to %d", sizes[i], a, maxValueElems)
			}
			p.out[a] = sizes[i]
			if x[a] > 0 {
				p.scale[a] = float64(sizes[i]) / float64(x[a])
			} else if sizes[i] != 0 {
				return nil, fmt.Errorf("axis %d of size 0 cannot be resized to %d", a, sizes[i])
			}
		}
		if o.keepAspect != "stretch" {
			s := p.scale[axes[0]]
			for _, a := range axes {
				if o.keepAspect == "not_larger" {
					s = min(s, p.scale[a])
				} else {
					s = max(s, p.scale[a])
				}
			}
			for _, a := range axes {
				p.scale[a] = s
				p.out[a] = int(math.Floor(s*float64(x[a]) + 0.5))
			}
		}
	default:
		return nil, fmt.Errorf("neither scales nor sizes is given")
	}
	if err := checkValueShape(p.out); err != nil {
		return nil, err
	}
	if o.ctm == "tf_crop_and_resize" {
		if len(roi) != 2*len(axes) {
			return nil, fmt.Errorf("roi has %d values, tf_crop_and_resize wants %d (starts and ends of %d axes)", len(roi), 2*len(axes), len(axes))
		}
		p.roi = make([]float64, 2*r)
		for i := range r {
			p.roi[r+i] = 1
		}
		for i, a := range axes {
			p.roi[a], p.roi[r+a] = roi[i], roi[len(axes)+i]
		}
	}
	return p, nil
}

// optAt returns in[i], or nil when the input is absent or the op has no
// such input (i < 0).
func optAt[T any](in []*T, i int) *T {
	if i < 0 {
		return nil
	}
	return opt(in, i)
}

// floats64 returns the values of a FLOAT or DOUBLE tensor as float64.
func floats64(t *Tensor, name string) ([]float64, error) {
	if t == nil {
		return nil, nil
	}
	switch t.DType {
	case onnx.Float:
		out := make([]float64, len(t.F32))
		for i, v := range t.F32 {
			out[i] = float64(v)
		}
		return out, nil
	case onnx.Double:
		return t.F64, nil
	}
	return nil, fmt.Errorf("%s is %v, want FLOAT or DOUBLE", name, t.DType)
}

// inputs reads the scales, sizes and roi of a run (or of a load, where a
// nil tensor is an unknown value).
func (o *resizeOp) inputs(in []*Tensor) (scales []float64, sizes []int, roi []float64, err error) {
	if o.scalesAttr != nil {
		for _, s := range o.scalesAttr {
			scales = append(scales, float64(s))
		}
	}
	if t := optAt(in, o.iScales); t != nil {
		if t.DType != onnx.Float {
			return nil, nil, nil, fmt.Errorf("scales is %v, want FLOAT", t.DType)
		}
		if scales, err = floats64(t, "scales"); err != nil {
			return nil, nil, nil, err
		}
	}
	if t := optAt(in, o.iSizes); t != nil {
		if t.DType != onnx.Int64 {
			return nil, nil, nil, fmt.Errorf("sizes is %v, want INT64", t.DType)
		}
		if sizes, err = intsInput(t, "sizes"); err != nil {
			return nil, nil, nil, err
		}
	}
	if t := optAt(in, o.iRoi); t != nil && o.ctm == "tf_crop_and_resize" {
		if roi, err = floats64(t, "roi"); err != nil {
			return nil, nil, nil, err
		}
	}
	return scales, sizes, roi, nil
}

// interpolates reports whether element type t can be interpolated by the
// op's mode.
func (o *resizeOp) accepts(t onnx.DataType) error {
	if o.mode != "nearest" || o.ctm == "tf_crop_and_resize" {
		return oneOf(t, floatTypes...)
	}
	if !Supported(t) {
		return fmt.Errorf("element type %v is not supported", t)
	}
	return nil
}

func (o *resizeOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if err := o.accepts(x.DType); err != nil {
		return nil, err
	}
	// The output shape is known when the scales, sizes and roi are, and
	// the input's shape.
	consts := make([]*Tensor, len(in))
	known := true
	for i, info := range in {
		if i == 0 || info == nil || i != o.iScales && i != o.iSizes && (i != o.iRoi || o.ctm != "tf_crop_and_resize") {
			continue
		}
		consts[i] = info.Const
		known = known && info.Const != nil
	}
	if shape, ok := x.Static(); ok && known {
		scales, sizes, roi, err := o.inputs(consts)
		if err != nil {
			return nil, err
		}
		p, err := o.plan(shape, scales, sizes, roi)
		if err != nil {
			return nil, err
		}
		return []*Info{info(x.DType, Sizes(p.out...))}, nil
	}
	out := unknownDims(x.Rank())
	// Sizes computed from shapes (Shape → Gather → Concat) give the
	// dimensions their elements say.
	if s := optAt(in, o.iSizes); s != nil && o.axes == nil && o.keepAspect == "stretch" {
		if e := elemsOf(s); len(e) == x.Rank() {
			for i, v := range e {
				out[i] = v.dim()
			}
		}
	}
	return []*Info{info(x.DType, out)}, nil
}

func (o *resizeOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if err := o.accepts(x.DType); err != nil {
		return nil, err
	}
	scales, sizes, roi, err := o.inputs(in)
	if err != nil {
		return nil, err
	}
	p, err := o.plan(x.Shape, scales, sizes, roi)
	if err != nil {
		return nil, err
	}
	if prod(p.out) == 0 {
		return one(ctx.Alloc(x.DType, p.out...))
	}
	// The taps grow with the output's axes: the output must fit first.
	if err := ctx.fits(x.DType, p.out...); err != nil {
		return nil, err
	}
	taps := make([]*axisTaps, len(x.Shape))
	for a, n := range x.Shape {
		var r0, r1 float64
		if p.roi != nil {
			r0, r1 = p.roi[a], p.roi[len(x.Shape)+a]
		}
		identity := p.out[a] == n && p.scale[a] == 1 && (p.roi == nil || r0 == 0 && r1 == 1)
		if !identity {
			taps[a] = o.taps(n, p.out[a], p.scale[a], r0, r1)
		}
	}
	if o.mode == "nearest" {
		return one(o.nearestRun(ctx, x, p.out, taps))
	}
	return one(o.interpolate(ctx, x, p.out, taps))
}

// axisTaps is, for each output position along one axis, the input
// positions it reads (n per output, clamped into the input) and their
// weights, or for nearest the one position read; extra marks the output
// positions that take the extrapolation value (tf_crop_and_resize).
type axisTaps struct {
	n     int
	idx   []int
	w     []float64
	extra []bool
}

// coordinate returns the input coordinate of output position j of an
// axis of input size in and output size out. As in the ONNX reference,
// the output length of align_corners, pytorch_half_pixel and
// tf_crop_and_resize is scale·in, which differs from out when the scale
// does not divide evenly.
func (o *resizeOp) coordinate(j, in, out int, scale, r0, r1 float64) float64 {
	x, fin, fout := float64(j), float64(in), scale*float64(in)
	switch o.ctm {
	case "asymmetric":
		return x / scale
	case "pytorch_half_pixel":
		if fout > 1 {
			return (x+0.5)/scale - 0.5
		}
		return 0
	case "align_corners":
		if fout == 1 {
			return 0
		}
		return x * (fin - 1) / (fout - 1)
	case "tf_half_pixel_for_nn":
		return (x + 0.5) / scale
	case "tf_crop_and_resize":
		if fout != 1 {
			return r0*(fin-1) + x*(r1-r0)*(fin-1)/(fout-1)
		}
		return 0.5 * (r0 + r1) * (fin - 1)
	case "half_pixel_symmetric":
		adjustment := float64(out) / fout
		offset := fin / 2 * (1 - adjustment)
		return offset + (x+0.5)/scale - 0.5
	}
	return (x+0.5)/scale - 0.5 // half_pixel
}

// taps computes the taps of one axis. (A scale of at least
// 1/in, which an output of one element or more implies, bounds the
// antialias footprint to 4·in+2 taps.)
func (o *resizeOp) taps(in, out int, scale, r0, r1 float64) *axisTaps {
	t := &axisTaps{n: 1}
	if o.mode != "nearest" {
		t.n = len(o.coeffs(0.5, scale))
	}
	t.idx = make([]int, out*t.n)
	if o.mode != "nearest" {
		t.w = make([]float64, out*t.n)
	}
	for j := range out {
		x := o.coordinate(j, in, out, scale, r0, r1)
		if o.ctm == "tf_crop_and_resize" && (x < 0 || x > float64(in-1)) {
			if t.extra == nil {
				t.extra = make([]bool, out)
			}
			t.extra[j] = true
			continue
		}
		f := math.Floor(x)
		if o.mode == "nearest" {
			t.idx[j] = min(max(o.round(x, f, scale), 0), in-1)
			continue
		}
		ratio := 1.0
		start := int(f) - t.n/2
		if x != f {
			ratio, start = x-f, start+1
		}
		c := o.coeffs(ratio, scale)
		idx, w := t.idx[j*t.n:(j+1)*t.n], t.w[j*t.n:(j+1)*t.n]
		sum := 0.0
		for k := range c {
			i := start + k
			if o.exclude && (i < 0 || i >= in) {
				c[k] = 0
			}
			sum += c[k]
			idx[k] = min(max(i, 0), in-1)
		}
		if o.exclude && sum != 0 {
			for k := range c {
				c[k] /= sum
			}
		}
		copy(w, c)
	}
	return t
}

// round returns the input position nearest to coordinate x (f its
// floor) by the nearest mode: an integer x is itself; before opset 11
// (and for Upsample) ONNX Runtime truncates, or rounds up when
// downsampling.
func (o *resizeOp) round(x, f, scale float64) int {
	switch {
	case o.legacy && scale < 1:
		return int(math.Ceil(x))
	case o.legacy:
		return int(x)
	case x == f:
		return int(f)
	}
	r := x - f
	up := false
	switch o.nearest {
	case "round_prefer_floor":
		up = r > 0.5
	case "round_prefer_ceil":
		up = r >= 0.5
	case "ceil":
		up = true
	}
	if up {
		return int(f) + 1
	}
	return int(f)
}

// coeffs returns the weights of the taps around a coordinate whose
// distance past the tap before it is ratio (in (0, 1]), for the linear or
// cubic mode, with antialias when downsampling.
func (o *resizeOp) coeffs(ratio, scale float64) []float64 {
	if o.antialias {
		s := min(scale, 1)
		support := 1.0 // linear: the triangle of half-width 1
		if o.mode == "cubic" {
			support = 2
		}
		start := int(math.Floor(-support/s)) + 1
		n := 2 - 2*start
		c := make([]float64, n)
		sum := 0.0
		for k := range c {
			d := (float64(start+k) - ratio) * s
			if o.mode == "cubic" {
				c[k] = cubic(d, o.cubicA)
			} else {
				c[k] = max(0, 1-math.Abs(d))
			}
			sum += c[k]
		}
		for k := range c {
			c[k] /= sum
		}
		return c
	}
	if o.mode == "linear" {
		return []float64{1 - ratio, ratio}
	}
	return []float64{cubic(ratio+1, o.cubicA), cubic(ratio, o.cubicA), cubic(1-ratio, o.cubicA), cubic(2-ratio, o.cubicA)}
}

// cubic is the cubic convolution kernel with parameter a at distance d.
func cubic(d, a float64) float64 {
	d = math.Abs(d)
	switch {
	case d <= 1:
		return ((a+2)*d-(a+3))*d*d + 1
	case d < 2:
		return ((a*d-5*a)*d+8*a)*d - 4*a
	}
	return 0
}

// nearestRun gathers, for every output element, the input element its
// coordinates round to (or the extrapolation value).
func (o *resizeOp) nearestRun(ctx *Ctx, x *Tensor, out []int, taps []*axisTaps) (*Tensor, error) {
	y, err := ctx.Alloc(x.DType, out...)
	if err != nil {
		return nil, err
	}
	r := len(out)
	if y.Len() == 0 {
		return y, nil
	}
	if r == 0 {
		copyData(y, x)
		return y, nil
	}
	// offs[a][j] is the input offset of output position j along axis a,
	// -1 when it extrapolates.
	strides := make([]int, r)
	st := 1
	for a := r - 1; a >= 0; a-- {
		strides[a] = st
		st *= x.Shape[a]
	}
	offs := make([][]int, r)
	for a := range r {
		offs[a] = make([]int, out[a])
		for j := range out[a] {
			i := j
			if t := taps[a]; t != nil {
				if t.extra != nil && t.extra[j] {
					offs[a][j] = -1
					continue
				}
				i = t.idx[j]
			}
			offs[a][j] = i * strides[a]
		}
	}
	row := out[r-1]
	rows := y.Len() / row
	xw, yw := wordsOf(x), wordsOf(y)
	extra := o.extrapolation
	ctx.Parallel(rows, max(1, grainElems/row), func(lo, hi int) {
		for ri := lo; ri < hi; ri++ {
			base, rem, ex := 0, ri, false
			for a := r - 2; a >= 0; a-- {
				off := offs[a][rem%out[a]]
				rem /= out[a]
				ex = ex || off < 0
				base += off
			}
			switch {
			case ex:
				fillExtra(y, ri*row, row, extra)
			case yw.b4 != nil:
				gatherRow(yw.b4[ri*row:(ri+1)*row], xw.b4, base, offs[r-1], y, ri*row, extra)
			case yw.b8 != nil:
				gatherRow(yw.b8[ri*row:(ri+1)*row], xw.b8, base, offs[r-1], y, ri*row, extra)
			default:
				gatherRow(yw.b1[ri*row:(ri+1)*row], xw.b1, base, offs[r-1], y, ri*row, extra)
			}
		}
	})
	return y, nil
}

// gatherRow sets dst[j] = src[base+offs[j]], or the extrapolation value
// (into y at element at+j) where offs[j] is negative.
func gatherRow[T any](dst, src []T, base int, offs []int, y *Tensor, at int, extra float64) {
	for j, off := range offs {
		if off < 0 {
			fillExtra(y, at+j, 1, extra)
			continue
		}
		dst[j] = src[base+off]
	}
}

// fillExtra sets n elements of the FLOAT or DOUBLE tensor y from at to v.
func fillExtra(y *Tensor, at, n int, v float64) {
	if y.DType == onnx.Double {
		fill(y.F64[at:at+n], v)
		return
	}
	fill(y.F32[at:at+n], float32(v))
}

// interpolate resizes x (FLOAT or DOUBLE) axis by axis with the taps'
// weights.
func (o *resizeOp) interpolate(ctx *Ctx, x *Tensor, out []int, taps []*axisTaps) (*Tensor, error) {
	cur := x
	shape := slices.Clone(x.Shape)
	last := -1
	for a, t := range taps {
		if t != nil {
			last = a
		}
	}
	if last < 0 {
		y, err := ctx.Alloc(x.DType, out...)
		if err != nil {
			return nil, err
		}
		copyData(y, x)
		return y, nil
	}
	for a, t := range taps {
		if t == nil {
			continue
		}
		shape[a] = out[a]
		next, err := ctx.Alloc(x.DType, shape...)
		if err != nil {
			return nil, err
		}
		outer, in, inner := prod(cur.Shape[:a]), cur.Shape[a], prod(cur.Shape[a+1:])
		switch x.DType {
		case onnx.Float:
			resizeAxis(ctx, next.F32, cur.F32, outer, in, out[a], inner, t, o.extrapolation)
		default:
			resizeAxis(ctx, next.F64, cur.F64, outer, in, out[a], inner, t, o.extrapolation)
		}
		if cur != x {
			releaseScratch(ctx, cur)
		}
		cur = next
	}
	return cur, nil
}

// resizeAxis interpolates src [outer, in, inner] along its middle axis into
// dst [outer, out, inner]: each output row is the weighted sum of the
// input rows its taps read, in float64.
func resizeAxis[T float32 | float64](ctx *Ctx, dst, src []T, outer, in, out, inner int, t *axisTaps, extra float64) {
	ctx.Parallel(outer*out, max(1, grainElems/max(inner*t.n, 1)), func(lo, hi int) {
		acc := make([]float64, inner)
		for u := lo; u < hi; u++ {
			o, j := u/out, u%out
			d := dst[u*inner : (u+1)*inner]
			if t.extra != nil && t.extra[j] {
				fill(d, T(extra))
				continue
			}
			base := src[o*in*inner : (o+1)*in*inner]
			if inner == 1 {
				s := 0.0
				for k, i := range t.idx[j*t.n : (j+1)*t.n] {
					s += t.w[j*t.n+k] * float64(base[i])
				}
				d[0] = T(s)
				continue
			}
			clear(acc)
			for k, i := range t.idx[j*t.n : (j+1)*t.n] {
				w := t.w[j*t.n+k]
				if w == 0 {
					continue
				}
				for e, v := range base[i*inner : (i+1)*inner] {
					acc[e] += w * float64(v)
				}
			}
			for e, v := range acc {
				d[e] = T(v)
			}
		}
	})
}
