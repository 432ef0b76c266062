package fuzz

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/vecmath"
)

// FuzzVecmath pins every assembly kernel of internal/vecmath to the
// generic code: the element-wise functions, the arithmetic with a vector
// and a scalar, and the Softmax and LayerNorm rows, on arbitrary float32
// bit patterns (the scalar and the softmax scale from s; the scale made
// positive, as Softmax requires).
func FuzzVecmath(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, s uint32, _, _ uint8) {
		x := floats(data)
		scalar := floats([]byte{byte(s), byte(s >> 8), byte(s >> 16), byte(s >> 24)})[0]
		scale := floats([]byte{byte(s), byte(s >> 8), byte(s >> 16), byte(s>>24) &^ 0x80})[0]
		half := len(x) / 2
		a, b := x[:half], x[half:2*half]
		eachImpl(t, func() [][]float32 {
			var out [][]float32
			for _, k := range []func(dst, x []float32){vecmath.Exp, vecmath.Erf, vecmath.Tanh, vecmath.Sigmoid, vecmath.SiLU, vecmath.Gelu, vecmath.GeluTanh, vecmath.GeluFast} {
				d := make([]float32, len(x))
				k(d, x)
				out = append(out, d)
			}
			for _, k := range []func(dst, a, b []float32){vecmath.Add, vecmath.Sub, vecmath.Mul, vecmath.Div} {
				d := make([]float32, half)
				k(d, a, b)
				out = append(out, d)
			}
			for _, k := range []func(dst, a []float32, s float32){vecmath.AddScalar, vecmath.SubScalar, vecmath.ScalarSub, vecmath.MulScalar, vecmath.DivScalar, vecmath.ScalarDiv} {
				d := make([]float32, len(x))
				k(d, x, scalar)
				out = append(out, d)
			}
			d := make([]float32, len(x))
			vecmath.Softmax(d, x, scale)
			out = append(out, d, []float32{vecmath.Max(x), vecmath.Sum(x)})
			if half > 0 {
				d := make([]float32, half)
				m, is := vecmath.LayerNorm(d, a, b, a, scale)
				out = append(out, d, []float32{m, is})
			}
			return out
		}, func(impl cpufeat.Impl, got, want [][]float32) {
			for k := range want {
				for i := range want[k] {
					if !same(got[k][i], want[k][i]) {
						t.Fatalf("%v: result %d element %d: got %v, want %v (x = %v, s = %#x)", impl, k, i, got[k][i], want[k][i], x, s)
					}
				}
			}
		})
	})
}
