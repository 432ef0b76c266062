package graph

import (
	"fmt"
	"math"
	"slices"

	"github.com/tensorquant/tensorquant/internal/vecmath"
	"github.com/tensorquant/tensorquant/onnx"
)

// The element-wise ops of two or more inputs with NumPy multidirectional
// broadcasting: Add, Sub, Mul, Div, Pow, Min, Max, Equal, Less, Greater
// and Where.

func init() {
	arith := func(name string, k *kernels3, e func(a, b int) (int, bool), ident int, commutes bool) {
		Register("", name, func(d *NodeDef) (Op, error) {
			if err := checkNode(d, 2, 2, 1, 1); err != nil {
				return nil, err
			}
			o := &binaryOp{name: name, types: numericTypes, arith: k, elems: e, identity: ident, commutes: commutes}
			return o, o.legacy(d)
		})
	}
	arith("Add", &kernels3{vecK(vecmath.Add, vecmath.AddScalar, vecmath.AddScalar), addK[float64], addK[int64], addK[int32], addK[int8], addK[uint8]},
		func(a, b int) (int, bool) { return a + b, true }, 0, true)
	arith("Sub", &kernels3{vecK(vecmath.Sub, vecmath.SubScalar, vecmath.ScalarSub), subK[float64], subK[int64], subK[int32], subK[int8], subK[uint8]},
		func(a, b int) (int, bool) { return a - b, true }, 0, false)
	arith("Mul", &kernels3{vecK(vecmath.Mul, vecmath.MulScalar, vecmath.MulScalar), mulK[float64], mulK[int64], mulK[int32], mulK[int8], mulK[uint8]},
		func(a, b int) (int, bool) { return a * b, true }, 1, true)
	symbolic["Mul"] = func(x, y Dim) (Dim, error) { return dimsProduct([]Dim{x, y}), nil }
	symbolic["Div"] = func(x, y Dim) (Dim, error) { return quotient([]Dim{x}, []Dim{y}) }
	arith("Div", &kernels3{vecK(vecmath.Div, vecmath.DivScalar, vecmath.ScalarDiv), divK[float64], divK[int64], divK[int32], divK[int8], divK[uint8]},
		func(a, b int) (int, bool) {
			if b == 0 {
				return 0, false
			}
			return a / b, true
		}, 1, false)
	cmp := func(name string, k *cmpKernels, swap bool, types []onnx.DataType, e func(a, b int) bool) {
		Register("", name, func(d *NodeDef) (Op, error) {
			if err := checkNode(d, 2, 2, 1, 1); err != nil {
				return nil, err
			}
			return &binaryOp{name: name, types: types, cmp: k, swap: swap, cmpElems: e}, nil
		})
	}
	less := &cmpKernels{lessK[float32], lessK[float64], lessK[int64], lessK[int32], lessK[int8], lessK[uint8]}
	cmp("Less", less, false, numericTypes, func(a, b int) bool { return a < b })
	cmp("Greater", less, true, numericTypes, func(a, b int) bool { return a > b })
	cmp("Equal", &cmpKernels{equalK[float32], equalK[float64], equalK[int64], equalK[int32], equalK[int8], equalK[uint8]},
		false, append(slices.Clone(numericTypes), onnx.Bool), func(a, b int) bool { return a == b })
	variadic := func(name string, k *kernels3) {
		Register("", name, func(d *NodeDef) (Op, error) {
			if err := checkNode(d, 1, -1, 1, 1); err != nil {
				return nil, err
			}
			return &variadicOp{arith: k}, nil
		})
	}
	variadic("Min", &kernels3{minK[float32], minK[float64], minK[int64], minK[int32], minK[int8], minK[uint8]})
	variadic("Max", &kernels3{maxK[float32], maxK[float64], maxK[int64], maxK[int32], maxK[int8], maxK[uint8]})
	Register("", "Pow", func(d *NodeDef) (Op, error) {
		if err := checkNode(d, 2, 2, 1, 1); err != nil {
			return nil, err
		}
		return powOp{}, nil
	})
	Register("", "Where", func(d *NodeDef) (Op, error) {
		if err := checkNode(d, 3, 3, 1, 1); err != nil {
			return nil, err
		}
		return whereOp{}, nil
	})
}

