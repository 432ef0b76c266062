package fakequant

import (
	"fmt"
	"math"
)

// Format is an integer quantization format: a bit width, signedness and
// whether the signed range is narrow ([-maxBound, maxBound]) or full
// ([-maxBound-1, maxBound]). NarrowRange has no effect on unsigned formats.
//
// The zero value of NarrowRange is the full range; note that the original's
// function defaults (tensor_quant's narrow_range=True) differ from its
// QuantDescriptor default (narrow_range=False): callers say what they want.
// On a GPU the original always fake-quantizes with the narrow range (its
// CUDA extension ignores narrow_range; see the package doc): set
// NarrowRange to reproduce a model trained that way.
type Format struct {
	NumBits     int
	Unsigned    bool
	NarrowRange bool
}

// Int8 is the signed 8-bit full-range format, [-128, 127].
var Int8 = Format{NumBits: 8}

// MaxNumBits is the widest format accepted. Widths above 16 are degenerate
// (float32 cannot hold every level above 24 bits) but are computed exactly
// as the original does.
const MaxNumBits = 32

// Validate returns an error for a format that has no level besides 0:
// NumBits outside [1, MaxNumBits], or a signed format of 1 bit. (The
// original computes those too: with 0 bits every input becomes amax or 0,
// with signed 1 bit NaN; every function of this module refuses them, as
// QuantDescriptor does.)
func (f Format) Validate() error {
	switch {
	case f.NumBits < 1 || f.NumBits > MaxNumBits:
		return fmt.Errorf("fakequant: num_bits %d out of range [1, %d]", f.NumBits, MaxNumBits)
	case !f.Unsigned && f.NumBits < 2:
		return fmt.Errorf("fakequant: signed quantization needs num_bits >= 2, got %d (its only level would be 0)", f.NumBits)
	}
	return nil
}

// Bounds returns the float32 clamp bounds of f (see the package doc), for
// a valid f (Validate).
func (f Format) Bounds() (minBound, maxBound float32) {
	u := 0
	if f.Unsigned {
		u = 1
	}
	maxBound = float32(math.Ldexp(1, f.NumBits-1+u) - 1)
	switch {
	case f.Unsigned:
		minBound = 0
	case f.NarrowRange:
		minBound = -maxBound
	default:
		minBound = -maxBound - 1
	}
	return minBound, maxBound
}

// String returns a short description such as "int8 narrow" or "uint4".
func (f Format) String() string {
	s := fmt.Sprintf("int%d", f.NumBits)
	if f.Unsigned {
		return "u" + s
	}
	if f.NarrowRange {
		s += " narrow"
	}
	return s
}

// zeroAmax is the largest amax treated as zero: 2^-24, the smallest float16
// subnormal, inclusive.
const zeroAmax = 1.0 / (1 << 24)

// scales returns the scale applied before rounding (sq) and the one divided
// by afterwards (so) for one amax element. masking says whether tiny amax
// values are zeroed, which the original decides once for the whole amax
// tensor (false as soon as any amax element is NaN).
func scales(amax, maxBound float32, masking bool) (sq, so float32) {
	if masking && amax <= zeroAmax {
		return 0, 1
	}
	s := maxBound / amax
	return s, s
}

// maskingFor reports whether tiny amax values are zeroed for this amax
// tensor: true unless an element is NaN.
func maskingFor(amax []float32) bool {
	for _, a := range amax {
		if a != a {
			return false
		}
	}
	return true
}
