package graph

import (
	"fmt"
	"math"
	"slices"

	"github.com/tensorquant/tensorquant/onnx"
)

// The ops that move elements without computing on them: Transpose,
// Concat, Split, Slice, Gather, Expand, Tile and Pad. All work on any
// element type (through their width, see words) and, except Gather and
// the index-mapping modes of Pad, are strided copies (stridedCopy).

func init() {
	Register("", "Transpose", func(d *NodeDef) (Op, error) {
		if err := checkNode(d, 1, 1, 1, 1); err != nil {
			return nil, err
		}
		perm, err := d.Attrs.Ints("perm", nil)
		return &transposeOp{perm: perm}, err
	})
	Register("", "Concat", func(d *NodeDef) (Op, error) {
		if err := checkNode(d, 1, -1, 1, 1); err != nil {
			return nil, err
		}
		if !d.Attrs.Has("axis") {
			return nil, fmt.Errorf("attribute axis is required")
		}
		axis, err := d.Attrs.Int("axis", 0)
		return &concatOp{axis: axis}, err
	})
	Register("", "Split", newSplit)
	Register("", "Slice", newSlice)
	Register("", "Gather", func(d *NodeDef) (Op, error) {
		if err := checkNode(d, 2, 2, 1, 1); err != nil {
			return nil, err
		}
		axis, err := d.Attrs.Int("axis", 0)
		return &gatherOp{axis: axis}, err
	})
	Register("", "Expand", func(d *NodeDef) (Op, error) {
		return expandOp{}, checkNode(d, 2, 2, 1, 1)
	})
	Register("", "Tile", func(d *NodeDef) (Op, error) {
		return tileOp{}, checkNode(d, 2, 2, 1, 1)
	})
	Register("", "Pad", newPad)
}

// transposeOp is Transpose: output dimension i is input dimension
// perm[i] (the reversed order by default).
type transposeOp struct{ perm []int }

// permFor returns the permutation for rank r, checked.
func (o *transposeOp) permFor(r int) ([]int, error) {
	if o.perm == nil {
		p := make([]int, r)
		for i := range p {
			p[i] = r - 1 - i
		}
		return p, nil
	}
	if len(o.perm) != r {
		return nil, fmt.Errorf("perm %v has %d entries for an input of rank %d", o.perm, len(o.perm), r)
	}
	seen := make([]bool, r)
	for _, a := range o.perm {
		if a < 0 || a >= r || seen[a] {
			return nil, fmt.Errorf("perm %v is not a permutation of 0..%d", o.perm, r-1)
		}
		seen[a] = true
	}
	return o.perm, nil
}

func (o *transposeOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	p, err := o.permFor(in[0].Rank())
	if err != nil {
		return nil, err
	}
	return []*Info{withElems(info(in[0].DType, permuted(p, in[0].Shape)), elemsOf(in[0]))}, nil
}

// permuted returns s with its elements in the order of perm (a
// Transpose's output dimensions for input dimensions s): element i is
// s[perm[i]].
func permuted[D any](perm []int, s []D) []D {
	out := make([]D, len(perm))
	for i, a := range perm {
		out[i] = s[a]
	}
	return out
}

func (o *transposeOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	p, err := o.permFor(len(x.Shape))
	if err != nil {
		return nil, err
	}
	shape, strides := permuted(p, x.Shape), permuted(p, contiguous(x.Shape).strides)
	if keepsOrder(x.Shape, p) {
		// Only axes of size 1 move (an encoder's batch of one between
		// [B, S, E] and [S, B, E]): the elements keep their order.
		out, err := reshaped(ctx, x, 0, shape)
		if err != nil {
			return nil, err
		}
		return []*Tensor{out}, nil
	}
	out, err := ctx.Alloc(x.DType, shape...)
	if err != nil {
		return nil, err
	}
	stridedCopy(ctx, out, contiguous(shape), x, region{strides: strides}, shape)
	return []*Tensor{out}, nil
}

// keepsOrder reports whether permuting the axes of shape by p leaves the
// elements in their order: the axes longer than 1 stay in order.
func keepsOrder(shape, p []int) bool {
	last := -1
	for _, a := range p {
		if shape[a] == 1 {
			continue
		}
		if a < last {
			return false
		}
		last = a
	}
	return true
}

// concatOp is Concat along axis.
type concatOp struct{ axis int }

