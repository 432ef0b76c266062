package quantize

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/idx"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/onnx"
)

// twoInputs is a graph of inputs a [N, 2, 3] (float) and b [N, 4]
// (int64) whose output is a's first element... it is only read for its
// inputs.
func twoInputs() *graph.Graph {
	return &graph.Graph{Inputs: []graph.ValueSpec{
		{Name: "a", DType: onnx.Float, Shape: []graph.Dim{{Size: -1, Param: "N"}, {Size: 2}, {Size: 3}}},
		{Name: "b", DType: onnx.Int64, Shape: []graph.Dim{{Size: -1, Param: "N"}, {Size: 4}}},
	}}
}

func seqF32(n int, mul float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i) * mul
	}
	return v
}

func mustArray[T npy.Element](t *testing.T, v []T, shape ...int) *npy.Array {
	t.Helper()
	a, err := npy.New(v, shape...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// readAllBatches reads d in batches of size batch and joins each input's
// float or int64 values.
func readAllBatches(t *testing.T, d Data, batch int) (map[string][]float32, map[string][]int64) {
	t.Helper()
	f, n := map[string][]float32{}, map[string][]int64{}
	for _, r := range batchRanges(d.Len(), batch) {
		m, err := d.Read(r[0], r[1])
		if err != nil {
			t.Fatal(err)
		}
		for name, x := range m {
			if x.Shape[0] != r[1]-r[0] {
				t.Fatalf("%s: batch %v has shape %v", name, r, x.Shape)
			}
			f[name] = append(f[name], x.F32...)
			n[name] = append(n[name], x.I64...)
		}
	}
	return f, n
}

// TestOpenFiles reads the same samples from every file form: a .npz
// archive keyed by input name, NAME=FILE.npy per input, directories of
// .npy chunks and of .npz chunks (batches crossing files), raw float32,
// and IDX (plain and gzip); with batch sizes that do and do not divide the
// chunks, reading forward and starting again.
func TestOpenFiles(t *testing.T) {
	g := twoInputs()
	dir := t.TempDir()
	const n = 10
	av, bv := seqF32(n*6, 0.5), make([]int64, n*4)
	for i := range bv {
		bv[i] = int64(i) - 7
	}
	write := func(name string, arrays map[string]*npy.Array) string {
		p := filepath.Join(dir, name)
		if strings.HasSuffix(name, ".npz") {
			if err := npy.WriteNPZFile(p, arrays, strings.Contains(name, "z_")); err != nil {
				t.Fatal(err)
			}
		} else if err := npy.WriteArrayFile(p, arrays[""]); err != nil {
			t.Fatal(err)
		}
		return p
	}
	whole := write("z_all.npz", map[string]*npy.Array{"a": mustArray(t, av, n, 2, 3), "b": mustArray(t, bv, n, 4)})
	an := write("a.npy", map[string]*npy.Array{"": mustArray(t, av, n, 2, 3)})
	bn := write("b.npy", map[string]*npy.Array{"": mustArray(t, bv, n, 4)})
	chunks := filepath.Join(dir, "chunks")
	os.Mkdir(chunks, 0o755)
	for i, r := range [][2]int{{0, 3}, {3, 4}, {4, 10}} {
		p := filepath.Join(chunks, string(rune('0'+i))+".npz")
		if err := npy.WriteNPZFile(p, map[string]*npy.Array{"a": mustArray(t, av[r[0]*6:r[1]*6], r[1]-r[0], 2, 3), "b": mustArray(t, bv[r[0]*4:r[1]*4], r[1]-r[0], 4)}, i == 1); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(chunks, ".hidden"), []byte("x"), 0o644)
	achunks := filepath.Join(dir, "achunks")
	os.Mkdir(achunks, 0o755)
	for i, r := range [][2]int{{0, 7}, {7, 10}} {
		if err := npy.WriteArrayFile(filepath.Join(achunks, string(rune('a'+i))+".npy"), mustArray(t, av[r[0]*6:r[1]*6], r[1]-r[0], 6)); err != nil {
			t.Fatal(err) // [k, 6]: reshaped to [k, 2, 3]
		}
	}
	raw := filepath.Join(dir, "a.raw")
	var rb []byte
	for _, v := range av {
		rb = binary.LittleEndian.AppendUint32(rb, math.Float32bits(v))
	}
	os.WriteFile(raw, rb, 0o644)
	ia, err := idx.New(idx.Int32, []int{n, 4}, func() []float64 {
		out := make([]float64, len(bv))
		for i, v := range bv {
			out[i] = float64(v)
		}
		return out
	}())
	if err != nil {
		t.Fatal(err)
	}
	var ib bytes.Buffer
	if err := idx.Write(&ib, ia); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(ib.Bytes())
	zw.Close()
	bidx := filepath.Join(dir, "b-idx2-int.gz")
	os.WriteFile(bidx, gz.Bytes(), 0o644)
	bplain := filepath.Join(dir, "b.idx")
	os.WriteFile(bplain, ib.Bytes(), 0o644)

	for _, specs := range [][]string{
		{whole}, {"a=" + an, "b=" + bn}, {chunks}, {"a=" + achunks, "b=" + bidx}, {"b=" + bplain, "a=" + raw},
	} {
		d, err := OpenFiles(g, specs, FileOptions{})
		if err != nil {
			t.Fatalf("%v: %v", specs, err)
		}
		if d.Len() != n {
			t.Errorf("%v: %d samples", specs, d.Len())
		}
		for _, batch := range []int{1, 3, 4, 10} {
			f, i := readAllBatches(t, d, batch)
			if !slices.Equal(f["a"], av) || !slices.Equal(i["b"], bv) {
				t.Errorf("%v in batches of %d: a %v, b %v", specs, batch, f["a"], i["b"])
			}
		}
		// Skipping forward, then starting again.
		m, err := d.Read(5, 7)
		if err != nil || !slices.Equal(m["a"].F32, av[30:42]) {
			t.Errorf("%v: samples 5, 6: %v %v", specs, m["a"], err)
		}
		if m, err = d.Read(2, 3); err != nil || !slices.Equal(m["b"].I64, bv[8:12]) {
			t.Errorf("%v: sample 2 again: %v %v", specs, m["b"], err)
		}
		d.Close()
	}
}

// TestOpenFilesPreprocess checks x·scale + shift per channel (axis 1) and
// for all, on IDX bytes as MNIST holds them.
func TestOpenFilesPreprocess(t *testing.T) {
	g := &graph.Graph{Inputs: []graph.ValueSpec{{Name: "x", DType: onnx.Float, Shape: []graph.Dim{{Size: -1}, {Size: 2}, {Size: 2}}}}}
	a, err := idx.New(idx.Uint8, []int{2, 2, 2}, []float64{0, 1, 2, 255, 10, 20, 30, 40})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "x-idx3-ubyte")
	if err := idx.WriteFile(p, a); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		o    FileOptions
		want []float32
	}{
		{FileOptions{}, []float32{0, 1, 2, 255, 10, 20, 30, 40}},
		{FileOptions{Scale: []float32{0.5}, Shift: []float32{-1}}, []float32{-1, -0.5, 0, 126.5, 4, 9, 14, 19}},
		{FileOptions{Scale: []float32{1, 2}, Shift: []float32{0, 1}}, []float32{0, 1, 5, 511, 10, 20, 61, 81}},
	} {
		d, err := OpenFiles(g, []string{p}, c.o)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := readAllBatches(t, d, 1)
		if !slices.Equal(f["x"], c.want) {
			t.Errorf("%+v: %v, want %v", c.o, f["x"], c.want)
		}
		d.Close()
	}
	if _, err := OpenFiles(g, []string{p}, FileOptions{Scale: []float32{1, 2, 3}}); err == nil || !strings.Contains(err.Error(), "channels") {
		t.Errorf("3 scales for 2 channels: %v", err)
	}
}

