package graph

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/tensorquant/tensorquant/internal/vec"
	"github.com/tensorquant/tensorquant/internal/vecmath"
	"github.com/tensorquant/tensorquant/onnx"
)

// The element-wise ops of one input: Sqrt, Erf, Relu, LeakyRelu,
// Sigmoid, HardSigmoid, HardSwish, Tanh, Gelu, Neg, Abs, Exp, Log,
// Reciprocal, Not, and Clip. On FLOAT, Exp, Erf, Tanh, Sigmoid and Gelu
// are internal/vecmath's vector kernels (within 1 to 3.2 ulp of the exact
// functions, see there); the other float math is done in float64 and
// rounded once (math.Sqrt, math.Log), as is all of it on DOUBLE.

func init() {
	float := func(name string, f32 func(d, x []float32), f64 func(d, x []float64)) {
		Register("", name, func(d *NodeDef) (Op, error) {
			if err := checkNode(d, 1, 1, 1, 1); err != nil {
				return nil, err
			}
			return &unaryOp{f32: f32, f64: f64}, nil
		})
	}
	float("Sqrt", mapK[float32](math.Sqrt), mapK[float64](math.Sqrt))
	float("Erf", vecmath.Erf, mapK[float64](math.Erf))
	float("Tanh", vecmath.Tanh, mapK[float64](math.Tanh))
	float("Exp", vecmath.Exp, mapK[float64](math.Exp))
	float("Log", mapK[float32](math.Log), mapK[float64](math.Log))
	float("Sigmoid", vecmath.Sigmoid, mapK[float64](sigmoid))
	float("Reciprocal", reciprocalK[float32], reciprocalK[float64])
	signed := func(name string, k *unaryOp) {
		Register("", name, func(d *NodeDef) (Op, error) {
			if err := checkNode(d, 1, 1, 1, 1); err != nil {
				return nil, err
			}
			return k, nil
		})
	}
	signed("Relu", &unaryOp{f32: vec.ReluTo, f64: reluK[float64], i64: reluK[int64], i32: reluK[int32], i8: reluK[int8]})
	signed("Neg", &unaryOp{f32: negK[float32], f64: negK[float64], i64: negK[int64], i32: negK[int32], i8: negK[int8]})
	signed("Abs", &unaryOp{f32: mapK[float32](math.Abs), f64: mapK[float64](math.Abs), i64: absK[int64], i32: absK[int32], i8: absK[int8], u8: absK[uint8]})
	signed("Not", &unaryOp{bool: true, u8: notK})
	Register("", "LeakyRelu", func(d *NodeDef) (Op, error) {
		if err := checkNode(d, 1, 1, 1, 1); err != nil {
			return nil, err
		}
		alpha, err := d.Attrs.Float("alpha", 0.01)
		if err != nil {
			return nil, err
		}
		return &unaryOp{
			f32: func(d, x []float32) { leakyReluK(d, x, alpha) },
			f64: func(d, x []float64) { leakyReluK64(d, x, float64(alpha)) },
		}, nil
	})
	Register("", "HardSigmoid", func(d *NodeDef) (Op, error) {
		if err := checkNode(d, 1, 1, 1, 1); err != nil {
			return nil, err
		}
		alpha, err := d.Attrs.Float("alpha", 0.2)
		if err != nil {
			return nil, err
		}
		beta, err := d.Attrs.Float("beta", 0.5)
		if err != nil {
			return nil, err
		}
		return &unaryOp{
			f32: func(d, x []float32) { hardSigmoid32(d, x, alpha, beta, false) },
			f64: func(d, x []float64) { hardSigmoidK(d, x, float64(alpha), float64(beta), false) },
		}, nil
	})
	Register("", "HardSwish", func(d *NodeDef) (Op, error) {
		if err := checkNode(d, 1, 1, 1, 1); err != nil {
			return nil, err
		}
		return &unaryOp{
			f32: func(d, x []float32) { hardSigmoid32(d, x, 1.0/6, 0.5, true) },
			f64: func(d, x []float64) { hardSigmoidK(d, x, 1.0/6, 0.5, true) },
		}, nil
	})
	Register("", "Gelu", func(d *NodeDef) (Op, error) {
		if err := checkNode(d, 1, 1, 1, 1); err != nil {
			return nil, err
		}
		approx, err := d.Attrs.String("approximate", "none")
		if err != nil {
			return nil, err
		}
		switch approx {
		case "none":
			return &unaryOp{f32: vecmath.Gelu, f64: mapK[float64](gelu), quantized: vecmath.GeluFast}, nil
		case "tanh":
			return &unaryOp{f32: vecmath.GeluTanh, f64: mapK[float64](geluTanh)}, nil
		}
		return nil, fmt.Errorf("approximate %q is not one of none, tanh", approx)
	})
	Register("", "Clip", newClip)
}

