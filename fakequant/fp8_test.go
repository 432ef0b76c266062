package fakequant

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
	"github.com/tensorquant/tensorquant/tensor"
)

// TestFP8ReferenceModel pins the float64 reference to the numbers of the
// ONNX text, so that the exhaustive test compares against the right model.
func TestFP8ReferenceModel(t *testing.T) {
	for _, c := range []struct {
		r                 *refFP8
		max               float64
		maxCode, infCode  uint8
		minSub, minNormal float64
	}{
		{refE4M3FN, 448, 0x7E, 0, 0x1p-9, 0x1p-6},
		{refE5M2, 57344, 0x7B, 0x7C, 0x1p-16, 0x1p-14},
	} {
		r := c.r
		if r.max != c.max || r.maxCode != c.maxCode || r.values[1] != c.minSub || r.values[1<<r.mbits] != c.minNormal {
			t.Errorf("%s: max %v (code %#x), smallest subnormal %v, smallest normal %v", r.name, r.max, r.maxCode, r.values[1], r.values[1<<r.mbits])
		}
		if got := r.f.MaxValue(); float64(got) != c.max {
			t.Errorf("%v.MaxValue() = %v, want %v", r.f, got, c.max)
		}
		nans, infs := 0, 0
		for code, v := range r.values {
			switch {
			case math.IsNaN(v):
				nans++
			case math.IsInf(v, 0):
				infs++
				if uint8(code)&0x7F != c.infCode {
					t.Errorf("%s: code %#x is Inf", r.name, code)
				}
			default:
				neg := code&0x80 != 0
				if back := r.code(math.Abs(v), neg, true); back != uint8(code) {
					t.Errorf("%s: reference code(value(%#x) = %v) = %#x", r.name, code, v, back)
				}
			}
		}
		wantNaN, wantInf := 2, 0
		if r.hasInf {
			wantNaN, wantInf = 6, 2
		}
		if nans != wantNaN || infs != wantInf {
			t.Errorf("%s: %d NaN codes and %d Inf codes, want %d and %d", r.name, nans, infs, wantNaN, wantInf)
		}
	}
	if math.Float64bits(refE4M3FN.values[0x80]) != 1<<63 {
		t.Error("0x80 is not -0")
	}
}

