package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/internal/testkit/ptqvec"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/onnx/export"
	"github.com/tensorquant/tensorquant/quantize"
	"github.com/tensorquant/tensorquant/tensor"
)

// ptqModel copies a vector model of testdata/conformance/onnx_ptq (its
// float ONNX file and calibration data) into dir.
func ptqModel(t *testing.T, dir, name string) (model, calib string) {
	t.Helper()
	src := filepath.Join(must(conformance.Root()), "testdata", "conformance", "onnx_ptq")
	for _, f := range []string{name + ".float.onnx", name + ".calib.npy"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, name+".float.onnx"), filepath.Join(dir, name+".calib.npy")
}

// quantResult decodes quantize's -json output.
func quantResult(t *testing.T, out string) *result {
	t.Helper()
	var r result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("-json output: %v\n%s", err, out)
	}
	return &r
}

// library quantizes model with the quantize package directly and returns
// the exported file's bytes and the amax.
func library(t *testing.T, model, calib string, o quantize.Options, method calibrators.Method, batch int) ([]byte, []*tensor.Tensor) {
	t.Helper()
	g, err := graph.ImportFile(model)
	if err != nil {
		t.Fatal(err)
	}
	p, err := quantize.Place(g, o)
	if err != nil {
		t.Fatal(err)
	}
	x, err := npy.ReadFile(calib)
	if err != nil {
		t.Fatal(err)
	}
	d, err := quantize.Tensors(map[string]*graph.Tensor{g.Inputs[0].Name: graph.Float(x)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Calibrate(d, quantize.CalibrateOptions{BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	amax, err := c.Amax(method, calibrators.AmaxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := p.Apply(amax)
	if err != nil {
		t.Fatal(err)
	}
	m, err := export.Graph(q)
	if err != nil {
		t.Fatal(err)
	}
	b, err := onnx.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b, amax
}

// TestQuantizeCommand runs tensorquant quantize on both vector models with
// every method in batches of 32, as the original calibrated them:
//
//   - every -json amax is the original's (testdata/conformance/onnx_ptq):
//     weights per channel bit for bit, activations bit for bit where our
//     float activations are the original's, within its own 5 ulps of
//     summation order elsewhere (ptqvec.Compare);
//   - the written file is byte for byte what the library writes for the
//     same data, batch size and method, and the -json amax are the
//     library's;
//   - without -json, the table shows each activation quantizer's amax for
//     every method and each weight's channel range, exactly the -json
//     values, and the summary lines; nothing on stderr with -quiet.
func TestQuantizeCommand(t *testing.T) {
	dir := t.TempDir()
	bound, err := ptqvec.ULPBound()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range ptqvec.Models {
		model, calib := ptqModel(t, dir, name)
		g, x, v, err := ptqvec.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		var values []string
		for _, q := range v.Quantizer {
			if q.Kind == "input" {
				values = append(values, q.Input)
			}
		}
		acts, err := ptqvec.Fingerprint(g, x, v.BatchSize, values)
		if err != nil {
			t.Fatal(err)
		}
		results := map[string]*result{}
		for _, m := range ptqvec.Methods {
			method := string(m.Method)
			out := filepath.Join(dir, name+"."+method+".onnx")
			stdout, stderr, code := tq(t, dir, "quantize", "-calib", calib, "-method", method, "-batch", "32", "-o", out, "-json", model)
			if code != 0 {
				t.Fatalf("%s %s: exit %d: %s", name, method, code, stderr)
			}
			r := quantResult(t, stdout)
			results[method] = r
			errs, exact := v.Compare(m.Key, g, acts, bound, func(node string, k int) (ptqvec.Site, bool) {
				for _, q := range r.Quantizers {
					if q.Node == node && q.Input == k {
						return ptqvec.Site{Value: q.Value, Weight: q.Kind == "weight", Amax: q.Amax}, true
					}
				}
				return ptqvec.Site{}, false
			})
			for _, e := range errs {
				t.Errorf("%s -method %s: %s", name, method, e)
			}
			if exact == 0 {
				t.Errorf("%s -method %s: no activation amax bit for bit the original's (the graph input's must be)", name, method)
			}
			want, amax := library(t, model, calib, quantize.Options{}, m.Method, 32)
			if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s %s: the written model differs from the library's (%v)", name, method, err)
			}
			if len(r.Quantizers) != len(amax) || r.Output != out || r.Method != method || r.Opset != 13 || r.Samples != 128 || r.Batches != 4 {
				t.Fatalf("%s %s: result %+v", name, method, r)
			}
			for i, q := range r.Quantizers {
				if !slices.Equal(q.Amax, amax[i].Data) {
					t.Errorf("%s %s: %s amax %v, the library's %v", name, method, q.Name, q.Amax, amax[i].Data)
				}
			}
		}
		stdout, stderr, code := tq(t, dir, "quantize", "-calib", calib, "-method", "entropy", "-quiet", model)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		if _, err := os.Stat(strings.TrimSuffix(model, ".onnx") + ".qdq.onnx"); err != nil {
			t.Errorf("%s: default output: %v", name, err)
		}
		if stderr != "" {
			t.Errorf("%s: -quiet wrote %q", name, stderr)
		}
		checkTable(t, stdout, results, "entropy", strings.TrimSuffix(model, ".onnx")+".qdq.onnx")
	}
}

// checkTable checks quantize's table (written with method to out) line by
// line against the -json results of every method on the same data.
func checkTable(t *testing.T, table string, results map[string]*result, method, out string) {
	t.Helper()
	r := results[method]
	lines := strings.Split(table, "\n")
	want := []string{fmt.Sprintf("%s: %d samples in %d batches of %d, calibrated in ", r.Model, r.Samples, r.Batches, r.BatchSize)}
	acts := 0
	for _, q := range r.Quantizers {
		if q.Kind == "activation" {
			acts++
		}
	}
	want = append(want, fmt.Sprintf("%d quantizers (%d activations, %d weights), int8, opset 13; %d compute nodes left float",
		len(r.Quantizers), acts, len(r.Quantizers)-acts, len(r.Unquantized)), "", "quantizer max entropy* percentile mse")
	for i, q := range r.Quantizers {
		row := q.Name
		if q.Kind == "weight" {
			row += fmt.Sprintf(" weight, %d channels: %s to %s", len(q.Amax), fmtAmax(slices.Min(q.Amax)), fmtAmax(slices.Max(q.Amax)))
		} else {
			for _, m := range methods {
				row += " " + fmtAmax(results[string(m)].Quantizers[i].Amax[0])
			}
		}
		want = append(want, row)
	}
	want = append(want, "", fmt.Sprintf("wrote %s (%s)", out, method), "")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), table)
	}
	for i, w := range want {
		got := strings.Join(strings.Fields(lines[i]), " ")
		if i == 0 {
			got = strings.TrimSuffix(got, regexp.MustCompile(` [0-9]+\.[0-9]{2}s$`).FindString(got))
			w = strings.TrimSpace(w)
		}
		if got != w {
			t.Errorf("line %d: %q, want %q", i+1, lines[i], w)
		}
	}
}

// repeatedCalib writes calibration data of 128 samples: the cnn's first
// 16, then those again in another order, so that no histogram grows past
// the first batch's (of 16) range and shards merge exactly.
func repeatedCalib(t *testing.T, calib string) string {
	t.Helper()
	x, err := npy.ReadFile(calib)
	if err != nil {
		t.Fatal(err)
	}
	per := len(x.Data) / x.Shape[0]
	for i := 16; i < x.Shape[0]; i++ {
		j := i * 7 % 16
		copy(x.Data[i*per:(i+1)*per], x.Data[j*per:(j+1)*per])
	}
	p := strings.TrimSuffix(calib, ".npy") + ".repeated.npy"
	if err := npy.WriteFile(p, x); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestQuantizeShardsMerge calibrates the cnn in four shards (separate
// processes, in any order, with -workers), merges the states with
// tensorquant merge -model, and gets the same model file, byte for byte,
// and the same amax as one quantize run, for every method; a missing or
// repeated shard is refused, and a state of another model.
func TestQuantizeShardsMerge(t *testing.T) {
	dir := t.TempDir()
	model, calib := ptqModel(t, dir, "cnn")
	calib = repeatedCalib(t, calib)
	var states []string
	for _, i := range []int{3, 1, 0, 2} {
		s := filepath.Join(dir, fmt.Sprintf("s%d.tqq", i))
		_, stderr, code := tq(t, dir, "quantize", "-calib", calib, "-batch", "16", "-shard", fmt.Sprintf("%d/4", i), "-workers", fmt.Sprint(1+i%2), "-save", s, model)
		if code != 0 {
			t.Fatalf("shard %d: exit %d: %s", i, code, stderr)
		}
		states = append(states, s)
	}
	for _, method := range []string{"max", "entropy", "percentile", "mse"} {
		one := filepath.Join(dir, "one."+method+".onnx")
		if _, stderr, code := tq(t, dir, "quantize", "-calib", calib, "-batch", "16", "-method", method, "-o", one, model); code != 0 {
			t.Fatalf("one run: %s", stderr)
		}
		merged := filepath.Join(dir, "merged."+method+".onnx")
		stdout, stderr, code := tq(t, dir, append([]string{"merge", "-model", model, "-method", method, "-o", merged, "-json"}, states...)...)
		if code != 0 {
			t.Fatalf("merge: exit %d: %s", code, stderr)
		}
		r := quantResult(t, stdout)
		if len(r.Inexact) > 0 || r.Batches != 8 {
			t.Errorf("%s: merged %d batches, inexact %q", method, r.Batches, r.Inexact)
		}
		a, _ := os.ReadFile(one)
		b, _ := os.ReadFile(merged)
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s: the merged model differs from one run's", method)
		}
	}
	for _, c := range []struct {
		states []string
		want   string
	}{
		{states[:3], "shards 2/4 missing"},
		{append(slices.Clone(states), states[0]), "given twice"},
	} {
		_, stderr, code := tq(t, dir, append([]string{"merge", "-model", model, "-o", filepath.Join(dir, "x.onnx")}, c.states...)...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("merge %v: exit %d, %q, want one line with %q", c.states, code, stderr, c.want)
		}
	}
	other, _ := ptqModel(t, dir, "mlp_attn")
	if _, stderr, code := tq(t, dir, append([]string{"merge", "-model", other, "-o", filepath.Join(dir, "x.onnx")}, states...)...); code != 2 || !strings.Contains(stderr, "another model") {
		t.Errorf("states of another model: exit %d, %q", code, stderr)
	}
	if _, stderr, code := tq(t, dir, append([]string{"merge"}, states...)...); code != 2 || !strings.Contains(stderr, "give -model") {
		t.Errorf("states without -model: exit %d, %q", code, stderr)
	}
}

// TestQuantizeFormats writes FP8 and INT4 models and one with every
// placement flag, and checks the opset, the quantizers and the report.
func TestQuantizeFormats(t *testing.T) {
	dir := t.TempDir()
	model, calib := ptqModel(t, dir, "mlp_attn")
	for _, c := range []struct {
		args       []string
		opset, sum int
	}{
		{[]string{"-format", "fp8", "-method", "mse"}, 19, 16},
		{[]string{"-format", "int4", "-block", "16"}, 21, 16},
		{[]string{"-format", "int4", "-block", "0", "-per-tensor-weights"}, 21, 16},
		{[]string{"-activation-matmul", "-residual-add", "-exclude", "^/head/", "-method", "percentile", "-percentile", "99.9"}, 13, 14 + 4 + 2},
		{[]string{"-op-types", "MatMul", "-exclude-op-types", "Gemm"}, 13, 14},
	} {
		report := filepath.Join(dir, "r.html")
		args := append(append([]string{"quantize", "-calib", calib, "-json", "-report", report, "-o", filepath.Join(dir, "q.onnx")}, c.args...), model)
		stdout, stderr, code := tq(t, dir, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, stderr)
		}
		r := quantResult(t, stdout)
		if r.Opset != c.opset || len(r.Quantizers) != c.sum {
			t.Errorf("%v: opset %d, %d quantizers; want %d, %d", c.args, r.Opset, len(r.Quantizers), c.opset, c.sum)
		}
		html, err := os.ReadFile(report)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range r.Quantizers {
			if !strings.Contains(string(html), q.Name) {
				t.Errorf("%v: the report does not name %s", c.args, q.Name)
			}
		}
		values := map[string]bool{}
		for _, q := range r.Quantizers {
			values[q.Value] = values[q.Value] || q.Kind == "activation"
		}
		tensors := 0
		for _, act := range values {
			if act {
				tensors++
			}
		}
		if n := strings.Count(string(html), "<svg"); n != tensors {
			t.Errorf("%v: %d histograms in the report for %d calibrated tensors", c.args, n, tensors)
		}
	}
}

// TestQuantizeEval evaluates the quantized cnn on its calibration data
// with the float model's own classes as labels: the float model scores
// 100%, and ONNX Runtime (op by op) on the written file scores exactly
// what our Session does on the quantized graph.
func TestQuantizeEval(t *testing.T) {
	dir := t.TempDir()
	model, calib := ptqModel(t, dir, "cnn")
	g, err := graph.ImportFile(model)
	if err != nil {
		t.Fatal(err)
	}
	s, err := graph.NewSession(g, graph.Options{Float: true})
	if err != nil {
		t.Fatal(err)
	}
	x, _ := npy.ReadFile(calib)
	out, err := s.Run(map[string]*graph.Tensor{"input": graph.Float(x)})
	if err != nil {
		t.Fatal(err)
	}
	logits := must(out["output"].AsFloat())
	labels := make([]int64, x.Shape[0])
	for i := range labels {
		row := logits.Data[i*10 : i*10+10]
		for j, v := range row {
			if v > row[labels[i]] {
				labels[i] = int64(j)
			}
		}
	}
	lp := filepath.Join(dir, "labels.npy")
	writeNPY(t, lp, labels, len(labels))
	// The command runs in dir, outside the repository: point it at the
	// repository's tools/onnxcheck.
	onnxcheck, err := filepath.Abs(filepath.Join("..", "..", "tools", "onnxcheck"))
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code, _ := tqMeasuredEnv(t, dir, []string{"TENSORQUANT_ONNXCHECK=" + onnxcheck}, "quantize", "-calib", calib, "-eval", calib, "-labels", lp, "-json", "-quiet", model)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := quantResult(t, stdout)
	if r.Eval == nil || r.Eval.Samples != 128 || r.Eval.Top1["float"] != 1 || !(r.Eval.Top1["quantized"] > 0.5) {
		t.Fatalf("eval %+v", r.Eval)
	}
	if _, ok := r.Eval.Top1["ort_quantized"]; !ok {
		exttool.Missing(t, "quantize -eval did not run ONNX Runtime: %v", r.Eval.Notes)
		return
	}
	if r.Eval.Top1["ort_quantized"] != r.Eval.Top1["quantized"] || math.Abs(r.Eval.Top1["ort_quantized_optimized"]-r.Eval.Top1["quantized"]) > 0.05 {
		t.Errorf("top-1: ours %v, ONNX Runtime op by op %v, optimized %v", r.Eval.Top1["quantized"], r.Eval.Top1["ort_quantized"], r.Eval.Top1["ort_quantized_optimized"])
	}
}

// TestQuantizeErrors checks that bad flags, models and data give one line
// on stderr and exit status 2; what can be checked before calibrating
// (outputs, labels, method and format) is, so that a long calibration does
// not end in an error it could have given at once (those cases calibrate
// data with a NaN in the last batch, which would fail otherwise).
func TestQuantizeErrors(t *testing.T) {
	dir := t.TempDir()
	model, calib := ptqModel(t, dir, "cnn")
	mlp, mcalib := ptqModel(t, dir, "mlp_attn")
	qdq := filepath.Join(must(conformance.Root()), "testdata", "conformance", "onnx_ptq", "cnn.pq_qdq.onnx")
	x, err := npy.ReadFile(calib)
	if err != nil {
		t.Fatal(err)
	}
	x.Data[len(x.Data)-1] = float32(math.NaN()) // in the last batch
	nan := filepath.Join(dir, "nan.npy")
	if err := npy.WriteFile(nan, x); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{model}, "no calibration data"},
		{[]string{"-calib", calib}, "want one model file"},
		{[]string{"-calib", calib, "-method", "kl", model}, `-method "kl"`},
		{[]string{"-calib", calib, "-batch", "0", model}, "-batch 0"},
		{[]string{"-calib", calib, "-shard", "4/4", "-save", "s", model}, `-shard "4/4"`},
		{[]string{"-calib", calib, "-shard", "0/4", model}, "give -save"},
		{[]string{"-calib", calib, "-shard", "0/4", "-save", "s", "-method", "mse", model}, "merge -model takes -method"},
		{[]string{"-calib", calib, "-format", "int3", model}, `format "int3"`},
		{[]string{"-calib", calib, "-exclude", "(", model}, "-exclude"},
		{[]string{"-calib", nan, "-format", "fp8", "-method", "entropy", model}, "-method entropy with -format fp8"},
		// The NaN fails during calibration (after progress lines, where it
		// takes long: -quiet); the cases above and below fail before.
		{[]string{"-calib", nan, "-quiet", model}, `observing "input"`},
		{[]string{"-calib", mcalib, model}, "do not fit"},
		{[]string{"-calib", calib, qdq}, "already quantized"},
		{[]string{"-calib", calib, "-eval", calib, model}, "-eval and -labels"},
		{[]string{"-calib", calib, "-preprocess", "1,2", model}, "SCALE:SHIFT"},
		{[]string{"-calib", calib, "-preprocess", "1,2:0", model}, "channels"},
		{[]string{"-calib", filepath.Join(dir, "nope.npy"), mlp}, "nope.npy"},
		{[]string{"-calib", calib, "-block", "16", model}, "-block 16 is for -format int4"},
		{[]string{"-calib", calib, "-shape", "3,32,31", model}, "not the -shape [3 32 31]"},
		{[]string{"-calib", calib, "-percentile", "NaN", model}, "-percentile NaN"},
		{[]string{"-calib", calib, "-weight-method", "entropy", model}, `weight method "entropy"`},
		{[]string{"-calib", calib, "-op-types", "Relu", model}, `op type "Relu"`},
		{[]string{"-calib", nan, "-o", dir, model}, "not a regular file (a directory)"},
		{[]string{"-calib", nan, "-report", filepath.Join(dir, "no", "r.html"), model}, "no directory"},
		{[]string{"-calib", nan, "-shard", "0/2", "-save", dir, model}, "not a regular file (a directory)"},
		{[]string{"-calib", nan, "-eval", calib, "-labels", calib, model}, "cannot be read as int64"},
	} {
		_, stderr, code := tq(t, dir, append([]string{"quantize"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("quantize %v: exit %d, stderr %q, want one line with %q", c.args, code, stderr, c.want)
		}
	}
}

// peakRSS runs the built binary and returns its peak resident memory:
// the VmHWM of its /proc status, read every 2 ms while it runs (the
// rusage of a child started by os/exec also counts the parent's, whose
// memory it shared until exec). It skips where /proc has no VmHWM and
// under an emulator, and fails the test if the command fails.
func peakRSS(t *testing.T, dir string, env []string, args ...string) int64 {
	t.Helper()
	if len(tqPrefix) > 0 {
		t.Skip("peak memory under an emulator is the emulator's")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc/self/status")
	}
	cmd := exec.Command(tqBinary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak int64
	status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
	for {
		if b, err := os.ReadFile(status); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					var v int64
					fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(kb), " kB"), &v)
					peak = max(peak, v<<10)
				}
			}
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("tensorquant %q: %v: %s", args, err, errb.String())
			}
			if peak == 0 {
				t.Skip("no VmHWM read from /proc")
			}
			return peak
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// TestQuantizeMemoryFlat calibrates mlp_attn on 1,000 and on 20,000
// samples (its calibration data repeated with noise): the data are
// streamed a batch at a time and each tensor keeps one histogram, so the
// peak resident memory of the second run exceeds the first's by less than
// half of the 19,000 extra samples' 9.7 MB (holding them would add all of
// it to a process of 12 MB; the runs differ by 1-2 MB of the runtime's
// noise). The runs have no $GOGC: quantize then has the garbage collector
// keep the heap within 10% of the live memory, which is what must not
// grow (with Go's default GOGC=100 the heap may reach twice the live
// memory, and a short run stops before it does while a long one does
// not: BENCHMARKS.md has both).
func TestQuantizeMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("two calibrations of 1,000 and 20,000 samples")
	}
	dir := t.TempDir()
	model, calib := ptqModel(t, dir, "mlp_attn")
	x, err := npy.ReadFile(calib)
	if err != nil {
		t.Fatal(err)
	}
	per := len(x.Data) / x.Shape[0]
	const few, many = 1000, 20000
	rss := map[int]int64{}
	for _, n := range []int{few, many} {
		data := make([]float32, n*per)
		for i := range data {
			data[i] = x.Data[i%len(x.Data)] * (1 + float32(i%13)/64)
		}
		p := filepath.Join(dir, fmt.Sprintf("calib%d.npy", n))
		if err := npy.WriteFile(p, &tensor.Tensor{Shape: []int{n, 8, 16}, Data: data}); err != nil {
			t.Fatal(err)
		}
		rss[n] = peakRSS(t, dir, []string{"GOGC="}, "quantize", "-calib", p, "-quiet", "-o", filepath.Join(dir, "q.onnx"), model)
	}
	extra := int64((many - few) * per * 4)
	t.Logf("peak RSS: %.1f MB for %d samples, %.1f MB for %d (their data: %.1f MB more)", float64(rss[few])/1e6, few,
		float64(rss[many])/1e6, many, float64(extra)/1e6)
	if rss[many]-rss[few] > extra/2 {
		t.Errorf("peak RSS %d bytes for %d samples, %d for %d: more than half of the extra samples' %d bytes", rss[many], many,
			rss[few], few, extra)
	}
}

