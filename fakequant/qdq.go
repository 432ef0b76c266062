package fakequant

import (
	"fmt"
	"math"
	"unsafe"
)

// This file holds the ONNX Runtime–equivalent Q/DQ kernels: fake
// quantization computed exactly as ONNX Runtime's CPU QuantizeLinear
// followed by DequantizeLinear computes it, so that a model trained or
// evaluated with them gives, bit for bit, the numbers of its exported
// QuantizeLinear/DequantizeLinear graph.
//
// The semantics were determined by running single QuantizeLinear →
// DequantizeLinear models (opset 13, per-tensor and per-axis, int8 and
// uint8 zero points, float32 scale) in ONNX Runtime 1.30.0 (npm
// onnxruntime-node, CPU, with graph optimizations disabled and at the
// default "all"), over random inputs, ties and near-ties, ±0, ±Inf, NaN,
// denormals, huge values and values at the saturation bounds, with scales
// from denormal to FLT_MAX and 0, -0, negative, NaN and +Inf. All in
// float32:
//
//	v = x / scale                          a division (x * (1/scale) differs in the last bit)
//	v = qmin - zp        if v is NaN       NaN becomes the type's minimum code, whatever zp is
//	v = min(max(v, qmin-zp), qmax-zp)      saturate before rounding (±Inf saturate)
//	q = roundHalfToEven(v) + zp            ties to even
//	y = float32(q - zp) * scale            DequantizeLinear: one rounding, no FMA
//
// That is MLAS's QuantizeLinear kernel (divide, MAXPS/MINPS clamp against
// the bounds shifted by the zero point, which turns NaN into the lower
// bound, CVTPS2DQ in round-to-nearest-even, add the zero point) on every
// element, in the vector body and in the tail alike. Since q - zp is an
// integer in float32's exact range, y is ±0 when q == zp: +0 for a positive
// scale. A zero scale gives x/0 (±Inf, or NaN → qmin for x = 0) and y =
// ±0; a NaN scale gives qmin and NaN; +Inf gives q = zp for finite x and
// y = NaN there (0 * Inf).
//
// The original pytorch_quantization's use_fb_fake_quant (v2.1.2) is not
// this: torch.fake_quantize_per_*_affine multiplies by the reciprocal of
// the scale, and returns +0.0 where the default path returns -0.0 (see
// fb_fake_quant.json and the tests).

// QuantizeLinear returns ONNX Runtime's QuantizeLinear of one value: the
// code of x for scale and zeroPoint in the integer range [qmin, qmax] (see
// the semantics above). It is defined for every float32 x and scale.
// qmin <= zeroPoint <= qmax and |qmin|, |qmax| <= MaxQDQCode are the
// caller's responsibility here (FakeQuantQDQ checks them).
func QuantizeLinear(x, scale float32, zeroPoint, qmin, qmax int32) int32 {
	v := x / scale
	lo, hi := float32(qmin-zeroPoint), float32(qmax-zeroPoint)
	if !(v >= lo) { // below the range, or NaN
		v = lo
	}
	if v > hi {
		v = hi
	}
	return int32(math.RoundToEven(float64(v))) + zeroPoint
}

// QuantizeLinearCodes writes QuantizeLinear(src[i], scale, zeroPoint,
// qmin, qmax) into dst[i] as int8 or uint8 codes: ONNX Runtime's
// per-tensor QuantizeLinear, bit for bit, in the SIMD kernels (AVX2,
// AVX-512, NEON; the generic loop elsewhere). [qmin, qmax] must lie within T's
// range ([-128, 127] or [0, 255]; narrower for 4-bit codes held in
// bytes). Any float32 scale is accepted, as ONNX Runtime accepts it.
//
// It returns an error, and writes nothing, if dst is shorter than src, if
// qmin > qmax or the range exceeds T's, or if zeroPoint is outside [qmin,
// qmax].
func QuantizeLinearCodes[T int8 | uint8](dst []T, src []float32, scale float32, zeroPoint, qmin, qmax int32) error {
	if len(dst) < len(src) {
		return fmt.Errorf("fakequant: QuantizeLinear dst of %d elements for %d inputs", len(dst), len(src))
	}
	tmin, tmax := int32(0), int32(255)
	if ^T(0) < 0 { // int8
		tmin, tmax = -128, 127
	}
	if qmin < tmin || qmax > tmax || qmin > qmax {
		return fmt.Errorf("fakequant: QuantizeLinear code range [%d, %d] is empty or outside [%d, %d]", qmin, qmax, tmin, tmax)
	}
	if zeroPoint < qmin || zeroPoint > qmax {
		return fmt.Errorf("fakequant: Q/DQ zero point %d outside the code range [%d, %d]", zeroPoint, qmin, qmax)
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), len(src))
	quantLinear(b, src, scale, float32(qmin-zeroPoint), float32(qmax-zeroPoint), zeroPoint)
	return nil
}

