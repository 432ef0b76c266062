// Package models gives tests the reference models that scripts/make-models.py
// generates (`make models`): torchvision resnet18, mobilenet_v2,
// mobilenet_v3_small and efficientnet_b0, two nn.TransformerEncoder (post- and
// pre-norm), the Fashion-MNIST CNN, and exports of resnet18 and the CNN that
// keep their BatchNormalization nodes — each at opsets 13 and 17, with seeded
// inputs at batch 1 and 4 and the outputs PyTorch 1.13 and ONNX Runtime 1.30
// computed from them.
//
// The fixtures live in a git-ignored cache directory, $TQ_MODELS_DIR or
// testdata/models at the repository root:
//
//	manifest.json                         the models, their inputs and outputs, versions, generator hash
//	<model>/op<opset>.onnx                the model (input "input", output "output", dynamic batch)
//	<model>/b<batch>/<input>.npy          the seeded input
//	<model>/b<batch>/torch/<output>.npy   PyTorch's output
//	<model>/b<batch>/ort-op<opset>/<output>.npy        ONNX Runtime, optimisation "all", 1 thread
//	<model>/b<batch>/ort-op<opset>-noopt/<output>.npy  ONNX Runtime, optimisation disabled
//
// Open skips a test when the fixtures are missing or were made by another
// version of the generator, unless TQ_REQUIRE_TOOLS=1 (make test), which
// turns that into a failure, as internal/testkit/exttool does for the
// external tools.
//
// It is a test helper: only _test.go files import it.
package models

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/internal/testkit/onnxbackend"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/tensor"
)

// Generator lists the files (relative to the repository root) whose
// SHA-256 keys the fixtures (the scripts, and the package lock that pins
// ONNX Runtime): make-models.py writes the same hash into the manifest and
// regenerates when it changes.
var Generator = []string{"scripts/make-models.py", "scripts/tq_models.py", "tools/onnxcheck/ort-npy.js", "tools/onnxcheck/package-lock.json"}

// Manifest is the decoded manifest.json of a fixture directory.
type Manifest struct {
	Dir             string            `json:"-"` // the directory it was read from
	GeneratorSHA256 string            `json:"generator_sha256"`
	Versions        map[string]string `json:"versions"` // torch, torchvision, numpy, onnxruntime_node
	Seconds         float64           `json:"seconds"`  // how long the generation took
	Models          []*Model          `json:"models"`
}

// Model is one reference model of the manifest.
type Model struct {
	Name           string `json:"name"`
	Description    string `json:"description"`
	Seed           int64  `json:"seed"`
	KeepsBatchNorm bool   `json:"keeps_batchnorm"` // exported with BatchNormalization nodes
	Opsets         []int  `json:"opsets"`
	Batches        []int  `json:"batches"`
	Inputs         []IO   `json:"inputs"`
	Outputs        []IO   `json:"outputs"`
	// MaxAbsDiffORTvsTorch is, per ONNX Runtime source ("ort-op13", ...),
	// the largest |ORT - PyTorch| over both batches.
	MaxAbsDiffORTvsTorch map[string]float64 `json:"max_abs_diff_ort_vs_torch"`

	dir string
}

// IO is a graph input or output: its name, NumPy dtype and, for inputs,
// its shape, with the string "batch" for the dynamic axis.
type IO struct {
	Name  string `json:"name"`
	Dtype string `json:"dtype"`
	Shape []any  `json:"shape,omitempty"`
}

// Source names a set of expected outputs: Torch, or ORT(opset, optimized).
type Source string

// Torch is PyTorch's output, the same for every opset.
const Torch Source = "torch"

// ORT is ONNX Runtime's output on the opset's file, with graph optimisation
// "all" (optimized) or "disabled" (the graph node by node), on one thread.
func ORT(opset int, optimized bool) Source {
	s := "ort-op" + strconv.Itoa(opset)
	if !optimized {
		s += "-noopt"
	}
	return Source(s)
}

// Dir returns the fixture directory: $TQ_MODELS_DIR if set, else
// testdata/models at the repository root.
func Dir() (string, error) {
	if d := os.Getenv("TQ_MODELS_DIR"); d != "" {
		return d, nil
	}
	root, err := conformance.Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "testdata", "models"), nil
}

// Emulated reports whether the tests run under an emulator: the
// Makefile's arm64 target (qemu user emulation, 20-30 times slower than
// the host) sets TQ_EMULATED=1. The whole-model tests then run their
// smallest model only: what differs on the emulated architecture is its
// kernels, which the kernel packages' tests check on every length and the
// smallest model checks end to end; the larger models only add time.
func Emulated() bool { return os.Getenv("TQ_EMULATED") == "1" }

// Load reads and checks dir/manifest.json. It returns an error wrapping
// fs.ErrNotExist when there is no manifest, and an error naming the
// problem for a malformed one (bad JSON, a model without opsets, batches,
// inputs or outputs, a name that is not a plain file name, a duplicate).
func Load(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("models: %w", err)
	}
	m := &Manifest{Dir: dir}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("models: %s/manifest.json: %w", dir, err)
	}
	seen := map[string]bool{}
	for i, mo := range m.Models {
		if mo == nil || !plainName(mo.Name) || seen[mo.Name] {
			return nil, fmt.Errorf("models: %s/manifest.json: model %d: missing, duplicate or bad name", dir, i)
		}
		seen[mo.Name] = true
		if len(mo.Opsets) == 0 || len(mo.Batches) == 0 || len(mo.Inputs) == 0 || len(mo.Outputs) == 0 {
			return nil, fmt.Errorf("models: %s/manifest.json: model %q lists no opsets, batches, inputs or outputs", dir, mo.Name)
		}
		for _, io := range append(slices.Clone(mo.Inputs), mo.Outputs...) {
			if !plainName(io.Name) {
				return nil, fmt.Errorf("models: %s/manifest.json: model %q: value name %q is not a file name", dir, mo.Name, io.Name)
			}
		}
		mo.dir = filepath.Join(dir, mo.Name)
	}
	return m, nil
}