// symbolic does an op's arithmetic on sizes that may be symbolic
// products (Mul: 4·N; Div: N·S / S), for shape arithmetic.
var symbolic = map[string]func(x, y Dim) (Dim, error){}

// number is the set of element types the arithmetic kernels compute on.
type number interface {
	float32 | float64 | int64 | int32 | int8 | uint8
}

// kernels3 holds one kernel per element type for an op of two operands:
// d = f(a, b), where a and b each have len(d) elements or one element
// that is repeated (broadcast). The kernels may run with d aliasing a
// or b.
type kernels3 struct {
	f32 func(d, a, b []float32)
	f64 func(d, a, b []float64)
	i64 func(d, a, b []int64)
	i32 func(d, a, b []int32)
	i8  func(d, a, b []int8)
	u8  func(d, a, b []uint8)
}

// cmpKernels holds the kernels of a comparison, whose result is BOOL.
type cmpKernels struct {
	f32 func(d []uint8, a, b []float32)
	f64 func(d []uint8, a, b []float64)
	i64 func(d []uint8, a, b []int64)
	i32 func(d []uint8, a, b []int32)
	i8  func(d []uint8, a, b []int8)
	u8  func(d []uint8, a, b []uint8)
}

// binaryOp is an element-wise op of two broadcast inputs: arithmetic
// (arith, the result has the inputs' type) or a comparison (cmp, BOOL).
type binaryOp struct {
	name  string
	types []onnx.DataType
	arith *kernels3
	cmp   *cmpKernels
	swap  bool // compute f(b, a) (Greater is Less swapped)
	// elems computes one element of shape arithmetic (Info.Elems) on
	// integers; identity is the right operand that leaves the left one
	// unchanged (x+0, x*1 ...), on either side when the op commutes.
	// cmpElems is a comparison's.
	elems    func(a, b int) (int, bool)
	identity int
	commutes bool
	cmpElems func(a, b int) bool
	// aligned is set by the axis attribute of opset < 7 with
	// broadcast=1: B's dimensions align with A's from legacyAxis on
	// (else NumPy broadcasting).
	aligned    bool
	legacyAxis int
}

// legacy reads the broadcast and axis attributes of opset < 7 (Add-6 ...).
// NumPy broadcasting covers what broadcast=1 allows (B's shape a suffix
// of A's, or aligned at axis), and what broadcast=0 requires (equal
// shapes).
func (o *binaryOp) legacy(d *NodeDef) error {
	if d.Opset >= 7 {
		return nil
	}
	bc, err := d.Attrs.Int("broadcast", 0)
	if err != nil {
		return err
	}
	if bc != 0 && d.Attrs.Has("axis") {
		o.aligned = true
		if o.legacyAxis, err = d.Attrs.Int("axis", 0); err == nil && o.legacyAxis < 0 {
			err = fmt.Errorf("axis %d is negative", o.legacyAxis)
		}
	}
	return err
}

// alignB returns B's shape aligned for broadcasting against A's rank: with
// a legacy axis, padded with 1s after its dimensions.
func alignB[D any](o *binaryOp, rankA int, b []D, one D) ([]D, error) {
	if !o.aligned {
		return b, nil
	}
	pad := rankA - o.legacyAxis - len(b)
	if pad < 0 {
		return nil, fmt.Errorf("input B of rank %d does not fit input A of rank %d from axis %d", len(b), rankA, o.legacyAxis)
	}
	out := slices.Clone(b)
	for range pad {
		out = append(out, one)
	}
	return out, nil
}

func (o *binaryOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	a, b := in[0], in[1]
	if err := oneOf(a.DType, o.types...); err != nil {
		return nil, err
	}
	if err := sameType(a.DType, b); err != nil {
		return nil, err
	}
	bs, err := alignB(o, a.Rank(), b.Shape, Dim{Size: 1})
	if err != nil {
		return nil, err
	}
	shape, err := broadcastDims(a.Shape, bs)
	if err != nil {
		return nil, err
	}
	if o.cmp != nil {
		return []*Info{withElems(info(onnx.Bool, shape), o.cmpShapeElems(elemsOf(a), elemsOf(b)))}, nil
	}
	out := info(a.DType, shape)
	return []*Info{withElems(out, o.shapeElems(elemsOf(a), elemsOf(b)))}, nil
}

