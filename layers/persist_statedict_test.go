package layers

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/tensor"
)

// torchNet builds the model of testdata/statedict/gen.py with its own
// random weights: Sequential(features: Sequential(Conv2d(1, 4, 3,
// padding=1), BatchNorm2d(4), ReLU, MaxPool2d(2)), flatten, classifier:
// Linear(64, 5)).
func torchNet(t *testing.T) Layer {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	conv, err := NewConv2d(1, 4, 3, ConvOptions{Padding: 1}, rng)
	if err != nil {
		t.Fatal(err)
	}
	bn, err := NewBatchNorm2d(4)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := NewMaxPool2d(2, PoolOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := NewLinear(64, 5, true, rng)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewNamedSequential(Named{"features", NewSequential(conv, bn, NewReLU(), pool)},
		Named{"flatten", NewFlatten(1, -1)}, Named{"classifier", fc})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fixture(t *testing.T, name string) *tensor.Tensor {
	t.Helper()
	x, err := npy.ReadFile(filepath.Join("testdata", "statedict", name))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// checkTorchOutput runs the model in eval mode on the fixture's input and
// compares with PyTorch's output.
func checkTorchOutput(t *testing.T, where string, m Layer) {
	t.Helper()
	if err := SetTraining(m, false); err != nil {
		t.Fatal(err)
	}
	y, err := m.Forward(fixture(t, "input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want := fixture(t, "output.npy")
	if !cmp.Equal(y.Shape, want.Shape) {
		t.Fatalf("%s: output shape %v, want %v", where, y.Shape, want.Shape)
	}
	for i := range want.Data {
		if d := math.Abs(float64(y.Data[i] - want.Data[i])); !(d <= 1e-5) {
			t.Errorf("%s: output %d = %v, PyTorch %v (|diff| %.3g > 1e-5)", where, i, y.Data[i], want.Data[i], d)
		}
	}
}

// TestLoadStateDictMatchesTorch: PyTorch's state_dict (np.savez, with
// num_batches_tracked) loads into the same architecture, from the archive
// and from a directory of .npy files, and the forward pass then gives
// PyTorch's output within 1e-5.
func TestLoadStateDictMatchesTorch(t *testing.T) {
	archive := filepath.Join("testdata", "statedict", "model.npz")
	m := torchNet(t)
	if err := LoadStateDict(m, archive); err != nil {
		t.Fatal(err)
	}
	checkTorchOutput(t, "model.npz", m)
	bn, _ := Find(m, "features.1")
	if rm := bn.(Stateful).State()[0].Tensor.Data; rm[0] == 0 {
		t.Errorf("running_mean not loaded: %v", rm)
	}

	arrays, err := npy.ReadNPZFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, a := range arrays {
		if err := npy.WriteArrayFile(filepath.Join(dir, name+".npy"), a); err != nil {
			t.Fatal(err)
		}
	}
	m = torchNet(t)
	if err := LoadStateDict(m, dir); err != nil {
		t.Fatal(err)
	}
	checkTorchOutput(t, "directory", m)
}

// TestSetStateDictStrict: missing, unknown and misshapen names are all
// listed in one error, and the model keeps its weights.
func TestSetStateDictStrict(t *testing.T) {
	arrays, err := npy.ReadNPZFile(filepath.Join("testdata", "statedict", "model.npz"))
	if err != nil {
		t.Fatal(err)
	}
	m := torchNet(t)
	before, err := Capture(m)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]*npy.Array{}
	for k, v := range arrays {
		bad[k] = v
	}
	delete(bad, "features.0.bias")
	delete(bad, "features.1.running_var")
	bad["features.9.weight"] = arrays["features.0.bias"]
	bad["classifier.bias"] = arrays["features.0.bias"]
	err = SetStateDict(m, bad)
	want := "layers: state dict does not fit the model: missing 2 (features.0.bias, features.1.running_var); " +
		"unknown 1 (features.9.weight); shape 1 (classifier.bias [4], the model's [5])"
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
	checkUnchanged(t, m, before)

	for _, tc := range []struct {
		key   string
		value *npy.Array
		msg   string
	}{
		{"features.1.num_batches_tracked", mustArray(t, []float32{3}), `"features.1.num_batches_tracked" must be one integer (float32 [])`},
		{"features.1.num_batches_tracked", mustArray(t, []int64{3, 4}, 2), `must be one integer (int64 [2])`},
		{"features.0.weight", &npy.Array{DType: npy.Float32, Shape: []int{4, 1, 3, 3}}, `"features.0.weight": npy: shape [4 1 3 3] of float32 needs 144 bytes, the array holds 0`},
	} {
		bad := map[string]*npy.Array{}
		for k, v := range arrays {
			bad[k] = v
		}
		bad[tc.key] = tc.value
		if err := SetStateDict(m, bad); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %q", tc.key, err, tc.msg)
		}
	}
	checkUnchanged(t, m, before)

	// Many missing names are counted, the first ten listed.
	err = SetStateDict(m, map[string]*npy.Array{})
	if err == nil || !strings.Contains(err.Error(), "missing 8 (features.0.weight, features.0.bias, features.1.weight,") {
		t.Errorf("empty state dict: %v", err)
	}
	if err := LoadStateDict(m, filepath.Join("testdata", "statedict", "input.npy")); err == nil || !strings.Contains(err.Error(), "not a .npz archive") {
		t.Errorf("a .npy file as an archive: %v", err)
	}
}

func mustArray[T npy.Element](t *testing.T, v []T, shape ...int) *npy.Array {
	t.Helper()
	a, err := npy.New(v, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func checkUnchanged(t *testing.T, m Layer, before *Checkpoint) {
	t.Helper()
	after, err := Capture(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Entries) != len(before.Entries) {
		t.Fatalf("%d entries after, %d before", len(after.Entries), len(before.Entries))
	}
	for i, e := range before.Entries {
		a := after.Entries[i]
		if a.Name != e.Name || !cmp.Equal(a.Tensor.Shape, e.Tensor.Shape) || !cmp.Equal(a.Tensor.Data, e.Tensor.Data) {
			t.Errorf("%s changed by a failed load", e.Name)
		}
	}
}

// TestSetStateDictQuantizers: a quantized model takes PyTorch's float
// state_dict plus the quantizers' amax, in the model's spelling or in
// pytorch_quantization's; a failed load leaves the quantizers dynamic.
func TestSetStateDictQuantizers(t *testing.T) {
	arrays, err := npy.ReadNPZFile(filepath.Join("testdata", "statedict", "model.npz"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := QuantizeModel(torchNet(t), ReplaceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	with := func(extra map[string]*npy.Array) map[string]*npy.Array {
		out := map[string]*npy.Array{}
		for k, v := range arrays {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	amaxes := map[string]*npy.Array{
		"features.0.input_quantizer.amax":    mustArray(t, []float32{2.5}),
		"features.0._weight_quantizer._amax": mustArray(t, []float32{0.25, 0.5, 0.75, 1}, 4, 1, 1, 1),
		"classifier._input_quantizer._amax":  mustArray(t, []float32{4}),
	}
	// A negative amax is refused after the weights were checked: nothing
	// is kept.
	bad := with(amaxes)
	bad["classifier.weight_quantizer.amax"] = mustArray(t, []float32{-1})
	before, _ := Capture(q)
	if err := SetStateDict(q, bad); err == nil || !strings.Contains(err.Error(), "negative") {
		t.Fatalf("negative amax: %v", err)
	}
	checkUnchanged(t, q, before)
	if err := SetStateDict(q, with(map[string]*npy.Array{
		"features.0.input_quantizer.amax":   amaxes["features.0.input_quantizer.amax"],
		"features.0._input_quantizer._amax": amaxes["features.0.input_quantizer.amax"],
	})); err == nil || !strings.Contains(err.Error(), `both name "features.0.input_quantizer.amax"`) {
		t.Errorf("two spellings of one name: %v", err)
	}

	if err := SetStateDict(q, with(amaxes)); err != nil {
		t.Fatal(err)
	}
	qs, err := NamedQuantizers(q)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]float32{}
	for _, nq := range qs {
		if a := nq.Quantizer.Amax(); a != nil {
			got[nq.Name] = a.Data
		}
	}
	want := map[string][]float32{
		"features.0.input_quantizer":  {2.5},
		"features.0.weight_quantizer": {0.25, 0.5, 0.75, 1},
		"classifier.input_quantizer":  {4},
	}
	if !cmp.Equal(got, want) {
		t.Errorf("amax %v, want %v", got, want)
	}
	// Once set, an amax is a buffer of the model that must be present.
	if err := SetStateDict(q, arrays); err == nil || !strings.Contains(err.Error(), "missing 3 (features.0.input_quantizer.amax, features.0.weight_quantizer.amax, classifier.input_quantizer.amax)") {
		t.Errorf("state dict without the amax buffers: %v", err)
	}
}
