package fakequant

import (
	"errors"
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/tensor"
)

// FP8Format is one of the 8-bit floating-point formats of ONNX ("Float
// stored in 8 bits", the FLOAT8E4M3FN and FLOAT8E5M2 tensor types). A code
// is the byte S.EEEE.MMM (E4M3FN) or S.EEEEE.MM (E5M2); its value is
// (-1)^S * 2^(E-bias) * (1 + M/2^m) for E != 0 and (-1)^S * 2^(1-bias) *
// M/2^m for E == 0 (subnormals), with m the number of mantissa bits.
//
// The zero value is not a format; Validate reports it.
type FP8Format uint8

const (
	// E4M3FN is ONNX FLOAT8E4M3FN: bias 7, no infinities, NaN only as
	// S.1111.111 (0x7F, 0xFF), largest finite value 448 (0x7E), smallest
	// subnormal 2^-9, -0 distinct from +0.
	E4M3FN FP8Format = 1
	// E5M2 is ONNX FLOAT8E5M2, laid out like IEEE 754: bias 15, ±Inf as
	// S.11111.00 (0x7C, 0xFC), NaN as S.11111.{01,10,11}, largest finite
	// value 57344 (0x7B), smallest subnormal 2^-16.
	E5M2 FP8Format = 2
)

// ErrFP8Format: a value that is neither E4M3FN nor E5M2 was given as an
// FP8Format.
var ErrFP8Format = errors.New("fakequant: unknown FP8 format")

// ErrNonFiniteAmax: an amax element is NaN or infinite where the
// ONNX-convention functions (FP8, INT4) need a finite one.
var ErrNonFiniteAmax = errors.New("fakequant: NaN or infinite amax")

// String returns the ONNX type name: "FLOAT8E4M3FN" or "FLOAT8E5M2" (or a
// description of an invalid value).
func (f FP8Format) String() string {
	switch f {
	case E4M3FN:
		return "FLOAT8E4M3FN"
	case E5M2:
		return "FLOAT8E5M2"
	}
	return fmt.Sprintf("FP8Format(%d)", uint8(f))
}

// Validate returns an error wrapping ErrFP8Format unless f is E4M3FN or
// E5M2.
func (f FP8Format) Validate() error {
	if f != E4M3FN && f != E5M2 {
		return fmt.Errorf("%w: %d (want E4M3FN or E5M2)", ErrFP8Format, uint8(f))
	}
	return nil
}

// MaxValue returns the largest finite value of f: 448 for E4M3FN, 57344 for
// E5M2, and 0 for an invalid format.
func (f FP8Format) MaxValue() float32 {
	if f.Validate() != nil {
		return 0
	}
	return fp8ParamsOf(f).max
}

// fp8Params describes a format to the kernels. Every threshold is a
// float32 bit pattern of a non-negative value, compared with |x|'s bits.
type fp8Params struct {
	shift     uint32  // 23 - mantissa bits: float32 mantissa bits dropped (20 or 21)
	expAdj    uint32  // (127 - bias) << 23: rebias of a float32 exponent to the FP8 one
	minNormal uint32  // bits of the smallest normal FP8 value: 2^-6 or 2^-14
	satBits   uint32  // bits of the largest |x| that does not overflow: 464 or nextbelow(61440)
	magic     float32 // a power of two whose float32 ulp is the subnormal step: 2^14 or 2^7
	max       float32 // largest finite value: 448 or 57344
	maxCode   uint8   // code of max: 0x7E or 0x7B
	ovfCode   uint8   // code of an overflow without saturation: NaN 0x7F or Inf 0x7C
	nanMin    uint8   // smallest |code| that is NaN: 0x7F or 0x7D
	infCode   uint8   // |code| of infinity: 0x7C, or 0xFF (matches no |code|) for E4M3FN
	decMul    float32 // 2^(127-bias): rebias of a code placed in a float32

	// Derived by newFP8Params:
	roundBias uint32       // 1<<(shift-1) - 1: with the lowest kept bit, rounds half to even
	lowMask   uint32       // 1<<shift - 1: the float32 bits an FP8 value drops
	magicBits uint32       // bits of magic
	maxBits   uint32       // bits of max
	decode    [256]float32 // the value of every code
}

