package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/tensorquant/tensorquant/internal/atomicfile"
	"github.com/tensorquant/tensorquant/internal/checked"
	"github.com/tensorquant/tensorquant/tensor"
)

var magic = []byte("\x93NUMPY")

// maxHeader bounds the header of a version 2/3 file; real headers are a
// few hundred bytes.
const maxHeader = 1 << 20

// ErrFormat is wrapped by every error about a malformed file.
var ErrFormat = errors.New("npy: malformed file")

// header is the parsed dictionary of a .npy header.
type header struct {
	descr     string
	dtype     DType
	bigEndian bool
	fortran   bool
	shape     []int
}

// ReadArray decodes one .npy array from r: any dtype of DType, little- or
// big-endian, in C or Fortran order (the result is always little-endian
// and row-major). It returns an error wrapping ErrFormat for a bad magic,
// version, header, dtype or shape (a negative dimension, or a size that
// overflows int), for a bool element other than 0 or 1, and for data
// shorter than the shape needs or continuing after it.
//
// It is written for untrusted files: it allocates as the data arrives,
// never by what the header promises, so a short file claiming a huge shape
// costs no more than the bytes it holds.
func ReadArray(r io.Reader) (*Array, error) { return readFile(r, false) }

// readFile reads a whole .npy file from r: one array, then the end of the
// input. floatsOnly refuses dtypes other than float32 and float64.
func readFile(r io.Reader, floatsOnly bool) (*Array, error) {
	br := bufio.NewReader(r)
	a, err := readArray(br, -1, floatsOnly)
	if err != nil {
		return nil, err
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%w: data continues after the %d elements of shape %v", ErrFormat, a.Numel(), a.Shape)
	}
	return a, nil
}

// readArray reads one .npy array from r. When size >= 0, the header and
// data must take exactly size bytes (a member of a .npz archive), which
// is checked before the data is read. floatsOnly refuses other dtypes
// before reading the data.
func readArray(r io.Reader, size int64, floatsOnly bool) (*Array, error) {
	h, hsize, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	if floatsOnly && !h.dtype.isFloat() {
		return nil, fmt.Errorf("%w: dtype %q is not float32 or float64", ErrFormat, h.descr)
	}
	esize := h.dtype.Size()
	nbytes, err := checked.Product(h.shape, esize)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if size >= 0 && int64(hsize)+int64(nbytes) != size {
		return nil, fmt.Errorf("%w: %d bytes, but a header of %d bytes and shape %v of %v take %d", ErrFormat, size, hsize, h.shape, h.dtype, int64(hsize)+int64(nbytes))
	}
	data, err := readN(r, nbytes)
	if err != nil {
		return nil, fmt.Errorf("%w: shape %v of %v needs %d bytes of data, the file holds %d", ErrFormat, h.shape, h.dtype, nbytes, len(data))
	}
	if err := h.decode(data, 0); err != nil {
		return nil, err
	}
	if h.fortran && len(h.shape) > 1 {
		data = fromFortran(data, h.shape, esize)
	}
	return &Array{Shape: h.shape, DType: h.dtype, data: data}, nil
}

// decode turns elements of h's dtype as the file holds them into
// little-endian ones (in place) and checks bools; first is the flat index
// of data's first element, for the error.
func (h *header) decode(data []byte, first int) error {
	esize := h.dtype.Size()
	if h.bigEndian && esize > 1 {
		for i := 0; i < len(data); i += esize {
			slices.Reverse(data[i : i+esize])
		}
	}
	if h.dtype == Bool {
		if i := slices.IndexFunc(data, func(b byte) bool { return b > 1 }); i >= 0 {
			return fmt.Errorf("%w: bool element %d is %d, not 0 or 1", ErrFormat, first+i, data[i])
		}
	}
	return nil
}

// readN reads exactly n bytes from r. It grows its buffer as the bytes
// arrive (doubling, from at most 64 KiB), so a reader that ends early
// costs about what it delivered. On a short read it returns the bytes read
// and the error.
func readN(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, 64<<10))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = append(make([]byte, 0, min(n, 2*cap(buf))), buf...)
		}
		m, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// Read decodes one .npy array of float32 or float64 (rounded to float32)
// into a tensor; ReadArray reads the other dtypes. It returns ReadArray's
// errors, and one wrapping ErrFormat for another dtype.
func Read(r io.Reader) (*tensor.Tensor, error) {
	a, err := readFile(r, true)
	if err != nil {
		return nil, err
	}
	return a.Tensor()
}

