package layers

import (
	"math"
	"regexp"
	"strconv"
	"testing"

	"github.com/tensorquant/tensorquant/internal/conformance"
	"github.com/tensorquant/tensorquant/internal/kerneltest"
	"github.com/tensorquant/tensorquant/tensor"
)

type moduleCase struct {
	Name        string              `json:"name"`
	Kind        string              `json:"kind"`
	ModuleRepr  string              `json:"module_repr"`
	QuantInput  conformance.Tensor  `json:"quant_input"`
	QuantWeight *conformance.Tensor `json:"quant_weight"`
	Bias        *conformance.Tensor `json:"bias"`
	Outputs     conformance.Tensor  `json:"outputs"`
}

// reprInt returns the first integer of "key=(n" or "key=n" in a module repr.
func reprInt(t *testing.T, repr, key string, def int) int {
	t.Helper()
	m := regexp.MustCompile(key + `=\(?(\d+)`).FindStringSubmatch(repr)
	if m == nil {
		return def
	}
	v, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestQuantModulesFloatPart feeds the exact quantized inputs and weights of
// quant_modules.json's module cases through the float layers: the outputs
// of the original (a float conv, matmul or pooling of those values) must
// match within 1e-5 relative, as FORMAT.md states.
func TestQuantModulesFloatPart(t *testing.T) {
	var file struct {
		Cases []moduleCase `json:"cases"`
	}
	if err := conformance.Load("quant_modules.json", &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) == 0 {
		t.Fatal("no module cases")
	}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, c := range file.Cases {
			t.Run(c.Name, func(t *testing.T) {
				x := c.QuantInput.MustFloat32()
				var l Layer
				rng := testRNG(1)
				stride := reprInt(t, c.ModuleRepr, "stride", 1)
				pad := reprInt(t, c.ModuleRepr, "padding", 0)
				var w *tensor.Tensor
				if c.QuantWeight != nil {
					w = c.QuantWeight.MustFloat32()
				}
				switch c.Kind {
				case "linear":
					lin := must(NewLinear(w.Shape[1], w.Shape[0], c.Bias != nil, rng))
					lin.Weight = w
					if c.Bias != nil {
						lin.Bias = c.Bias.MustFloat32()
					}
					l = lin
				case "conv1d", "conv2d":
					spec := ConvSpec{InChannels: w.Shape[1], OutChannels: w.Shape[0], KernelSize: w.Shape[2:],
						Stride: []int{stride}, Padding: []int{pad}, Bias: c.Bias != nil}
					conv := must(NewConv(spec, rng))
					cv := convOf(conv)
					cv.Weight = w
					if c.Bias != nil {
						cv.Bias = c.Bias.MustFloat32()
					}
					l = conv
				case "maxpool2d":
					l = must(NewMaxPool2d(reprInt(t, c.ModuleRepr, "kernel_size", 0), PoolOptions{Stride: stride, Padding: pad}))
				case "avgpool2d":
					l = must(NewAvgPool2d(reprInt(t, c.ModuleRepr, "kernel_size", 0), PoolOptions{Stride: stride, Padding: pad}))
				default:
					t.Fatalf("unknown module kind %q", c.Kind)
				}
				y, err := l.Forward(x)
				if err != nil {
					t.Fatal(err)
				}
				want := c.Outputs.MustFloat32()
				if !tensor.SameShape(y.Shape, want.Shape) {
					t.Fatalf("%s: output shape %v, want %v", l, y.Shape, want.Shape)
				}
				for i, v := range y.Data {
					if d := math.Abs(float64(v) - float64(want.Data[i])); d > 1e-5*math.Abs(float64(want.Data[i]))+1e-6 {
						t.Fatalf("%s: output[%d] = %v, want %v", l, i, v, want.Data[i])
					}
				}
			})
		}
	})
}

// convOf returns the Conv inside any of the convolution layer types.
func convOf(l Layer) *Conv {
	switch v := l.(type) {
	case *Conv1d:
		return &v.Conv
	case *Conv2d:
		return &v.Conv
	case *Conv3d:
		return &v.Conv
	case *ConvTranspose1d:
		return &v.Conv
	case *ConvTranspose2d:
		return &v.Conv
	case *ConvTranspose3d:
		return &v.Conv
	}
	panic("not a convolution")
}
