package fuzz

import (
	"math"
	"testing"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// fp8Format maps a fuzz byte onto the two FP8 formats.
func fp8Format(b uint8) fakequant.FP8Format {
	if b&1 == 0 {
		return fakequant.E4M3FN
	}
	return fakequant.E5M2
}

// fp8Nearest is a brute-force model of the FP8 conversion, independent of
// the kernels' arithmetic: among the finite non-negative codes (decoded by
// DecodeFP8, which fakequant's tests pin to the ONNX formulas) plus one
// virtual code past max, whose value continues the top binade (480 for
// E4M3FN, 65536 for E5M2), take the one nearest |x|, ties to the even
// code; landing on the virtual code (or |x| = Inf) is an overflow: ±max
// with saturation, else NaN (E4M3FN) or ±Inf (E5M2). NaN gives 0x7F with
// its sign.
func fp8Nearest(t *testing.T, x float32, f fakequant.FP8Format, saturate bool) uint8 {
	codes := make([]uint8, 128)
	for i := range codes {
		codes[i] = uint8(i)
	}
	vals := make([]float32, 128)
	if err := fakequant.DecodeFP8(vals, codes, f); err != nil {
		t.Fatal(err)
	}
	top := 0 // the largest finite code
	for c, v := range vals {
		if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
			top = c
		}
	}
	beyond := 2*float64(vals[top]) - float64(vals[top-1])
	var sign uint8
	if math.Signbit(float64(x)) {
		sign = 0x80
	}
	if x != x {
		return sign | 0x7F
	}
	a := math.Abs(float64(x))
	best, bestD := top+1, math.Abs(a-beyond)
	for c := top; c >= 0 && a < beyond; c-- { // beyond and above (Inf too) overflow

		d := math.Abs(a - float64(vals[c]))
		if d < bestD || (d == bestD && c%2 == 0) {
			best, bestD = c, d
		}
	}
	switch {
	case best <= top:
		return sign | uint8(best)
	case saturate:
		return sign | uint8(top)
	case f == fakequant.E5M2:
		return sign | 0x7C
	}
	return sign | 0x7F
}

func FuzzFP8Quantize(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, scaleBits uint32, fmtByte, flags uint8) {
		src, scale, fm, sat := floats(data), math.Float32frombits(scaleBits), fp8Format(fmtByte), flags&1 != 0
		if len(src) > 64 {
			src = src[:64] // the brute-force model is slow
		}
		codes := make([]uint8, len(src))
		err := fakequant.QuantizeFP8(codes, src, scale, fm, sat)
		if !(scale > 0 && scale <= math.MaxFloat32) {
			if err == nil {
				t.Fatalf("QuantizeFP8 accepted scale %v", scale)
			}
			scale = 1
			if err := fakequant.EncodeFP8(codes, src, fm, sat); err != nil {
				t.Fatal(err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
		for i, x := range src {
			if want := fp8Nearest(t, x/scale, fm, sat); codes[i] != want {
				t.Fatalf("%v sat=%v scale=%v: x=%v (%#08x) gives %#02x, nearest model %#02x", fm, sat, scale, x, math.Float32bits(x), codes[i], want)
			}
		}
	})
}

func FuzzFP8Kernels(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, scaleBits uint32, fmtByte, flags uint8) {
		src, fm, sat := floats(data), fp8Format(fmtByte), flags&1 != 0
		scale := math.Float32frombits(scaleBits &^ (1 << 31))
		if !(scale > 0 && scale <= math.MaxFloat32) {
			scale = 1
		}
		type result struct {
			codes []uint8
			dec   []float32
		}
		eachImpl(t, func() result {
			r := result{make([]uint8, len(src)), make([]float32, len(data))}
			if err := fakequant.QuantizeFP8(r.codes, src, scale, fm, sat); err != nil {
				t.Fatal(err)
			}
			if err := fakequant.DequantizeFP8(r.dec, data, scale, fm); err != nil {
				t.Fatal(err)
			}
			return r
		}, func(impl cpufeat.Impl, got, want result) {
			for i := range want.codes {
				if got.codes[i] != want.codes[i] {
					t.Fatalf("%v %v sat=%v scale=%v: x[%d]=%v gives %#02x, generic %#02x", impl, fm, sat, scale, i, src[i], got.codes[i], want.codes[i])
				}
			}
			for i := range want.dec {
				if !same(got.dec[i], want.dec[i]) {
					t.Fatalf("%v %v scale=%v: code %#02x decodes to %v, generic %v", impl, fm, scale, data[i], got.dec[i], want.dec[i])
				}
			}
		})
	})
}

