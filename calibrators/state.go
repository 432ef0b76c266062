package calibrators

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/histogram"
	"github.com/tensorquant/tensorquant/tensor"
)

// The saved state of a calibrator (MarshalBinary) is, version 1:
//
//	"TQCAL" 0x01 kind             kind 'M' (Max) or 'H' (Histogram)
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
// varint is zig-zag (encoding/binary). Decoding checks every length
// against the bytes left before allocating, and every invariant a collected
// calibrator satisfies, so a hostile or truncated state gives an error.

const (
	stateMagic   = "TQCAL"
	stateVersion = 1
	maxRank      = 64
)

var errTruncated = errors.New("truncated")

// MarshalBinary saves the calibrator's complete state (format in state.go;
// restore with UnmarshalBinary or Unmarshal). It never fails.
func (m *Max) MarshalBinary() ([]byte, error) {
	b := append([]byte(stateMagic), stateVersion, 'M')
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
	b = append(b, flags)
	b = binary.AppendVarint(b, int64(m.numBits))
	b = binary.AppendUvarint(b, uint64(len(m.axis)))
	for _, a := range m.axis {
		b = binary.AppendVarint(b, int64(a))
	}
	if m.amax != nil {
		b = appendTensor(b, m.amax)
	}
	b = binary.AppendUvarint(b, uint64(len(m.amaxs)))
	for _, a := range m.amaxs {
		b = appendTensor(b, a)
	}
	return b, nil
}

