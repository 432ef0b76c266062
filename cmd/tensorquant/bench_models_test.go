package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/internal/testkit/models"
)

// TestBenchModels runs bench models on the Fashion-MNIST CNN of make
// models (two batch sizes, two thread counts, one short round): our
// column is measured everywhere, ONNX Runtime's where node and
// onnxruntime-node are installed, the memory line holds the model's
// weights (its parameters × 4 bytes), its largest activation and the
// budget they make.
func TestBenchModels(t *testing.T) {
	if tqPrefix != nil {
		t.Skip("timing under an emulator: the command's logic is the host's, its figures mean nothing")
	}
	man := models.Open(t)
	mo, err := man.Model("fashion_cnn")
	if err != nil {
		t.Fatal(err)
	}
	ort := filepath.Join(exttool.Dir(t), "ort-npy.js")
	if _, err := exec.LookPath("node"); err != nil {
		ort = ""
	} else if _, err := os.Stat(filepath.Join(exttool.Dir(t), "node_modules", "onnxruntime-node")); err != nil {
		ort = ""
	}
	out, e, code := tq(t, t.TempDir(), "bench", "models", "-dir", man.Dir, "-models", "fashion_cnn,nonexistent", "-batches", "1,3",
		"-threads", "1,2", "-rounds", "1", "-time", "20ms", "-ort", ort, "-torch", "", "-json")
	if code != 0 {
		t.Fatal(e)
	}
	var res benchModelsResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Kernels != kernelFamily() || !strings.HasPrefix(res.Kernels, cpufeat.Selected.String()) {
		t.Errorf("kernels %q, this CPU runs %v", res.Kernels, cpufeat.Selected)
	}
	if len(res.Rows) != 4 {
		t.Fatalf("%d rows, want 4 (1 model × 2 batches × 2 thread counts)", len(res.Rows))
	}
	for _, r := range res.Rows {
		if r.Model != "fashion_cnn" || len(r.Ours) != 1 || r.OursMed <= 0 || (ort != "") != (r.ORTMed > 0) || r.TorchMed != 0 ||
			r.OursBest < r.OursMed || r.ORTBest < r.ORTMed || r.TorchBest != 0 {
			t.Errorf("row %+v", r)
		}
	}
	// -int8 is on by default: the CNN quantized once, a cell per float row.
	if len(res.Quantized) != 1 || res.Quantized[0].Model != "fashion_cnn" || res.Quantized[0].Quantizers == 0 ||
		!strings.HasPrefix(res.Quantized[0].Arithmetic, "int8 in ") {
		t.Errorf("quantized %+v", res.Quantized)
	}
	if len(res.Int8) != len(res.Rows) {
		t.Fatalf("%d int8 cells, want one per float row (%d)", len(res.Int8), len(res.Rows))
	}
	for i, q := range res.Int8 {
		r := res.Rows[i]
		if q.Model != r.Model || q.Batch != r.Batch || q.Threads != r.Threads || len(q.Int8) != 1 || len(q.QDQFloat) != 1 ||
			q.Int8Med <= 0 || q.QDQFloatMed <= 0 || (ort != "") != (q.ORTQDQMed > 0) || q.Int8Best < q.Int8Med {
			t.Errorf("int8 cell %+v for row %+v", q, r)
		}
		if want := q.Int8Med / r.OursMed; q.Int8VsFP32 != want {
			t.Errorf("int8/fp32 %v, want %v", q.Int8VsFP32, want)
		}
		if ort != "" && (q.Int8VsORT != q.Int8Med/max(r.ORTMed, q.ORTQDQMed) || (q.ORTFaster == "qdq") != (q.ORTQDQMed > r.ORTMed)) {
			t.Errorf("int8/ORT %v against %q (ORT fp32 %v, QDQ %v)", q.Int8VsORT, q.ORTFaster, r.ORTMed, q.ORTQDQMed)
		}
	}
	m := res.Memory
	if m == nil || m.Model != "fashion_cnn" {
		t.Fatalf("memory %+v", m)
	}
	in, err := mo.ReadInputs(1)
	if err != nil {
		t.Fatal(err)
	}
	x := in["input"]
	// conv1's output: 16 channels at the input's size.
	if want := int64(4 * 16 * x.Shape[2] * x.Shape[3]); m.MaxActivation != want {
		t.Errorf("largest activation %d bytes, want %d", m.MaxActivation, want)
	}
	if m.Weights <= 0 || m.Budget != m.Weights+2*m.MaxActivation+50<<20 {
		t.Errorf("memory %+v", m)
	}
	if m.PeakRSS < 0 || m.LoadPeakRSS <= 0 {
		t.Errorf("peak RSS %d during runs, %d loading", m.PeakRSS, m.LoadPeakRSS)
	}
}

// TestBenchModelsTable checks the printed table: a row per cell with our
// items/s and "n/a" for the engines not run, the scaling line.
func TestBenchModelsTable(t *testing.T) {
	dir := t.TempDir()
	// A small model of dynamic batch is enough for the table.
	mdir := filepath.Join(dir, "tiny")
	if err := os.MkdirAll(mdir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeModel(t, filepath.Join(mdir, "op17.onnx"), linearModel(t))
	out, e, code := tq(t, dir, "bench", "models", "-dir", dir, "-models", "tiny", "-batches", "2", "-threads", "1,2",
		"-rounds", "2", "-time", "5ms", "-ort", "", "-torch", "", "-mem=false")
	if code != 0 {
		t.Fatal(e)
	}
	for _, want := range []string{"tiny               2       1", "tiny               2       2", "n/a", "scaling tiny", "load average", "fastest single run",
		"int8 items/s (batch / median latency)", "ours int8", "quantized tiny: "} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-dir", dir, "-models", "nope"}, "tensorquant bench: none of the models nope has an op17.onnx in " + dir + " (make models generates them)"},
		{[]string{"-dir", dir, "-batches", "0"}, `tensorquant bench: -batches: "0" is not an integer in [1, 4096]`},
		{[]string{"-dir", dir, "-threads", "x"}, `tensorquant bench: -threads: "x" is not an integer in [1, 1024]`},
		{[]string{"-dir", dir, "-rounds", "0"}, "tensorquant bench: -rounds 0: want at least 1"},
		{[]string{"-dir", dir, "extra"}, `tensorquant bench: unexpected argument "extra" (flags only)`},
	} {
		_, e, code := tq(t, dir, append([]string{"bench", "models"}, c.args...)...)
		if code != 2 || strings.TrimSpace(e) != c.want {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, e, c.want)
		}
	}
}