func plainName(s string) bool {
	return s != "" && s != "." && s != ".." && filepath.Base(s) == s && !filepath.IsAbs(s)
}

// GeneratorHash returns the hash that make-models.py writes for the
// generator files under root: SHA-256 over the SHA-256 digests of the
// Generator files in order.
func GeneratorHash(root string) (string, error) {
	h := sha256.New()
	for _, f := range Generator {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			return "", fmt.Errorf("models: %w", err)
		}
		d := sha256.Sum256(b)
		h.Write(d[:])
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// Open returns the fixtures for a test. When they are missing or stale
// (generated by other versions of the Generator files) it skips t, or fails
// it under TQ_REQUIRE_TOOLS=1, saying to run `make models`.
func Open(t testing.TB) *Manifest {
	t.Helper()
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if errors.Is(err, fs.ErrNotExist) {
		missing(t, "model fixtures not found in %s", dir)
	} else if err != nil {
		t.Fatal(err)
	}
	root, err := conformance.Root()
	if err != nil {
		t.Fatal(err)
	}
	want, err := GeneratorHash(root)
	if err != nil {
		t.Fatal(err)
	}
	if m.GeneratorSHA256 != want {
		missing(t, "model fixtures in %s are stale (generator %.12s, scripts %.12s)", dir, m.GeneratorSHA256, want)
	}
	return m
}

func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (make models generates them)"
	if exttool.Required() {
		t.Fatal("TQ_REQUIRE_TOOLS=1: " + msg)
	}
	t.Skip(msg)
}

// Names returns the model names in manifest order.
func (m *Manifest) Names() []string {
	names := make([]string, len(m.Models))
	for i, mo := range m.Models {
		names[i] = mo.Name
	}
	return names
}

// Model returns the model called name, or an error listing the names.
func (m *Manifest) Model(name string) (*Model, error) {
	for _, mo := range m.Models {
		if mo.Name == name {
			return mo, nil
		}
	}
	return nil, fmt.Errorf("models: no model %q in %s (models: %v)", name, m.Dir, m.Names())
}

// Path returns the ONNX file of the model at opset, or an error if the
// model was not exported at that opset.
func (mo *Model) Path(opset int) (string, error) {
	if !slices.Contains(mo.Opsets, opset) {
		return "", fmt.Errorf("models: %s: no opset %d (opsets %v)", mo.Name, opset, mo.Opsets)
	}
	return filepath.Join(mo.dir, "op"+strconv.Itoa(opset)+".onnx"), nil
}

// TestBatches returns the batches a test runs the model at: all of
// them, or under -short the first.
func (mo *Model) TestBatches() []int {
	if testing.Short() {
		return mo.Batches[:1]
	}
	return mo.Batches
}

// ReadInputs reads the seeded inputs at batch, keyed by graph input name.
func (mo *Model) ReadInputs(batch int) (map[string]*tensor.Tensor, error) {
	dir, err := mo.batchDir(batch)
	if err != nil {
		return nil, err
	}
	return readAll(dir, mo.Inputs)
}

// ReadOutputs reads the expected outputs at batch from src (Torch or ORT(...)),
// keyed by graph output name. It returns an error for a batch or an ORT
// opset the model lacks, and the npy package's errors.
func (mo *Model) ReadOutputs(batch int, src Source) (map[string]*tensor.Tensor, error) {
	dir, err := mo.batchDir(batch)
	if err != nil {
		return nil, err
	}
	if src != Torch && !slices.ContainsFunc(mo.Opsets, func(o int) bool { return src == ORT(o, true) || src == ORT(o, false) }) {
		return nil, fmt.Errorf("models: %s: no outputs from %q (opsets %v)", mo.Name, src, mo.Opsets)
	}
	return readAll(filepath.Join(dir, string(src)), mo.Outputs)
}

func (mo *Model) batchDir(batch int) (string, error) {
	if !slices.Contains(mo.Batches, batch) {
		return "", fmt.Errorf("models: %s: no batch %d (batches %v)", mo.Name, batch, mo.Batches)
	}
	return filepath.Join(mo.dir, "b"+strconv.Itoa(batch)), nil
}

func readAll(dir string, ios []IO) (map[string]*tensor.Tensor, error) {
	out := make(map[string]*tensor.Tensor, len(ios))
	for _, io := range ios {
		x, err := npy.ReadFile(filepath.Join(dir, io.Name+".npy"))
		if err != nil {
			return nil, err
		}
		out[io.Name] = x
	}
	return out, nil
}

// Close reports whether got equals want within |got - want| <= atol +
// rtol*|want| elementwise (numpy.allclose: NaN equals NaN, an infinity
// only itself; onnxbackend.AllClose), with the same shape. The error names
// the number of elements out of tolerance and the worst one.
func Close(got, want *tensor.Tensor, rtol, atol float64) error {
	if !tensor.SameShape(got.Shape, want.Shape) || len(got.Data) != len(want.Data) {
		return fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	return onnxbackend.AllClose(float64s(got.Data), float64s(want.Data), rtol, atol)
}

func float64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}
