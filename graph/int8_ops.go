package graph

import (
	"cmp"
	"fmt"
	"slices"
	"sync"

	"github.com/tensorquant/tensorquant/internal/qgemm"
	"github.com/tensorquant/tensorquant/onnx"
)

// QLinearConv, ConvInteger, QLinearMatMul and MatMulInteger: convolutions
// (1 or 2 spatial dimensions, grouped and depthwise included) and matrix
// products of INT8 or UINT8 values with int32 accumulation, through
// internal/qgemm. The QLinear ops requantize as ONNX Runtime does:
// clamp(roundHalfEven(float32(C)·(a_scale·w_scale/y_scale)) + y_zero_point)
// with the scale product in float32; the Integer ops output the int32 sums.
// The weights are packed on every run; the int8 pass (int8_pass.go) packs
// them once.

func init() {
	Register("", "QLinearConv", func(d *NodeDef) (Op, error) { return newIntConv(d, true) })
	Register("", "ConvInteger", func(d *NodeDef) (Op, error) { return newIntConv(d, false) })
	Register("", "QLinearMatMul", func(d *NodeDef) (Op, error) { return intMatMulOp{linear: true}, checkNode(d, 8, 8, 1, 1) })
	Register("", "MatMulInteger", func(d *NodeDef) (Op, error) { return intMatMulOp{}, checkNode(d, 2, 4, 1, 1) })
}

// qKind is what an integer product writes.
type qKind uint8

const (
	qInt32      qKind = iota // the int32 sums (ConvInteger, MatMulInteger)
	qQuant                   // requantized INT8 or UINT8 codes (QLinear ops)
	qFloat                   // dequantized floats (a product followed by DequantizeLinear or a float consumer)
	qFloatQuant              // qFloat's values (their activation applied) quantized per tensor: INT8 or UINT8 codes
)

// qOut is the output of an integer product: its kind, its element type
// (INT32, INT8, UINT8 or FLOAT) and the constants of its epilogue.
type qOut struct {
	kind  qKind
	dtype onnx.DataType
	bias  []int32 // nil, or one per output channel (qInt32, qQuant)
	req   qgemm.Requant
	deq   qgemm.Dequant  // qFloat, qFloatQuant
	quant qgemm.Quantize // qFloatQuant
}

// isCode reports whether t is an element type of the integer products'
// operands.
func isCode(t onnx.DataType) bool { return t == onnx.Int8 || t == onnx.Uint8 }

// codes returns t's INT8 or UINT8 data as int32 values.
func codes(t *Tensor) []int32 {
	out := make([]int32, t.Len())
	for i := range out {
		if t.DType == onnx.Int8 {
			out[i] = int32(t.I8[i])
		} else {
			out[i] = int32(t.U8[i])
		}
	}
	return out
}

// scalarOf returns the one value of a FLOAT scale, or an error naming it.
func scalarOf(t *Tensor, name string) (float32, error) {
	if t == nil || t.DType != onnx.Float || t.Len() != 1 {
		return 0, fmt.Errorf("%s is %v, want one FLOAT value", name, t)
	}
	return t.F32[0], nil
}

// zeroPointOf returns the zero point of values of type dt: 0 when zp is
// absent, else its one value, which must have type dt.
func zeroPointOf(zp *Tensor, dt onnx.DataType, name string) (int32, error) {
	if zp == nil {
		return 0, nil
	}
	if zp.DType != dt || zp.Len() != 1 {
		return 0, fmt.Errorf("%s is %v, want one %v value", name, zp, dt)
	}
	return codes(zp)[0], nil
}

// perChannel checks that t (a scale or zero point called name) has one
// value, or n in one dimension (one per output channel).
func perChannel(t *Tensor, n int, name string) error {
	if t.Len() != 1 && (t.Len() != n || len(t.Shape) != 1) {
		return fmt.Errorf("%s is %v, want one value or %d (one per output channel)", name, t, n)
	}
	return nil
}

