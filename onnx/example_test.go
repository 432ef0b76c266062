package onnx_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
	"github.com/tensorquant/tensorquant/onnx"
)

// buildExample builds y = DequantizeLinear(QuantizeLinear(x)) with the
// scale and zero point of an 8-bit per-tensor quantizer with amax 1.5, as
// PyTorch exports it: opset 13, Constant nodes for scale and zero point.
func buildExample() (*onnx.Model, error) {
	scale, err := onnx.NewTensor("", nil, []float32{1.5 / 127})
	if err != nil {
		return nil, err
	}
	zeroPoint, err := onnx.NewTensor("", nil, []int8{0})
	if err != nil {
		return nil, err
	}
	ir, err := onnx.IRVersionForOpset(13)
	if err != nil {
		return nil, err
	}
	return &onnx.Model{
		IRVersion:    ir,
		ProducerName: "tensorquant",
		OpsetImport:  []onnx.OperatorSetID{{Version: 13}},
		Graph: &onnx.Graph{
			Name: "qdq",
			Node: []onnx.Node{
				onnx.ConstantNode("scale", "scale", scale),
				onnx.ConstantNode("zero_point", "zero_point", zeroPoint),
				onnx.NewNode("QuantizeLinear", "quantize", []string{"x", "scale", "zero_point"}, []string{"q"}),
				onnx.NewNode("DequantizeLinear", "dequantize", []string{"q", "scale", "zero_point"}, []string{"y"}),
			},
			Input:  []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.DimParam("batch"), onnx.DimValue(4))},
			Output: []onnx.ValueInfo{onnx.TensorValueInfo("y", onnx.Float, onnx.DimParam("batch"), onnx.DimValue(4))},
		},
	}, nil
}

// Build a QuantizeLinear → DequantizeLinear model, encode it, and write it
// to a file atomically.
func ExampleMarshal() {
	m, err := buildExample()
	if err != nil {
		fmt.Println(err)
		return
	}
	b, err := onnx.Marshal(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	path := filepath.Join(os.TempDir(), "tensorquant-example-qdq.onnx")
	if err := onnx.WriteFile(path, m); err != nil {
		fmt.Println(err)
		return
	}
	defer os.Remove(path)

	back, err := onnx.ReadFile(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(b), "bytes, IR version", back.IRVersion)
	for _, n := range back.Graph.Node {
		fmt.Println(n.OpType, n.Input, "->", n.Output)
	}
	s, _ := onnx.TensorValues[float32](back.Graph.Node[0].Attribute[0].T)
	fmt.Printf("scale %.6f\n", s[0])
	// Output:
	// 292 bytes, IR version 7
	// Constant [] -> [scale]
	// Constant [] -> [zero_point]
	// QuantizeLinear [x scale zero_point] -> [q]
	// DequantizeLinear [q scale zero_point] -> [y]
	// scale 0.011811
}

// TestExampleModelTools runs the example's model through the external
// checkers: protoc (schema fields only, canonical bytes), the onnx checker,
// and ONNX Runtime, whose Q/DQ results it compares with the expected codes.
func TestExampleModelTools(t *testing.T) {
	m, err := buildExample()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "example.onnx")
	if err := onnx.WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	t.Run("proto-decode", func(t *testing.T) {
		exttool.Run(t, exttool.ProtoDecode(t), "--strict", "--roundtrip", path)
	})
	t.Run("onnx-check", func(t *testing.T) {
		if out := string(exttool.Run(t, exttool.OnnxCheck(t), path)); !strings.Contains(out, "OK ") {
			t.Errorf("onnx-check: %s", out)
		}
	})
	t.Run("ort", func(t *testing.T) {
		out := exttool.RunORT(t, path, "all", map[string]exttool.Input{
			"x": {Dims: []int{1, 4}, Type: "float32", F32: []float32{0.1, -2, 0.75, 1.49}},
		})
		// scale 1.5/127: 0.1 → 8; -2 saturates at -128; float32 products.
		var s float32 = 1.5 / 127
		want := []float32{8 * s, -128 * s, 64 * s, 126 * s}
		y := out["y"].F32
		if len(y) != len(want) {
			t.Fatalf("y = %v", y)
		}
		for i := range want {
			if y[i] != want[i] {
				t.Errorf("y[%d] = %v, want %v", i, y[i], want[i])
			}
		}
	})
}
