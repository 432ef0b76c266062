package graph

import (
	"fmt"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/onnx"
)

// QuantizeLinear and DequantizeLinear (opsets 10 to 21): per tensor, per
// axis (13) and per block (21) scales and zero points; INT8, UINT8, INT4,
// UINT4 codes, FP8 E4M3FN and E5M2 codes (19, with saturate), and INT32
// for DequantizeLinear (biases). The arithmetic is package fakequant's,
// which computes bit for bit what ONNX Runtime's CPU kernels compute:
//
//	QuantizeLinear     q = clamp(roundHalfToEven(x / scale), qmin - zp, qmax - zp) + zp   (NaN gives qmin)
//	                   or the FP8 code of x / scale (saturating unless saturate = 0)
//	DequantizeLinear   y = float32(q - zp) · scale                                     (one rounding)
//	                   or the value of the FP8 code · scale

func init() {
	Register("", "QuantizeLinear", func(d *NodeDef) (Op, error) { return newQDQ(d, false) })
	Register("", "DequantizeLinear", func(d *NodeDef) (Op, error) { return newQDQ(d, true) })
}

// qdqOp is QuantizeLinear, or DequantizeLinear (dequant).
type qdqOp struct {
	dequant  bool
	axis     int           // of per-axis and block scales
	block    int           // block_size, 0 without blocks
	saturate bool          // FP8 codes saturate instead of overflowing to NaN or Inf
	outType  onnx.DataType // QuantizeLinear's output_dtype, Undefined when not given
}

func newQDQ(d *NodeDef, dequant bool) (Op, error) {
	if err := checkNode(d, 2, 3, 1, 1); err != nil {
		return nil, err
	}
	o := &qdqOp{dequant: dequant, axis: 1, saturate: true}
	var err error
	if d.Opset >= 13 {
		if o.axis, err = d.Attrs.Int("axis", 1); err != nil {
			return nil, err
		}
	}
	if d.Opset >= 19 && !dequant {
		s, err := d.Attrs.Int("saturate", 1)
		if err != nil {
			return nil, err
		}
		o.saturate = s != 0
	}
	if d.Opset >= 21 {
		if o.block, err = d.Attrs.Int("block_size", 0); err != nil {
			return nil, err
		}
		if o.block < 0 {
			return nil, fmt.Errorf("block_size %d: want 0 (no blocks) or more", o.block)
		}
		if !dequant {
			t, err := d.Attrs.Int("output_dtype", 0)
			if err != nil {
				return nil, err
			}
			o.outType = onnx.DataType(t)
			if t != 0 && qRange(o.outType) == nil {
				return nil, fmt.Errorf("output_dtype %v is not supported (INT8, UINT8, INT4, UINT4, FLOAT8E4M3FN, FLOAT8E5M2)", o.outType)
			}
		}
	}
	return o, nil
}

// qRange returns the code range [qmin, qmax] of an integer code type,
// [0, 0] for an FP8 type, and nil for a type QuantizeLinear does not
// produce here.
func qRange(t onnx.DataType) []int32 {
	switch t {
	case onnx.Int8:
		return []int32{-128, 127}
	case onnx.Uint8:
		return []int32{0, 255}
	case onnx.Int4:
		return []int32{-8, 7}
	case onnx.Uint4:
		return []int32{0, 15}
	case onnx.Float8E4M3FN, onnx.Float8E5M2:
		return []int32{0, 0}
	}
	return nil
}

// isFP8 reports whether t is an FP8 type.
func isFP8(t onnx.DataType) bool { return t == onnx.Float8E4M3FN || t == onnx.Float8E5M2 }

// fp8Format returns the fakequant format of an FP8 type.
func fp8Format(t onnx.DataType) fakequant.FP8Format {
	if t == onnx.Float8E5M2 {
		return fakequant.E5M2
	}
	return fakequant.E4M3FN
}

// qLayout is how scales and zero points map onto the elements of x, seen
// as [outer, dim, inner] around the quantization axis: one for all (per
// tensor), one per index along the axis, or one per block of block
// indices along the axis (and per position of the other axes).
type qLayout struct {
	n, outer, dim, inner int
	perTensor            bool
	block                int
}

