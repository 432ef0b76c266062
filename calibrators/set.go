package calibrators

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/tensorquant/tensorquant/internal/atomicfile"
	"github.com/tensorquant/tensorquant/internal/tqfile"
	"github.com/tensorquant/tensorquant/tensor"
)

// Set is a calibration set: a Histogram calibrator and a per-tensor Max
// calibrator fed the same batches, the number of values they saw, and the
// ids of the shards it holds. It is what tensorquant calibrate collects and
// saves (-save FILE, a .tqcal file) and what tensorquant merge joins; Save
// and LoadSet read and write the same files.
//
// Each set is made with a random shard id (NewSet, Fork); Merge unions the
// ids and refuses a shard that is already in the set, so that merging the
// same shard twice (which would count its values twice) is an error.
//
// A Set is not safe for concurrent use.
type Set struct {
	hist   *Histogram
	max    *Max
	values int64
	shards []uint64
}

// MaxSetValues is the most values a Set holds: the histogram's bound on its
// total count (2^53, where float64 sums stay exact).
const MaxSetValues = 1 << 53

// ErrDuplicateShard is wrapped by the error of a merge that would count a
// shard twice.
var ErrDuplicateShard = errors.New("calibrators: the same shard merged twice")

// NewSet returns an empty set whose histogram calibrator has options o
// (NewHistogram's errors) and whose max calibrator is per tensor, for the
// same format.
func NewSet(o HistogramOptions) (*Set, error) {
	h, err := NewHistogram(o)
	if err != nil {
		return nil, err
	}
	return &Set{hist: h, max: NewMax(h.numBits, nil, h.unsigned), shards: []uint64{newShardID()}}, nil
}

func newShardID() uint64 { return rand.Uint64() }

// Fork returns an empty set with s's options and histogram bins (see
// Histogram.Fork) and a new shard id: calibrate one shard into each fork
// of one seed, and Merge them into the seed.
func (s *Set) Fork() *Set {
	return &Set{hist: s.hist.Fork(), max: NewMax(s.max.numBits, nil, s.max.unsigned), shards: []uint64{newShardID()}}
}

// Collect adds one batch to both calibrators. It returns their errors (an
// empty or non-finite batch, a histogram that cannot grow), and an error
// when the set would hold more than MaxSetValues values; s is then
// unchanged.
func (s *Set) Collect(x *tensor.Tensor) error {
	if err := x.Validate(); err != nil {
		return fmt.Errorf("calibrators: %w", err)
	}
	if int64(len(x.Data)) > MaxSetValues-s.values {
		return fmt.Errorf("calibrators: a calibration set of more than 2^53 values")
	}
	// The histogram refuses what the max calibrator would (and more:
	// non-finite values), and leaves itself unchanged then.
	if err := s.hist.Collect(x); err != nil {
		return err
	}
	if err := s.max.Collect(x); err != nil {
		return err
	}
	s.values += int64(len(x.Data))
	return nil
}

// Values returns the number of values collected (merged sets: their sum).
func (s *Set) Values() int64 { return s.values }

// Shards returns the ids of the shards the set holds: its own, and those
// of every set merged into it.
func (s *Set) Shards() []uint64 { return slices.Clone(s.shards) }

// Histogram returns a copy of the set's histogram calibrator.
func (s *Set) Histogram() *Histogram { return s.hist.Clone() }

// Amax returns the amax of method: MethodMax from the max calibrator,
// MethodEntropy, MethodPercentile or MethodMSE from the histogram. Errors
// are those of Max.Amax and Histogram.ComputeAmax.
func (s *Set) Amax(method Method, o AmaxOptions) (*tensor.Tensor, error) {
	if method == MethodMax {
		return s.max.Amax(method, o)
	}
	return s.hist.ComputeAmax(method, o)
}

