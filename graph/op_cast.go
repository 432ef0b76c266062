package graph

import (
	"fmt"
	"math"
	"slices"

	"github.com/tensorquant/tensorquant/onnx"
)

func init() {
	Register("", "Cast", newCast)
}

// castTargets are the element types Cast converts to.
var castTargets = []onnx.DataType{onnx.Float, onnx.Double, onnx.Int64, onnx.Int32, onnx.Int8, onnx.Uint8, onnx.Bool}

// castSources are the element types Cast converts from (INT4 and UINT4
// are read as the small integers they hold).
var castSources = append(slices.Clone(castTargets), onnx.Int4, onnx.Uint4)

// castOp is Cast, with the conversions ONNX specifies (and, where it
// leaves them undefined, the choices below):
//
//   - float to float rounds to nearest even; out of range is ±Inf;
//   - float to integer truncates toward zero; out of range saturates to
//     the type's bounds and NaN is 0 (ONNX: undefined; numpy's astype on
//     x86 gives the most negative value instead);
//   - integer to integer keeps the low bits (two's complement);
//   - integer to float rounds to nearest;
//   - anything to BOOL is x != 0 (NaN is true), BOOL to anything 0 or 1.
type castOp struct{ to onnx.DataType }

func newCast(d *NodeDef) (Op, error) {
	if err := checkNode(d, 1, 1, 1, 1); err != nil {
		return nil, err
	}
	to, err := d.Attrs.Int("to", 0)
	if err != nil {
		return nil, err
	}
	if !d.Attrs.Has("to") {
		return nil, fmt.Errorf("attribute to is required")
	}
	if d.Opset >= 19 {
		// saturate only concerns float8 targets, which are not supported.
		if _, err := d.Attrs.Int("saturate", 1); err != nil {
			return nil, err
		}
	}
	t := onnx.DataType(to)
	if !slices.Contains(castTargets, t) {
		return nil, fmt.Errorf("cast to %v is not supported (want one of %v)", t, castTargets)
	}
	return &castOp{to: t}, nil
}

func (o *castOp) Infer(in []*Info) ([]*Info, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if err := oneOf(x.DType, castSources...); err != nil {
		return nil, err
	}
	out := info(o.to, slices.Clone(x.Shape))
	return []*Info{withElems(out, o.castElems(x.DType, elemsOf(x)))}, nil
}

// castElems converts what is known of a shape value's elements: between
// INT64 and INT32 (when the known values fit), and to BOOL.
func (o *castOp) castElems(from onnx.DataType, e []Elem) []Elem {
	if e == nil {
		return nil
	}
	switch {
	case o.to == onnx.Bool:
		out := make([]Elem, len(e))
		for i, d := range e {
			if d.Known {
				out[i] = known(int(b2u(d.Value != 0)))
			}
		}
		return out
	case o.to == from, o.to == onnx.Int64 && isInt(from):
		return e
	case o.to == onnx.Int32 && isInt(from):
		for _, d := range e {
			if d.Value > math.MaxInt32 || d.Value < math.MinInt32 {
				return nil
			}
		}
		return e
	}
	return nil
}

func (o *castOp) Run(ctx *Ctx, in []*Tensor) ([]*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if err := oneOf(x.DType, castSources...); err != nil {
		return nil, err
	}
	out, err := ctx.Alloc(o.to, x.Shape...)
	if err != nil {
		return nil, err
	}
	switch o.to {
	case onnx.Float:
		castTo(ctx, out.F32, x)
	case onnx.Double:
		castTo(ctx, out.F64, x)
	case onnx.Int64:
		castTo(ctx, out.I64, x)
	case onnx.Int32:
		castTo(ctx, out.I32, x)
	case onnx.Int8:
		castTo(ctx, out.I8, x)
	case onnx.Uint8:
		castTo(ctx, out.U8, x)
	default:
		castBool(ctx, out.U8, x)
	}
	return []*Tensor{out}, nil
}

// castTo converts x's elements into d.
func castTo[D number](ctx *Ctx, d []D, x *Tensor) {
	switch x.DType {
	case onnx.Float:
		mapChunks(ctx, d, x.F32, convert[D, float32])
	case onnx.Double:
		mapChunks(ctx, d, x.F64, convert[D, float64])
	case onnx.Int64:
		mapChunks(ctx, d, x.I64, convert[D, int64])
	case onnx.Int32:
		mapChunks(ctx, d, x.I32, convert[D, int32])
	case onnx.Int8, onnx.Int4:
		mapChunks(ctx, d, x.I8, convert[D, int8])
	default:
		mapChunks(ctx, d, x.U8, convert[D, uint8])
	}
}

// castBool converts x's elements into BOOL d: x != 0.
func castBool(ctx *Ctx, d []uint8, x *Tensor) {
	switch x.DType {
	case onnx.Float:
		mapChunks(ctx, d, x.F32, nonZero[float32])
	case onnx.Double:
		mapChunks(ctx, d, x.F64, nonZero[float64])
	case onnx.Int64:
		mapChunks(ctx, d, x.I64, nonZero[int64])
	case onnx.Int32:
		mapChunks(ctx, d, x.I32, nonZero[int32])
	case onnx.Int8, onnx.Int4:
		mapChunks(ctx, d, x.I8, nonZero[int8])
	default:
		mapChunks(ctx, d, x.U8, nonZero[uint8])
	}
}

func nonZero[S number](d []uint8, s []S) {
	s = s[:len(d)]
	for i, v := range s {
		d[i] = b2u(v != 0)
	}
}

// isFloat reports whether T is a floating-point type.
func isFloat[T number]() bool {
	switch any(T(0)).(type) {
	case float32, float64:
		return true
	}
	return false
}

// intLimits returns the range of integer type T.
func intLimits[T number]() (lo, hi int64) {
	switch any(T(0)).(type) {
	case int64:
		return math.MinInt64, math.MaxInt64
	case int32:
		return math.MinInt32, math.MaxInt32
	case int8:
		return math.MinInt8, math.MaxInt8
	case uint8:
		return 0, math.MaxUint8
	}
	return 0, 0
}

// convert converts s into d element by element: Go's conversions, except
// that a float into an integer type saturates (truncSat).
func convert[D, S number](d []D, s []S) {
	s = s[:len(d)]
	if isFloat[S]() && !isFloat[D]() {
		lo, hi := intLimits[D]()
		for i, v := range s {
			d[i] = truncSat[D](float64(v), lo, hi)
		}
		return
	}
	for i, v := range s {
		d[i] = D(v)
	}
}

// truncSat converts f to an integer type of range [lo, hi]: truncated
// toward zero, saturated at the bounds, NaN to 0.
func truncSat[D number](f float64, lo, hi int64) D {
	switch {
	case f != f:
		return 0
	case f <= float64(lo):
		return D(lo)
	case f >= float64(hi):
		// float64(hi) may round up past hi (2^63): anything from there
		// on is out of range.
		return D(hi)
	}
	return D(f)
}
