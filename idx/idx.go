package idx

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/tensorquant/tensorquant/internal/atomicfile"
	"github.com/tensorquant/tensorquant/internal/checked"
	"github.com/tensorquant/tensorquant/tensor"
)

// ErrFormat is wrapped by every error about a malformed file.
var ErrFormat = errors.New("idx: malformed file")

// Type is the element type, the third byte of the magic number.
type Type byte

// The element types of the format.
const (
	Uint8   Type = 0x08 // unsigned byte (MNIST images and labels)
	Int8    Type = 0x09 // signed byte
	Int16   Type = 0x0B // short, 2 bytes
	Int32   Type = 0x0C // int, 4 bytes
	Float32 Type = 0x0D // float, 4 bytes
	Float64 Type = 0x0E // double, 8 bytes
)

// Size returns the bytes per element of t, or 0 if t is not a type of the
// format.
func (t Type) Size() int {
	switch t {
	case Uint8, Int8:
		return 1
	case Int16:
		return 2
	case Int32, Float32:
		return 4
	case Float64:
		return 8
	}
	return 0
}

// String returns the type's name ("uint8", ...) or its hex code.
func (t Type) String() string {
	switch t {
	case Uint8:
		return "uint8"
	case Int8:
		return "int8"
	case Int16:
		return "int16"
	case Int32:
		return "int32"
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	}
	return fmt.Sprintf("Type(%#02x)", byte(t))
}

// Array is a decoded IDX file: the element type, the shape and the
// elements (kept as the file's big-endian bytes; the methods convert).
type Array struct {
	Type  Type
	Shape []int
	raw   []byte
}

// Len returns the number of elements (0 for the zero Array).
func (a *Array) Len() int {
	if a.Type.Size() == 0 {
		return 0
	}
	return len(a.raw) / a.Type.Size()
}

// Float64s returns the elements as float64, exactly.
func (a *Array) Float64s() []float64 {
	out := make([]float64, a.Len())
	for i := range out {
		out[i] = a.at(i)
	}
	return out
}

// Float32s returns the elements as float32: exact for uint8, int8, int16
// and float32, rounded to nearest for int32 beyond ±2^24 and for float64.
func (a *Array) Float32s() []float32 {
	out := make([]float32, a.Len())
	for i := range out {
		if a.Type == Float32 {
			out[i] = math.Float32frombits(binary.BigEndian.Uint32(a.raw[4*i:]))
		} else {
			out[i] = float32(a.at(i))
		}
	}
	return out
}

// Ints returns the elements of an integer array (uint8, int8, int16,
// int32), such as a labels file. It returns an error for float32 and
// float64 arrays.
func (a *Array) Ints() ([]int, error) {
	if a.Type == Float32 || a.Type == Float64 {
		return nil, fmt.Errorf("idx: Ints of a %v array", a.Type)
	}
	out := make([]int, a.Len())
	for i := range out {
		out[i] = int(a.at(i))
	}
	return out, nil
}

// Tensor returns the elements as a float32 tensor of the array's shape
// (see Float32s).
func (a *Array) Tensor() *tensor.Tensor {
	return &tensor.Tensor{Shape: append([]int{}, a.Shape...), Data: a.Float32s()}
}

func (a *Array) at(i int) float64 {
	switch a.Type {
	case Uint8:
		return float64(a.raw[i])
	case Int8:
		return float64(int8(a.raw[i]))
	case Int16:
		return float64(int16(binary.BigEndian.Uint16(a.raw[2*i:])))
	case Int32:
		return float64(int32(binary.BigEndian.Uint32(a.raw[4*i:])))
	case Float32:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(a.raw[4*i:])))
	}
	return math.Float64frombits(binary.BigEndian.Uint64(a.raw[8*i:]))
}