func (o *concatOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, max(len(in), 1)); err != nil {
		return nil, err
	}
	r := in[0].Rank()
	a, err := normAxis(o.axis, r)
	if err != nil {
		return nil, err
	}
	shape := slices.Clone(in[0].Shape)
	var sum []Dim
	var elems []Elem
	allKnown := true // every input's elements are known
	for i, x := range in {
		if err := sameType(in[0].DType, x); err != nil {
			return nil, err
		}
		if x.Rank() != r {
			return nil, fmt.Errorf("input %d has rank %d, input 0 has rank %d", i, x.Rank(), r)
		}
		for j, d := range x.Shape {
			switch {
			case j == a:
				sum = append(sum, d)
			case d.Known() && shape[j].Known() && d.Size != shape[j].Size:
				return nil, fmt.Errorf("input %d has shape %s, input 0 has %s: they differ outside axis %d", i, ShapeString(x.Shape), ShapeString(in[0].Shape), a)
			case !shape[j].Known() && d.Known():
				shape[j] = d
			}
		}
		e := elemsOf(x)
		allKnown = allKnown && e != nil
		elems = append(elems, e...)
	}
	shape[a] = dimsSum(sum)
	out := info(in[0].DType, shape)
	if allKnown {
		withElems(out, elems)
	}
	return []*Info{out}, nil
}

// dimsSum returns what is known of the sum of dims.
func dimsSum(dims []Dim) Dim {
	s := 0
	var sym []Dim
	for _, d := range dims {
		switch {
		case d.Known():
			s += d.Size
		default:
			sym = append(sym, d)
		}
	}
	switch {
	case len(sym) == 0:
		return Dim{Size: s}
	case len(sym) == 1 && s == 0:
		return sym[0]
	}
	return Unknown()
}

func (o *concatOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, max(len(in), 1)); err != nil {
		return nil, err
	}
	x0 := in[0]
	a, err := normAxis(o.axis, len(x0.Shape))
	if err != nil {
		return nil, err
	}
	shape := slices.Clone(x0.Shape)
	shape[a] = 0
	for i, x := range in {
		if x.DType != x0.DType || len(x.Shape) != len(shape) {
			return nil, fmt.Errorf("input %d is %v, input 0 is %v", i, x, x0)
		}
		for j, d := range x.Shape {
			if j != a && d != shape[j] {
				return nil, fmt.Errorf("input %d has shape %v, input 0 has %v: they differ outside axis %d", i, x.Shape, x0.Shape, a)
			}
		}
		shape[a] += x.Shape[a]
	}
	out, err := ctx.Alloc(x0.DType, shape...)
	if err != nil {
		return nil, err
	}
	dst := contiguous(shape)
	for _, x := range in {
		stridedCopy(ctx, out, dst, x, contiguous(x.Shape), x.Shape)
		dst.off += x.Shape[a] * dst.strides[a]
	}
	return []*Tensor{out}, nil
}

// splitOp is Split: the input cut along axis into the node's outputs,
// by the sizes of the split input (an attribute before opset 13) or in
// equal parts (ceil(dim/n) each, the last one smaller, when num_outputs
// of opset 18 does not divide it).
type splitOp struct {
	axis, n int
	attr    bool  // split is an attribute
	split   []int // the attribute
}

func newSplit(d *NodeDef) (Op, error) {
	o := &splitOp{n: d.NumOutputs}
	var err error
	if o.axis, err = d.Attrs.Int("axis", 0); err != nil {
		return nil, err
	}
	if d.Opset < 13 {
		o.attr = true
		if o.split, err = d.Attrs.Ints("split", nil); err != nil {
			return nil, err
		}
		return o, checkNode(d, 1, 1, 1, -1)
	}
	if d.Opset >= 18 && d.Attrs.Has("num_outputs") {
		n, err := d.Attrs.Int("num_outputs", 0)
		if err != nil {
			return nil, err
		}
		if n != d.NumOutputs {
			return nil, fmt.Errorf("num_outputs is %d, the node has %d outputs", n, d.NumOutputs)
		}
		if d.NumInputs > 1 {
			return nil, fmt.Errorf("num_outputs and the split input are both given")
		}
	}
	return o, checkNode(d, 1, 2, 1, -1)
}

