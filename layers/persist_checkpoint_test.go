package layers

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/badfile"
	"github.com/tensorquant/tensorquant/tensor"
)

func bnModel(seed uint64) *Sequential {
	rng := testRNG(seed)
	return NewSequential(must(NewConv2d(1, 2, 3, ConvOptions{}, rng)), must(NewBatchNorm2d(2)), NewReLU(),
		NewFlatten(1, -1), must(NewLinear(2*2*2, 3, true, rng)))
}

func TestCheckpointRoundTrip(t *testing.T) {
	a := bnModel(1)
	x := randTensor(testRNG(5), 4, 1, 4, 4)
	must(a.Forward(x)) // moves BatchNorm's running statistics
	dir := t.TempDir()
	path := filepath.Join(dir, "model.tqckpt")
	if err := SaveCheckpoint(path, a); err != nil {
		t.Fatal(err)
	}
	if err := SaveCheckpoint(path, a); err != nil { // overwriting works too
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d files after saving, want 1 (no temporary left)", len(entries))
	}
	b := bnModel(2)
	if err := LoadCheckpoint(path, b); err != nil {
		t.Fatal(err)
	}
	SetTraining(a, false)
	SetTraining(b, false)
	sameData(t, "outputs after loading", must(b.Forward(x)).Data, must(a.Forward(x)).Data)
	ca, cb := must(Capture(a)), must(Capture(b))
	var names []string
	for i, e := range ca.Entries {
		names = append(names, e.Name)
		sameData(t, e.Name, cb.Entries[i].Tensor.Data, e.Tensor.Data)
	}
	if got, want := strings.Join(names, " "), "0.weight 0.bias 1.weight 1.bias 1.running_mean 1.running_var 4.weight 4.bias"; got != want {
		t.Errorf("entries %s, want %s", got, want)
	}
}

