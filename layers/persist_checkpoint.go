package layers

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/tensorquant/tensorquant/internal/atomicfile"
	"github.com/tensorquant/tensorquant/internal/tqfile"
	"github.com/tensorquant/tensorquant/tensor"
)

const (
	ckptMaxRank = 8
	// The tags of a checkpoint's sections, one per entry.
	tagParam  = 'P'
	tagBuffer = 'B'
)

// Checkpoint is a model's parameters and buffers by hierarchical name, in
// the order of Walk (each layer's parameters, then its buffers), as
// PyTorch's state_dict.
//
// Its file format, version 2, is tensorquant's framing (integers
// little-endian, uvarints as encoding/binary):
//
//	magic    8 bytes  "TQCKPT\x00\x1a"
//	version  1 byte   2
//	length   uint64   number of bytes of the entries
//	entries, one section each, in order:
//	  tag      1 byte   'P' = parameter, 'B' = buffer (BatchNorm
//	                    statistics, a quantizer's amax: anything a Stateful
//	                    layer keeps)
//	  length   uvarint  number of bytes of the entry
//	  name     uvarint length, then the name (UTF-8, hierarchical)
//	  rank     uvarint  at most 8, then rank uvarint dimensions (< 2^31)
//	  data     float32 × product(dimensions)
//	crc      uint32   CRC-32C (Castagnoli) of every byte before it
//
// A reader rejects any other version: version 1 (a uint32 version and an
// entry count, fixed-width fields) with a message that says to save the
// model again; a later format (say with integer buffers) bumps it.
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
	size := tqfile.Overhead
	for _, e := range c.Entries {
		if e.Tensor != nil {
			size += len(e.Name) + 4*len(e.Tensor.Data) + 64
		}
	}
	b := tqfile.Checkpoint.Begin(make([]byte, 0, size))
	var entry []byte
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
		for _, d := range e.Tensor.Shape {
			if d > math.MaxInt32 {
				return nil, fmt.Errorf("layers: checkpoint: %q has dimension %d", e.Name, d)
			}
		}
		tag := byte(tagParam)
		if e.Buffer {
			tag = tagBuffer
		}
		entry = binary.AppendUvarint(entry[:0], uint64(len(e.Name)))
		entry = append(entry, e.Name...)
		entry = tqfile.AppendTensor(entry, e.Tensor)
		b = tqfile.AppendSection(b, tag, entry)
	}
	return tqfile.End(b, 0), nil
}

// UnmarshalBinary decodes a checkpoint written by MarshalBinary, replacing
// c's entries. It returns an error (never panics) for bytes that are not a
// whole checkpoint of this version (a wrong magic, a version from an older
// or newer tensorquant, any changed bit, a truncated or over-long file), a
// bad entry tag, name or rank, or a tensor larger than the bytes left; it
// never allocates more than the input could hold.
func (c *Checkpoint) UnmarshalBinary(data []byte) error {
	d, err := tqfile.Checkpoint.Open(data)
	if err != nil {
		return fmt.Errorf("layers: %w", err)
	}
	var entries []CheckpointEntry
	for i := 0; d.Len() > 0; i++ {
		tag, r := d.Next()
		if d.Err() == nil && tag != tagParam && tag != tagBuffer {
			return fmt.Errorf("layers: checkpoint entry %d: unknown tag %q", i, tag)
		}
		name := string(r.Bytes(r.Count(1)))
		if d.Err() == nil && (name == "" || len(name) > math.MaxUint16 || !utf8.ValidString(name)) {
			return fmt.Errorf("layers: checkpoint entry %d: bad name %q", i, name)
		}
		t := r.Tensor(ckptMaxRank)
		r.Done()
		if err := d.Err(); err != nil {
			return fmt.Errorf("layers: checkpoint entry %d %q: %w", i, name, err)
		}
		entries = append(entries, CheckpointEntry{Name: name, Buffer: tag == tagBuffer, Tensor: t})
	}
	c.Entries = entries
	return nil
}

// SaveCheckpoint writes the model's parameters and buffers (Capture) to
// path atomically: it writes a temporary file in the same directory, syncs
// it to disk and renames it over path, so a crash leaves either the old or
// the new file. path keeps its mode, a symbolic link is written through,
// and a path that is not a regular file (a device, a directory) is
// refused. It returns an error from Capture, MarshalBinary or the file
// system (naming path).
func SaveCheckpoint(path string, root Layer) error {
	c, err := Capture(root)
	if err != nil {
		return err
	}
	b, err := c.MarshalBinary()
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, b)
}

// LoadCheckpoint reads a checkpoint file and restores it into the model
// (Checkpoint.Restore: strict names and shapes; on error the model is left
// unchanged). It refuses what is not a regular file (a device such as
// /dev/zero, a pipe, a directory) and checks the header before it reads
// the rest, so a huge file of another kind costs nothing. It returns an
// error from the file system, UnmarshalBinary or Restore.
func LoadCheckpoint(path string, root Layer) error {
	b, err := tqfile.Checkpoint.ReadFile(path)
	if err != nil {
		return err
	}
	var c Checkpoint
	if err := c.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return c.Restore(root)
}
