package onnx

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
)

// TestExternalGolden pins the encoding of data_location and external_data
// (fields 14 and 13, after doc_string), and their round trip: a present
// DEFAULT location is written back.
func TestExternalGolden(t *testing.T) {
	ext := Tensor{Name: "w", DataType: Float, Dims: []int64{2}}
	ext.setExternal("w.bin", 8, 8)
	got := mustMarshal(t, &Model{Graph: &Graph{Initializer: []Tensor{ext}}})
	entry := func(k, v string) []byte { return msg(13, msg(1, []byte(k)), msg(2, []byte(v))) }
	want := msg(7, msg(5, b(0x08, 0x02, 0x10, 0x01, 0x42, 0x01, 'w'),
		entry("location", "w.bin"), entry("offset", "8"), entry("length", "8"), b(0x70, 0x01)))
	if !bytes.Equal(got, want) {
		t.Fatalf("got  % x\nwant % x", got, want)
	}
	m, err := Unmarshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := m.Graph.Initializer[0].External(); err != nil || *e != (External{Location: "w.bin", Offset: 8, Length: 8}) {
		t.Errorf("External: %+v, %v", e, err)
	}
	if again := mustMarshal(t, m); !bytes.Equal(again, got) {
		t.Errorf("re-encoded as % x", again)
	}
	// data_location: DEFAULT present, and a checksum entry, round-trip.
	in := msg(7, msg(5, b(0x42, 0x01, 'v'), entry("checksum", "ab"), b(0x70, 0x00)))
	m, err = Unmarshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := m.Graph.Initializer[0].External(); e != nil || err != nil {
		t.Errorf("a DEFAULT tensor: %+v, %v", e, err)
	}
	if out := mustMarshal(t, m); !bytes.Equal(out, in) {
		t.Errorf("present DEFAULT: got % x, want % x", out, in)
	}
}

// TestExternalEntries: what External accepts and refuses.
func TestExternalEntries(t *testing.T) {
	kv := func(pairs ...string) []StringStringEntry {
		var out []StringStringEntry
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, StringStringEntry{Key: pairs[i], Value: pairs[i+1]})
		}
		return out
	}
	ext := func(pairs ...string) Tensor {
		return Tensor{Name: "w", DataLocation: DataLocationExternal, ExternalData: kv(pairs...)}
	}
	ok := ext("location", "d/w.bin", "checksum", "c0ffee", "length", "12", "offset", "007")
	if e, err := ok.External(); err != nil || *e != (External{"d/w.bin", 7, 12, "c0ffee"}) {
		t.Errorf("External: %+v, %v", e, err)
	}
	only := ext("location", "x")
	if e, err := only.External(); err != nil || *e != (External{"x", 0, -1, ""}) {
		t.Errorf("location only: %+v, %v", e, err)
	}
	withRaw := ext("location", "x")
	withRaw.RawData = []byte{}
	withFloats := ext("location", "x")
	withFloats.FloatData = []float32{1}
	for _, tc := range []struct {
		t    Tensor
		want string
	}{
		{Tensor{Name: "w", DataLocation: 2}, "data_location DataLocation(2)"},
		{ext("offset", "0"), "without a location"},
		{ext("location", ""), "without a location"},
		{ext("location", "a", "location", "b"), `key "location" given twice`},
		{ext("location", "a", "basepath", "/"), `unknown external_data key "basepath"`},
		{ext("location", "a", "offset", "-1"), `offset "-1" is not a byte count`},
		{ext("location", "a", "offset", "0x10"), `offset "0x10"`},
		{ext("location", "a", "length", " 1"), `length " 1"`},
		{ext("location", "a", "length", ""), `length ""`},
		{ext("location", "a", "length", "9223372036854775808"), `length "9223372036854775808"`},
		{withRaw, "external data and data of its own"},
		{withFloats, "external data and data of its own"},
	} {
		if _, err := (&tc.t).External(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.t.ExternalData, err, tc.want)
		}
		// Marshal refuses such a tensor (Tensor.Validate).
		if _, err := Marshal(&Model{Graph: &Graph{Initializer: []Tensor{tc.t}}}); !errors.Is(err, ErrInvalidTensor) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Marshal of %+v: %v", tc.t.ExternalData, err)
		}
	}
}