// readHeader reads the magic, version and header of a .npy file and
// returns the header and its size in bytes (everything before the data).
func readHeader(r io.Reader) (header, int, error) {
	pre := make([]byte, 8)
	if _, err := io.ReadFull(r, pre); err != nil || !bytes.Equal(pre[:6], magic) {
		return header{}, 0, fmt.Errorf("%w: not a .npy file (bad magic)", ErrFormat)
	}
	lenSize := 2
	switch pre[6] {
	case 1:
	case 2, 3:
		lenSize = 4
	default:
		return header{}, 0, fmt.Errorf("%w: unsupported version %d.%d", ErrFormat, pre[6], pre[7])
	}
	var b [4]byte
	if _, err := io.ReadFull(r, b[:lenSize]); err != nil {
		return header{}, 0, fmt.Errorf("%w: truncated header length", ErrFormat)
	}
	hlen := binary.LittleEndian.Uint32(b[:])
	if hlen > maxHeader {
		return header{}, 0, fmt.Errorf("%w: header length %d exceeds %d", ErrFormat, hlen, maxHeader)
	}
	text, err := readN(r, int(hlen))
	if err != nil {
		return header{}, 0, fmt.Errorf("%w: header of %d bytes is truncated", ErrFormat, hlen)
	}
	h, err := parseHeader(string(text))
	return h, 8 + lenSize + int(hlen), err
}

// parseDescr maps a header's descr to its DType and byte order: '<'
// (little-endian), '>' (big-endian) or none (little-endian) before the
// NumPy type code; '|' (no byte order) also for the one-byte types.
func parseDescr(descr string) (DType, bool, error) {
	code, order := descr, byte(0)
	if code != "" && strings.IndexByte("<>|", code[0]) >= 0 {
		code, order = code[1:], code[0]
	}
	for d := Float32; d <= Bool; d++ {
		if code == dtypes[d].descr[1:] && (order != '|' || d.Size() == 1) {
			return d, order == '>', nil
		}
	}
	return 0, false, fmt.Errorf("%w: dtype %q is not one of float32, float64, int64, int32, int8, uint8, bool", ErrFormat, descr)
}

// parseHeader reads the Python dict literal of the header, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
func parseHeader(s string) (header, error) {
	var h header
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		return h, fmt.Errorf("%w: header %q is not a dict", ErrFormat, s)
	}
	p := &dictParser{s: s[1 : len(s)-1]}
	seen := map[string]bool{}
	for {
		p.space()
		if p.done() {
			break
		}
		key, err := p.str()
		if err != nil {
			return h, err
		}
		if seen[key] {
			return h, fmt.Errorf("%w: header key %q repeated", ErrFormat, key)
		}
		seen[key] = true
		p.space()
		if !p.eat(':') {
			return h, fmt.Errorf("%w: header: ':' expected after %q", ErrFormat, key)
		}
		p.space()
		switch key {
		case "descr":
			h.descr, err = p.str()
		case "fortran_order":
			h.fortran, err = p.boolean()
		case "shape":
			h.shape, err = p.tuple()
		default:
			return h, fmt.Errorf("%w: unknown header key %q", ErrFormat, key)
		}
		if err != nil {
			return h, err
		}
		p.space()
		if !p.eat(',') {
			p.space()
			if !p.done() {
				return h, fmt.Errorf("%w: header: ',' expected after %q", ErrFormat, key)
			}
		}
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return h, fmt.Errorf("%w: header has no %q", ErrFormat, k)
		}
	}
	var err error
	h.dtype, h.bigEndian, err = parseDescr(h.descr)
	return h, err
}

type dictParser struct {
	s string
	i int
}

func (p *dictParser) done() bool { return p.i >= len(p.s) }

func (p *dictParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\n\r", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *dictParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *dictParser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", fmt.Errorf("%w: header: string expected at %q", ErrFormat, p.rest())
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", fmt.Errorf("%w: header: unterminated string", ErrFormat)
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, nil
}

func (p *dictParser) boolean() (bool, error) {
	for _, w := range []struct {
		s string
		v bool
	}{{"True", true}, {"False", false}} {
		if strings.HasPrefix(p.s[p.i:], w.s) {
			p.i += len(w.s)
			return w.v, nil
		}
	}
	return false, fmt.Errorf("%w: header: True or False expected at %q", ErrFormat, p.rest())
}

func (p *dictParser) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, fmt.Errorf("%w: header: shape tuple expected at %q", ErrFormat, p.rest())
	}
	shape := []int{}
	for {
		p.space()
		if p.eat(')') {
			return shape, nil
		}
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		d, err := strconv.Atoi(p.s[p.i:j])
		if errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("%w: header: shape dimension %s is more than an int can count", ErrFormat, p.s[p.i:j])
		}
		if err != nil || len(shape) >= 32 {
			return nil, fmt.Errorf("%w: header: bad shape at %q", ErrFormat, p.rest())
		}
		shape = append(shape, d)
		p.i = j
		p.space()
		if !p.eat(',') {
			p.space()
			if !p.eat(')') {
				return nil, fmt.Errorf("%w: header: bad shape at %q", ErrFormat, p.rest())
			}
			return shape, nil
		}
	}
}

