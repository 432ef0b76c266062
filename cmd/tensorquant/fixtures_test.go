package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/internal/testkit/models"
	"github.com/tensorquant/tensorquant/npy"
)

// pyInfoScript prints, for each model file, what onnx's Python package
// reads in it: inputs (not initializers) and outputs with element type
// names and dims, the op histogram, the node count and the parameter
// count (elements of every initializer).
const pyInfoScript = `import sys, json, collections, onnx
from onnx import TensorProto
out = {}
def dims(t):
    if not t.tensor_type.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.tensor_type.shape.dim]
def vi(v):
    return {"name": v.name, "dtype": TensorProto.DataType.Name(v.type.tensor_type.elem_type), "shape": dims(v.type)}
for p in sys.argv[1:]:
    m = onnx.load(p, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    params = 0
    for t in m.graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        params += n
    ops = collections.Counter((n.domain + "." if n.domain not in ("", "ai.onnx") else "") + n.op_type for n in m.graph.node)
    out[p] = {"inputs": [vi(v) for v in m.graph.input if v.name not in inits], "outputs": [vi(v) for v in m.graph.output],
              "ops": dict(ops), "nodes": len(m.graph.node), "parameters": params,
              "opsets": {(o.domain or "ai.onnx"): o.version for o in m.opset_import}, "ir_version": m.ir_version}
print(json.dumps(out))
`

// TestInfoOnFixtures runs tensorquant info -json on every reference model
// (torchvision's, the encoders, the Fashion-MNIST CNN) at each opset and
// compares it with what onnx's Python package reads: inputs, output
// names and types, opsets, op histogram, node and parameter counts. A
// model imports exactly when no op is unsupported (or says why not).
func TestInfoOnFixtures(t *testing.T) {
	man := models.Open(t)
	py := exttool.PythonONNX(t)
	var paths []string
	for _, mo := range man.Models {
		for _, opset := range mo.Opsets {
			p, err := mo.Path(opset)
			if err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
	}
	var ref map[string]struct {
		Inputs     []valueInfo      `json:"inputs"`
		Outputs    []valueInfo      `json:"outputs"`
		Ops        map[string]int   `json:"ops"`
		Nodes      int              `json:"nodes"`
		Parameters int64            `json:"parameters"`
		Opsets     map[string]int64 `json:"opsets"`
		IRVersion  int64            `json:"ir_version"`
	}
	if err := json.Unmarshal(exttool.Run(t, py, append([]string{"-c", pyInfoScript}, paths...)...), &ref); err != nil {
		t.Fatal(err)
	}
	imported := 0
	for _, p := range paths {
		out, errOut, code := tq(t, t.TempDir(), "info", "-json", p)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", p, code, errOut)
			continue
		}
		var got modelInfo
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		want := ref[p]
		ops := map[string]int{}
		for _, o := range got.Ops {
			ops[o.Op] = o.Count
		}
		if fmt.Sprint(got.Inputs) != fmt.Sprint(want.Inputs) || fmt.Sprint(ops) != fmt.Sprint(want.Ops) ||
			got.Nodes != want.Nodes || got.Parameters != want.Parameters || fmt.Sprint(got.Opsets) != fmt.Sprint(want.Opsets) || got.IRVersion != want.IRVersion {
			t.Errorf("%s: info says\n%+v\nonnx reads\n%+v", p, got, want)
		}
		for i, o := range got.Outputs {
			if i >= len(want.Outputs) || o.Name != want.Outputs[i].Name || o.DType != want.Outputs[i].DType {
				t.Errorf("%s: outputs %+v, onnx reads %+v", p, got.Outputs, want.Outputs)
			}
		}
		switch {
		case got.Imports && len(got.Unsupported) == 0:
			imported++
		case !got.Imports && len(got.Unsupported) > 0 && strings.Contains(got.ImportError, "unsupported op type(s)"):
		default:
			t.Errorf("%s: imports %v, unsupported %v, error %q", p, got.Imports, got.Unsupported, got.ImportError)
		}
	}
	t.Logf("%d of %d fixture files import", imported, len(paths))
}

// TestRunOnFixtures runs every reference model that imports through
// tensorquant run at both batches (the first under -short) and compares its output with ONNX
// Runtime's (optimisation on, one thread) within the tolerance,
// rtol 1e-4, atol 1e-5. At least one model must import (the encoders
// need only the ops every build has). Under an emulator
// (models.Emulated) it runs the Fashion-MNIST CNNs only.
func TestRunOnFixtures(t *testing.T) {
	man := models.Open(t)
	compared := 0
	for _, mo := range man.Models {
		if models.Emulated() && !strings.HasPrefix(mo.Name, "fashion_cnn") {
			continue
		}
		for _, opset := range mo.Opsets {
			p, err := mo.Path(opset)
			if err != nil {
				t.Fatal(err)
			}
			for _, batch := range mo.TestBatches() {
				dir := t.TempDir()
				args := []string{"run", "-o", dir}
				for _, in := range mo.Inputs {
					args = append(args, "-i", in.Name+"="+filepath.Join(man.Dir, mo.Name, fmt.Sprintf("b%d", batch), in.Name+".npy"))
				}
				_, errOut, code := tq(t, dir, append(args, p)...)
				if code != 0 {
					if !strings.Contains(errOut, "unsupported op type(s)") {
						t.Errorf("%s batch %d: exit %d: %s", p, batch, code, errOut)
					}
					continue
				}
				want, err := mo.ReadOutputs(batch, models.ORT(opset, true))
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range mo.Outputs {
					got, err := npy.ReadFile(filepath.Join(dir, o.Name+".npy"))
					if err != nil {
						t.Fatal(err)
					}
					if err := models.Close(got, want[o.Name], 1e-4, 1e-5); err != nil {
						t.Errorf("%s batch %d output %s: %v", p, batch, o.Name, err)
					}
				}
				compared++
			}
		}
	}
	if compared == 0 {
		t.Fatal("no reference model imports")
	}
	t.Logf("%d model runs agree with ONNX Runtime", compared)
}
