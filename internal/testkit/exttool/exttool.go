// Package exttool lets tests use the external ONNX checkers vendored in
// tools/onnxcheck: ONNX Runtime (node + onnxruntime-node), Debian's
// python3-onnx checker, and protoc. A test that needs a missing tool is
// skipped with a message saying how to install it, unless the environment
// sets TQ_REQUIRE_TOOLS=1 (make onnx, make test), in which case it fails.
//
// It is a test helper: only _test.go files import it.
package exttool

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"golang.org/x/sys/cpu"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
)

// Required reports whether TQ_REQUIRE_TOOLS=1 is set.
func Required() bool { return os.Getenv("TQ_REQUIRE_TOOLS") == "1" }

// Missing skips t (or fails it under TQ_REQUIRE_TOOLS=1) because a tool is
// absent.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (make tools-onnx installs it)"
	if Required() {
		t.Fatal("TQ_REQUIRE_TOOLS=1: " + msg)
	}
	t.Skip(msg)
}

// Dir returns the absolute path of tools/onnxcheck.
func Dir(t testing.TB) string {
	t.Helper()
	root, err := conformance.Root()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "tools", "onnxcheck")
}

// ProtoDecode returns the path of the proto-decode script, after checking
// that protoc is installed.
func ProtoDecode(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("protoc"); err != nil {
		Missing(t, "protoc not found (Debian package protobuf-compiler)")
	}
	return filepath.Join(Dir(t), "proto-decode")
}

// OnnxCheck returns the path of the onnx-check script, after checking that
// Debian's /usr/bin/python3 can import onnx.
func OnnxCheck(t testing.TB) string {
	t.Helper()
	PythonONNX(t)
	return filepath.Join(Dir(t), "onnx-check")
}

// PythonONNX returns the path of Debian's python3 (/usr/bin/python3), after
// checking that it can import onnx.
func PythonONNX(t testing.TB) string {
	t.Helper()
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import onnx").Run(); err != nil {
		Missing(t, "%s cannot import onnx (Debian package python3-onnx): %v", python, err)
	}
	return python
}

// ORTScript returns the path of ort-run.js, after checking that node and
// the npm packages (npm ci in tools/onnxcheck) are installed.
func ORTScript(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		Missing(t, "node not found")
	}
	dir := Dir(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "onnxruntime-node")); err != nil {
		Missing(t, "onnxruntime-node not installed in %s (npm ci there)", dir)
	}
	return filepath.Join(dir, "ort-run.js")
}

// Run runs name with args and returns its standard output; a non-zero exit
// fails t with the command's standard error.
func Run(t testing.TB, name string, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, stderr.Bytes())
	}
	return out
}

// Input is one graph input for ORT: its dims, element type ("float32",
// "int8", "uint8", ...) and flat row-major values (float32 values may be
// NaN or ±Inf).
type Input struct {
	Dims []int
	Type string
	F32  []float32
	Ints []int64
}

// MarshalJSON writes ort-run.js's input format.
func (in Input) MarshalJSON() ([]byte, error) {
	data := make([]any, 0, len(in.F32)+len(in.Ints))
	for _, v := range in.F32 {
		switch {
		case v != v:
			data = append(data, "NaN")
		case math.IsInf(float64(v), 1):
			data = append(data, "Infinity")
		case math.IsInf(float64(v), -1):
			data = append(data, "-Infinity")
		default:
			data = append(data, json.Number(strconv.FormatFloat(float64(v), 'g', -1, 32)))
		}
	}
	for _, v := range in.Ints {
		data = append(data, v)
	}
	dims := in.Dims
	if dims == nil {
		dims = []int{}
	}
	return json.Marshal(map[string]any{"dims": dims, "type": in.Type, "data": data})
}

// Output is one graph output from ORT: float32 outputs as exact bit
// patterns (F32), integer outputs as Ints.
type Output struct {
	Dims []int
	Type string
	F32  []float32
	Ints []int64
}

// ORTIntegerExact reports whether ONNX Runtime's integer kernels sum
// exactly on this CPU. On amd64 without AVX-512 VNNI or AVX-VNNI its MLAS
// multiplies u8 by s8 with VPMADDUBSW, whose int16 sums of two products
// saturate (ONNX Runtime's quantization guide says so, and suggests
// reduce_range or U8U8): there its optimised run of a QDQ model departs
// from its own node-by-node run by tens of output steps (49 on resnet18
// on an AVX2-only AMD EPYC), and it is no reference for ours.
func ORTIntegerExact() bool {
	return runtime.GOARCH != "amd64" || cpu.X86.HasAVX512VNNI || cpu.X86.HasAVXVNNI
}

// ORTIntegerOpt returns the optimization level at which ONNX Runtime's
// outputs of a quantized model are a reference on this CPU: "all" (its
// fused integer kernels) where ORTIntegerExact, else "disabled" (node by
// node: Q/DQ and the float layers between them).
func ORTIntegerOpt() string {
	if ORTIntegerExact() {
		return "all"
	}
	return "disabled"
}

// RunORT runs model in ONNX Runtime with ort-run.js at graph optimization
// level opt ("disabled" or "all", ...) on one thread and returns its outputs.
// Float32 outputs are read from their bit patterns (--bits), so the sign of
// zero is kept.
func RunORT(t testing.TB, model, opt string, inputs map[string]Input) map[string]Output {
	t.Helper()
	script := ORTScript(t)
	b, err := json.Marshal(inputs)
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "inputs.json")
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := Run(t, "node", script, "--bits", "--threads=1", "--opt="+opt, model, in)
	var raw map[string]struct {
		Dims []int    `json:"dims"`
		Type string   `json:"type"`
		Data []any    `json:"data"`
		Bits []string `json:"bits"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatalf("ort-run output: %v", err)
	}
	res := map[string]Output{}
	for name, r := range raw {
		o := Output{Dims: r.Dims, Type: r.Type}
		if r.Type == "float32" {
			for _, s := range r.Bits {
				u, err := strconv.ParseUint(s, 10, 32)
				if err != nil {
					t.Fatalf("ort-run output %s: bits %q: %v", name, s, err)
				}
				o.F32 = append(o.F32, math.Float32frombits(uint32(u)))
			}
			if len(o.F32) != len(r.Data) {
				t.Fatalf("ort-run output %s: %d bit patterns for %d values", name, len(o.F32), len(r.Data))
			}
		} else {
			for _, v := range r.Data {
				f, ok := v.(float64)
				if !ok || f != math.Trunc(f) {
					t.Fatalf("ort-run output %s (%s): value %v is not an integer", name, r.Type, v)
				}
				o.Ints = append(o.Ints, int64(f))
			}
		}
		res[name] = o
	}
	return res
}