// types returns the output type for the input types, and an error for
// types the op does not compute with.
func (o *qdqOp) types(x, scale, zp *Info) (onnx.DataType, error) {
	if scale.DType != onnx.Float {
		return 0, fmt.Errorf("scale is %v, only FLOAT is supported", scale.DType)
	}
	if o.dequant {
		if x.DType != onnx.Int32 && qRange(x.DType) == nil {
			return 0, fmt.Errorf("input is %v, want INT8, UINT8, INT32, INT4, UINT4, FLOAT8E4M3FN or FLOAT8E5M2", x.DType)
		}
		if zp != nil && zp.DType != x.DType {
			return 0, fmt.Errorf("zero point is %v, the input %v", zp.DType, x.DType)
		}
		return onnx.Float, nil
	}
	if x.DType != onnx.Float {
		return 0, fmt.Errorf("input is %v, only FLOAT is supported", x.DType)
	}
	t := o.outType
	if zp != nil {
		if t != onnx.Undefined && t != zp.DType {
			return 0, fmt.Errorf("output_dtype %v differs from the zero point's type %v", t, zp.DType)
		}
		t = zp.DType
	}
	if t == onnx.Undefined {
		t = onnx.Uint8
	}
	if qRange(t) == nil {
		return 0, fmt.Errorf("zero point is %v, want INT8, UINT8, INT4, UINT4, FLOAT8E4M3FN or FLOAT8E5M2", t)
	}
	return t, nil
}

// layout checks the shapes of x, the scale and the zero point (nil:
// absent) and returns the layout, as far as the shapes are known (ok
// false when some dimension is not).
func (o *qdqOp) layout(x, scale, zp []Dim, hasZP bool) (l qLayout, ok bool, err error) {
	if hasZP && (len(zp) != len(scale) || !sameDims(zp, scale)) {
		return l, false, fmt.Errorf("zero point shape %s differs from the scale's %s", ShapeString(zp), ShapeString(scale))
	}
	xs, ok := (&Info{Shape: x}).Static()
	ss, sok := (&Info{Shape: scale}).Static()
	ok = ok && sok
	if o.block == 0 && (len(scale) == 0 || len(scale) == 1 && scale[0].Size == 1) {
		l.perTensor = true
		if ok {
			l.n, l.outer, l.dim, l.inner = prod(xs), 1, 1, prod(xs)
		}
		return l, ok, nil
	}
	a, err := normAxis(o.axis, len(x))
	if err != nil {
		return l, false, err
	}
	if o.block == 0 {
		if len(scale) != 1 {
			return l, false, fmt.Errorf("scale shape %s: want a scalar, or a vector along axis %d", ShapeString(scale), a)
		}
		if scale[0].Known() && x[a].Known() && scale[0].Size != x[a].Size {
			return l, false, fmt.Errorf("scale shape %s: want [%d], the size of axis %d of the input %s", ShapeString(scale), x[a].Size, a, ShapeString(x))
		}
	} else {
		if len(scale) != len(x) {
			return l, false, fmt.Errorf("scale shape %s: block quantization wants the input's rank (%s)", ShapeString(scale), ShapeString(x))
		}
		for i, d := range scale {
			want := x[i]
			if i == a && x[i].Known() {
				want = Dim{Size: (x[i].Size + o.block - 1) / o.block}
			}
			if d.Known() && want.Known() && d.Size != want.Size {
				return l, false, fmt.Errorf("scale shape %s: block_size %d along axis %d of the input %s wants %s", ShapeString(scale), o.block, a, ShapeString(x), want)
			}
		}
	}
	if ok {
		l = qLayout{n: prod(xs), outer: prod(xs[:a]), dim: xs[a], inner: prod(xs[a+1:]), block: o.block}
		if o.block == 0 && ss[0] != xs[a] || o.block > 0 && prod(ss) != l.outer*((l.dim+o.block-1)/o.block)*l.inner {
			return l, false, fmt.Errorf("scale shape %v does not fit the input %v", ss, xs)
		}
	}
	return l, ok, nil
}

// sameDims reports whether every known pair of dims agrees.
func sameDims(a, b []Dim) bool {
	for i := range a {
		if a[i].Known() && b[i].Known() && a[i].Size != b[i].Size {
			return false
		}
	}
	return true
}

func (o *qdqOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	zp := opt(in, 2)
	t, err := o.types(in[0], in[1], zp)
	if err != nil {
		return nil, err
	}
	var zs []Dim
	if zp != nil {
		zs = zp.Shape
	}
	if _, _, err := o.layout(in[0].Shape, in[1].Shape, zs, zp != nil); err != nil {
		return nil, err
	}
	return []*Info{info(t, in[0].Shape)}, nil
}