func (p *dictParser) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20] + "..."
	}
	return r
}

// fromFortran reorders column-major data of elements of size bytes into
// row-major order.
func fromFortran(data []byte, shape []int, size int) []byte {
	out := make([]byte, len(data))
	cs := tensor.Strides(shape) // row-major strides, in elements
	idx := make([]int, len(shape))
	for i := 0; i < len(data); i += size { // data walks the first axis fastest
		off := 0
		for d := range shape {
			off += idx[d] * cs[d]
		}
		copy(out[off*size:(off+1)*size], data[i:i+size])
		for d := 0; d < len(idx); d++ {
			if idx[d]++; idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

// ReadFile reads a .npy file of float32 or float64 into a tensor (see
// Read); errors are Read's, prefixed with the path.
func ReadFile(path string) (*tensor.Tensor, error) { return readPath(path, Read) }

// ReadArrayFile reads a .npy file of any dtype (see ReadArray); errors are
// ReadArray's, prefixed with the path.
func ReadArrayFile(path string) (*Array, error) { return readPath(path, ReadArray) }

// readPath opens path and decodes it with read, prefixing read's errors
// with the path.
func readPath[T any](path string, read func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, _, err := open(path)
	if err != nil {
		return zero, err
	}
	defer f.Close()
	v, err := read(f)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// open opens path for reading and returns its FileInfo.
func open(path string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, st, nil
}

// ReadRawFile reads a file of raw little-endian float32 values with the
// given shape (the product of shape must match the file size exactly). It
// returns an error for a bad shape (negative, or a size that overflows
// int), a regular file of another size, or a stream (a device or pipe)
// that ends early or goes on after the values.
func ReadRawFile(path string, shape []int) (*tensor.Tensor, error) {
	nbytes, err := checked.Product(shape, 4)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, st, err := open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st.Mode().IsRegular() && st.Size() != int64(nbytes) {
		return nil, fmt.Errorf("%s: %d bytes, shape %v needs %d (float32, little-endian)", path, st.Size(), shape, nbytes)
	}
	br := bufio.NewReader(f)
	data, err := readN(br, nbytes)
	if err != nil {
		return nil, fmt.Errorf("%s: shape %v needs %d bytes (float32, little-endian), the file holds %d", path, shape, nbytes, len(data))
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%s: the data continues after the %d bytes of shape %v", path, nbytes, shape)
	}
	a := &Array{Shape: shape, DType: Float32, data: data}
	return a.Tensor()
}

// WriteArray encodes a as a .npy file the way np.save does: version 1.0
// (2.0 for a header longer than 65535 bytes), the little-endian descr of
// its dtype, C order, the header padded so that the data starts on a
// 64-byte boundary. It returns an error for an Array whose Shape and DType
// do not describe its data, and the writer's errors.
func WriteArray(w io.Writer, a *Array) error {
	if err := a.check(); err != nil {
		return err
	}
	dims := make([]string, len(a.Shape))
	for i, d := range a.Shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", dtypes[a.DType].descr, shape)
	// Pad with spaces and a '\n' so that the data starts on a 64-byte
	// boundary: after magic, version and a 2-byte length (version 1.0),
	// or a 4-byte one (2.0) when the header needs it.
	padded := func(lenSize int) string {
		total := len(magic) + 2 + lenSize + len(h) + 1
		return h + strings.Repeat(" ", (64-total%64)%64) + "\n"
	}
	b := append([]byte{}, magic...)
	if p := padded(2); len(p) <= math.MaxUint16 {
		b = append(binary.LittleEndian.AppendUint16(append(b, 1, 0), uint16(len(p))), p...)
	} else {
		p = padded(4)
		b = append(binary.LittleEndian.AppendUint32(append(b, 2, 0), uint32(len(p))), p...)
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	_, err := w.Write(a.data)
	return err
}

// Write encodes t as a .npy file of little-endian float32 (see
// WriteArray). It returns t's Validate error and the writer's errors.
func Write(w io.Writer, t *tensor.Tensor) error {
	a, err := FromTensor(t)
	if err != nil {
		return err
	}
	return WriteArray(w, a)
}

// WriteFile writes t to path atomically as a .npy file of float32 (see
// Write and internal/atomicfile).
func WriteFile(path string, t *tensor.Tensor) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error { return Write(w, t) })
}

// WriteArrayFile writes a to path atomically as a .npy file (see
// WriteArray and internal/atomicfile).
func WriteArrayFile(path string, a *Array) error {
	if err := a.check(); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, func(w io.Writer) error { return WriteArray(w, a) })
}