// sizes returns the sizes of the parts of a dimension of size dim, or
// nil when they are not known (split given but unknown; dim unknown).
func (o *splitOp) sizes(dim Dim, split *Info) ([]int, error) {
	var s []int
	switch {
	case o.attr && o.split != nil:
		s = o.split
	case !o.attr && split != nil:
		v, ok := constInts(split)
		if !ok {
			return nil, nil
		}
		s = v
	case !dim.Known():
		return nil, nil
	default:
		part := (dim.Size + o.n - 1) / o.n
		s = make([]int, o.n)
		for i := range s {
			s[i] = min(part, max(dim.Size-i*part, 0))
		}
		if dim.Size%o.n != 0 && s[o.n-1] <= 0 {
			return nil, fmt.Errorf("a dimension of %d cannot be split into %d parts", dim.Size, o.n)
		}
		return s, nil
	}
	if len(s) != o.n {
		return nil, fmt.Errorf("split %v has %d parts, the node has %d outputs", s, len(s), o.n)
	}
	sum := 0
	for _, v := range s {
		if v < 0 {
			return nil, fmt.Errorf("split %v has a negative part", s)
		}
		sum += v
	}
	if dim.Known() && sum != dim.Size {
		return nil, fmt.Errorf("split %v sums to %d, the dimension is %d", s, sum, dim.Size)
	}
	return s, nil
}

func (o *splitOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	a, err := normAxis(o.axis, x.Rank())
	if err != nil {
		return nil, err
	}
	s, err := o.sizes(x.Shape[a], opt(in, 1))
	if err != nil {
		return nil, err
	}
	e := elemsOf(x)
	out := make([]*Info, o.n)
	off := 0
	for i := range out {
		shape := slices.Clone(x.Shape)
		shape[a] = Unknown()
		if s != nil {
			shape[a] = Dim{Size: s[i]}
		}
		out[i] = info(x.DType, shape)
		if s != nil && e != nil {
			withElems(out[i], e[off:off+s[i]])
			off += s[i]
		}
	}
	return out, nil
}

func (o *splitOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	a, err := normAxis(o.axis, len(x.Shape))
	if err != nil {
		return nil, err
	}
	var split *Info
	if t := opt(in, 1); t != nil {
		split = InfoOf(t)
	}
	s, err := o.sizes(Dim{Size: x.Shape[a]}, split)
	if err == nil && s == nil {
		err = fmt.Errorf("split is not an integer tensor: %v", opt(in, 1))
	}
	if err != nil {
		return nil, err
	}
	src := contiguous(x.Shape)
	out := make([]*Tensor, o.n)
	for i, n := range s {
		shape := slices.Clone(x.Shape)
		shape[a] = n
		if out[i], err = ctx.Alloc(x.DType, shape...); err != nil {
			return nil, err
		}
		stridedCopy(ctx, out[i], contiguous(shape), x, src, shape)
		src.off += n * src.strides[a]
	}
	return out, nil
}

// sliceOp is Slice: starts, ends, axes and steps are inputs (since opset
// 10) or attributes (before). Negative starts and ends count from the
// end; they are clamped to the dimension as ONNX specifies.
type sliceOp struct {
	attr               bool
	starts, ends, axes []int
}

func newSlice(d *NodeDef) (Op, error) {
	if d.Opset >= 10 {
		return &sliceOp{}, checkNode(d, 3, 5, 1, 1)
	}
	if err := checkNode(d, 1, 1, 1, 1); err != nil {
		return nil, err
	}
	o := &sliceOp{attr: true}
	var err error
	if o.starts, err = d.Attrs.Ints("starts", nil); err != nil {
		return nil, err
	}
	if o.ends, err = d.Attrs.Ints("ends", nil); err != nil {
		return nil, err
	}
	if o.axes, err = d.Attrs.Ints("axes", nil); err != nil {
		return nil, err
	}
	if o.starts == nil || o.ends == nil {
		return nil, fmt.Errorf("attributes starts and ends are required")
	}
	return o, nil
}

// sliceAxis is the slice of one axis: count elements from start, every
// step.
type sliceAxis struct{ axis, start, step, count int }

