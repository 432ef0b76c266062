package layers

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/tensor"
)

// quantLike stands for a future quantized layer: a float layer with
// sub-modules that are not part of the float model.
type quantLike struct {
	*Linear
	InputQuantizer *ReLU
}

func (q *quantLike) Children() []Named {
	return []Named{{Name: "input_quantizer", Layer: q.InputQuantizer}}
}

func testModel(t *testing.T) (*Sequential, *Conv2d, *Linear) {
	rng := testRNG(1)
	conv := must(NewConv2d(1, 8, 3, ConvOptions{Padding: 1}, rng))
	lin := must(NewLinear(8*2*2, 10, true, rng))
	features := NewSequential(conv, NewReLU(), must(NewMaxPool2d(2, PoolOptions{})),
		NewResidual(must(NewBatchNorm2d(8)), nil), must(NewAdaptiveAvgPool2d(2, 2)))
	classifier := NewSequential(NewFlatten(1, -1), &quantLike{Linear: lin, InputQuantizer: NewReLU()})
	m, err := NewNamedSequential(Named{"features", features}, Named{"classifier", classifier})
	if err != nil {
		t.Fatal(err)
	}
	return m, conv, lin
}

func TestWalkNames(t *testing.T) {
	m, _, _ := testModel(t)
	named, err := NamedLayers(m)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range named {
		got = append(got, n.Name+"="+n.Layer.Kind())
	}
	want := "=Sequential features=Sequential features.0=Conv2d features.1=ReLU features.2=MaxPool2d " +
		"features.3=Residual features.3.body=BatchNorm2d features.4=AdaptiveAvgPool2d " +
		"classifier=Sequential classifier.0=Flatten classifier.1=Linear classifier.1.input_quantizer=ReLU"
	if strings.Join(got, " ") != want {
		t.Errorf("NamedLayers:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	params, err := NamedParams(m)
	if err != nil {
		t.Fatal(err)
	}
	var pn []string
	for _, p := range params {
		pn = append(pn, fmt.Sprintf("%s%v", p.Name, p.Value.Shape))
	}
	if got, want := strings.Join(pn, " "), "features.0.weight[8 1 3 3] features.0.bias[8] features.3.body.weight[8] features.3.body.bias[8] classifier.1.weight[10 32] classifier.1.bias[10]"; got != want {
		t.Errorf("NamedParams:\n got %s\nwant %s", got, want)
	}
	// The calibration loop of the seed, in Go.
	var quantizers []string
	err = Walk(m, func(name string, l Layer) error {
		if strings.HasSuffix(name, "input_quantizer") {
			quantizers = append(quantizers, name)
		}
		return nil
	})
	if err != nil || fmt.Sprint(quantizers) != "[classifier.1.input_quantizer]" {
		t.Errorf("walk for quantizers: %v, %v", quantizers, err)
	}
	l, err := Find(m, "features.3.body")
	if err != nil || l.Kind() != "BatchNorm2d" {
		t.Errorf("Find: %v, %v", l, err)
	}
	if _, err := Find(m, "features.9"); err == nil || err.Error() != `layers: no layer named "features.9"` {
		t.Errorf("Find missing: %v", err)
	}
	stop := errors.New("stop here")
	n := 0
	if err := Walk(m, func(string, Layer) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("Walk did not stop at the first error: %v after %d calls", err, n)
	}
}

func TestErrorNamesLayer(t *testing.T) {
	m, _, _ := testModel(t)
	_, err := m.Forward(tensor.New(4, 3, 8, 8))
	want := "layers: features.0 Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)): input shape [4 3 8 8]: has 3 channels, want 1"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant  %s", err, want)
	}
	var le *Error
	if !errors.As(err, &le) || le.Path != "features.0" {
		t.Errorf("not an *Error with path features.0: %#v", err)
	}
	// Deeper: the BatchNorm inside the residual block, after a good conv.
	m2 := must(NewNamedSequential(Named{"features", NewSequential(NewResidual(NewSequential(must(NewBatchNorm2d(3))), nil))}))
	_, err = m2.Forward(tensor.New(2, 4, 3, 3))
	want = "layers: features.0.body.0 BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True): input shape [2 4 3 3]: has 4 channels, want 3"
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
	// Backward errors are named too.
	lin := must(NewLinear(3, 2, true, testRNG(1)))
	seq := NewSequential(NewReLU(), lin)
	must(seq.Forward(tensor.New(5, 3)))
	_, err = seq.Backward(tensor.New(5, 3))
	want = "layers: 1 Linear(in_features=3, out_features=2, bias=True): output gradient shape [5 3], want [5 2]"
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
	// Residual branches that disagree.
	r := NewResidual(must(NewConv1d(2, 3, 1, ConvOptions{}, testRNG(1))), nil)
	_, err = r.Forward(tensor.New(1, 2, 4))
	want = "layers: Residual(): input shape [1 2 4]: body gives [1 3 4], shortcut gives [1 2 4]"
	if err == nil || err.Error() != want {
		t.Errorf("error %v\nwant  %s", err, want)
	}
}

func TestDescribe(t *testing.T) {
	m, _, _ := testModel(t)
	want := `Sequential(
  (features): Sequential(
    (0): Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    (1): ReLU()
    (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    (3): Residual(
      (body): BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
    )
    (4): AdaptiveAvgPool2d(output_size=(2, 2))
  )
  (classifier): Sequential(
    (0): Flatten(start_dim=1, end_dim=-1)
    (1): Linear(
      in_features=32, out_features=10, bias=True
      (input_quantizer): ReLU()
    )
  )
)`
	if got := Describe(m); got != want {
		t.Errorf("Describe:\n%s\nwant\n%s", got, want)
	}
}

func TestSetChildAndTraining(t *testing.T) {
	m, _, _ := testModel(t)
	features := must(Find(m, "features")).(*Sequential)
	relu6 := NewReLU()
	if err := features.SetChild("1", relu6); err != nil {
		t.Fatal(err)
	}
	if l := must(Find(m, "features.1")); l != relu6 {
		t.Error("SetChild did not replace features.1")
	}
	if err := features.SetChild("7", relu6); err == nil {
		t.Error("SetChild accepted a missing name")
	}
	if err := m.SetChild("features", nil); err == nil {
		t.Error("SetChild accepted nil")
	}
	r := must(Find(m, "features.3")).(*Residual)
	if err := r.SetChild("shortcut", NewReLU()); err != nil || r.Shortcut == nil {
		t.Errorf("Residual.SetChild(shortcut): %v", err)
	}
	if err := r.SetChild("other", NewReLU()); err == nil {
		t.Error("Residual.SetChild accepted an unknown name")
	}
	bn := r.Body.(Trainer)
	if !bn.Training() {
		t.Error("new BatchNorm not in training mode")
	}
	if err := SetTraining(m, false); err != nil || bn.Training() {
		t.Errorf("SetTraining(false): %v, training %v", err, bn.Training())
	}
	if _, err := NewNamedSequential(Named{"a.b", NewReLU()}); err == nil {
		t.Error("dotted name accepted")
	}
	if _, err := NewNamedSequential(Named{"a", NewReLU()}, Named{"a", NewReLU()}); err == nil {
		t.Error("repeated name accepted")
	}
	bad := &Sequential{Layers: []Layer{NewReLU()}, Names: []string{"x", "y"}}
	if _, err := bad.Forward(tensor.New(1)); err == nil || !strings.Contains(err.Error(), "2 names for 1 layers") {
		t.Errorf("mismatched names: %v", err)
	}
	if err := Walk(&Sequential{Layers: []Layer{nil}}, func(string, Layer) error { return nil }); err == nil {
		t.Error("Walk accepted a nil layer")
	}
}

func TestZeroGrad(t *testing.T) {
	m, conv, lin := testModel(t)
	x := randTensor(testRNG(3), 2, 1, 4, 4)
	y := must(m.Forward(x))
	must(m.Backward(randTensor(testRNG(4), y.Shape...)))
	nonzero := func(p []Param) bool {
		for _, q := range p {
			for _, v := range q.Grad.Data {
				if v != 0 {
					return true
				}
			}
		}
		return false
	}
	if !nonzero(conv.Params()) || !nonzero(lin.Params()) {
		t.Fatal("Backward left the gradients at zero")
	}
	if err := ZeroGrad(m); err != nil || nonzero(conv.Params()) || nonzero(lin.Params()) {
		t.Errorf("ZeroGrad: %v", err)
	}
}

// TestMutationBetweenPasses changes exported fields between Forward and
// Backward, and hands layers absurd sizes: every case is an error, never a
// panic.
func TestMutationBetweenPasses(t *testing.T) {
	rng := testRNG(1)
	conv := must(NewConv2d(2, 4, 3, ConvOptions{Groups: 2}, rng))
	x := randTensor(rng, 1, 2, 5, 5)
	y := must(conv.Forward(x))
	conv.Groups, conv.InChannels = 1, 7 // ignored by Backward: it uses what Forward used
	if _, err := conv.Backward(randTensor(rng, y.Shape...)); err != nil {
		t.Errorf("Backward after changing hyper-parameters: %v", err)
	}
	conv.Bias = nil
	if _, err := conv.Backward(randTensor(rng, y.Shape...)); err == nil || !strings.Contains(err.Error(), "bias changed") {
		t.Errorf("Backward after removing the bias: %v", err)
	}
	lin := must(NewLinear(3, 2, false, rng))
	must(lin.Forward(tensor.New(4, 3)))
	lin.Weight = tensor.New(5, 5)
	if _, err := lin.Backward(tensor.New(4, 2)); err == nil {
		t.Error("Linear.Backward with a replaced weight: no error")
	}
	if len(lin.Params()[0].Grad.Data) != 25 {
		t.Error("Params did not give the replaced weight a gradient of its shape")
	}
	lin.Bias = tensor.New(2) // a bias added after construction gets a gradient
	if p := lin.Params(); len(p) != 2 || len(p[1].Grad.Data) != 2 {
		t.Errorf("Params after adding a bias: %v", p)
	}
	bn := must(NewBatchNorm2d(2))
	must(bn.Forward(randTensor(rng, 2, 2, 2, 2)))
	bn.Weight = tensor.New(3)
	if _, err := bn.Backward(tensor.New(2, 2, 2, 2)); err == nil {
		t.Error("BatchNorm.Backward with a replaced weight: no error")
	}
	big := must(NewAdaptiveAvgPool3d(1<<24, 1<<24, 1<<24))
	if _, err := big.Forward(tensor.New(1, 1, 1, 1, 1)); err == nil || !strings.Contains(err.Error(), "is too large") {
		t.Errorf("huge adaptive output: %v", err)
	}
	ct := must(NewConvTranspose2d(1, 1, 1, ConvOptions{Stride: 1 << 24}, testRNG(2)))
	if _, err := ct.Forward(tensor.New(1, 1, 64, 64)); err == nil || !strings.Contains(err.Error(), "is too large") {
		t.Errorf("huge transposed output: %v", err)
	}
}

func TestWalkCycle(t *testing.T) {
	s := NewSequential(NewReLU())
	s.Layers = append(s.Layers, s)
	if _, err := NamedLayers(s); err == nil || !strings.Contains(err.Error(), "does the model contain itself?") {
		t.Errorf("cycle: %v", err)
	}
	if err := ZeroGrad(nil); err == nil {
		t.Error("nil model: no error")
	}
}

// TestNilRandomSource: every constructor that draws weights takes a nil
// source as rand.New(rand.NewPCG(0, 0)), the same weights on every call.
func TestNilRandomSource(t *testing.T) {
	pcg := func() *rand.Rand { return rand.New(rand.NewPCG(0, 0)) }
	spec := ConvSpec{InChannels: 2, OutChannels: 4, KernelSize: []int{3}, Bias: true, Transposed: true}
	for _, c := range []struct {
		name string
		make func(*rand.Rand) (Layer, error)
	}{
		{"Linear", func(r *rand.Rand) (Layer, error) { return NewLinear(3, 2, true, r) }},
		{"MatMul", func(r *rand.Rand) (Layer, error) { return NewMatMul(3, 2, true, r) }},
		{"Conv2d", func(r *rand.Rand) (Layer, error) { return NewConv2d(2, 3, 3, ConvOptions{}, r) }},
		{"ConvTranspose1d", func(r *rand.Rand) (Layer, error) { return NewConv(spec, r) }},
		{"QuantConv2d", func(r *rand.Rand) (Layer, error) { return NewQuantConv2d(2, 3, 3, ConvOptions{}, r, QuantDescs{}) }},
		{"QuantLinear", func(r *rand.Rand) (Layer, error) { return NewQuantLinear(3, 2, false, r, QuantDescs{}) }},
	} {
		a, b, want := must(c.make(nil)), must(c.make(nil)), must(c.make(pcg()))
		for i, p := range want.Params() {
			for _, got := range []Layer{a, b} {
				if d := conformance.DiffFloat32(got.Params()[i].Value.Data, p.Value.Data); d != "" {
					t.Errorf("%s %s with a nil source: %s", c.name, p.Name, d)
				}
			}
		}
	}
}
