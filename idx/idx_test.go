package idx

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
)

func TestWriteGolden(t *testing.T) {
	a, err := New(Int16, []int{2, 1}, []float64{-2, 258})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := Write(&b, a); err != nil {
		t.Fatal(err)
	}
	want := []byte{0, 0, 0x0B, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xfe, 0x01, 0x02}
	if !bytes.Equal(b.Bytes(), want) {
		t.Errorf("Write = % x, want % x", b.Bytes(), want)
	}
}

func TestRoundTripEveryType(t *testing.T) {
	values := map[Type][]float64{
		Uint8:   {0, 1, 127, 128, 255, 7},
		Int8:    {-128, -1, 0, 1, 127, 3},
		Int16:   {-32768, -1, 0, 1, 32767, 300},
		Int32:   {math.MinInt32, -1, 0, 1 << 24, math.MaxInt32, 1<<24 + 1},
		Float32: {math.Inf(-1), math.Copysign(0, -1), 1.5, math.SmallestNonzeroFloat32, math.MaxFloat32, math.NaN()},
		Float64: {math.Inf(1), math.Copysign(0, -1), 0.1, math.SmallestNonzeroFloat64, 1e300, math.NaN()},
	}
	for typ, v := range values {
		t.Run(typ.String(), func(t *testing.T) {
			a, err := New(typ, []int{2, 3}, v)
			if err != nil {
				t.Fatal(err)
			}
			for _, compress := range []bool{false, true} {
				var b bytes.Buffer
				w := maybeGzip(&b, compress)
				if err := Write(w, a); err != nil {
					t.Fatal(err)
				}
				if c, ok := w.(*gzip.Writer); ok {
					if err := c.Close(); err != nil {
						t.Fatal(err)
					}
				}
				r, err := Read(&b)
				if err != nil {
					t.Fatalf("gzip %v: %v", compress, err)
				}
				if r.Type != typ || !slices.Equal(r.Shape, []int{2, 3}) || r.Len() != 6 {
					t.Fatalf("read %v %v, %d elements", r.Type, r.Shape, r.Len())
				}
				for i, x := range r.Float64s() {
					if math.Float64bits(x) != math.Float64bits(v[i]) && !(x != x && v[i] != v[i]) {
						t.Errorf("element %d = %v, want %v", i, x, v[i])
					}
				}
			}
		})
	}
}

// maybeGzip returns w itself or a gzip writer on it.
func maybeGzip(w *bytes.Buffer, compress bool) interface{ Write([]byte) (int, error) } {
	if compress {
		return gzip.NewWriter(w)
	}
	return w
}