func TestCheckpointStrict(t *testing.T) {
	a := bnModel(1)
	c := must(Capture(a))
	for _, tc := range []struct {
		name string
		edit func(c *Checkpoint)
		want string
	}{
		{"missing param", func(c *Checkpoint) { c.Entries = c.Entries[1:] }, `checkpoint has no parameter "0.weight"`},
		{"missing buffer", func(c *Checkpoint) { c.Entries = append(c.Entries[:4], c.Entries[5:]...) }, `checkpoint has no buffer "1.running_mean"`},
		{"extra param", func(c *Checkpoint) {
			c.Entries = append(c.Entries, CheckpointEntry{Name: "9.weight", Tensor: tensor.New(1)})
		}, `checkpoint parameter "9.weight" is not in the model`},
		{"extra buffer", func(c *Checkpoint) {
			c.Entries = append(c.Entries, CheckpointEntry{Name: "0.amax", Buffer: true, Tensor: tensor.New(1)})
		}, `checkpoint buffer "0.amax" belongs to no layer of the model that keeps buffers`},
		{"bad buffer", func(c *Checkpoint) { c.Entries[5].Tensor = tensor.New(7) }, `checkpoint buffer "1.running_var"`},
		{"shape", func(c *Checkpoint) { c.Entries[0].Tensor = tensor.New(2, 1, 3, 2) }, `parameter "0.weight" has shape [2 1 3 2], the model [2 1 3 3]`},
		{"duplicate", func(c *Checkpoint) { c.Entries = append(c.Entries, c.Entries[0]) }, `"0.weight" appears twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bnModel(2)
			before := must(Capture(b))
			cc := &Checkpoint{Entries: append([]CheckpointEntry{}, c.Entries...)}
			tc.edit(cc)
			err := cc.Restore(b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			after := must(Capture(b))
			for i, e := range before.Entries {
				sameData(t, "unchanged "+e.Name, after.Entries[i].Tensor.Data, e.Tensor.Data)
			}
		})
	}
}

// TestCheckpointGolden pins the byte format with a tiny model.
func TestCheckpointGolden(t *testing.T) {
	l := must(NewLinear(1, 1, true, testRNG(1)))
	l.Weight.Data[0], l.Bias.Data[0] = 0.5, -1
	c := must(Capture(l))
	b, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	want := "5451434b5054001a" + "02" + "1d00000000000000" +
		"50" + "0e" + "06" + hex.EncodeToString([]byte("weight")) + "02" + "01" + "01" + "0000003f" +
		"50" + "0b" + "04" + hex.EncodeToString([]byte("bias")) + "01" + "01" + "000080bf"
	raw, _ := hex.DecodeString(want)
	want += hex.EncodeToString(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(raw, crc32.MakeTable(crc32.Castagnoli))))
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("encoding\n got %s\nwant %s", got, want)
	}
	var d Checkpoint
	if err := d.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if len(d.Entries) != 2 || d.Entries[1].Name != "bias" || d.Entries[1].Tensor.Data[0] != -1 || d.Entries[0].Buffer {
		t.Errorf("decoded %+v", d.Entries)
	}
}

// frame makes a version 2 checkpoint of the given body, with the right
// length and checksum, so that hostile contents get past them to the
// parser.
func frame(body []byte) []byte {
	b := binary.LittleEndian.AppendUint64([]byte("TQCKPT\x00\x1a\x02"), uint64(len(body)))
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

func TestCheckpointHostile(t *testing.T) {
	good := must(must(Capture(bnModel(1))).MarshalBinary())
	var c Checkpoint
	for n := range len(good) {
		if err := c.UnmarshalBinary(good[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
	// Every single-bit change of a checkpoint of a few kilobytes is
	// refused.
	big := must(must(Capture(NewSequential(bnModel(2), must(NewLinear(3, 300, true, testRNG(3)))))).MarshalBinary())
	if len(big) < 1000 || len(big) > 10000 {
		t.Fatalf("a checkpoint of %d bytes", len(big))
	}
	for i := range 8 * len(big) {
		big[i/8] ^= 1 << (i % 8)
		if err := c.UnmarshalBinary(big); err == nil {
			t.Fatalf("bit %d of byte %d flipped: no error", i%8, i/8)
		}
		big[i/8] ^= 1 << (i % 8)
	}
	if err := c.UnmarshalBinary(big); err != nil {
		t.Fatal(err)
	}
	entry := func(name string, dims ...uint64) []byte {
		b := append(binary.AppendUvarint(nil, uint64(len(name))), name...)
		b = binary.AppendUvarint(b, uint64(len(dims)))
		for _, d := range dims {
			b = binary.AppendUvarint(b, d)
		}
		return b
	}
	section := func(tag byte, content ...[]byte) []byte {
		c := bytes.Join(content, nil)
		return append(binary.AppendUvarint([]byte{tag}, uint64(len(c))), c...)
	}
	v1 := []byte("TQCKPT\x00\x1a\x01\x00\x00\x00\x00\x00\x00\x00")
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"magic", []byte("TQCKPT\x00\x1b\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), "not a tensorquant checkpoint (bad magic)"},
		{"version 1", append(v1, 0xc2, 0xdf, 0x5e, 0x5d), "tensorquant checkpoint of format version 1, written by an older tensorquant (this one reads version 2): save the model again"},
		{"version 3", []byte("TQCKPT\x00\x1a\x03"), "written by a newer tensorquant"},
		{"length", append(frame(nil)[:9], 1, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4), "checkpoint of 21 bytes, its header says 22"},
		{"checksum", append(frame(nil)[:17], 1, 2, 3, 4), "checksum 0x04030201, computed 0x69395794: the file is corrupt"},
		{"huge tensor", frame(section('P', entry("w", 1<<31-1, 1<<31-1), make([]byte, 16))), "tensor of shape [2147483647 2147483647] in 16 bytes: truncated"},
		{"short data", frame(section('P', entry("w", 3), make([]byte, 8))), "tensor of shape [3] in 8 bytes"},
		{"section length", frame(append(section('P', entry("w", 1), make([]byte, 4)), 0x50, 0x7f)), `entry 1 "": section 'P' of 127 bytes, 0 left: truncated`},
		{"tag", frame(section('Q', entry("w", 1), make([]byte, 4))), "unknown tag 'Q'"},
		{"rank", frame(section('P', entry("w", 1, 1, 1, 1, 1, 1, 1, 1, 1), make([]byte, 4))), "value 9 above 8"},
		{"name", frame(section('P', entry("\xff", 1), make([]byte, 4))), "bad name"},
		{"empty name", frame(section('P', entry("", 1), make([]byte, 4))), "bad name"},
		{"trailing", frame(section('P', entry("w", 1), make([]byte, 5))), "1 bytes after the end"},
		{"dimension", frame(section('P', entry("w", 1<<31), make([]byte, 4))), "value 2147483648 above 2147483647"},
	} {
		err := c.UnmarshalBinary(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	// A file that is not a checkpoint at all.
	path := filepath.Join(t.TempDir(), "x")
	os.WriteFile(path, []byte("hello"), 0o644)
	if err := LoadCheckpoint(path, bnModel(1)); err == nil || !strings.Contains(err.Error(), "not a tensorquant checkpoint") {
		t.Errorf("LoadCheckpoint of junk: %v", err)
	}
}

// TestLoadCheckpointRefusesNonRegular: a named pipe, /dev/zero or a
// directory is refused before it is read, and a 1 GiB file of another
// kind after its first bytes (main read every byte of each).
func TestLoadCheckpointRefusesNonRegular(t *testing.T) {
	m := bnModel(1)
	badfile.Refused(t, "not a tensorquant checkpoint (bad magic)", func(path string) error {
		return LoadCheckpoint(path, m)
	})
}
