package tqfile

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/badfile"
	"github.com/tensorquant/tensorquant/tensor"
)

// sample is a small calibration-set file with two sections.
func sample() []byte {
	b := CalibrationSet.Begin(nil)
	b = AppendSection(b, 'A', []byte{1, 2, 3})
	x, _ := tensor.FromSlice([]float32{0.5, -1}, 2)
	b = AppendSection(b, 'T', AppendTensor(nil, x))
	return End(b, 0)
}

func TestGolden(t *testing.T) {
	want := "545143414c534554" + "02" + "1100000000000000" +
		"41" + "03" + "010203" +
		"54" + "0a" + "01" + "02" + "0000003f" + "000080bf"
	raw, _ := hex.DecodeString(want)
	want += hex.EncodeToString(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(raw, crc32.MakeTable(crc32.Castagnoli))))
	if got := hex.EncodeToString(sample()); got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	d, err := CalibrationSet.Open(sample())
	if err != nil {
		t.Fatal(err)
	}
	a := d.Section('A')
	got := []byte{a.Byte(), a.Byte(), a.Byte()}
	a.Done()
	s := d.Section('T')
	x := s.Tensor(1)
	s.Done()
	d.Done()
	if d.Err() != nil || string(got) != "\x01\x02\x03" || x == nil || len(x.Shape) != 1 || x.Data[0] != 0.5 || x.Data[1] != -1 {
		t.Fatalf("decoded %v %v: %v", got, x, d.Err())
	}
	// A file inside a larger buffer.
	b := End(Checkpoint.Begin([]byte("prefix")), 6)
	if _, err := Checkpoint.Open(b[6:]); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	good := sample()
	body := func(f Format, content ...byte) []byte { return End(append(f.Begin(nil), content...), 0) }
	for _, tc := range []struct {
		data []byte
		want string
	}{
		{nil, "not a tensorquant calibration set (bad magic)"},
		{[]byte("TQCALSE"), "not a tensorquant calibration set (bad magic)"},
		{body(Checkpoint), "a tensorquant checkpoint, not a tensorquant calibration set"},
		{body(CalibratorState), "a tensorquant calibrator state, not a tensorquant calibration set"},
		{[]byte("TQCALSET\x01\x80\x80\x01"), "tensorquant calibration set of format version 1, written by an older tensorquant (this one reads version 2): run tensorquant calibrate -save (or -fork) again on the data"},
		{[]byte("TQCALSET\x03"), "tensorquant calibration set of format version 3, written by a newer tensorquant: this one reads version 2"},
		{good[:HeaderSize-1], "tensorquant calibration set truncated to 16 bytes"},
		{good[:len(good)-1], "tensorquant calibration set of 37 bytes, its header says 38: the file is truncated or corrupt"},
		{append(good, 0), "tensorquant calibration set of 39 bytes, its header says 38: the file is truncated or corrupt"},
		{append(good[:len(good)-4:len(good)-4], 0, 0, 0, 0), "tensorquant calibration set checksum 0x00000000, computed 0x8be52f96: the file is corrupt"},
	} {
		if _, err := CalibrationSet.Open(tc.data); err == nil || err.Error() != tc.want {
			t.Errorf("Open(%q): %v, want %s", tc.data, err, tc.want)
		}
	}
	if _, err := CalibratorState.Open([]byte("TQCAL\x01H\x00")); err == nil || !strings.Contains(err.Error(), "format version 1, written by an older tensorquant") {
		t.Errorf("a version 1 state: %v", err)
	}
}

// TestEveryBitFlip: any single changed bit of a file is refused: in the
// magic, the version, the length, the body or the checksum.
func TestEveryBitFlip(t *testing.T) {
	b := sample()
	for i := range 8 * len(b) {
		b[i/8] ^= 1 << (i % 8)
		if _, err := CalibrationSet.Open(b); err == nil {
			t.Fatalf("bit %d of byte %d flipped: accepted", i%8, i/8)
		}
		b[i/8] ^= 1 << (i % 8)
	}
}