// fp8Cases are the rows of the ONNX Cast tables for float8 and the rounding
// boundaries, with hand-derived codes.
var fp8Cases = []struct {
	f           FP8Format
	x           float32
	sat, no     uint8 // code with and without saturation
	description string
}{
	{E4M3FN, 0, 0x00, 0x00, "0"},
	{E4M3FN, negZero, 0x80, 0x80, "-0"},
	{E4M3FN, nan, 0x7F, 0x7F, "NaN"},
	{E4M3FN, -nan, 0xFF, 0xFF, "-NaN"},
	{E4M3FN, inf, 0x7E, 0x7F, "Inf"},
	{E4M3FN, -inf, 0xFE, 0xFF, "-Inf"},
	{E4M3FN, 448, 0x7E, 0x7E, "max"},
	{E4M3FN, 464, 0x7E, 0x7E, "tie at max: even 448"},
	{E4M3FN, math.Nextafter32(464, 0), 0x7E, 0x7E, "below the tie at max"},
	{E4M3FN, math.Nextafter32(464, 1000), 0x7E, 0x7F, "above the tie at max"},
	{E4M3FN, -math.Nextafter32(464, 1000), 0xFE, 0xFF, "below -max"},
	{E4M3FN, 480, 0x7E, 0x7F, "the NaN pattern's value"},
	{E4M3FN, 1e6, 0x7E, 0x7F, "large"},
	{E4M3FN, -math.MaxFloat32, 0xFE, 0xFF, "-FLT_MAX"},
	{E4M3FN, 0x1p-9, 0x01, 0x01, "smallest subnormal"},
	{E4M3FN, 0x1p-10, 0x00, 0x00, "tie between 0 and the smallest subnormal"},
	{E4M3FN, -0x1p-10, 0x80, 0x80, "negative tie to -0"},
	{E4M3FN, math.Nextafter32(0x1p-10, 1), 0x01, 0x01, "above that tie"},
	{E4M3FN, 3 * 0x1p-10, 0x02, 0x02, "subnormal tie 1|2"},
	{E4M3FN, 5 * 0x1p-10, 0x02, 0x02, "subnormal tie 2|3"},
	{E4M3FN, 15 * 0x1p-10, 0x08, 0x08, "tie 7 subnormal steps | smallest normal"},
	{E4M3FN, math.Nextafter32(15*0x1p-10, 0), 0x07, 0x07, "below that tie"},
	{E4M3FN, 0x1p-6, 0x08, 0x08, "smallest normal"},
	{E4M3FN, math.SmallestNonzeroFloat32, 0x00, 0x00, "float32 subnormal"},
	{E4M3FN, 1, 0x38, 0x38, "1"},
	{E4M3FN, 1.0625, 0x38, 0x38, "tie 1|1.125"},
	{E4M3FN, 1.1875, 0x3A, 0x3A, "tie 1.125|1.25"},
	{E4M3FN, 1.96875, 0x40, 0x40, "tie 1.875|2: carry into the exponent"},
	{E4M3FN, -240, 0xF7, 0xF7, "-240"},

	{E5M2, 0, 0x00, 0x00, "0"},
	{E5M2, negZero, 0x80, 0x80, "-0"},
	{E5M2, nan, 0x7F, 0x7F, "NaN"},
	{E5M2, -nan, 0xFF, 0xFF, "-NaN"},
	{E5M2, inf, 0x7B, 0x7C, "Inf"},
	{E5M2, -inf, 0xFB, 0xFC, "-Inf"},
	{E5M2, 57344, 0x7B, 0x7B, "max"},
	{E5M2, 61440, 0x7B, 0x7C, "tie at max: even 65536 overflows"},
	{E5M2, math.Nextafter32(61440, 0), 0x7B, 0x7B, "below the tie at max"},
	{E5M2, -61440, 0xFB, 0xFC, "tie at -max"},
	{E5M2, 1e6, 0x7B, 0x7C, "large"},
	{E5M2, math.MaxFloat32, 0x7B, 0x7C, "FLT_MAX"},
	{E5M2, 0x1p-16, 0x01, 0x01, "smallest subnormal"},
	{E5M2, 0x1p-17, 0x00, 0x00, "tie between 0 and the smallest subnormal"},
	{E5M2, 3 * 0x1p-17, 0x02, 0x02, "subnormal tie 1|2"},
	{E5M2, 7 * 0x1p-17, 0x04, 0x04, "tie 3 subnormal steps | smallest normal"},
	{E5M2, 0x1p-14, 0x04, 0x04, "smallest normal"},
	{E5M2, 1, 0x3C, 0x3C, "1"},
	{E5M2, 1.125, 0x3C, 0x3C, "tie 1|1.25"},
	{E5M2, 1.375, 0x3E, 0x3E, "tie 1.25|1.5"},
	{E5M2, -1.875, 0xC0, 0xC0, "tie -1.75|-2: carry into the exponent"},
}

func TestEncodeFP8Table(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, c := range fp8Cases {
			for _, sat := range []bool{true, false} {
				want := c.no
				if sat {
					want = c.sat
				}
				got := []uint8{0x55}
				if err := EncodeFP8(got, []float32{c.x}, c.f, sat); err != nil {
					t.Fatal(err)
				}
				r := refE4M3FN
				if c.f == E5M2 {
					r = refE5M2
				}
				if got[0] != want || r.encode(c.x, sat) != want {
					t.Errorf("%v %s (%v) saturate=%v: got %#02x, reference %#02x, want %#02x", c.f, c.description, c.x, sat, got[0], r.encode(c.x, sat), want)
				}
			}
		}
	})
}

