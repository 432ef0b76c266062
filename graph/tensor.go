package graph

import (
	"fmt"
	"slices"

	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// Tensor is a dense row-major tensor of one of the element types a graph
// computes with. Exactly one of the data slices is in use, chosen by DType:
//
//	FLOAT                               F32
//	DOUBLE                              F64
//	INT64                               I64
//	INT32, INT16, UINT16 (one value per element: the codes of 16-bit
//	quantization)                       I32
//	INT8, INT4 (one value per element)  I8
//	UINT8, BOOL (0 or 1), UINT4 (one value per element),
//	FLOAT8E4M3FN, FLOAT8E5M2 (the codes) U8
//
// and its length is the product of Shape (1 for the empty shape, a
// scalar). A Tensor is a plain value: the executor hands inputs to an op
// read-only, and an op must not keep them after Run returns.
type Tensor struct {
	DType onnx.DataType
	Shape []int
	F32   []float32
	F64   []float64
	I64   []int64
	I32   []int32
	I8    []int8
	U8    []uint8
}

// Supported reports whether the graph package computes with element type
// t.
func Supported(t onnx.DataType) bool {
	switch t {
	case onnx.Float, onnx.Double, onnx.Int64, onnx.Int32, onnx.Int16, onnx.Uint16, onnx.Int8, onnx.Int4,
		onnx.Uint8, onnx.Bool, onnx.Uint4, onnx.Float8E4M3FN, onnx.Float8E5M2:
		return true
	}
	return false
}

// New returns a zero-filled tensor of element type t and the given shape.
// It returns an error for an unsupported type, a negative dimension or an
// element count that overflows int.
func New(t onnx.DataType, shape ...int) (*Tensor, error) {
	n, err := tensor.NumelOf(shape)
	if err != nil {
		return nil, err
	}
	if !Supported(t) {
		return nil, fmt.Errorf("graph: element type %v is not supported", t)
	}
	x := &Tensor{DType: t, Shape: append([]int{}, shape...)}
	x.alloc(n)
	return x, nil
}

// alloc gives x a zero-filled data slice of n elements for its DType,
// which must be supported.
func (x *Tensor) alloc(n int) {
	switch x.DType {
	case onnx.Float:
		x.F32 = make([]float32, n)
	case onnx.Double:
		x.F64 = make([]float64, n)
	case onnx.Int64:
		x.I64 = make([]int64, n)
	case onnx.Int32, onnx.Int16, onnx.Uint16:
		x.I32 = make([]int32, n)
	case onnx.Int8, onnx.Int4:
		x.I8 = make([]int8, n)
	default:
		x.U8 = make([]uint8, n)
	}
}

// elemBytes returns the bytes one element of type t (supported) takes in
// a Tensor.
func elemBytes(t onnx.DataType) int {
	switch t {
	case onnx.Float, onnx.Int32, onnx.Int16, onnx.Uint16:
		return 4
	case onnx.Double, onnx.Int64:
		return 8
	}
	return 1
}

// bytes returns the bytes x's data takes.
func (x *Tensor) bytes() int64 { return int64(x.Len()) * int64(elemBytes(x.DType)) }

// Float wraps a float32 tensor (not copied).
func Float(t *tensor.Tensor) *Tensor {
	return &Tensor{DType: onnx.Float, Shape: t.Shape, F32: t.Data}
}

// Floats returns a FLOAT tensor of the given shape holding data (not
// copied). It returns an error if len(data) is not the product of shape.
func Floats(data []float32, shape ...int) (*Tensor, error) {
	t, err := tensor.FromSlice(data, shape...)
	if err != nil {
		return nil, err
	}
	return Float(t), nil
}

// Int64s returns an INT64 tensor of the given shape holding data (not
// copied). It returns an error if len(data) is not the product of shape.
func Int64s(data []int64, shape ...int) (*Tensor, error) {
	n, err := tensor.NumelOf(shape)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, fmt.Errorf("graph: shape %v holds %d elements, data has %d", shape, n, len(data))
	}
	return &Tensor{DType: onnx.Int64, Shape: append([]int{}, shape...), I64: data}, nil
}

