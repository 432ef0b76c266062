package fuzz

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tensorquant/tensorquant/onnx"
)

// FuzzTensorProto feeds arbitrary bytes to onnx.UnmarshalTensor, the
// decoder of the ONNX backend suite's input_N.pb / output_N.pb files. It
// must never panic; input it rejects must give a *onnx.DecodeError with an
// offset inside the input; for input it accepts, the typed accessors
// (TensorValues, TensorStrings, TensorBits16) must not panic either and
// must return exactly the product of the dims when they succeed.
func FuzzTensorProto(f *testing.F) {
	files, _ := filepath.Glob("../onnx/testdata/tensorproto/*.pb")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := onnx.UnmarshalTensor(data)
		if err != nil {
			var de *onnx.DecodeError
			if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(data) {
				t.Fatalf("error %T %v: not a *DecodeError with an offset inside the input", err, err)
			}
			return
		}
		n, err := x.NumElements()
		if err != nil {
			return
		}
		check := func(got int, err error) {
			if err == nil && int64(got) != n {
				t.Fatalf("%v tensor of dims %v: %d values", x.DataType, x.Dims, got)
			}
		}
		switch x.DataType {
		case onnx.Float:
			v, err := onnx.TensorValues[float32](x)
			check(len(v), err)
		case onnx.Double:
			v, err := onnx.TensorValues[float64](x)
			check(len(v), err)
		case onnx.Int64:
			v, err := onnx.TensorValues[int64](x)
			check(len(v), err)
		case onnx.Uint8:
			v, err := onnx.TensorValues[uint8](x)
			check(len(v), err)
		case onnx.Bool:
			v, err := onnx.TensorValues[bool](x)
			check(len(v), err)
		case onnx.Uint32:
			v, err := onnx.TensorValues[uint32](x)
			check(len(v), err)
		case onnx.String:
			v, err := onnx.TensorStrings(x)
			check(len(v), err)
		case onnx.Float16, onnx.BFloat16:
			v, err := onnx.TensorBits16(x)
			check(len(v), err)
		}
	})
}
