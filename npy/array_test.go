package npy

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The files were written by NumPy 1.24.2 (testdata/gen_dtypes.py).
func TestReadNumPyDTypes(t *testing.T) {
	check := func(file string, got, want any, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", file, err)
		} else if !cmp.Equal(got, want) {
			t.Errorf("%s: values %v, want %v", file, got, want)
		}
	}
	read := func(file string, dtype DType, shape []int) *Array {
		t.Helper()
		a, err := ReadArrayFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if a.DType != dtype || !cmp.Equal(a.Shape, shape) {
			t.Errorf("%s: %v %v, want %v %v", file, a.DType, a.Shape, dtype, shape)
		}
		return a
	}
	a := read("i8_2x3.npy", Int64, []int{2, 3})
	v8, err := Values[int64](a)
	check("i8_2x3.npy", v8, []int64{0, -1, 2, 1 << 62, math.MinInt64, 7}, err)
	a = read("i8_be_3.npy", Int64, []int{3})
	v8, err = Values[int64](a)
	check("i8_be_3.npy", v8, []int64{1, -2, 3}, err)
	a = read("i4_fortran_2x3.npy", Int32, []int{2, 3})
	v4, err := Values[int32](a)
	check("i4_fortran_2x3.npy", v4, []int32{1, 2, 3, -4, 5, math.MinInt32}, err)
	a = read("i1_4.npy", Int8, []int{4})
	v1, err := Values[int8](a)
	check("i1_4.npy", v1, []int8{-128, -1, 0, 127}, err)
	a = read("u1_2x2.npy", Uint8, []int{2, 2})
	vu, err := Values[uint8](a)
	check("u1_2x2.npy", vu, []uint8{0, 255, 7, 128}, err)
	a = read("b1_3.npy", Bool, []int{3})
	vb, err := Values[bool](a)
	check("b1_3.npy", vb, []bool{true, false, true}, err)
	a = read("f8_scalar.npy", Float64, []int{})
	vf, err := Values[float64](a)
	check("f8_scalar.npy", vf, []float64{0.1}, err)
	vs, err := Values[float32](a)
	check("f8_scalar.npy", vs, []float32{0.1}, err)
}

// TestWriteArrayMatchesNumPy: WriteArray is byte-identical to np.save for
// every dtype, and so is Write for float32.
func TestWriteArrayMatchesNumPy(t *testing.T) {
	for _, file := range []string{"i8_2x3.npy", "i1_4.npy", "u1_2x2.npy", "b1_3.npy", "f8_scalar.npy", "f8_2x3.npy", "i4_3.npy",
		"f4_1d_5.npy", "f4_2x3.npy", "f4_scalar.npy", "f4_empty_0x4.npy"} {
		want, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		a, err := ReadArray(bytes.NewReader(want))
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		if err := WriteArray(&got, a); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s: WriteArray gives\n%q\nnp.save gives\n%q", file, got.Bytes(), want)
		}
		if a.DType != Float32 {
			continue
		}
		x, err := Read(bytes.NewReader(want))
		got.Reset()
		if err != nil || Write(&got, x) != nil || !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s: Write gives\n%q\nnp.save gives\n%q (%v)", file, got.Bytes(), want, err)
		}
	}
	// Big-endian and Fortran-order files are written back little-endian
	// in C order, as np.save writes np.ascontiguousarray(x, '<...').
	for _, tc := range []struct{ file, like string }{{"i8_be_3.npy", "<i8"}, {"i4_fortran_2x3.npy", "<i4"}} {
		a, err := ReadArrayFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := WriteArray(&b, a); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "'descr': '"+tc.like+"', 'fortran_order': False") {
			t.Errorf("%s: header %q", tc.file, b.String()[:60])
		}
	}
}

