package fuzz

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/tensor"
)

// npyDescrs are the dtypes FuzzNPY writes into headers, with their element
// sizes (0: the reader must refuse the dtype).
var npyDescrs = []struct {
	descr string
	size  int
}{
	{"<f4", 4}, {">f4", 4}, {"<f8", 8}, {">f8", 8}, {"f4", 4}, {"<i8", 8}, {">i8", 8}, {"<i4", 4},
	{"|i1", 1}, {"|u1", 1}, {"|b1", 1}, {">u1", 1}, {"<f2", 0}, {"|f4", 0}, {"", 0}, {"<f4 ", 0},
}

// npyFile returns a version 1.0 .npy file with header h and the payload.
func npyFile(h string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x93NUMPY\x01\x00")
	binary.Write(&b, binary.LittleEndian, uint16(len(h)))
	b.WriteString(h)
	b.Write(payload)
	return b.Bytes()
}

// FuzzNPY builds a .npy file from a structured header (up to three
// dimensions of any 64-bit size, a dtype, Fortran order) and an arbitrary
// payload. ReadArray must refuse it with ErrFormat or return exactly the
// payload's elements, little-endian in row-major order; Read must do the
// same for float32 and float64 (as float32) and refuse the other dtypes.
// Neither may panic or allocate more than a small multiple of the file
// plus fixed buffers, and what they read must survive a write/read round
// trip bit for bit. The seeds are the shapes whose size arithmetic once
// overflowed: (2^63-1,) panicked and (2^62,) wrapped to 0 bytes and read
// forever.
func FuzzNPY(f *testing.F) {
	f.Add(uint8(1), uint64(math.MaxInt64), uint64(0), uint64(0), uint8(0), false, make([]byte, 8))
	f.Add(uint8(1), uint64(1<<62), uint64(0), uint64(0), uint8(0), false, make([]byte, 8))
	f.Add(uint8(1), uint64(1<<61), uint64(0), uint64(0), uint8(2), false, []byte{})
	f.Add(uint8(2), uint64(1<<31), uint64(1<<31), uint64(0), uint8(1), true, make([]byte, 16))
	f.Add(uint8(3), uint64(1<<62), uint64(4), uint64(0), uint8(0), false, []byte{})
	f.Add(uint8(1), uint64(1<<63), uint64(0), uint64(0), uint8(8), false, []byte{})
	f.Add(uint8(2), uint64(2), uint64(3), uint64(0), uint8(0), true, bytes.Repeat([]byte{0, 0, 0x80, 0x3f}, 6))
	f.Add(uint8(3), uint64(2), uint64(1), uint64(2), uint8(3), true, bytes.Repeat([]byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 1}, 4))
	f.Add(uint8(0), uint64(0), uint64(0), uint64(0), uint8(2), false, []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f})
	f.Add(uint8(2), uint64(0), uint64(5), uint64(0), uint8(1), false, []byte{})
	f.Add(uint8(2), uint64(3), uint64(2), uint64(0), uint8(6), true, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48})
	f.Add(uint8(1), uint64(4), uint64(0), uint64(0), uint8(10), false, []byte{0, 1, 1, 0})
	f.Add(uint8(1), uint64(2), uint64(0), uint64(0), uint8(10), false, []byte{0, 2})
	f.Fuzz(func(t *testing.T, rank uint8, d0, d1, d2 uint64, dtype uint8, fortran bool, payload []byte) {
		dims := []uint64{d0, d1, d2}[:rank%4]
		dt := npyDescrs[int(dtype)%len(npyDescrs)]
		file := npyFile(npyHeader(dt.descr, fortran, dims), payload)
		want, ok := npyOracle(dt.descr, dt.size, dims, fortran, payload)

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		a, err := npy.ReadArray(bytes.NewReader(file))
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(4*len(file))+1<<20 {
			t.Fatalf("dims %v %s: allocated %d bytes for a %d-byte file", dims, dt.descr, grew, len(file))
		}
		if err != nil {
			if !errors.Is(err, npy.ErrFormat) {
				t.Fatalf("dims %v %s: error %v does not wrap ErrFormat", dims, dt.descr, err)
			}
			if ok {
				t.Fatalf("dims %v %s fortran=%v, %d bytes: refused: %v", dims, dt.descr, fortran, len(payload), err)
			}
		} else {
			if !ok {
				t.Fatalf("dims %v %s fortran=%v, %d bytes: accepted %v", dims, dt.descr, fortran, len(payload), a.Shape)
			}
			checkShape(t, a.Shape, dims)
			var buf bytes.Buffer
			if err := npy.WriteArray(&buf, a); err != nil {
				t.Fatalf("write of a decoded array: %v", err)
			}
			if !bytes.HasSuffix(buf.Bytes(), want) || (buf.Len()-len(want))%64 != 0 {
				t.Fatalf("dims %v %s fortran=%v: WriteArray wrote %d bytes, not a padded header and the %d bytes of the data in C order", dims, dt.descr, fortran, buf.Len(), len(want))
			}
			b, err := npy.ReadArray(&buf)
			if err != nil || b.DType != a.DType || !slices.Equal(b.Shape, a.Shape) {
				t.Fatalf("re-read: %v %v", b, err)
			}
			checkStream(t, file, a, fortran)
		}

		x, err := npy.Read(bytes.NewReader(file))
		isFloat := strings.Contains(dt.descr, "f4") || strings.Contains(dt.descr, "f8")
		if err != nil {
			if !errors.Is(err, npy.ErrFormat) || (ok && isFloat) {
				t.Fatalf("dims %v %s: Read: %v", dims, dt.descr, err)
			}
			return
		}
		if !ok || !isFloat {
			t.Fatalf("dims %v %s fortran=%v, %d bytes: Read accepted %v", dims, dt.descr, fortran, len(payload), x.Shape)
		}
		checkShape(t, x.Shape, dims)
		checkSameFloats(t, x.Data, leFloats(want, dt.size))
		var buf bytes.Buffer
		if err := npy.Write(&buf, x); err != nil {
			t.Fatalf("write of a decoded tensor: %v", err)
		}
		y, err := npy.Read(&buf)
		if err != nil || !tensor.SameShape(x.Shape, y.Shape) {
			t.Fatalf("re-read: %v %v", y, err)
		}
		checkSameFloats(t, y.Data, x.Data)
	})
}

