package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tensorquant/tensorquant/internal/readfile"
)

// External is where the data of an external tensor is (its
// TensorProto.external_data entries): Length bytes at Offset in the file
// Location, in raw_data's layout.
type External struct {
	// Location is the file's path relative to the model's directory,
	// with '/' separators.
	Location string
	// Offset is the position of the data in the file (0 when absent).
	Offset int64
	// Length is the data's size in bytes, or -1 when absent: the data
	// runs to the end of the file.
	Length int64
	// Checksum is the "checksum" entry (the SHA-1 digest of the file,
	// by ONNX's definition), or "". It is kept, not verified, as ONNX
	// Runtime and onnx do.
	Checksum string
}

// External returns where t's data is when t.DataLocation is
// DataLocationExternal, or nil when it is DataLocationDefault.
//
// It returns an error for another DataLocation, an external tensor that
// also holds data of its own, a key other than location, offset, length
// and checksum (ONNX Runtime's set), a key given twice, a missing or
// empty location, and an offset or length that is not a non-negative
// decimal integer.
func (t *Tensor) External() (*External, error) {
	switch t.DataLocation {
	case DataLocationDefault:
		return nil, nil
	case DataLocationExternal:
	default:
		return nil, fmt.Errorf("onnx: tensor %q: data_location %v is not DEFAULT or EXTERNAL", t.Name, t.DataLocation)
	}
	if t.RawData != nil || len(t.FloatData)+len(t.Int32Data)+len(t.Int64Data)+len(t.DoubleData)+len(t.Uint64Data) != 0 {
		return nil, fmt.Errorf("onnx: tensor %q has external data and data of its own", t.Name)
	}
	e := &External{Length: -1}
	seen := map[string]bool{}
	for _, kv := range t.ExternalData {
		if seen[kv.Key] {
			return nil, fmt.Errorf("onnx: tensor %q: external_data key %q given twice", t.Name, kv.Key)
		}
		seen[kv.Key] = true
		var err error
		switch kv.Key {
		case "location":
			e.Location = kv.Value
		case "offset":
			e.Offset, err = parseSize(kv.Value)
		case "length":
			e.Length, err = parseSize(kv.Value)
		case "checksum":
			e.Checksum = kv.Value
		default:
			return nil, fmt.Errorf("onnx: tensor %q: unknown external_data key %q", t.Name, kv.Key)
		}
		if err != nil {
			return nil, fmt.Errorf("onnx: tensor %q: external_data %s %q is not a byte count", t.Name, kv.Key, kv.Value)
		}
	}
	if e.Location == "" {
		return nil, fmt.Errorf("onnx: tensor %q: external data without a location", t.Name)
	}
	return e, nil
}

func parseSize(s string) (int64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errors.New("not a decimal integer")
	}
	return strconv.ParseInt(s, 10, 64)
}

// setExternal makes t an external tensor whose data is n bytes at offset
// in the file location.
func (t *Tensor) setExternal(location string, offset, n int64) {
	t.RawData = nil
	t.DataLocation = DataLocationExternal
	t.ExternalData = []StringStringEntry{
		{Key: "location", Value: location},
		{Key: "offset", Value: strconv.FormatInt(offset, 10)},
		{Key: "length", Value: strconv.FormatInt(n, 10)},
	}
}

// localPath checks that location, an external data file's name, is a
// relative path inside the model's directory without ".." components
// (which ONNX disallows) and returns it in the system's form.
func localPath(location string) (string, error) {
	name := filepath.FromSlash(location)
	if !filepath.IsLocal(name) || slices.Contains(strings.Split(location, "/"), "..") || strings.ContainsRune(location, 0) {
		return "", fmt.Errorf("location %q is not a relative path inside the model's directory", location)
	}
	return name, nil
}

// rawSize returns the number of bytes t's elements take in raw_data:
// the product of t.Dims times the element size, the sub-byte types
// packed (two INT4, UINT4 or FLOAT4E2M1 values to a byte, four INT2 or
// UINT2). It returns an error for STRING and undefined element types and
// dimensions whose product overflows an int.
func (t *Tensor) rawSize() (int64, error) {
	if s := t.DataType.Size(); s > 0 {
		n, err := t.size(s)
		return int64(n), err
	}
	n, err := t.NumElements()
	if err != nil {
		return 0, err
	}
	switch t.DataType {
	case Int4, Uint4, Float4E2M1:
		return n/2 + n%2, nil
	case Int2, Uint2:
		return (n + 3) / 4, nil
	}
	return 0, fmt.Errorf("onnx: tensor %q: %v elements have no raw layout", t.Name, t.DataType)
}

// ReadExternalData reads the data of the external tensor t (see
// Tensor.External) from its file, relative to dir (the directory of the
// model file). It returns the bytes, which hold t's elements in
// raw_data's layout: set them as t.RawData (and t.DataLocation to
// DataLocationDefault, t.ExternalData to nil) to make t an ordinary
// tensor.
//
// The location is opened inside dir only (os.Root): an absolute path, a
// ".." component, or a symbolic link that leads out of dir is refused, as
// is a file that is not a regular file. The offset and length must lie
// within the file, and the length must be what t's type and dims take;
// no more than that is read or allocated. It returns these errors, naming
// the tensor, and the errors of opening and reading the file.
func ReadExternalData(dir string, t *Tensor) ([]byte, error) {
	e, err := t.External()
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, fmt.Errorf("onnx: tensor %q: data_location is not EXTERNAL", t.Name)
	}
	fail := func(err error) ([]byte, error) {
		return nil, fmt.Errorf("onnx: tensor %q: external data: %w", t.Name, err)
	}
	name, err := localPath(e.Location)
	if err != nil {
		return fail(err)
	}
	want, err := t.rawSize()
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fail(err)
	}
	defer root.Close()
	f, size, err := readfile.OpenIn(root, name)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	if e.Offset > size {
		return fail(fmt.Errorf("offset %d is past the end of %s (%d bytes)", e.Offset, e.Location, size))
	}
	n := e.Length
	if n < 0 {
		n = size - e.Offset
	}
	if n > size-e.Offset {
		return fail(fmt.Errorf("%d bytes at offset %d run past the end of %s (%d bytes)", n, e.Offset, e.Location, size))
	}
	if n != want {
		return fail(fmt.Errorf("%d bytes for %v%v, which take %d", n, t.DataType, t.Dims, want))
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, e.Offset); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("%s changed size while it was read", e.Location)
		}
		return fail(err)
	}
	return b, nil
}