func TestDecodeFP8AllCodes(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		codes := make([]uint8, 256)
		for i := range codes {
			codes[i] = uint8(i)
		}
		for _, r := range refFP8s {
			for _, scale := range []float32{1, 0.25, 3.7e-3, 1e-30, 5e34} {
				got := make([]float32, 256)
				if err := DequantizeFP8(got, codes, scale, r.f); err != nil {
					t.Fatal(err)
				}
				for c, v := range r.values {
					want := float32(v) * scale
					if !conformance.SameFloat32(got[c], want) || math.Signbit(float64(got[c])) != math.Signbit(v) {
						t.Errorf("%s scale %v: code %#02x = %v (%#08x), want %v", r.name, scale, c, got[c], math.Float32bits(got[c]), want)
					}
				}
			}
			got := make([]float32, 256)
			if err := DecodeFP8(got, codes, r.f); err != nil {
				t.Fatal(err)
			}
			for c, v := range got {
				if v != v && math.Float32bits(v)&^signBit != 0x7FC00000 {
					t.Errorf("%s: NaN code %#02x decodes to %#08x, want the quiet NaN", r.name, c, math.Float32bits(v))
				}
			}
		}
	})
}

// TestFP8CodesRoundTrip: every non-NaN code survives decode then encode,
// in both saturation modes; NaN codes come back as 0x7F with their sign.
func TestFP8CodesRoundTrip(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		codes := make([]uint8, 256)
		for i := range codes {
			codes[i] = uint8(i)
		}
		for _, r := range refFP8s {
			vals := make([]float32, 256)
			if err := DecodeFP8(vals, codes, r.f); err != nil {
				t.Fatal(err)
			}
			for _, sat := range []bool{true, false} {
				back := make([]uint8, 256)
				if err := EncodeFP8(back, vals, r.f, sat); err != nil {
					t.Fatal(err)
				}
				for c := range back {
					want := uint8(c)
					switch {
					case math.IsNaN(r.values[c]):
						want = uint8(c)&0x80 | 0x7F
					case math.IsInf(r.values[c], 0) && sat:
						want = uint8(c)&0x80 | r.maxCode
					}
					if back[c] != want {
						t.Errorf("%s saturate=%v: code %#02x -> %v -> %#02x, want %#02x", r.name, sat, c, vals[c], back[c], want)
					}
				}
			}
		}
	})
}

// fp8Inputs returns n inputs that exercise the rounding of f at scale:
// every value of the format and every midpoint between neighbours (the
// ties), the overflow boundary, specials, float32 subnormals, random bit
// patterns and Gaussian noise, all multiplied by scale.
func fp8Inputs(r *rand.Rand, n int, f FP8Format, scale float32) []float32 {
	ref := refE4M3FN
	if f == E5M2 {
		ref = refE5M2
	}
	p := fp8ParamsOf(f)
	pool := []float32{0, negZero, nan, -nan, inf, -inf, math.MaxFloat32, -math.MaxFloat32,
		math.SmallestNonzeroFloat32, -1e-39, math.Float32frombits(p.satBits), math.Float32frombits(p.satBits + 1)}
	for c := range 0x7F {
		v := ref.values[c]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		pool = append(pool, float32(v))
		if next := ref.values[c+1]; !math.IsNaN(next) && !math.IsInf(next, 0) {
			pool = append(pool, float32((v+next)/2))
		}
	}
	out := make([]float32, n)
	for i := range out {
		switch r.IntN(4) {
		case 0, 1:
			v := pool[r.IntN(len(pool))]
			if r.IntN(2) == 0 {
				v = -v
			}
			out[i] = v * scale
		case 2:
			out[i] = math.Float32frombits(r.Uint32())
		default:
			out[i] = float32(r.NormFloat64()) * p.max * scale / 3
		}
	}
	return out
}

// fp8TestScales are the scales the kernel tests use: fewer under -short.
func fp8TestScales() []float32 {
	if testing.Short() {
		return []float32{1, 0.37 / 448, 1e-40}
	}
	return []float32{1, 0.5, 1.0 / 448, 0.37 / 448, 3e-3, 1e-40, 7.5e30}
}