// unaryOp is an element-wise op of one input with a kernel per element
// type it accepts (nil: not accepted); bool marks an op on BOOL (Not).
type unaryOp struct {
	f32  func(d, x []float32)
	f64  func(d, x []float64)
	i64  func(d, x []int64)
	i32  func(d, x []int32)
	i8   func(d, x []int8)
	u8   func(d, x []uint8)
	bool bool
	// quantized, when set, is a faster FLOAT kernel whose error is an
	// absolute one (vecmath.GeluFast: 1e-7): for values that are
	// quantized next, in steps far coarser (the int8-act pass).
	quantized func(d, x []float32)
}

// accepts reports whether the op has a kernel for element type t.
func (o *unaryOp) accepts(t onnx.DataType) bool {
	switch t {
	case onnx.Float:
		return o.f32 != nil
	case onnx.Double:
		return o.f64 != nil
	case onnx.Int64:
		return o.i64 != nil
	case onnx.Int32:
		return o.i32 != nil
	case onnx.Int8:
		return o.i8 != nil
	case onnx.Uint8:
		return o.u8 != nil && !o.bool
	case onnx.Bool:
		return o.bool
	}
	return false
}

func (o *unaryOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	if !o.accepts(in[0].DType) {
		return nil, fmt.Errorf("element type %v is not supported", in[0].DType)
	}
	return []*Info{info(in[0].DType, slices.Clone(in[0].Shape))}, nil
}

func (o *unaryOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if !o.accepts(x.DType) {
		return nil, fmt.Errorf("element type %v is not supported", x.DType)
	}
	out, err := outputFor(ctx, x.Shape, x, 0, x, 0)
	if err != nil {
		return nil, err
	}
	switch x.DType {
	case onnx.Float:
		mapChunks(ctx, out.F32, x.F32, o.f32)
	case onnx.Double:
		mapChunks(ctx, out.F64, x.F64, o.f64)
	case onnx.Int64:
		mapChunks(ctx, out.I64, x.I64, o.i64)
	case onnx.Int32:
		mapChunks(ctx, out.I32, x.I32, o.i32)
	case onnx.Int8:
		mapChunks(ctx, out.I8, x.I8, o.i8)
	default:
		mapChunks(ctx, out.U8, x.U8, o.u8)
	}
	return []*Tensor{out}, nil
}

// mapChunks runs kernel k over d and x in chunks, in parallel when large.
func mapChunks[D, T any](ctx *Ctx, d []D, x []T, k func(d []D, x []T)) {
	ctx.Parallel(len(d), grainElems, func(lo, hi int) { k(d[lo:hi], x[lo:hi]) })
}

