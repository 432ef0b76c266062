package fuzz

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/gemm"
)

// FuzzSgemm pins every kernel family's Sgemm (the packing of both operands,
// plain or transposed, and the micro-kernel) to the generic code on
// products that every family computes exactly: the elements are multiples
// of 1/16 in [-8, 8) drawn from data, so every product and every partial
// sum over k <= 300 is a float32 without rounding and the families, which
// differ only in rounding, must agree bit for bit. m, n, k, the
// transpositions and the spare leading dimensions come from s and flags;
// k crosses the GEMM's depth block of 256.
func FuzzSgemm(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, s uint32, mm, flags uint8) {
		m, n, k := 1+int(mm)%40, 1+int(s%70), 1+int(s>>8)%300
		transA, transB := flags&1 != 0, flags&2 != 0
		pad := int(flags>>2) % 4
		val := func(i int) float32 {
			if len(data) == 0 {
				return 1
			}
			return float32(int(data[(i*7+i/len(data))%len(data)])-128) / 16
		}
		lda, ldb := k+pad, n+pad
		if transA {
			lda = m + pad
		}
		if transB {
			ldb = k + pad
		}
		a, b := make([]float32, max(m, k)*lda), make([]float32, max(k, n)*ldb)
		for i := range a {
			a[i] = val(i)
		}
		for i := range b {
			b[i] = val(len(a) + i)
		}
		eachImpl(t, func() []float32 {
			c := make([]float32, m*n)
			gemm.Sgemm(transA, transB, m, n, k, a, lda, b, ldb, c, n, false)
			return c
		}, func(impl cpufeat.Impl, got, want []float32) {
			for i := range want {
				if !same(got[i], want[i]) {
					t.Fatalf("%v: %d×%d×%d (transA %v, transB %v, pad %d): C[%d, %d] = %v, generic %v", impl, m, n, k, transA, transB, pad, i/n, i%n, got[i], want[i])
				}
			}
		})
	})
}