// requant returns the requantization of products with activation scale
// as, weight scales ws (one or one per channel) and output scale ys,
// zero point zy, into codes of type dt bounded by [lo, hi] (the type's
// range, or a fused activation's).
func requant(as float32, ws []float32, ys float32, zy, lo, hi int32) qgemm.Requant {
	q := qgemm.Requant{Scale: make([]float32, len(ws)), ZeroPoint: zy, Min: lo, Max: hi}
	for i, w := range ws {
		q.Scale[i] = as * w / ys
	}
	return q
}

// codeRange returns the range of an INT8 or UINT8 code.
func codeRange(dt onnx.DataType) (int32, int32) {
	if dt == onnx.Int8 {
		return -128, 127
	}
	return 0, 255
}

// qConv is a convolution with integer arithmetic: its attributes, its
// weights packed (for some input size: qgemm.ConvWeights.ForShape adapts
// them) and its output.
type qConv struct {
	conv   *convOp
	wShape []int // [M, C/group, k...]
	w      *qgemm.ConvWeights
	out    qOut
}

// geometry returns the qgemm shape of the convolution on an input of
// shape x, and the output shape.
func (q *qConv) geometry(x []int) (qgemm.Conv, []int, error) {
	dims := len(x) - 2
	if dims < 1 || dims > 2 || len(q.wShape) != len(x) {
		return qgemm.Conv{}, nil, fmt.Errorf("input shape %v, weight %v: integer convolutions have 1 or 2 spatial dimensions", x, q.wShape)
	}
	g := q.conv.group
	if x[1] != q.wShape[1]*g {
		return qgemm.Conv{}, nil, fmt.Errorf("input shape %v has %d channels, the weight %v and group %d want %d", x, x[1], q.wShape, g, q.wShape[1]*g)
	}
	c := qgemm.Conv{Batch: x[0], InC: x[1], OutC: q.wShape[0], Groups: g, InH: 1, KH: 1}
	out := []int{x[0], q.wShape[0]}
	for i := range dims {
		k := q.wShape[2+i]
		o, pb, pe, err := q.conv.win.forward(i, dims, x[2+i], k)
		if err != nil {
			return qgemm.Conv{}, nil, fmt.Errorf("input shape %v: %w", x, err)
		}
		s, d := at(q.conv.win.strides, i, 1), at(q.conv.win.dilations, i, 1)
		if i == dims-1 {
			c.InW, c.KW, c.StrideW, c.DilationW, c.PadLeft, c.PadRight = x[2+i], k, s, d, pb, pe
		} else {
			c.InH, c.KH, c.StrideH, c.DilationH, c.PadTop, c.PadBottom = x[2+i], k, s, d, pb, pe
		}
		out = append(out, o)
	}
	return c, out, nil
}

// run computes the convolution of x (codes, zero point zx, in layout
// in) into a tensor in layout out on ctx's goroutines.
func (q *qConv) run(ctx *Ctx, x *Tensor, zx int32, in, out qgemm.Layout) (*Tensor, error) {
	if !isCode(x.DType) {
		return nil, fmt.Errorf("input is %v, want INT8 or UINT8", x.DType)
	}
	xs := x.Shape
	if in == qgemm.NHWC {
		xs = channelsFirst(xs)
	}
	c, shape, err := q.geometry(xs)
	if err != nil {
		return nil, err
	}
	if out == qgemm.NHWC {
		shape = channelsLast(shape)
	}
	if err := checkValueShape(shape); err != nil {
		return nil, err
	}
	w, err := q.w.ForShape(c)
	if err != nil {
		return nil, err
	}
	y, err := ctx.Alloc(q.out.dtype, shape...)
	if err != nil {
		return nil, err
	}
	l := [2]qgemm.Layout{in, out}
	if x.DType == onnx.Int8 {
		err = convInto(ctx.Threads(), w, l, x.I8, int8(zx), &q.out, y)
	} else {
		err = convInto(ctx.Threads(), w, l, x.U8, uint8(zx), &q.out, y)
	}
	return y, err
}

