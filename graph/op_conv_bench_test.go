package graph

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// Benchmarks of the convolution and pooling ops against the layers that
// share their arithmetic, on ResNet-18's shapes (224×224 input): for each
// shape the graph op and the layer run one after the other, so that a
// run gives their ratio. b.SetBytes counts the output.

// resnet18Convs are the distinct convolutions of ResNet-18: input
// channels, output channels, kernel, stride, input size.
var resnet18Convs = []struct{ in, out, k, s, hw int }{
	{3, 64, 7, 2, 224},
	{64, 64, 3, 1, 56},
	{64, 128, 3, 2, 56},
	{64, 128, 1, 2, 56},
	{128, 128, 3, 1, 28},
	{128, 256, 3, 2, 28},
	{256, 256, 3, 1, 14},
	{256, 512, 3, 2, 14},
	{512, 512, 3, 1, 7},
}

func BenchmarkConvResNet18(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, batch := range []int{1, 8} {
		for _, c := range resnet18Convs {
			l := must(layers.NewConv2d(c.in, c.out, c.k, layers.ConvOptions{Stride: c.s, Padding: c.k / 2}, rng))
			x := randF32(rng, batch, c.in, c.hw, c.hw)
			name := fmt.Sprintf("n%d/%dx%d_k%d_s%d_%d", batch, c.in, c.out, c.k, c.s, c.hw)
			attrs := []onnx.Attribute{onnx.IntsAttr("kernel_shape", int64(c.k), int64(c.k)), onnx.IntsAttr("strides", int64(c.s), int64(c.s)),
				onnx.IntsAttr("pads", int64(c.k/2), int64(c.k/2), int64(c.k/2), int64(c.k/2))}
			b.Run(name+"/graph", func(b *testing.B) { benchOp(b, "Conv", 13, attrs, x, Float(l.Weight), Float(l.Bias)) })
			b.Run(name+"/layers", func(b *testing.B) { benchLayer(b, l, x) })
		}
	}
}

// BenchmarkPoolResNet18 is ResNet-18's max pooling (3×3, stride 2, pad 1
// on 64×112×112): the graph's (no argmax) against the layer's (which
// records the argmax for backward); and the global average pooling.
func BenchmarkPoolResNet18(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, batch := range []int{1, 8} {
		x := randF32(rng, batch, 64, 112, 112)
		mp := must(layers.NewMaxPool2d(3, layers.PoolOptions{Stride: 2, Padding: 1}))
		attrs := []onnx.Attribute{onnx.IntsAttr("kernel_shape", 3, 3), onnx.IntsAttr("strides", 2, 2), onnx.IntsAttr("pads", 1, 1, 1, 1)}
		b.Run(fmt.Sprintf("n%d/maxpool/graph", batch), func(b *testing.B) { benchOp(b, "MaxPool", 12, attrs, x) })
		b.Run(fmt.Sprintf("n%d/maxpool/layers", batch), func(b *testing.B) { benchLayer(b, mp, x) })
		g := randF32(rng, batch, 512, 7, 7)
		ap := must(layers.NewAdaptiveAvgPool2d(1, 1))
		b.Run(fmt.Sprintf("n%d/globalavg/graph", batch), func(b *testing.B) { benchOp(b, "GlobalAveragePool", 13, nil, g) })
		b.Run(fmt.Sprintf("n%d/globalavg/layers", batch), func(b *testing.B) { benchLayer(b, ap, g) })
	}
}

// benchLayer runs a layer's Forward on x.
func benchLayer(b *testing.B, l layers.Layer, x *Tensor) {
	xt := &tensor.Tensor{Shape: x.Shape, Data: x.F32}
	y := must(l.Forward(xt))
	b.SetBytes(int64(4 * len(y.Data)))
	for b.Loop() {
		must(l.Forward(xt))
	}
}
