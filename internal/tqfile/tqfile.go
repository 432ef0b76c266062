// Package tqfile is the one framing of every binary file tensorquant
// writes: checkpoints (layers), calibrator states and calibration sets
// (calibrators), quantization states (quantize). A file is
//
//	magic     8 bytes     one per format (Checkpoint, CalibratorState, CalibrationSet, QuantizationState)
//	version   1 byte      the format's version
//	length    uint64      number of body bytes (little-endian)
//	body      length bytes: sections
//	checksum  uint32      CRC-32C (Castagnoli) of every byte before it (little-endian)
//
// and its body is a sequence of sections, each
//
//	tag      1 byte       what the section holds (the format says)
//	length   uvarint      number of content bytes
//	content  length bytes
//
// so that a reader checks the magic before it reads anything else, knows
// the file's exact size from its first 17 bytes (ReadFile reads no more),
// rejects every single-bit change (the checksum covers the header too),
// and checks every length against the bytes that are really there.
//
// Writing is append-style, as protowire: Begin, AppendSection (or any
// Append* into a section's content), End. Reading: Open checks the frame
// and returns a Decoder over the body, whose first error sticks.
package tqfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/tensorquant/tensorquant/internal/readfile"
	"github.com/tensorquant/tensorquant/tensor"
)

// Format is one kind of file: its magic, its current version, and what to
// tell the user who has a file of an older version.
type Format struct {
	magic    string
	version  byte
	name     string
	recreate string
	// legacy is the start of files written by versions older than this
	// framing, which had another header.
	legacy string
}

// The formats, with their current versions. Version 1 of each predates
// this framing; a version 1 file is refused with a message that says how to
// write it again.
var (
	// Checkpoint is a model's parameters and buffers (layers.Checkpoint).
	Checkpoint = Format{"TQCKPT\x00\x1a", 2, "tensorquant checkpoint",
		"save the model again (layers.SaveCheckpoint; tensorquant demo writes tensorquant-demo.tqckpt)", ""}
	// CalibratorState is one calibrator (calibrators.Max or Histogram).
	CalibratorState = Format{"TQCAL\x00\x1a\n", 2, "tensorquant calibrator state",
		"collect the calibrator again and save it with MarshalBinary", "TQCAL\x01"}
	// CalibrationSet is what tensorquant calibrate -save writes
	// (calibrators.Set).
	CalibrationSet = Format{"TQCALSET", 2, "tensorquant calibration set",
		"run tensorquant calibrate -save (or -fork) again on the data", ""}
	// QuantizationState is a model's activation calibration (one
	// calibration set per quantized tensor) for one shard of the data or
	// several merged (quantize.Calibration; tensorquant quantize -save).
	QuantizationState = Format{"TQQUANTS", 1, "tensorquant quantization state",
		"run tensorquant quantize -save again on the data", ""}
)

var formats = []*Format{&Checkpoint, &CalibratorState, &CalibrationSet, &QuantizationState}

