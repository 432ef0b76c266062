package layers

import (
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	want := "5451434b5054001a" + "01000000" + "02000000" +
		"01" + "0600" + hex.EncodeToString([]byte("weight")) + "02" + "01000000" + "01000000" + "0000003f" +
		"01" + "0400" + hex.EncodeToString([]byte("bias")) + "01" + "01000000" + "000080bf"
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

// withCRC appends the checksum to a body, so that hostile contents get past
// the checksum to the parser.
func withCRC(body []byte) []byte {
	return binary.LittleEndian.AppendUint32(append([]byte{}, body...), crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
}

func TestCheckpointHostile(t *testing.T) {
	good := must(must(Capture(bnModel(1))).MarshalBinary())
	var c Checkpoint
	for n := range len(good) {
		if err := c.UnmarshalBinary(good[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", n)
		}
	}
	for i := range good {
		bad := append([]byte{}, good...)
		bad[i] ^= 0x10
		if err := c.UnmarshalBinary(bad); err == nil {
			t.Fatalf("byte %d flipped: no error", i)
		}
	}
	head := func(count uint32) []byte {
		b := []byte("TQCKPT\x00\x1a\x01\x00\x00\x00")
		return binary.LittleEndian.AppendUint32(b, count)
	}
	entry := func(kind byte, name string, dims ...uint32) []byte {
		b := []byte{kind}
		b = binary.LittleEndian.AppendUint16(b, uint16(len(name)))
		b = append(b, name...)
		b = append(b, byte(len(dims)))
		for _, d := range dims {
			b = binary.LittleEndian.AppendUint32(b, d)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"magic", withCRC([]byte("TQCKPT\x00\x1b\x01\x00\x00\x00\x00\x00\x00\x00")), "not a tensorquant checkpoint"},
		{"version", withCRC([]byte("TQCKPT\x00\x1a\x02\x00\x00\x00\x00\x00\x00\x00")), "checkpoint version 2"},
		{"count", withCRC(head(1 << 30)), "claims 1073741824 entries"},
		{"huge tensor", withCRC(append(append(head(1), entry(1, "w", 1<<31-1, 1<<31-1)...), make([]byte, 16)...)), "needs more bytes than the file has"},
		{"short data", withCRC(append(append(head(1), entry(1, "w", 3)...), make([]byte, 8)...)), `shape [3] needs 12 bytes, 8 left`},
		{"kind", withCRC(append(append(head(1), entry(3, "w", 1)...), make([]byte, 4)...)), "unknown kind 3"},
		{"rank", withCRC(append(append(head(1), entry(1, "w", 1, 1, 1, 1, 1, 1, 1, 1, 1)...), make([]byte, 4)...)), "bad rank 9"},
		{"name", withCRC(append(append(head(1), entry(1, "\xff", 1)...), make([]byte, 4)...)), "name is not UTF-8"},
		{"trailing", withCRC(append(append(head(1), entry(1, "w", 1)...), make([]byte, 5)...)), "1 bytes after the last entry"},
		{"dimension", withCRC(append(append(head(1), entry(1, "w", 1<<31)...), make([]byte, 4)...)), "dimension 2147483648"},
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