// mapK returns a kernel applying f in float64 to each element.
func mapK[T float32 | float64](f func(float64) float64) func(d, x []T) {
	return func(d, x []T) {
		x = x[:len(d)]
		for i, v := range x {
			d[i] = T(f(float64(v)))
		}
	}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// gelu is 0.5·x·(1 + erf(x/√2)).
func gelu(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

// geluTanh is 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func geluTanh(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

func reciprocalK[T float32 | float64](d, x []T) {
	x = x[:len(d)]
	for i, v := range x {
		d[i] = 1 / v
	}
}

// reluK is max(x, 0): NaN passes through and -0 becomes 0 (PyTorch's,
// and layers.ReLU's). Go's max has no branch: a branch on random signs
// costs 8 times as much.
func reluK[T number](d, x []T) {
	x = x[:len(d)]
	for i, v := range x {
		d[i] = max(v, 0)
	}
}

func negK[T number](d, x []T) {
	x = x[:len(d)]
	for i, v := range x {
		d[i] = -v
	}
}

// absK is the integer absolute value (wrapping at the most negative
// value); floats use math.Abs, which also clears the sign of -0.
func absK[T int64 | int32 | int8 | uint8](d, x []T) {
	x = x[:len(d)]
	for i, v := range x {
		if v < 0 {
			v = -v
		}
		d[i] = v
	}
}

func notK(d, x []uint8) {
	x = x[:len(d)]
	for i, v := range x {
		d[i] = b2u(v == 0)
	}
}

// leakyReluK is x where x >= 0, else alpha·x (-0 gives -0, NaN stays
// NaN), selected on the sign bit without a branch.
func leakyReluK(d, x []float32, alpha float32) {
	x = x[:len(d)]
	for i, v := range x {
		b, w := math.Float32bits(v), math.Float32bits(v*alpha)
		neg := uint32(int32(b) >> 31) // all ones when the sign is set
		d[i] = math.Float32frombits(b ^ (b^w)&neg)
	}
}

func leakyReluK64(d, x []float64, alpha float64) {
	x = x[:len(d)]
	for i, v := range x {
		b, w := math.Float64bits(v), math.Float64bits(v*alpha)
		neg := uint64(int64(b) >> 63)
		d[i] = math.Float64frombits(b ^ (b^w)&neg)
	}
}

// clip01 is the clamp of HardSigmoid: to [0, 1], NaN kept, -0 made +0
// (as max(0, min(1, y)) does).
var clip01 = vec.Act{Kind: vec.Clip, Lo: 0, Hi: 1}

// hardSwishBufs holds the blocks of HardSwish's factor: the kernels are
// called through tables, so a block on the stack would escape anyway.
var hardSwishBufs = sync.Pool{New: func() any { return new([512]float32) }}

// hardSigmoid32 is hardSigmoidK on float32 with the vector kernels, bit
// for bit: alpha·x (vecmath.MulScalar), + beta and the clamp (vec.Finish;
// min(max(y, 0), 1) equals max(0, min(1, y)) for every y, NaN and -0
// included), times x (vecmath.Mul) for HardSwish, a block at a time so
// that d may be x.
func hardSigmoid32(d, x []float32, alpha, beta float32, swish bool) {
	x = x[:len(d)]
	var buf *[512]float32
	if swish {
		buf = hardSwishBufs.Get().(*[512]float32)
		defer hardSwishBufs.Put(buf)
	}
	for i := 0; i < len(x); i += 512 {
		xs := x[i:min(i+512, len(x))]
		h := d[i : i+len(xs)]
		if swish {
			h = buf[:len(xs)]
		}
		vecmath.MulScalar(h, xs, alpha)
		vec.Finish(h, beta, true, nil, &clip01)
		if swish {
			vecmath.Mul(d[i:i+len(xs)], h, xs)
		}
	}
}

// hardSigmoidK is max(0, min(1, alpha·x + beta)), times x for HardSwish.
func hardSigmoidK[T float32 | float64](d, x []T, alpha, beta T, swish bool) {
	x = x[:len(d)]
	for i, v := range x {
		h := max(0, min(1, T(alpha*v)+beta)) // NaN stays NaN
		if swish {
			h *= v
		}
		d[i] = h
	}
}

// clipOp is Clip: each element limited to [min, max], which come from
// attributes before opset 11 and from optional scalar inputs since; NaN
// passes through, and min > max gives max (numpy.clip).
type clipOp struct {
	attrs    bool // opset < 11
	min, max float32
}

func newClip(d *NodeDef) (Op, error) {
	if d.Opset >= 11 {
		if err := checkNode(d, 1, 3, 1, 1); err != nil {
			return nil, err
		}
		return &clipOp{}, nil
	}
	if err := checkNode(d, 1, 1, 1, 1); err != nil {
		return nil, err
	}
	lo, err := d.Attrs.Float("min", -math.MaxFloat32)
	if err != nil {
		return nil, err
	}
	hi, err := d.Attrs.Float("max", math.MaxFloat32)
	if err != nil {
		return nil, err
	}
	return &clipOp{attrs: true, min: lo, max: hi}, nil
}

func (o *clipOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	types := numericTypes
	if o.attrs {
		types = floatTypes
	}
	if err := oneOf(x.DType, types...); err != nil {
		return nil, err
	}
	for i, b := range in[1:] {
		if b == nil {
			continue
		}
		if err := sameType(x.DType, b); err != nil {
			return nil, err
		}
		if n := dimsProduct(b.Shape); n.Known() && n.Size != 1 {
			return nil, fmt.Errorf("%s must be a scalar, has shape %s", [2]string{"min", "max"}[i], ShapeString(b.Shape))
		}
	}
	return []*Info{info(x.DType, slices.Clone(x.Shape))}, nil
}

func (o *clipOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	bounds := [2]*Tensor{opt(in, 1), opt(in, 2)}
	for i, b := range bounds {
		if b != nil && (b.DType != x.DType || b.Len() != 1) {
			return nil, fmt.Errorf("%s must be a scalar %v, is %v", [2]string{"min", "max"}[i], x.DType, b)
		}
	}
	out, err := outputFor(ctx, x.Shape, x, 0, x, 0)
	if err != nil {
		return nil, err
	}
	switch x.DType {
	case onnx.Float:
		lo, hi := clipBounds(bounds, func(t *Tensor) []float32 { return t.F32 }, float32(math.Inf(-1)), float32(math.Inf(1)))
		if o.attrs {
			lo, hi = o.min, o.max
		}
		mapChunks(ctx, out.F32, x.F32, func(d, x []float32) { vec.ClipTo(d, x, lo, hi) })
	case onnx.Double:
		lo, hi := clipBounds(bounds, func(t *Tensor) []float64 { return t.F64 }, math.Inf(-1), math.Inf(1))
		if o.attrs {
			lo, hi = float64(o.min), float64(o.max)
		}
		mapChunks(ctx, out.F64, x.F64, func(d, x []float64) { clipK(d, x, lo, hi) })
	case onnx.Int64:
		lo, hi := clipBounds(bounds, func(t *Tensor) []int64 { return t.I64 }, math.MinInt64, math.MaxInt64)
		mapChunks(ctx, out.I64, x.I64, func(d, x []int64) { clipK(d, x, lo, hi) })
	case onnx.Int32:
		lo, hi := clipBounds(bounds, func(t *Tensor) []int32 { return t.I32 }, math.MinInt32, math.MaxInt32)
		mapChunks(ctx, out.I32, x.I32, func(d, x []int32) { clipK(d, x, lo, hi) })
	case onnx.Int8:
		lo, hi := clipBounds(bounds, func(t *Tensor) []int8 { return t.I8 }, math.MinInt8, math.MaxInt8)
		mapChunks(ctx, out.I8, x.I8, func(d, x []int8) { clipK(d, x, lo, hi) })
	case onnx.Uint8:
		lo, hi := clipBounds(bounds, func(t *Tensor) []uint8 { return t.U8 }, 0, math.MaxUint8)
		mapChunks(ctx, out.U8, x.U8, func(d, x []uint8) { clipK(d, x, lo, hi) })
	default:
		return nil, fmt.Errorf("element type %v is not supported", x.DType)
	}
	return []*Tensor{out}, nil
}

// clipBounds returns the present bounds' values, or the defaults.
func clipBounds[T any](b [2]*Tensor, data func(*Tensor) []T, lo, hi T) (T, T) {
	if b[0] != nil {
		lo = data(b[0])[0]
	}
	if b[1] != nil {
		hi = data(b[1])[0]
	}
	return lo, hi
}

// clipK is min(max(x, lo), hi): NaN passes, lo > hi gives hi.
func clipK[T number](d, x []T, lo, hi T) {
	x = x[:len(d)]
	for i, v := range x {
		d[i] = min(max(v, lo), hi)
	}
}
