package npy

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tensorquant/tensorquant/internal/testkit/exttool"
)

// The archives were written by np.savez and np.savez_compressed
// (testdata/gen_dtypes.py).
func TestReadNumPyNPZ(t *testing.T) {
	for _, file := range []string{"stored.npz", "deflated.npz"} {
		arrays, err := ReadNPZFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		checkExample(t, file, arrays)
	}
}

// checkExample checks the arrays of testdata/gen_dtypes.py's archives.
func checkExample(t *testing.T, where string, arrays map[string]*Array) {
	t.Helper()
	if len(arrays) != 2 || arrays["labels"] == nil || arrays["weight"] == nil {
		t.Fatalf("%s: arrays %v", where, arrays)
	}
	labels, err := Values[int64](arrays["labels"])
	if err != nil || !cmp.Equal(labels, []int64{3, 1, 4, 1, 5}) || arrays["labels"].DType != Int64 {
		t.Errorf("%s: labels %v %v", where, labels, err)
	}
	w, err := arrays["weight"].Tensor()
	if err != nil || !cmp.Equal(w.Shape, []int{2, 3}) || !cmp.Equal(w.Data, []float32{0, 0.25, 0.5, 0.75, 1, 1.25}) {
		t.Errorf("%s: weight %v %v", where, w, err)
	}
}

// TestWriteNPZ: what WriteNPZ writes, stored or deflated, reads back
// equal, and NumPy reads it too.
func TestWriteNPZ(t *testing.T) {
	labels, _ := New([]int64{3, 1, 4, 1, 5}, 5)
	weight, _ := New([]float32{0, 0.25, 0.5, 0.75, 1, 1.25}, 2, 3)
	arrays := map[string]*Array{"labels": labels, "weight": weight}
	dir := t.TempDir()
	for _, compress := range []bool{false, true} {
		p := filepath.Join(dir, fmt.Sprintf("x%v.npz", compress))
		if err := WriteNPZFile(p, arrays, compress); err != nil {
			t.Fatal(err)
		}
		got, err := ReadNPZFile(p)
		if err != nil {
			t.Fatal(err)
		}
		checkExample(t, p, got)
		numpyCheck(t, p)
	}
	for _, name := range []string{"", "../x", "/x", "a//b", `a\b`, "a\x00", "a/./b"} {
		if err := WriteNPZ(&bytes.Buffer{}, map[string]*Array{name: labels}, false); err == nil || !strings.Contains(err.Error(), "npy: array name") {
			t.Errorf("name %q: %v", name, err)
		}
	}
	if err := WriteNPZ(&bytes.Buffer{}, map[string]*Array{"features.0.weight": {DType: Int64, Shape: []int{1}}}, false); err == nil {
		t.Error("an invalid array was written")
	}
}

// numpyCheck loads the archive with np.load and checks its arrays as
// checkExample does (not under -short: Python starts slowly).
func numpyCheck(t *testing.T, path string) {
	t.Helper()
	if testing.Short() {
		return
	}
	if exec.Command("/usr/bin/python3", "-c", "import numpy").Run() != nil {
		exttool.Missing(t, "/usr/bin/python3 cannot import numpy (Debian package python3-numpy)")
	}
	script := `import sys, numpy as np
z = np.load(sys.argv[1])
assert sorted(z.files) == ["labels", "weight"], z.files
assert z["labels"].dtype == np.int64 and z["labels"].tolist() == [3, 1, 4, 1, 5]
assert z["weight"].dtype == np.float32 and z["weight"].tolist() == [[0, 0.25, 0.5], [0.75, 1, 1.25]]`
	if out, err := exec.Command("/usr/bin/python3", "-c", script, path).CombinedOutput(); err != nil {
		t.Errorf("np.load(%s): %v\n%s", path, err, out)
	}
}