// newFP8Params fills in the derived fields of p.
func newFP8Params(p fp8Params) fp8Params {
	p.roundBias = 1<<(p.shift-1) - 1
	p.lowMask = 1<<p.shift - 1
	p.magicBits = math.Float32bits(p.magic)
	p.maxBits = math.Float32bits(p.max)
	for c := range p.decode {
		p.decode[c] = decodeFP8One(uint8(c), &p)
	}
	return p
}

var fp8E4M3FN = newFP8Params(fp8Params{
	shift:     20,
	expAdj:    (127 - 7) << 23,
	minNormal: 0x3C800000, // 2^-6
	// 464 = 1.8125*2^8 lies halfway between 448 (mantissa 110) and the
	// first value past the format (480, mantissa 111): the tie goes to the
	// even 448, anything larger overflows.
	satBits: 0x43E80000,
	magic:   1 << 14, // ulp(2^14) in float32 = 2^-9, the subnormal step
	max:     448,
	maxCode: 0x7E,
	ovfCode: 0x7F,
	nanMin:  0x7F,
	infCode: 0xFF,
	decMul:  1 << 120,
})

var fp8E5M2 = newFP8Params(fp8Params{
	shift:     21,
	expAdj:    (127 - 15) << 23,
	minNormal: 0x38800000, // 2^-14
	// 61440 = 1.875*2^15 lies halfway between 57344 (mantissa 11) and 65536
	// (the next power of two, mantissa 00): the tie goes to the even 65536,
	// which overflows, so the largest |x| kept finite is the float32 below.
	satBits: 0x476FFFFF,
	magic:   1 << 7, // ulp(2^7) in float32 = 2^-16, the subnormal step
	max:     57344,
	maxCode: 0x7B,
	ovfCode: 0x7C,
	nanMin:  0x7D,
	infCode: 0x7C,
	decMul:  1 << 112,
})

// fp8NaN is the |code| a NaN converts to in both formats.
const fp8NaN = 0x7F

func fp8ParamsOf(f FP8Format) *fp8Params {
	if f == E5M2 {
		return &fp8E5M2
	}
	return &fp8E4M3FN
}

// EncodeFP8 converts each src[i] to the FP8 code of f: the nearest value of
// f, ties to the even code (also into, within and out of the subnormal
// range), exactly as ONNX Cast (opset 19+) defines it. With saturate (ONNX
// saturate=1, the default of Cast and QuantizeLinear) values beyond ±max and
// ±Inf become ±max. Without it (saturate=0) they become NaN for E4M3FN
// (0x7F or 0xFF, the sign kept) and ±Inf for E5M2. A value whose rounding
// is a tie at max is kept (464 -> 448 for E4M3FN); E5M2 overflows from
// 61440 up, as IEEE 754 rounding does. NaN becomes 0x7F with its sign bit
// (0xFF for a negative NaN); -0 becomes 0x80.
//
// It returns an error for an invalid f or a dst shorter than src.
func EncodeFP8(dst []uint8, src []float32, f FP8Format, saturate bool) error {
	if err := checkFP8(f, len(dst), len(src)); err != nil {
		return err
	}
	encodeFP8(dst[:len(src)], src, 1, fp8ParamsOf(f), saturate)
	return nil
}

// DecodeFP8 converts FP8 codes of f to float32, exactly (every FP8 value is
// a float32). NaN codes give the quiet float32 NaN with the code's sign
// (0x7FC00000 or 0xFFC00000); E5M2's 0x7C and 0xFC give ±Inf.
//
// It returns an error for an invalid f or a dst shorter than src.
func DecodeFP8(dst []float32, src []uint8, f FP8Format) error {
	if err := checkFP8(f, len(dst), len(src)); err != nil {
		return err
	}
	decodeFP8(dst[:len(src)], src, 1, fp8ParamsOf(f))
	return nil
}