// UnmarshalBinary replaces m's whole state, configuration included, with a
// saved one. It returns an error, leaving m unchanged, for a state that is
// truncated, of another kind or version, or inconsistent (an amax history of
// another shape than the amax).
func (m *Max) UnmarshalBinary(data []byte) error {
	r, err := openState(data, 'M')
	if err != nil {
		return err
	}
	var n Max
	flags := r.byte()
	if flags&^7 != 0 {
		return fmt.Errorf("calibrators: saved state: unknown max flags %#x", flags)
	}
	n.unsigned, n.track = flags&1 != 0, flags&2 != 0
	n.numBits = r.int()
	na := r.count(1)
	for range na {
		n.axis = append(n.axis, r.int())
	}
	if flags&4 != 0 {
		n.amax = r.tensor()
	}
	nh := r.count(1)
	for range nh {
		a := r.tensor()
		if r.err == nil && (n.amax == nil || !tensor.SameShape(a.Shape, n.amax.Shape)) {
			return fmt.Errorf("calibrators: saved state: amax history of shape %v for an amax of %v", a.Shape, n.amax)
		}
		n.amaxs = append(n.amaxs, a)
	}
	if err := r.finish(); err != nil {
		return err
	}
	if n.amax != nil {
		for _, a := range append([]*tensor.Tensor{n.amax}, n.amaxs...) {
			if err := validAmax(a); err != nil {
				return fmt.Errorf("calibrators: saved state: %w", err)
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
	b := append([]byte(stateMagic), stateVersion, 'H')
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
	b = append(b, flags)
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
	return b, nil
}

// UnmarshalBinary replaces c's whole state, options included, with a saved
// one. It returns an error, leaving c unchanged, for a state that is
// truncated, of another kind or version, or not one a collection could
// produce (see histogram.Restore).
func (c *Histogram) UnmarshalBinary(data []byte) error {
	r, err := openState(data, 'H')
	if err != nil {
		return err
	}
	flags := r.byte()
	if flags&^31 != 0 {
		return fmt.Errorf("calibrators: saved state: unknown histogram flags %#x", flags)
	}
	var s histogram.State
	s.Options.SkipZeros, s.Options.NumPy, s.Float32Edges = flags&2 != 0, flags&4 != 0, flags&16 != 0
	numBits := r.uint(fakequant.MaxNumBits)
	s.Options.NumBins = r.uint(histogram.MaxBins)
	s.NumBins = r.uint(histogram.MaxBins)
	if flags&8 != 0 {
		s.Counts = make([]int64, r.count(1))
		for i := range s.Counts {
			s.Counts[i] = int64(r.u64(math.MaxInt64))
		}
		size := 8
		if s.Float32Edges {
			size = 4
		}
		s.Edges = make([]float64, r.count(size))
		for i := range s.Edges {
			if s.Float32Edges {
				s.Edges[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(r.bytes(4))))
			} else {
				s.Edges[i] = math.Float64frombits(binary.LittleEndian.Uint64(r.bytes(8)))
			}
		}
	}
	if err := r.finish(); err != nil {
		return err
	}
	if numBits < 1 {
		return fmt.Errorf("calibrators: saved state: num_bits %d", numBits)
	}
	h, err := histogram.Restore(s)
	if err != nil {
		return fmt.Errorf("calibrators: saved state: %w", err)
	}
	c.numBits, c.unsigned, c.h = numBits, flags&1 != 0, h
	return nil
}

// Unmarshal restores a calibrator of either kind from MarshalBinary's
// output, for tools that merge saved states. Errors are those of the
// UnmarshalBinary methods, and an unknown kind.
func Unmarshal(data []byte) (Calibrator, error) {
	if len(data) < len(stateMagic)+2 {
		return nil, stateError(errTruncated)
	}
	var c Calibrator
	switch data[len(stateMagic)+1] {
	case 'M':
		c = &Max{}
	case 'H':
		c = &Histogram{}
	default:
		return nil, fmt.Errorf("calibrators: saved state of unknown kind %q", data[len(stateMagic)+1])
	}
	if err := c.UnmarshalBinary(data); err != nil {
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

func appendTensor(b []byte, t *tensor.Tensor) []byte {
	b = binary.AppendUvarint(b, uint64(len(t.Shape)))
	for _, d := range t.Shape {
		b = binary.AppendUvarint(b, uint64(d))
	}
	for _, v := range t.Data {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

// reader decodes a state; the first error sticks and later reads return
// zero values.
type reader struct {
	b   []byte
	err error
}

func openState(data []byte, kind byte) (*reader, error) {
	if len(data) < len(stateMagic)+2 || string(data[:len(stateMagic)]) != stateMagic {
		return nil, fmt.Errorf("calibrators: not a saved calibrator state")
	}
	if v := data[len(stateMagic)]; v != stateVersion {
		return nil, fmt.Errorf("calibrators: saved state version %d, want %d", v, stateVersion)
	}
	if k := data[len(stateMagic)+1]; k != kind {
		return nil, fmt.Errorf("calibrators: saved state of kind %q, want %q", k, kind)
	}
	return &reader{b: data[len(stateMagic)+2:]}, nil
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || len(r.b) < n {
		r.fail(errTruncated)
		return make([]byte, n)
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) byte() byte { return r.bytes(1)[0] }

// u64 reads a uvarint of at most limit.
func (r *reader) u64(limit uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errTruncated)
		return 0
	}
	r.b = r.b[n:]
	if v > limit {
		r.fail(fmt.Errorf("value %d above %d", v, limit))
		return 0
	}
	return v
}

// uint reads a uvarint of at most limit, which must fit an int32.
func (r *reader) uint(limit uint64) int { return int(r.u64(min(limit, math.MaxInt32))) }

// int reads a zig-zag varint that fits an int32.
func (r *reader) int() int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errTruncated)
		return 0
	}
	r.b = r.b[n:]
	if v < math.MinInt32 || v > math.MaxInt32 {
		r.fail(fmt.Errorf("value %d out of range", v))
		return 0
	}
	return int(v)
}

// count reads a length whose items take at least size bytes each, and
// fails unless that many bytes are left.
func (r *reader) count(size int) int {
	n := r.uint(uint64(len(r.b)))
	if r.err == nil && n > len(r.b)/size {
		r.fail(errTruncated)
		return 0
	}
	return n
}

func (r *reader) tensor() *tensor.Tensor {
	rank := r.uint(maxRank)
	shape := make([]int, rank)
	for i := range shape {
		shape[i] = r.uint(math.MaxInt32)
	}
	if r.err != nil {
		return nil
	}
	n, err := tensor.NumelOf(shape)
	if err != nil || n > len(r.b)/4 {
		r.fail(errTruncated)
		return nil
	}
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(r.bytes(4)))
	}
	return t
}

func (r *reader) finish() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d bytes after the end", len(r.b))
	}
	if r.err != nil {
		return stateError(r.err)
	}
	return nil
}
