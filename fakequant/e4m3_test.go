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

// TestE4M3ScaleIsTorchs pins the scale of ScaledE4M3 to the float32 that
// torch computes for the original's 448.0 / amax with a tensor amax
// (Tensor.__rtruediv__ is reciprocal() * 448), read from torch 1.13: it
// differs from the quotient 448/amax for some amax (the first and the last
// rows).
func TestE4M3ScaleIsTorchs(t *testing.T) {
	for _, c := range []struct{ amax, torch, quotient float32 }{
		{7.50059700012207, 59.72857666015625, 59.728580474853516},
		{3.700000047683716, 121.0810775756836, 121.0810775756836},
		{1, 448, 448},
		{448, 1, 1},
		{0, inf, inf},
		{0.0024999999441206455, 179200, 179200},
		{3.0000000054977558e+38, 1.493333236334823e-36, 1.4933333260179247e-36},
	} {
		if got := e4m3Scale(c.amax); got != c.torch {
			t.Errorf("e4m3Scale(%v) = %v, torch %v", c.amax, got, c.torch)
		}
		if q := float32(448) / c.amax; q != c.quotient {
			t.Errorf("448/%v = %v, want %v", c.amax, q, c.quotient)
		}
	}
}

// TestScaledE4M3Specials checks hand-derived results of the original's
// formula on every kernel family: the flush of |x| < 2^-24 to +0 (and
// only there), ties, saturation, NaN, and amax 0 (scale +Inf).
func TestScaledE4M3Specials(t *testing.T) {
	below := math.Nextafter32(0x1p-24, 0)
	cases := []struct {
		amax, x, want float32
		what          string
	}{
		{448, 0, 0, "0"},
		{448, negZero, 0, "-0 flushed to +0"},
		{448, 0x1p-24, 0, "2^-24 is not flushed: rounds to +0"},
		{448, -0x1p-24, negZero, "-2^-24 is not flushed: rounds to -0"},
		{448, -below, 0, "just below 2^-24: flushed to +0"},
		{448, -1e-45, 0, "float32 subnormal: flushed"},
		{448, 0x1p-10, 0, "tie 0|2^-9: even 0"},
		{448, -3 * 0x1p-10, -0x1p-8, "subnormal tie 1|2 steps: even 2"},
		{448, 1.0625, 1, "tie 1|1.125: even 1"},
		{448, 1.1875, 1.25, "tie 1.125|1.25: even 1.25"},
		{448, 464, 448, "tie at max: even 448"},
		{448, math.Nextafter32(464, 1000), 448, "above max: saturates"},
		{448, 1e30, 448, "large"},
		{448, inf, 448, "+Inf saturates"},
		{448, -inf, -448, "-Inf saturates"},
		{448, nan, nan, "NaN"},
		{1, 1, 1, "amax"},
		{1, -2, -1, "clips to -amax"},
		{1, -inf, -1, "-Inf clips to -amax"},
		{1, 0x1p-25, 0, "tiny: flushed"},
		{1, -0x1p-24, negZero, "-2^-24 * 448 rounds to -0, not flushed"},
		{1, float32(1.0 / 448), float32(1.0 / 448), "one E4M3 step of 1/448"},
		{0, 1, 0, "amax 0: 448/Inf"},
		{0, -1, negZero, "amax 0: -448/Inf"},
		{0, -inf, negZero, "amax 0, -Inf"},
		{0, 0x1p-24, 0, "amax 0, 2^-24"},
		{0, -0x1p-30, 0, "amax 0, tiny negative: flushed to +0"},
		{0, nan, nan, "amax 0, NaN"},
		{0, 0, 0, "amax 0, 0 (0*Inf is NaN, flushed)"},
	}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, c := range cases {
			// 19 copies so that the assembly's vector loop and tail both see it.
			src := make([]float32, 19)
			for i := range src {
				src[i] = c.x
			}
			dst := make([]float32, len(src))
			if err := ScaledE4M3(dst, src, c.amax); err != nil {
				t.Fatal(err)
			}
			for i, got := range dst {
				if !conformance.SameFloat32(got, c.want) {
					t.Errorf("amax %v, %s: ScaledE4M3(%v)[%d] = %v (%#08x), want %v (%#08x)", c.amax, c.what, c.x, i,
						got, math.Float32bits(got), c.want, math.Float32bits(c.want))
					break
				}
			}
		}
	})
}

