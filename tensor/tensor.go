package tensor

import (
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/internal/checked"
)

// Tensor is a dense float32 tensor in row-major (C) order.
//
// len(Data) must equal the product of Shape. An empty Shape is a 0-d scalar
// holding exactly one element. Functions in this module check that invariant
// with Validate before they use a Tensor they did not build themselves.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New returns a zero-filled tensor of the given shape; New() is a scalar.
//
// New panics if a dimension is negative or the element count overflows int,
// as make does for a negative length: shapes that come from user data should
// go through FromSlice or CheckShape, which return errors instead.
func New(shape ...int) *Tensor {
	n, err := NumelOf(shape)
	if err != nil {
		panic(err)
	}
	return &Tensor{Shape: append([]int{}, shape...), Data: make([]float32, n)}
}

// FromSlice wraps data (not copied) in a tensor of the given shape.
//
// It returns an error if a dimension is negative, the element count
// overflows, or len(data) differs from the product of shape.
func FromSlice(data []float32, shape ...int) (*Tensor, error) {
	n, err := NumelOf(shape)
	if err != nil {
		return nil, err
	}
	if n != len(data) {
		return nil, fmt.Errorf("tensor: shape %v holds %d elements, data has %d", shape, n, len(data))
	}
	return &Tensor{Shape: append([]int{}, shape...), Data: data}, nil
}

// Scalar returns a 0-d tensor holding v.
func Scalar(v float32) *Tensor {
	return &Tensor{Shape: []int{}, Data: []float32{v}}
}

// CheckShape returns an error if a dimension of shape is negative or the
// element count overflows int.
func CheckShape(shape []int) error {
	_, err := NumelOf(shape)
	return err
}

// NumelOf returns the number of elements a tensor of the given shape holds
// (1 for the empty shape), or an error for a negative dimension or a
// product of the non-zero dimensions that overflows int (such a shape is
// refused even when another dimension is 0).
func NumelOf(shape []int) (int, error) {
	n, err := checked.Product(shape, 1)
	if err != nil {
		return 0, fmt.Errorf("tensor: %w", err)
	}
	return n, nil
}

// Numel returns the number of elements of t.
func (t *Tensor) Numel() int { return len(t.Data) }

// Rank returns the number of dimensions of t (0 for a scalar).
func (t *Tensor) Rank() int { return len(t.Shape) }

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int{}, t.Shape...), Data: append([]float32{}, t.Data...)}
}

// Validate returns an error if t is nil, its shape is invalid, or len(Data)
// is not the product of Shape.
func (t *Tensor) Validate() error {
	if t == nil {
		return fmt.Errorf("tensor: nil tensor")
	}
	n, err := NumelOf(t.Shape)
	if err != nil {
		return err
	}
	if n != len(t.Data) {
		return fmt.Errorf("tensor: shape %v holds %d elements, data has %d", t.Shape, n, len(t.Data))
	}
	return nil
}

// Reshape returns a tensor that shares t's data under a new shape. At most
// one dimension may be -1; it is inferred from the element count.
//
// It returns an error if more than one dimension is -1, a dimension is
// otherwise negative, or the element counts differ.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	out := append([]int{}, shape...)
	infer := -1
	known := 1
	for i, d := range out {
		switch {
		case d == -1 && infer >= 0:
			return nil, fmt.Errorf("tensor: reshape to %v: more than one -1", shape)
		case d == -1:
			infer = i
		case d < 0:
			return nil, fmt.Errorf("tensor: reshape to %v: negative dimension %d", shape, d)
		default:
			if d != 0 && known > math.MaxInt/d {
				return nil, fmt.Errorf("tensor: reshape to %v: too many elements", shape)
			}
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || len(t.Data)%known != 0 {
			return nil, fmt.Errorf("tensor: cannot reshape %v (%d elements) to %v", t.Shape, len(t.Data), shape)
		}
		out[infer] = len(t.Data) / known
		known = len(t.Data)
	}
	if known != len(t.Data) {
		return nil, fmt.Errorf("tensor: cannot reshape %v (%d elements) to %v", t.Shape, len(t.Data), shape)
	}
	return &Tensor{Shape: out, Data: t.Data}, nil
}

// Strides returns the row-major element strides of shape. It panics for
// an invalid shape (CheckShape), as New does.
func Strides(shape []int) []int {
	if err := CheckShape(shape); err != nil {
		panic(err)
	}
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// NormalizeAxis maps a possibly negative axis into [0, rank). It returns an
// error naming the axis when it is out of range.
func NormalizeAxis(axis, rank int) (int, error) {
	a := axis
	if a < 0 {
		a += rank
	}
	if a < 0 || a >= rank {
		return 0, fmt.Errorf("tensor: axis %d out of range for rank %d", axis, rank)
	}
	return a, nil
}

// SameShape reports whether a and b are equal dimension by dimension.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
