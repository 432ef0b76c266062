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

// BenchmarkMicroKernel runs one family's micro-kernel alone on packed
// panels that stay in L1 (k = 256), the ceiling for Sgemm: its GFLOP/s
// over the clock (BenchmarkClock) gives the flops per cycle achieved, to
// compare with the core's peak (2 FMA pipes × lanes × 2).
func BenchmarkMicroKernel(b *testing.B) {
	for _, impl := range cpufeat.Available() {
		b.Run("impl="+impl.String(), func(b *testing.B) {
			defer cpufeat.Use(impl)()
			kern := selectKernel()
			const k = 256
			a := make([]float32, k*kern.mr)
			bp := make([]float32, k*kern.nr)
			c := make([]float32, kern.mr*kern.nr)
			for b.Loop() {
				microKernel(kern.impl, k, a, bp, c, kern.nr, true)
			}
			b.ReportMetric(2*float64(k*kern.mr*kern.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// clockChain runs n iterations of two dependent one-cycle integer
// operations (an add and an xor on the same register), so it takes 2n
// cycles on any out-of-order core.
//
//go:noinline
func clockChain(n int, k uint64) uint64 {
	var x uint64
	for i := 0; i < n; i++ {
		x += uint64(i)
		x ^= k
	}
	return x
}

var clockSink uint64

// BenchmarkClock estimates the core clock (reported as GHz) from a chain of
// dependent one-cycle operations: the frequency the benchmarks really run
// at (turbo included), which the peak estimates in BENCHMARKS.md use.
func BenchmarkClock(b *testing.B) {
	const n = 1 << 20
	for b.Loop() {
		clockSink += clockChain(n, uint64(b.N))
	}
	b.ReportMetric(2*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GHz")
}

// BenchmarkGemmPackedA compares Sgemm with Gemm on A packed in advance on
// the GEMMs of ResNet-18's convolutions at batch 1 (weights [Cout,
// Cin·9] times an im2col matrix), on one goroutine.
func BenchmarkGemmPackedA(b *testing.B) {
	for _, s := range [][3]int{{64, 3136, 576}, {128, 784, 1152}, {256, 196, 2304}, {512, 49, 4608}} {
		rng := rand.New(rand.NewPCG(1, 1))
		p := newProblem(rng, false, false, false, s[0], s[1], s[2])
		pa := PackA(false, p.m, p.k, p.a, p.lda)
		flops := 2 * float64(s[0]*s[1]*s[2])
		name := fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2])
		b.Run(name+"/Sgemm", func(b *testing.B) {
			for b.Loop() {
				Gemm(&Params{M: p.m, N: p.n, K: p.k, A: p.a, LdA: p.lda, B: p.b, LdB: p.ldb, C: p.c, LdC: p.ldc, Threads: 1})
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(name+"/packedA", func(b *testing.B) {
			for b.Loop() {
				Gemm(&Params{M: p.m, N: p.n, K: p.k, PackedA: pa, B: p.b, LdB: p.ldb, C: p.c, LdC: p.ldc, Threads: 1})
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkGemmPrepacked multiplies operands both packed in advance on
// one goroutine: the macro-kernel's efficiency (edge tiles, C traffic,
// blocking) without packing, on ResNet-18's and MobileNetV2's GEMMs
// (batch 1, columns in the phase layout of internal/nn).
func BenchmarkGemmPrepacked(b *testing.B) {
	for _, s := range [][3]int{{64, 12877, 147}, {64, 3246, 576}, {128, 838, 1152}, {256, 222, 2304}, {512, 61, 4608},
		{96, 12544, 16}, {16, 12544, 96}, {144, 3136, 24}, {960, 49, 160}} {
		rng := rand.New(rand.NewPCG(1, 1))
		p := newProblem(rng, false, false, false, s[0], s[1], s[2])
		pa := PackA(false, p.m, p.k, p.a, p.lda)
		pb := PackB(false, p.k, p.n, p.b, p.ldb)
		b.Run(fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]), func(b *testing.B) {
			for b.Loop() {
				Gemm(&Params{M: p.m, N: p.n, K: p.k, PackedA: pa, PackedB: pb, C: p.c, LdC: p.ldc, Threads: 1})
			}
			b.ReportMetric(2*float64(s[0]*s[1]*s[2])*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkPack packs the operands of the encoder's products (MB/s of
// float32 packed): A of a projection at batch 1 (128×256 rows into panels
// of 8 or 6), and the transposed K of an attention head (128 columns of
// depth 64, read along the rows of K, into panels of 32 or 16).
func BenchmarkPack(b *testing.B) {
	x := make([]float32, 128*768)
	for i := range x {
		x[i] = float32(i)
	}
	for _, s := range []struct {
		name                 string
		ld, lines, depth, kw int
		a                    bool
	}{
		{"A128x256", 256, 128, 256, 0, true},
		{"Kt128x64", 768, 128, 64, 0, false},
	} {
		for _, w := range []int{6, 8, 16, 32} {
			if s.a != (w <= 8) {
				continue
			}
			b.Run(fmt.Sprintf("%s/w=%d", s.name, w), func(b *testing.B) {
				dst := make([]float32, roundUp(s.lines, w)*s.depth)
				b.SetBytes(int64(4 * s.lines * s.depth))
				for b.Loop() {
					pack(dst, x, s.ld, true, 0, 0, s.lines, s.depth, w)
				}
			})
		}
	}
}
