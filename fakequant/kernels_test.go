package fakequant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

var (
	nan     = float32(math.NaN())
	inf     = float32(math.Inf(1))
	negZero = float32(math.Copysign(0, -1))
)

// testFormats are the formats every kernel is checked with.
var testFormats = []Format{
	{NumBits: 8}, {NumBits: 8, NarrowRange: true}, {NumBits: 8, Unsigned: true},
	{NumBits: 4}, {NumBits: 2, NarrowRange: true}, {NumBits: 16}, {NumBits: 12, Unsigned: true},
}

// interesting returns n inputs for amax: ties at every level, the bounds
// ±0.5 step, values just inside and outside ±amax, specials and noise.
func interesting(r *rand.Rand, n int, amax float32, f Format) []float32 {
	_, hi := f.Bounds()
	s := hi / amax
	pool := []float32{0, negZero, nan, -nan, inf, -inf, math.MaxFloat32, -math.MaxFloat32,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-39, -1e-39, amax, -amax,
		math.Nextafter32(amax, inf), -math.Nextafter32(amax, inf), math.Nextafter32(amax, 0),
		(hi + 0.5) / s, -(hi + 0.5) / s, (hi + 1.5) / s, -(hi + 1.5) / s, 0.5 / s, -0.5 / s, 0.4 / s, -0.4 / s,
		8388608.5, 8388607.5, -8388608.5, 16777217}
	out := make([]float32, n)
	for i := range out {
		switch r.IntN(4) {
		case 0:
			out[i] = pool[r.IntN(len(pool))]
		case 1:
			out[i] = (float32(r.IntN(int(2*hi+5))) - hi - 2 + 0.5) / s // a tie
		case 2:
			out[i] = math.Float32frombits(r.Uint32())
		default:
			out[i] = float32(r.NormFloat64()) * amax
		}
	}
	return out
}

// guarded returns a slice of n elements at offset off inside a buffer whose
// other elements hold g, and a func that reports any element outside the
// slice that changed.
func guarded[T comparable](n, off int, g T) ([]T, func() error) {
	buf := make([]T, off+n+32)
	for i := range buf {
		buf[i] = g
	}
	check := func() error {
		for i, v := range buf {
			if (i < off || i >= off+n) && v != g {
				return fmt.Errorf("wrote outside dst at buffer index %d (dst is [%d, %d))", i, off, off+n)
			}
		}
		return nil
	}
	return buf[off : off+n : off+n], check
}

// guardedF32 is guarded for float32, comparing bits so that the NaN guard
// compares equal to itself.
func guardedF32(n, off int) ([]float32, func() error) {
	u, check := guarded(n, off, uint32(0x7fa5a5a5))
	return unsafeF32(u), check
}

func TestFakeQuantKernelMatchesGeneric(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(10, 11))
		for _, f := range testFormats {
			lo, hi := f.Bounds()
			for _, amax := range []float32{1, 0.37, 3e-5, 0, 1e-30, nan, inf, 1e30} {
				sq, so := scales(amax, hi, true)
				src := interesting(r, 300+16, amax, f)
				want := make([]float32, len(src))
				for n := 0; n <= 300; n++ {
					for off := 0; off < 16; off++ {
						s := src[off : off+n]
						fakeQuantGeneric(want[:n], s, sq, so, lo, hi)
						dst, check := guardedF32(n, (off*7)%16)
						fakeQuant(dst, s, sq, so, lo, hi)
						if d := conformance.DiffFloat32(dst, want[:n]); d != "" {
							t.Fatalf("%v amax=%v n=%d off=%d: %s", f, amax, n, off, d)
						}
						if err := check(); err != nil {
							t.Fatalf("%v amax=%v n=%d off=%d: %v", f, amax, n, off, err)
						}
					}
				}
				// In place.
				inPlace := append([]float32{}, src...)
				fakeQuant(inPlace, inPlace, sq, so, lo, hi)
				fakeQuantGeneric(want, src, sq, so, lo, hi)
				if d := conformance.DiffFloat32(inPlace, want); d != "" {
					t.Fatalf("%v amax=%v in place: %s", f, amax, d)
				}
			}
		}
	})
}