// shapeElems does the op's arithmetic on what is known of two small
// integer values (one of them may be a single element, broadcast).
func (o *binaryOp) shapeElems(a, b []Elem) []Elem {
	n, ok := elemsLen(len(a), len(b))
	if a == nil || b == nil || !ok {
		return nil
	}
	out := make([]Elem, n)
	for i := range out {
		x, y := a[min(i, len(a)-1)], b[min(i, len(b)-1)]
		switch {
		case x.Known && y.Known:
			v, ok := o.elems(x.Value, y.Value)
			if !ok {
				return nil
			}
			out[i] = known(v)
		case y.Known && y.Value == o.identity:
			out[i] = x
		case o.commutes && x.Known && x.Value == o.identity:
			out[i] = y
		case symbolic[o.name] != nil && x.dim() != Unknown() && y.dim() != Unknown():
			if d, err := symbolic[o.name](x.dim(), y.dim()); err == nil {
				out[i] = elemOfDim(d)
			}
		}
	}
	return out
}

func (o *binaryOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	a, b := in[0], in[1]
	if a.DType != b.DType {
		return nil, fmt.Errorf("inputs have element types %v and %v", a.DType, b.DType)
	}
	if err := oneOf(a.DType, o.types...); err != nil {
		return nil, err
	}
	ia, ib := 0, 1
	if o.aligned {
		bs, err := alignB(o, len(a.Shape), b.Shape, 1)
		if err != nil {
			return nil, err
		}
		b = view(b, bs)
	}
	if o.swap {
		a, b, ia, ib = b, a, ib, ia
	}
	p, err := planBroadcast(a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	if o.cmp != nil {
		out, err := ctx.Alloc(onnx.Bool, p.shape...)
		if err != nil {
			return nil, err
		}
		runCmp(ctx, p, out, a, b, o.cmp)
		return []*Tensor{out}, nil
	}
	if o.name == "Div" && isInt(a.DType) {
		if err := checkDivisor(b); err != nil {
			return nil, err
		}
	}
	out, err := outputFor(ctx, p.shape, a, ia, b, ib)
	if err != nil {
		return nil, err
	}
	runArith(ctx, p, out, a, b, o.arith)
	return []*Tensor{out}, nil
}

// outputFor returns the output of an element-wise op with inputs a (input
// ia of the node) and b: one of them, overwritten in place, when it may be
// and has the output's shape, else a new tensor of a's type.
func outputFor(ctx *Ctx, shape []int, a *Tensor, ia int, b *Tensor, ib int) (*Tensor, error) {
	switch {
	case ctx.Reusable(ia) && slices.Equal(a.Shape, shape):
		return a, nil
	case ctx.Reusable(ib) && slices.Equal(b.Shape, shape) && b.DType == a.DType:
		return b, nil
	}
	return ctx.Alloc(a.DType, shape...)
}

// checkDivisor returns an error if an integer divisor has a zero element.
func checkDivisor(b *Tensor) error {
	v, err := b.Ints()
	if err != nil {
		return err
	}
	if i := slices.Index(v, 0); i >= 0 {
		return fmt.Errorf("integer division by zero (element %d of the divisor)", i)
	}
	return nil
}

// runArith computes out = f(a, b) row by row with the kernel of out's type.
func runArith(ctx *Ctx, p *bcast, out, a, b *Tensor, k *kernels3) {
	switch out.DType {
	case onnx.Float:
		rowsOf(ctx, p, out.F32, a.F32, b.F32, k.f32)
	case onnx.Double:
		rowsOf(ctx, p, out.F64, a.F64, b.F64, k.f64)
	case onnx.Int64:
		rowsOf(ctx, p, out.I64, a.I64, b.I64, k.i64)
	case onnx.Int32:
		rowsOf(ctx, p, out.I32, a.I32, b.I32, k.i32)
	case onnx.Int8:
		rowsOf(ctx, p, out.I8, a.I8, b.I8, k.i8)
	default:
		rowsOf(ctx, p, out.U8, a.U8, b.U8, k.u8)
	}
}

// runCmp computes the BOOL out = f(a, b) with the kernel of a's type.
func runCmp(ctx *Ctx, p *bcast, out, a, b *Tensor, k *cmpKernels) {
	switch a.DType {
	case onnx.Float:
		rowsOf(ctx, p, out.U8, a.F32, b.F32, k.f32)
	case onnx.Double:
		rowsOf(ctx, p, out.U8, a.F64, b.F64, k.f64)
	case onnx.Int64:
		rowsOf(ctx, p, out.U8, a.I64, b.I64, k.i64)
	case onnx.Int32:
		rowsOf(ctx, p, out.U8, a.I32, b.I32, k.i32)
	case onnx.Int8:
		rowsOf(ctx, p, out.U8, a.I8, b.I8, k.i8)
	default:
		rowsOf(ctx, p, out.U8, a.U8, b.U8, k.u8)
	}
}

// rowsOf runs kernel k over the rows of a broadcast plan of two inputs.
func rowsOf[D, A, B any](ctx *Ctx, p *bcast, d []D, a []A, b []B, k func(d []D, a []A, b []B)) {
	p.rows(ctx, func(o, n int, offs []int) {
		k(d[o:o+n], arg(p, a, 0, offs[0], n), arg(p, b, 1, offs[1], n))
	})
}

// vecK makes the FLOAT kernel of an arithmetic op from internal/vecmath's:
// vv for two runs, vs for a run and a repeated b (a[i] op s), sv for a
// repeated a (s op b[i]; vs again for an op that commutes, whose results
// are the same bits either way).
func vecK(vv func(d, a, b []float32), vs, sv func(d, a []float32, s float32)) func(d, a, b []float32) {
	return func(d, a, b []float32) {
		switch {
		case len(a) < len(d):
			sv(d, b[:len(d)], a[0])
		case len(b) < len(d):
			vs(d, a[:len(d)], b[0])
		default:
			vv(d, a[:len(d)], b[:len(d)])
		}
	}
}

// The arithmetic kernels. Each has three loops: a repeated, b repeated,
// both runs (a run is len(d) long; a repeated operand has one element).

func addK[T number](d, a, b []T) {
	switch {
	case len(a) < len(d):
		s, b := a[0], b[:len(d)]
		for i := range d {
			d[i] = s + b[i]
		}
	case len(b) < len(d):
		s, a := b[0], a[:len(d)]
		for i := range d {
			d[i] = a[i] + s
		}
	default:
		a, b := a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] + b[i]
		}
	}
}

