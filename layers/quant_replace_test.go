package layers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/tensor"
)

// kindsOf returns "name:Kind" for every layer of the model.
func kindsOf(t *testing.T, m Layer) string {
	t.Helper()
	var out []string
	for _, n := range must(NamedLayers(m)) {
		out = append(out, n.Name+":"+n.Layer.Kind())
	}
	return strings.Join(out, " ")
}

func TestQuantizeModel(t *testing.T) {
	float := digitsCNN(t, 1)
	params := must(NamedParams(float))
	x := spacedTensor(testRNG(2), 3, 1, 8, 8)
	m, err := QuantizeModel(float, ReplaceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := ":Sequential features:Sequential features.0:QuantConv2d features.0.input_quantizer:TensorQuantizer " +
		"features.0.weight_quantizer:TensorQuantizer features.1:ReLU features.2:MaxPool2d features.3:QuantConv2d " +
		"features.3.input_quantizer:TensorQuantizer features.3.weight_quantizer:TensorQuantizer features.4:ReLU " +
		"features.5:MaxPool2d classifier:Sequential classifier.0:Flatten classifier.1:QuantLinear " +
		"classifier.1.input_quantizer:TensorQuantizer classifier.1.weight_quantizer:TensorQuantizer"
	if got := kindsOf(t, m); got != want {
		t.Errorf("layers\n%s\nwant\n%s", got, want)
	}
	after := must(NamedParams(m))
	if len(after) != len(params) {
		t.Fatalf("%d params, had %d", len(after), len(params))
	}
	for i := range params {
		if after[i].Name != params[i].Name || after[i].Value != params[i].Value {
			t.Errorf("param %s not kept", params[i].Name)
		}
	}
	// A second replacement changes nothing; quantized layers are kept.
	again := must(QuantizeModel(m, ReplaceOptions{Include: []string{"MaxPool2d"}}))
	if !strings.Contains(kindsOf(t, again), "features.2:QuantMaxPool2d") || !strings.Contains(kindsOf(t, again), "features.0:QuantConv2d ") {
		t.Errorf("include max pooling: %s", kindsOf(t, again))
	}
	if _, err := m.Forward(x); err != nil {
		t.Fatal(err)
	}

	// Options: skip Linear, histogram inputs, 4-bit conv weights.
	hist := QuantDesc8BitPerTensor()
	hist.CalibMethod = "histogram"
	four := QuantDesc8BitConv2dWeightPerChannel()
	four.NumBits = 4
	m2 := must(QuantizeModel(digitsCNN(t, 1), ReplaceOptions{Skip: []string{"Linear"}, Input: &hist,
		Descs: map[string]QuantDescs{"Conv2d": {Weight: &four}}}))
	if strings.Contains(kindsOf(t, m2), "QuantLinear") {
		t.Error("Linear not skipped")
	}
	for _, q := range must(NamedQuantizers(m2)) {
		d := q.Quantizer.Descriptor()
		switch {
		case strings.HasSuffix(q.Name, "input_quantizer") && d.Method() != "histogram":
			t.Errorf("%s: %v", q.Name, d)
		case strings.HasSuffix(q.Name, "weight_quantizer") && (d.NumBits != 4 || d.Axis[0] != 0):
			t.Errorf("%s: %v", q.Name, d)
		}
	}

	// The model itself quantizable: returned quantized.
	root := must(QuantizeModel(must(NewLinear(3, 2, true, testRNG(1))), ReplaceOptions{}))
	if root.Kind() != "QuantLinear" {
		t.Errorf("root %s", root.Kind())
	}

	for _, tc := range []struct {
		o    ReplaceOptions
		want string
	}{
		{ReplaceOptions{Skip: []string{"LSTM"}}, `cannot skip "LSTM"`},
		{ReplaceOptions{Include: []string{"ReLU"}}, `cannot include "ReLU"`},
		{ReplaceOptions{Input: &QuantDescriptor{NumBits: 8}}, "features.0: layers: QuantConv2d"},
	} {
		fresh := digitsCNN(t, 1)
		before := kindsOf(t, fresh)
		if _, err := QuantizeModel(fresh, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.o, err, tc.want)
		}
		if kindsOf(t, fresh) != before {
			t.Error("a failed replacement changed the model")
		}
	}
	fixed := &fixedParent{kids: []Named{{"fc", must(NewLinear(2, 2, true, testRNG(1)))}}}
	if _, err := QuantizeModel(NewSequential(fixed), ReplaceOptions{}); err == nil || !strings.Contains(err.Error(), "0.fc: cannot replace Linear(") {
		t.Errorf("non-Container parent: %v", err)
	}
	if _, err := QuantizeModel(nil, ReplaceOptions{}); err == nil {
		t.Error("nil model accepted")
	}
}

// fixedParent has children it cannot replace.
type fixedParent struct {
	ReLU
	kids []Named
}

func (f *fixedParent) Children() []Named { return f.kids }