// New returns an array of type t and shape holding values, each of which
// must be representable in t exactly (float64 arrays take any value,
// float32 arrays any value a float32 holds, NaN included). It returns an
// error for an unknown type, a negative or overflowing shape, a count of
// values that is not the product of shape, or a value that does not fit.
func New(t Type, shape []int, values []float64) (*Array, error) {
	size := t.Size()
	if size == 0 {
		return nil, fmt.Errorf("idx: unknown element type %v", t)
	}
	if len(shape) == 0 || len(shape) > 255 {
		return nil, fmt.Errorf("idx: %d dimensions: the format holds 1 to 255", len(shape))
	}
	for _, d := range shape {
		if d < 0 || uint64(d) > math.MaxUint32 {
			return nil, fmt.Errorf("idx: dimension %d of shape %v out of the format's range", d, shape)
		}
	}
	n, err := tensor.NumelOf(shape)
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	if n != len(values) {
		return nil, fmt.Errorf("idx: %d values for shape %v (%d elements)", len(values), shape, n)
	}
	a := &Array{Type: t, Shape: append([]int{}, shape...), raw: make([]byte, 0, n*size)}
	for i, v := range values {
		var ok bool
		switch t {
		case Uint8:
			ok = v == math.Trunc(v) && v >= 0 && v <= math.MaxUint8
			a.raw = append(a.raw, byte(v))
		case Int8:
			ok = v == math.Trunc(v) && v >= math.MinInt8 && v <= math.MaxInt8
			a.raw = append(a.raw, byte(int8(v)))
		case Int16:
			ok = v == math.Trunc(v) && v >= math.MinInt16 && v <= math.MaxInt16
			a.raw = binary.BigEndian.AppendUint16(a.raw, uint16(int16(v)))
		case Int32:
			ok = v == math.Trunc(v) && v >= math.MinInt32 && v <= math.MaxInt32
			a.raw = binary.BigEndian.AppendUint32(a.raw, uint32(int32(v)))
		case Float32:
			ok = float64(float32(v)) == v || v != v
			a.raw = binary.BigEndian.AppendUint32(a.raw, math.Float32bits(float32(v)))
		case Float64:
			ok = true
			a.raw = binary.BigEndian.AppendUint64(a.raw, math.Float64bits(v))
		}
		if !ok {
			return nil, fmt.Errorf("idx: value %d (%v) is not a %v", i, v, t)
		}
	}
	return a, nil
}

// Read decodes one IDX file from r, gzip-compressed or not (the gzip magic
// 1f 8b is recognised). It returns an error wrapping ErrFormat for a bad
// magic number, an unknown element type, zero dimensions, a shape whose
// element count overflows, data shorter than the shape needs or followed
// by more bytes, and for a corrupt gzip stream.
func Read(r io.Reader) (*Array, error) {
	s, err := NewStream(r)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if s.Shape[0] == 0 {
		return &Array{Type: s.Type, Shape: s.Shape, raw: []byte{}}, s.end()
	}
	a, err := s.Next(s.Shape[0])
	if err != nil {
		return nil, err
	}
	a.Shape = s.Shape
	return a, nil
}

// Stream reads an IDX file along its first axis, a few rows (images,
// labels) at a time, so that a data set is read batch by batch; its
// memory is what Next returns. It is not safe for concurrent use.
type Stream struct {
	// Type and Shape are the whole file's.
	Type  Type
	Shape []int

	br   *bufio.Reader
	zr   *gzip.Reader
	c    io.Closer
	row  int // bytes per row
	read int // rows read
}

// NewStream reads the header of an IDX file from r (gzip-compressed or
// not) and returns a Stream over its rows. It returns Read's errors for
// the header.
func NewStream(r io.Reader) (*Stream, error) {
	br := bufio.NewReader(r)
	s := &Stream{}
	if p, err := br.Peek(2); err == nil && p[0] == 0x1f && p[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrFormat, err)
		}
		s.zr = zr
		br = bufio.NewReader(zr)
	}
	s.br = br
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, fmt.Errorf("%w: shorter than the 4-byte magic number", ErrFormat)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("%w: magic number % x does not start with two zero bytes", ErrFormat, magic)
	}
	s.Type = Type(magic[2])
	size := s.Type.Size()
	if size == 0 {
		return nil, fmt.Errorf("%w: unknown element type %#02x", ErrFormat, magic[2])
	}
	ndim := int(magic[3])
	if ndim == 0 {
		return nil, fmt.Errorf("%w: zero dimensions", ErrFormat)
	}
	dims := make([]byte, 4*ndim)
	if _, err := io.ReadFull(br, dims); err != nil {
		return nil, fmt.Errorf("%w: the header of %d dimensions is cut short", ErrFormat, ndim)
	}
	s.Shape = make([]int, ndim)
	for i := range s.Shape {
		s.Shape[i] = int(binary.BigEndian.Uint32(dims[4*i:]))
	}
	// The same rule as every other shape check (and Write's): the non-zero
	// dimensions must multiply to an int even when another one is zero.
	if _, err := checked.Product(s.Shape, size); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	row, _ := checked.Product(s.Shape[1:], size)
	s.row = row
	return s, nil
}