// checkStream reads file with npy.NewStream in about four pieces (when it
// can: arrays of at least one dimension, in C order or of one dimension)
// and checks that the rows make up a, as ReadArray read it.
func checkStream(t *testing.T, file []byte, a *npy.Array, fortran bool) {
	t.Helper()
	s, err := npy.NewStream(bytes.NewReader(file), int64(len(file)))
	if len(a.Shape) == 0 || fortran && len(a.Shape) > 1 {
		if err == nil {
			t.Fatalf("shape %v fortran=%v: streamed", a.Shape, fortran)
		}
		return
	}
	if err != nil {
		t.Fatalf("shape %v: NewStream: %v", a.Shape, err)
	}
	var got []byte
	rows := 0
	for {
		r, err := s.Next(max(1, a.Shape[0]/4))
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("shape %v: Next: %v", a.Shape, err)
		}
		var buf bytes.Buffer
		if err := npy.WriteArray(&buf, r); err != nil {
			t.Fatal(err)
		}
		all := buf.Bytes()
		got = append(got, all[len(all)-r.Numel()*int(r.DType.Size()):]...)
		rows += r.Shape[0]
	}
	var buf bytes.Buffer
	if err := npy.WriteArray(&buf, a); err != nil {
		t.Fatal(err)
	}
	if want := buf.Bytes()[buf.Len()-len(got):]; rows != a.Shape[0] || !bytes.Equal(got, want) {
		t.Fatalf("shape %v: streamed %d rows that differ from ReadArray's", a.Shape, rows)
	}
}

func checkShape(t *testing.T, shape []int, dims []uint64) {
	t.Helper()
	if len(shape) != len(dims) {
		t.Fatalf("dims %v: shape %v", dims, shape)
	}
	for i, d := range dims {
		if uint64(shape[i]) != d {
			t.Fatalf("dims %v: shape %v", dims, shape)
		}
	}
}

func npyHeader(descr string, fortran bool, dims []uint64) string {
	s := make([]string, len(dims))
	for i, d := range dims {
		s[i] = fmt.Sprint(d)
	}
	shape := strings.Join(s, ", ")
	if len(dims) == 1 {
		shape += ","
	}
	order := "False"
	if fortran {
		order = "True"
	}
	return fmt.Sprintf("{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }", descr, order, shape)
}

// npyOracle returns the elements of payload as the header describes them,
// little-endian and in row-major order, computed independently of the
// reader; ok is false when the reader must refuse the file.
func npyOracle(descr string, size int, dims []uint64, fortran bool, payload []byte) ([]byte, bool) {
	if size == 0 {
		return nil, false
	}
	n, zero := uint64(1), false // the product of the non-zero dims
	for _, d := range dims {
		hi, lo := bits.Mul64(n, max(d, 1))
		if hi != 0 || lo > math.MaxInt {
			return nil, false
		}
		n, zero = lo, zero || d == 0
	}
	if zero {
		return []byte{}, len(payload) == 0
	}
	if n > uint64(len(payload)) || uint64(len(payload)) != n*uint64(size) {
		return nil, false
	}
	if strings.HasSuffix(descr, "b1") && slices.ContainsFunc(payload, func(b byte) bool { return b > 1 }) {
		return nil, false
	}
	out := make([]byte, len(payload))
	for r := range int(n) {
		// The position of row-major element r in the file: in Fortran
		// order the first axis varies fastest.
		p := r
		if fortran {
			idx := make([]int, len(dims))
			rem := r
			for a := len(dims) - 1; a >= 0; a-- {
				idx[a] = rem % int(dims[a])
				rem /= int(dims[a])
			}
			p = 0
			for a := len(dims) - 1; a >= 0; a-- {
				p = p*int(dims[a]) + idx[a]
			}
		}
		e := out[r*size : (r+1)*size]
		copy(e, payload[p*size:])
		if descr[0] == '>' {
			slices.Reverse(e)
		}
	}
	return out, true
}