// extModel is a model whose graph adds three initializers: a 2 MiB one
// (aligned in the data file), one of 1 KiB (moved) and one of 4 bytes
// (kept): y = x + a + b + c over [n] floats.
func extModel(t *testing.T) *Model {
	t.Helper()
	const n = 1 << 19
	vals := func(seed float32, k int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = seed * float32(i%k)
		}
		return v
	}
	mk := func(name string, v []float32) Tensor {
		x, err := NewTensor(name, []int64{int64(len(v))}, v)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	// a small tensor first, so that the large one needs padding.
	b := mk("b", vals(0.5, 7)[:256])
	a := mk("a", vals(1, 1000))
	c := mk("c", []float32{3})
	in := []string{"x", "a", "t1", "b", "t2", "c"}
	return &Model{IRVersion: 8, OpsetImport: []OperatorSetID{{Version: 17}}, Graph: &Graph{
		Name:        "ext",
		Initializer: []Tensor{b, a, c},
		Node: []Node{
			NewNode("Add", "add1", in[0:2], []string{"t1"}),
			NewNode("Slice", "slice", []string{"t1", "s0", "s1"}, []string{"t1s"}),
			NewNode("Add", "add2", []string{"t1s", "b"}, []string{"t2"}),
			NewNode("Add", "add3", in[4:6], []string{"y"}),
		},
		Input:  []ValueInfo{TensorValueInfo("x", Float, DimValue(n))},
		Output: []ValueInfo{TensorValueInfo("y", Float, DimValue(256))},
	}}
}

// addSliceBounds gives extModel's Slice its starts and ends (0, 256).
func addSliceBounds(t *testing.T, m *Model) {
	t.Helper()
	for _, s := range []struct {
		name string
		v    int64
	}{{"s0", 0}, {"s1", 256}} {
		x, err := NewTensor(s.name, []int64{1}, []int64{s.v})
		if err != nil {
			t.Fatal(err)
		}
		m.Graph.Initializer = append(m.Graph.Initializer, x)
	}
}

