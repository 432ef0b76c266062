package calibrators

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/histogram"
	"github.com/tensorquant/tensorquant/internal/tqfile"
	"github.com/tensorquant/tensorquant/tensor"
)

// The saved state of a calibrator (MarshalBinary) is a file of the
// tqfile.CalibratorState format (magic "TQCAL\x00\x1a\n", version 2, the
// length, the body, CRC-32C; see internal/tqfile) whose body is one
// section, tagged with the kind, 'M' (Max) or 'H' (Histogram):
//
//	Max:       flags (1 unsigned, 2 track_amax, 4 has amax)
//	           varint num_bits, uvarint len(axis), varint axis...
//	           [tensor amax], uvarint len(amaxs), tensor amaxs...
//	Histogram: flags (1 unsigned, 2 skip_zeros, 4 numpy path, 8 has data,
//	           16 float32 edges)
//	           uvarint num_bits, uvarint num_bins (options),
//	           uvarint num_bins (attribute)
//	           [uvarint len(counts), uvarint counts...,
//	            uvarint len(edges), edges as little-endian float32 or float64]
//	tensor:    uvarint rank, uvarint dims..., little-endian float32 data
//
// varint is zig-zag (encoding/binary). Decoding checks the frame (any
// changed bit fails the checksum), every length against the bytes left
// before allocating, and every invariant a collected calibrator satisfies,
// so a hostile, corrupt or truncated state gives an error. Version 1 (no
// checksum) is refused with a message saying so.

const maxRank = 64

// MarshalBinary saves the calibrator's complete state (format in state.go;
// restore with UnmarshalBinary or Unmarshal). It never fails.
func (m *Max) MarshalBinary() ([]byte, error) {
	var flags byte
	if m.unsigned {
		flags |= 1
	}
	if m.track {
		flags |= 2
	}
	if m.amax != nil {
		flags |= 4
	}
	b := []byte{flags}
	b = binary.AppendVarint(b, int64(m.numBits))
	b = binary.AppendUvarint(b, uint64(len(m.axis)))
	for _, a := range m.axis {
		b = binary.AppendVarint(b, int64(a))
	}
	if m.amax != nil {
		b = tqfile.AppendTensor(b, m.amax)
	}
	b = binary.AppendUvarint(b, uint64(len(m.amaxs)))
	for _, a := range m.amaxs {
		b = tqfile.AppendTensor(b, a)
	}
	return frameState(kindMax, b), nil
}

// UnmarshalBinary replaces m's whole state, configuration included, with a
// saved one. It returns an error, leaving m unchanged, for a state that is
// truncated or corrupt (any changed bit), of another kind or of another
// version (version 1, from an older tensorquant, is refused with a message
// saying so), or inconsistent (an amax history of another shape than the
// amax).
func (m *Max) UnmarshalBinary(data []byte) error {
	r, err := openState(data, kindMax)
	if err != nil {
		return err
	}
	return m.decode(r.Decoder)
}

func (m *Max) decode(r *tqfile.Decoder) error {
	var n Max
	flags := r.Byte()
	if r.Err() == nil && flags&^7 != 0 {
		return stateError(fmt.Errorf("unknown max flags %#x", flags))
	}
	n.unsigned, n.track = flags&1 != 0, flags&2 != 0
	n.numBits = r.Varint()
	na := r.Count(1)
	for range na {
		n.axis = append(n.axis, r.Varint())
	}
	if flags&4 != 0 {
		n.amax = r.Tensor(maxRank)
	}
	nh := r.Count(1)
	for range nh {
		a := r.Tensor(maxRank)
		if r.Err() == nil && (n.amax == nil || !tensor.SameShape(a.Shape, n.amax.Shape)) {
			return stateError(fmt.Errorf("amax history of shape %v for an amax of %v", a.Shape, n.amax))
		}
		n.amaxs = append(n.amaxs, a)
	}
	if err := finish(r); err != nil {
		return err
	}
	if n.amax != nil {
		for _, a := range append([]*tensor.Tensor{n.amax}, n.amaxs...) {
			if err := validAmax(a); err != nil {
				return stateError(err)
			}
		}
	}
	*m = n
	return nil
}

// MarshalBinary saves the calibrator's complete state (format in state.go;
// restore with UnmarshalBinary or Unmarshal). It never fails.
func (c *Histogram) MarshalBinary() ([]byte, error) {
	s := c.h.State()
	var flags byte
	if c.unsigned {
		flags |= 1
	}
	if s.Options.SkipZeros {
		flags |= 2
	}
	if s.Options.NumPy {
		flags |= 4
	}
	if s.Counts != nil {
		flags |= 8
	}
	if s.Float32Edges {
		flags |= 16
	}
	b := []byte{flags}
	b = binary.AppendUvarint(b, uint64(c.numBits))
	b = binary.AppendUvarint(b, uint64(s.Options.NumBins))
	b = binary.AppendUvarint(b, uint64(s.NumBins))
	if s.Counts != nil {
		b = binary.AppendUvarint(b, uint64(len(s.Counts)))
		for _, v := range s.Counts {
			b = binary.AppendUvarint(b, uint64(v))
		}
		b = binary.AppendUvarint(b, uint64(len(s.Edges)))
		for _, e := range s.Edges {
			if s.Float32Edges {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(e)))
			} else {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(e))
			}
		}
	}
	return frameState(kindHistogram, b), nil
}

