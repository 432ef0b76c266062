package fuzz

import (
	"math"
	"testing"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/tensor"
)

// FuzzScaledE4M3 checks the original's scaled E4M3 fake quantization
// against its definition written with the conversion (FakeE4M3fy of x times
// the scale (1/amax)*448, divided by it, +0 where |x| < 2^-24), and every
// assembly family against the generic code, per tensor (ScaledE4M3) and
// with one amax per row (ScaledE4M3Tensor).
func FuzzScaledE4M3(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, amaxBits uint32, _, flags uint8) {
		src, amax := floats(data), math.Float32frombits(amaxBits)
		dst := make([]float32, len(src))
		err := fakequant.ScaledE4M3(dst, src, amax)
		if amax != amax || amax < 0 || math.IsInf(float64(amax), 0) {
			if err == nil {
				t.Fatalf("ScaledE4M3 accepted amax %v", amax)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		scale := 1 / amax
		scale *= 448
		prod := make([]float32, len(src))
		for i, x := range src {
			prod[i] = x * scale
		}
		if err := fakequant.FakeE4M3fy(prod, prod); err != nil {
			t.Fatal(err)
		}
		for i, x := range src {
			want := prod[i] / scale
			if math.Abs(float64(x)) < 0x1p-24 {
				want = 0
			}
			if !same(dst[i], want) {
				t.Fatalf("amax=%v: x[%d]=%v (%#08x) gives %v, the definition %v", amax, i, x, math.Float32bits(x), dst[i], want)
			}
		}

		rows := int(flags)%5 + 1
		n := len(src) / rows * rows
		rowAmax := tensor.New(rows, 1)
		for i := range rowAmax.Data {
			rowAmax.Data[i] = math.Float32frombits(amaxBits>>(i*3)) * float32(i+1)
			if a := rowAmax.Data[i]; a != a || math.IsInf(float64(a), 0) {
				rowAmax.Data[i] = 1
			}
		}
		x, err := tensor.FromSlice(src[:n], rows, n/rows)
		if err != nil {
			t.Fatal(err)
		}
		eachImpl(t, func() [2][]float32 {
			a := make([]float32, len(src))
			if err := fakequant.ScaledE4M3(a, src, amax); err != nil {
				t.Fatal(err)
			}
			b, err := fakequant.ScaledE4M3Tensor(x, rowAmax)
			if err != nil {
				t.Fatal(err)
			}
			return [2][]float32{a, b.Data}
		}, func(impl cpufeat.Impl, got, want [2][]float32) {
			for k := range want {
				for i := range want[k] {
					if !same(got[k][i], want[k][i]) {
						t.Fatalf("%v (per row %v): x[%d]=%v gives %v, generic %v", impl, k == 1, i, src[i], got[k][i], want[k][i])
					}
				}
			}
		})
	})
}
