package fuzz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/tensor"
)

// npyDescrs are the dtypes FuzzNPY writes into headers: those the reader
// accepts and some it must refuse.
var npyDescrs = []string{"<f4", ">f4", "<f8", ">f8", "f4", "f8", "<i4", "<i8", "|u1", "|b1", "<f2", "", "<f4 "}

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
// payload. The reader must refuse it with ErrFormat or return exactly the
// payload's values in row-major order; it must never panic or allocate
// more than a small multiple of the file plus fixed buffers; what it reads
// must survive a write/read round trip bit for bit. The seeds are the
// shapes whose size arithmetic once overflowed: (2^63-1,) panicked and
// (2^62,) wrapped to 0 bytes and read forever.
func FuzzNPY(f *testing.F) {
	f.Add(uint8(1), uint64(math.MaxInt64), uint64(0), uint64(0), uint8(0), false, make([]byte, 8))
	f.Add(uint8(1), uint64(1<<62), uint64(0), uint64(0), uint8(0), false, make([]byte, 8))
	f.Add(uint8(1), uint64(1<<61), uint64(0), uint64(0), uint8(2), false, []byte{})
	f.Add(uint8(2), uint64(1<<31), uint64(1<<31), uint64(0), uint8(1), true, make([]byte, 16))
	f.Add(uint8(3), uint64(1<<62), uint64(4), uint64(0), uint8(0), false, []byte{})
	f.Add(uint8(2), uint64(2), uint64(3), uint64(0), uint8(0), true, bytes.Repeat([]byte{0, 0, 0x80, 0x3f}, 6))
	f.Add(uint8(3), uint64(2), uint64(1), uint64(2), uint8(3), true, bytes.Repeat([]byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 1}, 4))
	f.Add(uint8(0), uint64(0), uint64(0), uint64(0), uint8(2), false, []byte{0, 0, 0, 0, 0, 0, 0xf8, 0x7f})
	f.Add(uint8(2), uint64(0), uint64(5), uint64(0), uint8(1), false, []byte{})
	f.Fuzz(func(t *testing.T, rank uint8, d0, d1, d2 uint64, dtype uint8, fortran bool, payload []byte) {
		dims := []uint64{d0, d1, d2}[:rank%4]
		descr := npyDescrs[int(dtype)%len(npyDescrs)]
		file := npyFile(npyHeader(descr, fortran, dims), payload)

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		x, err := npy.Read(bytes.NewReader(file))
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(8*len(file))+2<<20 {
			t.Fatalf("dims %v %s: allocated %d bytes for a %d-byte file", dims, descr, grew, len(file))
		}
		if err != nil {
			if !errors.Is(err, npy.ErrFormat) {
				t.Fatalf("dims %v %s: error %v does not wrap ErrFormat", dims, descr, err)
			}
			return
		}
		want, ok := npyValues(descr, dims, fortran, payload)
		if !ok {
			t.Fatalf("dims %v %s fortran=%v, %d bytes: accepted %v", dims, descr, fortran, len(payload), x.Shape)
		}
		if len(x.Shape) != len(dims) {
			t.Fatalf("dims %v: shape %v", dims, x.Shape)
		}
		for i, d := range dims {
			if uint64(x.Shape[i]) != d {
				t.Fatalf("dims %v: shape %v", dims, x.Shape)
			}
		}
		checkSameFloats(t, x.Data, want)
		var buf bytes.Buffer
		if err := npy.Write(&buf, x); err != nil {
			t.Fatalf("write of a decoded tensor: %v", err)
		}
		y, err := npy.Read(&buf)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if !tensor.SameShape(x.Shape, y.Shape) {
			t.Fatalf("round trip changed %v to %v", x.Shape, y.Shape)
		}
		checkSameFloats(t, y.Data, x.Data)
	})
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

// npyValues decodes payload as the float32 or float64 array the header
// describes, in row-major order, independently of the reader: ok is false
// when the file is not one the reader may accept.
func npyValues(descr string, dims []uint64, fortran bool, payload []byte) ([]float32, bool) {
	var order binary.ByteOrder = binary.LittleEndian
	size := 4
	switch descr {
	case "<f4", "f4":
	case ">f4":
		order = binary.BigEndian
	case "<f8", "f8":
		size = 8
	case ">f8":
		order, size = binary.BigEndian, 8
	default:
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
		return []float32{}, len(payload) == 0
	}
	if n > uint64(len(payload)) || uint64(len(payload)) != n*uint64(size) {
		return nil, false
	}
	out := make([]float32, n)
	for r := range out {
		// The position of row-major element r in the file: in Fortran
		// order the first axis varies fastest.
		p, rem := 0, r
		if fortran {
			idx := make([]int, len(dims))
			for a := len(dims) - 1; a >= 0; a-- {
				idx[a] = rem % int(dims[a])
				rem /= int(dims[a])
			}
			for a := len(dims) - 1; a >= 0; a-- {
				p = p*int(dims[a]) + idx[a]
			}
		} else {
			p = r
		}
		if size == 4 {
			out[r] = math.Float32frombits(order.Uint32(payload[4*p:]))
		} else {
			out[r] = float32(math.Float64frombits(order.Uint64(payload[8*p:])))
		}
	}
	return out, true
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
// included): it must return an error or a tensor, never panic, and what it
// reads must survive a write/read round trip bit for bit.
func FuzzNPYBytes(f *testing.F) {
	files, _ := filepath.Glob("../npy/testdata/*.npy")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := npy.Read(bytes.NewReader(b))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := npy.Write(&buf, x); err != nil {
			t.Fatalf("write of a decoded tensor: %v", err)
		}
		y, err := npy.Read(&buf)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		if !tensor.SameShape(x.Shape, y.Shape) {
			t.Fatalf("round trip changed %v to %v", x.Shape, y.Shape)
		}
		checkSameFloats(t, y.Data, x.Data)
	})
}
