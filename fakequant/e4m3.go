package fakequant

import (
	"fmt"

	"github.com/tensorquant/tensorquant/tensor"
)

// The original toolkit's FP8 path (num_bits=(4, 3)): its scaled_e4m3 and
// fake_e4m3fy, which run in its CUDA extension only. Beside them,
// FakeQuantFP8 keeps the ONNX convention; the two differ in the last bit
// of some elements and in the sign of tiny zeros (see ScaledE4M3).

// ScaledE4M3 fake-quantizes src into dst as the original toolkit's
// scaled_e4m3(x, amax) does on a GPU (num_bits=(4, 3)), bit for bit, all in
// float32:
//
//	scale  = (1/amax) * 448                 torch's 448.0/amax: reciprocal, then multiply
//	dst[i] = e4m3fy(src[i] * scale) / scale a true division
//	dst[i] = +0 where |src[i]| < 2^-24      the input, strictly below
//
// where e4m3fy is CUDA's __nv_fp8_e4m3 conversion and back (FakeE4M3fy:
// E4M3FN, nearest even, saturating to ±448, NaN kept). So values beyond
// ±amax clip to ±amax (up to rounding of the scale), ±Inf give ±amax, NaN
// stays NaN, -0 and every |x| < 2^-24 give +0, and amax 0 gives ±0 for the
// other inputs (scale +Inf). The straight-through gradient is the
// original's: STE / STEGrad with the same amax (448 for its amax=None,
// which ScaledE4M3 with amax 448 reproduces: the scale is then exactly 1).
//
// The scale is computed as torch computes 448.0/amax for a tensor amax
// (Tensor.__rtruediv__ is reciprocal() * 448), which differs from the
// quotient 448/amax in the last bit for about a quarter of all amax values.
//
// This is not what an exported ONNX QuantizeLinear/DequantizeLinear pair
// computes: FakeQuantFP8 is x / (amax/448), rounded, then * (amax/448),
// without the flush. On the CUDA extension's vectors the two differ in
// value for 9.6% of the elements with amax 1 and 6.1% with amax 3.7 (by
// one ulp of the result, a few by a whole E4M3 step where x*448/amax and
// x/(amax/448) fall on the two sides of a rounding tie), not at amax 448,
// and in the sign of zero of inputs below 2^-24. Train with FakeQuantFP8
// when the exported model must compute the same numbers; use ScaledE4M3 to
// reproduce a model trained with the original.
//
// dst may be src. It returns an error for a dst shorter than src and a
// negative (ErrNegativeAmax), NaN or infinite (ErrNonFiniteAmax) amax.
func ScaledE4M3(dst, src []float32, amax float32) error {
	if len(dst) < len(src) {
		return fmt.Errorf("fakequant: dst has %d elements for %d inputs", len(dst), len(src))
	}
	if err := checkAmax(amax, -1); err != nil {
		return err
	}
	scaledE4M3(dst[:len(src)], src, e4m3Scale(amax))
	return nil
}

// ScaledE4M3Tensor is ScaledE4M3 with amax broadcast against x (NumPy rules;
// the result is shaped as FakeTensorQuant's), each element with its own
// amax, as the original's scaled_e4m3 broadcasts a tensor amax.
//
// It returns an error for an invalid tensor, shapes that do not broadcast,
// and a negative, NaN or infinite amax element (naming its flat index).
func ScaledE4M3Tensor(x, amax *tensor.Tensor) (*tensor.Tensor, error) {
	return fp8TensorRuns(x, amax, e4m3Scale, scaledE4M3, scaledE4M3One)
}

// FakeE4M3fy rounds each src[i] to E4M3FN and back, as the original's
// cuda_ext.fake_e4m3fy (CUDA's __nv_fp8_e4m3 conversion) does: to the
// nearest E4M3FN value, ties to even, ±448 for anything beyond (±Inf
// included), NaN kept as NaN, -0 kept. It equals DecodeFP8(EncodeFP8(x,
// saturate)) except for NaN payloads, and FakeQuantFP8 with amax 448.
//
// dst may be src. It returns an error for a dst shorter than src.
func FakeE4M3fy(dst, src []float32) error {
	if len(dst) < len(src) {
		return fmt.Errorf("fakequant: dst has %d elements for %d inputs", len(dst), len(src))
	}
	fakeQuantFP8(dst[:len(src)], src, 1, &fp8E4M3FN)
	return nil
}

// e4m3Scale is the original's scale of an amax: 448.0/amax as torch
// computes it for a float32 tensor, reciprocal first (+Inf for amax 0).
func e4m3Scale(amax float32) float32 {
	r := 1 / amax
	return r * 448
}

// fp8TensorRuns fake-quantizes x with amax broadcast against it: each amax
// element gets the scale scaleOf(amax), runs of elements sharing one go to
// kernel, shorter runs element by element to one.
func fp8TensorRuns(x, amax *tensor.Tensor, scaleOf func(float32) float32,
	kernel func(dst, src []float32, scale float32), one func(x, scale float32) float32) (*tensor.Tensor, error) {
	x, b, err := checkPair(x, amax)
	if err != nil {
		return nil, err
	}
	scale := make([]float32, len(amax.Data))
	for i, a := range amax.Data {
		if err := checkAmax(a, i); err != nil {
			return nil, err
		}
		scale[i] = scaleOf(a)
	}
	out := tensor.New(x.Shape...)
	b.runs(len(x.Data), func(start, end, a int) {
		kernel(out.Data[start:end], x.Data[start:end], scale[a])
	}, func(i, a int) {
		out.Data[i] = one(x.Data[i], scale[a])
	})
	return out, nil
}
