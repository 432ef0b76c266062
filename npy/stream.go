package npy

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"

	"github.com/tensorquant/tensorquant/internal/checked"
)

// Stream reads an array along its first axis, a few rows at a time, so
// that a data set larger than memory is read batch by batch: the array of
// a .npy file (OpenStream), of a .npz member (NPZ.Stream), or a file of
// raw float32 values (OpenRawStream). Its memory is what Next returns.
//
// A Stream is not safe for concurrent use.
type Stream struct {
	// Shape is the whole array's shape and DType its element type.
	Shape []int
	DType DType

	h      header
	r      io.Reader
	closer io.Closer
	row    int  // bytes per row
	read   int  // rows read or skipped
	sized  bool // the input's size was checked against the header
	end    func() error
}

// newStream returns a stream over the data of an array of header h that
// follows in r (the rows left after hsize bytes of header, when size is
// at least 0, must fill exactly size bytes).
func newStream(r io.Reader, c io.Closer, h header, hsize int, size int64) (*Stream, error) {
	if len(h.shape) == 0 {
		return nil, fmt.Errorf("%w: a 0-d array has no rows to stream", ErrFormat)
	}
	if h.fortran && len(h.shape) > 1 {
		return nil, fmt.Errorf("%w: a Fortran-ordered array of shape %v cannot be read by rows: save it with np.ascontiguousarray", ErrFormat, h.shape)
	}
	row, err := checked.Product(h.shape[1:], h.dtype.Size())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	nbytes, err := checked.Product(h.shape, h.dtype.Size())
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if size >= 0 && int64(hsize)+int64(nbytes) != size {
		return nil, fmt.Errorf("%w: %d bytes, but a header of %d bytes and shape %v of %v take %d", ErrFormat, size, hsize, h.shape, h.dtype, int64(hsize)+int64(nbytes))
	}
	return &Stream{Shape: slices.Clone(h.shape), DType: h.dtype, h: h, r: r, closer: c, row: row, sized: size >= 0}, nil
}

// Rows returns the number of rows not read yet.
func (s *Stream) Rows() int { return s.Shape[0] - s.read }

// Next reads the next n rows (fewer at the end) as an Array of shape
// [rows, Shape[1:]...]. It returns io.EOF when no row is left, and an
// error wrapping ErrFormat for data that ends early, a bool that is
// neither 0 nor 1, or (a .npz member) a member that goes on after the
// array or fails its CRC-32.
func (s *Stream) Next(n int) (*Array, error) {
	m := min(n, s.Rows())
	if m <= 0 {
		if n > 0 {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("npy: reading %d rows", n)
	}
	var data []byte
	var err error
	if s.sized {
		// The size was checked against the header: the rows are there (or
		// the file changed under us, which ReadFull reports).
		data = make([]byte, m*s.row)
		var k int
		k, err = io.ReadFull(s.r, data)
		data = data[:k]
	} else {
		data, err = readN(s.r, m*s.row)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: rows %d to %d of shape %v of %v: the data ends after %d of their %d bytes", ErrFormat, s.read, s.read+m-1, s.Shape, s.DType, len(data), m*s.row)
	}
	if err := s.h.decode(data, s.read*(s.row/max(1, s.DType.Size()))); err != nil {
		return nil, err
	}
	s.read += m
	if s.Rows() == 0 && s.end != nil {
		if err := s.end(); err != nil {
			return nil, err
		}
	}
	return &Array{Shape: append([]int{m}, s.Shape[1:]...), DType: s.DType, data: data}, nil
}

// Skip passes over the next n rows (fewer at the end) without keeping
// them: a seek in a file, reading and dropping in a compressed member.
// It returns the errors of the reader, wrapping ErrFormat for data that
// ends early.
func (s *Stream) Skip(n int) error {
	m := min(max(n, 0), s.Rows())
	if m == 0 {
		return nil
	}
	nbytes := int64(m) * int64(s.row)
	if sk, ok := s.r.(io.Seeker); ok && s.end == nil {
		if _, err := sk.Seek(nbytes, io.SeekCurrent); err != nil {
			return err
		}
	} else if k, err := io.CopyN(io.Discard, s.r, nbytes); err != nil {
		return fmt.Errorf("%w: skipping rows %d to %d: the data ends after %d of their %d bytes", ErrFormat, s.read, s.read+m-1, k, nbytes)
	}
	s.read += m
	if s.Rows() == 0 && s.end != nil {
		return s.end()
	}
	return nil
}

// Close releases the stream's file (a member's: not the archive, which
// NPZ.Close closes).
func (s *Stream) Close() error {
	if s.closer == nil {
		return nil
	}
	return s.closer.Close()
}

// openRegular opens path, refusing what is not a regular file.
func openRegular(path string) (*os.File, int64, error) {
	f, st, err := open(path)
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file", path)
	}
	return f, st.Size(), nil
}

