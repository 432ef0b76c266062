package graph

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// Helpers shared by the ops of the op_*.go files: argument checks, axes,
// symbolic shapes, and the two data-movement engines (strided copies and
// broadcast rows) the element-agnostic and element-wise ops are built on.

// maxShapeElems bounds the length of the values whose elements inference
// tracks (Info.Elems): shapes, axes and the like.
const maxShapeElems = 64

// maxValueElems bounds the size of an output whose shape comes from the
// values of an input (ConstantOfShape, Expand, Range, Tile, Pad ...), so
// that a hostile or mistaken value is an error rather than an allocation
// that kills the process.
const maxValueElems = 1<<31 - 1

// grainElems is the number of elements below which an element-wise or
// data-movement op does not split its work across goroutines.
const grainElems = 1 << 15

// checkArity returns an error unless n inputs (or outputs) of a node lie
// in [lo, hi] (hi < 0: no upper bound).
func checkArity(what string, n, lo, hi int) error {
	switch {
	case hi == lo && n != lo:
		return fmt.Errorf("takes %d %s, the node has %d", lo, what, n)
	case n < lo:
		return fmt.Errorf("takes at least %d %s, the node has %d", lo, what, n)
	case hi >= 0 && n > hi:
		return fmt.Errorf("takes at most %d %s, the node has %d", hi, what, n)
	}
	return nil
}

// checkNode checks a node's input and output counts.
func checkNode(d *NodeDef, inLo, inHi, outLo, outHi int) error {
	if err := checkArity("inputs", d.NumInputs, inLo, inHi); err != nil {
		return err
	}
	return checkArity("outputs", d.NumOutputs, outLo, outHi)
}

// need returns an error unless in has at least n entries and the first n
// are present: an op's required inputs.
func need[T any](in []*T, n int) error {
	if len(in) < n {
		return fmt.Errorf("needs %d inputs, got %d", n, len(in))
	}
	for i := range n {
		if in[i] == nil {
			return fmt.Errorf("input %d is required", i)
		}
	}
	return nil
}

// opt returns in[i], or nil when the optional input is absent.
func opt[T any](in []*T, i int) *T {
	if i < len(in) {
		return in[i]
	}
	return nil
}

// prod returns the product of sizes.
func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// sameType returns an error unless every present info has element type t.
func sameType(t onnx.DataType, in ...*Info) error {
	for _, x := range in {
		if x != nil && x.DType != t {
			return fmt.Errorf("inputs have element types %v and %v", t, x.DType)
		}
	}
	return nil
}

// oneOf returns an error unless t is one of types.
func oneOf(t onnx.DataType, types ...onnx.DataType) error {
	if slices.Contains(types, t) {
		return nil
	}
	return fmt.Errorf("element type %v is not supported (want one of %v)", t, types)
}

// Element type sets the ops accept.
var (
	floatTypes   = []onnx.DataType{onnx.Float, onnx.Double}
	numericTypes = []onnx.DataType{onnx.Float, onnx.Double, onnx.Int64, onnx.Int32, onnx.Int8, onnx.Uint8}
	intTypes     = []onnx.DataType{onnx.Int64, onnx.Int32, onnx.Int8, onnx.Uint8}
)

// isInt reports whether t is an integer element type (not BOOL).
func isInt(t onnx.DataType) bool { return slices.Contains(intTypes, t) }

// info returns an Info of type t and shape shape (not copied).
func info(t onnx.DataType, shape []Dim) *Info { return &Info{DType: t, Shape: shape} }

// Symbolic products. A dimension that is a constant times symbolic sizes
// (the 4·N of a head split, the N·S of a flattened batch) is named by a
// canonical string: the constant, unless 1, then the factors in order,
// joined by "*" ("4*N", "N*S"); two such dimensions are Same when their
// names are, and splitDims reads a name back into its factors.

// product returns the dimension known × the product of the named sizes.
func product(known int, syms []string) Dim {
	switch {
	case len(syms) == 0:
		return Dim{Size: known}
	case known == 0:
		return Dim{Size: 0}
	}
	parts := slices.Sorted(slices.Values(syms))
	if known != 1 {
		parts = append([]string{strconv.Itoa(known)}, parts...)
	}
	return Dim{Size: -1, Param: strings.Join(parts, "*")}
}

// satMul multiplies sizes, saturating rather than overflow (a hostile
// shape cannot wrap a product).
func satMul(a, b int) int {
	if b != 0 && a > maxValueElems/b {
		return maxValueElems
	}
	return a * b
}