func TestFakeQuantVecKernelMatchesGeneric(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(12, 13))
		for _, f := range testFormats {
			lo, hi := f.Bounds()
			amaxes := []float32{1, 0.37, 3e-5, 0, 1e-30, nan, inf, 1e30, 2, 0.01}
			const size = 300 + 16
			src := make([]float32, size)
			sq, so := make([]float32, size), make([]float32, size)
			for i := range src {
				a := amaxes[r.IntN(len(amaxes))]
				src[i] = interesting(r, 1, a, f)[0]
				sq[i], so[i] = scales(a, hi, true)
			}
			want := make([]float32, size)
			for n := 0; n <= 300; n++ {
				for off := 0; off < 16; off++ {
					fakeQuantVecGeneric(want[:n], src[off:off+n], sq[off:off+n], so[off:off+n], lo, hi)
					dst, check := guardedF32(n, (off*5)%16)
					fakeQuantVec(dst, src[off:off+n], sq[off:off+n], so[off:off+n], lo, hi)
					if d := conformance.DiffFloat32(dst, want[:n]); d != "" {
						t.Fatalf("%v n=%d off=%d: %s", f, n, off, d)
					}
					if err := check(); err != nil {
						t.Fatalf("%v n=%d off=%d: %v", f, n, off, err)
					}
				}
			}
		}
	})
}

func TestQuantInt8KernelMatchesGeneric(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(14, 15))
		for _, f := range []Format{{NumBits: 8}, {NumBits: 8, NarrowRange: true}, {NumBits: 4}, {NumBits: 2}, {NumBits: 8, Unsigned: true}} {
			lo, hi := f.Bounds()
			for _, amax := range []float32{1, 0.37, 0, nan, inf} {
				sq, _ := scales(amax, hi, true)
				l, h := min(max(lo, -128), 127), min(max(hi, -128), 127)
				src := interesting(r, 300+16, amax, f)
				want := make([]int8, len(src))
				for n := 0; n <= 300; n++ {
					for off := 0; off < 16; off++ {
						quantInt8Generic(want[:n], src[off:off+n], sq, l, h)
						dst, check := guarded(n, (off*3)%16, int8(0x5a))
						quantInt8(dst, src[off:off+n], sq, l, h)
						for i := range dst {
							if dst[i] != want[i] {
								t.Fatalf("%v amax=%v n=%d off=%d: [%d] = %d want %d (x=%v)", f, amax, n, off, i, dst[i], want[i], src[off+i])
							}
						}
						if err := check(); err != nil {
							t.Fatalf("%v amax=%v n=%d off=%d: %v", f, amax, n, off, err)
						}
					}
				}
			}
		}
	})
}

func TestDequantKernelMatchesGeneric(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		src := make([]int8, 300+16)
		for i := range src {
			src[i] = int8(i*37 + 11)
		}
		src[3], src[4] = -128, 127
		for _, so := range []float32{127, 127 / 0.37, 1, 0, inf, nan, 3e38, 1e-40} {
			want := make([]float32, len(src))
			for n := 0; n <= 300; n++ {
				for off := 0; off < 16; off++ {
					dequantInt8Generic(want[:n], src[off:off+n], so)
					dst, check := guardedF32(n, (off*11)%16)
					dequantInt8(dst, src[off:off+n], so)
					if d := conformance.DiffFloat32(dst, want[:n]); d != "" {
						t.Fatalf("scale=%v n=%d off=%d: %s", so, n, off, d)
					}
					if err := check(); err != nil {
						t.Fatalf("scale=%v n=%d off=%d: %v", so, n, off, err)
					}
				}
			}
		}
	})
}

func TestSTEKernelMatchesGeneric(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(16, 17))
		for _, amax := range []float32{1, 0.37, 0, negZero, nan, inf} {
			x := interesting(r, 300+16, max(amax, 1), Int8)
			dy := interesting(r, 300+16, 1, Int8)
			want := make([]float32, len(x))
			for n := 0; n <= 300; n++ {
				for off := 0; off < 16; off++ {
					offDy := (off * 3) % 16
					steGeneric(want[:n], x[off:off+n], dy[offDy:offDy+n], amax)
					dst, check := guardedF32(n, (off*13)%16)
					ste(dst, x[off:off+n], dy[offDy:offDy+n], amax)
					if d := conformance.DiffFloat32(dst, want[:n]); d != "" {
						t.Fatalf("amax=%v n=%d off=%d: %s", amax, n, off, d)
					}
					if err := check(); err != nil {
						t.Fatalf("amax=%v n=%d off=%d: %v", amax, n, off, err)
					}
				}
			}
		}
	})
}

