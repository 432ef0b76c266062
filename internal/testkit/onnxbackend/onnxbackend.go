// Package onnxbackend runs an ONNX executor against the ONNX backend test
// suite: onnx 1.12's onnx/backend/test/data as Debian's libonnx-testdata
// installs it (/usr/share/libonnx-testdata/data; `make tools-testdata`),
// 932 node tests, 82 pytorch-converted, 35 pytorch-operator and 23 simple
// ones. Each test is a directory with model.onnx and test_data_set_N/
// holding input_M.pb and output_M.pb, serialized TensorProto (or
// SequenceProto / OptionalProto for graph values of those types).
//
// The rules are those of onnx's own runner (onnx/backend/test/runner and
// loader, version 1.12): input_M.pb feeds the M-th graph input and
// output_M.pb is the M-th graph output, in numeric order; an output must
// have the expected element type and the values must satisfy
// numpy.testing.assert_allclose(got, expected, rtol, atol) with rtol 1e-3
// and atol 1e-7 — every test directory of the suite uses these defaults,
// only the downloadable "real" models (not run here) carry their own in
// data.json — which means |got - expected| <= atol + rtol*|expected| in
// float64, NaN equal to NaN, infinities equal only to themselves, and
// strings compared exactly. One deliberate difference: shapes must be
// equal, where NumPy would also broadcast a scalar against an array.
//
// Values that are not tensors (sequence, optional and map graph inputs or
// outputs, 51 of the suite's 3,303) are outside what Executor can take: such
// cases are Skipped. Op types are read from the top-level nodes of each
// model (the bodies of If, Loop and Scan are opaque to the onnx package).
//
// It is a test helper: only _test.go files import it.
package onnxbackend

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/onnx"
)

// DefaultDir is where Debian's libonnx-testdata puts the suite.
const DefaultDir = "/usr/share/libonnx-testdata/data"

// Kinds are the suite's directories that hold runnable tests ("real" only
// points at models to download).
var Kinds = []string{"node", "pytorch-converted", "pytorch-operator", "simple"}

// The suite's tolerances (onnx/backend/test/loader: the defaults of every
// test directory that has a model.onnx).
const (
	RTol = 1e-3
	ATol = 1e-7
)

// ErrUnsupported is what an Executor returns (wrapped, with the reason)
// for a model it does not implement: the case is counted as Unsupported
// rather than Failed.
var ErrUnsupported = errors.New("unsupported")

// Executor runs model (the bytes of model.onnx) on inputs, one per
// input_M.pb file of the data set, fed to the first graph inputs in graph
// order (as onnx's runner does: a test may leave trailing optional inputs
// out) and named as those graph inputs, and returns one
// tensor per graph output in graph order (their names are not checked).
// It returns an error wrapping ErrUnsupported for what it does not
// implement.
type Executor func(model []byte, inputs []*onnx.Tensor) ([]*onnx.Tensor, error)

// Case is one test of the suite.
type Case struct {
	Kind     string   // "node", "pytorch-converted", "pytorch-operator" or "simple"
	Name     string   // the directory name, e.g. "test_relu"
	Dir      string   // the test's directory
	DataSets []string // the test_data_set_N directories, in numeric order
	RTol     float64
	ATol     float64
}

// Model returns the path of the case's model.onnx.
func (c *Case) Model() string { return filepath.Join(c.Dir, "model.onnx") }

// Dir returns the suite's directory: $TQ_ONNX_TESTDATA if set, else
// DefaultDir.
func Dir() string {
	if d := os.Getenv("TQ_ONNX_TESTDATA"); d != "" {
		return d
	}
	return DefaultDir
}

