package graph

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// Test ops of the "test.import" domain: Add (tAdd) and Const, a constant
// from its "value" attribute.
func init() {
	Register("test.import", "Add", func(*NodeDef) (Op, error) { return tAdd{}, nil })
	Register("test.import", "Const", func(d *NodeDef) (Op, error) {
		v, err := d.Attrs.Tensor("value")
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, fmt.Errorf("no value")
		}
		return tConst{v}, nil
	})
}

type tConst struct{ v *Tensor }

func (c tConst) Infer([]*Info) ([]*Info, error) {
	return []*Info{{DType: c.v.DType, Shape: Sizes(c.v.Shape...)}}, nil
}
func (c tConst) Run(*Ctx, []*Tensor) ([]*Tensor, error) { return []*Tensor{c.v.Clone()}, nil }
func (c tConst) Value() *Tensor                         { return c.v }

// externalModel writes, in dir, a model y = x + w + c over [1, n] floats
// whose initializer w and Const attribute c keep their data in external
// files (w in model.onnx.data, written by onnx.WriteFileExternal; c in
// c.bin, after 8 bytes of padding), and returns its path, w and c.
func externalModel(t *testing.T, dir string, n int) (string, []float32, []float32) {
	t.Helper()
	w, c := make([]float32, n), make([]float32, n)
	for i := range w {
		w[i] = float32(i) * 0.5
		c[i] = -float32(i % 7)
	}
	wt, err := onnx.NewTensor("w", []int64{1, int64(n)}, w)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := onnx.NewTensor("", []int64{1, int64(n)}, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "c.bin"), append(make([]byte, 8), ct.RawData...), 0o644); err != nil {
		t.Fatal(err)
	}
	ct.RawData = nil
	ct.DataLocation = onnx.DataLocationExternal
	ct.ExternalData = []onnx.StringStringEntry{{Key: "location", Value: "c.bin"}, {Key: "offset", Value: "8"}}
	node := func(op, name string, in []string, out string, attrs ...onnx.Attribute) onnx.Node {
		n := onnx.NewNode(op, name, in, []string{out}, attrs...)
		n.Domain = "test.import"
		return n
	}
	m := &onnx.Model{
		OpsetImport: []onnx.OperatorSetID{{Version: 17}, {Domain: "test.import", Version: 1}},
		Graph: &onnx.Graph{
			Initializer: []onnx.Tensor{wt},
			Input:       []onnx.ValueInfo{onnx.TensorValueInfo("x", onnx.Float, onnx.Dims(1, int64(n))...)},
			Output:      []onnx.ValueInfo{onnx.TensorValueInfo("y", onnx.Float, onnx.Dims(1, int64(n))...)},
			Node: []onnx.Node{
				node("Const", "c", nil, "c", onnx.TensorAttr("value", ct)),
				node("Add", "add1", []string{"x", "w"}, "xw"),
				node("Add", "add2", []string{"xw", "c"}, "y"),
			},
		},
	}
	path := filepath.Join(dir, "model.onnx")
	if err := onnx.WriteFileExternal(path, m, onnx.ExternalOptions{}); err != nil {
		t.Fatal(err)
	}
	return path, w, c
}

// TestImportFileExternalData imports a model whose initializer and
// constant are in external files and runs it: y = x + w + c exactly.
// Import of the same model without its directory says to use ImportFile.
func TestImportFileExternalData(t *testing.T) {
	const n = 1000
	path, w, c := externalModel(t, t.TempDir(), n)
	if _, err := os.Stat(path + ".data"); err != nil {
		t.Fatalf("w is not external: %v", err)
	}
	g, err := ImportFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i) / 3
	}
	out, err := s.Run(map[string]*Tensor{"x": floats(t, x, 1, n)})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, n)
	for i := range want {
		want[i] = x[i] + w[i] + c[i]
	}
	if !slices.Equal(out["y"].F32, want) {
		t.Errorf("y = %v..., want %v...", out["y"].F32[:8], want[:8])
	}

	m, err := onnx.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Import(m); err == nil || !strings.Contains(err.Error(), `tensor "w" keeps its data in the file "model.onnx.data": import the model with ImportFile`) {
		t.Errorf("Import of an external model: %v", err)
	}
}

// TestImportFileHostile: external data that leaves the model's directory
// or lies about its size fails the import with an error naming the
// tensor; an unsupported op is reported before any data is read.
func TestImportFileHostile(t *testing.T) {
	const n = 300
	dir := t.TempDir()
	path, _, _ := externalModel(t, dir, n)
	m, err := onnx.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, make([]byte, 4*n), 0o644); err != nil {
		t.Fatal(err)
	}
	rewrite := func(name string, edit func(w, c *onnx.Tensor)) string {
		c := *m
		g := *m.Graph
		c.Graph = &g
		g.Initializer = slices.Clone(g.Initializer)
		g.Node = slices.Clone(g.Node)
		g.Node[0].Attribute = slices.Clone(g.Node[0].Attribute)
		ct := *g.Node[0].Attribute[0].T
		g.Node[0].Attribute[0].T = &ct
		w := &g.Initializer[0]
		w.ExternalData = slices.Clone(w.ExternalData)
		ct.ExternalData = slices.Clone(ct.ExternalData)
		edit(w, &ct)
		p := filepath.Join(dir, name)
		if err := onnx.WriteFile(p, &c); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		edit func(w, c *onnx.Tensor)
		want string
	}{
		{"abs", func(w, _ *onnx.Tensor) { w.ExternalData[0].Value = secret }, `tensor "w": external data: location`},
		{"up", func(w, _ *onnx.Tensor) {
			w.ExternalData[0].Value = "../" + filepath.Base(filepath.Dir(secret)) + "/secret"
		}, "not a relative path inside the model's directory"},
		{"long", func(w, _ *onnx.Tensor) { w.ExternalData[2].Value = "1201" }, `tensor "w": external data: 1201 bytes at offset 0 run past the end`},
		{"short", func(w, _ *onnx.Tensor) { w.ExternalData[2].Value = "1196" }, "1196 bytes for FLOAT[1 300], which take 1200"},
		{"attr", func(_, c *onnx.Tensor) { c.ExternalData[1].Value = "9" }, `node "c" (Const): attribute value: onnx: tensor "": external data: 1199 bytes for FLOAT[1 300], which take 1200`},
		// onnx.WriteFile refuses an unknown key: "checksum" is
		// rewritten as "basepath" in the file's bytes.
		{"unknown key", func(_, c *onnx.Tensor) { c.ExternalData[1].Key = "checksum" }, `unknown external_data key "basepath"`},
	} {
		p := rewrite(tc.name+".onnx", tc.edit)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.ReplaceAll(b, []byte("checksum"), []byte("basepath")), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = ImportFile(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	p := rewrite("unsupported.onnx", func(w, _ *onnx.Tensor) { w.ExternalData[0].Value = "missing" })
	m2, err := onnx.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m2.Graph.Node[1].OpType = "NoSuch"
	if err := onnx.WriteFile(p, m2); err != nil {
		t.Fatal(err)
	}
	var ue *UnsupportedError
	if _, err := ImportFile(p); !errors.As(err, &ue) || ue.Ops["test.import.NoSuch"] != "add1" {
		t.Errorf("unsupported op with missing data: %v", err)
	}
	if err := Unsupported(m2); !errors.As(err, &ue) {
		t.Errorf("Unsupported: %v", err)
	}
	if err := Unsupported(m); err != nil {
		t.Errorf("Unsupported of a supported model: %v", err)
	}
}
