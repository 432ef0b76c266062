package npy

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/internal/checked"
	"github.com/tensorquant/tensorquant/tensor"
)

// DType is the element type of an Array: one of the NumPy dtypes that
// weights, calibration data and labels are stored in.
type DType uint8

// The dtypes this package reads and writes. The zero DType is invalid.
const (
	Float32 DType = iota + 1 // NumPy float32, '<f4'
	Float64                  // NumPy float64, '<f8'
	Int64                    // NumPy int64, '<i8'
	Int32                    // NumPy int32, '<i4'
	Int8                     // NumPy int8, '|i1'
	Uint8                    // NumPy uint8, '|u1'
	Bool                     // NumPy bool, '|b1' (one byte, 0 or 1)
)

var dtypes = [...]struct {
	name  string
	descr string // little-endian, as np.save writes it
	size  int
}{
	Float32: {"float32", "<f4", 4},
	Float64: {"float64", "<f8", 8},
	Int64:   {"int64", "<i8", 8},
	Int32:   {"int32", "<i4", 4},
	Int8:    {"int8", "|i1", 1},
	Uint8:   {"uint8", "|u1", 1},
	Bool:    {"bool", "|b1", 1},
}

func (d DType) valid() bool { return d >= Float32 && d <= Bool }

// String returns NumPy's name of d ("float32", "int64", "bool" ...), or
// "DType(N)" for an invalid value.
func (d DType) String() string {
	if !d.valid() {
		return fmt.Sprintf("DType(%d)", uint8(d))
	}
	return dtypes[d].name
}

// Size returns the bytes of one element of d (0 for an invalid DType).
func (d DType) Size() int {
	if !d.valid() {
		return 0
	}
	return dtypes[d].size
}

func (d DType) isFloat() bool { return d == Float32 || d == Float64 }

// Element is the set of Go types of the dtypes: float32, float64, int64,
// int32, int8, uint8 and bool.
type Element interface {
	float32 | float64 | int64 | int32 | int8 | uint8 | bool
}

// DTypeOf returns the DType whose elements are T.
func DTypeOf[T Element]() DType {
	switch any(*new(T)).(type) {
	case float32:
		return Float32
	case float64:
		return Float64
	case int64:
		return Int64
	case int32:
		return Int32
	case int8:
		return Int8
	case uint8:
		return Uint8
	}
	return Bool
}

// Array is an n-dimensional array as a .npy file holds it: a shape
// (row-major, C order; the empty shape is a scalar), an element type, and
// the elements, which Values returns. Build one with New; ReadArray and
// ReadNPZ return them, WriteArray and WriteNPZ write them. An Array whose
// Shape or DType was changed so that they no longer describe its data is
// refused by every function here with an error.
type Array struct {
	Shape []int
	DType DType
	data  []byte // little-endian, row-major
}

// New returns an Array of the given shape holding a copy of data. It
// returns an error if a dimension is negative or len(data) is not the
// product of shape.
func New[T Element](data []T, shape ...int) (*Array, error) {
	n, err := checked.Product(shape, 1)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	if n != len(data) {
		return nil, fmt.Errorf("npy: shape %v holds %d elements, data has %d", shape, n, len(data))
	}
	d := DTypeOf[T]()
	b := make([]byte, 0, n*d.Size())
	for _, v := range data {
		b = appendElem(b, v)
	}
	return &Array{Shape: append([]int{}, shape...), DType: d, data: b}, nil
}

// FromTensor returns a float32 Array holding a copy of t. It returns t's
// Validate error.
func FromTensor(t *tensor.Tensor) (*Array, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return New(t.Data, t.Shape...)
}

// Numel returns the number of elements of a (1 for a scalar), or 0 when
// its shape is invalid.
func (a *Array) Numel() int {
	n, err := checked.Product(a.Shape, 1)
	if err != nil {
		return 0
	}
	return n
}