// TestCheckpointQuantized saves a calibrated quantized model (with a
// learn_amax quantizer in it) and loads it into a fresh, uncalibrated
// copy: the dynamic quantizers become static and the outputs are the same
// bits.
func TestCheckpointQuantized(t *testing.T) {
	build := func(seed uint64) Layer {
		m := must(QuantizeModel(digitsCNN(t, seed), ReplaceOptions{}))
		learn := QuantDesc8BitPerTensor()
		learn.LearnAmax = true
		seq := m.(*Sequential)
		seq.Layers = append(seq.Layers, must(NewTensorQuantizer(learn)))
		seq.Names = append(seq.Names, "logits_quantizer")
		return m
	}
	a := build(1)
	calibrate(t, a, []*tensor.Tensor{spacedTensor(testRNG(1), 8, 1, 8, 8), randTensor(testRNG(2), 8, 1, 8, 8)}, "max", calibrators.AmaxOptions{})
	lq := must(Find(a, "logits_quantizer")).(*TensorQuantizer)
	lq.Params()[1].Value.Data[0] = 3.5
	path := filepath.Join(t.TempDir(), "q.tqckpt")
	if err := SaveCheckpoint(path, a); err != nil {
		t.Fatal(err)
	}
	b := build(2)
	for _, q := range must(NamedQuantizers(b)) {
		if q.Quantizer.Amax() != nil && q.Name != "logits_quantizer" {
			t.Fatalf("%s already static", q.Name)
		}
	}
	if err := LoadCheckpoint(path, b); err != nil {
		t.Fatal(err)
	}
	x := randTensor(testRNG(3), 5, 1, 8, 8)
	ya, yb := must(a.Forward(x)), must(b.Forward(x))
	if d := conformance.DiffFloat32(yb.Data, ya.Data); d != "" {
		t.Fatalf("outputs after loading: %s", d)
	}
	qa, qb := must(NamedQuantizers(a)), must(NamedQuantizers(b))
	for i := range qa {
		if qa[i].Name == "logits_quantizer" {
			if qb[i].Quantizer.Amax().Data[0] != 3.5 {
				t.Errorf("learned amax %v", qb[i].Quantizer.Amax())
			}
			continue
		}
		if d := conformance.DiffFloat32(qb[i].Quantizer.Amax().Data, qa[i].Quantizer.Amax().Data); d != "" {
			t.Errorf("%s amax: %s", qa[i].Name, d)
		}
	}
	// A checkpoint whose amax has another shape is refused.
	ck := must(Capture(a))
	for i, e := range ck.Entries {
		if e.Name == "features.0.weight_quantizer.amax" {
			ck.Entries[i].Tensor = tensor.Scalar(1)
		}
	}
	if err := ck.Restore(b); err == nil || !strings.Contains(err.Error(), "features.0.weight_quantizer.amax") {
		t.Errorf("amax of another shape: %v", err)
	}
	// ... and a failed load into a dynamic model leaves it dynamic and
	// unchanged, although the quantizers before the bad entry had been set.
	ck = must(Capture(a))
	for i, e := range ck.Entries {
		if e.Name == "classifier.1.input_quantizer.amax" {
			ck.Entries[i].Tensor = tensor.Scalar(-1)
		}
	}
	c := build(3)
	pc := must(Capture(c))
	err := ck.Restore(c)
	if err == nil || !strings.Contains(err.Error(), "classifier.1.input_quantizer.amax") || strings.Contains(err.Error(), "restoring the model") {
		t.Fatalf("failed load: %v", err)
	}
	for _, q := range must(NamedQuantizers(c)) {
		if q.Quantizer.Amax() != nil && q.Name != "logits_quantizer" {
			t.Errorf("%s left static", q.Name)
		}
	}
	pc2 := must(Capture(c))
	for i, e := range pc.Entries {
		if d := conformance.DiffFloat32(pc2.Entries[i].Tensor.Data, e.Tensor.Data); d != "" {
			t.Errorf("%s changed: %s", e.Name, d)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// TestDefaultQuantMap compares the default replacement kinds with
// quant_modules.json's default_quant_map (without the LSTMs).
func TestDefaultQuantMap(t *testing.T) {
	var file struct {
		Map []struct {
			ModName    string `json:"mod_name"`
			ReplaceMod string `json:"replace_mod"`
		} `json:"default_quant_map"`
	}
	if err := conformance.Load("quant_modules.json", &file); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range file.Map {
		if e.ModName == "LSTM" || e.ModName == "LSTMCell" {
			continue
		}
		if e.ReplaceMod != "Quant"+e.ModName {
			t.Errorf("%s -> %s", e.ModName, e.ReplaceMod)
		}
		if typeOfKind(strings.TrimPrefix(e.ReplaceMod, "Quant")) == nil {
			t.Errorf("no quantized layer type %q", e.ReplaceMod)
		}
		want = append(want, e.ModName)
	}
	got := DefaultQuantMap()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("DefaultQuantMap() = %v, want %v", got, want)
	}
	got[0] = "x"
	if DefaultQuantMap()[0] != "Conv1d" {
		t.Error("DefaultQuantMap shares its slice")
	}
}
