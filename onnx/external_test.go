package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
)

// fullModel sets every field this package models, with zero values where
// presence matters; it is for the wire-format checks, not a runnable graph.
func fullModel(t *testing.T) *Model {
	t.Helper()
	w, err := NewTensor("w", []int64{2, 3}, []float32{1, -2, 3, 0, 5e-39, -6})
	if err != nil {
		t.Fatal(err)
	}
	zp, err := NewTensor("zp", nil, []uint8{128})
	if err != nil {
		t.Fatal(err)
	}
	typed := Tensor{
		Name: "typed", DocString: "typed fields", DataType: Int64, Dims: []int64{2},
		Int64Data: []int64{-1, 1 << 40},
	}
	typed2 := Tensor{Name: "i32", DataType: Int8, Dims: []int64{3}, Int32Data: []int32{-128, 0, 127}}
	typed3 := Tensor{Name: "f", DataType: Float, Dims: []int64{1}, FloatData: []float32{0.5}}
	typed4 := Tensor{Name: "d", DataType: Double, Dims: []int64{1}, DoubleData: []float64{0.25}}
	typed5 := Tensor{Name: "u", DataType: Uint64, Dims: []int64{1}, Uint64Data: []uint64{1 << 63}}
	x := TensorValueInfo("x", Float, DimParam("batch"), DimValue(3), DimValue(0), Dimension{})
	x.DocString = "input"
	x.Type.Denotation = "TENSOR"
	x.Type.Tensor.Shape.Dim[0].Denotation = "DATA_BATCH"
	node := NewNode("QuantizeLinear", "q", []string{"x", "s", ""}, []string{"y"},
		FloatAttr("f", 0), IntAttr("i", -3), StringAttr("s", "text"), TensorAttr("t", zp),
		FloatsAttr("fs", 1, -0.5), IntsAttr("is", 0, -1, 1<<40), StringsAttr("ss", "a", ""))
	node.Domain = "com.example"
	node.DocString = "node doc"
	node.Attribute[0].DocString = "attr doc"
	return &Model{
		IRVersion: 8, ProducerName: "tensorquant", ProducerVersion: "0", Domain: "org.tensorquant",
		ModelVersion: 2, DocString: "all fields",
		OpsetImport:   []OperatorSetID{{Version: 17}, {Domain: "com.example", Version: 1}},
		MetadataProps: []StringStringEntry{{Key: "k", Value: "v"}, {Key: "empty"}},
		Graph: &Graph{
			Name: "g", DocString: "graph doc",
			Node:        []Node{node},
			Initializer: []Tensor{w, typed, typed2, typed3, typed4, typed5},
			Input:       []ValueInfo{x},
			Output:      []ValueInfo{TensorValueInfo("y", Uint8, DimParam("batch"), DimValue(3))},
			ValueInfo:   []ValueInfo{{Name: "untyped"}, TensorValueInfo("scalar", Float)},
		},
	}
}

// writeTemp writes b to a file in a fresh temporary directory.
func writeTemp(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestProtocConformance: protoc reads our re-encoding of PyTorch's files
// with no unknown field, prints the same text as for the originals, and
// re-encodes it to the same bytes.
func TestProtocConformance(t *testing.T) {
	pd := exttool.ProtoDecode(t)
	for _, name := range conformanceModels {
		orig := readConformance(t, name)
		m, err := Unmarshal(orig)
		if err != nil {
			t.Fatal(err)
		}
		ours := writeTemp(t, name, mustMarshal(t, m))
		text := exttool.Run(t, pd, "--strict", "--roundtrip", ours)
		want := exttool.Run(t, pd, writeTemp(t, "orig.onnx", orig))
		if !bytes.Equal(text, want) {
			t.Errorf("%s: protoc's text of the re-encoding differs from that of the original", name)
		}
		if !bytes.Contains(text, []byte(`op_type: "QuantizeLinear"`)) {
			t.Errorf("%s: protoc's text lacks the QuantizeLinear nodes", name)
		}
	}
}

// TestProtocBuiltModels: models built with this package use only field
// numbers and wire types of the schema (--strict) and are in protoc's
// canonical form (--roundtrip: protoc re-encodes them byte for byte).
func TestProtocBuiltModels(t *testing.T) {
	pd := exttool.ProtoDecode(t)
	models, err := qdqTestModels()
	if err != nil {
		t.Fatal(err)
	}
	models["full.onnx"] = fullModel(t)
	for name, m := range models {
		text := string(exttool.Run(t, pd, "--strict", "--roundtrip", writeTemp(t, name, mustMarshal(t, m))))
		if name == "full.onnx" {
			for _, want := range []string{`dim_value: 0`, `f: 0`, `i: -3`, `s: ""`, `strings: ""`, `type: STRINGS`,
				`data_type: 13`, `uint64_data: 9223372036854775808`, `double_data: 0.25`, `int32_data: -128`,
				`denotation: "DATA_BATCH"`, `model_version: 2`, `key: "empty"`, `domain: "com.example"`} {
				if !strings.Contains(text, want) {
					t.Errorf("full.onnx: protoc's text lacks %q", want)
				}
			}
		}
	}
}

// TestOnnxCheck: the reference checker (full check, strict shape
// inference) accepts the runnable models this package builds.
func TestOnnxCheck(t *testing.T) {
	oc := exttool.OnnxCheck(t)
	models, err := qdqTestModels()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var paths []string
	for name, m := range models {
		path := filepath.Join(dir, name)
		if err := WriteFile(path, m); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	out := string(exttool.Run(t, oc, paths...)) // one python start for all
	for _, path := range paths {
		if !strings.Contains(out, "OK "+path+"\n") {
			t.Errorf("onnx-check does not accept %s:\n%s", filepath.Base(path), out)
		}
	}
}
