package fakequant

import "math"

// The generic kernels are the specification of the assembly ones: each
// assembly kernel must return the same bits for every input (NaN matching
// any NaN). Callers guarantee equal lengths.

// quantizeOne is the shared step: clamp(roundHalfToEven(x*sq), lo, hi) with
// torch's clamp (NaN passes through, ties keep the input).
func quantizeOne(x, sq, lo, hi float32) float32 {
	v := float32(math.RoundToEven(float64(x * sq)))
	if v < lo {
		v = lo
	}
	if v > hi {
		v = hi
	}
	return v
}

// fakeQuantGeneric: dst[i] = quantizeOne(src[i], sq, lo, hi) / so.
// With so == 1 it is integer quantization (TensorQuant), exactly.
func fakeQuantGeneric(dst, src []float32, sq, so, lo, hi float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = quantizeOne(x, sq, lo, hi) / so
	}
}

// fakeQuantVecGeneric is fakeQuantGeneric with a scale pair per element:
// dst[i] = quantizeOne(src[i], sq[i], lo, hi) / so[i].
func fakeQuantVecGeneric(dst, src, sq, so []float32, lo, hi float32) {
	dst, sq, so = dst[:len(src)], sq[:len(src)], so[:len(src)]
	for i, x := range src {
		dst[i] = quantizeOne(x, sq[i], lo, hi) / so[i]
	}
}

// quantInt8Generic: dst[i] = int8(quantizeOne(src[i], sq, lo, hi)), with NaN
// giving 0. lo and hi are integers within [-128, 127] (the assembly
// versions clamp before they round, which only integer bounds allow).
func quantInt8Generic(dst []int8, src []float32, sq, lo, hi float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		v := quantizeOne(x, sq, lo, hi)
		if v != v {
			v = 0
		}
		dst[i] = int8(v)
	}
}

// quantLinearGeneric: dst[i] = the low byte of QuantizeLinear(src[i],
// scale, zp, lo+zp, hi+zp): the quotient src[i]/scale, NaN giving lo,
// clamped to [lo, hi], rounded half to even, plus zp. lo and hi are
// integers; an int8 or uint8 code is its int32 value's low byte.
func quantLinearGeneric(dst []byte, src []float32, scale, lo, hi float32, zp int32) {
	dst = dst[:len(src)]
	for i, x := range src {
		v := x / scale
		if !(v >= lo) {
			v = lo
		}
		if v > hi {
			v = hi
		}
		dst[i] = byte(int32(math.RoundToEven(float64(v))) + zp)
	}
}

// dequantInt8Generic: dst[i] = float32(src[i]) / so.
func dequantInt8Generic(dst []float32, src []int8, so float32) {
	dst = dst[:len(src)]
	for i, q := range src {
		dst[i] = float32(q) / so
	}
}

// steGeneric: dst[i] = dy[i] where |x[i]| <= amax, else +0 (NaN x gives 0).
func steGeneric(dst, x, dy []float32, amax float32) {
	dst, dy = dst[:len(x)], dy[:len(x)]
	for i, v := range x {
		if math.Float32frombits(math.Float32bits(v)&^(1<<31)) <= amax {
			dst[i] = dy[i]
		} else {
			dst[i] = 0
		}
	}
}
