package quantize

import (
	"math"
	"testing"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/internal/testkit/models"
	"github.com/tensorquant/tensorquant/onnx"
)

// TestReferenceModels quantizes every reference model of make models
// (torchvision resnet18, mobilenet_v2 and v3, efficientnet_b0, two
// transformer encoders, the Fashion CNN, with and without
// BatchNormalization; opset 13) with the original's placement,
// calibrated on its seeded inputs at batch 4 in batches of 2 with
// entropy, and runs the written QDQ file in ONNX Runtime op by op. Its
// outputs are our Session's up to half of what quantization itself
// moves them (the largest |quantized - float|): our float ops between the
// quantizers add in another order than ONNX Runtime's in places (the
// convolutions of resnet18 from the second stage, depthwise convolutions,
// sigmoid), which moves an element across a rounding boundary at the next
// quantizer now and then (one code of 127), and the cascade grows with the
// depth: resnet18 2·10^-4 of the effect, the Fashion CNN bit for bit,
// mobilenet_v2 0.14, efficientnet_b0 0.24 (one code of one element at its
// 5th quantizer, up to 4 codes by the 35th) with the assembly kernels, 0.40
// and 0.27 with the purego ones, whose sums are in yet another order. A
// misplaced or mis-scaled quantizer moves the outputs by about the effect
// itself. Under -short: resnet18 and the Fashion CNN; under an emulator
// (models.Emulated): the Fashion CNN.
func TestReferenceModels(t *testing.T) {
	man := models.Open(t)
	names := man.Names()
	switch {
	case models.Emulated():
		names = []string{"fashion_cnn"}
	case testing.Short():
		names = []string{"resnet18", "fashion_cnn"}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			mo, err := man.Model(name)
			if err != nil {
				t.Fatal(err)
			}
			path, err := mo.Path(13)
			if err != nil {
				t.Fatal(err)
			}
			g, err := graph.ImportFile(path)
			if err != nil {
				t.Fatal(err)
			}
			batch := mo.Batches[len(mo.Batches)-1]
			in, err := mo.ReadInputs(batch)
			if err != nil {
				t.Fatal(err)
			}
			feeds := map[string]*graph.Tensor{}
			for k, v := range in {
				feeds[k] = graph.Float(v)
			}
			d, err := Tensors(feeds)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Place(g, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Sites) == 0 {
				t.Fatal("no quantizer placed")
			}
			c, err := p.Calibrate(d, CalibrateOptions{BatchSize: 2})
			if err != nil {
				t.Fatal(err)
			}
			amax, err := c.Amax(calibrators.MethodEntropy, calibrators.AmaxOptions{})
			if err != nil {
				t.Fatal(err)
			}
			q, err := p.Apply(amax)
			if err != nil {
				t.Fatal(err)
			}
			file := writeQDQ(t, q)
			s, err := graph.NewSession(q, graph.Options{Float: true})
			if err != nil {
				t.Fatal(err)
			}
			ours, err := s.Run(feeds)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := graph.NewSession(g, graph.Options{Float: true})
			if err != nil {
				t.Fatal(err)
			}
			float, err := fs.Run(feeds)
			if err != nil {
				t.Fatal(err)
			}
			inputs := map[string]exttool.Input{}
			for k, v := range in {
				inputs[k] = exttool.Input{Dims: v.Shape, Type: "float32", F32: v.Data}
			}
			out := exttool.RunORT(t, file, "disabled", inputs)
			for _, o := range q.Outputs {
				if o.DType != onnx.Float {
					continue
				}
				got, want := ours[o.Name].F32, out[o.Name].F32
				var largest float64
				for _, w := range want {
					largest = max(largest, math.Abs(float64(w)))
				}
				n, worst := compare(got, want)
				_, effect := compare(got, float[o.Name].F32)
				if worst > effect/2 {
					t.Errorf("%s: %d of %d outputs differ from ONNX Runtime's, the largest by %g, more than half of quantization's effect %g", o.Name, n, len(want), worst, effect)
				}
				t.Logf("%d quantizers (%d tensors), %d left float; output %s: %d of %d differ from ONNX Runtime's, by at most %g (%.2g of quantization's effect %g)",
					len(p.Sites), len(p.Groups), len(p.Unquantized), o.Name, n, len(want), worst, worst/effect, effect)
			}
		})
	}
}