// TestOpenFilesRefuses checks the errors: inputs without data or given
// twice, shapes that do not fit, different sample counts, a raw file
// without a shape or of a size that is no whole number of samples.
func TestOpenFilesRefuses(t *testing.T) {
	g := twoInputs()
	dir := t.TempDir()
	a := filepath.Join(dir, "a.npy")
	npy.WriteArrayFile(a, mustArray(t, seqF32(12, 1), 2, 2, 3))
	b3 := filepath.Join(dir, "b3.npy")
	npy.WriteArrayFile(b3, mustArray(t, make([]int64, 12), 3, 4))
	bad := filepath.Join(dir, "bad.npy")
	npy.WriteArrayFile(bad, mustArray(t, seqF32(10, 1), 2, 5))
	raw := filepath.Join(dir, "x.raw")
	os.WriteFile(raw, make([]byte, 10), 0o644)
	for _, c := range []struct {
		specs []string
		want  string
	}{
		{[]string{"a=" + a}, `no data for the model's input "b"`},
		{[]string{"a=" + a, "a=" + a}, "given twice"},
		{[]string{a}, "NAME=PATH"},
		{[]string{"a=" + bad, "b=" + b3}, "do not fit"},
		{[]string{"a=" + a, "b=" + b3}, "samples"},
		{[]string{"a=" + raw, "b=" + b3}, "whole number"},
		{[]string{"a=" + filepath.Join(dir, "nope.npy"), "b=" + b3}, "no such file"},
	} {
		if _, err := OpenFiles(g, c.specs, FileOptions{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error containing %q", c.specs, err, c.want)
		}
	}
	sym := &graph.Graph{Inputs: []graph.ValueSpec{{Name: "x", DType: onnx.Float, Shape: []graph.Dim{{Size: -1}, {Size: -1}}}}}
	if _, err := OpenFiles(sym, []string{raw}, FileOptions{}); err == nil || !strings.Contains(err.Error(), "-shape") {
		t.Errorf("raw file for a symbolic input: %v", err)
	}
}