// Merge adds other's batches to s: the histograms merge (exactly when both
// were forked from one seed; see Histogram.Merge), the max calibrators
// take the element-wise max, the values add up and the shard ids join. It
// returns an error wrapping ErrDuplicateShard when a shard of other is
// already in s, an error when the values would pass MaxSetValues, and the
// calibrators' Merge errors (other options or bins); s is then unchanged.
func (s *Set) Merge(other *Set) error {
	for _, id := range other.shards {
		if slices.Contains(s.shards, id) {
			return fmt.Errorf("%w: shard %016x is in both sets", ErrDuplicateShard, id)
		}
	}
	if other.values > MaxSetValues-s.values {
		return fmt.Errorf("calibrators: merged calibration sets hold %d + %d values, more than 2^53", s.values, other.values)
	}
	h, m := s.hist.Clone(), s.max.clone()
	if err := h.Merge(other.hist); err != nil {
		return err
	}
	if err := m.Merge(other.max); err != nil {
		return err
	}
	s.hist, s.max, s.values = h, m, s.values+other.values
	s.shards = append(slices.Clip(s.shards), other.shards...)
	return nil
}

func (m *Max) clone() *Max {
	c := *m
	c.axis = slices.Clone(m.axis)
	if m.amax != nil {
		c.amax = m.amax.Clone()
	}
	c.amaxs = m.Amaxs()
	return &c
}

// The sections of a saved set, in this order.
const (
	setInfo      = 'I' // uvarint values, uvarint count, count shard ids (uint64, little-endian)
	setHistogram = 'H' // the histogram calibrator's state (MarshalBinary)
	setMax       = 'M' // the max calibrator's state
)

// MarshalBinary encodes the set: a file of the calibration set format
// (magic "TQCALSET", version 2, length, CRC-32C; see the package doc)
// whose body holds three sections: 'I' (uvarint values, uvarint number of
// shards, each shard id as a little-endian uint64), then 'H' and 'M', the
// states of the histogram and max calibrators (their MarshalBinary). It
// never fails.
func (s *Set) MarshalBinary() ([]byte, error) {
	info := binary.AppendUvarint(nil, uint64(s.values))
	info = binary.AppendUvarint(info, uint64(len(s.shards)))
	for _, id := range s.shards {
		info = binary.LittleEndian.AppendUint64(info, id)
	}
	hist, _ := s.hist.MarshalBinary()
	max, _ := s.max.MarshalBinary()
	b := tqfile.CalibrationSet.Begin(nil)
	b = tqfile.AppendSection(b, setInfo, info)
	b = tqfile.AppendSection(b, setHistogram, hist)
	b = tqfile.AppendSection(b, setMax, max)
	return tqfile.End(b, 0), nil
}

// UnmarshalBinary replaces s with a set that MarshalBinary encoded. It
// returns an error, leaving s unchanged, for bytes that are not a whole
// calibration set of this version (another file, a version from an older
// tensorquant, any changed bit, a truncated file), for calibrator states
// that UnmarshalBinary refuses, and for a set that no collection could
// produce: a max calibrator that is not per tensor or not for the
// histogram's format, no shard or a shard listed twice, and a value count
// that disagrees with the histogram's (above MaxSetValues, below the
// histogram's total, or, when every count is exact and zeros are kept,
// other than it).
func (s *Set) UnmarshalBinary(data []byte) error {
	d, err := tqfile.CalibrationSet.Open(data)
	if err != nil {
		return fmt.Errorf("calibrators: %w", err)
	}
	var n Set
	info := d.Section(setInfo)
	values := info.Uvarint(MaxSetValues)
	n.shards = make([]uint64, info.Count(8))
	for i := range n.shards {
		n.shards[i] = binary.LittleEndian.Uint64(info.Bytes(8))
	}
	info.Done()
	hist := d.Section(setHistogram)
	hb := hist.Bytes(hist.Len())
	max := d.Section(setMax)
	mb := max.Bytes(max.Len())
	d.Done()
	if err := d.Err(); err != nil {
		return fmt.Errorf("calibrators: calibration set: %w", err)
	}
	n.values = int64(values)
	n.hist, n.max = &Histogram{}, &Max{}
	if err := n.hist.UnmarshalBinary(hb); err != nil {
		return err
	}
	if err := n.max.UnmarshalBinary(mb); err != nil {
		return err
	}
	if err := n.check(); err != nil {
		return fmt.Errorf("calibrators: calibration set: %w", err)
	}
	*s = n
	return nil
}

