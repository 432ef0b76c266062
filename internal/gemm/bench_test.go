package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// benchShapes are the square sizes and the shapes the layers package
// produces for the digits CNN (batch 64): Conv2d(1,8,3) forward, Conv2d
// (8,16,3) forward, its weight gradient and its input gradient.
var benchShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"square64", false, false, 64, 64, 64},
	{"square256", false, false, 256, 256, 256},
	{"square1024", false, false, 1024, 1024, 1024},
	{"conv1fwd", false, false, 8, 64 * 64, 9},
	{"conv2fwd", false, false, 16, 64 * 16, 72},
	{"conv2dW", false, true, 16, 72, 64 * 16},
	{"conv2dX", true, false, 72, 64 * 16, 16},
	{"resnetConv", false, false, 64, 56 * 56, 576},
}

// BenchmarkSgemm reports GFLOP/s (2·m·n·k per call) per kernel family.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range benchShapes {
		if testing.Short() && s.m*s.n*s.k > 1<<24 {
			continue
		}
		rng := rand.New(rand.NewPCG(1, 1))
		p := newProblem(rng, s.transA, s.transB, false, s.m, s.n, s.k)
		for _, impl := range cpufeat.Available() {
			b.Run(fmt.Sprintf("%s/impl=%s", s.name, impl), func(b *testing.B) {
				defer cpufeat.Use(impl)()
				for b.Loop() {
					Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, p.c, p.ldc, false)
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