// dimsProduct returns what is known of the product of dims: its size when
// every dim is known, a symbolic product when the unknown ones are
// symbolic, else an unknown dim.
func dimsProduct(dims []Dim) Dim {
	known, syms, unknown := splitDims(dims)
	if unknown {
		return Unknown()
	}
	return product(known, syms)
}

// splitDims returns the product of the known dims and constant factors,
// the symbolic factors, and whether some dim is unknown without a name.
func splitDims(dims []Dim) (known int, syms []string, unknown bool) {
	known = 1
	for _, d := range dims {
		switch {
		case d.Known():
			known = satMul(known, d.Size)
		case d.Param != "":
			for _, f := range strings.Split(d.Param, "*") {
				if n, err := strconv.Atoi(f); err == nil && n > 0 {
					known = satMul(known, n)
				} else {
					syms = append(syms, f)
				}
			}
		default:
			unknown = true
		}
	}
	return known, syms, unknown
}

// broadcastDims returns the NumPy broadcast of shapes a and b as far as
// it is known, or an error when two known sizes differ and neither is 1.
func broadcastDims(a, b []Dim) ([]Dim, error) {
	n := max(len(a), len(b))
	out := make([]Dim, n)
	for i := range n {
		da, db := Dim{Size: 1}, Dim{Size: 1}
		if j := i - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da.Size == 1:
			out[i] = db
		case db.Size == 1, da.Same(db):
			out[i] = da
		case da.Known() && db.Known():
			return nil, fmt.Errorf("shapes %s and %s do not broadcast (%d and %d at dimension %d)", ShapeString(a), ShapeString(b), da.Size, db.Size, i)
		case da.Known():
			out[i] = da // db is unknown: it must be da or 1
		case db.Known():
			out[i] = db
		default:
			out[i] = Unknown()
		}
	}
	return out, nil
}

// broadcastShapes returns the NumPy broadcast of static shapes.
func broadcastShapes(shapes ...[]int) ([]int, error) {
	out := []int{}
	for _, s := range shapes {
		var err error
		if out, err = tensor.BroadcastShapes(out, s); err != nil {
			return nil, fmt.Errorf("shapes %v do not broadcast", shapes)
		}
	}
	return out, nil
}

// shapeLike reports whether values of type t can be shape arithmetic
// whose elements inference tracks: integers and BOOL (comparisons of
// shapes).
func shapeLike(t onnx.DataType) bool { return isInt(t) || t == onnx.Bool }

// known returns the Elem of a known value.
func known(v int) Elem { return Elem{Value: v, Known: true} }

// same reports whether e and f are known to be equal.
func (e Elem) same(f Elem) bool {
	if e.Known || f.Known {
		return e.Known && f.Known && e.Value == f.Value
	}
	return e.Param != "" && e.Param == f.Param
}

// elemsLen returns the length of the broadcast of element lists of the
// given lengths (NumPy's rule on one dimension), ok false when they do
// not broadcast.
func elemsLen(lens ...int) (n int, ok bool) {
	n = 1
	for _, l := range lens {
		switch {
		case l == n, l == 1:
		case n == 1:
			n = l
		default:
			return 0, false
		}
	}
	return n, true
}

// elemsOf returns what is known of the elements of a small integer or
// BOOL value of rank 0 or 1, or nil.
func elemsOf(in *Info) []Elem {
	if in == nil || !shapeLike(in.DType) || in.Rank() > 1 {
		return nil
	}
	if in.Rank() == 1 && (!in.Shape[0].Known() || in.Shape[0].Size > maxShapeElems) {
		return nil
	}
	if in.Const != nil && in.DType == onnx.Bool {
		out := make([]Elem, len(in.Const.U8))
		for i, v := range in.Const.U8 {
			out[i] = known(int(v))
		}
		return out
	}
	e, ok := in.IntElems()
	if !ok {
		return nil
	}
	return e
}

// withElems sets out.Elems to elems when out is a small integer or BOOL
// value of rank 0 or 1 with that many elements, and returns out.
func withElems(out *Info, elems []Elem) *Info {
	if elems == nil || !shapeLike(out.DType) || out.Rank() > 1 || len(elems) > maxShapeElems {
		return out
	}
	n := 1
	if out.Rank() == 1 {
		if !out.Shape[0].Known() {
			return out
		}
		n = out.Shape[0].Size
	}
	if n == len(elems) {
		out.Elems = slices.Clone(elems)
	}
	return out
}

// view returns a tensor of the given shape sharing x's data.
func view(x *Tensor, shape []int) *Tensor {
	v := *x
	v.Shape = shape
	return &v
}