// DequantizeLinear returns ONNX Runtime's DequantizeLinear of one code:
// float32(q - zeroPoint) * scale, with a single float32 rounding.
func DequantizeLinear(q, zeroPoint int32, scale float32) float32 {
	return float32(q-zeroPoint) * scale
}

// MaxQDQCode bounds |qmin| and |qmax| for the Q/DQ kernels: every code and
// every difference of codes is then exact in float32. It covers the 4-,
// 8- and 16-bit types of QuantizeLinear (int8 [-128, 127] and uint8
// [0, 255] are the ones checked against ONNX Runtime).
const MaxQDQCode = 1 << 16

func checkQDQRange(zeroPoint, qmin, qmax int32) error {
	if qmin < -MaxQDQCode || qmax > MaxQDQCode || qmin > qmax {
		return fmt.Errorf("fakequant: Q/DQ code range [%d, %d] is empty or outside [%d, %d]", qmin, qmax, -MaxQDQCode, MaxQDQCode)
	}
	if zeroPoint < qmin || zeroPoint > qmax {
		return fmt.Errorf("fakequant: Q/DQ zero point %d outside the code range [%d, %d]", zeroPoint, qmin, qmax)
	}
	return nil
}

// FakeQuantQDQ writes DequantizeLinear(QuantizeLinear(src[i])) into dst[i]
// with one scale and zero point, bit for bit as ONNX Runtime computes a
// QuantizeLinear → DequantizeLinear pair (see the semantics above). [qmin,
// qmax] is the code range of the zero point's type: [-128, 127] for int8,
// [0, 255] for uint8. dst may be src. An exporter's per-tensor quantizer
// with amax uses scale = amax/127 (1 when amax is 0), zeroPoint 0, [-128,
// 127].
//
// It returns an error, and writes nothing, if dst is shorter than src, if
// qmin > qmax or either is beyond ±MaxQDQCode, or if zeroPoint is outside
// [qmin, qmax]. Any float32 scale is accepted, as ONNX Runtime accepts it.
func FakeQuantQDQ(dst, src []float32, scale float32, zeroPoint, qmin, qmax int32) error {
	if len(dst) < len(src) {
		return fmt.Errorf("fakequant: Q/DQ dst of %d elements for %d inputs", len(dst), len(src))
	}
	if err := checkQDQRange(zeroPoint, qmin, qmax); err != nil {
		return err
	}
	qdq(dst[:len(src)], src, scale, zeroPoint, qmin, qmax)
	return nil
}

func qdq(dst, src []float32, scale float32, zeroPoint, qmin, qmax int32) {
	for i, x := range src {
		dst[i] = DequantizeLinear(QuantizeLinear(x, scale, zeroPoint, qmin, qmax), zeroPoint, scale)
	}
}

// FakeQuantQDQPerChannel is FakeQuantQDQ per channel, as a per-axis
// QuantizeLinear → DequantizeLinear pair computes it: src is laid out as
// [outer][C][inner] with C = len(scale) (the axis attribute's dimension),
// and channel c uses scale[c] and zeroPoint[c]. dst may be src.
//
// It returns an error, and writes nothing, if scale is empty, len(zeroPoint)
// != len(scale), inner < 1, len(src) is not a multiple of len(scale)*inner,
// dst is shorter than src, or a zero point or the range is invalid (as in
// FakeQuantQDQ).
func FakeQuantQDQPerChannel(dst, src, scale []float32, zeroPoint []int32, inner int, qmin, qmax int32) error {
	c := len(scale)
	if c == 0 || len(zeroPoint) != c {
		return fmt.Errorf("fakequant: per-channel Q/DQ with %d scales and %d zero points", c, len(zeroPoint))
	}
	if inner < 1 || len(src)%(c*inner) != 0 {
		return fmt.Errorf("fakequant: per-channel Q/DQ layout of %d elements does not split into [outer][%d][%d]", len(src), c, inner)
	}
	if len(dst) < len(src) {
		return fmt.Errorf("fakequant: per-channel Q/DQ dst of %d elements for %d inputs", len(dst), len(src))
	}
	for ch, zp := range zeroPoint {
		if err := checkQDQRange(zp, qmin, qmax); err != nil {
			return fmt.Errorf("channel %d: %w", ch, err)
		}
	}
	for r, ch := 0, 0; r < len(src); r += inner {
		qdq(dst[r:r+inner], src[r:r+inner], scale[ch], zeroPoint[ch], qmin, qmax)
		if ch++; ch == c {
			ch = 0
		}
	}
	return nil
}
