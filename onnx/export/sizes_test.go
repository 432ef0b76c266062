package export

import (
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/layers"
)

// TestFileSizes exports the digits CNN and a 784-256-10 MLP with float
// weights and with 8-bit, FP8 and 4-bit block weights, logs the file
// sizes, and checks that storing the codes shrinks the weights by the
// format's width.
func TestFileSizes(t *testing.T) {
	pt := layers.QuantDesc8BitPerTensor()
	formats := []struct {
		name   string
		weight *layers.QuantDescriptor // nil: no quantization
		opts   Options
	}{
		{"float (no quantizers)", nil, Options{}},
		{"int8 QDQ, float weights", new(layers.QuantDesc8BitLinearWeightPerRow()), Options{}},
		{"int8, weights as INT8", new(layers.QuantDesc8BitLinearWeightPerRow()), Options{Weights: WeightsQuantized}},
		{"FP8 E4M3, weights as FLOAT8", desc(layers.QuantDesc8BitLinearWeightPerRow(), func(d *layers.QuantDescriptor) { d.Format = "e4m3" }), Options{Weights: WeightsQuantized}},
		{"INT4 blocks of 32, weights as INT4", desc(pt, func(d *layers.QuantDescriptor) { d.NumBits, d.BlockSize = 4, 32 }), Options{Weights: WeightsQuantized}},
	}
	models := []struct {
		name  string
		build func() *layers.Sequential
		shape []int
	}{
		{"digits CNN", func() *layers.Sequential { return digitsCNN(1) }, []int{1, 8, 8}},
		{"MLP 784-256-10", func() *layers.Sequential {
			rng := rand.New(rand.NewPCG(1, 1))
			return seq(t, layers.NewFlatten(1, -1), must(layers.NewLinear(784, 256, true, rng)), layers.NewReLU(), must(layers.NewLinear(256, 10, true, rng)))
		}, []int{1, 28, 28}},
	}
	rng := rand.New(rand.NewPCG(2, 3))
	for _, m := range models {
		sizes := map[string]int{}
		for _, f := range formats {
			model := m.build()
			if f.weight != nil {
				d := layers.QuantDescs{Weight: f.weight}
				if _, err := layers.QuantizeModel(model, layers.ReplaceOptions{Descs: map[string]layers.QuantDescs{"Conv2d": d, "Linear": d}}); err != nil {
					t.Fatal(err)
				}
				calibrate(t, model, randn(rng, append([]int{8}, m.shape...)...))
			}
			o := f.opts
			o.InputShape = m.shape
			exp, err := Model(model, o)
			if err != nil {
				t.Fatalf("%s, %s: %v", m.name, f.name, err)
			}
			sizes[f.name] = fileSize(t, exp)
			t.Logf("%-16s %-36s opset %2d: %7d bytes", m.name, f.name, exp.OpsetImport[0].Version, sizes[f.name])
		}
		if m.name != "MLP 784-256-10" {
			continue
		}
		fl, q8, fp8, q4 := sizes[formats[1].name], sizes[formats[2].name], sizes[formats[3].name], sizes[formats[4].name]
		// INT4 blocks of 32 carry a float32 scale per 32 codes: 4.5 bits a
		// weight.
		if !(3*q8 < fl && 3*fp8 < fl && 10*q4 < 7*q8) {
			t.Errorf("%s: sizes %v: want INT8 and FP8 weights under a third of float, INT4 under 70%% of INT8", m.name, sizes)
		}
	}
}