func subK[T number](d, a, b []T) {
	switch {
	case len(a) < len(d):
		s, b := a[0], b[:len(d)]
		for i := range d {
			d[i] = s - b[i]
		}
	case len(b) < len(d):
		s, a := b[0], a[:len(d)]
		for i := range d {
			d[i] = a[i] - s
		}
	default:
		a, b := a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] - b[i]
		}
	}
}

func mulK[T number](d, a, b []T) {
	switch {
	case len(a) < len(d):
		s, b := a[0], b[:len(d)]
		for i := range d {
			d[i] = s * b[i]
		}
	case len(b) < len(d):
		s, a := b[0], a[:len(d)]
		for i := range d {
			d[i] = a[i] * s
		}
	default:
		a, b := a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] * b[i]
		}
	}
}

// divK divides; integer division truncates toward zero (the caller has
// checked for zero divisors).
func divK[T number](d, a, b []T) {
	switch {
	case len(a) < len(d):
		s, b := a[0], b[:len(d)]
		for i := range d {
			d[i] = s / b[i]
		}
	case len(b) < len(d):
		s, a := b[0], a[:len(d)]
		for i := range d {
			d[i] = a[i] / s
		}
	default:
		a, b := a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = a[i] / b[i]
		}
	}
}

// Min and Max use Go's min and max, which propagate NaN as numpy.minimum
// and numpy.maximum do, and compile without branches.

func minK[T number](d, a, b []T) {
	switch {
	case len(a) < len(d):
		s, b := a[0], b[:len(d)]
		for i := range d {
			d[i] = min(s, b[i])
		}
	case len(b) < len(d):
		s, a := b[0], a[:len(d)]
		for i := range d {
			d[i] = min(a[i], s)
		}
	default:
		a, b := a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = min(a[i], b[i])
		}
	}
}

