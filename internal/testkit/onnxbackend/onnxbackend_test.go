package onnxbackend

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// fake is a trivial executor: it runs graphs of Identity and Relu nodes
// (Relu on FLOAT only) and declines everything else with ErrUnsupported.
// relu computes the Relu; broken variants replace it.
func fake(relu func(float32) float32) Executor {
	return func(model []byte, inputs []*onnx.Tensor) ([]*onnx.Tensor, error) {
		m, err := onnx.Unmarshal(model)
		if err != nil {
			return nil, err
		}
		env := map[string]*onnx.Tensor{}
		for _, in := range inputs {
			env[in.Name] = in
		}
		for _, n := range m.Graph.Node {
			if (n.OpType != "Identity" && n.OpType != "Relu") || n.Domain != "" {
				return nil, fmt.Errorf("%w: op %s", ErrUnsupported, n.OpType)
			}
			x := env[n.Input[0]]
			if x == nil {
				return nil, fmt.Errorf("node %q: no value %q", n.Name, n.Input[0])
			}
			switch n.OpType {
			case "Identity":
				env[n.Output[0]] = x
			case "Relu":
				v, err := onnx.TensorValues[float32](x)
				if err != nil {
					return nil, fmt.Errorf("%w: Relu of %v", ErrUnsupported, x.DataType)
				}
				for i := range v {
					v[i] = relu(v[i])
				}
				y, err := onnx.NewTensor(n.Output[0], x.Dims, v)
				if err != nil {
					return nil, err
				}
				env[n.Output[0]] = &y
			}
		}
		out := make([]*onnx.Tensor, len(m.Graph.Output))
		for i, o := range m.Graph.Output {
			out[i] = env[o.Name]
		}
		return out, nil
	}
}

func relu(x float32) float32 {
	if x < 0 {
		return 0
	}
	return x // NaN stays NaN, -0 stays -0 (ONNX: max(0, x) keeps the input's zero)
}

// outcomes returns "kind/name:status" for every result.
func outcomes(r *Report) []string {
	var out []string
	for _, res := range r.Results {
		out = append(out, res.Case.Kind+"/"+res.Case.Name+":"+res.Status.String())
	}
	return out
}

