package onnx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
)

// conformanceModels are the files PyTorch 1.13 wrote when exporting the
// original toolkit's tiny QDQ model (testdata/conformance).
var conformanceModels = []string{"tiny_qdq_model.onnx", "tiny_qdq_model_v2_1_2_fb.onnx"}

func readConformance(t *testing.T, name string) []byte {
	t.Helper()
	root, err := conformance.Root()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "testdata", "conformance", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConformanceRoundTrip: decoding PyTorch's files and encoding them
// again gives the same bytes.
func TestConformanceRoundTrip(t *testing.T) {
	for _, name := range conformanceModels {
		b := readConformance(t, name)
		m, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, err := Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b) {
			i := 0
			for i < len(out) && i < len(b) && out[i] == b[i] {
				i++
			}
			t.Errorf("%s: re-encoding differs at byte %d (%d bytes, original %d)", name, i, len(out), len(b))
		}
		if len(m.x.unknown) != 0 || len(m.Graph.x.unknown) != 0 {
			t.Errorf("%s: unexpected unknown fields", name)
		}
	}
}

// jsonGraph is the description of the exported graphs in
// tiny_qdq_model.json (written independently, by onnx's Python package).
type jsonGraph struct {
	IRVersion       int64  `json:"ir_version"`
	ProducerName    string `json:"producer_name"`
	ProducerVersion string `json:"producer_version"`
	OpsetImport     []struct {
		Domain  string `json:"domain"`
		Version int64  `json:"version"`
	} `json:"opset_import"`
	Inputs  []jsonValue `json:"inputs"`
	Outputs []jsonValue `json:"outputs"`
	Nodes   []struct {
		OpType     string                     `json:"op_type"`
		Name       string                     `json:"name"`
		Domain     string                     `json:"domain"`
		Inputs     []string                   `json:"inputs"`
		Outputs    []string                   `json:"outputs"`
		Attributes map[string]json.RawMessage `json:"attributes"`
	} `json:"nodes"`
	Initializers []jsonTensor `json:"initializers"`
}

type jsonValue struct {
	Name     string  `json:"name"`
	ElemType string  `json:"elem_type"`
	Shape    []int64 `json:"shape"`
}

type jsonTensor struct {
	Name     string             `json:"name"`
	DataType string             `json:"data_type"`
	Dims     []int64            `json:"dims"`
	Value    conformance.Tensor `json:"value"`
}

// checkTensor compares a decoded tensor with its JSON description.
func checkTensor(t *testing.T, where string, got *Tensor, want jsonTensor) {
	t.Helper()
	if got.Name != want.Name || got.DataType.String() != want.DataType || !slices.Equal(got.Dims, want.Dims) {
		t.Errorf("%s: tensor %q %v %v, want %q %s %v", where, got.Name, got.DataType, got.Dims, want.Name, want.DataType, want.Dims)
		return
	}
	switch got.DataType {
	case Float:
		v, err := TensorValues[float32](got)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		if d := conformance.DiffFloat32(v, want.Value.F32); d != "" {
			t.Errorf("%s: values: %s", where, d)
		}
	case Int8:
		v, err := TensorValues[int8](got)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		w := make([]int8, len(want.Value.I64))
		for i, x := range want.Value.I64 {
			w[i] = int8(x)
		}
		if !slices.Equal(v, w) {
			t.Errorf("%s: values %v, want %v", where, v, w)
		}
	default:
		t.Errorf("%s: unexpected data type %v", where, got.DataType)
	}
}

func checkValueInfo(t *testing.T, where string, got ValueInfo, want jsonValue) {
	t.Helper()
	tt := got.Type.Tensor
	var dims []int64
	for _, d := range tt.Shape.Dim {
		dims = append(dims, d.Value)
	}
	if got.Name != want.Name || tt.ElemType.String() != want.ElemType || !slices.Equal(dims, want.Shape) {
		t.Errorf("%s: %q %v %v, want %q %s %v", where, got.Name, tt.ElemType, dims, want.Name, want.ElemType, want.Shape)
	}
}