// UnmarshalBinary replaces c's whole state, options included, with a saved
// one. It returns an error, leaving c unchanged, for a state that is
// truncated or corrupt (any changed bit), of another kind or of another
// version, or not one a collection could produce (see histogram.Restore).
func (c *Histogram) UnmarshalBinary(data []byte) error {
	r, err := openState(data, kindHistogram)
	if err != nil {
		return err
	}
	return c.decode(r.Decoder)
}

func (c *Histogram) decode(r *tqfile.Decoder) error {
	flags := r.Byte()
	if r.Err() == nil && flags&^31 != 0 {
		return stateError(fmt.Errorf("unknown histogram flags %#x", flags))
	}
	var s histogram.State
	s.Options.SkipZeros, s.Options.NumPy, s.Float32Edges = flags&2 != 0, flags&4 != 0, flags&16 != 0
	numBits := r.Int(fakequant.MaxNumBits)
	s.Options.NumBins = r.Int(histogram.MaxBins)
	s.NumBins = r.Int(histogram.MaxBins)
	if flags&8 != 0 {
		s.Counts = make([]int64, r.Count(1))
		for i := range s.Counts {
			s.Counts[i] = int64(r.Uvarint(math.MaxInt64))
		}
		size := 8
		if s.Float32Edges {
			size = 4
		}
		s.Edges = make([]float64, r.Count(size))
		for i := range s.Edges {
			if s.Float32Edges {
				s.Edges[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(r.Bytes(4))))
			} else {
				s.Edges[i] = math.Float64frombits(binary.LittleEndian.Uint64(r.Bytes(8)))
			}
		}
	}
	if err := finish(r); err != nil {
		return err
	}
	// The formats NewHistogram accepts: a signed 1-bit format has no
	// level but 0, and its entropy and mse amax would be undefined.
	if err := (fakequant.Format{NumBits: numBits, Unsigned: flags&1 != 0}).Validate(); err != nil {
		return stateError(err)
	}
	h, err := histogram.Restore(s)
	if err != nil {
		return stateError(err)
	}
	c.numBits, c.unsigned, c.h = numBits, flags&1 != 0, h
	return nil
}

// The kinds of calibrator, the tag of a state's one section.
const (
	kindMax       = 'M'
	kindHistogram = 'H'
)

// Unmarshal restores a calibrator of either kind from MarshalBinary's
// output, for tools that merge saved states. Errors are those of the
// UnmarshalBinary methods.
func Unmarshal(data []byte) (Calibrator, error) {
	r, err := openState(data, 0)
	if err != nil {
		return nil, err
	}
	var c interface {
		Calibrator
		decode(*tqfile.Decoder) error
	} = &Histogram{}
	if r.kind == kindMax {
		c = &Max{}
	}
	if err := c.decode(r.Decoder); err != nil {
		return nil, err
	}
	return c, nil
}

// validAmax checks what every collected amax satisfies: elements >= 0 or
// NaN, at least one, and a single one squeezed to a 0-d tensor.
func validAmax(a *tensor.Tensor) error {
	if len(a.Data) == 0 || len(a.Data) == 1 && len(a.Shape) != 0 {
		return fmt.Errorf("amax of shape %v", a.Shape)
	}
	for i, v := range a.Data {
		if v < 0 {
			return fmt.Errorf("negative amax %v at flat index %d", v, i)
		}
	}
	return nil
}

func stateError(err error) error { return fmt.Errorf("calibrators: saved state: %w", err) }

// frameState returns the state file whose one section, tagged kind, holds
// content.
func frameState(kind byte, content []byte) []byte {
	b := tqfile.CalibratorState.Begin(make([]byte, 0, tqfile.Overhead+binary.MaxVarintLen64+1+len(content)))
	return tqfile.End(tqfile.AppendSection(b, kind, content), 0)
}

// section is the one section of a saved state.
type section struct {
	kind byte
	*tqfile.Decoder
}

// openState checks the frame of a saved state and returns its section,
// which must be of the given kind (either kind when want is 0).
func openState(data []byte, want byte) (section, error) {
	d, err := tqfile.CalibratorState.Open(data)
	if err != nil {
		return section{}, fmt.Errorf("calibrators: %w", err)
	}
	k, s := d.Next()
	d.Done()
	switch {
	case d.Err() != nil:
		return section{}, stateError(d.Err())
	case k != kindMax && k != kindHistogram:
		return section{}, stateError(fmt.Errorf("unknown kind %q", k))
	case want != 0 && k != want:
		return section{}, fmt.Errorf("calibrators: saved state of kind %q, want %q", k, want)
	}
	return section{k, s}, nil
}

// finish checks that the whole section was read.
func finish(r *tqfile.Decoder) error {
	r.Done()
	if err := r.Err(); err != nil {
		return stateError(err)
	}
	return nil
}