func TestEncodeFP8KernelMatchesGeneric(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(40, 41))
		for _, f := range []FP8Format{E4M3FN, E5M2} {
			p := fp8ParamsOf(f)
			for _, scale := range fp8TestScales() {
				src := fp8Inputs(r, 300+16, f, scale)
				for _, sat := range []bool{true, false} {
					want := make([]uint8, len(src))
					for n := 0; n <= 300; n++ {
						for off := 0; off < 16; off++ {
							s := src[off : off+n]
							encodeFP8Generic(want[:n], s, scale, p, sat)
							dst, check := guarded(n, (off*7)%16, uint8(0xA5))
							encodeFP8(dst, s, scale, p, sat)
							if i := firstDiff(dst, want[:n]); i >= 0 {
								t.Fatalf("%v scale=%v sat=%v n=%d off=%d: x=%v got %#02x want %#02x", f, scale, sat, n, off, s[i], dst[i], want[i])
							}
							if err := check(); err != nil {
								t.Fatalf("%v scale=%v n=%d off=%d: %v", f, scale, n, off, err)
							}
						}
					}
				}
			}
		}
	})
}

func TestDecodeFP8KernelMatchesGeneric(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(42, 43))
		src := make([]uint8, 300+16)
		for i := range src {
			src[i] = uint8(r.Uint32())
		}
		for _, f := range []FP8Format{E4M3FN, E5M2} {
			p := fp8ParamsOf(f)
			for _, scale := range fp8TestScales() {
				want := make([]float32, len(src))
				for n := 0; n <= 300; n++ {
					for off := 0; off < 16; off++ {
						decodeFP8Generic(want[:n], src[off:off+n], scale, p)
						dst, check := guardedF32(n, (off*5)%16)
						decodeFP8(dst, src[off:off+n], scale, p)
						if d := conformance.DiffFloat32(dst, want[:n]); d != "" {
							t.Fatalf("%v scale=%v n=%d off=%d: %s", f, scale, n, off, d)
						}
						if err := check(); err != nil {
							t.Fatalf("%v scale=%v n=%d off=%d: %v", f, scale, n, off, err)
						}
					}
				}
			}
		}
	})
}

func TestFakeQuantFP8KernelMatchesGeneric(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(44, 45))
		for _, f := range []FP8Format{E4M3FN, E5M2} {
			p := fp8ParamsOf(f)
			for _, scale := range fp8TestScales() {
				src := fp8Inputs(r, 300+16, f, scale)
				want := make([]float32, len(src))
				for n := 0; n <= 300; n++ {
					for off := 0; off < 16; off++ {
						s := src[off : off+n]
						fakeQuantFP8Generic(want[:n], s, scale, p)
						dst, check := guardedF32(n, (off*3)%16)
						fakeQuantFP8(dst, s, scale, p)
						if d := conformance.DiffFloat32(dst, want[:n]); d != "" {
							t.Fatalf("%v scale=%v n=%d off=%d: %s", f, scale, n, off, d)
						}
						if err := check(); err != nil {
							t.Fatalf("%v scale=%v n=%d off=%d: %v", f, scale, n, off, err)
						}
					}
				}
				inPlace := append([]float32{}, src...)
				fakeQuantFP8(inPlace, inPlace, scale, p)
				fakeQuantFP8Generic(want, src, scale, p)
				if d := conformance.DiffFloat32(inPlace, want); d != "" {
					t.Fatalf("%v scale=%v in place: %s", f, scale, d)
				}
			}
		}
	})
}