func maxK[T number](d, a, b []T) {
	switch {
	case len(a) < len(d):
		s, b := a[0], b[:len(d)]
		for i := range d {
			d[i] = max(s, b[i])
		}
	case len(b) < len(d):
		s, a := b[0], a[:len(d)]
		for i := range d {
			d[i] = max(a[i], s)
		}
	default:
		a, b := a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = max(a[i], b[i])
		}
	}
}

// b2u converts a bool to a BOOL element.
func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func lessK[T number](d []uint8, a, b []T) {
	switch {
	case len(a) < len(d):
		s, b := a[0], b[:len(d)]
		for i := range d {
			d[i] = b2u(s < b[i])
		}
	case len(b) < len(d):
		s, a := b[0], a[:len(d)]
		for i := range d {
			d[i] = b2u(a[i] < s)
		}
	default:
		a, b := a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = b2u(a[i] < b[i])
		}
	}
}

func equalK[T number](d []uint8, a, b []T) {
	switch {
	case len(a) < len(d):
		s, b := a[0], b[:len(d)]
		for i := range d {
			d[i] = b2u(s == b[i])
		}
	case len(b) < len(d):
		s, a := b[0], a[:len(d)]
		for i := range d {
			d[i] = b2u(a[i] == s)
		}
	default:
		a, b := a[:len(d)], b[:len(d)]
		for i := range d {
			d[i] = b2u(a[i] == b[i])
		}
	}
}

// cmpShapeElems compares what is known of two small integer values.
func (o *binaryOp) cmpShapeElems(a, b []Elem) []Elem {
	n, ok := elemsLen(len(a), len(b))
	if a == nil || b == nil || !ok {
		return nil
	}
	out := make([]Elem, n)
	// A symbolic dimension's size is not negative: against a negative
	// value it compares as 0 would.
	sym := func(e, other Elem) bool { return e.Param != "" && other.Known && other.Value < 0 }
	for i := range out {
		x, y := a[min(i, len(a)-1)], b[min(i, len(b)-1)]
		switch {
		case sym(x, y):
			x = known(0)
		case sym(y, x):
			y = known(0)
		}
		switch {
		case x.Known && y.Known:
			out[i] = known(int(b2u(o.cmpElems(x.Value, y.Value))))
		case o.name == "Equal" && x.same(y):
			out[i] = known(1)
		}
	}
	return out
}

// variadicOp is Min or Max: the element-wise fold of one or more inputs
// broadcast together.
type variadicOp struct{ arith *kernels3 }

func (o *variadicOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, max(len(in), 1)); err != nil {
		return nil, err
	}
	if err := oneOf(in[0].DType, numericTypes...); err != nil {
		return nil, err
	}
	shape := in[0].Shape
	for _, x := range in[1:] {
		if err := sameType(in[0].DType, x); err != nil {
			return nil, err
		}
		var err error
		if shape, err = broadcastDims(shape, x.Shape); err != nil {
			return nil, err
		}
	}
	return []*Info{info(in[0].DType, slices.Clone(shape))}, nil
}

func (o *variadicOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, max(len(in), 1)); err != nil {
		return nil, err
	}
	shapes := make([][]int, len(in))
	for i, x := range in {
		if x.DType != in[0].DType {
			return nil, fmt.Errorf("inputs have element types %v and %v", in[0].DType, x.DType)
		}
		shapes[i] = x.Shape
	}
	if err := oneOf(in[0].DType, numericTypes...); err != nil {
		return nil, err
	}
	shape, err := broadcastShapes(shapes...)
	if err != nil {
		return nil, err
	}
	// out starts as the first input broadcast to the output shape, then
	// folds in the others.
	var out *Tensor
	if ctx.Reusable(0) && slices.Equal(in[0].Shape, shape) {
		out = in[0]
	} else {
		if out, err = ctx.Alloc(in[0].DType, shape...); err != nil {
			return nil, err
		}
		stridedCopy(ctx, out, contiguous(shape), in[0], region{strides: broadcastStrides(in[0].Shape, shape)}, shape)
	}
	for _, x := range in[1:] {
		p, err := planBroadcast(shape, x.Shape)
		if err != nil {
			return nil, err
		}
		runArith(ctx, p, out, out, x, o.arith)
	}
	return []*Tensor{out}, nil
}