// params returns the node's starts, ends, axes and steps (nil axes or
// steps: absent), and ok false when one of them is not known.
func (o *sliceOp) params(in []*Info) (starts, ends, axes, steps []int, ok bool) {
	if o.attr {
		return o.starts, o.ends, o.axes, nil, true
	}
	get := func(i int) ([]int, bool) {
		x := opt(in, i)
		if x == nil {
			return nil, true
		}
		v, ok := constInts(x)
		if ok && v == nil {
			v = []int{}
		}
		return v, ok
	}
	var ok1, ok2, ok3, ok4 bool
	starts, ok1 = get(1)
	ends, ok2 = get(2)
	axes, ok3 = get(3)
	steps, ok4 = get(4)
	return starts, ends, axes, steps, ok1 && ok2 && ok3 && ok4
}

// slicePlan resolves the slice against a shape; an unknown dimension
// that is sliced gives count -1, except for the whole range with step 1
// (-2).
func slicePlan(shape []Dim, starts, ends, axes, steps []int) ([]sliceAxis, error) {
	r := len(shape)
	if axes == nil {
		axes = make([]int, len(starts))
		for i := range axes {
			axes[i] = i
		}
	}
	if len(ends) != len(starts) || len(axes) != len(starts) || (steps != nil && len(steps) != len(starts)) {
		return nil, fmt.Errorf("starts %v, ends %v, axes %v and steps %v differ in length", starts, ends, axes, steps)
	}
	ax, err := normAxes(axes, r)
	if err != nil {
		return nil, err
	}
	out := make([]sliceAxis, len(ax))
	for i, a := range ax {
		step := 1
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return nil, fmt.Errorf("steps %v has a 0", steps)
		}
		out[i] = sliceAxis{axis: a, step: step, count: -1}
		if !shape[a].Known() {
			if starts[i] == 0 && step == 1 && ends[i] >= math.MaxInt32 {
				out[i].count = -2 // the whole dimension
			}
			continue
		}
		out[i].start, out[i].count = sliceRange(shape[a].Size, starts[i], ends[i], step)
	}
	return out, nil
}

// sliceRange returns the first index and the count of slice start:end:step
// of a dimension of size d, with ONNX's clamping.
func sliceRange(d, start, end, step int) (int, int) {
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	if step > 0 {
		start, end = min(max(start, 0), d), min(max(end, 0), d)
		return start, max(0, (end-start+step-1)/step)
	}
	start, end = min(max(start, 0), d-1), min(max(end, -1), d-1)
	return start, max(0, (start-end-step-1)/-step)
}

func (o *sliceOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if !o.attr {
		if err := need(in, 3); err != nil {
			return nil, err
		}
		for i, p := range in[1:] {
			if p != nil && (p.DType != onnx.Int64 && p.DType != onnx.Int32 || p.Rank() != 1) {
				return nil, fmt.Errorf("%s must be a 1-D INT32 or INT64 tensor, is %v", [4]string{"starts", "ends", "axes", "steps"}[i], p)
			}
		}
	}
	starts, ends, axes, steps, ok := o.params(in)
	shape := slices.Clone(x.Shape)
	if !ok {
		// Not known by how much: the sliced axes become unknown, or
		// every axis when which ones is not known either.
		ax := axes // nil when absent or unknown
		if ax == nil {
			n := x.Rank()
			if opt(in, 3) == nil && in[1].Shape[0].Known() {
				n = min(in[1].Shape[0].Size, n)
			}
			ax = make([]int, n)
			for i := range ax {
				ax[i] = i
			}
		}
		ax, err := normAxes(ax, x.Rank())
		if err != nil {
			return nil, err
		}
		for _, a := range ax {
			shape[a] = Unknown()
		}
		return []*Info{info(x.DType, shape)}, nil
	}
	p, err := slicePlan(x.Shape, starts, ends, axes, steps)
	if err != nil {
		return nil, err
	}
	for _, s := range p {
		switch s.count {
		case -1:
			shape[s.axis] = Unknown()
		case -2: // unchanged
		default:
			shape[s.axis] = Dim{Size: s.count}
		}
	}
	out := info(x.DType, shape)
	if e := elemsOf(x); e != nil && x.Rank() == 1 && len(p) == 1 && p[0].count >= 0 {
		sl := make([]Elem, p[0].count)
		for i := range sl {
			sl[i] = e[p[0].start+i*p[0].step]
		}
		withElems(out, sl)
	}
	return []*Info{out}, nil
}