// QuantizeFP8 is ONNX QuantizeLinear to an FP8 type with zero point 0:
// dst[i] = EncodeFP8(src[i] / scale), a true float32 division, with the
// saturation rule of EncodeFP8. Use FP8Scale for the scale the exporter
// writes.
//
// It returns an error for an invalid f, a dst shorter than src, or a scale
// that is not finite and positive.
func QuantizeFP8(dst []uint8, src []float32, scale float32, f FP8Format, saturate bool) error {
	if err := checkFP8(f, len(dst), len(src)); err != nil {
		return err
	}
	if err := checkScale(scale, -1); err != nil {
		return err
	}
	encodeFP8(dst[:len(src)], src, scale, fp8ParamsOf(f), saturate)
	return nil
}

// DequantizeFP8 is ONNX DequantizeLinear from an FP8 type with zero point
// 0: dst[i] = DecodeFP8(src[i]) * scale.
//
// It returns an error for an invalid f, a dst shorter than src, or a scale
// that is not finite and positive.
func DequantizeFP8(dst []float32, src []uint8, scale float32, f FP8Format) error {
	if err := checkFP8(f, len(dst), len(src)); err != nil {
		return err
	}
	if err := checkScale(scale, -1); err != nil {
		return err
	}
	decodeFP8(dst[:len(src)], src, scale, fp8ParamsOf(f))
	return nil
}

// FP8Scale returns the scale of FP8 quantization with the given amax, as
// the ONNX exporter writes it: float32(amax) / float32(f.MaxValue()), a
// float32 division, with a result of 0 (amax 0, or an amax so small that
// the quotient underflows) replaced by 1.
//
// It returns an error for an invalid f, a negative amax (wrapping
// ErrNegativeAmax) or a NaN or infinite one (wrapping ErrNonFiniteAmax).
func FP8Scale(amax float32, f FP8Format) (float32, error) {
	if err := f.Validate(); err != nil {
		return 0, err
	}
	if err := checkAmax(amax, -1); err != nil {
		return 0, err
	}
	return fp8Scale(amax, fp8ParamsOf(f)), nil
}

func fp8Scale(amax float32, p *fp8Params) float32 {
	s := amax / p.max
	if s == 0 {
		return 1
	}
	return s
}

// FakeQuantFP8 fake-quantizes src into dst in the FP8 format f with one
// amax for the whole slice, computing exactly what an exported ONNX
// QuantizeLinear/DequantizeLinear pair computes (saturate=1, zero point 0):
//
//	scale = FP8Scale(amax, f)         float32(amax)/float32(max), 0 -> 1
//	dst[i] = DecodeFP8(EncodeFP8(src[i] / scale)) * scale
//
// so values beyond ±amax (and ±Inf) clip to ±amax (up to rounding of the
// scale), NaN stays NaN and -0 stays -0. The straight-through gradient is
// the one of the integer path: STE / STEGrad with the same amax.
//
// This is the ONNX convention, not the original toolkit's E4M3 path
// (num_bits=(4, 3), its scaled_e4m3, which runs only in its CUDA
// extension): that one multiplies by 448/amax instead of dividing by
// amax/448 and flushes |x| < 2^-24 to +0; ScaledE4M3 computes it bit for
// bit. The two differ in the last bit of some elements (9.6% of the CUDA
// extension's vectors with amax 1, 6.1% with amax 3.7, none at 448; a few
// by a whole E4M3 step, next to a rounding tie) and in the sign of tiny
// zeros. FakeQuantFP8 is what the exported QuantizeLinear/DequantizeLinear
// pair computes, so a model fake-quantized with it and its export give the
// same bits; ScaledE4M3 reproduces a model trained with the original.
//
// dst may be src. It returns an error for an invalid f, a dst shorter than
// src, and a negative (ErrNegativeAmax), NaN or infinite (ErrNonFiniteAmax)
// amax.
func FakeQuantFP8(dst, src []float32, amax float32, f FP8Format) error {
	if err := checkFP8(f, len(dst), len(src)); err != nil {
		return err
	}
	if err := checkAmax(amax, -1); err != nil {
		return err
	}
	p := fp8ParamsOf(f)
	fakeQuantFP8(dst[:len(src)], src, fp8Scale(amax, p), p)
	return nil
}