// List returns every case under dir (one directory per kind of Kinds that
// exists there), sorted by kind and name. It returns an error if no kind
// directory exists, or a test directory has no model.onnx.
func List(dir string) ([]Case, error) {
	var cases []Case
	found := false
	for _, kind := range Kinds {
		entries, err := os.ReadDir(filepath.Join(dir, kind))
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("onnxbackend: %w", err)
		}
		found = true
		for _, e := range entries {
			if !e.IsDir() || !strings.HasPrefix(e.Name(), "test_") {
				continue
			}
			c := Case{Kind: kind, Name: e.Name(), Dir: filepath.Join(dir, kind, e.Name()), RTol: RTol, ATol: ATol}
			if _, err := os.Stat(c.Model()); err != nil {
				return nil, fmt.Errorf("onnxbackend: %s: %w", c.Dir, err)
			}
			sets, err := numbered(c.Dir, "test_data_set_", "")
			if err != nil {
				return nil, err
			}
			c.DataSets = sets
			cases = append(cases, c)
		}
	}
	if !found {
		return nil, fmt.Errorf("onnxbackend: no %s directory in %s", strings.Join(Kinds, ", "), dir)
	}
	return cases, nil
}

// numbered returns the entries of dir named prefix<N>suffix, N = 0, 1, ...
// contiguous, in numeric order.
func numbered(dir, prefix, suffix string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("onnxbackend: %w", err)
	}
	var idx []int
	for _, e := range entries {
		s, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		s, ok = strings.CutSuffix(s, suffix)
		n, err := strconv.Atoi(s)
		if !ok || err != nil || n < 0 {
			continue
		}
		idx = append(idx, n)
	}
	sort.Ints(idx)
	out := make([]string, len(idx))
	for i, n := range idx {
		if n != i {
			return nil, fmt.Errorf("onnxbackend: %s: %s%d%s missing", dir, prefix, i, suffix)
		}
		out[i] = filepath.Join(dir, prefix+strconv.Itoa(n)+suffix)
	}
	return out, nil
}