// prepare checks the inputs x, scale and zp (nil: absent) of a run and
// returns the output type, the layout and the zero points as int32 (of
// the codes' type).
func (o *qdqOp) prepare(x, scale, zp *Tensor) (onnx.DataType, qLayout, []int32, error) {
	var zi *Info
	var zs []Dim
	if zp != nil {
		zi, zs = InfoOf(zp), Sizes(zp.Shape...)
	}
	t, err := o.types(InfoOf(x), InfoOf(scale), zi)
	if err != nil {
		return 0, qLayout{}, nil, err
	}
	l, _, err := o.layout(Sizes(x.Shape...), Sizes(scale.Shape...), zs, zp != nil)
	if err != nil {
		return 0, qLayout{}, nil, err
	}
	codeType := t
	if o.dequant {
		codeType = x.DType
	}
	zps, err := zeroPoints(zp, len(scale.F32), codeType)
	return t, l, zps, err
}

func (o *qdqOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	x, scale, zp := in[0], in[1], opt(in, 2)
	t, l, zps, err := o.prepare(x, scale, zp)
	if err != nil {
		return nil, err
	}
	y, err := ctx.Alloc(t, x.Shape...)
	if err != nil {
		return nil, err
	}
	sc := scale.F32
	if o.dequant {
		l.runs(ctx, func(at, n, s, step int) {
			dst := y.F32[at : at+n]
			switch x.DType {
			case onnx.Int8, onnx.Int4:
				dequantRun(dst, x.I8[at:at+n], sc[s:], zps[s:], step)
			case onnx.Uint8, onnx.Uint4:
				dequantRun(dst, x.U8[at:at+n], sc[s:], zps[s:], step)
			case onnx.Int32:
				dequantRun(dst, x.I32[at:at+n], sc[s:], zps[s:], step)
			default:
				dequantFP8Run(dst, x.U8[at:at+n], sc[s:], step, fp8Format(x.DType))
			}
		})
		return []*Tensor{y}, nil
	}
	r := qRange(t)
	l.runs(ctx, func(at, n, s, step int) {
		src := x.F32[at : at+n]
		switch t {
		case onnx.Int8, onnx.Int4:
			quantRun(y.I8[at:at+n], src, sc[s:], zps[s:], step, r[0], r[1])
		case onnx.Uint8, onnx.Uint4:
			quantRun(y.U8[at:at+n], src, sc[s:], zps[s:], step, r[0], r[1])
		default:
			quantFP8Run(y.U8[at:at+n], src, sc[s:], step, fp8Format(t), o.saturate)
		}
	})
	return []*Tensor{y}, nil
}

// zeroPoints returns the zero points as int32 (n zeros when zp is nil),
// checking that integer ones lie in their type's range and FP8 ones are
// 0 (ONNX and ONNX Runtime allow no other).
func zeroPoints(zp *Tensor, n int, t onnx.DataType) ([]int32, error) {
	out := make([]int32, n)
	if zp == nil {
		return out, nil
	}
	switch zp.DType {
	case onnx.Int8, onnx.Int4:
		for i, z := range zp.I8 {
			out[i] = int32(z)
		}
	case onnx.Int32:
		copy(out, zp.I32)
	default:
		for i, z := range zp.U8 {
			out[i] = int32(z)
		}
	}
	for i, z := range out {
		switch r := qRange(t); {
		case isFP8(t) && z != 0:
			return nil, fmt.Errorf("zero point code %#x at index %d: an FP8 zero point must be 0", z, i)
		case r != nil && !isFP8(t) && (z < r[0] || z > r[1]):
			return nil, fmt.Errorf("zero point %d at index %d is outside the %v range [%d, %d]", z, i, t, r[0], r[1])
		}
	}
	return out, nil
}