func FuzzFakeQuantFP8(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, amaxBits uint32, fmtByte, flags uint8) {
		src, amax, fm := floats(data), math.Float32frombits(amaxBits), fp8Format(fmtByte)
		dst := make([]float32, len(src))
		err := fakequant.FakeQuantFP8(dst, src, amax, fm)
		if amax != amax || amax < 0 || math.IsInf(float64(amax), 0) {
			if err == nil {
				t.Fatalf("FakeQuantFP8 accepted amax %v", amax)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		// The definition: dequantize(quantize(x, scale), scale).
		scale, err := fakequant.FP8Scale(amax, fm)
		if err != nil {
			t.Fatal(err)
		}
		codes, want := make([]uint8, len(src)), make([]float32, len(src))
		if err := fakequant.QuantizeFP8(codes, src, scale, fm, true); err != nil {
			t.Fatal(err)
		}
		if err := fakequant.DequantizeFP8(want, codes, scale, fm); err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if !same(dst[i], want[i]) {
				t.Fatalf("%v amax=%v: x[%d]=%v gives %v, QDQ %v", fm, amax, i, src[i], dst[i], want[i])
			}
		}
		// Every family, per tensor and per channel.
		c := int(flags>>1)%5 + 1
		inner := int(flags>>4) + 1
		chAmax := make([]float32, c)
		for i := range chAmax {
			chAmax[i] = math.Float32frombits(amaxBits>>(i*3)) * float32(i+1)
			if chAmax[i] != chAmax[i] || math.IsInf(float64(chAmax[i]), 0) {
				chAmax[i] = 1
			}
		}
		n := len(src) / (c * inner) * (c * inner)
		eachImpl(t, func() [2][]float32 {
			a, b := make([]float32, len(src)), make([]float32, n)
			if err := fakequant.FakeQuantFP8(a, src, amax, fm); err != nil {
				t.Fatal(err)
			}
			if err := fakequant.FakeQuantFP8PerChannel(b, src[:n], chAmax, inner, fm); err != nil {
				t.Fatal(err)
			}
			return [2][]float32{a, b}
		}, func(impl cpufeat.Impl, got, want [2][]float32) {
			for k := range want {
				for i := range want[k] {
					if !same(got[k][i], want[k][i]) {
						t.Fatalf("%v %v (per channel %v): x[%d]=%v gives %v, generic %v", impl, fm, k == 1, i, src[i], got[k][i], want[k][i])
					}
				}
			}
		})
	})
}

func FuzzFakeQuantBlock(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, amaxBits uint32, numBits, flags uint8) {
		src, fm := floats(data), format(numBits, flags)
		rowLen := int(flags>>2)%40 + 1
		blockSize := int(numBits>>5)*9 + int(flags&3) + 1
		src = src[:len(src)/rowLen*rowLen]
		amax, err := fakequant.BlockAmax(src, rowLen, blockSize)
		if err != nil {
			t.Fatal(err)
		}
		if len(amax) > 0 {
			amax[0] = math.Float32frombits(amaxBits &^ (1 << 31)) // any non-negative amax, NaN and Inf included
		}
		eachImpl(t, func() []float32 {
			dst := make([]float32, len(src))
			if err := fakequant.FakeQuantBlock(dst, src, amax, rowLen, blockSize, fm); err != nil {
				t.Fatal(err)
			}
			return dst
		}, func(impl cpufeat.Impl, got, want []float32) {
			for i := range want {
				if !same(got[i], want[i]) {
					t.Fatalf("%v %v rows of %d blocks of %d: x[%d]=%v gives %v, generic %v", impl, fm, rowLen, blockSize, i, src[i], got[i], want[i])
				}
			}
		})
	})
}

func FuzzInt4Pack(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, _ uint32, _, flags uint8) {
		unsigned := flags&1 != 0
		n := 2*len(data) - int(flags>>1&1) // an odd count when the bit is set
		if n < 0 {
			return
		}
		codes := make([]int8, n)
		if err := fakequant.UnpackInt4(codes, data, unsigned); err != nil {
			t.Fatal(err)
		}
		lo, hi := int8(-8), int8(7)
		if unsigned {
			lo, hi = 0, 15
		}
		for i, c := range codes {
			if c < lo || c > hi {
				t.Fatalf("unsigned=%v: code %d at %d out of range", unsigned, c, i)
			}
		}
		packed := make([]byte, fakequant.PackedInt4Len(n))
		if err := fakequant.PackInt4(packed, codes, unsigned); err != nil {
			t.Fatal(err)
		}
		for i := range packed {
			want := data[i]
			if n%2 == 1 && i == len(packed)-1 {
				want &= 0x0F // the padding nibble is written as 0
			}
			if packed[i] != want {
				t.Fatalf("unsigned=%v n=%d: byte %d repacks as %#02x, want %#02x", unsigned, n, i, packed[i], want)
			}
		}
	})
}
