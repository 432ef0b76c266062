package npy

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readAll streams s in pieces of n rows, skipping skip rows first, and
// joins what Next returns.
func readAll(t *testing.T, s *Stream, n, skip int) *Array {
	t.Helper()
	if err := s.Skip(skip); err != nil {
		t.Fatal(err)
	}
	out := &Array{Shape: append([]int{0}, s.Shape[1:]...), DType: s.DType}
	for {
		a, err := s.Next(n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if a.Shape[0] > n || !slices.Equal(a.Shape[1:], s.Shape[1:]) {
			t.Fatalf("Next(%d): shape %v of %v", n, a.Shape, s.Shape)
		}
		out.Shape[0] += a.Shape[0]
		out.data = append(out.data, a.data...)
	}
	return out
}

// sameArray reports whether a and b hold the same shape, dtype and bytes.
func sameArray(a, b *Array) bool {
	return slices.Equal(a.Shape, b.Shape) && a.DType == b.DType && string(a.data) == string(b.data)
}

// rowsOf returns rows [lo, ...) of a.
func rowsOf(a *Array, lo int) *Array {
	per := len(a.data) / max(1, a.Shape[0])
	return &Array{Shape: append([]int{a.Shape[0] - lo}, a.Shape[1:]...), DType: a.DType, data: a.data[lo*per:]}
}

// TestStreamMatchesReadArray streams NumPy's files (every dtype, both byte
// orders), raw float32 files and the members of stored and deflated
// archives in pieces of 1 to 4 rows, after skipping 0 to 2: the rows are
// ReadArray's.
func TestStreamMatchesReadArray(t *testing.T) {
	for _, file := range []string{"b1_3.npy", "f4_1d_5.npy", "f4_2x3.npy", "f4_be_3.npy", "f4_empty_0x4.npy", "f8_2x3.npy", "i1_4.npy", "i4_3.npy", "i8_2x3.npy", "i8_be_3.npy", "u1_2x2.npy"} {
		path := filepath.Join("testdata", file)
		want, err := ReadArrayFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for n := 1; n <= 4; n++ {
			for skip := 0; skip <= min(2, want.Shape[0]); skip++ {
				s, err := OpenStream(path)
				if err != nil {
					t.Fatal(err)
				}
				if got := readAll(t, s, n, skip); !sameArray(got, rowsOf(want, skip)) {
					t.Errorf("%s by %d after %d: %v, want %v", file, n, skip, got, rowsOf(want, skip))
				}
				s.Close()
			}
		}
	}
	dir := t.TempDir()
	raw := filepath.Join(dir, "x.raw")
	a, _ := New([]float32{1, 2, 3, 4, 5, 6}, 3, 2)
	if err := os.WriteFile(raw, a.data, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := OpenRawStream(raw, []int{3, 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, 2, 1); !sameArray(got, rowsOf(a, 1)) {
		t.Errorf("raw: %v", got)
	}
	if _, err := OpenRawStream(raw, []int{4, 2}); err == nil {
		t.Error("raw file of another size accepted")
	}
	for _, file := range []string{"stored.npz", "deflated.npz"} {
		arrays, err := ReadNPZFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		z, err := OpenNPZ(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(z.Names(), []string{"labels", "weight"}) {
			t.Errorf("%s: names %v", file, z.Names())
		}
		for _, name := range z.Names() {
			s, err := z.Stream(name)
			if err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, s, 2, 1); !sameArray(got, rowsOf(arrays[name], 1)) {
				t.Errorf("%s %s: %v", file, name, got)
			}
			s.Close()
		}
		if _, err := z.Stream("nope"); err == nil {
			t.Errorf("%s: a missing member streamed", file)
		}
		z.Close()
	}
}

// TestStreamRefuses checks what a stream refuses: a truncated or longer
// file (at open), a Fortran-ordered matrix, a 0-d array, a member whose
// data is corrupt (its CRC, after the last row), and what is not a
// regular file.
func TestStreamRefuses(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("testdata/f4_2x3.npy")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"short.npy": b[:len(b)-1], "long.npy": append(slices.Clone(b), 0)} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		if _, err := OpenStream(p); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, file := range []string{"f4_fortran_2x3.npy", "f4_scalar.npy"} {
		if _, err := OpenStream(filepath.Join("testdata", file)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v", file, err)
		}
	}
	if _, err := OpenStream(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
	// A stored archive with one byte of the weight's data changed: the
	// CRC-32 check at the end of the member fails.
	z, err := os.ReadFile("testdata/stored.npz")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(z), "weight.npy")
	i = strings.Index(string(z[i:]), "\x00\x00\x80\x3e") + i // 0.25, the second weight
	z[i+3] ^= 1
	p := filepath.Join(dir, "bad.npz")
	os.WriteFile(p, z, 0o644)
	arch, err := OpenNPZ(p)
	if err != nil {
		t.Fatal(err)
	}
	defer arch.Close()
	s, err := arch.Stream("weight")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Next(1); err != nil {
		t.Fatalf("first row: %v", err)
	}
	if _, err := s.Next(1); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("corrupt member: %v", err)
	}
}
