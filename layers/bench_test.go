package layers

import (
	"fmt"
	"testing"

	"github.com/tensorquant/tensorquant/data/digits"
	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// BenchmarkConv2d reports the forward and backward throughput of Conv2d in
// GFLOP/s (2 flops per multiply-add of the convolution proper; the backward
// pass does twice the forward's: weight and input gradients), per kernel
// family, for the digits CNN's two convolutions (batch 64) and a
// CIFAR-sized 3×3 layer.
func BenchmarkConv2d(b *testing.B) {
	for _, s := range []struct {
		name                string
		n, cin, cout, hw, k int
	}{
		{"digits-conv1", 64, 1, 8, 8, 3},
		{"digits-conv2", 64, 8, 16, 4, 3},
		{"cifar-32x32x32-64", 16, 32, 64, 32, 3},
	} {
		conv := must(NewConv2d(s.cin, s.cout, s.k, ConvOptions{Padding: s.k / 2}, testRNG(1)))
		x := randTensor(testRNG(2), s.n, s.cin, s.hw, s.hw)
		flops := 2 * float64(s.n*s.cout*s.hw*s.hw*s.cin*s.k*s.k)
		y := must(conv.Forward(x))
		dy := randTensor(testRNG(3), y.Shape...)
		for _, impl := range cpufeat.Available() {
			b.Run(fmt.Sprintf("%s/fwd/impl=%s", s.name, impl), func(b *testing.B) {
				defer cpufeat.Use(impl)()
				for b.Loop() {
					must(conv.Forward(x))
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
			b.Run(fmt.Sprintf("%s/bwd/impl=%s", s.name, impl), func(b *testing.B) {
				defer cpufeat.Use(impl)()
				must(conv.Forward(x))
				for b.Loop() {
					must(conv.Backward(dy))
				}
				b.ReportMetric(2*flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkTrainDigitsEpoch times one training epoch of the digits CNN
// (1438 images, batch 32, Adam) with the default kernel family.
func BenchmarkTrainDigitsEpoch(b *testing.B) {
	set := must(digits.Load())
	train, _, _ := set.Split(0.2, 1)
	model := digitsCNN(b, 1)
	opt := must(NewAdam(must(NamedParams(model)), DefaultAdam(0.01)))
	for b.Loop() {
		if _, err := Fit(model, train.X, train.Labels, FitConfig{Epochs: 1, BatchSize: 32, Optimizer: opt}); err != nil {
			b.Fatal(err)
		}
	}
}