// broadcastStrides returns the strides that read a tensor of shape in as
// if it had the broadcast shape out (0 along broadcast dims).
func broadcastStrides(in, out []int) []int {
	s := make([]int, len(out))
	st := contiguous(in).strides
	off := len(out) - len(in)
	for i, d := range in {
		if d == out[off+i] {
			s[off+i] = st[i]
		}
	}
	return s
}

// powOp is Pow: base to the power exponent, broadcast; the result has the
// base's type. Float bases use math.Pow (exact squares for exponent 2);
// integer powers of integers are exact (wrapping on overflow), and an
// integer base with a float exponent truncates the float result.
type powOp struct{}

var powBaseTypes = []onnx.DataType{onnx.Float, onnx.Double, onnx.Int64, onnx.Int32}

func (powOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	if err := oneOf(in[0].DType, powBaseTypes...); err != nil {
		return nil, err
	}
	if err := oneOf(in[1].DType, numericTypes...); err != nil {
		return nil, fmt.Errorf("exponent: %w", err)
	}
	shape, err := broadcastDims(in[0].Shape, in[1].Shape)
	if err != nil {
		return nil, err
	}
	return []*Info{info(in[0].DType, shape)}, nil
}

func (powOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	a, e := in[0], in[1]
	if err := oneOf(a.DType, powBaseTypes...); err != nil {
		return nil, err
	}
	p, err := planBroadcast(a.Shape, e.Shape)
	if err != nil {
		return nil, err
	}
	out, err := outputFor(ctx, p.shape, a, 0, a, 0)
	if err != nil {
		return nil, err
	}
	if isInt(a.DType) && isInt(e.DType) {
		ev, err := e.Ints()
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(ev, func(v int) bool { return v < 0 }); i >= 0 {
			if av, _ := a.Ints(); slices.Contains(av, 0) {
				return nil, fmt.Errorf("0 raised to the negative power %d (exponent element %d)", ev[i], i)
			}
		}
		if a.DType == onnx.Int64 {
			rowsOf(ctx, p, out.I64, a.I64, ev, powInt[int64])
		} else {
			rowsOf(ctx, p, out.I32, a.I32, ev, powInt[int32])
		}
		return []*Tensor{out}, nil
	}
	ef, err := floatsOf(e)
	if err != nil {
		return nil, err
	}
	switch a.DType {
	case onnx.Float:
		rowsOf(ctx, p, out.F32, a.F32, ef, powFloat[float32])
	case onnx.Double:
		rowsOf(ctx, p, out.F64, a.F64, ef, powFloat[float64])
	case onnx.Int64:
		rowsOf(ctx, p, out.I64, a.I64, ef, powIntFloat[int64])
	default:
		rowsOf(ctx, p, out.I32, a.I32, ef, powIntFloat[int32])
	}
	return []*Tensor{out}, nil
}

// floatsOf returns the elements of a numeric tensor as float64.
func floatsOf(x *Tensor) ([]float64, error) {
	out := make([]float64, x.Len())
	switch x.DType {
	case onnx.Float:
		for i, v := range x.F32 {
			out[i] = float64(v)
		}
	case onnx.Double:
		copy(out, x.F64)
	default:
		v, err := x.Ints()
		if err != nil {
			return nil, err
		}
		for i, n := range v {
			out[i] = float64(n)
		}
	}
	return out, nil
}

// powFloat raises floats to float powers; the operands are runs of len(d)
// or one repeated element (a square of a run is the fast path).
func powFloat[T float32 | float64](d, a []T, e []float64) {
	if len(e) == 1 && e[0] == 2 && len(a) == len(d) {
		for i, v := range a {
			d[i] = v * v
		}
		return
	}
	for i := range d {
		d[i] = T(math.Pow(float64(a[min(i, len(a)-1)]), e[min(i, len(e)-1)]))
	}
}