// TestFakeQuantFP8IsQDQ checks the public definition: FakeQuantFP8 equals
// DequantizeFP8(QuantizeFP8(x, scale), scale) with scale = FP8Scale(amax),
// element by element, including the scale-0-becomes-1 rule.
func TestFakeQuantFP8IsQDQ(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(46, 47))
		for _, f := range []FP8Format{E4M3FN, E5M2} {
			for _, amax := range []float32{1, 0.37, 448, 57344, 2.5e-3, 0, 1e-44, 3e38} {
				scale, err := FP8Scale(amax, f)
				if err != nil {
					t.Fatal(err)
				}
				if want := amax / f.MaxValue(); (want != 0 && scale != want) || (want == 0 && scale != 1) {
					t.Fatalf("FP8Scale(%v, %v) = %v", amax, f, scale)
				}
				x := fp8Inputs(r, 1000, f, scale)
				codes := make([]uint8, len(x))
				if err := QuantizeFP8(codes, x, scale, f, true); err != nil {
					t.Fatal(err)
				}
				want := make([]float32, len(x))
				if err := DequantizeFP8(want, codes, scale, f); err != nil {
					t.Fatal(err)
				}
				got := make([]float32, len(x))
				if err := FakeQuantFP8(got, x, amax, f); err != nil {
					t.Fatal(err)
				}
				if d := conformance.DiffFloat32(got, want); d != "" {
					t.Fatalf("%v amax=%v: %s", f, amax, d)
				}
				// The codes are the reference conversion of x/scale.
				ref := refE4M3FN
				if f == E5M2 {
					ref = refE5M2
				}
				for i, v := range x {
					if c := ref.encode(v/scale, true); codes[i] != c {
						t.Fatalf("%v amax=%v: QuantizeFP8(%v) = %#02x, reference %#02x", f, amax, v, codes[i], c)
					}
				}
			}
		}
	})
}

func TestFakeQuantFP8Values(t *testing.T) {
	// amax 448 gives scale 1 for E4M3FN: the output is the rounded input,
	// clipped to ±448, with NaN and -0 kept.
	x := []float32{0.3, -0.3, 1000, -inf, nan, negZero, 17, 0x1p-10}
	want := []float32{0.3125, -0.3125, 448, -448, nan, negZero, 16, 0}
	got := make([]float32, len(x))
	if err := FakeQuantFP8(got, x, 448, E4M3FN); err != nil {
		t.Fatal(err)
	}
	if d := conformance.DiffFloat32(got, want); d != "" {
		t.Fatal(d)
	}
	// amax 0: scale 1, as the exporter writes it.
	if err := FakeQuantFP8(got[:1], []float32{0.3}, 0, E4M3FN); err != nil || got[0] != 0.3125 {
		t.Fatalf("amax 0: %v, %v", got[0], err)
	}
	// amax 1 with E5M2: scale 1/57344, and inputs beyond amax clip to it.
	if err := FakeQuantFP8(got[:2], []float32{5, -5}, 1, E5M2); err != nil || got[0] != 1 || got[1] != -1 {
		t.Fatalf("E5M2 clip: %v, %v", got[:2], err)
	}
}

func TestFakeQuantFP8PerChannelAndTensor(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(48, 49))
		for _, f := range []FP8Format{E4M3FN, E5M2} {
			for _, shape := range [][3]int{{1, 4, 50}, {3, 5, 9}, {2, 6, 1}, {4, 3, 2}, {1, 1, 300}, {7, 2, 8}} {
				outer, c, inner := shape[0], shape[1], shape[2]
				amax := make([]float32, c)
				for i := range amax {
					amax[i] = float32(r.Float64() * 3)
				}
				amax[0] = 0
				src := fp8Inputs(r, outer*c*inner, f, 0.01)
				got := make([]float32, len(src))
				if err := FakeQuantFP8PerChannel(got, src, amax, inner, f); err != nil {
					t.Fatal(err)
				}
				want := make([]float32, len(src))
				for i, x := range src {
					if err := FakeQuantFP8(want[i:i+1], []float32{x}, amax[(i/inner)%c], f); err != nil {
						t.Fatal(err)
					}
				}
				if d := conformance.DiffFloat32(got, want); d != "" {
					t.Fatalf("%v per channel %v: %s", f, shape, d)
				}
				// The same through the tensor API, with amax shaped (C, 1).
				xt, _ := tensor.FromSlice(src, outer, c, inner)
				at, _ := tensor.FromSlice(amax, c, 1)
				out, err := FakeTensorQuantFP8(xt, at, f)
				if err != nil {
					t.Fatal(err)
				}
				if d := conformance.DiffFloat32(out.Data, want); d != "" {
					t.Fatalf("%v tensor %v: %s", f, shape, d)
				}
			}
		}
	})
}