func convInto[X qgemm.Int8](threads int, w *qgemm.ConvWeights, l [2]qgemm.Layout, x []X, zx X, o *qOut, y *Tensor) error {
	switch {
	case o.kind == qInt32:
		return qgemm.ConvInt32(threads, w, l[0], l[1], x, zx, o.bias, y.I32)
	case o.kind == qFloat:
		return qgemm.ConvFloat(threads, w, l[0], l[1], x, zx, o.deq, y.F32)
	case o.kind == qFloatQuant && o.dtype == onnx.Int8:
		return qgemm.ConvFloatQuant(threads, w, l[0], l[1], x, zx, o.deq, o.quant, y.I8)
	case o.kind == qFloatQuant:
		return qgemm.ConvFloatQuant(threads, w, l[0], l[1], x, zx, o.deq, o.quant, y.U8)
	case o.dtype == onnx.Int8:
		return qgemm.ConvQuant(threads, w, l[0], l[1], x, zx, o.bias, o.req, y.I8)
	}
	return qgemm.ConvQuant(threads, w, l[0], l[1], x, zx, o.bias, o.req, y.U8)
}

// channelsLast returns the shape of an [N, C, spatial...] tensor stored
// as [N, spatial..., C] (NHWC), and channelsFirst the reverse; shapes of
// fewer than 3 dimensions are returned as they are.
func channelsLast[D any](s []D) []D {
	if len(s) < 3 {
		return s
	}
	return moveLast(s, 1)
}

// moveLast returns a copy of s with dimension axis moved last.
func moveLast[D any](s []D, axis int) []D {
	return append(slices.Delete(slices.Clone(s), axis, axis+1), s[axis])
}

func channelsFirst[D any](s []D) []D {
	if len(s) < 3 {
		return s
	}
	return append([]D{s[0], s[len(s)-1]}, s[1:len(s)-1]...)
}

// packConv packs the code weights w (shape wShape) with zero points zp
// (one or one per output channel) for the convolution c.
func packConv(c qgemm.Conv, w *Tensor, zp []int32) (*qgemm.ConvWeights, error) {
	if w.DType == onnx.Int8 {
		z := make([]int8, len(zp))
		for i, v := range zp {
			z[i] = int8(v)
		}
		return qgemm.PackConv(c, w.I8, z)
	}
	z := make([]uint8, len(zp))
	for i, v := range zp {
		z[i] = uint8(v)
	}
	return qgemm.PackConv(c, w.U8, z)
}

// intConvOp is QLinearConv (linear) or ConvInteger.
type intConvOp struct {
	conv   *convOp
	linear bool
}

func newIntConv(d *NodeDef, linear bool) (Op, error) {
	lo, hi := 2, 4
	if linear {
		lo, hi = 8, 9
	}
	if err := checkNode(d, lo, hi, 1, 1); err != nil {
		return nil, err
	}
	win, err := readWindow(d, true, false)
	if err != nil {
		return nil, err
	}
	o := &intConvOp{conv: &convOp{win: win}, linear: linear}
	if o.conv.group, err = d.Attrs.Int("group", 1); err != nil {
		return nil, err
	}
	if o.conv.group < 1 {
		return nil, fmt.Errorf("group %d: want at least 1", o.conv.group)
	}
	return o, nil
}

// The input indices of the weight and of the output's zero point.
func (o *intConvOp) weightIndex() int {
	if o.linear {
		return 3
	}
	return 1
}

func (o *intConvOp) Infer(in []*Info) ([]*Info, error) {
	wi := o.weightIndex()
	if err := need(in, wi+1); err != nil {
		return nil, err
	}
	if !isCode(in[0].DType) || !isCode(in[wi].DType) {
		return nil, fmt.Errorf("input and weight are %v and %v, want INT8 or UINT8", in[0].DType, in[wi].DType)
	}
	out, _, _, err := o.conv.shapes(in[0].Shape, in[wi].Shape, nil)
	if err != nil {
		return nil, err
	}
	t := onnx.Int32
	if o.linear {
		if err := need(in, 8); err != nil {
			return nil, err
		}
		if t = in[7].DType; !isCode(t) {
			return nil, fmt.Errorf("y_zero_point is %v, want INT8 or UINT8", t)
		}
	}
	return []*Info{info(t, out)}, nil
}

