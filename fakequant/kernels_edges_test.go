package fakequant

import (
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// largeN is a length far beyond the table tests that still leaves work for
// every stage of the kernels (16 wide, 4 wide and single lanes).
func largeN() int {
	if testing.Short() {
		return 1<<15 + 7
	}
	return 1<<19 + 7
}

// TestKernelsLargeInPlace runs every kernel on a large input, in place where
// the types allow it (dst == src, and for STE dst == x and dst == dy), and
// compares with the generic kernel run out of place.
func TestKernelsLargeInPlace(t *testing.T) {
	n := largeN()
	r := rand.New(rand.NewPCG(30, 31))
	lo, hi := Int8.Bounds()
	sq, so := scales(0.37, hi, true)
	src := interesting(r, n, 0.37, Int8)
	vsq, vso := make([]float32, n), make([]float32, n)
	for i := range vsq {
		vsq[i], vso[i] = scales(float32(r.Float64()*3)+0.01, hi, true)
	}
	dy := interesting(r, n, 1, Int8)
	want := make([]float32, n)
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		fakeQuantGeneric(want, src, sq, so, lo, hi)
		got := append([]float32{}, src...)
		fakeQuant(got, got, sq, so, lo, hi)
		if d := conformance.DiffFloat32(got, want); d != "" {
			t.Fatalf("fakeQuant in place: %s", d)
		}

		fakeQuantVecGeneric(want, src, vsq, vso, lo, hi)
		got = append(got[:0], src...)
		fakeQuantVec(got, got, vsq, vso, lo, hi)
		if d := conformance.DiffFloat32(got, want); d != "" {
			t.Fatalf("fakeQuantVec in place: %s", d)
		}

		steGeneric(want, src, dy, 0.37)
		got = append(got[:0], src...)
		ste(got, got, dy, 0.37)
		if d := conformance.DiffFloat32(got, want); d != "" {
			t.Fatalf("ste with dst == x: %s", d)
		}
		got = append(got[:0], dy...)
		ste(got, src, got, 0.37)
		if d := conformance.DiffFloat32(got, want); d != "" {
			t.Fatalf("ste with dst == dy: %s", d)
		}

		wantQ, gotQ := make([]int8, n), make([]int8, n)
		quantInt8Generic(wantQ, src, sq, lo, hi)
		quantInt8(gotQ, src, sq, lo, hi)
		for i := range wantQ {
			if gotQ[i] != wantQ[i] {
				t.Fatalf("quantInt8 [%d] = %d, want %d (x=%v)", i, gotQ[i], wantQ[i], src[i])
			}
		}

		dequantInt8Generic(want, wantQ, so)
		dequantInt8(got, wantQ, so)
		if d := conformance.DiffFloat32(got, want); d != "" {
			t.Fatalf("dequantInt8: %s", d)
		}
	})
}

// TestClampBoundsEdges drives the clamp with bounds the public API never
// passes but the generic kernel defines: NaN and infinite bounds, lo > hi,
// and lo = 0 against -0.0 and NaN inputs. The compare-and-select clamp must
// follow torch's two ternaries exactly.
func TestClampBoundsEdges(t *testing.T) {
	x := []float32{negZero, 0, nan, -nan, inf, -inf, -0.4, 0.4, -0.5, 0.5, 1.5, -2.5, 3, -3,
		126.5, 127.5, -127.5, -128.5, 300, -300, 1e-39, -1e-39, 8388608.5}
	for len(x) < 37 { // every stage: one block of 16, four of 4, one lane
		x = append(x, float32(len(x))-20.5)
	}
	bounds := [][2]float32{{0, 255}, {-127, 127}, {5, -5}, {0, 0}, {negZero, negZero},
		{nan, 3}, {-3, nan}, {nan, nan}, {-inf, inf}, {inf, -inf}, {0, negZero}}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, b := range bounds {
			for _, sq := range []float32{1, 0.5, 0, inf} {
				for _, so := range []float32{1, 3, 0} {
					want, got := make([]float32, len(x)), make([]float32, len(x))
					fakeQuantGeneric(want, x, sq, so, b[0], b[1])
					fakeQuant(got, x, sq, so, b[0], b[1])
					if d := conformance.DiffFloat32(got, want); d != "" {
						t.Fatalf("fakeQuant sq=%v so=%v lo=%v hi=%v: %s", sq, so, b[0], b[1], d)
					}
					vsq, vso := make([]float32, len(x)), make([]float32, len(x))
					for i := range vsq {
						vsq[i], vso[i] = sq, so
					}
					fakeQuantVec(got, x, vsq, vso, b[0], b[1])
					if d := conformance.DiffFloat32(got, want); d != "" {
						t.Fatalf("fakeQuantVec sq=%v so=%v lo=%v hi=%v: %s", sq, so, b[0], b[1], d)
					}
				}
			}
		}
		// quantInt8 with lo > hi and zero bounds; its bounds stay in [-128, 127].
		for _, b := range [][2]float32{{5, -5}, {0, 0}, {negZero, 0}, {-128, 127}, {127, -128}} {
			wantQ, gotQ := make([]int8, len(x)), make([]int8, len(x))
			quantInt8Generic(wantQ, x, 1, b[0], b[1])
			quantInt8(gotQ, x, 1, b[0], b[1])
			for i := range wantQ {
				if gotQ[i] != wantQ[i] {
					t.Fatalf("quantInt8 lo=%v hi=%v x=%v: got %d want %d", b[0], b[1], x[i], gotQ[i], wantQ[i])
				}
			}
		}
	})
}
