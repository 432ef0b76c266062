package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tensorquant/tensorquant/data/digits"
	"github.com/tensorquant/tensorquant/internal/qgemm"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/tensor"
)

// tqBinary is the tensorquant command built once (with the tests' build
// tags) for the tests that run it as a user would; tqPrefix runs it under an emulator when the tests
// themselves run under one (GOARCH=arm64 -exec qemu-aarch64-static).
var (
	tqBinary string
	tqPrefix []string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tensorquant-cli")
	if err != nil {
		panic(err)
	}
	tqBinary = filepath.Join(dir, "tensorquant")
	if out, err := exec.Command("go", "build", "-tags", buildTags, "-o", tqBinary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	if runtime.GOARCH == "arm64" && exec.Command(tqBinary, "version").Run() != nil {
		tqPrefix = []string{"qemu-aarch64-static"}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// tq runs the built binary and returns its stdout, stderr and exit code.
func tq(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	out, errOut, code, _ := tqMeasured(t, dir, args...)
	return out, errOut, code
}

// tqMeasured is tq that also returns the command's peak resident memory in
// bytes. A command that runs for more than two minutes (one that reads an
// endless input) is killed and fails the test.
func tqMeasured(t *testing.T, dir string, args ...string) (string, string, int, int64) {
	t.Helper()
	return tqMeasuredEnv(t, dir, nil, args...)
}

// tqMeasuredEnv is tqMeasured with env (NAME=VALUE) added to the
// command's environment.
func tqMeasuredEnv(t *testing.T, dir string, env []string, args ...string) (string, string, int, int64) {
	t.Helper()
	argv := append(append(append([]string{}, tqPrefix...), tqBinary), args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("tensorquant %q still ran after two minutes", args)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = int64(ru.Maxrss) * 1024 // kilobytes on Linux
	}
	return out.String(), errb.String(), code, rss
}

// gaussianBatches writes the three batches of the original's gaussian
// histogram vectors as .npy files and returns the reference results.
func gaussianBatches(t *testing.T, dir string) (files []string, amax map[string]float32) {
	t.Helper()
	var f struct {
		Batches []conformance.Tensor `json:"batches"`
		Configs []struct {
			Name        string `json:"name"`
			ComputeAmax []struct {
				Method string             `json:"method"`
				Kwargs map[string]any     `json:"kwargs"`
				Amax   conformance.Tensor `json:"amax"`
			} `json:"compute_amax"`
		} `json:"configs"`
	}
	if err := conformance.Load("calibrators_hist_gaussian.json", &f); err != nil {
		t.Fatal(err)
	}
	for i, b := range f.Batches {
		p := filepath.Join(dir, "batch"+strconv.Itoa(i)+".npy")
		if err := npy.WriteFile(p, b.MustFloat32()); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	amax = map[string]float32{}
	for _, c := range f.Configs {
		if c.Name != "gaussian/torch_hist/bins2048" {
			continue
		}
		for _, r := range c.ComputeAmax {
			if len(r.Kwargs) == 0 {
				amax[r.Method] = r.Amax.F32[0]
			}
		}
	}
	if len(amax) != 3 {
		t.Fatalf("reference results: %v", amax)
	}
	return files, amax
}

// TestCalibrateMatchesOriginal feeds the original's calibration batches
// through the command and compares every amax with the original's.
func TestCalibrateMatchesOriginal(t *testing.T) {
	dir := t.TempDir()
	files, want := gaussianBatches(t, dir)
	out, errOut, code := tq(t, dir, append([]string{"calibrate", "-json", "-quiet", "-methods", "entropy,percentile,mse,max"}, files...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var res struct {
		Values int
		Bins   int
		Amax   []amaxResult
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if res.Values != 3*16*64*64 || res.Bins != 3479 {
		t.Errorf("values %d bins %d, want %d and 3479 (grown as in the original)", res.Values, res.Bins, 3*16*64*64)
	}
	for _, r := range res.Amax {
		if w, ok := want[r.Method]; ok && r.Amax != w {
			t.Errorf("%s amax %v, the original gives %v", r.Method, r.Amax, w)
		}
	}
	if res.Amax[3].Method != "max" || res.Amax[3].Amax < res.Amax[0].Amax {
		t.Errorf("max amax %v", res.Amax[3])
	}
}

// TestCalibrateSaveMerge splits the batches over two shards, saves each
// shard's state, merges them and gets the same histogram as one run.
func TestCalibrateSaveMerge(t *testing.T) {
	dir := t.TempDir()
	files, _ := gaussianBatches(t, dir)
	whole, _, code := tq(t, dir, append([]string{"calibrate", "-quiet", "-bins", "512", "-methods", "percentile,max", "-save", "all.tqcal"}, files[2], files[0], files[1])...)
	if code != 0 {
		t.Fatalf("calibrate: exit %d", code)
	}
	// The seed holds the batch with the largest values, so that no shard
	// grows the histogram and the merge is exact.
	if _, e, code := tq(t, dir, "calibrate", "-quiet", "-bins", "512", "-save", "seed.tqcal", files[2]); code != 0 {
		t.Fatal(e)
	}
	for i, f := range files[:2] {
		if _, e, code := tq(t, dir, "calibrate", "-quiet", "-fork", "seed.tqcal", "-save", "s"+strconv.Itoa(i)+".tqcal", f); code != 0 {
			t.Fatal(e)
		}
	}
	merged, e, code := tq(t, dir, "merge", "-methods", "percentile,max", "-o", "m.tqcal", "-report", "m.html", "seed.tqcal", "s0.tqcal", "s1.tqcal")
	if code != 0 {
		t.Fatal(e)
	}
	if merged != whole {
		t.Errorf("merge printed\n%s\none run printed\n%s", merged, whole)
	}
	for _, f := range []string{"m.tqcal", "m.html"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	again, _, _ := tq(t, dir, "merge", "-methods", "percentile,max", "m.tqcal")
	if again != whole {
		t.Errorf("reloaded merge printed\n%s", again)
	}
}

func TestCalibrateRawAndBatches(t *testing.T) {
	dir := t.TempDir()
	x, _ := tensor.FromSlice([]float32{1, -2, 3, -4, 0.5, 0.25}, 3, 2)
	var raw bytes.Buffer
	if err := npy.Write(&raw, x); err != nil {
		t.Fatal(err)
	}
	b := raw.Bytes()
	os.WriteFile(filepath.Join(dir, "x.f32"), b[len(b)-24:], 0o644)
	out, e, code := tq(t, dir, "calibrate", "-quiet", "-shape", "3,2", "-batch-rows", "2", "-methods", "max", "x.f32")
	if code != 0 {
		t.Fatal(e)
	}
	want := "6 values, histogram of |x|: 2048 bins over [0, 4]\n\nmethod       amax\nmax          4\n"
	if out != want {
		t.Errorf("got\n%q\nwant\n%q", out, want)
	}
}

// TestErrorsAreOneLine: bad input gives one line on stderr and status 2.
func TestErrorsAreOneLine(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "junk.npy"), []byte("not numpy"), 0o644)
	os.WriteFile(filepath.Join(dir, "junk.tqcal"), []byte("TQCALSET\x01\xff"), 0o644)
	os.WriteFile(filepath.Join(dir, "x.f32"), make([]byte, 12), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"calibrate", "missing.npy"}, "tensorquant calibrate: open missing.npy: no such file or directory"},
		{[]string{"calibrate", "junk.npy"}, "tensorquant calibrate: junk.npy: npy: malformed file: not a .npy file (bad magic)"},
		{[]string{"calibrate", "-shape", "2,2", "x.f32"}, "tensorquant calibrate: x.f32: 12 bytes, shape [2 2] needs 16 (float32, little-endian)"},
		{[]string{"calibrate", "-shape", "2,x", "x.f32"}, `tensorquant calibrate: -shape "2,x": "x" is not a dimension`},
		{[]string{"calibrate", "-shape", "3", "-methods", "bogus", "x.f32"}, `tensorquant calibrate: method "bogus": calibrators: unknown calibration method "bogus" (the histogram calibrator has "entropy", "percentile" and "mse")`},
		{[]string{"calibrate", "-shape", "3", "-percentile", "101", "-methods", "percentile", "x.f32"}, "tensorquant calibrate: -percentile 101 out of range (0, 100]"},
		{[]string{"calibrate"}, "tensorquant calibrate: no input files (try -h)"},
		{[]string{"calibrate", "-bogus"}, "tensorquant calibrate: flag provided but not defined: -bogus"},
		{[]string{"merge", "junk.tqcal"}, "tensorquant merge: junk.tqcal: tensorquant calibration set of format version 1, written by an older tensorquant (this one reads version 2): run tensorquant calibrate -save (or -fork) again on the data"},
		{[]string{"merge", "junk.npy"}, "tensorquant merge: junk.npy: not a tensorquant calibration set (bad magic)"},
		{[]string{"bench", "-kernels", "nope"}, `tensorquant bench: unknown kernel "nope"`},
		{[]string{"bench", "-sizes", "100"}, "tensorquant bench: size 100 is not a multiple of 64"},
		{[]string{"nope"}, `tensorquant: unknown command "nope" (try tensorquant help)`},
	} {
		out, errOut, code := tq(t, dir, tc.args...)
		if code != 2 || out != "" || errOut != tc.want+"\n" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// TestFlagChecks runs the command with flag values it cannot use: each
// must give one short line naming the flag, and exit status 2. Before,
// export -epochs -1 printed an 8 KB line dumping the optimizer, export
// -epochs 0 wrote an untrained model (9.47% accuracy) and exited 0,
// calibrate -bins 0, -bits 0 and -stride 0 silently used the defaults,
// -percentile 0 gave amax 0, and -numpy-hist on an all-zero input failed
// with "mse candidate amax -0.437 is negative".
func TestFlagChecks(t *testing.T) {
	dir := t.TempDir()
	zeros := filepath.Join(dir, "zeros.npy")
	if err := npy.WriteFile(zeros, tensor.New(1000)); err != nil {
		t.Fatal(err)
	}
	x := filepath.Join(dir, "x.npy")
	if err := npy.WriteFile(x, &tensor.Tensor{Shape: []int{4}, Data: []float32{1, -2, 0.5, 3}}); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "x.tqcal")
	if _, errOut, code := tq(t, dir, "calibrate", "-quiet", "-save", state, x); code != 0 {
		t.Fatalf("calibrate -save: %s", errOut)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "-epochs", "-1"}, "tensorquant export: -epochs -1 out of range [1, 1000]"},
		{[]string{"export", "-epochs", "0"}, "tensorquant export: -epochs 0 out of range [1, 1000]"},
		{[]string{"demo", "-epochs", "0"}, "tensorquant demo: -epochs 0 out of range [1, 1000]"},
		{[]string{"calibrate", "-numpy-hist", zeros}, `tensorquant calibrate: method "mse": every |x| of the first batch is 0, so -numpy-hist bins from -0.5 and the mse candidates from -start-bin 128 on include negative amax values (the original fails too); drop -numpy-hist, raise -start-bin or leave mse out of -methods`},
		{[]string{"calibrate", "-bins", "0", x}, "tensorquant calibrate: -bins 0 out of range [1, 4194304]"},
		{[]string{"calibrate", "-bins", "-4", x}, "tensorquant calibrate: -bins -4 out of range [1, 4194304]"},
		{[]string{"calibrate", "-bins", "4194305", x}, "tensorquant calibrate: -bins 4194305 out of range [1, 4194304]"},
		{[]string{"calibrate", "-bits", "0", x}, "tensorquant calibrate: -bits 0: fakequant: num_bits 0 out of range [1, 32]"},
		{[]string{"calibrate", "-bits", "1", x}, "tensorquant calibrate: -bits 1: fakequant: signed quantization needs num_bits >= 2, got 1 (its only level would be 0)"},
		{[]string{"calibrate", "-bits", "33", "-unsigned", x}, "tensorquant calibrate: -bits 33: fakequant: num_bits 33 out of range [1, 32]"},
		{[]string{"calibrate", "-stride", "0", x}, "tensorquant calibrate: -stride 0: want at least 1"},
		{[]string{"calibrate", "-stride", "-2", x}, "tensorquant calibrate: -stride -2: want at least 1"},
		{[]string{"calibrate", "-start-bin", "-1", x}, "tensorquant calibrate: -start-bin -1 is negative"},
		{[]string{"calibrate", "-percentile", "0", x}, "tensorquant calibrate: -percentile 0 out of range (0, 100]"},
		{[]string{"calibrate", "-percentile", "-5", x}, "tensorquant calibrate: -percentile -5 out of range (0, 100]"},
		{[]string{"calibrate", "-percentile", "NaN", x}, "tensorquant calibrate: -percentile NaN out of range (0, 100]"},
		{[]string{"calibrate", "-batch-rows", "-1", x}, "tensorquant calibrate: -batch-rows -1 is negative"},
		{[]string{"merge", "-stride", "0", state}, "tensorquant merge: -stride 0: want at least 1"},
		{[]string{"merge", "-percentile", "100.5", state}, "tensorquant merge: -percentile 100.5 out of range (0, 100]"},
		{[]string{"bench", "-time", "0s"}, "tensorquant bench: -time 0s is not positive"},
		{[]string{"bench", "-sizes", "0"}, `tensorquant bench: -sizes: "0" is not an element count in [1, 2^28]`},
	} {
		out, errOut, code := tq(t, dir, tc.args...)
		if code != 2 || out != "" || errOut != tc.want+"\n" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
	// On the default (torch) path an all-zero input is accepted, as the
	// original accepts it: every method gives amax 0.
	out, errOut, code := tq(t, dir, "calibrate", "-json", "-quiet", zeros)
	var res struct{ Amax []amaxResult }
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || len(res.Amax) != 4 {
		t.Fatalf("all zeros: exit %d, stderr %q, stdout %q", code, errOut, out)
	}
	for _, r := range res.Amax {
		if r.Amax != 0 {
			t.Errorf("all zeros: %s amax %v, want 0", r.Method, r.Amax)
		}
	}
	// Unsigned 1 bit and the upper ends of the ranges are usable.
	if _, errOut, code := tq(t, dir, "calibrate", "-quiet", "-bits", "1", "-unsigned", "-percentile", "100", "-start-bin", "0", "-methods", "percentile,mse", x); code != 0 {
		t.Errorf("-bits 1 -unsigned -percentile 100 -start-bin 0: exit %d: %s", code, errOut)
	}
}

// TestHelpShowsAnExample: every command's -h prints its usage and an
// example on stdout and exits 0.
func TestHelpShowsAnExample(t *testing.T) {
	for _, c := range commands() {
		out, errOut, code := tq(t, t.TempDir(), c.name, "-h")
		if code != 0 || errOut != "" || !strings.Contains(out, "usage: tensorquant "+c.name) || !strings.Contains(out, "example:\n  tensorquant "+c.name) {
			t.Errorf("%s -h: exit %d, stderr %q, stdout\n%s", c.name, code, errOut, out)
		}
	}
	out, _, code := tq(t, t.TempDir(), "help")
	if code != 0 || !strings.Contains(out, "calibrate") || !strings.Contains(out, "bench") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
}

func TestBenchTable(t *testing.T) {
	out, e, code := tq(t, t.TempDir(), "bench", "-kernels", "FakeQuant,AbsMax", "-sizes", "4096", "-time", "1ms", "-json")
	if code != 0 {
		t.Fatal(e)
	}
	var rows []benchRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	selected := 0
	for _, r := range rows {
		if r.GElems <= 0 || r.N != 4096 {
			t.Errorf("row %+v", r)
		}
		if r.Selected {
			selected++
		}
	}
	if selected != 2 || rows[len(rows)-1].Impl != "copy()" {
		t.Errorf("rows %+v", rows)
	}
}

// TestDemo runs the main job as a user would and checks the issue's
// targets: the float CNN learns the digits, and the best 8-bit
// post-training calibration stays within one point of float.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the CNN; slow under -race and qemu")
	}
	dir := t.TempDir()
	out, errOut, code := tq(t, dir, "demo", "-json", "-out", dir, "-report", filepath.Join(dir, "report.html"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rows []demoRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	acc := map[string]float64{}
	for _, r := range rows {
		acc[r.Method] = r.Top1
		if r.Top1 < 0 || r.Top1 > 1 || r.Seconds < 0 {
			t.Errorf("row %+v", r)
		}
	}
	if acc["float"] < 0.95 {
		t.Errorf("float accuracy %.4f", acc["float"])
	}
	best := 0.0
	for _, m := range []string{"max", "entropy", "percentile 99.99", "mse"} {
		a, ok := acc["int8 PTQ, "+m]
		if !ok {
			t.Errorf("no int8 PTQ row for %s in %v", m, acc)
		}
		best = max(best, a)
	}
	if best < acc["float"]-0.01 {
		t.Errorf("best int8 PTQ %.4f, float %.4f", best, acc["float"])
	}
	for _, m := range []string{"int4 weights, int8 act, QAT", "fp8 e4m3 weights, int8 act, PTQ", "int4 block-32 weights, int8 act, PTQ"} {
		if _, ok := acc[m]; !ok {
			t.Errorf("no row %q", m)
		}
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || !strings.Contains(string(html), "features.0.input_quantizer") {
		t.Errorf("report: %v", err)
	}
	// The exported file runs in ONNX Runtime and classifies the test split
	// as our fine-tuned model does (to within one image of 359).
	var qat demoRow
	for _, r := range rows {
		if strings.HasPrefix(r.Method, "int8 QAT") {
			qat = r
		}
	}
	if qat.ONNXBytes == 0 {
		t.Fatalf("no ONNX size on the QAT row %+v", qat)
	}
	model := filepath.Join(dir, "tensorquant-demo.onnx")
	if st, err := os.Stat(model); err != nil || st.Size() != qat.ONNXBytes {
		t.Fatalf("%s: %v (size in the table %d)", model, err, qat.ONNXBytes)
	}
	set, err := digits.Load()
	if err != nil {
		t.Fatal(err)
	}
	_, test, err := set.Split(0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	out2 := exttool.RunORT(t, model, "all", map[string]exttool.Input{
		"input": {Dims: test.X.Shape, Type: "float32", F32: test.X.Data}})
	logits := out2["output"].F32
	correct := 0
	for i, label := range test.Labels {
		row := logits[i*digits.Classes : (i+1)*digits.Classes]
		best := 0
		for c, v := range row {
			if v > row[best] {
				best = c
			}
		}
		if best == label {
			correct++
		}
	}
	ortAcc := float64(correct) / float64(len(test.Labels))
	if d := ortAcc - qat.Top1; d > 1.0/359+1e-9 || d < -1.0/359-1e-9 {
		t.Errorf("ONNX Runtime accuracy %.4f, ours %.4f", ortAcc, qat.Top1)
	}
}

// TestExportAndVersionCommands run the two remaining commands as a user
// would (the export options are tested in detail in export_test.go).
func TestExportAndVersionCommands(t *testing.T) {
	dir := t.TempDir()
	out, e, code := tq(t, dir, "export", "-epochs", "2", "-o", "m.onnx")
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, e)
	}
	st, err := os.Stat(filepath.Join(dir, "m.onnx"))
	if err != nil || !strings.Contains(out, "wrote m.onnx: opset 13, ") || !strings.Contains(out, fmt.Sprintf("%d bytes", st.Size())) {
		t.Errorf("export printed %q (file: %v)", out, err)
	}
	out, _, code = tq(t, dir, "version")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 4 || !strings.HasPrefix(lines[0], "tensorquant ") || !strings.HasPrefix(lines[2], "kernels     fakequant=") || !strings.Contains(lines[2], " int8="+qgemm.Implementation()) {
		t.Errorf("version: exit %d\n%s", code, out)
	}
}