// FakeQuantFP8PerChannel is FakeQuantFP8 with one amax per channel, for
// src laid out as [outer][C][inner] with C = len(amax), as
// FakeQuantPerChannel walks it (Conv weights: outer = 1; Linear rows: inner
// = row length). dst may be src.
//
// It returns an error for an invalid f; if amax is empty, inner < 1, or
// len(src) is not a multiple of len(amax)*inner; if dst is shorter than
// src; and for a negative, NaN or infinite amax element (naming its index).
func FakeQuantFP8PerChannel(dst, src, amax []float32, inner int, f FP8Format) error {
	if err := checkFP8(f, len(dst), len(src)); err != nil {
		return err
	}
	c := len(amax)
	if c == 0 || inner < 1 || len(src)%(c*inner) != 0 {
		return fmt.Errorf("fakequant: per-channel layout of %d elements does not split into [outer][%d][%d]", len(src), c, inner)
	}
	p := fp8ParamsOf(f)
	scale := make([]float32, c)
	for i, a := range amax {
		if err := checkAmax(a, i); err != nil {
			return err
		}
		scale[i] = fp8Scale(a, p)
	}
	for r, ch := 0, 0; r < len(src); r += inner {
		fakeQuantFP8Run(dst[r:r+inner], src[r:r+inner], scale[ch], p)
		if ch++; ch == c {
			ch = 0
		}
	}
	return nil
}

// FakeTensorQuantFP8 fake-quantizes x in the FP8 format f with amax
// broadcast against it (NumPy rules; the result is shaped as
// FakeTensorQuant's), each element as FakeQuantFP8 does with its amax.
//
// It returns an error for an invalid tensor or f, shapes that do not
// broadcast, and a negative, NaN or infinite amax element (naming its flat
// index).
func FakeTensorQuantFP8(x, amax *tensor.Tensor, f FP8Format) (*tensor.Tensor, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	p := fp8ParamsOf(f)
	return fp8TensorRuns(x, amax, func(a float32) float32 { return fp8Scale(a, p) },
		func(dst, src []float32, scale float32) { fakeQuantFP8(dst, src, scale, p) },
		func(x, scale float32) float32 { return fakeQuantFP8One(x, scale, p) })
}

// fakeQuantFP8Run is fakeQuantFP8 for one run of a per-channel walk: runs
// too short for a kernel call go element by element.
func fakeQuantFP8Run(dst, src []float32, scale float32, p *fp8Params) {
	if len(src) < runMin {
		for i, x := range src {
			dst[i] = fakeQuantFP8One(x, scale, p)
		}
		return
	}
	fakeQuantFP8(dst, src, scale, p)
}

func checkFP8(f FP8Format, nDst, nSrc int) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if nDst < nSrc {
		return fmt.Errorf("fakequant: dst has %d elements for %d inputs", nDst, nSrc)
	}
	return nil
}

// checkAmax rejects a negative, NaN or infinite amax; index >= 0 names the
// element in the message.
func checkAmax(a float32, index int) error {
	at := ""
	if index >= 0 {
		at = fmt.Sprintf(" at index %d", index)
	}
	switch {
	case a != a || math.IsInf(float64(a), 0):
		return fmt.Errorf("%w: amax %v%s", ErrNonFiniteAmax, a, at)
	case a < 0:
		return fmt.Errorf("%w: amax %v%s", ErrNegativeAmax, a, at)
	}
	return nil
}

// checkScale rejects a scale that is not finite and positive; index >= 0
// names the element in the message.
func checkScale(s float32, index int) error {
	if s > 0 && s <= math.MaxFloat32 {
		return nil
	}
	at := ""
	if index >= 0 {
		at = fmt.Sprintf(" at index %d", index)
	}
	return fmt.Errorf("fakequant: scale %v%s is not finite and positive", s, at)
}
