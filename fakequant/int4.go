package fakequant

import (
	"fmt"
	"math"
)

// 4-bit integer quantization in the ONNX convention (INT4 and UINT4 tensor
// types, QuantizeLinear/DequantizeLinear with zero point 0, opset 21):
//
//	scale = amax / 7      (signed: codes -8..7)   or   amax / 15   (unsigned: codes 0..15)
//	q     = saturate(roundHalfToEven(x / scale))
//	x'    = float32(q) * scale
//
// with one scale per block (see NumBlocks; blockSize = rowLen gives one per
// row, the per-channel case). Codes are held one per int8 (both kinds fit)
// and stored two per byte by PackInt4.

// int4Bounds returns the code range of the 4-bit format; hi is also the
// divisor of amax in the scale.
func int4Bounds(unsigned bool) (lo, hi float32) {
	if unsigned {
		return 0, 15
	}
	return -8, 7
}

// Int4Scales returns the ONNX scale of every amax: float32(amax) / 7 for
// signed INT4, / 15 for UINT4 (a float32 division), with a result of 0
// replaced by 1, as the exporter writes it.
//
// It returns an error for a negative (ErrNegativeAmax), NaN or infinite
// (ErrNonFiniteAmax) amax element, naming its index.
func Int4Scales(amax []float32, unsigned bool) ([]float32, error) {
	_, hi := int4Bounds(unsigned)
	out := make([]float32, len(amax))
	for i, a := range amax {
		if err := checkAmax(a, i); err != nil {
			return nil, err
		}
		if out[i] = a / hi; out[i] == 0 {
			out[i] = 1
		}
	}
	return out, nil
}

// QuantizeInt4Block quantizes src to 4-bit codes with one scale per block
// (see NumBlocks): dst[i] = clamp(roundHalfToEven(src[i] / scale), lo, hi)
// with [lo, hi] = [-8, 7] (signed) or [0, 15] (unsigned), a true float32
// division as ONNX QuantizeLinear does. Out-of-range values and ±Inf
// saturate (negative inputs give 0 when unsigned) and NaN gives 0; ONNX
// leaves those to the runtime (its NumPy reference casts NaN, ±Inf and
// values beyond int32 to INT_MIN before clipping, which gives the lowest
// code on x86).
//
// It returns the errors of NumBlocks, an error if len(scale) is not the
// number of blocks or dst is shorter than src, and one for a scale element
// that is not finite and positive (naming its index).
func QuantizeInt4Block(dst []int8, src, scale []float32, rowLen, blockSize int, unsigned bool) error {
	if err := checkBlocks(len(src), len(dst), len(scale), rowLen, blockSize, "scale"); err != nil {
		return err
	}
	for i, s := range scale {
		if err := checkScale(s, i); err != nil {
			return err
		}
	}
	lo, hi := int4Bounds(unsigned)
	b := 0
	for r := 0; r < len(src); r += rowLen {
		for s := r; s < r+rowLen; s += blockSize {
			e := min(s+blockSize, r+rowLen)
			quantizeInt4(dst[s:e], src[s:e], scale[b], lo, hi)
			b++
		}
	}
	return nil
}

func quantizeInt4(dst []int8, src []float32, scale, lo, hi float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		// Clamping before rounding is the same as after: the bounds are
		// integers. min and max keep a NaN, which becomes 0.
		v := min(max(x/scale, lo), hi)
		if v != v {
			v = 0
		}
		dst[i] = int8(math.RoundToEven(float64(v)))
	}
}

// DequantizeInt4Block converts codes back to float32 with one scale per
// block: dst[i] = float32(src[i]) * scale, as ONNX DequantizeLinear does.
// Any int8 code is accepted.
//
// It returns the errors of NumBlocks, an error if len(scale) is not the
// number of blocks or dst is shorter than src, and one for a scale element
// that is not finite and positive (naming its index).
func DequantizeInt4Block(dst []float32, src []int8, scale []float32, rowLen, blockSize int) error {
	if err := checkBlocks(len(src), len(dst), len(scale), rowLen, blockSize, "scale"); err != nil {
		return err
	}
	for i, s := range scale {
		if err := checkScale(s, i); err != nil {
			return err
		}
	}
	b := 0
	for r := 0; r < len(src); r += rowLen {
		for s := r; s < r+rowLen; s += blockSize {
			sc := scale[b]
			for i := s; i < min(s+blockSize, r+rowLen); i++ {
				dst[i] = float32(src[i]) * sc
			}
			b++
		}
	}
	return nil
}

// PackedInt4Len returns the number of bytes that hold n 4-bit codes:
// ceil(n/2), and 0 for a negative n.
func PackedInt4Len(n int) int { return max(n+1, 0) / 2 }

// PackInt4 stores 4-bit codes two per byte as ONNX INT4/UINT4 raw data
// does: code 2k in the low nibble of byte k, code 2k+1 in the high nibble
// (two's complement for signed codes). With an odd count the high nibble of
// the last byte is 0. It writes PackedInt4Len(len(src)) bytes.
//
// It returns an error if dst is too short or a code is outside [-8, 7]
// (signed) or [0, 15] (unsigned), naming its index and value.
func PackInt4(dst []byte, src []int8, unsigned bool) error {
	n := PackedInt4Len(len(src))
	if len(dst) < n {
		return fmt.Errorf("fakequant: packing %d codes needs %d bytes, dst has %d", len(src), n, len(dst))
	}
	lo, hi := int8(-8), int8(7)
	if unsigned {
		lo, hi = 0, 15
	}
	for i, c := range src {
		if c < lo || c > hi {
			return fmt.Errorf("fakequant: code %d at index %d is outside [%d, %d]", c, i, lo, hi)
		}
	}
	for k := range len(src) / 2 {
		dst[k] = byte(src[2*k])&0x0F | byte(src[2*k+1])<<4
	}
	if len(src)%2 == 1 {
		dst[n-1] = byte(src[len(src)-1]) & 0x0F
	}
	return nil
}

// UnpackInt4 reads len(dst) 4-bit codes packed as PackInt4 writes them,
// sign-extending signed codes to [-8, 7] and zero-extending unsigned ones
// to [0, 15]. The high nibble after an odd count is ignored.
//
// It returns an error if src holds fewer than PackedInt4Len(len(dst))
// bytes.
func UnpackInt4(dst []int8, src []byte, unsigned bool) error {
	n := PackedInt4Len(len(dst))
	if len(src) < n {
		return fmt.Errorf("fakequant: unpacking %d codes needs %d bytes, src has %d", len(dst), n, len(src))
	}
	pairs := len(dst) / 2
	if unsigned {
		for k, b := range src[:pairs] {
			dst[2*k], dst[2*k+1] = int8(b&0x0F), int8(b>>4)
		}
	} else {
		for k, b := range src[:pairs] {
			dst[2*k], dst[2*k+1] = int8(b<<4)>>4, int8(b)>>4
		}
	}
	if len(dst)%2 == 1 {
		b := src[n-1] << 4
		if unsigned {
			dst[len(dst)-1] = int8(b >> 4)
		} else {
			dst[len(dst)-1] = int8(b) >> 4
		}
	}
	return nil
}