// words is a tensor's data seen as unsigned integers of its element's
// width, for the ops that move elements without looking at them. Exactly
// one slice is set (or none for an empty tensor).
type words struct {
	b1 []uint8
	b4 []uint32
	b8 []uint64
}

func reinterpret[T, U any](s []T) []U {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*U)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

func wordsOf(x *Tensor) words {
	switch x.DType {
	case onnx.Float:
		return words{b4: reinterpret[float32, uint32](x.F32)}
	case onnx.Int32, onnx.Int16, onnx.Uint16:
		return words{b4: reinterpret[int32, uint32](x.I32)}
	case onnx.Double:
		return words{b8: reinterpret[float64, uint64](x.F64)}
	case onnx.Int64:
		return words{b8: reinterpret[int64, uint64](x.I64)}
	case onnx.Int8, onnx.Int4:
		return words{b1: reinterpret[int8, uint8](x.I8)}
	}
	return words{b1: x.U8}
}

// region is a strided view of a tensor's data: element (i0, i1, ...) is
// at off + i0*strides[0] + i1*strides[1] + ...
type region struct {
	off     int
	strides []int
}

// stridedCopy copies the elements of src's region into dst's region, both
// of the given shape, for tensors of the same element type. It is the
// engine of Transpose, Slice, Concat, Split, Expand, Tile, Gather and Pad:
// a stride of 0 repeats an element (broadcasting), a negative stride walks
// backwards. The regions must lie inside the tensors.
func stridedCopy(ctx *Ctx, dst *Tensor, d region, src *Tensor, s region, shape []int) {
	shape, ds, ss := collapse(shape, d.strides, s.strides)
	dw, sw := wordsOf(dst), wordsOf(src)
	switch {
	case dw.b4 != nil:
		copyRegion(ctx, dw.b4, d.off, ds, sw.b4, s.off, ss, shape)
	case dw.b8 != nil:
		copyRegion(ctx, dw.b8, d.off, ds, sw.b8, s.off, ss, shape)
	case dw.b1 != nil:
		copyRegion(ctx, dw.b1, d.off, ds, sw.b1, s.off, ss, shape)
	}
}

// collapse drops the dims of size 1 and merges adjacent dims that both
// regions walk contiguously; a shape with a 0 becomes [0].
func collapse(shape, ds, ss []int) ([]int, []int, []int) {
	var sh, d, s []int
	for i, n := range shape {
		switch {
		case n == 0:
			return []int{0}, []int{0}, []int{0}
		case n == 1:
			continue
		}
		if k := len(sh) - 1; k >= 0 && d[k] == ds[i]*n && s[k] == ss[i]*n {
			sh[k] *= n
			d[k], s[k] = ds[i], ss[i]
			continue
		}
		sh, d, s = append(sh, n), append(d, ds[i]), append(s, ss[i])
	}
	if len(sh) == 0 {
		return []int{1}, []int{1}, []int{1}
	}
	return sh, d, s
}

// copyRegion is stridedCopy on one element width, after collapse: rows of
// the last dim, split across goroutines when large.
func copyRegion[T any](ctx *Ctx, dst []T, doff int, ds []int, src []T, soff int, ss []int, shape []int) {
	last := len(shape) - 1
	n, dstep, sstep := shape[last], ds[last], ss[last]
	if n == 0 {
		return
	}
	outer := shape[:last]
	rows := 1
	for _, m := range outer {
		rows *= m
	}
	ctx.Parallel(rows, max(1, grainElems/n), func(lo, hi int) {
		idx := make([]int, len(outer))
		do, so := doff, soff
		r := lo
		for k := len(outer) - 1; k >= 0; k-- {
			idx[k] = r % outer[k]
			r /= outer[k]
			do += idx[k] * ds[k]
			so += idx[k] * ss[k]
		}
		for range hi - lo {
			copyRow(dst, do, dstep, src, so, sstep, n)
			for k := len(outer) - 1; k >= 0; k-- {
				idx[k]++
				do += ds[k]
				so += ss[k]
				if idx[k] < outer[k] {
					break
				}
				do -= ds[k] * outer[k]
				so -= ss[k] * outer[k]
				idx[k] = 0
			}
		}
	})
}

// copyRow copies n elements from src (every sstep) to dst (every dstep).
func copyRow[T any](dst []T, do, dstep int, src []T, so, sstep, n int) {
	switch {
	case dstep == 1 && sstep == 1:
		copy(dst[do:do+n], src[so:so+n])
	case dstep == 1 && sstep == 0:
		fill(dst[do:do+n], src[so])
	case dstep == 1:
		d := dst[do : do+n]
		for i := range d {
			d[i] = src[so]
			so += sstep
		}
	default:
		for range n {
			dst[do] = src[so]
			do += dstep
			so += sstep
		}
	}
}

