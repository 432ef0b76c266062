package graph_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
)

// A model whose initializers are in an external data file (as WriteFile
// writes models over 2 GiB) imports with ImportFile, and a run that would
// hold more than Options.MaxMemory bytes of values fails instead of
// exhausting memory.
func ExampleImportFile() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	w, _ := onnx.NewTensor("w", []int64{256}, make([]float32, 256)) // 1 KiB: external
	m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 17}}, Graph: &onnx.Graph{
		Input:       []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.DimParam("N"), onnx.DimValue(256))},
		Output:      []onnx.ValueInfo{{Name: "y"}},
		Initializer: []onnx.Tensor{w},
		Node:        []onnx.Node{onnx.NewNode("Add", "add", []string{"x", "w"}, []string{"y"})},
	}}
	path := filepath.Join(dir, "model.onnx")
	if err := onnx.WriteFileExternal(path, m, onnx.ExternalOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	g, err := graph.ImportFile(path) // reads model.onnx and model.onnx.data
	if err != nil {
		fmt.Println(err)
		return
	}
	s, _ := graph.NewSession(g, graph.Options{MaxMemory: 1 << 20})
	for _, n := range []int{2, 2048} {
		x, _ := graph.Floats(make([]float32, n*256), n, 256)
		out, err := s.Run(map[string]*graph.Tensor{"x": x})
		if errors.Is(err, graph.ErrMemoryLimit) {
			fmt.Println("batch", n, "refused:", err)
			continue
		}
		fmt.Println("batch", n, "->", out["y"])
	}
	// Output:
	// batch 2 -> FLOAT[2 256]
	// batch 2048 refused: graph: node "add" (Add): graph: memory limit exceeded: FLOAT[2048 256] takes 2097152 bytes, with 0 in use the limit is 1048576
}
