// Package npy reads and writes NumPy .npy files of float32 (and, on read,
// float64) arrays: the format NumPy users already have their calibration
// data in. The reader is hardened for untrusted files: it never allocates
// more than the bytes that actually arrived could fill.
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
	descr   string
	fortran bool
	shape   []int
}

// Read decodes one .npy array from r into a float32 tensor (float64 data is
// rounded to float32). Little- and big-endian float32/float64 are accepted,
// as is Fortran order (transposed into row-major). It returns an error
// wrapping ErrFormat for a bad magic, version, header, dtype or shape, and
// for data shorter than the shape needs; bytes after the data are an error
// too.
func Read(r io.Reader) (*tensor.Tensor, error) {
	br := bufio.NewReader(r)
	h, err := readHeader(br)
	if err != nil {
		return nil, err
	}
	var order binary.ByteOrder = binary.LittleEndian
	size := 4
	switch h.descr {
	case "<f4", "f4":
	case ">f4":
		order = binary.BigEndian
	case "<f8", "f8":
		size = 8
	case ">f8":
		order, size = binary.BigEndian, 8
	default:
		return nil, fmt.Errorf("%w: dtype %q is not float32 or float64", ErrFormat, h.descr)
	}
	nbytes, err := checked.Product(h.shape, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	data, err := readFloats(br, nbytes/size, size, order)
	if err != nil {
		return nil, fmt.Errorf("%w: shape %v %v", ErrFormat, h.shape, err)
	}
	if h.fortran && len(h.shape) > 1 {
		data = fromFortran(data, h.shape)
	}
	return tensor.FromSlice(data, h.shape...)
}

// readFloats reads exactly n values of size bytes (4: float32, 8: float64)
// from br and then expects the end of the input. It grows its result with
// the bytes that arrive, never by what n promises.
func readFloats(br *bufio.Reader, n, size int, order binary.ByteOrder) ([]float32, error) {
	data := make([]float32, 0, min(n, 1<<18))
	buf := make([]byte, 1<<16)
	for len(data) < n {
		want := min((n-len(data))*size, len(buf))
		got, err := io.ReadFull(br, buf[:want])
		for i := 0; i+size <= got; i += size {
			if size == 4 {
				data = append(data, math.Float32frombits(order.Uint32(buf[i:])))
			} else {
				data = append(data, float32(math.Float64frombits(order.Uint64(buf[i:]))))
			}
		}
		if err != nil {
			return nil, fmt.Errorf("needs %d values, the file holds %d", n, len(data))
		}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("has %d values, the data continues after them", n)
	}
	return data, nil
}

func readHeader(br *bufio.Reader) (header, error) {
	pre := make([]byte, 8)
	if _, err := io.ReadFull(br, pre); err != nil || !bytes.Equal(pre[:6], magic) {
		return header{}, fmt.Errorf("%w: not a .npy file (bad magic)", ErrFormat)
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return header{}, fmt.Errorf("%w: truncated header length", ErrFormat)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return header{}, fmt.Errorf("%w: truncated header length", ErrFormat)
		}
		if v := binary.LittleEndian.Uint32(b[:]); v > maxHeader {
			return header{}, fmt.Errorf("%w: header length %d exceeds %d", ErrFormat, v, maxHeader)
		} else {
			hlen = int(v)
		}
	default:
		return header{}, fmt.Errorf("%w: unsupported version %d.%d", ErrFormat, pre[6], pre[7])
	}
	text := make([]byte, hlen)
	if _, err := io.ReadFull(br, text); err != nil {
		return header{}, fmt.Errorf("%w: header of %d bytes is truncated", ErrFormat, hlen)
	}
	return parseHeader(string(text))
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
	return h, nil
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

// fromFortran reorders column-major data into row-major.
func fromFortran(data []float32, shape []int) []float32 {
	out := make([]float32, len(data))
	cs := tensor.Strides(shape) // row-major strides
	idx := make([]int, len(shape))
	for _, v := range data { // data walks the first axis fastest
		off := 0
		for d := range shape {
			off += idx[d] * cs[d]
		}
		out[off] = v
		for d := 0; d < len(idx); d++ {
			if idx[d]++; idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

// ReadFile reads a .npy file; errors are those of Read, prefixed with the
// path.
func ReadFile(path string) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
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
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Mode().IsRegular() && st.Size() != int64(nbytes) {
		return nil, fmt.Errorf("%s: %d bytes, shape %v needs %d (float32, little-endian)", path, st.Size(), shape, nbytes)
	}
	data, err := readFloats(bufio.NewReader(f), nbytes/4, 4, binary.LittleEndian)
	if err != nil {
		return nil, fmt.Errorf("%s: shape %v %v", path, shape, err)
	}
	return tensor.FromSlice(data, shape...)
}

// Write encodes t as a version 1.0 .npy file of little-endian float32.
func Write(w io.Writer, t *tensor.Tensor) error {
	if err := t.Validate(); err != nil {
		return err
	}
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = strconv.Itoa(d)
	}
	shape := strings.Join(dims, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape)
	// Pad so that the data starts on a 64-byte boundary, ending in '\n'.
	total := len(magic) + 4 + len(h) + 1
	h += strings.Repeat(" ", (64-total%64)%64) + "\n"
	var b bytes.Buffer
	b.Write(magic)
	b.Write([]byte{1, 0})
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	if _, err := w.Write(b.Bytes()); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	for i, v := range t.Data {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		if len(buf) == cap(buf) || i == len(t.Data)-1 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	return nil
}

// WriteFile writes t to path atomically (see internal/atomicfile).
func WriteFile(path string, t *tensor.Tensor) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error { return Write(w, t) })
}