// runs calls f for runs of n consecutive elements from at that read
// scales and zero points from index s on, advancing by step (0: one for
// the run, 1: one per element), splitting the work across goroutines.
func (l *qLayout) runs(ctx *Ctx, f func(at, n, s, step int)) {
	switch {
	case l.n == 0:
	case l.perTensor:
		ctx.Parallel(l.n, grainElems, func(lo, hi int) { f(lo, hi-lo, 0, 0) })
	case l.block == 0:
		// Row (o, a) of inner elements has scale a.
		ctx.Parallel(l.outer*l.dim, max(1, grainElems/max(l.inner, 1)), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				f(r*l.inner, l.inner, r%l.dim, 0)
			}
		})
	case l.inner == 1:
		// Blocks along the last axis: a run per block.
		nb := (l.dim + l.block - 1) / l.block
		ctx.Parallel(l.outer*nb, max(1, grainElems/l.block), func(lo, hi int) {
			for b := lo; b < hi; b++ {
				o, k := b/nb, b%nb
				start := k * l.block
				f(o*l.dim+start, min(l.block, l.dim-start), b, 0)
			}
		})
	default:
		// Row (o, a) of inner elements has the inner scales of block a/block.
		nb := (l.dim + l.block - 1) / l.block
		ctx.Parallel(l.outer*l.dim, max(1, grainElems/l.inner), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				o, a := r/l.dim, r%l.dim
				f(r*l.inner, l.inner, (o*nb+a/l.block)*l.inner, 1)
			}
		})
	}
}

// quantRun quantizes src to integer codes in [qmin, qmax] with scale and
// zero point k·step of sc and zp for element k: per tensor (step 0) in
// fakequant's SIMD kernel, which refuses only a zero point outside the
// range, which the scalar definition handles.
func quantRun[T int8 | uint8](dst []T, src, sc []float32, zp []int32, step int, qmin, qmax int32) {
	if step == 0 && fakequant.QuantizeLinearCodes(dst, src, sc[0], zp[0], qmin, qmax) == nil {
		return
	}
	for i, v := range src {
		dst[i] = T(fakequant.QuantizeLinear(v, sc[i*step], zp[i*step], qmin, qmax))
	}
}

// fp8Chunk is the number of elements quantFP8Run divides before encoding
// them at once.
const fp8Chunk = 256

// quantFP8Run encodes src / scale as FP8 codes of format f, scale k·step
// of sc for element k: the division in float32, then
// fakequant.EncodeFP8, which is what fakequant.QuantizeFP8 does for a
// finite positive scale, for any scale.
func quantFP8Run(dst []uint8, src, sc []float32, step int, f fakequant.FP8Format, saturate bool) {
	var buf [fp8Chunk]float32
	for at := 0; at < len(src); at += fp8Chunk {
		part := src[at:min(at+fp8Chunk, len(src))]
		for i, v := range part {
			buf[i] = v / sc[(at+i)*step]
		}
		// It cannot fail: f is a valid format and dst as long as src.
		_ = fakequant.EncodeFP8(dst[at:at+len(part)], buf[:len(part)], f, saturate)
	}
}

// dequantRun computes float32(q - zp)·scale with scale and zero point
// k·step of sc and zp for element k.
func dequantRun[T int8 | uint8 | int32](dst []float32, src []T, sc []float32, zp []int32, step int) {
	if step == 0 {
		s, z := sc[0], zp[0]
		if _, wide := any(src).([]int32); !wide && len(src) >= dequantTableMin {
			table := codeValues[T](z, s)
			dst = dst[:len(src)]
			for i, q := range src {
				dst[i] = table[uint8(q)]
			}
			return
		}
		for i, q := range src {
			dst[i] = fakequant.DequantizeLinear(int32(q), z, s)
		}
		return
	}
	for i, q := range src {
		dst[i] = fakequant.DequantizeLinear(int32(q), zp[i], sc[i])
	}
}

// codeValues returns DequantizeLinear of each of the 256 byte codes of T
// (by its low byte, uint8(q)), computed once each by the same function:
// from dequantTableMin codes on they are looked up.
func codeValues[T int8 | uint8 | int32](zp int32, scale float32) (table [256]float32) {
	for b := range table {
		table[b] = fakequant.DequantizeLinear(int32(T(b)), zp, scale)
	}
	return table
}

// dequantTableMin is the run of byte codes from which dequantRun looks
// their values up in a table of the 256: 0.5-0.7 ms against 1.2 ms for a
// million int8 codes (the conversion and product per element).
const dequantTableMin = 1024

// dequantFP8Run decodes FP8 codes of format f and multiplies each value
// by its scale (k·step of sc for element k), one rounding, as
// fakequant.DequantizeFP8 does.
func dequantFP8Run(dst []float32, src []uint8, sc []float32, step int, f fakequant.FP8Format) {
	// It cannot fail: f is a valid format and dst as long as src.
	_ = fakequant.DecodeFP8(dst, src, f)
	if step == 0 {
		s := sc[0]
		for i := range dst {
			dst[i] *= s
		}
		return
	}
	for i := range dst {
		dst[i] *= sc[i]
	}
}
