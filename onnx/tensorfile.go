package onnx

import (
	"errors"
	"fmt"
	"os"

	"github.com/tensorquant/tensorquant/onnx/internal/wire"
)

// tensorStringData is TensorProto.string_data, which Tensor does not model
// (it stays in the unknown bytes); TensorStrings reads it from there.
const tensorStringData = 6

// UnmarshalTensor decodes one serialized TensorProto: the content of the
// input_N.pb and output_N.pb files of the ONNX backend test suite, or of
// what onnx.numpy_helper.from_array(a).SerializeToString() writes. It is
// as hardened as Unmarshal (same rules, same *DecodeError, with a path
// starting at "TensorProto"); it never panics.
func UnmarshalTensor(b []byte) (*Tensor, error) {
	t := new(Tensor)
	r := &reader{b: b, msg: "TensorProto"}
	if err := t.decode(r); err != nil {
		var de *DecodeError
		if errors.As(err, &de) {
			de.Path = "TensorProto" + de.Path
		}
		return nil, err
	}
	return t, nil
}

// ReadTensorFile reads and decodes the TensorProto in path (see
// UnmarshalTensor). It returns the error of reading the file or a
// *DecodeError.
func ReadTensorFile(path string) (*Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return UnmarshalTensor(b)
}

// TensorStrings returns the elements of a STRING tensor, which ONNX keeps
// in TensorProto.string_data (one bytes value per element, row-major).
//
// It returns an error if t.DataType is not String, if the number of
// strings is not the product of Dims, or if the kept string_data bytes are
// malformed (they cannot be after UnmarshalTensor or Unmarshal).
func TensorStrings(t *Tensor) ([][]byte, error) {
	if t.DataType != String {
		return nil, fmt.Errorf("onnx: tensor %q has data type %v, not STRING", t.Name, t.DataType)
	}
	n, err := t.NumElements()
	if err != nil {
		return nil, err
	}
	var out [][]byte
	count := 0
	for pass := 0; pass < 2; pass++ { // count, then copy: no allocation beyond what the bytes describe
		if pass == 1 {
			if int64(count) != n {
				return nil, fmt.Errorf("onnx: tensor %q: %d strings in string_data for dims %v (%d elements)", t.Name, count, t.Dims, n)
			}
			out = make([][]byte, 0, count)
		}
		b := t.x.unknown
		for len(b) > 0 {
			num, typ, k := wire.ConsumeField(b)
			if k < 0 {
				return nil, fmt.Errorf("onnx: tensor %q: kept fields: %w", t.Name, wire.ParseError(k))
			}
			if num == tensorStringData {
				if typ != wire.BytesType {
					return nil, fmt.Errorf("onnx: tensor %q: string_data (field 6): wire type %v, want bytes", t.Name, typ)
				}
				_, _, tk := wire.ConsumeTag(b)
				v, _ := wire.ConsumeBytes(b[tk:])
				if pass == 0 {
					count++
				} else {
					out = append(out, append([]byte{}, v...))
				}
			}
			b = b[k:]
		}
	}
	return out, nil
}

// TensorBits16 returns the elements of a FLOAT16 or BFLOAT16 tensor as
// their 16-bit patterns (Go has no half-precision type), read as
// TensorValues reads UINT16: from RawData (little-endian) when present,
// else from Int32Data, where ONNX keeps one pattern per int32.
//
// It returns an error if t.DataType is neither, and TensorValues' errors
// (both RawData and typed values present, an element count that does not
// match Dims, an int32_data value that is not a 16-bit pattern).
func TensorBits16(t *Tensor) ([]uint16, error) {
	if t.DataType != Float16 && t.DataType != BFloat16 {
		return nil, fmt.Errorf("onnx: tensor %q has data type %v, not FLOAT16 or BFLOAT16", t.Name, t.DataType)
	}
	bits := *t
	bits.DataType = Uint16
	v, err := TensorValues[uint16](&bits)
	if err != nil {
		return nil, fmt.Errorf("%w (%v elements are read as UINT16 bit patterns)", err, t.DataType)
	}
	return v, nil
}