// planAt returns the slice of a run's input in[0], from the attributes
// or from the starts, ends, axes and steps inputs.
func (o *sliceOp) planAt(in []*Tensor) ([]sliceAxis, error) {
	starts, ends, axes, steps := o.starts, o.ends, o.axes, []int(nil)
	if !o.attr {
		if err := need(in, 3); err != nil {
			return nil, err
		}
		vals := make([][]int, 4)
		for i := range vals {
			if t := opt(in, i+1); t != nil {
				v, err := intsInput(t, [4]string{"starts", "ends", "axes", "steps"}[i])
				if err != nil {
					return nil, err
				}
				vals[i] = v
			}
		}
		starts, ends, axes, steps = vals[0], vals[1], vals[2], vals[3]
	}
	return slicePlan(Sizes(in[0].Shape...), starts, ends, axes, steps)
}

func (o *sliceOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	p, err := o.planAt(in)
	if err != nil {
		return nil, err
	}
	shape := slices.Clone(x.Shape)
	src := contiguous(x.Shape)
	for _, s := range p {
		shape[s.axis] = s.count
		src.off += s.start * src.strides[s.axis]
		src.strides[s.axis] *= s.step
	}
	out, err := ctx.Alloc(x.DType, shape...)
	if err != nil {
		return nil, err
	}
	stridedCopy(ctx, out, contiguous(shape), x, src, shape)
	return []*Tensor{out}, nil
}

// gatherOp is Gather: the slices of data along axis at the indices
// (negative ones count from the end).
type gatherOp struct{ axis int }

func (o *gatherOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	x, idx := in[0], in[1]
	if idx.DType != onnx.Int64 && idx.DType != onnx.Int32 {
		return nil, fmt.Errorf("indices are %v, want INT32 or INT64", idx.DType)
	}
	a, err := normAxis(o.axis, x.Rank())
	if err != nil {
		return nil, err
	}
	shape := slices.Concat(x.Shape[:a], idx.Shape, x.Shape[a+1:])
	out := info(x.DType, shape)
	e := elemsOf(x)
	if e == nil || x.Rank() != 1 || idx.Rank() > 1 {
		return []*Info{out}, nil
	}
	iv, ok := constInts(idx)
	if !ok {
		return []*Info{out}, nil
	}
	picked := make([]Elem, len(iv))
	for j, i := range iv {
		k, err := gatherIndex(i, j, len(e), a)
		if err != nil {
			return nil, err
		}
		picked[j] = e[k]
	}
	return []*Info{withElems(out, picked)}, nil
}

// gatherIndex checks index i (element j of the indices) against a
// dimension of size d and returns it non-negative.
func gatherIndex(i, j, d, axis int) (int, error) {
	if i < -d || i >= d {
		return 0, fmt.Errorf("index %d (element %d of the indices) is out of range for axis %d of size %d", i, j, axis, d)
	}
	if i < 0 {
		i += d
	}
	return i, nil
}

func (o *gatherOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	x, idx := in[0], in[1]
	if idx.DType != onnx.Int64 && idx.DType != onnx.Int32 {
		return nil, fmt.Errorf("indices are %v, want INT32 or INT64", idx.DType)
	}
	a, err := normAxis(o.axis, len(x.Shape))
	if err != nil {
		return nil, err
	}
	iv, _ := idx.Ints()
	d := x.Shape[a]
	for j, i := range iv {
		if iv[j], err = gatherIndex(i, j, d, a); err != nil {
			return nil, err
		}
	}
	shape := slices.Concat(x.Shape[:a], idx.Shape, x.Shape[a+1:])
	out, err := ctx.Alloc(x.DType, shape...)
	if err != nil {
		return nil, err
	}
	outer, inner := 1, 1
	for _, n := range x.Shape[:a] {
		outer *= n
	}
	for _, n := range x.Shape[a+1:] {
		inner *= n
	}
	dw, sw := wordsOf(out), wordsOf(x)
	switch {
	case dw.b4 != nil:
		gatherK(ctx, dw.b4, sw.b4, iv, outer, d, inner)
	case dw.b8 != nil:
		gatherK(ctx, dw.b8, sw.b8, iv, outer, d, inner)
	case dw.b1 != nil:
		gatherK(ctx, dw.b1, sw.b1, iv, outer, d, inner)
	}
	return []*Tensor{out}, nil
}

// gatherK copies, for each of outer blocks and each index, the run of
// inner elements at that index of a dimension of size d.
func gatherK[T any](ctx *Ctx, dst, src []T, idx []int, outer, d, inner int) {
	j := len(idx)
	ctx.Parallel(outer*j, max(1, grainElems/max(inner, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			o, k := r/j, r%j
			s := (o*d + idx[k]) * inner
			copy(dst[r*inner:(r+1)*inner], src[s:s+inner])
		}
	})
}

