package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/onnx/export"
)

// TestExportTrainsAndWrites: without a checkpoint, export trains,
// calibrates and fine-tunes the demo model and writes the file with the
// options asked for.
func TestExportTrainsAndWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "digits.onnx")
	var out bytes.Buffer
	if err := runExport([]string{"-o", path, "-epochs", "3", "-weights", "int8", "-bias", "int32"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "no checkpoint given: trained the demo's digits CNN, calibrated it (8-bit, max) and fine-tuned it: test accuracy 9") ||
		!strings.Contains(out.String(), "wrote "+path+": opset 13, ") || !strings.Contains(out.String(), "(weights int8, bias int32)") {
		t.Errorf("output:\n%s", out.String())
	}
	m, err := onnx.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]onnx.DataType{}
	for _, init := range m.Graph.Initializer {
		types[init.Name] = init.DataType
	}
	for name, want := range map[string]onnx.DataType{
		"features.0.weight_quantized": onnx.Int8, "features.0.bias_quantized": onnx.Int32,
		"classifier.1.weight_quantized": onnx.Int8, "classifier.1.bias_quantized": onnx.Int32,
	} {
		if types[name] != want {
			t.Errorf("initializer %s: %v, want %v (initializers %v)", name, types[name], want, types)
		}
	}
}

// TestExportCheckpoint: a checkpoint of the demo model exports to the
// same bytes as the model it was saved from.
func TestExportCheckpoint(t *testing.T) {
	dir := t.TempDir()
	d, err := newDemo(demoConfig{epochs: 3, seed: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	model, err := d.deployable()
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "model.tqckpt")
	if err := layers.SaveCheckpoint(ckpt, model); err != nil {
		t.Fatal(err)
	}
	want, err := export.Model(model, export.Options{InputShape: []int{1, 8, 8}, Opset: 17, FoldBatchNorm: true})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "out.onnx")
	var out bytes.Buffer
	if err := runExport([]string{"-o", path, "-opset", "17", "-fold-bn", ckpt}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "loaded "+ckpt+" into the demo's quantized digits CNN\nwrote "+path+": opset 17, ") {
		t.Errorf("output:\n%s", out.String())
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := onnx.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, wb) {
		t.Errorf("export of the checkpoint (%d bytes) differs from the export of the model it came from (%d bytes)", len(got), len(wb))
	}
	bad := filepath.Join(dir, "bad.onnx")
	err = runExport([]string{"-o", bad, "-opset", "9", ckpt}, &out, io.Discard)
	if err == nil || err.Error() != "export: opset 9 is not supported (want 10 to 22)" {
		t.Errorf("-opset 9: error %v", err)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("a failed export left a file: %v", err)
	}
}

// TestExportErrors: bad flags and files are one-line errors.
func TestExportErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-weights", "int4"}, `-weights "int4": want float or int8`},
		{[]string{"-bias", "int8"}, `-bias "int8": want float or int32`},
		{[]string{"a", "b"}, `at most one checkpoint, got ["a" "b"]`},
		{[]string{filepath.Join(dir, "missing.tqckpt")}, "no such file or directory"},
	} {
		var out bytes.Buffer
		err := runExport(c.args, &out, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one containing %q", c.args, err, c.want)
		}
	}
}
