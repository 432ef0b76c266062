package graph

// An interim runner of the ONNX backend node tests, until
// internal/testkit/onnxbackend lands on main.

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/onnx"
)

const backendDir = "/usr/share/libonnx-testdata/data"

// backendSkips are node tests of the ops this package implements that
// cannot pass, and why. The test fails if one of them passes.
var backendSkips = func() map[string]string {
	m := map[string]string{}
	add := func(reason string, names ...string) {
		for _, n := range names {
			m["test_"+n] = reason
		}
	}
	add("FLOAT16 and BFLOAT16 are not element types of graph.Tensor",
		"cast_BFLOAT16_to_FLOAT", "cast_DOUBLE_to_FLOAT16", "cast_FLOAT16_to_DOUBLE", "cast_FLOAT16_to_FLOAT",
		"cast_FLOAT_to_BFLOAT16", "cast_FLOAT_to_FLOAT16", "castlike_BFLOAT16_to_FLOAT_expanded",
		"castlike_DOUBLE_to_FLOAT16_expanded", "castlike_FLOAT16_to_DOUBLE_expanded", "castlike_FLOAT16_to_FLOAT_expanded",
		"castlike_FLOAT_to_BFLOAT16_expanded", "castlike_FLOAT_to_FLOAT16_expanded", "max_float16", "min_float16")
	add("STRING is not an element type of graph.Tensor",
		"cast_FLOAT_to_STRING", "cast_STRING_to_FLOAT", "castlike_FLOAT_to_STRING_expanded", "castlike_STRING_to_FLOAT_expanded")
	add("INT16, UINT16, UINT32 and UINT64 are not element types of graph.Tensor",
		"max_int16", "max_uint16", "max_uint32", "max_uint64", "min_int16", "min_uint16", "min_uint32", "min_uint64",
		"pow_types_float32_uint32", "pow_types_float32_uint64")
	add("optional and sequence values are not tensors", "identity_opt", "identity_sequence")
	add("training-mode Dropout draws numpy's random mask; only inference (or ratio 0) is supported",
		"training_dropout", "training_dropout_default", "training_dropout_default_mask", "training_dropout_mask")
	add("training-mode BatchNormalization (batch statistics, running-statistics outputs) is refused: only inference is supported",
		"batchnorm_epsilon_training_mode", "batchnorm_example_training_mode")
	return m
}()

// readTensorPB decodes a serialized TensorProto by wrapping it as the one
// initializer of a model's graph.
func readTensorPB(path string) (*Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	field := func(num int, payload []byte) []byte {
		out := []byte{byte(num<<3 | 2)}
		n := len(payload)
		for n >= 0x80 {
			out = append(out, byte(n)|0x80)
			n >>= 7
		}
		return append(append(out, byte(n)), payload...)
	}
	m, err := onnx.Unmarshal(field(7, field(5, b)))
	if err != nil {
		return nil, err
	}
	return TensorFromONNX(&m.Graph.Initializer[0])
}

func TestONNXBackendLocal(t *testing.T) {
	if _, err := os.Stat(backendDir); err != nil {
		exttool.Missing(t, "the ONNX backend suite (Debian's libonnx-testdata) is not installed: %v", err)
		return
	}
	var dirs []string
	for _, kind := range []string{"node", "pytorch-converted", "pytorch-operator", "simple"} {
		d, err := filepath.Glob(filepath.Join(backendDir, kind, "test_*"))
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d...)
	}
	type tally struct{ pass, fail, skip int }
	byOp := map[string]*tally{}
	unsupported := 0
	for _, dir := range dirs {
		name := filepath.Base(dir)
		kind := filepath.Base(filepath.Dir(dir))
		m, err := onnx.ReadFile(filepath.Join(dir, "model.onnx"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var types []string
		for _, n := range m.Graph.Node {
			if !slices.Contains(types, n.OpType) {
				types = append(types, n.OpType)
			}
		}
		sort.Strings(types)
		if slices.ContainsFunc(types, func(op string) bool { return !slices.Contains(OpTypes(), op) }) {
			unsupported++
			continue
		}
		g, err := Import(m)
		key := strings.Join(types, "+")
		if kind != "node" {
			key = kind + ": " + key
		}
		if byOp[key] == nil {
			byOp[key] = &tally{}
		}
		err = func() error {
			if err != nil {
				return err
			}
			return runBackendCase(g, dir)
		}()
		reason, skipped := backendSkips[name]
		switch {
		case skipped && err == nil:
			t.Errorf("%s passes: remove it from backendSkips (%s)", name, reason)
		case skipped:
			byOp[key].skip++
			t.Logf("skip %s: %s (%v)", name, reason, err)
		case err != nil:
			byOp[key].fail++
			t.Errorf("%s: %v", name, err)
		default:
			byOp[key].pass++
		}
	}
	keys := make([]string, 0, len(byOp))
	for k := range byOp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := byOp[k]
		t.Logf("%-50s pass %3d  fail %2d  skip %2d", k, c.pass, c.fail, c.skip)
	}
	t.Logf("%d tests use an op type not implemented here", unsupported)
}

// runBackendCase runs every data set of a test directory.
func runBackendCase(g *Graph, dir string) error {
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		return fmt.Errorf("no data sets")
	}
	s, err := NewSession(g, Options{})
	if err != nil {
		return err
	}
	for _, set := range sets {
		in := map[string]*Tensor{}
		for i, spec := range g.Inputs {
			x, err := readTensorPB(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)))
			if err != nil {
				return fmt.Errorf("%s input %d: %v", filepath.Base(set), i, err)
			}
			in[spec.Name] = x
		}
		out, err := s.Run(in)
		if err != nil {
			return err
		}
		for i, spec := range g.Outputs {
			want, err := readTensorPB(filepath.Join(set, fmt.Sprintf("output_%d.pb", i)))
			if err != nil {
				return fmt.Errorf("%s output %d: %v", filepath.Base(set), i, err)
			}
			if err := allClose(out[spec.Name], want, 1e-3, 1e-7); err != nil {
				return fmt.Errorf("%s output %q: %v", filepath.Base(set), spec.Name, err)
			}
		}
	}
	return nil
}

// allClose compares got with want as numpy.testing.assert_allclose does.
func allClose(got, want *Tensor, rtol, atol float64) error {
	if got == nil {
		return fmt.Errorf("missing")
	}
	if got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) {
		return fmt.Errorf("got %v, want %v", got, want)
	}
	g, err := asFloat64s(got)
	if err != nil {
		return err
	}
	w, _ := asFloat64s(want)
	for i := range w {
		a, b := g[i], w[i]
		if math.IsNaN(a) && math.IsNaN(b) || a == b {
			continue
		}
		if !(math.Abs(a-b) <= atol+rtol*math.Abs(b)) {
			return fmt.Errorf("element %d is %v, want %v", i, a, b)
		}
	}
	return nil
}

func asFloat64s(x *Tensor) ([]float64, error) {
	if x.DType == onnx.Bool {
		out := make([]float64, len(x.U8))
		for i, v := range x.U8 {
			out[i] = float64(v)
		}
		return out, nil
	}
	return floatsOf(x)
}
