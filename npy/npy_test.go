package npy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/tensor"
)

var (
	nan     = float32(math.NaN())
	inf     = float32(math.Inf(1))
	negZero = float32(math.Copysign(0, -1))
)

// The files in testdata were written by NumPy 1.24.2 (np.save).
func TestReadNumPyFiles(t *testing.T) {
	a := []float32{1.5, -2, 0.25, nan, inf, negZero}
	for _, tc := range []struct {
		file  string
		shape []int
		data  []float32
	}{
		{"f4_2x3.npy", []int{2, 3}, a},
		{"f8_2x3.npy", []int{2, 3}, a},
		{"f4_fortran_2x3.npy", []int{2, 3}, a},
		{"f4_scalar.npy", []int{}, []float32{3.5}},
		{"f4_empty_0x4.npy", []int{0, 4}, []float32{}},
		{"f4_be_3.npy", []int{3}, []float32{1, 2, 3}},
		{"f4_1d_5.npy", []int{5}, []float32{0, 1, 2, 3, 4}},
		{"f4_fortran_2x3x4.npy", []int{2, 3, 4}, seq(24)},
	} {
		x, err := ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if !cmp.Equal(x.Shape, tc.shape) {
			t.Errorf("%s: shape %v, want %v", tc.file, x.Shape, tc.shape)
		}
		if d := conformance.DiffFloat32(x.Data, tc.data); d != "" {
			t.Errorf("%s: %s", tc.file, d)
		}
	}
	if _, err := ReadFile("testdata/i4_3.npy"); err == nil || !strings.Contains(err.Error(), `dtype "<i4"`) {
		t.Errorf("int32 file: %v", err)
	}
}

func seq(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(i)
	}
	return s
}

func TestRoundTripFile(t *testing.T) {
	x, _ := tensor.FromSlice([]float32{1, nan, -3, negZero, 5, 6}, 3, 2)
	p := filepath.Join(t.TempDir(), "x.npy")
	if err := WriteFile(p, x); err != nil {
		t.Fatal(err)
	}
	y, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(y.Shape, x.Shape) || conformance.DiffFloat32(y.Data, x.Data) != "" {
		t.Fatalf("round trip: %v %v", y.Shape, y.Data)
	}
	raw := filepath.Join(t.TempDir(), "x.f32")
	os.WriteFile(raw, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}, 0o644)
	r, err := ReadRawFile(raw, []int{2, 1})
	if err != nil || r.Data[0] != 1 || r.Data[1] != -2 {
		t.Fatalf("raw: %v %v", r, err)
	}
	if _, err := ReadRawFile(raw, []int{3}); err == nil || !strings.Contains(err.Error(), "8 bytes, shape [3] needs 12") {
		t.Fatalf("raw size mismatch: %v", err)
	}
}

// TestTruncatedAndCorrupt: every prefix of a valid file, and a set of
// hostile headers, give ErrFormat and never panic.
func TestTruncatedAndCorrupt(t *testing.T) {
	good, _ := os.ReadFile("testdata/f4_2x3.npy")
	for n := range len(good) {
		if _, err := Read(bytes.NewReader(good[:n])); !errors.Is(err, ErrFormat) {
			t.Fatalf("prefix of %d bytes: %v", n, err)
		}
	}
	if _, err := Read(bytes.NewReader(append(append([]byte{}, good...), 0))); !errors.Is(err, ErrFormat) {
		t.Fatalf("trailing byte: %v", err)
	}
	for _, h := range []string{
		"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}",
		"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3,), }",
		"{'descr': '<f4', 'shape': (3,), }",
		"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (3,",
		"['descr']",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
		"{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4), }",
		"{'descr: '<f4'}",
	} {
		if _, err := Read(bytes.NewReader(fileWithHeader(h, 8))); !errors.Is(err, ErrFormat) {
			t.Errorf("header %q: %v", h, err)
		}
	}
}

// TestHugeShapeSmallFile: a header that promises 2^40 values backed by 8
// bytes fails, in Read and ReadArray, without allocating anything near
// that size.
func TestHugeShapeSmallFile(t *testing.T) {
	for _, read := range []func(io.Reader) error{
		func(r io.Reader) error { _, err := Read(r); return err },
		func(r io.Reader) error { _, err := ReadArray(r); return err },
	} {
		for _, descr := range []string{"<f4", "|i1"} {
			b := fileWithHeader("{'descr': '"+descr+"', 'fortran_order': False, 'shape': (1099511627776,), }", 8)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err := read(bytes.NewReader(b))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("%s: error %v", descr, err)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 256<<10 {
				t.Fatalf("%s: allocated %d bytes for an 8-byte body", descr, grew)
			}
		}
	}
}

// fileWithHeader returns a version 1.0 .npy file with header h, zeros
// bytes of data and then data.
func fileWithHeader(h string, zeros int, data ...byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	b.WriteByte(byte(len(h)))
	b.WriteByte(byte(len(h) >> 8))
	b.WriteString(h)
	b.Write(make([]byte, zeros))
	b.Write(data)
	return b.Bytes()
}

// TestSizeOverflow: a shape whose byte length overflows int is refused
// with ErrFormat. Before the checked arithmetic, (2^63-1,) panicked
// (slice bounds out of range [:-4]) and (2^62,) wrapped to 0 bytes and
// looped forever.
func TestSizeOverflow(t *testing.T) {
	for _, tc := range []struct{ descr, shape string }{
		{"<f4", "9223372036854775807,"},
		{"<f4", "4611686018427387904,"},
		{"<f8", "4611686018427387904,"},
		{"<f8", "2305843009213693952,"},
		{">f8", "1152921504606846976, 2"},
		{"<f4", "2147483648, 2147483648"},
	} {
		for _, fortran := range []string{"False", "True"} {
			h := fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }", tc.descr, fortran, tc.shape)
			_, err := Read(bytes.NewReader(fileWithHeader(h, 64)))
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "than an int can count") {
				t.Errorf("header %q: %v", h, err)
			}
		}
	}
}

// TestRawSizeOverflow: ReadRawFile with a shape whose byte length
// overflows (4 x 2^62 wrapped to 0, which matched an empty file and
// panicked in makeslice) is an error naming the shape.
func TestRawSizeOverflow(t *testing.T) {
	p := filepath.Join(t.TempDir(), "empty.raw")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, shape := range [][]int{{math.MaxInt/4 + 1}, {math.MaxInt}, {math.MaxInt/8 + 1, 2}} {
		_, err := ReadRawFile(p, shape)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprint(shape)) || !strings.Contains(err.Error(), "than an int can count") {
			t.Errorf("shape %v: %v", shape, err)
		}
	}
}