// member is one entry of a hand-made zip archive.
type member struct {
	name   string
	method uint16
	data   []byte // as stored in the archive (compressed for deflate)
	usize  uint64 // declared uncompressed size
	crc    uint32
	flags  uint16
}

// stored and deflated return members holding content.
func stored(name string, content []byte) member {
	return member{name, zip.Store, content, uint64(len(content)), crc32.ChecksumIEEE(content), 0}
}

func deflated(name string, content []byte) member {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write(content)
	w.Close()
	return member{name, zip.Deflate, b.Bytes(), uint64(len(content)), crc32.ChecksumIEEE(content), 0}
}

// makeZip writes the members as a zip archive, taking their headers as
// given (lies included); point, when not nil, maps a member's index to
// the index of the member whose local header its directory entry points
// at (to make members overlap).
func makeZip(t *testing.T, members []member, point map[int]int) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, m := range members {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: m.name, Method: m.method, CRC32: m.crc,
			CompressedSize64: uint64(len(m.data)), UncompressedSize64: m.usize, Flags: m.flags})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(m.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	out := b.Bytes()
	if point != nil {
		// Central directory entries start with PK\x01\x02; the local
		// header offset is at byte 42 of each.
		var entries, locals []int
		for i := 0; i+4 <= len(out); i++ {
			switch string(out[i : i+4]) {
			case "PK\x01\x02":
				entries = append(entries, i)
			case "PK\x03\x04":
				locals = append(locals, i)
			}
		}
		for from, to := range point {
			binary.LittleEndian.PutUint32(out[entries[from]+42:], uint32(locals[to]))
		}
	}
	return out
}

func npyBytes(t *testing.T, a *Array) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteArray(&b, a); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestReadNPZHostile: archives that lie, overlap, repeat or misname
// members are refused with ErrFormat and a message naming the problem.
func TestReadNPZHostile(t *testing.T) {
	small := npyBytes(t, mustNew(t, []int64{1, 2, 3}))
	zeros, _ := New(make([]uint8, 1<<20), 1<<20)
	big := npyBytes(t, zeros) // 1 MiB of zeros deflates about 1000:1
	lie := func(m member, f func(*member)) member { f(&m); return m }
	for _, tc := range []struct {
		name    string
		members []member
		point   map[int]int
		msg     string
	}{
		{"not a zip", nil, nil, "not a .npz archive"},
		{"not .npy", []member{stored("a.txt", small)}, nil, `member "a.txt" is not NAME.npy with a valid NAME`},
		{"parent", []member{stored("../a.npy", small)}, nil, `member "../a.npy" is not NAME.npy`},
		{"absolute", []member{stored("/a.npy", small)}, nil, `member "/a.npy" is not NAME.npy`},
		{"backslash", []member{stored(`a\b.npy`, small)}, nil, `is not NAME.npy`},
		{"empty name", []member{stored(".npy", small)}, nil, `member ".npy" is not NAME.npy`},
		{"duplicate", []member{stored("a.npy", small), stored("b.npy", small), stored("a.npy", small)}, nil, `member "a.npy" appears twice`},
		{"overlap", []member{stored("a.npy", small), stored("b.npy", small)}, map[int]int{1: 0}, `members "a.npy" and "b.npy" overlap`},
		{"overlapping bomb", []member{deflated("a.npy", big), deflated("b.npy", big), deflated("c.npy", big)}, map[int]int{1: 0, 2: 0}, "overlap"},
		{"stored size lie", []member{lie(stored("a.npy", small), func(m *member) { m.usize = 1 << 40 })}, nil, "stored member \"a.npy\" declares 1099511627776 bytes in"},
		{"deflate ratio lie", []member{lie(deflated("a.npy", small), func(m *member) { m.usize = 1 << 40 })}, nil, "more than deflate makes of"},
		{"declared more than the header", []member{lie(deflated("a.npy", small), func(m *member) { m.usize++ })}, nil, "but a header of 128 bytes and shape [3] of int64 take 152"},
		{"inflates to more than declared", []member{lie(deflated("a.npy", append(append([]byte{}, small...), 0)), func(m *member) { m.usize--; m.crc = crc32.ChecksumIEEE(small) })}, nil, `member "a.npy": npy: malformed file: zip: not a valid zip file`},
		{"inflates to less than declared", []member{lie(deflated("a.npy", small[:140]), func(m *member) { m.usize = uint64(len(small)) })}, nil, "shape [3] of int64 needs 24 bytes of data"},
		{"crc", []member{lie(stored("a.npy", small), func(m *member) { m.crc++ })}, nil, "checksum error"},
		{"encrypted", []member{lie(stored("a.npy", small), func(m *member) { m.flags = 1 })}, nil, `member "a.npy" is encrypted`},
		{"bzip2", []member{lie(stored("a.npy", small), func(m *member) { m.method = 12 })}, nil, "compression method 12"},
		{"not npy", []member{stored("a.npy", []byte("hello"))}, nil, "bad magic"},
	} {
		in := []byte("PK not really")
		if tc.members != nil {
			in = makeZip(t, tc.members, tc.point)
		}
		_, err := ReadNPZ(bytes.NewReader(in), int64(len(in)))
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.msg)
		}
	}
	// A member whose data runs past the end of the archive.
	in := makeZip(t, []member{stored("a.npy", small)}, nil)
	cut := bytes.Index(in, []byte("PK\x01\x02"))
	_, err := ReadNPZ(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(in[cut+20:], 1<<30) // compressed size in the directory
	binary.LittleEndian.PutUint32(in[cut+24:], 1<<30) // uncompressed size
	if _, err := ReadNPZ(bytes.NewReader(in), int64(len(in))); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "run past the archive") {
		t.Errorf("member past the end: %v", err)
	}
}

