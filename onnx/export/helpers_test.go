package export

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/internal/testkit/qdqtest"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// must returns v, or panics on err (for building test models, where an
// error is a bug in the test).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// randn returns a tensor of the given shape with standard normal values.
func randn(rng *rand.Rand, shape ...int) *tensor.Tensor { return qdqtest.Randn(rng, shape...) }

// randomizeBatchNorms gives every BatchNorm of model random affine
// parameters and running statistics, so that exporting them is tested
// with more than the identity.
func randomizeBatchNorms(t testing.TB, model layers.Layer, rng *rand.Rand) {
	t.Helper()
	err := layers.Walk(model, func(_ string, l layers.Layer) error {
		bn, _ := batchNormOf(l)
		if bn == nil {
			return nil
		}
		for i := range bn.NumFeatures {
			bn.Weight.Data[i] = float32(0.5 + rng.Float64())
			bn.Bias.Data[i] = float32(rng.NormFloat64() * 0.3)
			bn.RunningMean.Data[i] = float32(rng.NormFloat64() * 0.3)
			bn.RunningVar.Data[i] = float32(0.3 + rng.Float64())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// forward runs model in evaluation mode.
func forward(t testing.TB, model layers.Layer, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	if err := layers.SetTraining(model, false); err != nil {
		t.Fatal(err)
	}
	return must(model.Forward(x))
}

// mergeModels puts the graphs of ms (all of one opset) side by side in one
// model, every name prefixed with "m<i>/" except the input of model i,
// which is renamed inputs[i] (models may share one), so that one ONNX
// Runtime process runs them all.
func mergeModels(ms []*onnx.Model, inputs []string) (*onnx.Model, error) {
	out := &onnx.Model{IRVersion: ms[0].IRVersion, ProducerName: "tensorquant-test",
		OpsetImport: ms[0].OpsetImport, Graph: &onnx.Graph{Name: "merged"}}
	g := out.Graph
	for i, m := range ms {
		if m.OpsetImport[0].Version != ms[0].OpsetImport[0].Version || m.IRVersion != ms[0].IRVersion {
			return nil, fmt.Errorf("model %d: opset %v, IR %d differ from model 0's", i, m.OpsetImport, m.IRVersion)
		}
		p := fmt.Sprintf("m%d/", i)
		in := m.Graph.Input[0].Name
		pre := func(s []string) []string {
			r := make([]string, len(s))
			for j, n := range s {
				switch n {
				case "":
				case in:
					r[j] = inputs[i]
				default:
					r[j] = p + n
				}
			}
			return r
		}
		for _, n := range m.Graph.Node {
			n.Name, n.Input, n.Output = p+n.Name, pre(n.Input), pre(n.Output)
			g.Node = append(g.Node, n)
		}
		for _, t := range m.Graph.Initializer {
			t.Name = p + t.Name
			g.Initializer = append(g.Initializer, t)
		}
		if !slices.ContainsFunc(g.Input, func(v onnx.ValueInfo) bool { return v.Name == inputs[i] }) {
			v := m.Graph.Input[0]
			v.Name = inputs[i]
			g.Input = append(g.Input, v)
		}
		for _, list := range []struct{ from, to *[]onnx.ValueInfo }{
			{&m.Graph.Output, &g.Output}, {&m.Graph.ValueInfo, &g.ValueInfo}} {
			for _, v := range *list.from {
				v.Name = p + v.Name
				*list.to = append(*list.to, v)
			}
		}
	}
	return out, nil
}

// ortCase is one exported model and the input to run it on.
type ortCase struct {
	name  string
	model *onnx.Model
	x     *tensor.Tensor
	// levels are the ONNX Runtime optimization levels to run the model
	// at; nil means defaultLevels ("disabled", node by node, and "all",
	// with QDQ fusion, where that is exact).
	levels []string
}

// mergedFile is one file of merged cases (see mergeModels).
type mergedFile struct {
	path   string
	cases  []ortCase
	inputs []string // the input name of each case
	levels []string
}

// defaultLevels returns the optimization levels of a case that sets none:
// node by node, and with every optimization where ONNX Runtime's integer
// kernels sum exactly (exttool.ORTIntegerExact; elsewhere its fused
// kernels of an export with INT32 biases were up to 31 output steps off
// its own node-by-node run).
func defaultLevels() []string {
	if exttool.ORTIntegerExact() {
		return []string{"disabled", "all"}
	}
	return []string{"disabled"}
}

// mergeCases writes the cases, those of one opset and optimization
// levels merged into one model, into files, so that one ONNX Runtime
// process per file and level runs them all.
func mergeCases(t *testing.T, cases []ortCase) []mergedFile {
	t.Helper()
	type key struct {
		opset  int64
		levels string
	}
	groups := map[key][]ortCase{}
	var keys []key
	for _, c := range cases {
		if c.levels == nil {
			c.levels = defaultLevels()
		}
		k := key{c.model.OpsetImport[0].Version, strings.Join(c.levels, ",")}
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], c)
	}
	var files []mergedFile
	dir := t.TempDir()
	for i, k := range keys {
		cs := groups[k]
		ms := make([]*onnx.Model, len(cs))
		names := make([]string, len(cs))
		shared := map[*tensor.Tensor]string{}
		for i, c := range cs {
			ms[i] = c.model
			if _, ok := shared[c.x]; !ok {
				shared[c.x] = fmt.Sprintf("x%d", len(shared))
			}
			names[i] = shared[c.x]
		}
		merged, err := mergeModels(ms, names)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("merged%d_opset%d.onnx", i, k.opset))
		if err := onnx.WriteFile(path, merged); err != nil {
			t.Fatal(err)
		}
		files = append(files, mergedFile{path, cs, names, cs[0].levels})
	}
	return files
}

// ortResult is the output of one case at one optimization level.
type ortResult struct {
	name, level string
	out         exttool.Output
}

// runORT runs every case of files in ONNX Runtime at each of its
// optimization levels and returns the outputs, sorted by name and level.
// With -short it runs nothing (the exports and references are still
// computed) and returns nil.
func runORT(t *testing.T, files []mergedFile) []ortResult {
	t.Helper()
	if testing.Short() {
		t.Log("-short: ONNX Runtime not run")
		return nil
	}
	var res []ortResult
	for _, f := range files {
		inputs := map[string]exttool.Input{}
		for i, c := range f.cases {
			inputs[f.inputs[i]] = exttool.Input{Dims: c.x.Shape, Type: "float32", F32: c.x.Data}
		}
		for _, level := range f.levels {
			out := exttool.RunORT(t, f.path, level, inputs)
			for i, c := range f.cases {
				o, ok := out[fmt.Sprintf("m%d/%s", i, c.model.Graph.Output[0].Name)]
				if !ok {
					t.Fatalf("%s: ORT returned no output", c.name)
				}
				res = append(res, ortResult{c.name, level, o})
			}
		}
	}
	slices.SortFunc(res, func(a, b ortResult) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.level, b.level)
	})
	return res
}

