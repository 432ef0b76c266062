package onnx

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
)

var update = flag.Bool("update", false, "rewrite the committed test models in fakequant/testdata/qdq")

// qdqModel builds an opset-13 model y = DequantizeLinear(QuantizeLinear(x,
// scale, zp), scale, zp) that also outputs the codes q. With axis < 0 it is
// per-tensor: x has one symbolic dimension "n" and scale, zp are scalars;
// otherwise x is [a, C, b] with symbolic a, C, b, scale and zp are [C] and
// the nodes carry axis. When constant is false, scale and zp are graph
// inputs (so one model serves every scale); when true they come from
// Constant nodes with the given values, as PyTorch exports them.
func qdqModel(zpType DataType, axis int, constant bool, scale []float32, zp []int32) (*Model, error) {
	var xShape, pShape []Dimension
	if axis < 0 {
		xShape = []Dimension{DimParam("n")}
	} else {
		xShape = []Dimension{DimParam("a"), DimParam("C"), DimParam("b")}
		pShape = []Dimension{DimParam("C")}
	}
	var attrs []Attribute
	if axis >= 0 {
		attrs = append(attrs, IntAttr("axis", int64(axis)))
	}
	g := &Graph{Name: "qdq"}
	if constant {
		var dims []int64
		if axis >= 0 {
			dims = []int64{int64(len(scale))}
		}
		st, err := NewTensor("", dims, scale)
		if err != nil {
			return nil, err
		}
		var zt Tensor
		if zpType == Int8 {
			v := make([]int8, len(zp))
			for i, z := range zp {
				v[i] = int8(z)
			}
			zt, err = NewTensor("", dims, v)
		} else {
			v := make([]uint8, len(zp))
			for i, z := range zp {
				v[i] = uint8(z)
			}
			zt, err = NewTensor("", dims, v)
		}
		if err != nil {
			return nil, err
		}
		g.Node = append(g.Node, ConstantNode("scale_const", "scale", st), ConstantNode("zp_const", "zp", zt))
	} else {
		g.Input = append(g.Input, TensorValueInfo("scale", Float, pShape...), TensorValueInfo("zp", zpType, pShape...))
	}
	g.Input = append([]ValueInfo{TensorValueInfo("x", Float, xShape...)}, g.Input...)
	g.Node = append(g.Node,
		NewNode("QuantizeLinear", "quantize", []string{"x", "scale", "zp"}, []string{"q"}, attrs...),
		NewNode("DequantizeLinear", "dequantize", []string{"q", "scale", "zp"}, []string{"y"}, attrs...))
	g.Output = []ValueInfo{TensorValueInfo("q", zpType, xShape...), TensorValueInfo("y", Float, xShape...)}
	return &Model{
		IRVersion:       7,
		ProducerName:    "tensorquant",
		ProducerVersion: "test",
		OpsetImport:     []OperatorSetID{{Version: 13}},
		Graph:           g,
	}, nil
}

// qdqTestModels are the models that fakequant's ORT test runs.
func qdqTestModels() (map[string]*Model, error) {
	out := map[string]*Model{}
	for _, c := range []struct {
		name     string
		zp       DataType
		axis     int
		constant bool
		scale    []float32
		zp0      []int32
	}{
		{"qdq_i8.onnx", Int8, -1, false, nil, nil},
		{"qdq_u8.onnx", Uint8, -1, false, nil, nil},
		{"qdq_axis1_i8.onnx", Int8, 1, false, nil, nil},
		{"qdq_axis1_u8.onnx", Uint8, 1, false, nil, nil},
		// Constant parameters, as an exporter writes them: scale amax/127
		// with amax = 1.5, zero point 0; per channel 3 channels on axis 1.
		{"qdq_const_i8.onnx", Int8, -1, true, []float32{1.5 / 127}, []int32{0}},
		{"qdq_const_axis1_u8.onnx", Uint8, 1, true, []float32{0.01, 0.1, 3}, []int32{0, 128, 255}},
	} {
		m, err := qdqModel(c.zp, c.axis, c.constant, c.scale, c.zp0)
		if err != nil {
			return nil, err
		}
		out[c.name] = m
	}
	return out, nil
}

// TestQDQTestModels checks that the committed models fakequant's test runs
// with ONNX Runtime are what this encoder writes (go test -update rewrites
// them).
func TestQDQTestModels(t *testing.T) {
	root, err := conformance.Root()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "fakequant", "testdata", "qdq")
	models, err := qdqTestModels()
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range models {
		b, err := Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := WriteFile(path, m); err != nil {
				t.Fatal(err)
			}
			continue
		}
		old, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./onnx -run TestQDQTestModels -update)", err)
		}
		if !bytes.Equal(old, b) {
			t.Errorf("%s differs from the encoder's output (run go test ./onnx -run TestQDQTestModels -update)", path)
		}
	}
}
