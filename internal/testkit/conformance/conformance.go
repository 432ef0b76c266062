// Package conformance reads the golden vectors of the original
// pytorch_quantization toolkit (testdata/conformance, format in FORMAT.md
// there) for the tests of every tensorquant package, and compares float32
// results bit for bit.
package conformance

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/tensorquant/tensorquant/tensor"
)

// Tensor is one tensor object of the vectors: a shape, a NumPy dtype name and
// the row-major elements, decoded into the slice that matches the dtype
// (F32 for float32, F64 for float64, I64 for every integer type, Bool).
// Bits holds the IEEE-754 bit patterns when the file has them.
type Tensor struct {
	Shape []int
	Dtype string
	F32   []float32
	F64   []float64
	I64   []int64
	Bool  []bool
	Bits  []uint64
}

type rawTensor struct {
	Shape  []int             `json:"shape"`
	Dtype  string            `json:"dtype"`
	Values []json.RawMessage `json:"values"`
	Bits   []uint64          `json:"bits"`
	B64    *string           `json:"b64"`
}

// UnmarshalJSON decodes a tensor object, including "NaN"/"Inf"/"-Inf" strings,
// -0.0 and base64 little-endian payloads.
func (t *Tensor) UnmarshalJSON(b []byte) error {
	var r rawTensor
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	if r.Shape == nil && r.Dtype == "" {
		return fmt.Errorf("conformance: not a tensor object: %.80s", b)
	}
	n, err := tensor.NumelOf(r.Shape)
	if err != nil {
		return err
	}
	t.Shape, t.Dtype, t.Bits = r.Shape, r.Dtype, r.Bits
	if r.B64 != nil {
		return t.decodeB64(*r.B64, n)
	}
	if len(r.Values) != n {
		return fmt.Errorf("conformance: shape %v but %d values", r.Shape, len(r.Values))
	}
	switch r.Dtype {
	case "float32", "float64", "float16":
		fs := make([]float64, n)
		for i, v := range r.Values {
			if fs[i], err = parseFloat(v); err != nil {
				return err
			}
		}
		if r.Dtype == "float64" {
			t.F64 = fs
		} else {
			t.F32 = make([]float32, n)
			for i, f := range fs {
				t.F32[i] = float32(f)
			}
		}
	case "bool":
		t.Bool = make([]bool, n)
		for i, v := range r.Values {
			if err := json.Unmarshal(v, &t.Bool[i]); err != nil {
				return err
			}
		}
	default:
		t.I64 = make([]int64, n)
		for i, v := range r.Values {
			if err := json.Unmarshal(v, &t.I64[i]); err != nil {
				return fmt.Errorf("conformance: dtype %s: %w", r.Dtype, err)
			}
		}
	}
	if r.Dtype == "float32" && r.Bits != nil {
		// The bit patterns are authoritative (they keep NaN payloads and -0).
		for i, b := range r.Bits {
			t.F32[i] = math.Float32frombits(uint32(b))
		}
	}
	return nil
}

func (t *Tensor) decodeB64(s string, n int) error {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	size := map[string]int{"float32": 4, "float64": 8, "int64": 8, "int32": 4}[t.Dtype]
	if size == 0 || len(raw) != n*size {
		return fmt.Errorf("conformance: b64 %s payload of %d bytes for %d elements", t.Dtype, len(raw), n)
	}
	switch t.Dtype {
	case "float32":
		t.F32 = make([]float32, n)
		return binary.Read(bytes.NewReader(raw), binary.LittleEndian, t.F32)
	case "float64":
		t.F64 = make([]float64, n)
		return binary.Read(bytes.NewReader(raw), binary.LittleEndian, t.F64)
	case "int64":
		t.I64 = make([]int64, n)
		return binary.Read(bytes.NewReader(raw), binary.LittleEndian, t.I64)
	default:
		v := make([]int32, n)
		if err := binary.Read(bytes.NewReader(raw), binary.LittleEndian, v); err != nil {
			return err
		}
		t.I64 = make([]int64, n)
		for i, x := range v {
			t.I64[i] = int64(x)
		}
		return nil
	}
}

func parseFloat(v json.RawMessage) (float64, error) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		switch s {
		case "NaN":
			return math.NaN(), nil
		case "Inf", "Infinity":
			return math.Inf(1), nil
		case "-Inf", "-Infinity":
			return math.Inf(-1), nil
		}
		return 0, fmt.Errorf("conformance: bad float string %q", s)
	}
	return strconv.ParseFloat(string(v), 64)
}

// Float32 returns t as a tensor.Tensor. It fails for dtypes other than
// float32.
func (t *Tensor) Float32() (*tensor.Tensor, error) {
	if t.F32 == nil && t.Dtype != "float32" {
		return nil, fmt.Errorf("conformance: dtype %s is not float32", t.Dtype)
	}
	return tensor.FromSlice(append([]float32{}, t.F32...), t.Shape...)
}

// MustFloat32 is Float32 for tests whose vectors are known to be float32; it
// panics otherwise.
func (t *Tensor) MustFloat32() *tensor.Tensor {
	x, err := t.Float32()
	if err != nil {
		panic(err)
	}
	return x
}

// Error is a Python exception recorded in the vectors.
type Error struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Root returns the module root (the nearest parent directory with go.mod).
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("conformance: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Load decodes testdata/conformance/<name> into v.
func Load(name string, v any) error {
	root, err := Root()
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(root, "testdata", "conformance", name))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// SameFloat32 reports whether got and want are equal bit for bit, except that
// any NaN equals any NaN (NaN payloads and signs are platform artefacts).
func SameFloat32(got, want float32) bool {
	if got != got && want != want {
		return true
	}
	return math.Float32bits(got) == math.Float32bits(want)
}

// DiffFloat32 compares two slices with SameFloat32 and describes the first
// mismatch (index, both values and their bits), or returns "" when they are
// equal.
func DiffFloat32(got, want []float32) string {
	if len(got) != len(want) {
		return fmt.Sprintf("length %d, want %d", len(got), len(want))
	}
	bad := 0
	first := -1
	for i := range got {
		if !SameFloat32(got[i], want[i]) {
			if first < 0 {
				first = i
			}
			bad++
		}
	}
	if first < 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d elements differ; first at %d: got %v (%#08x), want %v (%#08x)",
		bad, len(got), first, got[first], math.Float32bits(got[first]), want[first], math.Float32bits(want[first]))
}
