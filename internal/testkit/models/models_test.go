package models

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// writeFake builds a fixture directory with one model "tiny" (opset 13,
// batch 2) in the layout make-models.py writes.
func writeFake(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	manifest := `{"generator_sha256": "abc", "versions": {"torch": "1.13"}, "seconds": 1.5, "models": [
	 {"name": "tiny", "description": "d", "seed": 7, "keeps_batchnorm": true, "opsets": [13], "batches": [2],
	  "inputs": [{"name": "input", "dtype": "float32", "shape": ["batch", 3]}],
	  "outputs": [{"name": "output", "dtype": "float32"}],
	  "max_abs_diff_ort_vs_torch": {"ort-op13": 0.5}}]}`
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(rel string, data ...float32) {
		p := filepath.Join(dir, "tiny", "b2", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		x, err := tensor.FromSlice(data, 2, len(data)/2)
		if err != nil {
			t.Fatal(err)
		}
		if err := npy.WriteFile(p, x); err != nil {
			t.Fatal(err)
		}
	}
	write("input.npy", 1, 2, 3, 4, 5, 6)
	write("torch/output.npy", 10, 20)
	write("ort-op13/output.npy", 11, 21)
	write("ort-op13-noopt/output.npy", 12, 22)
	return dir
}

func TestLoad(t *testing.T) {
	dir := writeFake(t)
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Dir != dir || m.GeneratorSHA256 != "abc" || m.Versions["torch"] != "1.13" || m.Seconds != 1.5 ||
		fmt.Sprint(m.Names()) != "[tiny]" {
		t.Fatalf("manifest %+v", m)
	}
	mo, err := m.Model("tiny")
	if err != nil {
		t.Fatal(err)
	}
	if !mo.KeepsBatchNorm || mo.Seed != 7 || mo.MaxAbsDiffORTvsTorch["ort-op13"] != 0.5 || fmt.Sprint(mo.Inputs[0].Shape) != "[batch 3]" {
		t.Errorf("model %+v", mo)
	}
	if _, err := m.Model("huge"); err == nil || !strings.Contains(err.Error(), "[tiny]") {
		t.Errorf("unknown model: err = %v", err)
	}
	if p, err := mo.Path(13); err != nil || p != filepath.Join(dir, "tiny", "op13.onnx") {
		t.Errorf("Path(13) = %q, %v", p, err)
	}
	if _, err := mo.Path(17); err == nil {
		t.Error("Path(17): no error")
	}
	in, err := mo.ReadInputs(2)
	if err != nil || fmt.Sprint(in["input"].Shape, in["input"].Data) != "[2 3] [1 2 3 4 5 6]" {
		t.Errorf("ReadInputs(2) = %v, %v", in, err)
	}
	for src, want := range map[Source]string{Torch: "[10 20]", ORT(13, true): "[11 21]", ORT(13, false): "[12 22]"} {
		out, err := mo.ReadOutputs(2, src)
		if err != nil || fmt.Sprint(out["output"].Data) != want {
			t.Errorf("ReadOutputs(2, %s) = %v, %v; want %s", src, out, err, want)
		}
	}
	if _, err := mo.ReadOutputs(2, ORT(17, true)); err == nil {
		t.Error("ReadOutputs from opset 17: no error")
	}
	if _, err := mo.ReadInputs(1); err == nil || !strings.Contains(err.Error(), "no batch 1") {
		t.Errorf("ReadInputs(1): err = %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "tiny", "b2", "torch", "output.npy")); err != nil {
		t.Fatal(err)
	}
	if _, err := mo.ReadOutputs(2, Torch); err == nil {
		t.Error("missing output file: no error")
	}
}

func TestLoadMalformed(t *testing.T) {
	if _, err := Load(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty dir: err = %v, want fs.ErrNotExist", err)
	}
	model := func(name, in string) string {
		return fmt.Sprintf(`{"name": %q, "opsets": [13], "batches": [1], "inputs": [{"name": %q}], "outputs": [{"name": "o"}]}`, name, in)
	}
	for _, c := range []struct{ manifest, want string }{
		{`{"models": [`, "unexpected end"},
		{`{"models": [` + model("a", "x") + `,` + model("a", "x") + `]}`, "duplicate"},
		{`{"models": [` + model("../a", "x") + `]}`, "bad name"},
		{`{"models": [` + model("a", "../x") + `]}`, "not a file name"},
		{`{"models": [null]}`, "missing"},
		{`{"models": [{"name": "a", "opsets": [13]}]}`, "lists no"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(c.manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.manifest, err, c.want)
		}
	}
}

func TestDir(t *testing.T) {
	t.Setenv("TQ_MODELS_DIR", "/some/where")
	if d, err := Dir(); err != nil || d != "/some/where" {
		t.Errorf("with TQ_MODELS_DIR: %q, %v", d, err)
	}
	t.Setenv("TQ_MODELS_DIR", "")
	d, err := Dir()
	if err != nil || !strings.HasSuffix(d, filepath.Join("testdata", "models")) {
		t.Errorf("default: %q, %v", d, err)
	}
}

func TestGeneratorHash(t *testing.T) {
	root := t.TempDir()
	for _, f := range Generator {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(filepath.Base(f)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// python3 -c 'import hashlib; h = hashlib.sha256()
	// for s in (b"make-models.py", b"tq_models.py", b"ort-npy.js", b"package-lock.json"): h.update(hashlib.sha256(s).digest())
	// print(h.hexdigest())'
	const want = "ffda4e6d9c697d27c0bedcf8dabcd6a938f5fc0c31daf8f49cf12b2837c45b41"
	if got, err := GeneratorHash(root); err != nil || got != want {
		t.Errorf("GeneratorHash = %s, %v; want %s", got, err, want)
	}
	if err := os.Remove(filepath.Join(root, Generator[1])); err != nil {
		t.Fatal(err)
	}
	if _, err := GeneratorHash(root); err == nil {
		t.Error("missing generator file: no error")
	}
}

func TestClose(t *testing.T) {
	mk := func(v ...float32) *tensor.Tensor {
		x, err := tensor.FromSlice(v, len(v))
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, c := range []struct {
		got, want *tensor.Tensor
		err       string
	}{
		{mk(1, 2, inf, nan), mk(1, 2, inf, nan), ""},
		{mk(1.001, 100.09), mk(1, 100), ""}, // within 1e-5 + 1e-3|want|
		{mk(1.0021, 100.2), mk(1, 100), "2 of 2 values"},
		{mk(0, inf), mk(0, 1e30), "worst at flat index 1"},
		{mk(nan), mk(0), "1 of 1 values"},
		{mk(-inf), mk(inf), "1 of 1 values"},
		{mk(1, 2), mk(1, 2, 3), "shape"},
	} {
		err := Close(c.got, c.want, 1e-3, 1e-5)
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("Close(%v, %v) = %v, want %q", c.got.Data, c.want.Data, err, c.err)
		}
	}
}

// TestFixtures checks the generated fixtures themselves (skipped without
// them, unless TQ_REQUIRE_TOOLS=1): every model, input and output is there
// with the shapes the manifest gives, ONNX Runtime agrees with PyTorch as
// closely as the manifest says, and (without -short) the onnx package
// decodes every file, finds the opset and the input and output names.
func TestFixtures(t *testing.T) {
	m := Open(t)
	want := []string{"resnet18", "resnet18_bn", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
		"encoder", "encoder_prenorm", "fashion_cnn", "fashion_cnn_bn"}
	if fmt.Sprint(m.Names()) != fmt.Sprint(want) {
		t.Fatalf("models %v, want %v", m.Names(), want)
	}
	for _, mo := range m.Models {
		t.Run(mo.Name, func(t *testing.T) {
			maxDiff := map[Source]float64{}
			for _, batch := range mo.Batches {
				in, err := mo.ReadInputs(batch)
				if err != nil {
					t.Fatal(err)
				}
				x := in["input"]
				if len(x.Shape) != len(mo.Inputs[0].Shape) || x.Shape[0] != batch {
					t.Fatalf("batch %d: input shape %v, manifest %v", batch, x.Shape, mo.Inputs[0].Shape)
				}
				ref, err := mo.ReadOutputs(batch, Torch)
				if err != nil {
					t.Fatal(err)
				}
				for _, opset := range mo.Opsets {
					for _, opt := range []bool{true, false} {
						src := ORT(opset, opt)
						got, err := mo.ReadOutputs(batch, src)
						if err != nil {
							t.Fatal(err)
						}
						g, r := got["output"], ref["output"]
						if !tensor.SameShape(g.Shape, r.Shape) || g.Shape[0] != batch {
							t.Fatalf("batch %d, %s: shape %v, torch %v", batch, src, g.Shape, r.Shape)
						}
						for i, v := range g.Data {
							maxDiff[src] = math.Max(maxDiff[src], math.Abs(float64(v)-float64(r.Data[i])))
						}
					}
				}
			}
			// make-models.py computed the same maximum in float64 from the
			// same files: it is exact.
			for src, d := range maxDiff {
				if d != mo.MaxAbsDiffORTvsTorch[string(src)] {
					t.Errorf("%s: max |ORT - torch| %g, manifest %g", src, d, mo.MaxAbsDiffORTvsTorch[string(src)])
				}
			}
			if len(maxDiff) != len(mo.MaxAbsDiffORTvsTorch) {
				t.Errorf("manifest lists %d ORT sources, found %d", len(mo.MaxAbsDiffORTvsTorch), len(maxDiff))
			}
			if testing.Short() {
				return
			}
			for _, opset := range mo.Opsets {
				p, err := mo.Path(opset)
				if err != nil {
					t.Fatal(err)
				}
				om, err := onnx.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				g := om.Graph
				if len(om.OpsetImport) == 0 || om.OpsetImport[0].Version != int64(opset) || g == nil ||
					len(g.Input) == 0 || g.Input[0].Name != "input" || len(g.Output) != 1 || g.Output[0].Name != "output" {
					t.Errorf("%s: opsets %v, graph inputs/outputs not input/output", p, om.OpsetImport)
				}
			}
		})
	}
}

// recorder is a testing.TB whose Skip and Fatal record the message and end
// the goroutine, as the real ones do.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}
func (r *recorder) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recorder) Fatal(args ...any) {
	r.failed = fmt.Sprint(args...)
	runtime.Goexit()
}

func open(tb testing.TB) *recorder {
	r := &recorder{TB: tb}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Open(r)
	}()
	<-done
	return r
}

func TestOpenMissingOrStale(t *testing.T) {
	t.Setenv("TQ_REQUIRE_TOOLS", "")
	t.Setenv("TQ_MODELS_DIR", t.TempDir())
	if r := open(t); !strings.Contains(r.skipped, "not found") || !strings.Contains(r.skipped, "make models") || r.failed != "" {
		t.Errorf("missing: skipped %q, failed %q", r.skipped, r.failed)
	}
	t.Setenv("TQ_MODELS_DIR", writeFake(t))
	if r := open(t); !strings.Contains(r.skipped, "stale") || r.failed != "" {
		t.Errorf("stale: skipped %q, failed %q", r.skipped, r.failed)
	}
	t.Setenv("TQ_REQUIRE_TOOLS", "1")
	if r := open(t); !strings.Contains(r.failed, "TQ_REQUIRE_TOOLS=1: model fixtures in") || r.skipped != "" {
		t.Errorf("stale, required: skipped %q, failed %q", r.skipped, r.failed)
	}
}