// leFloats decodes little-endian float32 (size 4) or float64 values,
// rounding the latter to float32.
func leFloats(b []byte, size int) []float32 {
	out := make([]float32, len(b)/size)
	for i := range out {
		if size == 4 {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		} else {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	}
	return out
}

func checkSameFloats(t *testing.T, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	for i := range want {
		if !same(got[i], want[i]) {
			t.Fatalf("element %d: %v, want %v", i, got[i], want[i])
		}
	}
}

// FuzzNPYBytes feeds arbitrary bytes to the .npy reader (the header parser
// included): it must return an error or an array, never panic, and what it
// reads must survive a write/read round trip bit for bit.
func FuzzNPYBytes(f *testing.F) {
	files, _ := filepath.Glob("../npy/testdata/*.npy")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := npy.ReadArray(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, npy.ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := npy.WriteArray(&buf, a); err != nil {
			t.Fatalf("write of a decoded array: %v", err)
		}
		c, err := npy.ReadArray(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		var again bytes.Buffer
		if err := npy.WriteArray(&again, c); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
			t.Fatalf("write → read → write changed the file: %v", err)
		}
	})
}

// FuzzNPZ feeds arbitrary bytes to the .npz reader. It must never panic;
// an error must wrap ErrFormat; it may allocate at most a small multiple
// of what deflate could make of the input (1032 bytes per byte) plus a
// fixed slack; an archive it accepts must survive WriteNPZ (stored and
// deflated) and ReadNPZ with the same names, dtypes, shapes and bytes.
// The seeds are NumPy's archives (npy/testdata) and archives with a
// repeated member, a deflated megabyte of zeros and a member that is not
// a .npy file.
func FuzzNPZ(f *testing.F) {
	files, _ := filepath.Glob("../npy/testdata/*.npz")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	labels, _ := npy.New([]int64{3, 1, 4}, 3)
	var one bytes.Buffer
	npy.WriteArray(&one, labels)
	zeros, _ := npy.New(make([]uint8, 1<<20), 1<<20)
	var big bytes.Buffer
	npy.WriteArray(&big, zeros)
	f.Add(zipOf(f, zip.Store, "a.npy", one.Bytes(), "a.npy", one.Bytes()))
	f.Add(zipOf(f, zip.Deflate, "z.npy", big.Bytes()))
	f.Add(zipOf(f, zip.Deflate, "a.npy", one.Bytes(), "b.txt", []byte("not numpy")))
	f.Fuzz(func(t *testing.T, b []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		arrays, err := npy.ReadNPZ(bytes.NewReader(b), int64(len(b)))
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 3*1032*uint64(len(b))+1<<20 {
			t.Fatalf("allocated %d bytes for a %d-byte archive", grew, len(b))
		}
		if err != nil {
			if !errors.Is(err, npy.ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		for _, compress := range []bool{false, true} {
			var buf bytes.Buffer
			if err := npy.WriteNPZ(&buf, arrays, compress); err != nil {
				t.Fatalf("WriteNPZ of decoded arrays: %v", err)
			}
			again, err := npy.ReadNPZ(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil || len(again) != len(arrays) {
				t.Fatalf("re-read (compress %v): %d arrays, %v", compress, len(again), err)
			}
			for name, a := range arrays {
				c := again[name]
				var x, y bytes.Buffer
				if c == nil || npy.WriteArray(&x, a) != nil || npy.WriteArray(&y, c) != nil || !bytes.Equal(x.Bytes(), y.Bytes()) {
					t.Fatalf("array %q changed in the round trip", name)
				}
			}
		}
	})
}

// zipOf returns a zip archive of the given name, content pairs, all with
// method.
func zipOf(f *testing.F, method uint16, pairs ...any) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for i := 0; i < len(pairs); i += 2 {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: pairs[i].(string), Method: method})
		if err != nil {
			f.Fatal(err)
		}
		w.Write(pairs[i+1].([]byte))
	}
	if err := zw.Close(); err != nil {
		f.Fatal(err)
	}
	return b.Bytes()
}