func TestDecoderErrors(t *testing.T) {
	open := func(content ...byte) *Decoder {
		d, err := Checkpoint.Open(End(append(Checkpoint.Begin(nil), content...), 0))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct {
		name string
		read func(d *Decoder)
		data []byte
		want string
	}{
		{"byte", func(d *Decoder) { d.Byte() }, nil, "truncated"},
		{"uvarint", func(d *Decoder) { d.Uvarint(1 << 62) }, []byte{0x80}, "truncated"},
		{"limit", func(d *Decoder) { d.Uvarint(5) }, []byte{6}, "value 6 above 5"},
		{"long uvarint", func(d *Decoder) { d.Uvarint(5) }, []byte{0x80, 0}, "varint not in its shortest form"},
		{"long uvarint 2", func(d *Decoder) { d.Uvarint(1 << 20) }, []byte{0x81, 0x80, 0}, "varint not in its shortest form"},
		{"long varint", func(d *Decoder) { d.Varint() }, []byte{0x82, 0}, "varint not in its shortest form"},
		{"varint", func(d *Decoder) { d.Varint() }, []byte{0x80, 0x80, 0x80, 0x80, 0x10}, "value 2147483648 out of range"},
		{"count", func(d *Decoder) { d.Count(4) }, []byte{1, 0, 0, 0}, "truncated"},
		{"tensor", func(d *Decoder) { d.Tensor(4) }, []byte{1, 2, 0, 0, 0, 0}, "tensor of shape [2] in 4 bytes: truncated"},
		{"rank", func(d *Decoder) { d.Tensor(4) }, []byte{5}, "value 5 above 4"},
		{"section", func(d *Decoder) { d.Next() }, []byte{'A', 2, 0}, "section 'A' of 2 bytes, 1 left: truncated"},
		{"tag", func(d *Decoder) { d.Section('B') }, []byte{'A', 0}, "section 'A' where 'B' belongs"},
		{"done", func(d *Decoder) { d.Next(); d.Done() }, []byte{'A', 0, 0}, "1 bytes after the end"},
		{"section done", func(d *Decoder) { _, s := d.Next(); s.Done() }, []byte{'A', 1, 0}, "1 bytes after the end"},
	} {
		d := open(tc.data...)
		tc.read(d)
		if err := d.Err(); err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	// The first error sticks, and later reads give zero values.
	d := open(1)
	d.Fail(errors.New("first"))
	if d.Byte() != 0 || d.Uvarint(10) != 0 || d.Tensor(1) != nil || d.Err().Error() != "first" {
		t.Errorf("after an error: %v", d.Err())
	}
}

func TestFormatsDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range formats {
		if len(f.magic) != magicSize || seen[f.magic] || f.legacy != "" && strings.HasPrefix(f.magic, f.legacy) {
			t.Errorf("%v: magic %q", f, f.magic)
		}
		seen[f.magic] = true
	}
}

// TestReadFile: the header is checked before the rest is read, so a 1 GiB
// file whose header says otherwise costs nothing.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "set")
	if err := os.WriteFile(p, sample(), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := CalibrationSet.ReadFile(p); err != nil || string(b) != string(sample()) {
		t.Fatalf("ReadFile: %v", err)
	}
	if err := os.Truncate(p, badfile.HugeSize); err != nil {
		t.Fatal(err)
	}
	var err error
	if n := badfile.Allocated(func() { _, err = CalibrationSet.ReadFile(p) }); n > 1<<20 {
		t.Errorf("allocated %d bytes", n)
	}
	if want := p + ": tensorquant calibration set of 1073741824 bytes, its header says 38: the file is truncated or corrupt"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	badfile.Refused(t, "not a tensorquant calibration set (bad magic)", func(path string) error {
		_, err := CalibrationSet.ReadFile(path)
		return err
	})
}