func (o *intConvOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	wi := o.weightIndex()
	if err := need(in, wi+1); err != nil {
		return nil, err
	}
	x, w := in[0], in[wi]
	if !isCode(x.DType) || !isCode(w.DType) || len(w.Shape) < 3 {
		return nil, fmt.Errorf("input and weight are %v and %v, want INT8 or UINT8 with a kernel", x, w)
	}
	q := &qConv{conv: o.conv, wShape: w.Shape, out: qOut{kind: qInt32, dtype: onnx.Int32}}
	m := w.Shape[0]
	zx, zw, err := readZeroPoints(in, o.linear, x, w, m, &q.out, "x", "w")
	if err != nil {
		return nil, err
	}
	c, _, err := q.geometry(x.Shape)
	if err != nil {
		return nil, err
	}
	if q.w, err = packConv(c, w, zw); err != nil {
		return nil, err
	}
	y, err := q.run(ctx, x, zx, qgemm.NCHW, qgemm.NCHW)
	if err != nil {
		return nil, err
	}
	return []*Tensor{y}, nil
}

// readZeroPoints reads the zero points of the activations x (named
// xname) and of the weights w (wname: one, or one per each of n output
// channels) of a QLinear op (linear: with its requantization, into out)
// or an Integer op (optional zero points).
func readZeroPoints(in []*Tensor, linear bool, x, w *Tensor, n int, out *qOut, xname, wname string) (zx int32, zw []int32, err error) {
	if linear {
		if err := need(in, 8); err != nil {
			return 0, nil, err
		}
		if zx, err = zeroPointOf(in[2], x.DType, xname+"_zero_point"); err != nil {
			return 0, nil, err
		}
		if zw, out.bias, out.req, err = linearParams(in, w.DType, n); err != nil {
			return 0, nil, err
		}
		out.kind, out.dtype = qQuant, in[7].DType
		return zx, zw, nil
	}
	if zx, err = zeroPointOf(opt(in, 2), x.DType, xname+"_zero_point"); err != nil {
		return 0, nil, err
	}
	zw = []int32{0}
	if zp := opt(in, 3); zp != nil {
		if zp.DType != w.DType {
			return 0, nil, fmt.Errorf("%s_zero_point is %v, the operand %v", wname, zp.DType, w.DType)
		}
		if err := perChannel(zp, n, wname+"_zero_point"); err != nil {
			return 0, nil, err
		}
		zw = codes(zp)
	}
	return zx, zw, nil
}

// linearParams reads the weight zero points, the bias and the
// requantization of a QLinearConv (inputs x, x_scale, x_zero_point, w,
// w_scale, w_zero_point, y_scale, y_zero_point, B) or QLinearMatMul (no
// B) whose weights of type wt have n output channels.
func linearParams(in []*Tensor, wt onnx.DataType, n int) (zw, bias []int32, q qgemm.Requant, err error) {
	as, err := scalarOf(in[1], "x_scale")
	if err != nil {
		return nil, nil, q, err
	}
	ws, wzp := in[4], in[5]
	if ws == nil || ws.DType != onnx.Float {
		return nil, nil, q, fmt.Errorf("w_scale is %v, want FLOAT", ws)
	}
	if err := perChannel(ws, n, "w_scale"); err != nil {
		return nil, nil, q, err
	}
	if wzp == nil || wzp.DType != wt {
		return nil, nil, q, fmt.Errorf("w_zero_point is %v, want %v", wzp, wt)
	}
	if err := perChannel(wzp, n, "w_zero_point"); err != nil {
		return nil, nil, q, err
	}
	ys, err := scalarOf(in[6], "y_scale")
	if err != nil {
		return nil, nil, q, err
	}
	yzp := in[7]
	if yzp == nil || !isCode(yzp.DType) || yzp.Len() != 1 {
		return nil, nil, q, fmt.Errorf("y_zero_point is %v, want one INT8 or UINT8 value", yzp)
	}
	lo, hi := codeRange(yzp.DType)
	q = requant(as, ws.F32, ys, codes(yzp)[0], lo, hi)
	if b := opt(in, 8); b != nil {
		if b.DType != onnx.Int32 || b.Len() != n || len(b.Shape) != 1 {
			return nil, nil, q, fmt.Errorf("bias is %v, want INT32 [%d]", b, n)
		}
		bias = b.I32
	}
	return codes(wzp), bias, q, nil
}