// Rows returns the number of rows not read yet.
func (s *Stream) Rows() int { return s.Shape[0] - s.read }

// Next reads the next n rows (fewer at the end) as an Array of shape
// [rows, Shape[1:]...]. It returns io.EOF when no row is left, and an
// error wrapping ErrFormat for data that ends early, goes on after the
// last row, or a corrupt gzip stream.
func (s *Stream) Next(n int) (*Array, error) {
	m := min(n, s.Rows())
	if m <= 0 {
		if n > 0 {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("idx: reading %d rows", n)
	}
	// Read in chunks, so that memory grows with the data that arrives,
	// not with what the header claims.
	need := m * s.row
	raw := make([]byte, 0, min(need, 1<<20))
	buf := make([]byte, min(need, 1<<16))
	for len(raw) < need {
		got, err := io.ReadFull(s.br, buf[:min(need-len(raw), len(buf))])
		raw = append(raw, buf[:got]...)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: shape %v of %v needs %d bytes of data, the file holds %d", ErrFormat, s.Shape, s.Type, s.Shape[0]*s.row, s.read*s.row+len(raw))
		} else if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrFormat, err)
		}
	}
	s.read += m
	if s.Rows() == 0 {
		if err := s.end(); err != nil {
			return nil, err
		}
	}
	return &Array{Type: s.Type, Shape: append([]int{m}, s.Shape[1:]...), raw: raw}, nil
}

// end checks that nothing follows the last row.
func (s *Stream) end() error {
	if _, err := s.br.ReadByte(); err != io.EOF {
		if err != nil {
			return fmt.Errorf("%w: %v", ErrFormat, err)
		}
		return fmt.Errorf("%w: data continues after the %d elements of shape %v", ErrFormat, s.Shape[0]*s.row/s.Type.Size(), s.Shape)
	}
	return nil
}

// Close releases the gzip reader and, for a stream of OpenStream, the
// file.
func (s *Stream) Close() error {
	if s.zr != nil {
		s.zr.Close()
	}
	if s.c != nil {
		return s.c.Close()
	}
	return nil
}

// OpenStream opens the IDX file at path (gzip-compressed or not) for
// reading by rows; errors are those of NewStream, prefixed with the path,
// or of opening the file.
func OpenStream(path string) (*Stream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	s, err := NewStream(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.c = f
	return s, nil
}

// ReadFile reads the IDX file at path (gzip-compressed or not); errors are
// those of Read, prefixed with the path, or of opening the file.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("idx: %w", err)
	}
	defer f.Close()
	a, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// Write encodes a (made by New or Read) as an uncompressed IDX file. It
// returns an error for an array whose type or shape the format cannot
// hold or whose shape does not match its elements, and w's errors.
func Write(w io.Writer, a *Array) error {
	if a.Type.Size() == 0 || len(a.Shape) == 0 || len(a.Shape) > 255 {
		return fmt.Errorf("idx: cannot write a %v array of %d dimensions", a.Type, len(a.Shape))
	}
	if n, err := tensor.NumelOf(a.Shape); err != nil || n != a.Len() || len(a.raw)%a.Type.Size() != 0 {
		return fmt.Errorf("idx: shape %v does not match the array's %d elements", a.Shape, a.Len())
	}
	var b bytes.Buffer
	b.Write([]byte{0, 0, byte(a.Type), byte(len(a.Shape))})
	for _, d := range a.Shape {
		if d < 0 || uint64(d) > math.MaxUint32 {
			return fmt.Errorf("idx: dimension %d out of the format's range", d)
		}
		b.Write(binary.BigEndian.AppendUint32(nil, uint32(d)))
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return err
	}
	_, err := w.Write(a.raw)
	return err
}

// WriteFile writes a to path (uncompressed) atomically.
func WriteFile(path string, a *Array) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error { return Write(w, a) })
}
