package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/internal/checked"
)

// IRVersionForOpset returns the IR version that the ONNX release which
// introduced ai.onnx opset `opset` writes (ONNX's Versioning.md): 3 for
// opsets 7–8, 4 for 9, 5 for 10, 6 for 11, 7 for 12–14, 8 for 15–18, 9 for
// 19–20 and 10 for 21–22. It returns an error for other opsets.
func IRVersionForOpset(opset int64) (int64, error) {
	switch {
	case opset >= 7 && opset <= 8:
		return 3, nil
	case opset >= 9 && opset <= 11:
		return opset - 5, nil
	case opset >= 12 && opset <= 14:
		return 7, nil
	case opset >= 15 && opset <= 18:
		return 8, nil
	case opset >= 19 && opset <= 20:
		return 9, nil
	case opset >= 21 && opset <= 22:
		return 10, nil
	}
	return 0, fmt.Errorf("onnx: no IR version known for ai.onnx opset %d (supported: 7 to 22)", opset)
}

// DimValue returns a Dimension of fixed size v; it is written even when v
// is 0 (an empty axis).
func DimValue(v int64) Dimension {
	d := Dimension{Value: v}
	d.x.set(dimValue)
	return d
}

// DimParam returns a symbolic Dimension named p (a dynamic axis such as
// "batch").
func DimParam(p string) Dimension {
	d := Dimension{Param: p}
	d.x.set(dimParam)
	return d
}

// Dims returns one fixed Dimension per element of dims.
func Dims(dims ...int64) []Dimension {
	out := make([]Dimension, len(dims))
	for i, v := range dims {
		out[i] = DimValue(v)
	}
	return out
}

// TensorValueInfo returns the ValueInfo of a tensor value with element type
// elem and the given shape; no dimensions means a scalar (the shape is
// written, empty).
func TensorValueInfo(name string, elem DataType, shape ...Dimension) ValueInfo {
	return ValueInfo{Name: name, Type: &Type{Tensor: &TensorType{
		ElemType: elem,
		Shape:    &TensorShape{Dim: append([]Dimension{}, shape...)},
	}}}
}

// FloatAttr returns a FLOAT attribute.
func FloatAttr(name string, v float32) Attribute {
	return Attribute{Name: name, Type: AttrFloat, F: v}
}

// IntAttr returns an INT attribute.
func IntAttr(name string, v int64) Attribute {
	return Attribute{Name: name, Type: AttrInt, I: v}
}

// StringAttr returns a STRING attribute.
func StringAttr(name, v string) Attribute {
	return Attribute{Name: name, Type: AttrString, S: []byte(v)}
}

// TensorAttr returns a TENSOR attribute holding a copy of t's header (the
// element slices are shared).
func TensorAttr(name string, t Tensor) Attribute {
	return Attribute{Name: name, Type: AttrTensor, T: &t}
}

// FloatsAttr returns a FLOATS attribute with a copy of v.
func FloatsAttr(name string, v ...float32) Attribute {
	return Attribute{Name: name, Type: AttrFloats, Floats: append([]float32{}, v...)}
}

// IntsAttr returns an INTS attribute with a copy of v.
func IntsAttr(name string, v ...int64) Attribute {
	return Attribute{Name: name, Type: AttrInts, Ints: append([]int64{}, v...)}
}

// StringsAttr returns a STRINGS attribute.
func StringsAttr(name string, v ...string) Attribute {
	s := make([][]byte, len(v))
	for i := range v {
		s[i] = []byte(v[i])
	}
	return Attribute{Name: name, Type: AttrStrings, Strings: s}
}

// NewNode returns a node of the default (ai.onnx) domain. The input and
// output lists are copied.
func NewNode(opType, name string, inputs, outputs []string, attrs ...Attribute) Node {
	return Node{
		OpType:    opType,
		Name:      name,
		Input:     append([]string{}, inputs...),
		Output:    append([]string{}, outputs...),
		Attribute: append([]Attribute{}, attrs...),
	}
}