// TestWriteFileExternal writes a model with external data and reads it
// back: the model refers to the data file with aligned offsets, the data
// reads back byte for byte, the caller's model is unchanged, and onnx and
// ONNX Runtime load the pair (ORT's output is checked element by element).
func TestWriteFileExternal(t *testing.T) {
	m := extModel(t)
	addSliceBounds(t, m)
	before := mustMarshal(t, m)
	dir := t.TempDir()
	path := filepath.Join(dir, "model.onnx")
	if err := WriteFileExternal(path, m, ExternalOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustMarshal(t, m), before) {
		t.Fatal("WriteFileExternal changed the model")
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	wantExt := map[string]*External{
		"b": {Location: "model.onnx.data", Offset: 0, Length: 1024},
		"a": {Location: "model.onnx.data", Offset: 64 << 10, Length: 2 << 20},
	}
	for i, x := range got.Graph.Initializer {
		e, err := x.External()
		if err != nil {
			t.Fatal(err)
		}
		switch w := wantExt[x.Name]; {
		case w == nil && e != nil:
			t.Errorf("%s is external: %+v", x.Name, e)
		case w != nil && (e == nil || *e != *w):
			t.Errorf("%s: %+v, want %+v", x.Name, e, w)
		case w != nil:
			raw, err := ReadExternalData(dir, &x)
			if err != nil || !bytes.Equal(raw, m.Graph.Initializer[i].RawData) {
				t.Errorf("%s: read back %d bytes (%v)", x.Name, len(raw), err)
			}
		}
	}
	if st, err := os.Stat(path + ".data"); err != nil || st.Size() != 64<<10+2<<20 {
		t.Errorf("data file: %v %v", st, err)
	}

	// The reference implementations read the pair.
	py := exttool.PythonONNX(t)
	out := exttool.Run(t, py, "-c", `import sys, onnx, onnx.numpy_helper as h
m = onnx.load(sys.argv[1])
print(" ".join("%s:%s" % (i.name, repr(float(h.to_array(i).astype("float64").sum()))) for i in m.graph.initializer))`, path)
	if want := "b:" + sumString(t, m, "b") + " a:" + sumString(t, m, "a"); !strings.HasPrefix(string(out), want) {
		t.Errorf("onnx loads %s, want the prefix %s", out, want)
	}
	x := make([]float32, 1<<19)
	for i := range x {
		x[i] = float32(i) / 8
	}
	res := exttool.RunORT(t, path, "all", map[string]exttool.Input{"x": {Dims: []int{len(x)}, Type: "float32", F32: x}})
	a, _ := TensorValues[float32](&m.Graph.Initializer[1])
	bv, _ := TensorValues[float32](&m.Graph.Initializer[0])
	y := res["y"].F32
	if len(y) != 256 {
		t.Fatalf("ORT: %d outputs", len(y))
	}
	for i := range y {
		if want := x[i] + a[i] + bv[i] + 3; y[i] != want {
			t.Fatalf("ORT y[%d] = %v, want %v", i, y[i], want)
		}
	}
}

// sumString formats the sum of an initializer's values as Python's repr
// of a float64 does, for the values extModel uses (exact in float64).
func sumString(t *testing.T, m *Model, name string) string {
	t.Helper()
	for i := range m.Graph.Initializer {
		if x := &m.Graph.Initializer[i]; x.Name == name {
			v, err := TensorValues[float32](x)
			if err != nil {
				t.Fatal(err)
			}
			var s float64
			for _, f := range v {
				s += float64(f)
			}
			b, _ := json.Marshal(s)
			str := string(b)
			if !strings.ContainsAny(str, ".e") {
				str += ".0"
			}
			return str
		}
	}
	t.Fatalf("no initializer %s", name)
	return ""
}

// TestWriteFileAutomaticExternal: WriteFile moves the data out when the
// model would not fit protobuf's limit (lowered here), and a model that
// still does not fit is ErrTooLarge.
func TestWriteFileAutomaticExternal(t *testing.T) {
	m := extModel(t)
	dir := t.TempDir()
	defer func(v int64) { maxModelSize = v }(maxModelSize)
	maxModelSize = 1 << 20 // the 2 MiB initializer is over it
	path := filepath.Join(dir, "big.onnx")
	if err := WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := got.Graph.Initializer[1].External(); e == nil || e.Location != "big.onnx.data" {
		t.Errorf("a: %+v", e)
	}
	// Under the limit by initializer bytes, over it by the encoding: the
	// fallback after Marshal's ErrTooLarge.
	maxModelSize = 2<<20 + 1024 + 100
	if err := WriteFile(filepath.Join(dir, "fallback.onnx"), m); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "fallback.onnx.data")); err != nil {
		t.Error(err)
	}
	// Small models are one file.
	maxModelSize = MaxModelSize
	if err := WriteFile(filepath.Join(dir, "small.onnx"), m); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "small.onnx.data")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a data file for a small model: %v", err)
	}
	maxModelSize = 100
	if err := WriteFile(filepath.Join(dir, "huge.onnx"), m); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a model too large even without its data: %v", err)
	}
	maxModelSize = MaxModelSize
	for _, bad := range []string{"../d", "/tmp/d", "a/../d", "big.onnx"} {
		if err := WriteFileExternal(path, m, ExternalOptions{DataFile: bad}); err == nil {
			t.Errorf("DataFile %q accepted", bad)
		}
	}
	if err := WriteFileExternal(filepath.Join(dir, "sub.onnx"), m, ExternalOptions{DataFile: "d/x.bin"}); err == nil || !strings.Contains(err.Error(), "d/x.bin") {
		t.Errorf("a data file in a missing directory: %v", err)
	}
}

