package onnx

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The files in testdata/tensorproto were written by Debian's python3-onnx
// 1.12 (numpy_helper.from_array, or helper.make_tensor for the typed-field
// ones); the expected values are the NumPy arrays they were made from.

func readTensorFile(t *testing.T, name string) *Tensor {
	t.Helper()
	x, err := ReadTensorFile(filepath.Join("testdata", "tensorproto", name+".pb"))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestReadTensorFileFloat32(t *testing.T) {
	x := readTensorFile(t, "f32_2x3")
	if x.Name != "x" || x.DataType != Float || !cmp.Equal(x.Dims, []int64{2, 3}) {
		t.Fatalf("got name %q, type %v, dims %v", x.Name, x.DataType, x.Dims)
	}
	got, err := TensorValues[float32](x)
	if err != nil {
		t.Fatal(err)
	}
	// 3e-45 rounds to the denormal 2 * 2^-149.
	want := []uint32{math.Float32bits(1.5), 0x80000000, 0x7f800000, 0, 2, math.Float32bits(-2.25)}
	for i, v := range got {
		if i == 3 {
			if v == v {
				t.Errorf("element 3 = %v, want NaN", v)
			}
			continue
		}
		if math.Float32bits(v) != want[i] {
			t.Errorf("element %d = %v (%#x), want %#x", i, v, math.Float32bits(v), want[i])
		}
	}
	fd := readTensorFile(t, "f32_2_floatdata")
	if got, err := TensorValues[float32](fd); err != nil || !cmp.Equal(got, []float32{0.5, -1}) || fd.RawData != nil {
		t.Errorf("float_data tensor: %v, %v (raw %v)", got, err, fd.RawData)
	}
}

func TestReadTensorFileOtherTypes(t *testing.T) {
	i64 := readTensorFile(t, "i64_scalar")
	if got, err := TensorValues[int64](i64); err != nil || len(i64.Dims) != 0 || !cmp.Equal(got, []int64{-9007199254740993}) {
		t.Errorf("int64 scalar: %v, %v, dims %v", got, err, i64.Dims)
	}
	if got, err := TensorValues[bool](readTensorFile(t, "bool_4")); err != nil || !cmp.Equal(got, []bool{true, false, false, true}) {
		t.Errorf("bool: %v, %v", got, err)
	}
	if got, err := TensorValues[float64](readTensorFile(t, "f64_2")); err != nil || !cmp.Equal(got, []float64{0.1, -1e300}) {
		t.Errorf("double: %v, %v", got, err)
	}
	if got, err := TensorValues[int8](readTensorFile(t, "i8_3")); err != nil || !cmp.Equal(got, []int8{-128, 0, 127}) {
		t.Errorf("int8: %v, %v", got, err)
	}
	empty := readTensorFile(t, "u8_0x3")
	if got, err := TensorValues[uint8](empty); err != nil || len(got) != 0 || !cmp.Equal(empty.Dims, []int64{0, 3}) {
		t.Errorf("empty uint8: %v, %v, dims %v", got, err, empty.Dims)
	}
}

func TestTensorStrings(t *testing.T) {
	s := readTensorFile(t, "string_2")
	got, err := TensorStrings(s)
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(got, [][]byte{[]byte("monday"), {}}) {
		t.Errorf("got %q", got)
	}
	s.Dims = []int64{3}
	if _, err := TensorStrings(s); err == nil || !strings.Contains(err.Error(), "2 strings") {
		t.Errorf("3 dims, 2 strings: err = %v", err)
	}
	if _, err := TensorStrings(readTensorFile(t, "f32_2x3")); err == nil || !strings.Contains(err.Error(), "not STRING") {
		t.Errorf("float tensor: err = %v", err)
	}
	// data_type STRING, string_data as a varint: kept by the decoder (the
	// field is not modelled), refused by TensorStrings.
	bad, err := UnmarshalTensor([]byte{0x10, 0x08, 0x30, 0x01})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TensorStrings(bad); err == nil || !strings.Contains(err.Error(), "want bytes") {
		t.Errorf("varint string_data: err = %v", err)
	}
}

func TestTensorBits16(t *testing.T) {
	got, err := TensorBits16(readTensorFile(t, "f16_3_raw"))
	if err != nil || !cmp.Equal(got, []uint16{15360, 64511, 1}) {
		t.Errorf("raw float16: %v, %v", got, err)
	}
	got, err = TensorBits16(readTensorFile(t, "f16_2_int32data"))
	if err != nil || !cmp.Equal(got, []uint16{15360, 49152}) {
		t.Errorf("int32_data float16: %v, %v", got, err)
	}
	for _, c := range []struct {
		x    Tensor
		want string
	}{
		{Tensor{DataType: Float16, Dims: []int64{1}, Int32Data: []int32{70000}}, "out of range for UINT16 (FLOAT16 elements are read as UINT16 bit patterns)"},
		{Tensor{DataType: Float16, Dims: []int64{2}, Int32Data: []int32{1}}, "1 values in int32_data"},
		{Tensor{DataType: BFloat16, Dims: []int64{2}, RawData: []byte{1, 2, 3}}, "raw_data of 3 bytes"},
		{Tensor{DataType: Float16, Dims: []int64{1}, RawData: []byte{1, 2}, Int32Data: []int32{1}}, "both raw_data"},
		{Tensor{DataType: Float16, Dims: []int64{1}, FloatData: []float32{1}}, "must be in int32_data"},
		{Tensor{DataType: Float, Dims: []int64{1}}, "not FLOAT16"},
		{Tensor{DataType: Float16, Dims: []int64{-1}}, "negative"},
	} {
		if _, err := TensorBits16(&c.x); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.x, err, c.want)
		}
	}
}

func TestUnmarshalTensorMalformed(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "tensorproto", "f32_2x3.pb"))
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < len(b); n++ {
		_, err := UnmarshalTensor(b[:n])
		if n == len(b) || err == nil {
			// A cut between two fields is a valid, shorter message.
			continue
		}
		var de *DecodeError
		if !errors.As(err, &de) || de.Offset < 0 || de.Offset > n || !strings.HasPrefix(de.Path, "TensorProto") {
			t.Fatalf("cut at %d: %v is not a *DecodeError inside the input with a TensorProto path", n, err)
		}
	}
	// dims as a fixed64: a known field with the wrong wire type.
	_, err = UnmarshalTensor([]byte{0x09, 1, 2, 3, 4, 5, 6, 7, 8})
	if err == nil || !strings.Contains(err.Error(), "TensorProto.dims (field 1)") {
		t.Errorf("fixed64 dims: err = %v", err)
	}
	if _, err := ReadTensorFile(filepath.Join("testdata", "tensorproto", "missing.pb")); err == nil {
		t.Error("missing file: no error")
	}
}