// expandOp is Expand: the input broadcast with the shape input
// (bidirectionally: a 1 in the shape keeps the input's dimension).
type expandOp struct{}

func (expandOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	x := in[0]
	target, err := shapeInput(in[1])
	if err != nil {
		return nil, err
	}
	shape, err := broadcastDims(x.Shape, target)
	if err != nil {
		return nil, err
	}
	out := info(x.DType, shape)
	if e := elemsOf(x); e != nil && len(shape) == 1 && shape[0].Known() {
		bc := make([]Elem, shape[0].Size)
		for i := range bc {
			bc[i] = e[min(i, len(e)-1)]
		}
		withElems(out, bc)
	}
	return []*Info{out}, nil
}

func (expandOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	x := in[0]
	target, err := intsInput(in[1], "shape")
	if err != nil {
		return nil, err
	}
	for _, d := range target {
		if d < 0 {
			return nil, fmt.Errorf("shape %v has a negative dimension", target)
		}
	}
	shape, err := broadcastShapes(x.Shape, target)
	if err != nil {
		return nil, err
	}
	if err := checkValueShape(shape); err != nil {
		return nil, err
	}
	out, err := ctx.Alloc(x.DType, shape...)
	if err != nil {
		return nil, err
	}
	stridedCopy(ctx, out, contiguous(shape), x, region{strides: broadcastStrides(x.Shape, shape)}, shape)
	return []*Tensor{out}, nil
}

// tileOp is Tile: the input repeated repeats[i] times along axis i.
type tileOp struct{}

func (tileOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	x, r := in[0], in[1]
	if r.DType != onnx.Int64 || r.Rank() != 1 {
		return nil, fmt.Errorf("repeats must be a 1-D INT64 tensor, is %v", r)
	}
	if r.Shape[0].Known() && r.Shape[0].Size != x.Rank() {
		return nil, fmt.Errorf("repeats has %d elements for an input of rank %d", r.Shape[0].Size, x.Rank())
	}
	shape := make([]Dim, x.Rank())
	reps, ok := constInts(r)
	for i, d := range x.Shape {
		switch {
		case !ok:
			shape[i] = Unknown()
		case reps[i] < 0:
			return nil, fmt.Errorf("repeats %v has a negative element", reps)
		default:
			shape[i] = dimsProduct([]Dim{d, {Size: reps[i]}})
		}
	}
	return []*Info{info(x.DType, shape)}, nil
}

func (tileOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	x := in[0]
	reps, err := intsInput(in[1], "repeats")
	if err != nil {
		return nil, err
	}
	if len(reps) != len(x.Shape) {
		return nil, fmt.Errorf("repeats %v has %d elements for an input of rank %d", reps, len(reps), len(x.Shape))
	}
	// The output [r0·d0, r1·d1, ...] is, in memory, [r0, d0, r1, d1, ...]
	// read from the input with stride 0 along each r.
	st := contiguous(x.Shape).strides
	shape := make([]int, len(reps))
	view := make([]int, 2*len(reps))
	strides := make([]int, 2*len(reps))
	for i, r := range reps {
		if r < 0 {
			return nil, fmt.Errorf("repeats %v has a negative element", reps)
		}
		shape[i] = r * x.Shape[i]
		if x.Shape[i] != 0 && r > maxValueElems/x.Shape[i] {
			return nil, fmt.Errorf("repeats %v makes the output too large", reps)
		}
		view[2*i], view[2*i+1] = r, x.Shape[i]
		strides[2*i+1] = st[i]
	}
	if err := checkValueShape(shape); err != nil {
		return nil, err
	}
	out, err := ctx.Alloc(x.DType, shape...)
	if err != nil {
		return nil, err
	}
	stridedCopy(ctx, out, contiguous(view), x, region{strides: strides}, view)
	return []*Tensor{out}, nil
}

// padOp is Pad: pads[i] elements before and pads[i+n] after axis axes[i]
// (every axis by default; a negative pad removes elements), filled by
// mode: constant (the constant_value input, 0 by default), reflect
// (mirrored without repeating the edge, periodically for pads longer than
// the axis, as numpy.pad), edge (the edge repeated) or wrap (opset 19,
// the axis repeated). Before opset 11 pads and value are attributes.
type padOp struct {
	mode  string
	attr  bool
	pads  []int
	value float32
}