// pyExternalScript makes a model with onnx's own external data writer: all
// tensors in one file, and one file per tensor (named after it).
const pyExternalScript = `import sys, os, numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto
d = sys.argv[1]
def model():
    inits = [numpy_helper.from_array(np.arange(n, dtype=dt).reshape(shape) * k, name)
             for name, n, shape, dt, k in [("w", 2048, (32, 64), np.float32, 0.25), ("i", 300, (300,), np.int64, -3),
                                           ("small", 3, (3,), np.float32, 1.0), ("u8", 1500, (1500,), np.uint8, 1)]]
    node = helper.make_node("Identity", ["w"], ["y"], name="id")
    g = helper.make_graph([node], "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [32, 64])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
onnx.save_model(model(), os.path.join(d, "one.onnx"), save_as_external_data=True, all_tensors_to_one_file=True, location="one.bin", size_threshold=1024)
os.mkdir(os.path.join(d, "sep"))
onnx.save_model(model(), os.path.join(d, "sep", "sep.onnx"), save_as_external_data=True, all_tensors_to_one_file=False, size_threshold=0)
`

// TestPythonExternalData decodes models that onnx's Python package wrote
// with external data: they re-encode byte for byte, and their data reads
// back as the values onnx wrote.
func TestPythonExternalData(t *testing.T) {
	py := exttool.PythonONNX(t)
	dir := t.TempDir()
	exttool.Run(t, py, "-c", pyExternalScript, dir)
	for _, tc := range []struct {
		path     string
		external map[string]string // tensor -> location
	}{
		{filepath.Join(dir, "one.onnx"), map[string]string{"w": "one.bin", "i": "one.bin", "u8": "one.bin"}},
		{filepath.Join(dir, "sep", "sep.onnx"), map[string]string{"w": "w", "i": "i", "small": "small", "u8": "u8"}},
	} {
		orig, err := os.ReadFile(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Unmarshal(orig)
		if err != nil {
			t.Fatal(err)
		}
		if again := mustMarshal(t, m); !bytes.Equal(again, orig) {
			t.Errorf("%s: re-encoding differs", tc.path)
		}
		for i := range m.Graph.Initializer {
			x := &m.Graph.Initializer[i]
			e, err := x.External()
			if err != nil {
				t.Fatal(err)
			}
			if loc := tc.external[x.Name]; (e == nil) != (loc == "") || e != nil && e.Location != loc {
				t.Errorf("%s: %s external %+v, want location %q", tc.path, x.Name, e, loc)
			}
			if e != nil {
				if x.RawData, err = ReadExternalData(filepath.Dir(tc.path), x); err != nil {
					t.Fatal(err)
				}
				x.DataLocation, x.ExternalData = DataLocationDefault, nil
			}
			var ok bool
			switch x.Name {
			case "w":
				v, err := TensorValues[float32](x)
				ok = err == nil && len(v) == 2048 && v[2047] == 2047*0.25 && v[5] == 1.25
			case "i":
				v, err := TensorValues[int64](x)
				ok = err == nil && len(v) == 300 && v[299] == -897
			case "u8":
				v, err := TensorValues[uint8](x)
				ok = err == nil && len(v) == 1500 && v[1499] == 1499%256
			case "small":
				v, err := TensorValues[float32](x)
				ok = err == nil && slices.Equal(v, []float32{0, 1, 2})
			}
			if !ok {
				t.Errorf("%s: %s does not read back as written", tc.path, x.Name)
			}
		}
	}
}

// TestReadExternalDataHostile: locations that leave the model's directory,
// files that are not regular, and offsets and lengths that lie are
// refused with an error naming the tensor, before anything large is
// allocated.
func TestReadExternalDataHostile(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), make([]byte, 16), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data"), make([]byte, 16), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	rel := "../" + filepath.Base(outside) + "/secret"
	ext := func(dims []int64, pairs ...string) *Tensor {
		x := &Tensor{Name: "w", DataType: Float, Dims: dims, DataLocation: DataLocationExternal}
		for i := 0; i < len(pairs); i += 2 {
			x.ExternalData = append(x.ExternalData, StringStringEntry{Key: pairs[i], Value: pairs[i+1]})
		}
		return x
	}
	// The good case, to show that the others fail for their own reason.
	if b, err := ReadExternalData(dir, ext([]int64{2}, "location", "data", "offset", "8", "length", "8")); err != nil || len(b) != 8 {
		t.Fatalf("a good tensor: %d bytes, %v", len(b), err)
	}
	if b, err := ReadExternalData(dir, ext([]int64{4}, "location", "./sub/../data")); err == nil {
		t.Fatalf("a .. component: %d bytes", len(b))
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, tc := range []struct {
		x    *Tensor
		want string
	}{
		{ext([]int64{4}, "location", rel), "is not a relative path inside"},
		{ext([]int64{4}, "location", filepath.Join(outside, "secret")), "is not a relative path inside"},
		{ext([]int64{4}, "location", "sub/../data"), "is not a relative path inside"},
		{ext([]int64{4}, "location", "data\x00"), "is not a relative path inside"},
		{ext([]int64{4}, "location", "link"), "escapes"},
		{ext([]int64{4}, "location", "fifo"), "not a regular file (a named pipe)"},
		{ext([]int64{4}, "location", "sub"), "not a regular file (a directory)"},
		{ext([]int64{4}, "location", "missing"), "no such file"},
		{ext([]int64{4}, "location", "data", "offset", "17"), "offset 17 is past the end of data (16 bytes)"},
		{ext([]int64{4}, "location", "data", "offset", "9223372036854775807"), "past the end"},
		{ext([]int64{4}, "location", "data", "offset", "8", "length", "16"), "16 bytes at offset 8 run past the end"},
		{ext([]int64{4}, "location", "data", "length", "9223372036854775807"), "run past the end"},
		{ext([]int64{3}, "location", "data", "length", "16"), "16 bytes for FLOAT[3], which take 12"},
		{ext([]int64{3}, "location", "data", "offset", "2"), "14 bytes for FLOAT[3], which take 12"},
		{ext([]int64{1 << 40}, "location", "data"), "16 bytes for FLOAT[1099511627776]"},
		{ext([]int64{1 << 62, 8}, "location", "data"), "more elements than an int can count"},
		{&Tensor{Name: "w", DataType: String, DataLocation: DataLocationExternal, ExternalData: []StringStringEntry{{Key: "location", Value: "data"}}}, "STRING elements have no raw layout"},
		{&Tensor{Name: "w", DataType: Float}, "not EXTERNAL"},
	} {
		_, err := ReadExternalData(dir, tc.x)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `"w"`) {
			t.Errorf("%v: %v, want %q", tc.x.ExternalData, err, tc.want)
		}
	}
	runtime.ReadMemStats(&after)
	if a := after.TotalAlloc - before.TotalAlloc; a > 1<<20 {
		t.Errorf("the refusals allocated %d bytes", a)
	}
	if _, err := ReadExternalData(filepath.Join(dir, "data"), ext([]int64{4}, "location", "data")); err == nil {
		t.Error("a model directory that is a file")
	}
	// Sub-byte and 16-bit types take their packed sizes.
	for _, tc := range []struct {
		dt   DataType
		dims []int64
		size int
	}{{Int4, []int64{5}, 3}, {Uint4, []int64{4}, 2}, {Float16, []int64{3}, 6}, {Int2, []int64{5}, 2}} {
		x := ext(tc.dims, "location", "data")
		x.DataType = tc.dt
		x.ExternalData = append(x.ExternalData, StringStringEntry{Key: "length", Value: "16"})
		if _, err := ReadExternalData(dir, x); err == nil || !strings.Contains(err.Error(), "which take "+strconv.Itoa(tc.size)) {
			t.Errorf("%v%v: %v, want a size of %d", tc.dt, tc.dims, err, tc.size)
		}
	}
}