func TestFP8Errors(t *testing.T) {
	x := []float32{1, 2, 3}
	cases := map[string]struct {
		err  error
		want string
	}{
		"format":      {EncodeFP8(make([]uint8, 3), x, 0, true), "unknown FP8 format: 0"},
		"format 3":    {DecodeFP8(make([]float32, 3), make([]uint8, 3), 3), "unknown FP8 format: 3"},
		"short dst":   {EncodeFP8(make([]uint8, 2), x, E4M3FN, true), "dst has 2 elements for 3 inputs"},
		"short dec":   {DecodeFP8(make([]float32, 2), make([]uint8, 3), E5M2), "dst has 2 elements for 3 inputs"},
		"scale 0":     {QuantizeFP8(make([]uint8, 3), x, 0, E4M3FN, true), "scale 0 is not finite and positive"},
		"scale NaN":   {DequantizeFP8(make([]float32, 3), make([]uint8, 3), nan, E4M3FN), "scale NaN is not"},
		"scale -1":    {QuantizeFP8(make([]uint8, 3), x, -1, E4M3FN, true), "scale -1 is not"},
		"scale Inf":   {DequantizeFP8(make([]float32, 3), make([]uint8, 3), inf, E5M2), "scale +Inf is not"},
		"amax -2":     {FakeQuantFP8(make([]float32, 3), x, -2, E4M3FN), "negative value in amax: amax -2"},
		"amax NaN":    {FakeQuantFP8(make([]float32, 3), x, nan, E4M3FN), "NaN or infinite amax: amax NaN"},
		"fq short":    {FakeQuantFP8(make([]float32, 1), x, 1, E4M3FN), "dst has 1 elements for 3 inputs"},
		"fq format":   {FakeQuantFP8(make([]float32, 3), x, 1, 9), "unknown FP8 format: 9"},
		"pc layout":   {FakeQuantFP8PerChannel(make([]float32, 3), x, []float32{1, 1}, 1, E4M3FN), "does not split into [outer][2][1]"},
		"pc inner":    {FakeQuantFP8PerChannel(make([]float32, 3), x, []float32{1}, 0, E4M3FN), "[outer][1][0]"},
		"pc empty":    {FakeQuantFP8PerChannel(make([]float32, 3), x, nil, 1, E4M3FN), "[outer][0][1]"},
		"pc amax":     {FakeQuantFP8PerChannel(make([]float32, 3), x, []float32{1, 2, -inf}, 1, E4M3FN), "amax -Inf at index 2"},
		"pc negative": {FakeQuantFP8PerChannel(make([]float32, 3), x, []float32{1, -1, 1}, 1, E4M3FN), "amax -1 at index 1"},
		"pc short":    {FakeQuantFP8PerChannel(make([]float32, 2), x, []float32{1}, 1, E4M3FN), "dst has 2 elements for 3 inputs"},
	}
	_, err := FP8Scale(-1, E5M2)
	cases["scale amax"] = struct {
		err  error
		want string
	}{err, "amax -1"}
	xt, _ := tensor.FromSlice(x, 3)
	at, _ := tensor.FromSlice([]float32{1, 2}, 2)
	_, err = FakeTensorQuantFP8(xt, at, E4M3FN)
	cases["tensor shape"] = struct {
		err  error
		want string
	}{err, "broadcast"}
	at, _ = tensor.FromSlice([]float32{1, 2, inf}, 3)
	_, err = FakeTensorQuantFP8(xt, at, E4M3FN)
	cases["tensor amax"] = struct {
		err  error
		want string
	}{err, "amax +Inf at index 2"}
	_, err = FakeTensorQuantFP8(xt, at, 0)
	cases["tensor format"] = struct {
		err  error
		want string
	}{err, "unknown FP8 format"}
	for name, c := range cases {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, c.err, c.want)
		}
	}
	if _, err := FP8Scale(nan, E4M3FN); !errors.Is(err, ErrNonFiniteAmax) {
		t.Errorf("FP8Scale(NaN): %v", err)
	}
	if err := FakeQuantFP8(make([]float32, 3), x, -1, E5M2); !errors.Is(err, ErrNegativeAmax) {
		t.Errorf("FakeQuantFP8(-1): %v", err)
	}
	if err := FP8Format(0).Validate(); !errors.Is(err, ErrFP8Format) {
		t.Errorf("Validate(0): %v", err)
	}
	if E4M3FN.String() != "FLOAT8E4M3FN" || E5M2.String() != "FLOAT8E5M2" || FP8Format(7).String() != "FP8Format(7)" || FP8Format(7).MaxValue() != 0 {
		t.Error("String/MaxValue")
	}
}