// check returns an error if a's Shape and DType do not describe its data.
func (a *Array) check() error {
	if a == nil {
		return fmt.Errorf("npy: nil *Array")
	}
	if !a.DType.valid() {
		return fmt.Errorf("npy: invalid dtype %v", a.DType)
	}
	n, err := checked.Product(a.Shape, a.DType.Size())
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	if n != len(a.data) {
		return fmt.Errorf("npy: shape %v of %v needs %d bytes, the array holds %d", a.Shape, a.DType, n, len(a.data))
	}
	return nil
}

// Values returns a copy of the elements of a as []T, in row-major order.
//
// Any dtype converts to float32 and float64: float64 data is rounded to
// the nearest float32 (as NumPy's astype(np.float32) does; beyond the
// float32 range it becomes ±Inf), integers convert to the nearest float
// (exactly up to 2^24 for float32, 2^53 for float64), false and true to 0
// and 1. Integer and bool data converts to an integer type when every
// value fits it, and to bool when every value is 0 or 1.
//
// It returns an error for float data asked as an integer or bool type, for
// the first value that does not fit T (naming it and its index), and for
// an Array whose Shape and DType do not describe its data.
func Values[T Element](a *Array) ([]T, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	want := DTypeOf[T]()
	if !want.isFloat() && a.DType.isFloat() {
		return nil, fmt.Errorf("npy: %v data cannot be read as %v", a.DType, want)
	}
	size := a.DType.Size()
	out := make([]T, len(a.data)/size)
	for i := range out {
		b := a.data[i*size:]
		var v int64
		switch a.DType {
		case Float32:
			setFloat(&out[i], float64(math.Float32frombits(binary.LittleEndian.Uint32(b))))
			continue
		case Float64:
			setFloat(&out[i], math.Float64frombits(binary.LittleEndian.Uint64(b)))
			continue
		case Int64:
			v = int64(binary.LittleEndian.Uint64(b))
		case Int32:
			v = int64(int32(binary.LittleEndian.Uint32(b)))
		case Int8:
			v = int64(int8(b[0]))
		default: // Uint8, Bool
			v = int64(b[0])
		}
		if !setInt(&out[i], v) {
			return nil, fmt.Errorf("npy: %v value %d at flat index %d does not fit %v", a.DType, v, i, want)
		}
	}
	return out, nil
}

// Tensor returns the elements of a as a float32 tensor of its shape,
// converted as Values[float32] converts them. It returns Values' errors.
func (a *Array) Tensor() (*tensor.Tensor, error) {
	v, err := Values[float32](a)
	if err != nil {
		return nil, err
	}
	return tensor.FromSlice(v, a.Shape...)
}

// setFloat stores v into *p, a float type (Values refuses float data for
// the others); float32 rounds to nearest.
func setFloat[T Element](p *T, v float64) {
	switch q := any(p).(type) {
	case *float32:
		*q = float32(v)
	case *float64:
		*q = v
	}
}

// setInt stores the integer v into *p and reports whether it fits T: any
// float type takes it (rounded to nearest), an integer type whose range
// holds it, bool for 0 and 1.
func setInt[T Element](p *T, v int64) bool {
	switch q := any(p).(type) {
	case *float32:
		*q = float32(v)
	case *float64:
		*q = float64(v)
	case *int64:
		*q = v
	case *int32:
		*q = int32(v)
		return v >= math.MinInt32 && v <= math.MaxInt32
	case *int8:
		*q = int8(v)
		return v >= math.MinInt8 && v <= math.MaxInt8
	case *uint8:
		*q = uint8(v)
		return v >= 0 && v <= math.MaxUint8
	case *bool:
		*q = v == 1
		return v == 0 || v == 1
	}
	return true
}

// appendElem appends v as one little-endian element.
func appendElem[T Element](b []byte, v T) []byte {
	switch x := any(v).(type) {
	case float32:
		return binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	case float64:
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	case int64:
		return binary.LittleEndian.AppendUint64(b, uint64(x))
	case int32:
		return binary.LittleEndian.AppendUint32(b, uint32(x))
	case int8:
		return append(b, byte(x))
	case uint8:
		return append(b, x)
	case bool:
		if x {
			return append(b, 1)
		}
	}
	return append(b, 0)
}