// ConstantNode returns a Constant node whose "value" attribute is t, the way
// PyTorch writes scales and zero points.
func ConstantNode(name, output string, t Tensor) Node {
	return NewNode("Constant", name, nil, []string{output}, TensorAttr("value", t))
}

// Element is the set of Go types that NewTensor and TensorValues map to
// ONNX element types: float32 FLOAT, float64 DOUBLE, int8 INT8, uint8
// UINT8, int16 INT16, uint16 UINT16, int32 INT32, int64 INT64, uint32
// UINT32, uint64 UINT64, bool BOOL.
type Element interface {
	float32 | float64 | int8 | uint8 | int16 | uint16 | int32 | int64 | uint32 | uint64 | bool
}

// DataTypeOf returns the ONNX element type of T.
func DataTypeOf[T Element]() DataType {
	var z T
	switch any(z).(type) {
	case float32:
		return Float
	case float64:
		return Double
	case int8:
		return Int8
	case uint8:
		return Uint8
	case int16:
		return Int16
	case uint16:
		return Uint16
	case int32:
		return Int32
	case int64:
		return Int64
	case uint32:
		return Uint32
	case uint64:
		return Uint64
	default:
		return Bool
	}
}

// Size returns the number of bytes one element of t takes in RawData, or 0
// for STRING, UNDEFINED, the sub-byte types (INT4, UINT4, FLOAT4E2M1,
// INT2, UINT2) and unknown values.
func (t DataType) Size() int {
	switch t {
	case Uint8, Int8, Bool, Float8E4M3FN, Float8E4M3FNUZ, Float8E5M2, Float8E5M2FNUZ, Float8E8M0:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	case Float, Int32, Uint32:
		return 4
	case Int64, Uint64, Double, Complex64:
		return 8
	case Complex128:
		return 16
	}
	return 0
}

// NumElements returns the product of t.Dims (1 for a scalar). It returns an
// error for a negative dimension or a product of the non-zero dimensions
// that does not fit an int.
func (t *Tensor) NumElements() (int64, error) {
	n, err := t.size(1)
	return int64(n), err
}

// size returns the product of t.Dims times elemSize, checked for overflow.
func (t *Tensor) size(elemSize int) (int, error) {
	n, err := checked.Product(t.Dims, elemSize)
	if err != nil {
		return 0, fmt.Errorf("onnx: tensor %q: %w", t.Name, err)
	}
	return n, nil
}

// elemBits returns the bits of one element of t in RawData, 0 for STRING,
// UNDEFINED and unknown values.
func (t DataType) elemBits() int {
	switch t {
	case Uint4, Int4, Float4E2M1:
		return 4
	case Uint2, Int2:
		return 2
	}
	return 8 * t.Size()
}

// typedPer returns how many typed values one element of t takes (vals) and
// how many elements one typed value holds (elems).
func (t DataType) typedPer() (vals, elems int) {
	switch t {
	case Complex64, Complex128:
		return 2, 1
	case Uint4, Int4, Float4E2M1:
		return 1, 2
	case Uint2, Int2:
		return 1, 4
	}
	return 1, 1
}

// ErrInvalidTensor is wrapped by the errors of Tensor.Validate (and so of
// Marshal and TensorValues) for a tensor whose data disagrees with its
// dims.
var ErrInvalidTensor = errors.New("onnx: invalid tensor")