// fill sets every element of d to v.
func fill[T any](d []T, v T) {
	for i := range d {
		d[i] = v
	}
}

// contiguous returns the region of a whole tensor of the given shape.
func contiguous(shape []int) region { return region{strides: tensor.Strides(shape)} }

// bcast is the plan of an element-wise op over inputs broadcast to one
// output shape, as rows: the output is walked row by row (the last
// dimension after merging), and each input is, along a row, either a run
// of the row's length (inner[k]) or one element repeated.
type bcast struct {
	shape   []int   // output shape
	n       int     // output elements
	row     int     // row length
	outer   []int   // the merged dims before the row
	strides [][]int // per input, its strides over outer
	inner   []bool  // per input, whether it runs along the row
}

// planBroadcast plans the broadcast of the given input shapes. It returns
// an error when they do not broadcast.
func planBroadcast(shapes ...[]int) (*bcast, error) {
	out, err := broadcastShapes(shapes...)
	if err != nil {
		return nil, err
	}
	p := &bcast{shape: out, n: 1, row: 1, strides: make([][]int, len(shapes)), inner: make([]bool, len(shapes))}
	for _, d := range out {
		p.n *= d
	}
	if p.n == 0 {
		return p, nil
	}
	// has[k][j]: input k has merged dim j itself (is not broadcast along it).
	var dims []int
	var has [][]bool
	r := len(out)
	for i, d := range out {
		if d == 1 {
			continue
		}
		h := make([]bool, len(shapes))
		for k, s := range shapes {
			j := i - (r - len(s))
			h[k] = j >= 0 && s[j] == d
		}
		if last := len(dims) - 1; last >= 0 && slices.Equal(has[last], h) {
			dims[last] *= d
			continue
		}
		dims, has = append(dims, d), append(has, h)
	}
	if len(dims) == 0 {
		for k := range shapes {
			p.inner[k] = true
			p.strides[k] = []int{}
		}
		return p, nil
	}
	last := len(dims) - 1
	p.row, p.outer = dims[last], dims[:last]
	for k := range shapes {
		p.inner[k] = has[last][k]
		st := make([]int, last)
		acc := 1
		if p.inner[k] {
			acc = p.row
		}
		for j := last - 1; j >= 0; j-- {
			if has[j][k] {
				st[j] = acc
				acc *= dims[j]
			}
		}
		p.strides[k] = st
	}
	return p, nil
}

// rows calls fn for every row of the output, or for segments of rows
// when they are long, possibly from several goroutines: o is the first
// output element of the segment, n its length, and offs[k] input k's
// element at its start (fn must not keep offs).
func (p *bcast) rows(ctx *Ctx, fn func(o, n int, offs []int)) {
	if p.n == 0 {
		return
	}
	seg := min(p.row, grainElems)
	segs := (p.row + seg - 1) / seg
	units := p.n / p.row * segs
	ctx.Parallel(units, max(1, grainElems/seg), func(lo, hi int) {
		idx := make([]int, len(p.outer))
		offs := make([]int, len(p.strides))
		at := make([]int, len(p.strides))
		r, first := lo/segs, lo%segs
		for j := len(p.outer) - 1; j >= 0; j-- {
			idx[j] = r % p.outer[j]
			r /= p.outer[j]
			for k, st := range p.strides {
				offs[k] += idx[j] * st[j]
			}
		}
		for u := lo; u < hi; {
			row := u / segs
			for g := first; g < segs && u < hi; g, u = g+1, u+1 {
				j0 := g * seg
				for k := range at {
					at[k] = offs[k]
					if p.inner[k] {
						at[k] += j0
					}
				}
				fn(row*p.row+j0, min(seg, p.row-j0), at)
			}
			first = 0
			for j := len(p.outer) - 1; j >= 0; j-- {
				idx[j]++
				for k, st := range p.strides {
					offs[k] += st[j]
				}
				if idx[j] < p.outer[j] {
					break
				}
				for k, st := range p.strides {
					offs[k] -= st[j] * p.outer[j]
				}
				idx[j] = 0
			}
		}
	})
}

// arg returns input k's operand for a segment of n elements at off: a run
// of n, or its one repeated element as a slice of length 1.
func arg[T any](p *bcast, x []T, k, off, n int) []T {
	if p.inner[k] {
		return x[off : off+n]
	}
	return x[off : off+1]
}