// e4m3Inputs returns n inputs for ScaledE4M3 with amax: those of fp8Inputs
// in units of amax/448 (every E4M3 value and tie, scaled back), with one
// in eight replaced by a value at the flush threshold 2^-24.
func e4m3Inputs(r *rand.Rand, n int, amax float32) []float32 {
	unit := amax / 448
	if unit == 0 {
		unit = 1
	}
	x := fp8Inputs(r, n, E4M3FN, unit)
	tiny := []float32{0x1p-24, math.Nextafter32(0x1p-24, 0), math.Nextafter32(0x1p-24, 1), 0x1p-25, 1e-45, 3e-39, negZero}
	for i := range x {
		if r.IntN(8) == 0 {
			v := tiny[r.IntN(len(tiny))]
			if r.IntN(2) == 0 {
				v = -v
			}
			x[i] = v
		}
	}
	return x
}

// e4m3TestAmax are the amax values of the kernel tests: fewer under -short.
func e4m3TestAmax() []float32 {
	if testing.Short() {
		return []float32{1, 3.7, 0}
	}
	return []float32{1, 3.7, 448, 0, 7.500597, 2.5e-3, 1e-30, 1e-44, 3e38}
}

func TestScaledE4M3KernelMatchesGeneric(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(60, 61))
		for _, amax := range e4m3TestAmax() {
			scale := e4m3Scale(amax)
			src := e4m3Inputs(r, 300+16, amax)
			want := make([]float32, len(src))
			for n := 0; n <= 300; n++ {
				for off := 0; off < 16; off++ {
					s := src[off : off+n]
					scaledE4M3Generic(want[:n], s, scale)
					dst, check := guardedF32(n, (off*3)%16)
					scaledE4M3(dst, s, scale)
					if d := conformance.DiffFloat32(dst, want[:n]); d != "" {
						t.Fatalf("amax=%v n=%d off=%d: %s", amax, n, off, d)
					}
					if err := check(); err != nil {
						t.Fatalf("amax=%v n=%d off=%d: %v", amax, n, off, err)
					}
				}
			}
			inPlace := append([]float32{}, src...)
			scaledE4M3(inPlace, inPlace, scale)
			scaledE4M3Generic(want, src, scale)
			if d := conformance.DiffFloat32(inPlace, want); d != "" {
				t.Fatalf("amax=%v in place: %s", amax, d)
			}
		}
	})
}

// TestScaledE4M3IsFormula checks the generic kernel against the formula
// written with the independent reference model of E4M3FN (float64
// arithmetic from the ONNX text, fp8_ref_test.go) and the saturation CUDA
// applies.
func TestScaledE4M3IsFormula(t *testing.T) {
	r := rand.New(rand.NewPCG(62, 63))
	for _, amax := range []float32{1, 3.7, 448, 0, 7.500597, 2.5e-3, 1e-30, 3e38} {
		scale := e4m3Scale(amax)
		x := e4m3Inputs(r, 20000, amax)
		got := make([]float32, len(x))
		scaledE4M3Generic(got, x, scale)
		for i, v := range x {
			var want float32
			switch p := v * scale; {
			case math.Abs(float64(v)) < 0x1p-24:
				want = 0
			case p != p:
				want = p
			default:
				want = float32(math.Copysign(math.Min(refE4M3FN.round(p), 448), float64(p))) / scale
			}
			if !conformance.SameFloat32(got[i], want) {
				t.Fatalf("amax %v: x=%v (%#08x): got %v, formula %v", amax, v, math.Float32bits(v), got[i], want)
			}
		}
	}
}