// The miniature suite in testdata/data (written by testdata/make.py with
// python3-onnx) pins the harness: numeric file order (input_10 after
// input_9), every element type, the tolerance on both sides of its edge,
// sequence values, unsupported ops, two kind directories.
func TestRunMiniSuite(t *testing.T) {
	cases, err := List(filepath.Join("testdata", "data"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) != 6 || len(cases[4].DataSets) != 2 || cases[0].RTol != 1e-3 || cases[0].ATol != 1e-7 {
		t.Fatalf("cases %+v", cases)
	}
	r := Run(cases, fake(relu))
	want := []string{
		"node/test_identity_sequence:skipped",
		"node/test_identity_types:passed",
		"node/test_relu_far:failed",
		"node/test_relu_near:passed",
		"node/test_relu_ok:passed",
		"simple/test_add_relu:unsupported",
	}
	if got := outcomes(r); !slices.Equal(got, want) {
		t.Errorf("outcomes:\n%v\nwant\n%v", got, want)
	}
	if d := r.Results[2].Detail; !strings.Contains(d, "1 of 12 values differ") || !strings.Contains(d, "flat index 4") {
		t.Errorf("test_relu_far detail: %s", d)
	}
	if r.Totals != (Counts{Passed: 3, Failed: 1, Unsupported: 1, Skipped: 1}) {
		t.Errorf("totals %+v", r.Totals)
	}
	if c := r.ByOp["Relu"]; c == nil || *c != (Counts{Passed: 2, Failed: 1, Unsupported: 1}) {
		t.Errorf("Relu counts %+v", c)
	}
	if c := r.ByOp["Add"]; c == nil || *c != (Counts{Unsupported: 1}) {
		t.Errorf("Add counts %+v", c)
	}
	var sb strings.Builder
	if err := r.WriteTable(&sb); err != nil {
		t.Fatal(err)
	}
	table := sb.String()
	for _, line := range []string{
		"op type                                   passed  failed unsupported skipped",
		"Add                                            0       0           1       0",
		"Identity                                       1       0           0       1",
		"Relu                                           2       1           1       0",
		"all 6 cases                                    3       1           1       1",
	} {
		if !strings.Contains(table, line+"\n") {
			t.Errorf("table lacks %q:\n%s", line, table)
		}
	}
}

// Expect turns a known failure into a skip with its reason, and reports
// every entry whose case did not fail: passed, skipped by the harness,
// declined by the executor, absent.
func TestExpect(t *testing.T) {
	cases, err := List(filepath.Join("testdata", "data"))
	if err != nil {
		t.Fatal(err)
	}
	r := Run(cases, fake(relu))
	errs := r.Expect(Known{
		"test_relu_far":          "far",
		"test_relu_ok":           "ok",
		"test_identity_sequence": "sequence",
		"test_add_relu":          "add",
		"test_nope":              "nope",
	})
	var got []string
	for _, err := range errs {
		got = append(got, err.Error())
	}
	want := []string{
		"test_add_relu is a known failure (add) but is unsupported: remove it",
		"test_identity_sequence is a known failure (sequence) but is skipped: remove it",
		"test_nope is a known failure (nope) but no such case ran: remove it",
		"test_relu_ok is a known failure (ok) but passes: remove it",
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%q\nwant\n%q", got, want)
	}
	if res := r.Results[2]; res.Status != Skipped || !strings.HasPrefix(res.Detail, "known failure: far (test_data_set_0: output 0") {
		t.Errorf("test_relu_far: %v %s", res.Status, res.Detail)
	}
	if r.Totals != (Counts{Passed: 3, Unsupported: 1, Skipped: 2}) {
		t.Errorf("totals %+v", r.Totals)
	}
	if c := r.ByOp["Relu"]; c == nil || *c != (Counts{Passed: 2, Unsupported: 1, Skipped: 1}) {
		t.Errorf("Relu counts %+v", c)
	}
	if errs := Run(cases, fake(relu)).Expect(nil); errs != nil {
		t.Errorf("no known failures: %v", errs)
	}
}

// Broken executors must fail: a wrong value, a wrong element type, a wrong
// shape, a missing output, an error, a panic.
func TestRunBrokenExecutors(t *testing.T) {
	cases, err := List(filepath.Join("testdata", "data"))
	if err != nil {
		t.Fatal(err)
	}
	var ok []Case
	for _, c := range cases {
		if c.Name == "test_relu_ok" {
			ok = append(ok, c)
		}
	}
	if len(ok) != 1 {
		t.Fatal("no test_relu_ok")
	}
	good := fake(relu)
	for _, c := range []struct {
		name string
		exec Executor
		want string
	}{
		{"identity as relu", fake(func(x float32) float32 { return x }), "values differ"},
		{"-0 for 0 passes, 1e-7 for 0 fails", fake(func(x float32) float32 {
			if x <= 0 {
				return 1.01e-7
			}
			return x
		}), "values differ"},
		{"float64 output", func(m []byte, in []*onnx.Tensor) ([]*onnx.Tensor, error) {
			out, err := good(m, in)
			if err != nil {
				return nil, err
			}
			v, _ := onnx.TensorValues[float32](out[0])
			d := make([]float64, len(v))
			for i := range v {
				d[i] = float64(v[i])
			}
			y, err := onnx.NewTensor("y", out[0].Dims, d)
			return []*onnx.Tensor{&y}, err
		}, "element type DOUBLE, want FLOAT"},
		{"transposed shape", func(m []byte, in []*onnx.Tensor) ([]*onnx.Tensor, error) {
			out, err := good(m, in)
			if err == nil {
				out[0].Dims = []int64{4, 3}
			}
			return out, err
		}, "shape [4 3], want [3 4]"},
		{"no output", func([]byte, []*onnx.Tensor) ([]*onnx.Tensor, error) { return nil, nil }, "0 outputs, want 1"},
		{"nil output", func([]byte, []*onnx.Tensor) ([]*onnx.Tensor, error) { return []*onnx.Tensor{nil}, nil }, "nil tensor"},
		{"error", func([]byte, []*onnx.Tensor) ([]*onnx.Tensor, error) { return nil, errors.New("boom") }, "boom"},
		{"panic", func([]byte, []*onnx.Tensor) ([]*onnx.Tensor, error) { panic("kaboom") }, "executor panicked: kaboom"},
	} {
		r := Run(ok, c.exec)
		if res := r.Results[0]; res.Status != Failed || !strings.Contains(res.Detail, c.want) {
			t.Errorf("%s: %v (%s), want failed with %q", c.name, res.Status, res.Detail, c.want)
		}
	}
}

func TestCompare(t *testing.T) {
	f32 := func(v ...float32) *onnx.Tensor {
		x, err := onnx.NewTensor("x", []int64{int64(len(v))}, v)
		if err != nil {
			t.Fatal(err)
		}
		return &x
	}
	i64 := func(v ...int64) *onnx.Tensor {
		x, err := onnx.NewTensor("x", []int64{int64(len(v))}, v)
		if err != nil {
			t.Fatal(err)
		}
		return &x
	}
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, c := range []struct {
		got, want *onnx.Tensor
		err       string
	}{
		{f32(1, nan, inf, -inf), f32(1, nan, inf, -inf), ""},
		{f32(1000.999), f32(1000), ""},
		{f32(1001.002), f32(1000), "1 of 1 values"},
		{f32(0.99e-7), f32(0), ""},
		{f32(2e-7), f32(0), "1 of 1 values"},
		{f32(inf), f32(-inf), "1 of 1 values"},
		{f32(0), f32(nan), "1 of 1 values"},
		{i64(1001), i64(1000), ""}, // NumPy applies the tolerance to integers too
		{i64(1002), i64(1000), "1 of 1 values"},
		{i64(1), f32(1), "element type INT64, want FLOAT"},
	} {
		err := Compare(c.got, c.want, RTol, ATol)
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("Compare(%v, %v) = %v, want %q", c.got, c.want, err, c.err)
		}
	}
}