// Cases lists the suite for a test: Dir() must hold it, else t is skipped
// (failed under TQ_REQUIRE_TOOLS=1) with a message saying how to install
// it.
func Cases(t testing.TB) []Case {
	t.Helper()
	dir := Dir()
	if _, err := os.Stat(filepath.Join(dir, "node")); err != nil {
		msg := fmt.Sprintf("ONNX backend test data not found in %s (Debian package libonnx-testdata; make tools-testdata installs it)", dir)
		if exttool.Required() {
			t.Fatal("TQ_REQUIRE_TOOLS=1: " + msg)
		}
		t.Skip(msg)
	}
	cases, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

// OpTypes returns the distinct op types of m's top-level nodes, sorted;
// an op of another domain than ai.onnx is written "domain:OpType".
func OpTypes(m *onnx.Model) []string {
	var ops []string
	if m.Graph == nil {
		return nil
	}
	for _, n := range m.Graph.Node {
		op := n.OpType
		if n.Domain != "" && n.Domain != "ai.onnx" {
			op = n.Domain + ":" + op
		}
		ops = append(ops, op)
	}
	slices.Sort(ops)
	return slices.Compact(ops)
}

// Status is the outcome of one case.
type Status int

// The outcomes. Skipped is a case the harness cannot express (a value
// that is not a tensor); Unsupported is one the executor declined with
// ErrUnsupported.
const (
	Passed Status = iota
	Failed
	Unsupported
	Skipped
)

// String returns "passed", "failed", "unsupported" or "skipped".
func (s Status) String() string {
	return [...]string{"passed", "failed", "unsupported", "skipped"}[s]
}

// Result is the outcome of one case, with its op types and, unless it
// passed, why.
type Result struct {
	Case    *Case
	OpTypes []string
	Status  Status
	Detail  string
}

// Counts counts cases by outcome.
type Counts struct{ Passed, Failed, Unsupported, Skipped int }

func (c *Counts) add(s Status) {
	switch s {
	case Passed:
		c.Passed++
	case Failed:
		c.Failed++
	case Unsupported:
		c.Unsupported++
	default:
		c.Skipped++
	}
}

// Total returns the number of cases counted.
func (c Counts) Total() int { return c.Passed + c.Failed + c.Unsupported + c.Skipped }

// Report is the outcome of a run: every result in case order, the totals,
// and the counts per op type (a case counts once under each op type its
// model contains).
type Report struct {
	Results []Result
	Totals  Counts
	ByOp    map[string]*Counts
}

// Run runs every case with exec and returns the report. A case fails when
// its model cannot be read or decoded, when exec returns an error that does
// not wrap ErrUnsupported or panics, or when an output differs from the
// expected one (count, element type, shape or values beyond the case's
// tolerance); the first failing data set stops the case.
func Run(cases []Case, exec Executor) *Report {
	r := &Report{}
	for i := range cases {
		r.Results = append(r.Results, runCase(&cases[i], exec))
	}
	r.count()
	return r
}

// count sets r's totals and counts per op type from its results.
func (r *Report) count() {
	r.Totals, r.ByOp = Counts{}, map[string]*Counts{}
	for _, res := range r.Results {
		r.Totals.add(res.Status)
		for _, op := range res.OpTypes {
			if r.ByOp[op] == nil {
				r.ByOp[op] = new(Counts)
			}
			r.ByOp[op].add(res.Status)
		}
	}
}

// Known lists an executor's known failures: the name of a case (its
// directory, e.g. "test_cast_FLOAT_to_FLOAT16", in whichever kind) and
// why it cannot pass.
type Known map[string]string

// Expect applies known to r: a Failed result whose case is in known
// becomes Skipped, its Detail "known failure: " followed by the reason
// and the failure, and the totals and counts per op type are recounted.
// It returns an error, sorted by name, for each entry of known whose case
// did not fail: one that passed (the entry must go), one that the harness
// skipped or the executor declined, and one that is not in r.
func (r *Report) Expect(known Known) []error {
	outcome := map[string]Status{}
	for i := range r.Results {
		res := &r.Results[i]
		reason, ok := known[res.Case.Name]
		if !ok {
			continue
		}
		// A name in several kinds: one that did not fail decides, a pass first.
		if st, seen := outcome[res.Case.Name]; !seen || st == Failed || res.Status == Passed {
			outcome[res.Case.Name] = res.Status
		}
		if res.Status == Failed {
			res.Status, res.Detail = Skipped, "known failure: "+reason+" ("+res.Detail+")"
		}
	}
	r.count()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(known)) {
		switch st, seen := outcome[name]; {
		case !seen:
			errs = append(errs, fmt.Errorf("%s is a known failure (%s) but no such case ran: remove it", name, known[name]))
		case st == Passed:
			errs = append(errs, fmt.Errorf("%s is a known failure (%s) but passes: remove it", name, known[name]))
		case st != Failed:
			errs = append(errs, fmt.Errorf("%s is a known failure (%s) but is %v: remove it", name, known[name], st))
		}
	}
	return errs
}

func runCase(c *Case, exec Executor) (res Result) {
	res.Case = c
	fail := func(st Status, format string, args ...any) Result {
		res.Status, res.Detail = st, fmt.Sprintf(format, args...)
		return res
	}
	b, err := os.ReadFile(c.Model())
	if err != nil {
		return fail(Failed, "%v", err)
	}
	m, err := onnx.Unmarshal(b)
	if err != nil {
		return fail(Failed, "%v", err)
	}
	res.OpTypes = OpTypes(m)
	if m.Graph == nil {
		return fail(Failed, "model has no graph")
	}
	for _, vs := range [][]onnx.ValueInfo{m.Graph.Input, m.Graph.Output} {
		for _, v := range vs {
			if v.Type == nil || v.Type.Tensor == nil {
				return fail(Skipped, "graph value %q is not a tensor (sequence, optional or map)", v.Name)
			}
		}
	}
	for _, set := range c.DataSets {
		inputs, err := readTensors(set, "input_", m.Graph.Input)
		if err != nil {
			return fail(Failed, "%v", err)
		}
		want, err := readTensors(set, "output_", m.Graph.Output)
		if err != nil {
			return fail(Failed, "%v", err)
		}
		got, err := safeExec(exec, b, inputs)
		if errors.Is(err, ErrUnsupported) {
			return fail(Unsupported, "%v", err)
		} else if err != nil {
			return fail(Failed, "%s: %v", filepath.Base(set), err)
		}
		if len(got) != len(want) {
			return fail(Failed, "%s: %d outputs, want %d", filepath.Base(set), len(got), len(want))
		}
		for i := range want {
			if err := Compare(got[i], want[i], c.RTol, c.ATol); err != nil {
				return fail(Failed, "%s: output %d (%s): %v", filepath.Base(set), i, m.Graph.Output[i].Name, err)
			}
		}
	}
	res.Status = Passed
	return res
}