// TestRoundTies pins round-half-to-even and the sign of zero on exact ties.
func TestRoundTies(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		f := Format{NumBits: 8, NarrowRange: true} // scale 127/127 = 1
		x := []float32{0.5, 1.5, 2.5, -0.5, -1.5, -2.5, -0.4, 126.5, 127.5, -127.5, -128.5, 8388608.5}
		want := []float32{0, 2, 2, negZero, -2, -2, negZero, 126, 127, -127, -127, 127}
		got := make([]float32, len(x))
		FakeQuant(got, x, 127, f)
		if d := conformance.DiffFloat32(got, want); d != "" {
			t.Fatal(d)
		}
		u := []float32{negZero, 0, 0.4, 254.5, 255.5}
		got = make([]float32, len(u))
		FakeQuant(got, u, 255, Format{NumBits: 8, Unsigned: true})
		if d := conformance.DiffFloat32(got, []float32{negZero, 0, 0, 254, 255}); d != "" {
			t.Fatal("unsigned:", d)
		}
	})
}

func TestQuantInt8RoundTrip(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(18, 19))
		x := interesting(r, 1000, 0.8, Int8)
		for i, v := range x {
			if v != v {
				x[i] = 0
			}
		}
		for _, f := range []Format{Int8, {NumBits: 8, NarrowRange: true}, {NumBits: 5}} {
			q := make([]int8, len(x))
			scale := QuantInt8(q, x, 0.8, f)
			back := make([]float32, len(x))
			Dequant(back, q, scale)
			fake := make([]float32, len(x))
			FakeQuant(fake, x, 0.8, f)
			for i := range fake {
				if fake[i] == 0 {
					fake[i] = 0 // Dequant has no -0
				}
			}
			if d := conformance.DiffFloat32(back, fake); d != "" {
				t.Fatalf("%v: %s", f, d)
			}
		}
		q := []int8{9, 9}
		if s := QuantInt8(q, []float32{nan, 1}, 0, Int8); s != 1 || q[0] != 0 || q[1] != 0 {
			t.Fatalf("amax 0: scale %v codes %v", s, q)
		}
	})
}

func TestSliceKernelsPanicOnShortDst(t *testing.T) {
	for name, f := range map[string]func(){
		"FakeQuant": func() { FakeQuant(make([]float32, 2), make([]float32, 3), 1, Int8) },
		"QuantInt8": func() { QuantInt8(make([]int8, 2), make([]float32, 3), 1, Int8) },
		"Dequant":   func() { Dequant(make([]float32, 2), make([]int8, 3), 1) },
		"STE":       func() { STE(make([]float32, 3), make([]float32, 3), make([]float32, 2), 1) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s accepted a short slice", name)
				}
			}()
			f()
		}()
	}
}