// qMatMul is a product of activations [..., M, K] by constant K×N
// weights with integer arithmetic, the weights packed.
type qMatMul struct {
	w   *qgemm.Weights
	out qOut
}

// run computes the product of x (codes, zero point zx, its last
// dimension K) into a tensor of shape shape.
func (q *qMatMul) run(ctx *Ctx, x *Tensor, zx int32, shape []int) (*Tensor, error) {
	y, err := ctx.Alloc(q.out.dtype, shape...)
	if err != nil {
		return nil, err
	}
	rows := 0
	if k := q.w.K(); k > 0 {
		rows = x.Len() / k
	}
	return y, q.into(ctx.Threads(), x, 0, rows, zx, y, 0)
}

// into computes rows rows of x from element xoff into y from element
// yoff.
func (q *qMatMul) into(threads int, x *Tensor, xoff, rows int, zx int32, y *Tensor, yoff int) error {
	k := q.w.K()
	if x.DType == onnx.Int8 {
		return matInto(threads, q.w, qgemm.Matrix[int8]{Data: x.I8[xoff : xoff+rows*k], Rows: rows, Stride: max(k, 1), ZeroPoint: int8(zx)}, &q.out, y, yoff)
	}
	return matInto(threads, q.w, qgemm.Matrix[uint8]{Data: x.U8[xoff : xoff+rows*k], Rows: rows, Stride: max(k, 1), ZeroPoint: uint8(zx)}, &q.out, y, yoff)
}

func matInto[X qgemm.Int8](threads int, w *qgemm.Weights, a qgemm.Matrix[X], o *qOut, y *Tensor, off int) error {
	n := max(w.N(), 1)
	switch {
	case o.kind == qInt32:
		return qgemm.MatMulInt32(threads, a, w, o.bias, y.I32[off:], n)
	case o.kind == qFloat:
		return qgemm.MatMulFloat(threads, a, w, o.deq, y.F32[off:], n)
	case o.kind == qFloatQuant && o.dtype == onnx.Int8:
		return qgemm.MatMulFloatQuant(threads, a, w, o.deq, o.quant, y.I8[off:], n)
	case o.kind == qFloatQuant:
		return qgemm.MatMulFloatQuant(threads, a, w, o.deq, o.quant, y.U8[off:], n)
	case o.dtype == onnx.Int8:
		return qgemm.MatMulQuant(threads, a, w, o.bias, o.req, y.I8[off:], n)
	}
	return qgemm.MatMulQuant(threads, a, w, o.bias, o.req, y.U8[off:], n)
}

// packMatrix packs the K×N code matrix at offset off of b (transposed:
// stored N×K) with zero points zp (one or one per column).
func packMatrix(b *Tensor, off, k, n int, transposed bool, zp []int32) (*qgemm.Weights, error) {
	ld := n
	if transposed {
		ld = k
	}
	ld = max(ld, 1)
	if b.DType == onnx.Int8 {
		z := make([]int8, len(zp))
		for i, v := range zp {
			z[i] = int8(v)
		}
		return qgemm.PackMatrix(b.I8[off:off+k*n], k, n, ld, transposed, z)
	}
	z := make([]uint8, len(zp))
	for i, v := range zp {
		z[i] = uint8(v)
	}
	return qgemm.PackMatrix(b.U8[off:off+k*n], k, n, ld, transposed, z)
}

// intMatMulOp is QLinearMatMul (linear) or MatMulInteger, with MatMul's
// broadcasting of batch dimensions.
type intMatMulOp struct{ linear bool }

func (o intMatMulOp) bIndex() int {
	if o.linear {
		return 3
	}
	return 1
}

func (o intMatMulOp) Infer(in []*Info) ([]*Info, error) {
	bi := o.bIndex()
	if err := need(in, bi+1); err != nil {
		return nil, err
	}
	if !isCode(in[0].DType) || !isCode(in[bi].DType) {
		return nil, fmt.Errorf("operands are %v and %v, want INT8 or UINT8", in[0].DType, in[bi].DType)
	}
	shape, err := matmulDims(in[0].Shape, in[bi].Shape)
	if err != nil {
		return nil, err
	}
	t := onnx.Int32
	if o.linear {
		if err := need(in, 8); err != nil {
			return nil, err
		}
		if t = in[7].DType; !isCode(t) {
			return nil, fmt.Errorf("y_zero_point is %v, want INT8 or UINT8", t)
		}
	}
	return []*Info{info(t, shape)}, nil
}