// safeExec runs exec, turning a panic into an error with its stack.
func safeExec(exec Executor, model []byte, inputs []*onnx.Tensor) (out []*onnx.Tensor, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("executor panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return exec(model, inputs)
}

// readTensors reads the files prefix<N>.pb of dir in numeric order; the
// M-th is named as the M-th graph value.
func readTensors(dir, prefix string, values []onnx.ValueInfo) ([]*onnx.Tensor, error) {
	files, err := numbered(dir, prefix, ".pb")
	if err != nil {
		return nil, err
	}
	if len(files) > len(values) {
		return nil, fmt.Errorf("onnxbackend: %s: %d %s files for %d graph values", dir, len(files), prefix, len(values))
	}
	out := make([]*onnx.Tensor, len(files))
	for i, f := range files {
		t, err := onnx.ReadTensorFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		t.Name = values[i].Name
		out[i] = t
	}
	return out, nil
}

// Compare checks got against want as the suite's runner does: the same
// element type and shape, strings equal, every other value within |got -
// want| <= atol + rtol*|want| in float64 (NaN equal to NaN, an infinity
// only to itself). The error names the first difference: type, shape, or
// the number of values out of tolerance and the worst one.
func Compare(got, want *onnx.Tensor, rtol, atol float64) error {
	if got == nil {
		return errors.New("nil tensor")
	}
	if got.DataType != want.DataType {
		return fmt.Errorf("element type %v, want %v", got.DataType, want.DataType)
	}
	if !slices.Equal(got.Dims, want.Dims) {
		return fmt.Errorf("shape %v, want %v", got.Dims, want.Dims)
	}
	if want.DataType == onnx.String {
		g, err := onnx.TensorStrings(got)
		if err != nil {
			return err
		}
		w, err := onnx.TensorStrings(want)
		if err != nil {
			return err
		}
		for i := range w {
			if string(g[i]) != string(w[i]) {
				return fmt.Errorf("string %d is %q, want %q", i, g[i], w[i])
			}
		}
		return nil
	}
	g, err := Float64s(got)
	if err != nil {
		return err
	}
	w, err := Float64s(want)
	if err != nil {
		return err
	}
	return AllClose(g, w, rtol, atol)
}

// AllClose reports whether got[i] and want[i] satisfy |got - want| <= atol
// + rtol*|want| for every i (numpy.allclose: NaN equals NaN, an infinity
// only itself). The error gives the number of values out of tolerance and
// the worst one, or the lengths if they differ.
func AllClose(got, want []float64, rtol, atol float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d values, want %d", len(got), len(want))
	}
	bad, worst, worstErr := 0, -1, 0.0
	for i, b := range want {
		a := got[i]
		if a == b || (a != a && b != b) {
			continue
		}
		d := math.Abs(a - b)
		if d <= atol+rtol*math.Abs(b) && !math.IsInf(a, 0) && !math.IsInf(b, 0) {
			continue
		}
		bad++
		if worst < 0 || !(d <= worstErr) {
			worst, worstErr = i, d
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d values differ by more than %g + %g|want|; worst at flat index %d: got %v, want %v",
			bad, len(want), atol, rtol, worst, got[worst], want[worst])
	}
	return nil
}