// NewStream reads the header of a .npy array from r and returns a Stream
// over its rows; size, when at least 0, is the number of bytes r holds,
// which must be what the header describes. It returns an error wrapping
// ErrFormat for a malformed header, a 0-d array, a Fortran-ordered array
// of more than one dimension (its rows are not contiguous) and a size
// other than the header's. Close does nothing; the caller owns r.
func NewStream(r io.Reader, size int64) (*Stream, error) {
	h, hsize, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	return newStream(r, nil, h, hsize, size)
}

// OpenStream opens the .npy file in path for reading by rows (see
// NewStream). It returns an error for a path that is not a regular file,
// and NewStream's errors naming the path.
func OpenStream(path string) (*Stream, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	s, err := NewStream(f, size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.closer = f
	return s, nil
}

// OpenRawStream opens a file of raw little-endian float32 values of the
// given shape (its first axis the rows) for reading by rows. It returns an
// error for a path that is not a regular file, a shape of no dimension or
// whose size overflows, and a file of another size.
func OpenRawStream(path string, shape []int) (*Stream, error) {
	if len(shape) == 0 {
		return nil, fmt.Errorf("%s: a raw file needs a shape of at least one dimension", path)
	}
	f, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	s, err := newStream(f, f, header{descr: "<f4", dtype: Float32, shape: slices.Clone(shape)}, 0, size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: shape %v of float32 (little-endian): %w", path, shape, err)
	}
	return s, nil
}

// NPZ is an opened .npz archive whose members are read as Streams.
type NPZ struct {
	f       *os.File
	members map[string]*zip.File
}

// OpenNPZ opens the .npz archive in path and checks its members as
// ReadNPZ does, without reading them. It returns an error for a path that
// is not a regular file and ReadNPZ's errors, prefixed with the path.
func OpenNPZ(path string) (*NPZ, error) {
	f, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	m, err := npzMembers(f, size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &NPZ{f: f, members: m}, nil
}

// Names returns the array names of the archive, sorted.
func (z *NPZ) Names() []string {
	out := make([]string, 0, len(z.members))
	for name := range z.members {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Stream opens the member called name for reading by rows (see
// OpenStream for what it refuses); the member's declared size must be
// what its header describes, and its end (size and CRC-32) is checked
// after the last row.
func (z *NPZ) Stream(name string) (*Stream, error) {
	f, ok := z.members[name]
	if !ok {
		return nil, fmt.Errorf("npy: the archive has no array %q (it has %v)", name, z.Names())
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: member %q: %v", ErrFormat, f.Name, err)
	}
	lr := &io.LimitedReader{R: rc, N: int64(f.UncompressedSize64)}
	h, hsize, err := readHeader(lr)
	var s *Stream
	if err == nil {
		s, err = newStream(lr, rc, h, hsize, int64(f.UncompressedSize64))
	}
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("member %q: %w", f.Name, err)
	}
	s.end = func() error { return memberEnd(rc) }
	return s, nil
}

// Close closes the archive's file.
func (z *NPZ) Close() error { return z.f.Close() }