const (
	magicSize = 8
	// HeaderSize is the size of the magic, version and length.
	HeaderSize = magicSize + 1 + 8
	// Overhead is the size of a file with an empty body.
	Overhead = HeaderSize + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// String returns the format's name ("tensorquant checkpoint").
func (f Format) String() string { return f.name }

// Begin appends the header of a file of format f (with a zero length that
// End fills in) to b.
func (f Format) Begin(b []byte) []byte {
	b = append(b, f.magic...)
	b = append(b, f.version)
	return binary.LittleEndian.AppendUint64(b, 0)
}

// End completes the file that starts at b[start] (where Begin appended its
// header): it writes the body length into the header and appends the
// checksum.
func End(b []byte, start int) []byte {
	binary.LittleEndian.PutUint64(b[start+magicSize+1:], uint64(len(b)-start-HeaderSize))
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// AppendSection appends a section: tag, the length of content, content.
func AppendSection(b []byte, tag byte, content []byte) []byte {
	b = append(b, tag)
	b = binary.AppendUvarint(b, uint64(len(content)))
	return append(b, content...)
}

// AppendTensor appends t as: uvarint rank, uvarint dimensions, the data as
// little-endian float32. Decoder.Tensor reads it.
func AppendTensor(b []byte, t *tensor.Tensor) []byte {
	b = binary.AppendUvarint(b, uint64(len(t.Shape)))
	for _, d := range t.Shape {
		b = binary.AppendUvarint(b, uint64(d))
	}
	for _, v := range t.Data {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// checkHeader checks the first bytes of a file of format f whose size is
// size, and returns an error that says what the file is when it is not a
// whole file of format f: another format, a version from an older or newer
// tensorquant, a size other than the header says.
func (f Format) checkHeader(h []byte, size int64) error {
	if len(h) < magicSize || string(h[:magicSize]) != f.magic {
		if f.legacy != "" && len(h) >= len(f.legacy) && string(h[:len(f.legacy)]) == f.legacy {
			return f.older(1)
		}
		for _, o := range formats {
			if len(h) >= magicSize && string(h[:magicSize]) == o.magic {
				return fmt.Errorf("a %s, not a %s", o.name, f.name)
			}
		}
		return fmt.Errorf("not a %s (bad magic)", f.name)
	}
	if len(h) > magicSize {
		switch v := h[magicSize]; {
		case v < f.version:
			return f.older(v)
		case v > f.version:
			return fmt.Errorf("%s of format version %d, written by a newer tensorquant: this one reads version %d", f.name, v, f.version)
		}
	}
	if len(h) < HeaderSize {
		return fmt.Errorf("%s truncated to %d bytes", f.name, size)
	}
	length := binary.LittleEndian.Uint64(h[magicSize+1:])
	if length > math.MaxInt64-Overhead || int64(length)+Overhead != size {
		return fmt.Errorf("%s of %d bytes, its header says %d: the file is truncated or corrupt", f.name, size, uint64(Overhead)+length)
	}
	return nil
}

func (f Format) older(v byte) error {
	return fmt.Errorf("%s of format version %d, written by an older tensorquant (this one reads version %d): %s", f.name, v, f.version, f.recreate)
}

// Open checks that data is one whole file of format f (magic, version,
// length and checksum) and returns a Decoder over its body. The errors say
// what is wrong: another format, an older or newer version, a size other
// than the header says, a checksum mismatch.
func (f Format) Open(data []byte) (*Decoder, error) {
	if err := f.checkHeader(data[:min(len(data), HeaderSize)], int64(len(data))); err != nil {
		return nil, err
	}
	n := len(data) - 4
	if sum, got := binary.LittleEndian.Uint32(data[n:]), crc32.Checksum(data[:n], castagnoli); sum != got {
		return nil, fmt.Errorf("%s checksum %#08x, computed %#08x: the file is corrupt", f.name, sum, got)
	}
	return &Decoder{b: data[HeaderSize:n], err: new(error)}, nil
}

// ReadFile reads a file of format f: it refuses what is not a regular file
// and checks the header before it reads the rest (see package readfile), so
// that a huge or endless input of another kind costs nothing. The content
// still has to be checked with Open. Every error names path.
func (f Format) ReadFile(path string) ([]byte, error) {
	return readfile.Read(path, HeaderSize, func(h []byte, size int64) error {
		if err := f.checkHeader(h, size); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	})
}

// ErrTruncated is the error of a Decoder that ran out of bytes.
var ErrTruncated = errors.New("truncated")

// Decoder reads a body (Open returns one) or a section (Next and Section
// do). Its first error sticks (a section's Decoder shares it with its
// parent): once it has failed, reads return zero values, and Err reports
// the error.
type Decoder struct {
	b   []byte
	err *error
}

// Err returns the first error of the decoder (or of its parent or
// sections).
func (d *Decoder) Err() error { return *d.err }

// Fail records err unless an error is already recorded.
func (d *Decoder) Fail(err error) {
	if *d.err == nil {
		*d.err = err
	}
}

// Len returns the number of bytes not read yet.
func (d *Decoder) Len() int { return len(d.b) }

// Bytes returns the next n bytes (zeros after an error).
func (d *Decoder) Bytes(n int) []byte {
	if *d.err != nil || n < 0 || len(d.b) < n {
		d.Fail(ErrTruncated)
		return make([]byte, max(n, 0))
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

// Byte returns the next byte.
func (d *Decoder) Byte() byte { return d.Bytes(1)[0] }

// ErrNonMinimal is the error for a varint written with more bytes than
// its value needs (a trailing group of zeros): the encoder never writes
// one, so accepting it would give two files for one content.
var ErrNonMinimal = errors.New("varint not in its shortest form")

// minimal reports whether the n-byte varint at the start of b is in its
// shortest form: one byte, or a last byte that is not zero.
func minimal(b []byte, n int) bool { return n == 1 || b[n-1] != 0 }

// Uvarint reads a uvarint of at most limit, in its shortest form.
func (d *Decoder) Uvarint(limit uint64) uint64 {
	if *d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.Fail(ErrTruncated)
		return 0
	}
	if !minimal(d.b, n) {
		d.Fail(ErrNonMinimal)
		return 0
	}
	d.b = d.b[n:]
	if v > limit {
		d.Fail(fmt.Errorf("value %d above %d", v, limit))
		return 0
	}
	return v
}

// Int reads a uvarint of at most limit, which must fit an int32.
func (d *Decoder) Int(limit int) int { return int(d.Uvarint(uint64(min(limit, math.MaxInt32)))) }

// Varint reads a zig-zag varint that fits an int32, in its shortest form.
func (d *Decoder) Varint() int {
	if *d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.Fail(ErrTruncated)
		return 0
	}
	if !minimal(d.b, n) {
		d.Fail(ErrNonMinimal)
		return 0
	}
	d.b = d.b[n:]
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.Fail(fmt.Errorf("value %d out of range", v))
		return 0
	}
	return int(v)
}

// Count reads the length of a list whose items take at least size bytes
// each, and fails unless that many bytes are left: a count can never make
// the caller allocate more than the input holds.
func (d *Decoder) Count(size int) int {
	n := d.Int(len(d.b))
	if *d.err == nil && n > len(d.b)/size {
		d.Fail(ErrTruncated)
		return 0
	}
	return n
}

// Tensor reads what AppendTensor wrote, of rank at most maxRank; nil after
// an error.
func (d *Decoder) Tensor(maxRank int) *tensor.Tensor {
	rank := d.Int(maxRank)
	shape := make([]int, rank)
	for i := range shape {
		shape[i] = d.Int(math.MaxInt32)
	}
	if *d.err != nil {
		return nil
	}
	n, err := tensor.NumelOf(shape)
	if err != nil || n > len(d.b)/4 {
		d.Fail(fmt.Errorf("tensor of shape %v in %d bytes: %w", shape, len(d.b), ErrTruncated))
		return nil
	}
	t := tensor.New(shape...)
	raw := d.Bytes(4 * n)
	for i := range t.Data {
		t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return t
}

// Next reads the next section and returns its tag and a Decoder over its
// content (sharing d's error).
func (d *Decoder) Next() (tag byte, content *Decoder) {
	tag = d.Byte()
	n := d.Uvarint(math.MaxUint64)
	if *d.err == nil && n > uint64(len(d.b)) {
		d.Fail(fmt.Errorf("section %q of %d bytes, %d left: %w", tag, n, len(d.b), ErrTruncated))
	}
	return tag, &Decoder{b: d.Bytes(int(min(n, uint64(len(d.b))))), err: d.err}
}

// Section reads the next section, which must have the given tag, and
// returns a Decoder over its content.
func (d *Decoder) Section(tag byte) *Decoder {
	got, s := d.Next()
	if *d.err == nil && got != tag {
		d.Fail(fmt.Errorf("section %q where %q belongs", got, tag))
	}
	return s
}

// Done records an error unless every byte of d was read.
func (d *Decoder) Done() {
	if *d.err == nil && len(d.b) != 0 {
		d.Fail(fmt.Errorf("%d bytes after the end", len(d.b)))
	}
}
