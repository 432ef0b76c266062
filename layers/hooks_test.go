package layers

import (
	"errors"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/tensor"
)

// TestForwardHooks captures the activations of "features.0" during a
// forward, replaces the output of "features.1" and the input of
// "classifier.1", checks what the model computes then, and that removing
// the hooks gives back the original output, bit for bit.
func TestForwardHooks(t *testing.T) {
	model := digitsCNN(t, 1)
	x := spacedTensor(testRNG(2), 3, 1, 8, 8)
	want := must(model.Forward(x))
	names := kindsOf(t, model)

	conv := must(Find(model, "features.0"))
	act := must(conv.Forward(x))
	var seen []*tensor.Tensor
	capture := must(RegisterForwardHook(model, "features.0", func(name string, l Layer, in, out *tensor.Tensor) (*tensor.Tensor, error) {
		if name != "features.0" || l != conv || in != x {
			t.Errorf("hook called with %q %s", name, l)
		}
		seen = append(seen, out)
		return nil, nil
	}))
	y := must(model.Forward(x))
	if len(seen) != 1 {
		t.Fatalf("hook called %d times", len(seen))
	}
	if d := conformance.DiffFloat32(seen[0].Data, act.Data); d != "" {
		t.Errorf("captured activation: %s", d)
	}
	if d := conformance.DiffFloat32(y.Data, want.Data); d != "" {
		t.Errorf("an observing hook changed the output: %s", d)
	}
	if kindsOf(t, model) != names {
		t.Error("a hook changed the walk")
	}

	// Replace the output of features.1 (a ReLU) by zeros: the classifier
	// then sees only its biases, and the output is the same for every
	// sample.
	zero := must(RegisterForwardHook(model, "features.1", func(_ string, _ Layer, _, out *tensor.Tensor) (*tensor.Tensor, error) {
		return tensor.New(out.Shape...), nil
	}))
	y = must(model.Forward(x))
	for i := range y.Data {
		if y.Data[i] != y.Data[i%10] {
			t.Fatalf("output %d = %v differs from sample 0's %v with a zero activation", i, y.Data[i], y.Data[i%10])
		}
	}
	zero.Remove()
	zero.Remove() // removing twice does nothing

	// A pre-hook that doubles the classifier's input: Linear is affine, so
	// the output minus the bias doubles.
	fc := must(Find(model, "classifier.1")).(*Linear)
	double := must(RegisterForwardPreHook(model, "classifier.1", func(_ string, _ Layer, in *tensor.Tensor) (*tensor.Tensor, error) {
		d := in.Clone()
		for i := range d.Data {
			d.Data[i] *= 2
		}
		return d, nil
	}))
	y = must(model.Forward(x))
	for i, v := range y.Data {
		b := fc.Bias.Data[i%10]
		if w := 2*(want.Data[i]-b) + b; !near(v, w) {
			t.Fatalf("output %d = %v with a doubled input, want %v", i, v, w)
		}
	}
	// Backward goes through the layer as if nothing had been replaced.
	if _, err := model.Backward(tensor.New(y.Shape...)); err != nil {
		t.Fatal(err)
	}
	double.Remove()
	capture.Remove()
	if d := conformance.DiffFloat32(must(model.Forward(x)).Data, want.Data); d != "" {
		t.Errorf("after Remove: %s", d)
	}
	if len(seen) != 3 {
		t.Errorf("removed hook called: %d calls", len(seen))
	}
}

func near(a, b float32) bool {
	d := a - b
	return d < 1e-5 && d > -1e-5
}

// TestForwardHookOnQuantizer: a hook on a quantized layer's quantizer sees
// the quantized input; NamedQuantizers and the walk do not change.
func TestForwardHookOnQuantizer(t *testing.T) {
	model := must(QuantizeModel(digitsCNN(t, 1), ReplaceOptions{}))
	x := spacedTensor(testRNG(3), 2, 1, 8, 8)
	calibrate(t, model, []*tensor.Tensor{x}, calibrators.MethodMax, calibrators.AmaxOptions{})
	before := must(NamedQuantizers(model))
	in := must(Find(model, "features.0.input_quantizer")).(*TensorQuantizer)
	var got *tensor.Tensor
	h := must(RegisterForwardHook(model, "features.0.input_quantizer", func(_ string, _ Layer, _, y *tensor.Tensor) (*tensor.Tensor, error) {
		got = y
		return nil, nil
	}))
	defer h.Remove()
	must(model.Forward(x))
	if got == nil {
		t.Fatal("hook on the input quantizer not called")
	}
	if d := conformance.DiffFloat32(got.Data, must(in.Forward(x)).Data); d != "" {
		t.Errorf("quantized input: %s", d)
	}
	after := must(NamedQuantizers(model))
	if len(after) != len(before) {
		t.Fatalf("%d quantizers, had %d", len(after), len(before))
	}
	for i := range after {
		if after[i] != before[i] {
			t.Errorf("quantizer %d: %v, had %v", i, after[i], before[i])
		}
	}
}

// TestForwardHookErrors: bad registrations are refused, and a hook's
// error fails the Forward naming the layer.
func TestForwardHookErrors(t *testing.T) {
	model := digitsCNN(t, 1)
	post := func(string, Layer, *tensor.Tensor, *tensor.Tensor) (*tensor.Tensor, error) { return nil, nil }
	for _, tc := range []struct {
		err  error
		want string
	}{
		{second(RegisterForwardHook(model, "features.9", post)), `no layer named "features.9"`},
		{second(RegisterForwardHook(model, "", post)), "a hook on the model itself"},
		{second(RegisterForwardHook(model, "features.0", nil)), "nil hook"},
		{second(RegisterForwardPreHook(model, "features.0", nil)), "nil hook"},
		{second(RegisterForwardHook(NewSequential(valueLayer{s: []int{1}}), "0", post)), "a layer type that can be compared"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("error %v, want %q", tc.err, tc.want)
		}
	}
	boom := errors.New("boom")
	h := must(RegisterForwardPreHook(model, "features.3", func(string, Layer, *tensor.Tensor) (*tensor.Tensor, error) { return nil, boom }))
	_, err := model.Forward(spacedTensor(testRNG(2), 1, 1, 8, 8))
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "layers: features.3 Conv2d(") || !strings.HasSuffix(err.Error(), ": forward pre-hook: boom") {
		t.Errorf("hook error: %v", err)
	}
	h.Remove()
}

// valueLayer is a layer whose type cannot be compared (it holds a slice).
type valueLayer struct{ s []int }

func (valueLayer) Forward(x *tensor.Tensor) (*tensor.Tensor, error)   { return x, nil }
func (valueLayer) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) { return dy, nil }
func (valueLayer) Params() []Param                                    { return nil }
func (valueLayer) Kind() string                                       { return "Value" }
func (valueLayer) String() string                                     { return "Value()" }