func TestHalf(t *testing.T) {
	for h, want := range map[uint16]float64{
		0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0001: math.Ldexp(1, -24), 0x03ff: 1023 * math.Ldexp(1, -24),
		0x0400: math.Ldexp(1, -14), 0x8000: math.Copysign(0, -1), 0x7c00: math.Inf(1), 0xfc00: math.Inf(-1),
		0x3555: 0.333251953125,
	} {
		if got := Half(h); got != want || math.Signbit(got) != math.Signbit(want) {
			t.Errorf("Half(%#04x) = %v, want %v", h, got, want)
		}
	}
	if got := Half(0x7e00); got == got {
		t.Errorf("Half(0x7e00) = %v, want NaN", got)
	}
}

func TestListErrors(t *testing.T) {
	if _, err := List(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no node") {
		t.Errorf("empty dir: err = %v", err)
	}
}

// TestSuite runs the fake executor over Debian's whole suite (skipped
// without libonnx-testdata unless TQ_REQUIRE_TOOLS=1): every model and
// every data file must decode with the onnx package, and exactly the
// Identity/Relu tensor cases pass.
func TestSuite(t *testing.T) {
	cases := Cases(t)
	count := map[string]int{}
	for _, c := range cases {
		count[c.Kind]++
	}
	if fmt.Sprint(count) != "map[node:932 pytorch-converted:82 pytorch-operator:35 simple:23]" {
		t.Errorf("cases per kind: %v", count)
	}
	r := Run(cases, fake(relu))
	var passed []string
	for _, res := range r.Results {
		switch res.Status {
		case Passed:
			passed = append(passed, res.Case.Kind+"/"+res.Case.Name)
		case Failed:
			t.Errorf("%s/%s: %s", res.Case.Kind, res.Case.Name, res.Detail)
		}
	}
	want := []string{"node/test_identity", "node/test_relu", "pytorch-converted/test_ReLU", "simple/test_single_relu_model"}
	if !slices.Equal(passed, want) {
		t.Errorf("passed %v, want %v", passed, want)
	}
	if r.Totals.Skipped == 0 || r.Totals.Passed+r.Totals.Unsupported+r.Totals.Skipped != 1072 {
		t.Errorf("totals %+v", r.Totals)
	}
	var sb strings.Builder
	if err := r.WriteTable(&sb); err != nil {
		t.Fatal(err)
	}
	t.Logf("fake executor on the suite:\n%s", sb.String())
}