// AsFloat returns x as a float32 tensor sharing its data. It returns an
// error unless x is FLOAT.
func (x *Tensor) AsFloat() (*tensor.Tensor, error) {
	if x.DType != onnx.Float {
		return nil, fmt.Errorf("graph: %v tensor where FLOAT is needed", x.DType)
	}
	return &tensor.Tensor{Shape: x.Shape, Data: x.F32}, nil
}

// Len returns the length of the data slice DType selects.
func (x *Tensor) Len() int {
	switch x.DType {
	case onnx.Float:
		return len(x.F32)
	case onnx.Double:
		return len(x.F64)
	case onnx.Int64:
		return len(x.I64)
	case onnx.Int32, onnx.Int16, onnx.Uint16:
		return len(x.I32)
	case onnx.Int8, onnx.Int4:
		return len(x.I8)
	}
	return len(x.U8)
}

// Validate returns an error unless x's type is supported, its shape valid
// and its data slice as long as its shape says.
func (x *Tensor) Validate() error {
	if x == nil {
		return fmt.Errorf("graph: nil tensor")
	}
	if !Supported(x.DType) {
		return fmt.Errorf("graph: element type %v is not supported", x.DType)
	}
	n, err := tensor.NumelOf(x.Shape)
	if err != nil {
		return err
	}
	if l := x.Len(); l != n {
		return fmt.Errorf("graph: %v tensor of shape %v holds %d elements, want %d", x.DType, x.Shape, l, n)
	}
	return nil
}

// Rows returns items [lo, hi) of x along its first dimension as a tensor
// that shares x's data. It returns an error for a scalar or a range
// outside [0, x.Shape[0]].
func (x *Tensor) Rows(lo, hi int) (*Tensor, error) {
	if len(x.Shape) == 0 || lo < 0 || hi > x.Shape[0] || lo > hi {
		return nil, fmt.Errorf("graph: rows [%d, %d) of a tensor of shape %v", lo, hi, x.Shape)
	}
	per := prod(x.Shape[1:])
	v := &Tensor{DType: x.DType, Shape: slices.Clone(x.Shape)}
	v.Shape[0] = hi - lo
	a, b := lo*per, hi*per
	switch x.DType {
	case onnx.Float:
		v.F32 = x.F32[a:b]
	case onnx.Double:
		v.F64 = x.F64[a:b]
	case onnx.Int64:
		v.I64 = x.I64[a:b]
	case onnx.Int32, onnx.Int16, onnx.Uint16:
		v.I32 = x.I32[a:b]
	case onnx.Int8, onnx.Int4:
		v.I8 = x.I8[a:b]
	default:
		v.U8 = x.U8[a:b]
	}
	return v, nil
}

// Clone returns a deep copy of x.
func (x *Tensor) Clone() *Tensor {
	c := &Tensor{DType: x.DType, Shape: append([]int{}, x.Shape...)}
	c.F32 = cloneOrNil(x.F32)
	c.F64 = cloneOrNil(x.F64)
	c.I64 = cloneOrNil(x.I64)
	c.I32 = cloneOrNil(x.I32)
	c.I8 = cloneOrNil(x.I8)
	c.U8 = cloneOrNil(x.U8)
	return c
}

func cloneOrNil[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

// Ints returns the values of an integer tensor (INT64, INT32, INT8,
// UINT8) as ints, which is how shape-like inputs (Reshape's shape,
// Slice's starts, axes ...) are read. It returns an error for other
// element types.
func (x *Tensor) Ints() ([]int, error) {
	out := make([]int, x.Len())
	switch x.DType {
	case onnx.Int64:
		for i, v := range x.I64 {
			out[i] = int(v)
		}
	case onnx.Int32, onnx.Int16, onnx.Uint16:
		for i, v := range x.I32 {
			out[i] = int(v)
		}
	case onnx.Int8:
		for i, v := range x.I8 {
			out[i] = int(v)
		}
	case onnx.Uint8:
		for i, v := range x.U8 {
			out[i] = int(v)
		}
	default:
		return nil, fmt.Errorf("graph: %v tensor where integers are needed", x.DType)
	}
	return out, nil
}

// String returns a short description: element type and shape.
func (x *Tensor) String() string {
	return fmt.Sprintf("%v%v", x.DType, x.Shape)
}