// Validate returns an error wrapping ErrInvalidTensor if t's data
// disagrees with its Dims: the errors of NumElements; RawData and a typed
// field both holding data; RawData, or the typed field the schema assigns
// to DataType (see Tensor), holding another number of elements than Dims
// describe (sub-byte types packed, complex types two values an element);
// data in another typed field; or no data at all for a known type with
// elements, unless t keeps unmodelled fields (string_data) that may hold
// them. An external tensor (DataLocation not DEFAULT) must hold no data
// of its own and valid external_data entries (Tensor.External).
func (t *Tensor) Validate() error {
	n, err := t.size(1)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidTensor, err)
	}
	if t.DataLocation != DataLocationDefault {
		if _, err := t.External(); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidTensor, err)
		}
		return nil
	}
	field, fieldName := t.typedField(t.DataType)
	typed := len(t.FloatData) + len(t.Int32Data) + len(t.Int64Data) + len(t.DoubleData) + len(t.Uint64Data)
	bits := t.DataType.elemBits()
	switch {
	case bits == 0:
		// STRING, UNDEFINED or unknown: no modelled storage to check.
		return nil
	case t.RawData != nil && typed != 0:
		return fmt.Errorf("%w %q: both raw_data and %d typed values", ErrInvalidTensor, t.Name, typed)
	case t.RawData != nil:
		// ceil(n*bits/8) bytes, the product checked.
		want, err := t.size(max(bits/8, 1))
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidTensor, err)
		}
		if per := 8 / bits; per > 1 {
			want = n/per + min(n%per, 1)
		}
		if len(t.RawData) != want {
			return fmt.Errorf("%w %q: raw_data of %d bytes for dims %v (%d %v elements)", ErrInvalidTensor, t.Name, len(t.RawData), t.Dims, n, t.DataType)
		}
	case typed != field:
		return fmt.Errorf("%w %q: %v values must be in %s", ErrInvalidTensor, t.Name, t.DataType, fieldName)
	case typed == 0 && n > 0 && t.x.unknown == nil:
		return fmt.Errorf("%w %q: dims %v describe %d elements but it holds no data", ErrInvalidTensor, t.Name, t.Dims, n)
	case typed != 0:
		vals, elems := t.DataType.typedPer()
		if field%vals != 0 || field/vals != n/elems+min(n%elems, 1) {
			return fmt.Errorf("%w %q: %d values in %s for dims %v (%d %v elements)", ErrInvalidTensor, t.Name, field, fieldName, t.Dims, n, t.DataType)
		}
	}
	return nil
}

// NewTensor returns a tensor named name of shape dims holding a copy of
// data in RawData (little-endian, row-major), as PyTorch writes
// initializers and constants. An empty dims is a scalar.
//
// It returns an error if a dimension is negative or len(data) is not the
// product of dims.
func NewTensor[T Element](name string, dims []int64, data []T) (Tensor, error) {
	t := Tensor{Name: name, Dims: append([]int64{}, dims...), DataType: DataTypeOf[T]()}
	n, err := t.NumElements()
	if err != nil {
		return Tensor{}, err
	}
	if n != int64(len(data)) {
		return Tensor{}, fmt.Errorf("onnx: tensor %q: %d values for dims %v (%d elements)", name, len(data), dims, n)
	}
	size := t.DataType.Size()
	raw := make([]byte, 0, size*len(data))
	for _, v := range data {
		switch v := any(v).(type) {
		case float32:
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		case float64:
			raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(v))
		case int8:
			raw = append(raw, byte(v))
		case uint8:
			raw = append(raw, v)
		case int16:
			raw = binary.LittleEndian.AppendUint16(raw, uint16(v))
		case uint16:
			raw = binary.LittleEndian.AppendUint16(raw, v)
		case int32:
			raw = binary.LittleEndian.AppendUint32(raw, uint32(v))
		case uint32:
			raw = binary.LittleEndian.AppendUint32(raw, v)
		case int64:
			raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
		case uint64:
			raw = binary.LittleEndian.AppendUint64(raw, v)
		case bool:
			b := byte(0)
			if v {
				b = 1
			}
			raw = append(raw, b)
		}
	}
	t.RawData = raw
	return t, nil
}

