package fuzz

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/idx"
)

// FuzzIDX feeds arbitrary bytes (plain or gzip) to the IDX reader: it must
// return an array or an error wrapping idx.ErrFormat, never panic, and an
// uncompressed file it accepts must be written back byte for byte and
// streamed row by row to the same elements.
func FuzzIDX(f *testing.F) {
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 2, 7, 9})
	f.Add([]byte{0, 0, 0x0D, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0x7f, 0xc0, 0, 0})
	f.Add([]byte{0, 0, 0x0E, 1, 0, 0, 0, 0})
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0x62, 0x60, 0xe0, 0x60, 0x04, 0, 0, 0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := idx.Read(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, idx.ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		var out bytes.Buffer
		if err := idx.Write(&out, a); err != nil {
			t.Fatalf("Write of a decoded array: %v", err)
		}
		// Row by row (at most 64 rows at a time): the same elements.
		s, err := idx.NewStream(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("NewStream of a file Read accepts: %v", err)
		}
		var got []float64
		for s.Rows() > 0 {
			r, err := s.Next(max(1, s.Shape[0]/64))
			if err != nil {
				t.Fatalf("Next: %v", err)
			}
			got = append(got, r.Float64s()...)
		}
		if want := a.Float64s(); len(got) != len(want) || !slices.EqualFunc(got, want, func(x, y float64) bool { return x == y || x != x && y != y }) {
			t.Fatalf("streamed %d elements, Read %d, or they differ", len(got), len(want))
		}
		if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
			return
		}
		if !bytes.Equal(out.Bytes(), b) {
			t.Fatalf("Write(Read(b)) = % x, want % x", out.Bytes(), b)
		}
	})
}