// Float64s returns the values of a numeric or BOOL tensor as float64
// (what NumPy compares them as): FLOAT16 and BFLOAT16 exactly, 64-bit
// integers rounded to the nearest float64, BOOL as 0 and 1. It returns an
// error for STRING and the other types, and the onnx package's errors for
// a malformed tensor.
func Float64s(t *onnx.Tensor) ([]float64, error) {
	switch t.DataType {
	case onnx.Float:
		return conv[float32](t)
	case onnx.Double:
		return conv[float64](t)
	case onnx.Int8:
		return conv[int8](t)
	case onnx.Uint8:
		return conv[uint8](t)
	case onnx.Int16:
		return conv[int16](t)
	case onnx.Uint16:
		return conv[uint16](t)
	case onnx.Int32:
		return conv[int32](t)
	case onnx.Int64:
		return conv[int64](t)
	case onnx.Uint32:
		return conv[uint32](t)
	case onnx.Uint64:
		return conv[uint64](t)
	case onnx.Bool:
		v, err := onnx.TensorValues[bool](t)
		out := make([]float64, len(v))
		for i, b := range v {
			if b {
				out[i] = 1
			}
		}
		return out, err
	case onnx.Float16, onnx.BFloat16:
		v, err := onnx.TensorBits16(t)
		out := make([]float64, len(v))
		for i, h := range v {
			if t.DataType == onnx.BFloat16 {
				out[i] = float64(math.Float32frombits(uint32(h) << 16))
			} else {
				out[i] = Half(h)
			}
		}
		return out, err
	}
	return nil, fmt.Errorf("onnxbackend: tensor %q: element type %v is not compared as numbers", t.Name, t.DataType)
}

func conv[T int8 | uint8 | int16 | uint16 | int32 | int64 | uint32 | uint64 | float32 | float64](t *onnx.Tensor) ([]float64, error) {
	v, err := onnx.TensorValues[T](t)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out, nil
}

// Half returns the value of the IEEE 754 binary16 bit pattern h.
func Half(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, frac := int(h>>10&0x1f), float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * math.Ldexp(1024+frac, exp-25)
}

// WriteTable writes the report as a table: one line per op type (sorted
// by name) with its passed / failed / unsupported / skipped counts, then
// the totals.
func (r *Report) WriteTable(w io.Writer) error {
	ops := make([]string, 0, len(r.ByOp))
	for op := range r.ByOp {
		ops = append(ops, op)
	}
	slices.SortFunc(ops, func(a, b string) int { return cmp.Compare(strings.ToLower(a), strings.ToLower(b)) })
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-40s %7s %7s %11s %7s\n", "op type", "passed", "failed", "unsupported", "skipped")
	for _, op := range ops {
		c := r.ByOp[op]
		fmt.Fprintf(&sb, "%-40s %7d %7d %11d %7d\n", op, c.Passed, c.Failed, c.Unsupported, c.Skipped)
	}
	c := r.Totals
	fmt.Fprintf(&sb, "%-40s %7d %7d %11d %7d\n", fmt.Sprintf("all %d cases", c.Total()), c.Passed, c.Failed, c.Unsupported, c.Skipped)
	_, err := io.WriteString(w, sb.String())
	return err
}

// Check runs every case with exec and applies known (Report.Expect; nil
// for none): each error of Expect fails t. Then every case is a subtest
// named kind/name: a Failed case fails it, an Unsupported or Skipped case
// (a known failure among them) skips it with the reason. At the end it
// logs the table of WriteTable and returns the report.
func Check(t *testing.T, cases []Case, exec Executor, known Known) *Report {
	t.Helper()
	r := Run(cases, exec)
	for _, err := range r.Expect(known) {
		t.Error(err)
	}
	for _, res := range r.Results {
		t.Run(res.Case.Kind+"/"+res.Case.Name, func(t *testing.T) {
			switch res.Status {
			case Failed:
				t.Error(res.Detail)
			case Unsupported, Skipped:
				t.Skip(res.Status.String() + ": " + res.Detail)
			}
		})
	}
	var sb strings.Builder
	if err := r.WriteTable(&sb); err != nil {
		t.Fatal(err)
	}
	t.Log("ONNX backend suite:\n" + sb.String())
	return r
}
