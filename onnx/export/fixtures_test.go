package export

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/internal/testkit/models"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/onnx"
)

// TestFixturesRoundTrip: every reference model that imports (a float
// model PyTorch exported), written again by Graph, passes onnx's checker,
// loads in ONNX Runtime and gives what ONNX Runtime gives on the original
// file, within rtol 1e-4, atol 1e-5 (the constants folded here are
// computed by our kernels), at both batches (batch 1 under -short).
func TestFixturesRoundTrip(t *testing.T) {
	man := models.Open(t)
	ortNPY := filepath.Join(filepath.Dir(exttool.ORTScript(t)), "ort-npy.js")
	dir := t.TempDir()
	exported := map[string]*onnx.Model{}
	compared := 0
	for _, mo := range man.Models {
		for _, opset := range mo.Opsets {
			p, err := mo.Path(opset)
			if err != nil {
				t.Fatal(err)
			}
			g, err := graph.ImportFile(p)
			var ue *graph.UnsupportedError
			if errors.As(err, &ue) {
				t.Logf("%s: %v", p, err)
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			m, err := Graph(g)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, mo.Name+"_"+filepath.Base(p))
			if err := onnx.WriteFile(out, m); err != nil {
				t.Fatal(err)
			}
			exported[mo.Name+filepath.Base(p)] = m
			for _, batch := range mo.TestBatches() {
				res := t.TempDir()
				args := []string{ortNPY, "--opt=all", "-o", res, out}
				for _, in := range mo.Inputs {
					args = append(args, in.Name+"="+filepath.Join(man.Dir, mo.Name, fmt.Sprintf("b%d", batch), in.Name+".npy"))
				}
				exttool.Run(t, "node", args...)
				want, err := mo.ReadOutputs(batch, models.ORT(opset, true))
				if err != nil {
					t.Fatal(err)
				}
				for name, w := range want {
					got, err := npy.ReadFile(filepath.Join(res, name+".npy"))
					if err != nil {
						t.Fatal(err)
					}
					if err := models.Close(got, w, 1e-4, 1e-5); err != nil {
						t.Errorf("%s batch %d output %s: ORT on the export: %v", out, batch, name, err)
					}
				}
				compared++
			}
		}
	}
	if compared == 0 {
		t.Fatal("no reference model imports")
	}
	onnxCheck(t, exported)
}