func TestNewAndValues(t *testing.T) {
	a, err := New([]int64{1, 300, -5, 0}, 2, 2)
	if err != nil || a.DType != Int64 || a.Numel() != 4 {
		t.Fatalf("New: %v %v", a, err)
	}
	if v, err := Values[float32](a); err != nil || !cmp.Equal(v, []float32{1, 300, -5, 0}) {
		t.Errorf("int64 as float32: %v %v", v, err)
	}
	if v, err := Values[int32](a); err != nil || !cmp.Equal(v, []int32{1, 300, -5, 0}) {
		t.Errorf("int64 as int32: %v %v", v, err)
	}
	for _, tc := range []struct {
		err error
		msg string
	}{
		{second(Values[int8](a)), "npy: int64 value 300 at flat index 1 does not fit int8"},
		{second(Values[uint8](a)), "npy: int64 value 300 at flat index 1 does not fit uint8"},
		{second(Values[bool](a)), "npy: int64 value 300 at flat index 1 does not fit bool"},
		{second(Values[int64](mustNew(t, []float32{1.5}))), "npy: float32 data cannot be read as int64"},
		{second(Values[bool](mustNew(t, []float64{1}))), "npy: float64 data cannot be read as bool"},
		{second(Values[uint8](mustNew(t, []int8{-1}))), "npy: int8 value -1 at flat index 0 does not fit uint8"},
		{second(New([]float32{1, 2, 3}, 2, 2)), "npy: shape [2 2] holds 4 elements, data has 3"},
		{second(New([]float32{}, -1)), "npy: negative dimension -1 at axis 0 of shape [-1]"},
		{second(Values[int64](&Array{Shape: []int{3}, DType: Int64})), "npy: shape [3] of int64 needs 24 bytes, the array holds 0"},
		{second(Values[int64](&Array{DType: 9})), "npy: invalid dtype DType(9)"},
		{second(Values[int64](nil)), "npy: nil *Array"},
	} {
		if tc.err == nil || tc.err.Error() != tc.msg {
			t.Errorf("error %v, want %q", tc.err, tc.msg)
		}
	}
	if v, err := Values[bool](mustNew(t, []uint8{0, 1, 1})); err != nil || !cmp.Equal(v, []bool{false, true, true}) {
		t.Errorf("uint8 0/1 as bool: %v %v", v, err)
	}
	if v, err := Values[float32](mustNew(t, []float64{0.1, 1e300, math.Inf(-1)})); err != nil ||
		!cmp.Equal(v, []float32{0.1, float32(math.Inf(1)), float32(math.Inf(-1))}) {
		t.Errorf("float64 as float32: %v %v", v, err)
	}
	if v, err := Values[float32](mustNew(t, []int64{1<<24 + 1})); err != nil || v[0] != 1<<24 {
		t.Errorf("2^24+1 as float32: %v %v (round to nearest even)", v, err)
	}
	// An Array whose Shape no longer describes its data is refused.
	a.Shape = []int{5}
	if err := WriteArray(&bytes.Buffer{}, a); err == nil || !strings.Contains(err.Error(), "shape [5] of int64 needs 40 bytes, the array holds 32") {
		t.Errorf("WriteArray of a changed Array: %v", err)
	}
}

func mustNew[T Element](t *testing.T, v []T) *Array {
	t.Helper()
	a, err := New(v, len(v))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func second[T any](_ T, err error) error { return err }

// TestReadArrayHostile: malformed headers and data give ErrFormat with a
// message that says what is wrong.
func TestReadArrayHostile(t *testing.T) {
	for _, tc := range []struct {
		header string
		body   []byte
		msg    string
	}{
		{"{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", []byte{1, 2, 0}, "bool element 1 is 2, not 0 or 1"},
		{"{'descr': '|f4', 'fortran_order': False, 'shape': (1,), }", make([]byte, 4), `dtype "|f4" is not one of`},
		{"{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8), `dtype "<u8" is not one of`},
		{"{'descr': '', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8), `dtype "" is not one of`},
		{"{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", make([]byte, 12), "shape [2] of int64 needs 16 bytes of data, the file holds 12"},
		{"{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", make([]byte, 9), "data continues after the 2 elements of shape [2]"},
		{"{'descr': '|i1', 'fortran_order': False, 'shape': (9223372036854775807, 2), }", nil, "has more elements than an int can count"},
	} {
		_, err := ReadArray(bytes.NewReader(fileWithHeader(tc.header, 0, tc.body...)))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %q", tc.header, err, tc.msg)
		}
	}
	// One-byte types accept any byte-order mark.
	for _, descr := range []string{"|u1", "<u1", ">u1", "u1"} {
		a, err := ReadArray(bytes.NewReader(fileWithHeader("{'descr': '"+descr+"', 'fortran_order': True, 'shape': (2, 1), }", 0, 7, 9)))
		if err != nil || a.DType != Uint8 {
			t.Errorf("%s: %v %v", descr, a, err)
		}
	}
}