func newPad(d *NodeDef) (Op, error) {
	o := &padOp{}
	var err error
	if o.mode, err = d.Attrs.String("mode", "constant"); err != nil {
		return nil, err
	}
	modes := []string{"constant", "reflect", "edge"}
	if d.Opset >= 19 {
		modes = append(modes, "wrap")
	}
	if !slices.Contains(modes, o.mode) {
		return nil, fmt.Errorf("mode %q is not one of %v", o.mode, modes)
	}
	if d.Opset >= 11 {
		hi := 3
		if d.Opset >= 18 {
			hi = 4
		}
		return o, checkNode(d, 2, hi, 1, 1)
	}
	o.attr = true
	if o.pads, err = d.Attrs.Ints("pads", nil); err != nil {
		return nil, err
	}
	if o.pads == nil {
		return nil, fmt.Errorf("attribute pads is required")
	}
	if o.value, err = d.Attrs.Float("value", 0); err != nil {
		return nil, err
	}
	return o, checkNode(d, 1, 1, 1, 1)
}

// padsFor returns the pads of every axis of a rank-r input: before[i],
// after[i].
func padsFor(pads, axes []int, r int) (before, after []int, err error) {
	if axes == nil {
		axes = make([]int, r)
		for i := range axes {
			axes[i] = i
		}
	}
	ax, err := normAxes(axes, r)
	if err != nil {
		return nil, nil, err
	}
	if len(pads) != 2*len(ax) {
		return nil, nil, fmt.Errorf("pads %v has %d elements, want 2×%d", pads, len(pads), len(ax))
	}
	before, after = make([]int, r), make([]int, r)
	for i, a := range ax {
		before[a], after[a] = pads[i], pads[i+len(ax)]
	}
	return before, after, nil
}

func (o *padOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	shape := slices.Clone(x.Shape)
	pads, ok := o.pads, o.attr
	var axes []int
	if !o.attr {
		if err := need(in, 2); err != nil {
			return nil, err
		}
		if p := in[1]; p.DType != onnx.Int64 || p.Rank() != 1 {
			return nil, fmt.Errorf("pads must be a 1-D INT64 tensor, is %v", p)
		}
		if c := opt(in, 2); c != nil {
			if err := sameType(x.DType, c); err != nil {
				return nil, fmt.Errorf("constant_value: %w", err)
			}
		}
		pads, ok = constInts(in[1])
		if a := opt(in, 3); a != nil {
			var aok bool
			if axes, aok = constInts(a); !aok {
				ok = false
				pads = nil
			}
		}
	}
	if !ok {
		return []*Info{info(x.DType, unknownDims(x.Rank()))}, nil
	}
	before, after, err := padsFor(pads, axes, x.Rank())
	if err != nil {
		return nil, err
	}
	for i, d := range shape {
		switch {
		case before[i] == 0 && after[i] == 0:
		case d.Known():
			n := d.Size + before[i] + after[i]
			if n < 0 {
				return nil, fmt.Errorf("pads %v leave axis %d of shape %s with %d elements", pads, i, ShapeString(x.Shape), n)
			}
			shape[i] = Dim{Size: n}
		default:
			shape[i] = Unknown()
		}
	}
	return []*Info{info(x.DType, shape)}, nil
}

// padsAt returns the pads of node inputs in (from the attribute before
// opset 11) as given and for every axis of in[0] (before, after), and the
// constant value, a scalar of in[0]'s type; or an error for pads or axes
// that are not INT64 lists that fit in[0] or a constant value of another
// type or size.
func (o *padOp) padsAt(in []*Tensor) (pads, before, after []int, value *Tensor, err error) {
	if err := need(in, 1); err != nil {
		return nil, nil, nil, nil, err
	}
	x := in[0]
	pads = o.pads
	var axes []int
	value = &Tensor{DType: onnx.Float, Shape: []int{}, F32: []float32{o.value}}
	if !o.attr {
		if err := need(in, 2); err != nil {
			return nil, nil, nil, nil, err
		}
		if pads, err = intsInput(in[1], "pads"); err != nil {
			return nil, nil, nil, nil, err
		}
		if a := opt(in, 3); a != nil {
			if axes, err = intsInput(a, "axes"); err != nil {
				return nil, nil, nil, nil, err
			}
		}
		value = opt(in, 2)
		if value != nil && (value.DType != x.DType || value.Len() != 1) {
			return nil, nil, nil, nil, fmt.Errorf("constant_value must be a scalar %v, is %v", x.DType, value)
		}
	}
	if value == nil || value.DType != x.DType {
		value, _ = New(x.DType, 1)
	}
	before, after, err = padsFor(pads, axes, len(x.Shape))
	return pads, before, after, value, err
}