// TensorValues returns the elements of t as []T, where T must be the Go
// type of t.DataType (see Element). They are read from RawData when it is
// present, else from the typed field the schema assigns to the type
// (FloatData, DoubleData, Int32Data for the 8-, 16-bit and BOOL types and
// INT32, Int64Data, Uint64Data for UINT32 and UINT64).
//
// It returns an error if t.DataType is not T's, if both RawData and a typed
// field hold data, if the number of elements does not match the product of
// Dims, or if a typed value does not fit T. The result is never longer than
// the data in t.
func TensorValues[T Element](t *Tensor) ([]T, error) {
	want := DataTypeOf[T]()
	if t.DataType != want {
		return nil, fmt.Errorf("onnx: tensor %q has data type %v, not %v", t.Name, t.DataType, want)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	n, _ := t.size(1)
	if t.RawData != nil {
		return fromRaw[T](t.RawData, n), nil
	}
	if field, fieldName := t.typedField(want); field != n {
		return nil, fmt.Errorf("onnx: tensor %q: %d values in %s for dims %v (%d elements)", t.Name, field, fieldName, t.Dims, n)
	}
	out := make([]T, n)
	for i := range out {
		switch p := any(&out[i]).(type) {
		case *float32:
			*p = t.FloatData[i]
		case *float64:
			*p = t.DoubleData[i]
		case *int64:
			*p = t.Int64Data[i]
		case *uint64:
			*p = t.Uint64Data[i]
		case *uint32:
			v := t.Uint64Data[i]
			if v > math.MaxUint32 {
				return nil, fmt.Errorf("onnx: tensor %q: uint64_data[%d] = %d out of range for UINT32", t.Name, i, v)
			}
			*p = uint32(v)
		default:
			if !setInt32(p, t.Int32Data[i]) {
				return nil, fmt.Errorf("onnx: tensor %q: int32_data[%d] = %d out of range for %v", t.Name, i, t.Int32Data[i], want)
			}
		}
	}
	return out, nil
}

// typedField returns the length and name of the typed field that holds
// elements of type dt.
func (t *Tensor) typedField(dt DataType) (int, string) {
	switch dt {
	case Float, Complex64:
		return len(t.FloatData), "float_data"
	case Double, Complex128:
		return len(t.DoubleData), "double_data"
	case Int64:
		return len(t.Int64Data), "int64_data"
	case Uint32, Uint64:
		return len(t.Uint64Data), "uint64_data"
	}
	return len(t.Int32Data), "int32_data"
}

// setInt32 stores v into *p (one of the types kept in int32_data) and
// reports whether it is in range.
func setInt32(p any, v int32) bool {
	switch p := p.(type) {
	case *bool:
		*p = v == 1
		return v == 0 || v == 1
	case *int8:
		*p = int8(v)
		return v >= math.MinInt8 && v <= math.MaxInt8
	case *uint8:
		*p = uint8(v)
		return v >= 0 && v <= math.MaxUint8
	case *int16:
		*p = int16(v)
		return v >= math.MinInt16 && v <= math.MaxInt16
	case *uint16:
		*p = uint16(v)
		return v >= 0 && v <= math.MaxUint16
	case *int32:
		*p = v
		return true
	}
	return false
}

func fromRaw[T Element](raw []byte, n int) []T {
	out := make([]T, n)
	for i := range out {
		switch p := any(&out[i]).(type) {
		case *float32:
			*p = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		case *float64:
			*p = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		case *int8:
			*p = int8(raw[i])
		case *uint8:
			*p = raw[i]
		case *bool:
			*p = raw[i] != 0
		case *int16:
			*p = int16(binary.LittleEndian.Uint16(raw[2*i:]))
		case *uint16:
			*p = binary.LittleEndian.Uint16(raw[2*i:])
		case *int32:
			*p = int32(binary.LittleEndian.Uint32(raw[4*i:]))
		case *uint32:
			*p = binary.LittleEndian.Uint32(raw[4*i:])
		case *int64:
			*p = int64(binary.LittleEndian.Uint64(raw[8*i:]))
		case *uint64:
			*p = binary.LittleEndian.Uint64(raw[8*i:])
		}
	}
	return out
}
