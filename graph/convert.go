package graph

import (
	"fmt"

	"github.com/tensorquant/tensorquant/onnx"
)

// TensorFromONNX converts an ONNX TensorProto into a Tensor (the data is
// copied). It returns an error for an element type the graph does not
// compute with, negative or overflowing dimensions, data that does not
// match the dimensions, and a tensor whose data is in an external file
// (which ImportFile reads).
func TensorFromONNX(t *onnx.Tensor) (*Tensor, error) {
	if e, err := t.External(); err != nil {
		return nil, err
	} else if e != nil {
		return nil, fmt.Errorf("graph: tensor %q keeps its data in the file %q: import the model with ImportFile", t.Name, e.Location)
	}
	n, err := t.NumElements()
	if err != nil {
		return nil, err
	}
	shape := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		shape[i] = int(d)
	}
	x := &Tensor{DType: t.DataType, Shape: shape}
	switch t.DataType {
	case onnx.Float:
		x.F32, err = onnx.TensorValues[float32](t)
	case onnx.Double:
		x.F64, err = onnx.TensorValues[float64](t)
	case onnx.Int64:
		x.I64, err = onnx.TensorValues[int64](t)
	case onnx.Int32:
		x.I32, err = onnx.TensorValues[int32](t)
	case onnx.Int16:
		x.I32, err = widen[int16](t)
	case onnx.Uint16:
		x.I32, err = widen[uint16](t)
	case onnx.Int8:
		x.I8, err = onnx.TensorValues[int8](t)
	case onnx.Uint8:
		x.U8, err = onnx.TensorValues[uint8](t)
	case onnx.Bool:
		var b []bool
		if b, err = onnx.TensorValues[bool](t); err == nil {
			x.U8 = make([]uint8, len(b))
			for i, v := range b {
				if v {
					x.U8[i] = 1
				}
			}
		}
	case onnx.Float8E4M3FN, onnx.Float8E5M2:
		x.U8, err = byteCodes(t, n)
	case onnx.Int4, onnx.Uint4:
		err = nibbles(t, n, x)
	default:
		return nil, fmt.Errorf("graph: tensor %q: element type %v is not supported", t.Name, t.DataType)
	}
	if err != nil {
		return nil, err
	}
	return x, nil
}

// widen reads the INT16 or UINT16 elements of t into int32s.
func widen[T int16 | uint16](t *onnx.Tensor) ([]int32, error) {
	v, err := onnx.TensorValues[T](t)
	if err != nil {
		return nil, err
	}
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out, nil
}

// narrow converts the int32s that hold INT16 or UINT16 elements back to
// a tensor named name; it returns an error for a value out of T's range.
func narrow[T int16 | uint16](name string, dims []int64, v []int32) (onnx.Tensor, error) {
	out := make([]T, len(v))
	for i, x := range v {
		if out[i] = T(x); int32(out[i]) != x {
			return onnx.Tensor{}, fmt.Errorf("graph: tensor %q: %d at flat index %d is out of range for %v", name, x, i, onnx.DataTypeOf[T]())
		}
	}
	return onnx.NewTensor(name, dims, out)
}

// byteCodes reads n one-byte codes (FP8) from raw_data or int32_data.
func byteCodes(t *onnx.Tensor, n int64) ([]uint8, error) {
	if t.RawData != nil {
		if int64(len(t.RawData)) != n || len(t.Int32Data) != 0 {
			return nil, fmt.Errorf("graph: tensor %q: %d bytes of raw_data (and %d int32_data) for %d %v elements", t.Name, len(t.RawData), len(t.Int32Data), n, t.DataType)
		}
		return append([]uint8(nil), t.RawData...), nil
	}
	if int64(len(t.Int32Data)) != n {
		return nil, fmt.Errorf("graph: tensor %q: %d int32_data values for %d %v elements", t.Name, len(t.Int32Data), n, t.DataType)
	}
	out := make([]uint8, n)
	for i, v := range t.Int32Data {
		if v < 0 || v > 255 {
			return nil, fmt.Errorf("graph: tensor %q: int32_data[%d] = %d is not a %v code", t.Name, i, v, t.DataType)
		}
		out[i] = uint8(v)
	}
	return out, nil
}

// nibbles reads n INT4/UINT4 values, packed two per byte (low nibble
// first) in raw_data or int32_data, unpacked into x (I8 or U8).
func nibbles(t *onnx.Tensor, n int64, x *Tensor) error {
	packed := t.RawData
	if packed == nil {
		var err error
		if packed, err = byteCodes(&onnx.Tensor{Name: t.Name, DataType: t.DataType, Int32Data: t.Int32Data}, (n+1)/2); err != nil {
			return err
		}
	} else if int64(len(packed)) != (n+1)/2 || len(t.Int32Data) != 0 {
		return fmt.Errorf("graph: tensor %q: %d bytes of raw_data for %d packed %v elements", t.Name, len(packed), n, t.DataType)
	}
	if t.DataType == onnx.Uint4 {
		x.U8 = make([]uint8, n)
		for i := range x.U8 {
			x.U8[i] = packed[i/2] >> (4 * (i % 2)) & 0xf
		}
		return nil
	}
	x.I8 = make([]int8, n)
	for i := range x.I8 {
		x.I8[i] = int8(packed[i/2]>>(4*(i%2))<<4) >> 4
	}
	return nil
}

// TensorToONNX converts x into an ONNX TensorProto named name (data in
// raw_data, INT4/UINT4 packed two per byte). It returns an error for an
// invalid tensor.
func TensorToONNX(name string, x *Tensor) (onnx.Tensor, error) {
	if err := x.Validate(); err != nil {
		return onnx.Tensor{}, err
	}
	dims := make([]int64, len(x.Shape))
	for i, d := range x.Shape {
		dims[i] = int64(d)
	}
	switch x.DType {
	case onnx.Float:
		return onnx.NewTensor(name, dims, x.F32)
	case onnx.Double:
		return onnx.NewTensor(name, dims, x.F64)
	case onnx.Int64:
		return onnx.NewTensor(name, dims, x.I64)
	case onnx.Int32:
		return onnx.NewTensor(name, dims, x.I32)
	case onnx.Int16:
		return narrow[int16](name, dims, x.I32)
	case onnx.Uint16:
		return narrow[uint16](name, dims, x.I32)
	case onnx.Int8:
		return onnx.NewTensor(name, dims, x.I8)
	case onnx.Uint8:
		return onnx.NewTensor(name, dims, x.U8)
	case onnx.Bool:
		b := make([]bool, len(x.U8))
		for i, v := range x.U8 {
			b[i] = v != 0
		}
		return onnx.NewTensor(name, dims, b)
	case onnx.Float8E4M3FN, onnx.Float8E5M2:
		return onnx.Tensor{Name: name, Dims: dims, DataType: x.DType, RawData: append([]byte{}, x.U8...)}, nil
	}
	// INT4, UINT4: two per byte, low nibble first.
	n := x.Len()
	packed := make([]byte, (n+1)/2)
	for i := range n {
		var v uint8
		if x.DType == onnx.Int4 {
			v = uint8(x.I8[i]) & 0xf
		} else {
			v = x.U8[i] & 0xf
		}
		packed[i/2] |= v << (4 * (i % 2))
	}
	return onnx.Tensor{Name: name, Dims: dims, DataType: x.DType, RawData: packed}, nil
}