func TestFakeQuantPerChannelLayouts(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(20, 21))
		for _, shape := range [][3]int{{1, 4, 50}, {3, 5, 9}, {2, 6, 1}, {4, 3, 2}, {1, 1, 300}, {7, 2, 8}} {
			outer, c, inner := shape[0], shape[1], shape[2]
			amax := make([]float32, c)
			for i := range amax {
				amax[i] = float32(r.Float64()*2) + 0.01
			}
			amax[0] = 0
			src := interesting(r, outer*c*inner, 1, Int8)
			got := make([]float32, len(src))
			if err := FakeQuantPerChannel(got, src, amax, inner, Int8); err != nil {
				t.Fatal(err)
			}
			for i, x := range src {
				a := amax[(i/inner)%c]
				want := make([]float32, 1)
				FakeQuant(want, []float32{x}, a, Int8)
				if !conformance.SameFloat32(got[i], want[0]) {
					t.Fatalf("shape %v element %d: got %v want %v", shape, i, got[i], want[0])
				}
			}
		}
		// One NaN amax disables zero-amax masking for every channel.
		got := make([]float32, 4)
		if err := FakeQuantPerChannel(got, []float32{1, 1, 0, 0}, []float32{nan, 0}, 2, Int8); err != nil {
			t.Fatal(err)
		}
		if !(got[0] != got[0]) || !(got[2] != got[2]) {
			t.Fatalf("NaN amax: got %v, want NaN everywhere (0*Inf and 0/Inf/Inf)", got)
		}
	})
	for _, bad := range []struct {
		n, c, inner, dst int
	}{{10, 3, 1, 10}, {12, 0, 1, 12}, {12, 3, 0, 12}, {12, 3, 2, 11}} {
		if err := FakeQuantPerChannel(make([]float32, bad.dst), make([]float32, bad.n), make([]float32, bad.c), bad.inner, Int8); err == nil {
			t.Errorf("FakeQuantPerChannel accepted %+v", bad)
		}
	}
}

// TestQuantLinearNearTies: quotients within a few ulps of a
// half-integer, where a product by 1/scale can round to another integer
// than the division (the kernels divide there), give the bytes of
// quantLinearGeneric, for scales of every kind.
func TestQuantLinearNearTies(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, scale := range []float32{0.37, 0.0236, 1.0 / 3, 0.1, 7.3, 1e-3, 3e-39, 1e38} {
			var src []float32
			for k := -140; k <= 140; k++ {
				x := float32(float64(k)+0.5) * scale
				for j := -6; j <= 6; j++ {
					src = append(src, math.Float32frombits(uint32(int32(math.Float32bits(x))+int32(j))))
				}
			}
			want, got := make([]byte, len(src)), make([]byte, len(src))
			for _, b := range [][3]int32{{-128, 127, 0}, {0, 255, 128}} {
				lo, hi, zp := float32(b[0]-b[2]), float32(b[1]-b[2]), b[2]
				quantLinearGeneric(want, src, scale, lo, hi, zp)
				quantLinear(got, src, scale, lo, hi, zp)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("scale=%v %v: x=%v (x/scale %v): %d, want %d", scale, b, src[i], src[i]/scale, got[i], want[i])
					}
				}
			}
		}
	})
}

// TestQuantLinearKernelMatchesGeneric runs quantLinear on every length to
// 300 at 16 offsets, for int8, uint8 and 4-bit ranges with zero points at
// their ends and in between, and scales from tiny to huge, zero,
// negative, NaN and infinite: the same bytes as quantLinearGeneric, and
// nothing written outside dst.
func TestQuantLinearKernelMatchesGeneric(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(24, 25))
		src := interesting(r, 300+16, 100, Format{NumBits: 8})
		for i := range src {
			if i%7 == 0 {
				src[i] = float32(math.Round(r.NormFloat64()*200)) + 0.5 // ties
			}
		}
		for _, scale := range []float32{1, 0.37, 1e-30, 3e38, 0, -0.5, nan, inf} {
			for _, b := range [][3]int32{{-128, 127, 0}, {-128, 127, -128}, {-128, 127, 127}, {0, 255, 0}, {0, 255, 128}, {0, 255, 255}, {-8, 7, 3}, {0, 15, 15}} {
				lo, hi, zp := float32(b[0]-b[2]), float32(b[1]-b[2]), b[2]
				want := make([]byte, len(src))
				for n := 0; n <= 300; n++ {
					for off := 0; off < 16; off++ {
						quantLinearGeneric(want[:n], src[off:off+n], scale, lo, hi, zp)
						dst, check := guarded(n, (off*5)%16, byte(0x5a))
						quantLinear(dst, src[off:off+n], scale, lo, hi, zp)
						for i := range dst {
							if dst[i] != want[i] {
								t.Fatalf("scale=%v %v n=%d off=%d: [%d] = %d want %d (x=%v)", scale, b, n, off, i, dst[i], want[i], src[off+i])
							}
						}
						if err := check(); err != nil {
							t.Fatalf("scale=%v %v n=%d off=%d: %v", scale, b, n, off, err)
						}
					}
				}
			}
		}
	})
}