func (o intMatMulOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	bi := o.bIndex()
	if err := need(in, bi+1); err != nil {
		return nil, err
	}
	a, b := in[0], in[bi]
	p, err := newCodeMatMul(a, b)
	if err != nil {
		return nil, err
	}
	out := qOut{kind: qInt32, dtype: onnx.Int32}
	za, zb, err := readZeroPoints(in, o.linear, a, b, p.n, &out, "a", "b")
	if err != nil {
		return nil, err
	}
	y, err := p.run(ctx, a, b, za, zb, out)
	if err != nil {
		return nil, err
	}
	return []*Tensor{y}, nil
}

// codeMatMul is a MatMul of code tensors A [..., M, K] and B [..., K, N]
// whose B is packed as it runs (QLinearMatMul, MatMulInteger, the int8
// pass's QMatMulDynamic), with MatMul's broadcasting of batch dimensions.
type codeMatMul struct {
	out     []int // the output's shape
	m, k, n int
	ab, bb  []int // the batch dimensions of A and B
}

// newCodeMatMul checks the operands a and b: codes of shapes MatMul
// takes, with a nonempty inner dimension.
func newCodeMatMul(a, b *Tensor) (*codeMatMul, error) {
	if !isCode(a.DType) || !isCode(b.DType) {
		return nil, fmt.Errorf("operands are %v and %v, want INT8 or UINT8", a.DType, b.DType)
	}
	shape, err := matmulDims(Sizes(a.Shape...), Sizes(b.Shape...))
	if err != nil {
		return nil, err
	}
	p := &codeMatMul{out: ints(shape)}
	if err := checkValueShape(p.out); err != nil {
		return nil, err
	}
	p.m, p.k, p.n, p.ab, p.bb = matmulOperands(a.Shape, b.Shape)
	if p.k == 0 {
		return nil, fmt.Errorf("operands %v and %v have an empty inner dimension", a, b)
	}
	return p, nil
}

// run computes the product into a new tensor of out's type: one product
// per output batch (a's and b's batches by broadcasting), that batch of b
// packed with zero points zb, a's zero point za. The batches go to
// goroutines (each product is often small: a head of attention); fewer
// batches than threads share the rest within each product.
func (p *codeMatMul) run(ctx *Ctx, a, b *Tensor, za int32, zb []int32, out qOut) (*Tensor, error) {
	y, err := ctx.Alloc(out.dtype, p.out...)
	if err != nil {
		return nil, err
	}
	ob := ints(mustBroadcast(p.ab, p.bb))
	batches := prod(ob)
	per := max(1, ctx.Threads()/max(batches, 1))
	var first error
	var mu sync.Mutex
	ctx.Parallel(batches, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ia, ib := batchIndex(i, ob, p.ab), batchIndex(i, ob, p.bb)
			q := &qMatMul{out: out}
			var err error
			if q.w, err = packMatrix(b, ib*p.k*p.n, p.k, p.n, false, zb); err == nil {
				err = q.into(per, a, ia*p.m*p.k, p.m, za, y, i*p.m*p.n)
			}
			if err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
				return
			}
		}
	})
	if first != nil {
		return nil, first
	}
	return y, nil
}

// mustBroadcast returns the broadcast of two batch shapes that Infer (or
// matmulDims) has checked.
func mustBroadcast(a, b []int) []Dim {
	d, err := broadcastDims(Sizes(a...), Sizes(b...))
	if err != nil {
		return Sizes(a...)
	}
	return d
}

// batchIndex returns the index in batch shape s (right-aligned with out,
// broadcasting dimensions of size 1) of output batch i of shape out.
func batchIndex(i int, out, s []int) int {
	idx, stride := 0, 1
	for d := len(out) - 1; d >= 0; d-- {
		c := i % out[d]
		i /= out[d]
		j := d - (len(out) - len(s))
		if j < 0 {
			continue
		}
		if s[j] != 1 {
			idx += c * stride
		}
		stride *= s[j]
	}
	return idx
}