func powIntFloat[T int64 | int32](d, a []T, e []float64) {
	lo, hi := intLimits[T]()
	for i := range d {
		d[i] = truncSat[T](math.Pow(float64(a[min(i, len(a)-1)]), e[min(i, len(e)-1)]), lo, hi)
	}
}

// powInt raises integers to integer powers exactly, wrapping on overflow;
// a negative power is the truncated quotient 1/a^-n (the caller rejects
// a zero base).
func powInt[T int64 | int32](d, a []T, e []int) {
	for i := range d {
		x, n := a[min(i, len(a)-1)], e[min(i, len(e)-1)]
		if n < 0 {
			switch x {
			case 1:
				d[i] = 1
			case -1:
				d[i] = 1 - 2*T(-n&1)
			default:
				d[i] = 0
			}
			continue
		}
		r := T(1)
		for n > 0 {
			if n&1 != 0 {
				r *= x
			}
			x *= x
			n >>= 1
		}
		d[i] = r
	}
}

// whereOp is Where: elements of X where the BOOL condition holds, else of
// Y, all three broadcast.
type whereOp struct{}

func (whereOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 3); err != nil {
		return nil, err
	}
	c, x, y := in[0], in[1], in[2]
	if c.DType != onnx.Bool {
		return nil, fmt.Errorf("condition is %v, want BOOL", c.DType)
	}
	if err := sameType(x.DType, y); err != nil {
		return nil, err
	}
	shape, err := broadcastDims(c.Shape, x.Shape)
	if err == nil {
		shape, err = broadcastDims(shape, y.Shape)
	}
	if err != nil {
		return nil, err
	}
	out := info(x.DType, shape)
	ce, xe, ye := elemsOf(c), elemsOf(x), elemsOf(y)
	n, ok := elemsLen(len(ce), len(xe), len(ye))
	if ce == nil || xe == nil || ye == nil || !ok {
		return []*Info{out}, nil
	}
	elems := make([]Elem, n)
	for i := range elems {
		switch cv := ce[min(i, len(ce)-1)]; {
		case !cv.Known:
		case cv.Value != 0:
			elems[i] = xe[min(i, len(xe)-1)]
		default:
			elems[i] = ye[min(i, len(ye)-1)]
		}
	}
	return []*Info{withElems(out, elems)}, nil
}

func (whereOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 3); err != nil {
		return nil, err
	}
	c, x, y := in[0], in[1], in[2]
	if c.DType != onnx.Bool || x.DType != y.DType {
		return nil, fmt.Errorf("inputs are %v, %v and %v, want BOOL and two of one type", c.DType, x.DType, y.DType)
	}
	p, err := planBroadcast(c.Shape, x.Shape, y.Shape)
	if err != nil {
		return nil, err
	}
	out, err := ctx.Alloc(x.DType, p.shape...)
	if err != nil {
		return nil, err
	}
	dw, xw, yw := wordsOf(out), wordsOf(x), wordsOf(y)
	switch {
	case dw.b4 != nil:
		whereRows(ctx, p, dw.b4, c.U8, xw.b4, yw.b4)
	case dw.b8 != nil:
		whereRows(ctx, p, dw.b8, c.U8, xw.b8, yw.b8)
	case dw.b1 != nil:
		whereRows(ctx, p, dw.b1, c.U8, xw.b1, yw.b1)
	}
	return []*Tensor{out}, nil
}

func whereRows[T any](ctx *Ctx, p *bcast, d []T, c []uint8, x, y []T) {
	p.rows(ctx, func(o, n int, offs []int) {
		whereK(d[o:o+n], arg(p, c, 0, offs[0], n), arg(p, x, 1, offs[1], n), arg(p, y, 2, offs[2], n))
	})
}

// whereK selects d[i] from x where c holds, else from y; each operand is
// a run of len(d) or one repeated element.
func whereK[T any](d []T, c []uint8, x, y []T) {
	step := func(n int) int {
		if n == len(d) {
			return 1
		}
		return 0
	}
	sc, sx, sy := step(len(c)), step(len(x)), step(len(y))
	var ic, ix, iy int
	for i := range d {
		if c[ic] != 0 {
			d[i] = x[ix]
		} else {
			d[i] = y[iy]
		}
		ic, ix, iy = ic+sc, ix+sx, iy+sy
	}
}
