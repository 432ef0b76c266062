// Package checked does the size arithmetic of shapes that come from
// untrusted input (file headers, command-line flags, decoded models) with
// overflow checks, so that a hostile shape is an error instead of a
// wrapped product, a panic in make or an endless read.
package checked

import (
	"fmt"
	"math"
)

// Dim is the integer type of a dimension: int for tensors and .npy
// shapes, int64 for ONNX dims.
type Dim interface{ ~int | ~int64 }

// Product returns the product of dims times elemSize: the element count of
// a shape for elemSize 1, its length in bytes for the element size. The
// empty shape (a scalar) has one element.
//
// It returns an error naming the first negative dimension; one saying that
// the shape "has more elements than an int can count" when the product of
// its non-zero dimensions does not fit an int (such a shape is refused
// even when another dimension is 0: a loop over its axes could not count
// them either); one saying that it "has more bytes than an int can count"
// when the element count times elemSize does not fit; and one for an
// elemSize below 1. Callers prefix the error with what the shape belongs
// to.
func Product[D Dim](dims []D, elemSize int) (int, error) {
	if elemSize < 1 {
		return 0, fmt.Errorf("element size %d is not positive", elemSize)
	}
	n, zero := 1, false
	for i, d := range dims {
		switch {
		case d < 0:
			return 0, fmt.Errorf("negative dimension %d at axis %d of shape %v", d, i, dims)
		case d == 0:
			zero = true
		case int64(d) > math.MaxInt || n > math.MaxInt/int(d):
			return 0, fmt.Errorf("shape %v has more elements than an int can count", dims)
		default:
			n *= int(d)
		}
	}
	if zero {
		return 0, nil
	}
	if n > math.MaxInt/elemSize {
		return 0, fmt.Errorf("shape %v of %d-byte elements has more bytes than an int can count", dims, elemSize)
	}
	return n * elemSize, nil
}
