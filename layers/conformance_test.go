package layers

import (
	"math"
	"regexp"
	"strconv"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
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
				var w *tensor.Tensor
				if c.QuantWeight != nil {
					w = c.QuantWeight.MustFloat32()
				}
				l := floatModule(t, c, w)
				y, err := l.Forward(c.QuantInput.MustFloat32())
				if err != nil {
					t.Fatal(err)
				}
				checkModuleOutputs(t, y, &c.Outputs)
			})
		}
	})
}

// floatModule builds the float layer of a module case, with weight w (nil
// for pooling) and the case's bias.
func floatModule(t *testing.T, c moduleCase, w *tensor.Tensor) Layer {
	t.Helper()
	rng := testRNG(1)
	stride := reprInt(t, c.ModuleRepr, "stride", 1)
	pad := reprInt(t, c.ModuleRepr, "padding", 0)
	var l Layer
	switch c.Kind {
	case "linear":
		l = must(NewLinear(w.Shape[1], w.Shape[0], c.Bias != nil, rng))
	case "conv1d", "conv2d":
		l = must(NewConv(ConvSpec{InChannels: w.Shape[1], OutChannels: w.Shape[0], KernelSize: w.Shape[2:],
			Stride: []int{stride}, Padding: []int{pad}, Bias: c.Bias != nil}, rng))
	case "maxpool2d":
		return must(NewMaxPool2d(reprInt(t, c.ModuleRepr, "kernel_size", 0), PoolOptions{Stride: stride, Padding: pad}))
	case "avgpool2d":
		return must(NewAvgPool2d(reprInt(t, c.ModuleRepr, "kernel_size", 0), PoolOptions{Stride: stride, Padding: pad}))
	default:
		t.Fatalf("unknown module kind %q", c.Kind)
	}
	ps := l.Params()
	copy(ps[0].Value.Data, w.Data)
	if c.Bias != nil {
		copy(ps[1].Value.Data, c.Bias.MustFloat32().Data)
	}
	return l
}

// checkModuleOutputs compares a module's outputs with the original's
// within 1e-5 relative.
func checkModuleOutputs(t *testing.T, y *tensor.Tensor, outputs *conformance.Tensor) {
	t.Helper()
	want := outputs.MustFloat32()
	if !tensor.SameShape(y.Shape, want.Shape) {
		t.Fatalf("output shape %v, want %v", y.Shape, want.Shape)
	}
	for i, v := range y.Data {
		if d := math.Abs(float64(v) - float64(want.Data[i])); d > 1e-5*math.Abs(float64(want.Data[i]))+1e-6 {
			t.Fatalf("output[%d] = %v, want %v", i, v, want.Data[i])
		}
	}
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