// TestReadNPZBombBounded: a deflated member of 1 MiB of zeros (1 KiB in
// the archive) is read, with allocations a small multiple of what it
// inflates to; twelve directory entries pointing at it are refused before
// anything is inflated.
func TestReadNPZBombBounded(t *testing.T) {
	zeros, _ := New(make([]uint8, 1<<20), 1<<20)
	m := deflated("z.npy", npyBytes(t, zeros))
	one := makeZip(t, []member{m}, nil)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	arrays, err := ReadNPZ(bytes.NewReader(one), int64(len(one)))
	runtime.ReadMemStats(&after)
	if err != nil || arrays["z"].Numel() != 1<<20 {
		t.Fatalf("one member: %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 3<<20 {
		t.Errorf("%d bytes allocated to read 1 MiB", grew)
	}
	ms := make([]member, 12)
	point := map[int]int{}
	for i := range ms {
		ms[i] = m
		ms[i].name = fmt.Sprintf("z%d.npy", i)
		if i > 0 {
			point[i] = 0
		}
	}
	bomb := makeZip(t, ms, point)
	runtime.ReadMemStats(&before)
	_, err = ReadNPZ(bytes.NewReader(bomb), int64(len(bomb)))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "overlap") {
		t.Fatalf("bomb: %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("%d bytes allocated to refuse a bomb of %d bytes", grew, len(bomb))
	}
}

func TestValidName(t *testing.T) {
	for _, name := range []string{"features.0.weight", "features.1.running_mean", "a/b", "x y", "日本"} {
		if err := ValidName(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	for _, name := range []string{"", "/a", "a/", "a//b", "./a", "a/..", `a\b`, "a\nb", "\xff", strings.Repeat("a", 1025)} {
		if err := ValidName(name); err == nil {
			t.Errorf("%q accepted", name)
		}
	}
}

func TestReadNPZFileNotRegular(t *testing.T) {
	if _, err := ReadNPZFile(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		if _, err := ReadNPZFile("/dev/zero"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("/dev/zero: %v", err)
		}
	}
}