// TestConformanceContent compares the decoded models with the JSON
// description of the same files.
func TestConformanceContent(t *testing.T) {
	var f struct {
		ONNX map[string]struct {
			File  string    `json:"file"`
			Graph jsonGraph `json:"graph"`
		} `json:"onnx"`
	}
	if err := conformance.Load("tiny_qdq_model.json", &f); err != nil {
		t.Fatal(err)
	}
	if len(f.ONNX) != 2 {
		t.Fatalf("%d exports in tiny_qdq_model.json, want 2", len(f.ONNX))
	}
	for key, e := range f.ONNX {
		m, err := Unmarshal(readConformance(t, e.File))
		if err != nil {
			t.Fatal(err)
		}
		g, want := m.Graph, e.Graph
		if m.IRVersion != want.IRVersion || m.ProducerName != want.ProducerName || m.ProducerVersion != want.ProducerVersion {
			t.Errorf("%s: header %d %q %q", key, m.IRVersion, m.ProducerName, m.ProducerVersion)
		}
		if len(m.OpsetImport) != len(want.OpsetImport) || m.OpsetImport[0].Domain != want.OpsetImport[0].Domain || m.OpsetImport[0].Version != want.OpsetImport[0].Version {
			t.Errorf("%s: opset_import %+v", key, m.OpsetImport)
		}
		if len(g.Node) != len(want.Nodes) || len(g.Initializer) != len(want.Initializers) ||
			len(g.Input) != len(want.Inputs) || len(g.Output) != len(want.Outputs) {
			t.Fatalf("%s: %d nodes %d initializers %d inputs %d outputs", key, len(g.Node), len(g.Initializer), len(g.Input), len(g.Output))
		}
		for i, wn := range want.Nodes {
			n := g.Node[i]
			where := fmt.Sprintf("%s node %d (%s)", key, i, wn.Name)
			if n.OpType != wn.OpType || n.Name != wn.Name || n.Domain != wn.Domain ||
				!slices.Equal(n.Input, wn.Inputs) ||
				!slices.Equal(n.Output, wn.Outputs) {
				t.Errorf("%s: %s %q %q %v %v", where, n.OpType, n.Name, n.Domain, n.Input, n.Output)
			}
			if len(n.Attribute) != len(wn.Attributes) {
				t.Errorf("%s: %d attributes, want %d", where, len(n.Attribute), len(wn.Attributes))
			}
			for _, a := range n.Attribute {
				raw, ok := wn.Attributes[a.Name]
				if !ok {
					t.Errorf("%s: unexpected attribute %q", where, a.Name)
					continue
				}
				checkAttribute(t, where+" attribute "+a.Name, a, raw)
			}
		}
		for i, w := range want.Initializers {
			checkTensor(t, fmt.Sprintf("%s initializer %d", key, i), &g.Initializer[i], w)
		}
		for i, w := range want.Inputs {
			checkValueInfo(t, fmt.Sprintf("%s input %d", key, i), g.Input[i], w)
		}
		for i, w := range want.Outputs {
			checkValueInfo(t, fmt.Sprintf("%s output %d", key, i), g.Output[i], w)
		}
	}
}

func checkAttribute(t *testing.T, where string, a Attribute, raw json.RawMessage) {
	t.Helper()
	s := strings.TrimSpace(string(raw))
	switch {
	case strings.HasPrefix(s, "{"):
		var w struct {
			Tensor struct {
				DataType string             `json:"data_type"`
				Dims     []int64            `json:"dims"`
				Value    conformance.Tensor `json:"value"`
			} `json:"tensor"`
		}
		if err := json.Unmarshal(raw, &w); err != nil {
			t.Fatal(err)
		}
		if a.Type != AttrTensor || a.T == nil {
			t.Errorf("%s: type %v, want TENSOR", where, a.Type)
			return
		}
		checkTensor(t, where, a.T, jsonTensor{Name: a.T.Name, DataType: w.Tensor.DataType, Dims: w.Tensor.Dims, Value: w.Tensor.Value})
	case strings.HasPrefix(s, "["):
		var w []int64
		if err := json.Unmarshal(raw, &w); err != nil {
			t.Fatal(err)
		}
		if a.Type != AttrInts || !slices.Equal(a.Ints, w) {
			t.Errorf("%s: %v %v, want INTS %v", where, a.Type, a.Ints, w)
		}
	case strings.ContainsAny(s, ".eE"):
		var w float64
		if err := json.Unmarshal(raw, &w); err != nil {
			t.Fatal(err)
		}
		if a.Type != AttrFloat || a.F != float32(w) {
			t.Errorf("%s: %v %v, want FLOAT %v", where, a.Type, a.F, w)
		}
	default:
		var w int64
		if err := json.Unmarshal(raw, &w); err != nil {
			t.Fatal(err)
		}
		if a.Type != AttrInt || a.I != w {
			t.Errorf("%s: %v %v, want INT %v", where, a.Type, a.I, w)
		}
	}
}

// TestConformanceTruncated decodes every prefix of a real model: each is
// either a valid shorter model (cut between two top-level fields) or a
// *DecodeError; never a panic.
func TestConformanceTruncated(t *testing.T) {
	b := readConformance(t, conformanceModels[0])
	ok := 0
	for i := range len(b) {
		m, err := Unmarshal(b[:i])
		if err == nil {
			ok++
			if _, err := Marshal(m); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, isDecode := err.(*DecodeError); !isDecode {
			t.Fatalf("prefix %d: error %T %v", i, err, err)
		}
	}
	// The top level holds ir_version, producer_name, producer_version,
	// graph and opset_import: a cut after each of them (and the empty
	// input) decodes.
	if ok != 5 {
		t.Errorf("%d prefixes decoded, want 5", ok)
	}
}
