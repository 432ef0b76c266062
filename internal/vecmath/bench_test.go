package vecmath

import (
	"math"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// The benchmarks run every kernel family against the float64 loop the
// graph ops ran before (impl=naive: math.Exp, math.Erf ... per element)
// and copy() of the same number of float32, at n = 4 Ki .. 16 Mi.

var benchIn, benchOut = kerneltest.Float32s(kerneltest.MaxN, 3), make([]float32, kerneltest.MaxN)

func benchUnary(b *testing.B, k func(dst, x []float32), f func(float64) float64) {
	kerneltest.RunSizes(b, family, kerneltest.Sizes,
		func(n int) { k(benchOut[:n], benchIn[:n]) },
		func(n int) {
			for i, v := range benchIn[:n] {
				benchOut[i] = float32(f(float64(v)))
			}
		})
}

func BenchmarkExp(b *testing.B)  { benchUnary(b, Exp, math.Exp) }
func BenchmarkErf(b *testing.B)  { benchUnary(b, Erf, math.Erf) }
func BenchmarkTanh(b *testing.B) { benchUnary(b, Tanh, math.Tanh) }
func BenchmarkSigmoid(b *testing.B) {
	benchUnary(b, Sigmoid, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) })
}
func BenchmarkGelu(b *testing.B) {
	benchUnary(b, Gelu, func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) })
}

func BenchmarkGeluFast(b *testing.B) {
	benchUnary(b, GeluFast, func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) })
}

func BenchmarkAdd(b *testing.B) {
	kerneltest.RunSizes(b, family, kerneltest.Sizes,
		func(n int) { Add(benchOut[:n], benchIn[:n], benchOut[:n]) },
		func(n int) {
			for i, v := range benchIn[:n] {
				benchOut[i] += v
			}
		})
}

// BenchmarkSoftmax runs rows of 128 (attention scores) over n elements.
func BenchmarkSoftmax(b *testing.B) {
	kerneltest.RunSizes(b, family, kerneltest.Sizes[:2],
		func(n int) {
			for r := 0; r < n; r += 128 {
				Softmax(benchOut[r:r+128], benchIn[r:r+128], 0.125)
			}
		},
		func(n int) {
			for r := 0; r < n; r += 128 {
				softmax64(benchOut[r:r+128], benchIn[r:r+128])
			}
		})
}

// BenchmarkLayerNorm runs rows of 256 (encoder tokens) over n elements.
func BenchmarkLayerNorm(b *testing.B) {
	w, bias := benchIn[:256], benchIn[256:512]
	kerneltest.RunSizes(b, family, kerneltest.Sizes[:2],
		func(n int) {
			for r := 0; r < n; r += 256 {
				LayerNorm(benchOut[r:r+256], benchIn[r:r+256], w, bias, 1e-5)
			}
		},
		func(n int) {
			for r := 0; r < n; r += 256 {
				layerNorm64(benchOut[r:r+256], benchIn[r:r+256], w, bias, 1e-5)
			}
		})
}

// softmax64 and layerNorm64 are the float64 rows the graph ops computed.
func softmax64(d, s []float32) {
	m := s[0]
	for _, v := range s {
		m = max(m, v)
	}
	var sum float64
	for i, v := range s {
		e := math.Exp(float64(v - m))
		d[i] = float32(e)
		sum += e
	}
	for i, v := range d[:len(s)] {
		d[i] = float32(float64(v) / sum)
	}
}

func layerNorm64(y, x, w, b []float32, eps float64) {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	m := s / float64(len(x))
	var q float64
	for _, v := range x {
		q += (float64(v) - m) * (float64(v) - m)
	}
	is := 1 / math.Sqrt(q/float64(len(x))+eps)
	for i, v := range x {
		y[i] = float32((float64(v)-m)*is)*w[i] + b[i]
	}
}
