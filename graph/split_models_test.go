package graph_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/testkit/models"
	"github.com/tensorquant/tensorquant/onnx"
)

// TestSplitBatchModels runs every reference model (opset 17), and the
// QDQ files of the small ones in int8, at batch 4 on three threads — a
// split run: the batch in parts of 1, 1 and 2 items at once — and whole
// on one thread: the outputs are the same bit for bit. Every reference
// model is one whose runs split.
func TestSplitBatchModels(t *testing.T) {
	if testing.Short() {
		t.Skip("loads ~300 MB of models")
	}
	man := models.Open(t)
	check := func(t *testing.T, g *graph.Graph, in map[string]*graph.Tensor) {
		t.Helper()
		whole := must(graph.NewSession(g, graph.Options{Threads: 1}))
		split := must(graph.NewSession(g, graph.Options{Threads: 3}))
		if !split.SplitsBatch() {
			t.Fatal("the session runs batches whole")
		}
		want := must(whole.Run(in))
		got := must(split.Run(in))
		for name, w := range want {
			if g := got[name]; !slices.Equal(g.Shape, w.Shape) || !slices.Equal(g.F32, w.F32) {
				t.Errorf("output %s: split run differs from the whole run", name)
			}
		}
	}
	for _, mo := range man.Models {
		t.Run(mo.Name, func(t *testing.T) {
			in := floats(must(mo.ReadInputs(4)))
			check(t, must(graph.Import(must(onnx.ReadFile(must(mo.Path(17)))))), in)
		})
	}
	for _, name := range []string{"fashion_cnn", "mobilenet_v3_small", "encoder"} {
		t.Run(fmt.Sprintf("%s/int8", name), func(t *testing.T) {
			mo, _, file := quantizedModel(t, man, name, t.TempDir(), false)
			check(t, must(graph.ImportFile(file)), floats(must(mo.ReadInputs(4))))
		})
	}
}