// binadeInputs returns, for every float32 exponent field and both signs,
// the mantissas at and next to every rounding boundary of both formats
// (the multiples of 2^20 and 2^21 and the halfway points between them)
// plus random ones: about 180k bit patterns that reach every branch of the
// conversions in every binade, NaN payloads and float32 subnormals
// included.
func binadeInputs(r *rand.Rand) []float32 {
	var out []float32
	for e := range uint32(256) {
		for _, s := range []uint32{0, signBit} {
			for m := uint32(0); m < 1<<23; m += 1 << 18 {
				for _, d := range []uint32{0, 1, 2, 1<<18 - 2, 1<<18 - 1} {
					out = append(out, math.Float32frombits(s|e<<23|(m+d)&(1<<23-1)))
				}
			}
			for range 200 {
				out = append(out, math.Float32frombits(s|e<<23|r.Uint32()&(1<<23-1)))
			}
		}
	}
	return out
}

// TestFP8KernelsEveryBinade compares every kernel family with the generic
// kernels, and the generic encoding with the reference, on binadeInputs
// with scale 1 and two other scales. It is the proof of SIMD == generic
// that runs under -short (and under qemu for NEON), next to the exhaustive
// test.
func TestFP8KernelsEveryBinade(t *testing.T) {
	src := binadeInputs(rand.New(rand.NewPCG(60, 61)))
	n := len(src)
	for _, ref := range refFP8s {
		p := fp8ParamsOf(ref.f)
		for _, sat := range []bool{true, false} {
			codes := make([]uint8, n)
			encodeFP8Generic(codes, src, 1, p, sat)
			for i, x := range src {
				if want := ref.encode(x, sat); codes[i] != want {
					t.Fatalf("%s sat=%v: generic code of %#08x = %#02x, reference %#02x", ref.name, sat, math.Float32bits(x), codes[i], want)
				}
			}
		}
	}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, ref := range refFP8s {
			p := fp8ParamsOf(ref.f)
			for _, scale := range []float32{1, 0.37 / 448, 3e4} {
				for _, sat := range []bool{true, false} {
					want, got := make([]uint8, n), make([]uint8, n)
					encodeFP8Generic(want, src, scale, p, sat)
					encodeFP8(got, src, scale, p, sat)
					if i := firstDiff(got, want); i >= 0 {
						t.Fatalf("%s scale=%v sat=%v: code of %#08x = %#02x, generic %#02x", ref.name, scale, sat, math.Float32bits(src[i]), got[i], want[i])
					}
				}
				want, got := make([]float32, n), make([]float32, n)
				fakeQuantFP8Generic(want, src, scale, p)
				fakeQuantFP8(got, src, scale, p)
				if d := conformance.DiffFloat32(got, want); d != "" {
					t.Fatalf("%s scale=%v fake quant: %s", ref.name, scale, d)
				}
			}
		}
	})
}