func TestConversions(t *testing.T) {
	a, err := New(Int32, []int{3}, []float64{1<<24 + 1, -5, 255})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Float32s(); !slices.Equal(got, []float32{1 << 24, -5, 255}) {
		t.Errorf("Float32s = %v (2^24+1 rounds to even)", got)
	}
	if got, err := a.Ints(); err != nil || !slices.Equal(got, []int{1<<24 + 1, -5, 255}) {
		t.Errorf("Ints = %v, %v", got, err)
	}
	x := a.Tensor()
	if !slices.Equal(x.Shape, []int{3}) || x.Data[1] != -5 {
		t.Errorf("Tensor = %v", x)
	}
	f, err := New(Float32, []int{1}, []float64{0.5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Ints(); err == nil {
		t.Error("Ints of float32: no error")
	}
	var zero Array
	if zero.Len() != 0 || len(zero.Float32s()) != 0 {
		t.Error("zero Array is not empty")
	}
}

func TestNewErrors(t *testing.T) {
	for _, c := range []struct {
		typ   Type
		shape []int
		v     []float64
		want  string
	}{
		{Uint8, []int{1}, []float64{256}, "value 0 (256) is not a uint8"},
		{Uint8, []int{1}, []float64{-1}, "not a uint8"},
		{Int8, []int{1}, []float64{0.5}, "not a int8"},
		{Int16, []int{1}, []float64{40000}, "not a int16"},
		{Int32, []int{1}, []float64{math.NaN()}, "not a int32"},
		{Float32, []int{1}, []float64{1e-50}, "not a float32"},
		{Uint8, []int{2}, []float64{1}, "1 values for shape [2]"},
		{Uint8, nil, nil, "0 dimensions"},
		{Uint8, []int{-1}, nil, "out of the format's range"},
		{Type(7), []int{1}, []float64{1}, "unknown element type Type(0x07)"},
	} {
		if _, err := New(c.typ, c.shape, c.v); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%v, %v, %v): err = %v, want %q", c.typ, c.shape, c.v, err, c.want)
		}
	}
	if err := Write(&bytes.Buffer{}, &Array{Type: Uint8, Shape: []int{3}}); err == nil {
		t.Error("Write of an array without its elements: no error")
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestReadMalformed(t *testing.T) {
	ok := []byte{0, 0, 8, 1, 0, 0, 0, 2, 7, 9}
	if a, err := Read(bytes.NewReader(ok)); err != nil || a.raw[1] != 9 {
		t.Fatalf("valid file: %v, %v", a, err)
	}
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "shorter than the 4-byte magic"},
		{"short magic", []byte{0, 0, 8}, "shorter than the 4-byte magic"},
		{"magic", []byte{1, 0, 8, 1, 0, 0, 0, 0}, "does not start with two zero bytes"},
		{"type", []byte{0, 0, 0x0A, 1, 0, 0, 0, 0}, "unknown element type 0x0a"},
		{"no dims", []byte{0, 0, 8, 0}, "zero dimensions"},
		{"cut header", []byte{0, 0, 8, 2, 0, 0, 0, 1, 0, 0}, "header of 2 dimensions is cut short"},
		{"cut data", ok[:9], "needs 2 bytes of data, the file holds 1"},
		{"trailing", append(slices.Clone(ok), 0), "data continues after the 2 elements"},
		{"overflow", []byte{0, 0, 0x0E, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "more elements than an int can count"},
		// CI's FuzzIDX: the zero made the file's 0 elements fit, but Write
		// (like every shape check) refuses dimensions beyond an int.
		{"overflow beside a zero", []byte{0, 0, 8, 3, 0xe8, 0x30, 0x2e, 0x7f, 0, 0, 0, 0, 0xd2, 0x95, 0x1d, 0x95}, "more elements than an int can count"},
		{"gzip junk", []byte{0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, "gzip"},
		{"gzip cut", gz(ok)[:15], "malformed"},
		{"gzip of cut data", gz(ok[:9]), "the file holds 1"},
	} {
		_, err := Read(bytes.NewReader(c.b))
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want ErrFormat with %q", c.name, err, c.want)
		}
	}
}

// A header that claims 2^30 bytes in a 20-byte file must fail without
// allocating anything near that.
func TestReadHugeClaim(t *testing.T) {
	b := []byte{0, 0, 0x0E, 2, 0, 0, 0x20, 0, 0, 0, 0x40, 0, 1, 2, 3, 4, 5, 6, 7, 8}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Read(bytes.NewReader(b))
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "the file holds 8") {
		t.Errorf("err = %v", err)
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 8<<20 {
		t.Errorf("allocated %d bytes for a 20-byte file", d)
	}
}

func TestFileRoundTrip(t *testing.T) {
	a, err := New(Uint8, []int{1, 2, 2}, []float64{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "x-idx3-ubyte")
	if err := WriteFile(p, a); err != nil {
		t.Fatal(err)
	}
	r, err := ReadFile(p)
	if err != nil || fmt.Sprint(r.Shape, r.Float32s()) != "[1 2 2] [1 2 3 4]" {
		t.Errorf("ReadFile = %v, %v", r, err)
	}
	if _, err := ReadFile(p + ".missing"); err == nil {
		t.Error("missing file: no error")
	}
	if err := os.WriteFile(p, []byte{0, 0, 8}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(p); err == nil || !strings.HasPrefix(err.Error(), p+": idx: malformed") {
		t.Errorf("malformed file: err = %v", err)
	}
}

// Debian's dataset-fashion-mnist, checked against NumPy's reading of the
// same files (np.frombuffer of the gunzipped bytes).
func TestFashionMNIST(t *testing.T) {
	dir := "/usr/share/datasets/fashion-mnist"
	if _, err := os.Stat(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz")); err != nil {
		msg := "Fashion-MNIST not found in " + dir + " (Debian package dataset-fashion-mnist; make tools-testdata installs it)"
		if exttool.Required() {
			t.Fatal("TQ_REQUIRE_TOOLS=1: " + msg)
		}
		t.Skip(msg)
	}
	labels, err := ReadFile(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := labels.Ints()
	if err != nil || labels.Type != Uint8 || !slices.Equal(labels.Shape, []int{10000}) {
		t.Fatalf("labels %v %v: %v", labels.Type, labels.Shape, err)
	}
	if !slices.Equal(l[:12], []int{9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5}) {
		t.Errorf("first labels %v", l[:12])
	}
	count := make([]int, 10)
	for _, c := range l {
		count[c]++
	}
	if fmt.Sprint(count) != "[1000 1000 1000 1000 1000 1000 1000 1000 1000 1000]" {
		t.Errorf("label counts %v", count)
	}
	if testing.Short() {
		return
	}
	images, err := ReadFile(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if images.Type != Uint8 || !slices.Equal(images.Shape, []int{10000, 28, 28}) {
		t.Fatalf("images %v %v", images.Type, images.Shape)
	}
	x := images.Tensor()
	sum := 0.0
	for _, v := range x.Data {
		sum += float64(v)
	}
	row := fmt.Sprint(x.Data[14*28 : 15*28])
	if sum != 573469082 || row != "[0 0 0 0 0 0 2 4 1 0 0 0 98 136 110 109 110 162 135 144 149 159 167 144 158 169 119 0]" {
		t.Errorf("pixel sum %v, image 0 row 14 %s", sum, row)
	}
}