func TestScaledE4M3Tensor(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(64, 65))
		amaxVals := []float32{1, 3.7, 0, 448, 2.5e-3}
		// Rows of 3 (element by element) and of 40 (kernel runs), with
		// one amax per row, and the same amax broadcast along the last axis.
		for _, inner := range []int{3, 40} {
			x := e4m3Inputs(r, len(amaxVals)*inner, 1)
			xt, err := tensor.FromSlice(x, len(amaxVals), inner)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float32, len(x))
			for c, a := range amaxVals {
				if err := ScaledE4M3(want[c*inner:(c+1)*inner], x[c*inner:(c+1)*inner], a); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ScaledE4M3Tensor(xt, must(tensor.FromSlice(append([]float32{}, amaxVals...), len(amaxVals), 1)))
			if err != nil {
				t.Fatal(err)
			}
			if d := conformance.DiffFloat32(got.Data, want); d != "" {
				t.Fatalf("rows of %d: %s", inner, d)
			}
		}
		x := e4m3Inputs(r, 6*5, 1)
		amax := []float32{1, 2, 0.5, 3.7, 0, 448}
		got, err := ScaledE4M3Tensor(must(tensor.FromSlice(x, 5, 6)), must(tensor.FromSlice(amax, 6)))
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range x {
			want := scaledE4M3One(v, e4m3Scale(amax[i%6]))
			if !conformance.SameFloat32(got.Data[i], want) {
				t.Fatalf("amax (6,) on (5, 6): element %d = %v, want %v", i, got.Data[i], want)
			}
		}
	})
}

func TestScaledE4M3Errors(t *testing.T) {
	x := []float32{1, 2, 3}
	for _, c := range []struct {
		err  error
		want string
	}{
		{ScaledE4M3(make([]float32, 2), x, 1), "dst has 2 elements for 3 inputs"},
		{FakeE4M3fy(make([]float32, 2), x), "dst has 2 elements for 3 inputs"},
		{ScaledE4M3(make([]float32, 3), x, -1), "negative value in amax"},
		{ScaledE4M3(make([]float32, 3), x, nan), "NaN or infinite amax"},
		{ScaledE4M3(make([]float32, 3), x, inf), "NaN or infinite amax"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", c.err, c.want)
		}
	}
	xt := must(tensor.FromSlice([]float32{1, 2, 3, 4}, 2, 2))
	_, err := ScaledE4M3Tensor(xt, must(tensor.FromSlice([]float32{1, nan}, 2)))
	if !errors.Is(err, ErrNonFiniteAmax) || !strings.Contains(err.Error(), "at index 1") {
		t.Errorf("NaN amax: %v", err)
	}
	_, err = ScaledE4M3Tensor(xt, must(tensor.FromSlice([]float32{1, -2}, 2)))
	if !errors.Is(err, ErrNegativeAmax) {
		t.Errorf("negative amax: %v", err)
	}
	if _, err = ScaledE4M3Tensor(xt, must(tensor.FromSlice([]float32{1, 2, 3}, 3))); err == nil || !strings.Contains(err.Error(), "broadcast") {
		t.Errorf("amax (3,) on (2, 2): %v", err)
	}
	if _, err = ScaledE4M3Tensor(xt, &tensor.Tensor{Shape: []int{2}, Data: []float32{1}}); err == nil {
		t.Error("invalid amax tensor accepted")
	}
}

// TestFakeE4M3fyIsConversion: FakeE4M3fy equals EncodeFP8 then DecodeFP8
// (saturating) and FakeQuantFP8 with amax 448 on every input class.
func TestFakeE4M3fyIsConversion(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(66, 67))
		x := fp8Inputs(r, 5000, E4M3FN, 1)
		got, viaCodes, viaFQ := make([]float32, len(x)), make([]float32, len(x)), make([]float32, len(x))
		codes := make([]uint8, len(x))
		if err := FakeE4M3fy(got, x); err != nil {
			t.Fatal(err)
		}
		if err := EncodeFP8(codes, x, E4M3FN, true); err != nil {
			t.Fatal(err)
		}
		if err := DecodeFP8(viaCodes, codes, E4M3FN); err != nil {
			t.Fatal(err)
		}
		if err := FakeQuantFP8(viaFQ, x, 448, E4M3FN); err != nil {
			t.Fatal(err)
		}
		if d := conformance.DiffFloat32(got, viaCodes); d != "" {
			t.Fatalf("FakeE4M3fy vs EncodeFP8+DecodeFP8: %s", d)
		}
		if d := conformance.DiffFloat32(got, viaFQ); d != "" {
			t.Fatalf("FakeE4M3fy vs FakeQuantFP8(448): %s", d)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
