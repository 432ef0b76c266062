package layers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/tensorquant/tensorquant/tensor"
)

const (
	ckptMagic   = "TQCKPT\x00\x1a"
	ckptVersion = 1
	ckptMaxRank = 8
	kindParam   = 1
	kindBuffer  = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checkpoint is a model's parameters and buffers by hierarchical name, in
// the order of Walk (each layer's parameters, then its buffers), as
// PyTorch's state_dict.
//
// Its file format, version 1 (integers little-endian):
//
//	magic    8 bytes  "TQCKPT\x00\x1a"
//	version  uint32   1
//	count    uint32   number of entries
//	count entries:
//	  kind   uint8    1 = parameter, 2 = buffer (BatchNorm statistics, a
//	                  quantizer's amax: anything a Stateful layer keeps)
//	  nlen   uint16   name length, then the name (UTF-8, hierarchical)
//	  rank   uint8    at most 8, then rank × uint32 dimensions (< 2^31)
//	  data   float32 × product(dimensions)
//	crc      uint32   CRC-32C (Castagnoli) of every byte before it
//
// A reader rejects any other version, so a later format (say with integer
// buffers) bumps it.
type Checkpoint struct {
	Entries []CheckpointEntry
}

// CheckpointEntry is one named tensor of a Checkpoint. Buffer is false for
// a trainable parameter and true for a Stateful layer's buffer.
type CheckpointEntry struct {
	Name   string
	Buffer bool
	Tensor *tensor.Tensor
}

// Capture returns a copy of every parameter and buffer of the model. It
// returns an error if the walk fails (a badly named child).
func Capture(root Layer) (*Checkpoint, error) {
	c := &Checkpoint{}
	err := Walk(root, func(name string, l Layer) error {
		for _, p := range l.Params() {
			c.Entries = append(c.Entries, CheckpointEntry{Name: joinName(name, p.Name), Tensor: p.Value.Clone()})
		}
		if s, ok := l.(Stateful); ok {
			for _, b := range s.State() {
				if b.Tensor != nil {
					c.Entries = append(c.Entries, CheckpointEntry{Name: joinName(name, b.Name), Buffer: true, Tensor: b.Tensor.Clone()})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Restore loads the checkpoint into the model, strictly: every parameter and
// every set buffer of the model must be in the checkpoint with the same
// shape, and every entry must belong to the model. It returns an error
// naming the first mismatch, and then leaves the model as it was.
func (c *Checkpoint) Restore(root Layer) error {
	before, err := Capture(root)
	if err != nil {
		return err
	}
	if err := c.apply(root); err != nil {
		rerr := unsetNewBuffers(root, before)
		if rerr == nil {
			rerr = before.apply(root)
		}
		if rerr != nil {
			return errors.Join(err, fmt.Errorf("layers: restoring the model after a failed load: %w", rerr))
		}
		return err
	}
	return nil
}

// bufferUnsetter is implemented by Stateful layers whose buffers can be
// unset again (a quantizer whose loaded amax made it static becomes
// dynamic), so that a failed Restore can undo what it loaded.
type bufferUnsetter interface {
	unsetBuffer(name string)
}

// unsetNewBuffers unsets every buffer of the model that is set now but was
// not in before.
func unsetNewBuffers(root Layer, before *Checkpoint) error {
	had := map[string]bool{}
	for _, e := range before.Entries {
		had[e.Name] = true
	}
	return Walk(root, func(name string, l Layer) error {
		s, ok := l.(Stateful)
		u, canUnset := l.(bufferUnsetter)
		if !ok || !canUnset {
			return nil
		}
		for _, b := range s.State() {
			if b.Tensor != nil && !had[joinName(name, b.Name)] {
				u.unsetBuffer(b.Name)
			}
		}
		return nil
	})
}

func (c *Checkpoint) apply(root Layer) error {
	entries := map[string]CheckpointEntry{}
	for _, e := range c.Entries {
		if _, dup := entries[e.Name]; dup {
			return fmt.Errorf("layers: checkpoint: %q appears twice", e.Name)
		}
		if err := e.Tensor.Validate(); err != nil {
			return fmt.Errorf("layers: checkpoint: %q: %w", e.Name, err)
		}
		entries[e.Name] = e
	}
	consumed := map[string]bool{}
	var params []Param
	var values []*tensor.Tensor
	stateful := map[string]Stateful{}
	err := Walk(root, func(name string, l Layer) error {
		for _, p := range l.Params() {
			full := joinName(name, p.Name)
			e, ok := entries[full]
			if !ok || e.Buffer {
				return fmt.Errorf("layers: checkpoint has no parameter %q", full)
			}
			if !tensor.SameShape(e.Tensor.Shape, p.Value.Shape) {
				return fmt.Errorf("layers: checkpoint: parameter %q has shape %v, the model %v", full, e.Tensor.Shape, p.Value.Shape)
			}
			params, values = append(params, p), append(values, e.Tensor)
			consumed[full] = true
		}
		if s, ok := l.(Stateful); ok {
			stateful[name] = s
			for _, b := range s.State() {
				full := joinName(name, b.Name)
				if e, ok := entries[full]; b.Tensor != nil && (!ok || !e.Buffer) {
					return fmt.Errorf("layers: checkpoint has no buffer %q", full)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	type pending struct {
		owner       Stateful
		full, local string
		t           *tensor.Tensor
	}
	var bufs []pending
	for _, e := range c.Entries {
		if consumed[e.Name] {
			continue
		}
		if !e.Buffer {
			return fmt.Errorf("layers: checkpoint parameter %q is not in the model", e.Name)
		}
		owner, local := "", e.Name
		if i := strings.LastIndexByte(e.Name, '.'); i >= 0 {
			owner, local = e.Name[:i], e.Name[i+1:]
		}
		s, ok := stateful[owner]
		if !ok {
			return fmt.Errorf("layers: checkpoint buffer %q belongs to no layer of the model that keeps buffers", e.Name)
		}
		bufs = append(bufs, pending{s, e.Name, local, e.Tensor})
	}
	for i, p := range params {
		copy(p.Value.Data, values[i].Data)
	}
	for _, b := range bufs {
		if err := b.owner.SetState(b.local, b.t); err != nil {
			return fmt.Errorf("layers: checkpoint buffer %q: %w", b.full, err)
		}
	}
	return nil
}

// MarshalBinary encodes the checkpoint in the format described under
// Checkpoint. It returns an error for an entry with an invalid
// tensor, a rank above 8, a dimension above 2^31-1, or an empty, invalid
// UTF-8 or over-long (65535 bytes) name.
func (c *Checkpoint) MarshalBinary() ([]byte, error) {
	b := append([]byte(ckptMagic), 0, 0, 0, 0, 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(b[8:], ckptVersion)
	if uint64(len(c.Entries)) > math.MaxUint32 {
		return nil, fmt.Errorf("layers: checkpoint: %d entries", len(c.Entries))
	}
	binary.LittleEndian.PutUint32(b[12:], uint32(len(c.Entries)))
	for _, e := range c.Entries {
		if e.Name == "" || len(e.Name) > math.MaxUint16 || !utf8.ValidString(e.Name) {
			return nil, fmt.Errorf("layers: checkpoint: bad entry name %q", e.Name)
		}
		if err := e.Tensor.Validate(); err != nil {
			return nil, fmt.Errorf("layers: checkpoint: %q: %w", e.Name, err)
		}
		if len(e.Tensor.Shape) > ckptMaxRank {
			return nil, fmt.Errorf("layers: checkpoint: %q has rank %d, at most %d is supported", e.Name, len(e.Tensor.Shape), ckptMaxRank)
		}
		kind := byte(kindParam)
		if e.Buffer {
			kind = kindBuffer
		}
		b = append(b, kind)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(e.Name)))
		b = append(b, e.Name...)
		b = append(b, byte(len(e.Tensor.Shape)))
		for _, d := range e.Tensor.Shape {
			if d > math.MaxInt32 {
				return nil, fmt.Errorf("layers: checkpoint: %q has dimension %d", e.Name, d)
			}
			b = binary.LittleEndian.AppendUint32(b, uint32(d))
		}
		for _, v := range e.Tensor.Data {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// UnmarshalBinary decodes a checkpoint written by MarshalBinary, replacing
// c's entries. It returns an error (never panics) for a wrong magic, an
// unknown version, a checksum mismatch, a truncated or over-long file, a
// bad entry kind, name or rank, or a tensor larger than the bytes left;
// it never allocates more than the input could hold.
func (c *Checkpoint) UnmarshalBinary(data []byte) error {
	const head = len(ckptMagic) + 8
	if len(data) < head+4 || string(data[:len(ckptMagic)]) != ckptMagic {
		return fmt.Errorf("layers: not a tensorquant checkpoint (bad magic or %d bytes)", len(data))
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != ckptVersion {
		return fmt.Errorf("layers: checkpoint version %d, this build reads version %d", v, ckptVersion)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return fmt.Errorf("layers: checkpoint checksum %#08x, computed %#08x: the file is corrupt or truncated", sum, got)
	}
	count := binary.LittleEndian.Uint32(data[12:])
	r := body[head:]
	// The smallest entry is kind + name length + one name byte + rank (a
	// scalar still has one element: 4 bytes) = 9 bytes.
	if uint64(count) > uint64(len(r))/9 {
		return fmt.Errorf("layers: checkpoint claims %d entries in %d bytes", count, len(r))
	}
	entries := make([]CheckpointEntry, 0, count)
	for i := range count {
		if len(r) < 3 {
			return fmt.Errorf("layers: checkpoint entry %d: truncated", i)
		}
		kind, nlen := r[0], int(binary.LittleEndian.Uint16(r[1:]))
		r = r[3:]
		if kind != kindParam && kind != kindBuffer {
			return fmt.Errorf("layers: checkpoint entry %d: unknown kind %d", i, kind)
		}
		if nlen == 0 || len(r) < nlen+1 {
			return fmt.Errorf("layers: checkpoint entry %d: bad name length %d", i, nlen)
		}
		name := string(r[:nlen])
		if !utf8.ValidString(name) {
			return fmt.Errorf("layers: checkpoint entry %d: name is not UTF-8", i)
		}
		rank := int(r[nlen])
		r = r[nlen+1:]
		if rank > ckptMaxRank || len(r) < 4*rank {
			return fmt.Errorf("layers: checkpoint entry %q: bad rank %d", name, rank)
		}
		shape := make([]int, rank)
		n := uint64(1)
		for j := range shape {
			d := binary.LittleEndian.Uint32(r[4*j:])
			if d > math.MaxInt32 {
				return fmt.Errorf("layers: checkpoint entry %q: dimension %d", name, d)
			}
			shape[j] = int(d)
			n *= uint64(d)
			if n > uint64(len(r)) {
				return fmt.Errorf("layers: checkpoint entry %q: shape %v needs more bytes than the file has", name, shape[:j+1])
			}
		}
		r = r[4*rank:]
		if n*4 > uint64(len(r)) {
			return fmt.Errorf("layers: checkpoint entry %q: shape %v needs %d bytes, %d left", name, shape, n*4, len(r))
		}
		t := &tensor.Tensor{Shape: shape, Data: make([]float32, n)}
		for j := range t.Data {
			t.Data[j] = math.Float32frombits(binary.LittleEndian.Uint32(r[4*j:]))
		}
		r = r[4*n:]
		entries = append(entries, CheckpointEntry{Name: name, Buffer: kind == kindBuffer, Tensor: t})
	}
	if len(r) != 0 {
		return fmt.Errorf("layers: checkpoint: %d bytes after the last entry", len(r))
	}
	c.Entries = entries
	return nil
}

// SaveCheckpoint writes the model's parameters and buffers (Capture) to
// path atomically: it writes a temporary file in the same directory, syncs
// it to disk and renames it over path, so a crash leaves either the old or
// the new file. It returns an error from Capture, MarshalBinary or the file
// system.
func SaveCheckpoint(path string, root Layer) error {
	c, err := Capture(root)
	if err != nil {
		return err
	}
	b, err := c.MarshalBinary()
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

func writeFileAtomic(path string, b []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(b); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	// Make the rename itself durable.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// LoadCheckpoint reads a checkpoint file and restores it into the model
// (Checkpoint.Restore: strict names and shapes; on error the model is left
// unchanged). It returns an error from the file system, UnmarshalBinary or
// Restore.
func LoadCheckpoint(path string, root Layer) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var c Checkpoint
	if err := c.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return c.Restore(root)
}