// protoDecode checks with protoc that each merged file uses only the
// schema's fields (--strict) in canonical form (--roundtrip). The merged
// models hold every node, attribute and tensor of the cases, encoded by
// the same encoder.
func protoDecode(t *testing.T, files []mergedFile) {
	t.Helper()
	if testing.Short() {
		return
	}
	pd := exttool.ProtoDecode(t)
	for _, f := range files {
		exttool.Run(t, pd, "--strict", "--roundtrip", f.path)
	}
}

// onnxCheck runs the reference checker on every model of opset 17 or
// less, in one process (not with -short).
func onnxCheck(t *testing.T, models map[string]*onnx.Model) {
	t.Helper()
	if testing.Short() {
		return
	}
	dir := t.TempDir()
	var paths []string
	for name, m := range models {
		if m.OpsetImport[0].Version > 17 {
			continue
		}
		p := filepath.Join(dir, name+".onnx")
		if err := onnx.WriteFile(p, m); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		return
	}
	slices.Sort(paths)
	out := string(exttool.Run(t, exttool.OnnxCheck(t), paths...))
	for _, p := range paths {
		if !strings.Contains(out, "OK "+p+"\n") {
			t.Errorf("onnx-check does not accept %s:\n%s", filepath.Base(p), out)
		}
	}
}

// diffStats compares got with want element by element.
type diffStats struct {
	maxAbs  float64 // largest |got - want|
	maxRel  float64 // largest |got - want| / max(|want|, 1e-3)
	worst   int     // index of maxAbs
	exact   int     // bitwise-equal elements
	n       int
	bad     int // elements beyond the tolerance
	maxWant float64
}

// stepOf returns one quantization step of an 8-bit per-tensor quantizer
// calibrated on y: max|y|/127, the "output scale" of the comparisons.
func stepOf(y []float32) float64 {
	var m float64
	for _, v := range y {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m / 127
}

func compare(got, want []float32, tol func(w float32) float64) diffStats {
	s := diffStats{n: len(want)}
	for i, w := range want {
		g := got[i]
		s.maxWant = math.Max(s.maxWant, math.Abs(float64(w)))
		if math.Float32bits(g) == math.Float32bits(w) || (g != g && w != w) {
			s.exact++
			continue
		}
		d := math.Abs(float64(g) - float64(w))
		if d > s.maxAbs || d != d {
			s.maxAbs, s.worst = d, i
		}
		s.maxRel = math.Max(s.maxRel, d/math.Max(math.Abs(float64(w)), 1e-3))
		if !(d <= tol(w)) {
			s.bad++
		}
	}
	return s
}

// fileSize returns the size of the encoded model.
func fileSize(t testing.TB, m *onnx.Model) int {
	t.Helper()
	b, err := onnx.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

// batchNormOf returns the BatchNorm inside l and the input ranks its kind
// accepts (batch dimension included), or nil.
func batchNormOf(l layers.Layer) (*layers.BatchNorm, []int) {
	switch n := l.(type) {
	case *layers.BatchNorm1d:
		return &n.BatchNorm, []int{2, 3}
	case *layers.BatchNorm2d:
		return &n.BatchNorm, []int{4}
	case *layers.BatchNorm3d:
		return &n.BatchNorm, []int{5}
	}
	return nil, nil
}