// padKept returns the part of an input of shape xShape that a constant
// Pad keeps (negative pads crop it), its region in the input and its
// region in the output of shape shape.
func padKept(xShape, shape, before, after []int) (part []int, src, dst region) {
	src, dst = contiguous(xShape), contiguous(shape)
	part = make([]int, len(shape))
	for i, d := range xShape {
		lo, hi := max(0, -before[i]), d-max(0, -after[i])
		part[i] = max(0, hi-lo)
		src.off += lo * src.strides[i]
		dst.off += max(0, before[i]) * dst.strides[i]
	}
	return part, src, dst
}

func (o *padOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	pads, before, after, value, err := o.padsAt(in)
	if err != nil {
		return nil, err
	}
	x := in[0]
	shape := make([]int, len(x.Shape))
	for i, d := range x.Shape {
		shape[i] = d + before[i] + after[i]
		if shape[i] < 0 {
			return nil, fmt.Errorf("pads %v leave axis %d of shape %v with %d elements", pads, i, x.Shape, shape[i])
		}
		if o.mode != "constant" && d == 0 && shape[i] > 0 {
			return nil, fmt.Errorf("mode %s cannot pad axis %d, which is empty", o.mode, i)
		}
	}
	if err := checkValueShape(shape); err != nil {
		return nil, err
	}
	out, err := ctx.Alloc(x.DType, shape...)
	if err != nil {
		return nil, err
	}
	if o.mode == "constant" {
		stridedCopy(ctx, out, contiguous(shape), value, region{strides: make([]int, len(shape))}, shape)
		part, src, dst := padKept(x.Shape, shape, before, after)
		stridedCopy(ctx, out, dst, x, src, part)
		return []*Tensor{out}, nil
	}
	maps := make([][]int, len(shape))
	for i, n := range shape {
		maps[i] = padMap(n, x.Shape[i], before[i], o.mode)
	}
	st := contiguous(x.Shape).strides
	dw, sw := wordsOf(out), wordsOf(x)
	switch {
	case dw.b4 != nil:
		padGather(ctx, dw.b4, sw.b4, maps, st)
	case dw.b8 != nil:
		padGather(ctx, dw.b8, sw.b8, maps, st)
	case dw.b1 != nil:
		padGather(ctx, dw.b1, sw.b1, maps, st)
	}
	return []*Tensor{out}, nil
}

// padMap returns, for each of n output positions along an axis of size d
// padded by before, the input position it reads in mode reflect, edge or
// wrap.
func padMap(n, d, before int, mode string) []int {
	m := make([]int, n)
	for i := range m {
		c := i - before
		switch {
		case c >= 0 && c < d:
		case mode == "edge":
			c = min(max(c, 0), d-1)
		case mode == "wrap":
			c = ((c % d) + d) % d
		case d == 1: // reflect of one element
			c = 0
		default: // reflect, period 2(d-1)
			p := 2 * (d - 1)
			c = ((c % p) + p) % p
			if c >= d {
				c = p - c
			}
		}
		m[i] = c
	}
	return m
}

// padGather fills dst (the output, of the maps' lengths) from src through
// per-axis position maps.
func padGather[T any](ctx *Ctx, dst, src []T, maps [][]int, st []int) {
	r := len(maps)
	if r == 0 {
		copy(dst, src)
		return
	}
	last := maps[r-1]
	n := len(last)
	if n == 0 || len(dst) == 0 {
		return
	}
	rows := len(dst) / n
	ctx.Parallel(rows, max(1, grainElems/n), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			base, q := 0, row
			for k := r - 2; k >= 0; k-- {
				m := maps[k]
				base += m[q%len(m)] * st[k]
				q /= len(m)
			}
			d := dst[row*n : (row+1)*n]
			for j, c := range last {
				d[j] = src[base+c*st[r-1]]
			}
		}
	})
}
