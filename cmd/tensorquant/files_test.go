package main

import (
	"encoding/binary"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/badfile"
	"github.com/tensorquant/tensorquant/internal/tqfile"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/tensor"
)

// calibrationFiles writes x.npy (1000 values), seed.tqcal (calibrated on
// it), s0.tqcal (a fork of the seed calibrated on it), s0copy.tqcal (a
// copy of s0.tqcal) and m.tqcal (seed and s0 merged) into dir.
func calibrationFiles(t *testing.T, dir string) {
	t.Helper()
	x := tensor.New(1000)
	for i := range x.Data {
		x.Data[i] = float32(math.Sin(float64(i)))
	}
	if err := npy.WriteFile(filepath.Join(dir, "x.npy"), x); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"calibrate", "-quiet", "-save", "seed.tqcal", "x.npy"},
		{"calibrate", "-quiet", "-fork", "seed.tqcal", "-save", "s0.tqcal", "x.npy"},
		{"merge", "-o", "m.tqcal", "seed.tqcal", "s0.tqcal"},
	} {
		if _, e, code := tq(t, dir, args...); code != 0 {
			t.Fatalf("%q: %s", args, e)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "s0.tqcal"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "s0copy.tqcal"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hugeSet writes a calibration set that claims 2^52 values (a histogram
// with one saturated torch-path bin, which says only "at least 2^24"),
// valid on its own: three of them hold more than 2^53.
func hugeSet(t *testing.T, path string, id uint64) {
	t.Helper()
	section := func(f tqfile.Format, tag byte, content []byte) []byte {
		return tqfile.End(tqfile.AppendSection(f.Begin(nil), tag, content), 0)
	}
	// Histogram: flags has data | float32 edges, num_bits 8, num_bins 1
	// and 1, one count of 2^24, edges 0 and 1.
	h := []byte{8 | 16, 8, 1, 1, 1}
	h = binary.AppendUvarint(h, 1<<24)
	h = append(h, 2, 0, 0, 0, 0, 0, 0, 0x80, 0x3f)
	// Max: flags has amax, num_bits 8 (zig-zag), no axis, amax 1 (0-d), no
	// history.
	m := []byte{4, 16, 0, 0, 0, 0, 0x80, 0x3f, 0}
	info := binary.AppendUvarint(nil, 1<<52)
	info = binary.LittleEndian.AppendUint64(append(info, 1), id)
	b := tqfile.CalibrationSet.Begin(nil)
	b = tqfile.AppendSection(b, 'I', info)
	b = tqfile.AppendSection(b, 'H', section(tqfile.CalibratorState, 'H', h))
	b = tqfile.AppendSection(b, 'M', section(tqfile.CalibratorState, 'M', m))
	if err := os.WriteFile(path, tqfile.End(b, 0), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFileFailuresAreOneLine: every way an input or output file can be
// wrong gives one line on stderr and exit status 2, and changes nothing.
func TestFileFailuresAreOneLine(t *testing.T) {
	dir := t.TempDir()
	calibrationFiles(t, dir)
	for i := range 3 {
		hugeSet(t, filepath.Join(dir, "huge"+string(rune('0'+i))+".tqcal"), uint64(i+1))
	}
	seed, err := os.ReadFile(filepath.Join(dir, "seed.tqcal"))
	if err != nil {
		t.Fatal(err)
	}
	seed[len(seed)/2] ^= 4
	os.WriteFile(filepath.Join(dir, "flipped.tqcal"), seed, 0o644)
	// A checkpoint of version 1 (main's format): header, no entries, CRC.
	os.WriteFile(filepath.Join(dir, "v1.tqckpt"), []byte("TQCKPT\x00\x1a\x01\x00\x00\x00\x00\x00\x00\x00\xc2\xdf\x5e\x5d"), 0o644)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	f, err := os.Create(filepath.Join(dir, "sparse.tqcal"))
	if err == nil {
		f.WriteString("junk")
		err = f.Truncate(badfile.HugeSize)
		f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"merge", "/dev/zero"}, "tensorquant merge: /dev/zero: not a regular file (a character device)"},
		{[]string{"export", "/dev/zero"}, "tensorquant export: /dev/zero: not a regular file (a character device)"},
		{[]string{"calibrate", "-fork", "/dev/zero", "x.npy"}, "tensorquant calibrate: /dev/zero: not a regular file (a character device)"},
		{[]string{"merge", "fifo"}, "tensorquant merge: fifo: not a regular file (a named pipe)"},
		{[]string{"export", "sub"}, "tensorquant export: sub: not a regular file (a directory)"},
		{[]string{"merge", "sparse.tqcal"}, "tensorquant merge: sparse.tqcal: not a tensorquant calibration set (bad magic)"},
		{[]string{"export", "sparse.tqcal"}, "tensorquant export: sparse.tqcal: not a tensorquant checkpoint (bad magic)"},
		{[]string{"export", "seed.tqcal"}, "tensorquant export: seed.tqcal: a tensorquant calibration set, not a tensorquant checkpoint"},
		{[]string{"export", "v1.tqckpt"}, "tensorquant export: v1.tqckpt: tensorquant checkpoint of format version 1, written by an older tensorquant (this one reads version 2): save the model again (layers.SaveCheckpoint; tensorquant demo writes tensorquant-demo.tqckpt)"},
		{[]string{"merge", "seed.tqcal", "flipped.tqcal"}, "tensorquant merge: flipped.tqcal: calibrators: tensorquant calibration set checksum"},
		{[]string{"merge", "seed.tqcal", "s0.tqcal", "s0copy.tqcal"}, "tensorquant merge: calibrators: the same shard merged twice: s0.tqcal and s0copy.tqcal both hold shard "},
		{[]string{"merge", "m.tqcal", "s0.tqcal"}, "tensorquant merge: calibrators: the same shard merged twice: m.tqcal and s0.tqcal both hold shard "},
		{[]string{"merge", "seed.tqcal", "seed.tqcal"}, "tensorquant merge: calibrators: the same shard merged twice: seed.tqcal and seed.tqcal both hold shard "},
		{[]string{"merge", "huge0.tqcal", "huge1.tqcal", "huge2.tqcal"}, "tensorquant merge: huge2.tqcal: calibrators: merged calibration sets hold 9007199254740992 + 4503599627370496 values, more than 2^53"},
		{[]string{"calibrate", "-quiet", "-save", "fifo", "x.npy"}, "tensorquant calibrate: fifo: not a regular file (a named pipe)"},
		{[]string{"calibrate", "-quiet", "-save", "sub", "x.npy"}, "tensorquant calibrate: sub: not a regular file (a directory)"},
		{[]string{"calibrate", "-quiet", "-save", "no/such/x.tqcal", "x.npy"}, "tensorquant calibrate: create no/such/x.tqcal: no such file or directory"},
		{[]string{"merge", "-report", "fifo", "seed.tqcal"}, "tensorquant merge: fifo: not a regular file (a named pipe)"},
	}
	// As root, a copy of /dev/full's device node: main renamed its
	// temporary file over it.
	if syscall.Mknod(filepath.Join(dir, "full"), syscall.S_IFCHR|0o666, 1<<8|7) == nil {
		cases = append(cases, struct {
			args []string
			want string
		}{[]string{"calibrate", "-quiet", "-save", "full", "x.npy"}, "tensorquant calibrate: full: not a regular file (a character device)"})
	}
	before := modes(t, dir)
	for _, tc := range cases {
		out, errOut, code, rss := tqMeasured(t, dir, tc.args...)
		if code != 2 || out != "" || !strings.HasPrefix(errOut, tc.want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
		// The 1 GiB inputs are refused after their first bytes.
		if rss > 256<<20 {
			t.Errorf("%q: peak memory %d MiB", tc.args, rss>>20)
		}
	}
	if after := modes(t, dir); after != before {
		t.Errorf("the directory changed:\n%s\nwas\n%s", after, before)
	}
}

// modes lists the names and types of the files in dir.
func modes(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var s strings.Builder
	for _, e := range entries {
		s.WriteString(e.Name() + " " + e.Type().String() + "\n")
	}
	return s.String()
}

// TestSaveKeepsFile: -save through a symbolic link writes the file it
// points to and keeps the link; the file keeps its mode (main made a 0600
// state world-readable and replaced the link by a file).
func TestSaveKeepsFile(t *testing.T) {
	dir := t.TempDir()
	calibrationFiles(t, dir)
	real := filepath.Join(dir, "private", "state.tqcal")
	os.Mkdir(filepath.Dir(real), 0o700)
	if err := os.WriteFile(real, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("private/state.tqcal", filepath.Join(dir, "link.tqcal")); err != nil {
		t.Fatal(err)
	}
	if _, e, code := tq(t, dir, "calibrate", "-quiet", "-save", "link.tqcal", "x.npy"); code != 0 {
		t.Fatal(e)
	}
	if st, err := os.Lstat(filepath.Join(dir, "link.tqcal")); err != nil || st.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("link.tqcal: %v %v", st.Mode(), err)
	}
	if st, err := os.Stat(real); err != nil || st.Mode() != 0o600 || st.Size() == 0 {
		t.Errorf("the state: %v %v", st, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(real)); len(entries) != 1 {
		t.Errorf("next to the state: %v", entries)
	}
	if out, e, code := tq(t, dir, "merge", "-methods", "max", "link.tqcal"); code != 0 || !strings.HasPrefix(out, "1000 values") {
		t.Errorf("merge of the saved state: %q %s", out, e)
	}
}