// check checks the invariants of a set that collections and merges keep.
func (s *Set) check() error {
	m, h := s.max, s.hist
	if len(m.axis) != 0 || m.numBits != h.numBits || m.unsigned != h.unsigned {
		return fmt.Errorf("a max calibrator of num_bits %d axis %v unsigned %v with a histogram of num_bits %d unsigned %v",
			m.numBits, m.axis, m.unsigned, h.numBits, h.unsigned)
	}
	if m.amax != nil && len(m.amax.Shape) != 0 {
		return fmt.Errorf("a max calibrator with an amax of shape %v", m.amax.Shape)
	}
	if len(s.shards) == 0 {
		return fmt.Errorf("no shard id")
	}
	for i, id := range s.shards {
		if slices.Contains(s.shards[:i], id) {
			return fmt.Errorf("shard %016x listed twice", id)
		}
	}
	switch {
	case s.values == 0 && m.amax != nil:
		return fmt.Errorf("no values but a max calibrator with amax %v", m.amax.Data[0])
	case s.values != 0 && m.amax == nil:
		return fmt.Errorf("%d values but a max calibrator without amax", s.values)
	}
	return checkValues(s.values, h)
}

// checkValues checks a set's value count against its histogram. Every
// value is binned (but skipped zeros), so the count is at least the
// histogram's total and, with zeros kept, equal to it, as long as the
// counts are exact: on the torch path a count saturates at 2^24 per batch
// and is rounded to float32 above (as in the original), so a bin of 2^24
// or more only says that at least 2^24 values fell in it.
func checkValues(values int64, h *Histogram) error {
	o := h.h.Options()
	var total, atLeast int64
	exact := true
	for _, c := range h.h.Counts() {
		total += c
		if !o.NumPy && c >= torchCountExact {
			exact = false
			c = torchCountExact
		}
		atLeast += c
	}
	if values < atLeast || exact && !o.SkipZeros && values != total {
		return fmt.Errorf("%d values in a histogram that counts %d", values, total)
	}
	return nil
}

// torchCountExact is where the torch path's float32 counts stop being
// exact (see histogram.Histogram.Counts).
const torchCountExact = 1 << 24

// Save writes the set to path (MarshalBinary) atomically: a reader of path
// sees the old file or the new one, never a mix, and path keeps its mode
// (see LoadSet to read it). It returns an error that names path for a
// target that is not a regular file and for any file-system error.
func (s *Set) Save(path string) error {
	b, _ := s.MarshalBinary()
	return atomicfile.WriteBytes(path, b)
}

// LoadSet reads a set that Save (or tensorquant calibrate -save) wrote. It
// refuses what is not a regular file (a device, a pipe, a directory) and
// checks the file's header before it reads the rest, so a huge or endless
// input of another kind costs nothing. It returns errors that name path:
// those of the file system, and those of UnmarshalBinary.
func LoadSet(path string) (*Set, error) {
	b, err := tqfile.CalibrationSet.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Set
	if err := s.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

// MergeFiles loads the sets saved in paths (LoadSet) and merges them in
// order into the first. When two files hold the same shard (a file given
// twice, a copy, or a shard that is already in a merged file), it returns
// an error that names both files and wraps ErrDuplicateShard; other
// errors are those of LoadSet and Merge, prefixed with the file's path.
func MergeFiles(paths ...string) (*Set, error) {
	if len(paths) == 0 {
		return nil, errors.New("calibrators: no calibration set to merge")
	}
	var merged *Set
	from := map[uint64]string{}
	for _, path := range paths {
		s, err := LoadSet(path)
		if err != nil {
			return nil, err
		}
		for _, id := range s.shards {
			if first, dup := from[id]; dup {
				return nil, fmt.Errorf("%w: %s and %s both hold shard %016x (its values would count twice)", ErrDuplicateShard, first, path, id)
			}
			from[id] = path
		}
		if merged == nil {
			merged = s
			continue
		}
		if err := merged.Merge(s); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return merged, nil
}