// TestQuantizeDataForms calibrates the cnn on its data in every form
// -calib takes (a .npz keyed by input name, NAME=FILE, a directory of .npy
// chunks of 50, 50 and 28 samples that batches of 32 cross, raw float32
// with -shape, halved values with -preprocess 2:0): every run writes the
// model of the plain .npy run, byte for byte.
func TestQuantizeDataForms(t *testing.T) {
	dir := t.TempDir()
	model, calib := ptqModel(t, dir, "cnn")
	x, err := npy.ReadFile(calib)
	if err != nil {
		t.Fatal(err)
	}
	per := len(x.Data) / x.Shape[0]
	z := filepath.Join(dir, "calib.npz")
	a, err := npy.New(x.Data, x.Shape...)
	if err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteNPZFile(z, map[string]*npy.Array{"input": a}, true); err != nil {
		t.Fatal(err)
	}
	chunks := filepath.Join(dir, "chunks")
	if err := os.Mkdir(chunks, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, lo := range []int{0, 50, 100} {
		hi := min(lo+50, x.Shape[0])
		writeNPY(t, filepath.Join(chunks, fmt.Sprintf("part%d.npy", i)), x.Data[lo*per:hi*per], hi-lo, 3, 32, 32)
	}
	raw := filepath.Join(dir, "calib.f32")
	var b bytes.Buffer
	for _, v := range x.Data {
		b.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(v)))
	}
	if err := os.WriteFile(raw, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	half := filepath.Join(dir, "half.npy")
	h := make([]float32, len(x.Data))
	for i, v := range x.Data {
		h[i] = v / 2
	}
	writeNPY(t, half, h, x.Shape...)
	run := func(args ...string) []byte {
		t.Helper()
		out := filepath.Join(dir, "q.onnx")
		args = append(append([]string{"quantize", "-quiet", "-method", "entropy", "-o", out}, args...), model)
		if _, stderr, code := tq(t, dir, args...); code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, stderr)
		}
		m, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	want := run("-calib", calib)
	for _, args := range [][]string{
		{"-calib", z},
		{"-calib", "input=" + calib},
		{"-calib", chunks},
		{"-calib", raw, "-shape", "3,32,32"},
		{"-calib", half, "-preprocess", "2:0"},
	} {
		if got := run(args...); !bytes.Equal(got, want) {
			t.Errorf("%q: the model differs from the .npy run's", args)
		}
	}
}
