package quantize

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/atomicfile"
	"github.com/tensorquant/tensorquant/internal/tqfile"
)

// The sections of a saved calibration, in this order.
const (
	stateOptions = 'O' // the plan's options, JSON
	stateModel   = 'F' // the model's fingerprint: 32 bytes of SHA-256
	stateData    = 'D' // uvarint samples, batch size, shards, batches; uvarint count, the shard indices
	stateGroups  = 'G' // uvarint count; per group: uvarint length, value name, flags byte (1 unsigned, 2 its histogram grew), uvarint length, the calibrators.Set
	stateInexact = 'X' // uvarint count; per reason: uvarint length, text
)

// fingerprint returns the SHA-256 of what makes g the model it is: its
// inputs, its nodes (names, op types, values, attributes) and its
// initializers (names, types, shapes, values).
func fingerprint(g *graph.Graph) [32]byte {
	h := sha256.New()
	str := func(s string) {
		_ = binary.Write(h, binary.LittleEndian, uint64(len(s)))
		_, _ = io.WriteString(h, s)
	}
	for _, in := range g.Inputs {
		str(in.Name)
		str(fmt.Sprint(in.DType, graph.ShapeString(in.Shape)))
	}
	for _, n := range g.Nodes {
		str(n.Name)
		str(n.Domain + "." + n.OpType)
		str(strings.Join(n.Inputs, "\x00") + "\x01" + strings.Join(n.Outputs, "\x00"))
		for _, a := range n.Attrs {
			str(fmt.Sprint(a.Name, a.Type, a.I, math.Float32bits(a.F), a.Ints, a.Floats, string(a.S)))
		}
	}
	names := make([]string, 0, len(g.Initializers))
	for k := range g.Initializers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		t := g.Initializers[k]
		str(k)
		str(fmt.Sprint(t.DType, t.Shape))
		for _, v := range [][]byte{f32bytes(t.F32), f64bytes(t.F64)} {
			h.Write(v)
		}
		_ = binary.Write(h, binary.LittleEndian, t.I64)
		_ = binary.Write(h, binary.LittleEndian, t.I32)
		_ = binary.Write(h, binary.LittleEndian, t.I8)
		h.Write(t.U8)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func f64bytes(v []float64) []byte {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}

// fingerprint returns the plan's model fingerprint, computed once.
func (p *Plan) fingerprint() [32]byte {
	p.fpOnce.Do(func() { p.fp = fingerprint(p.g) })
	return p.fp
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// MarshalBinary encodes the calibration as a quantization state file
// (tensorquant's framing, magic "TQQUANTS", version 1): the plan's
// options, the model's fingerprint, how the data was batched and
// sharded, and each group's calibration set. It never fails.
func (c *Calibration) MarshalBinary() ([]byte, error) {
	opts, _ := json.Marshal(c.plan.Options)
	fp := c.plan.fingerprint()
	data := binary.AppendUvarint(nil, uint64(c.samples))
	data = binary.AppendUvarint(data, uint64(c.batchSize))
	data = binary.AppendUvarint(data, uint64(c.numShards))
	data = binary.AppendUvarint(data, uint64(c.batches))
	data = binary.AppendUvarint(data, uint64(len(c.shards)))
	for _, s := range c.shards {
		data = binary.AppendUvarint(data, uint64(s))
	}
	groups := binary.AppendUvarint(nil, uint64(len(c.sets)))
	for g, s := range c.sets {
		groups = appendString(groups, c.plan.Groups[g].Value)
		var flags byte
		if c.plan.Groups[g].Unsigned {
			flags |= 1
		}
		if c.grew[g] {
			flags |= 2
		}
		groups = append(groups, flags)
		set, _ := s.MarshalBinary()
		groups = appendString(groups, string(set))
	}
	inexact := binary.AppendUvarint(nil, uint64(len(c.inexact)))
	for _, r := range c.inexact {
		inexact = appendString(inexact, r)
	}
	b := tqfile.QuantizationState.Begin(nil)
	b = tqfile.AppendSection(b, stateOptions, opts)
	b = tqfile.AppendSection(b, stateModel, fp[:])
	b = tqfile.AppendSection(b, stateData, data)
	b = tqfile.AppendSection(b, stateGroups, groups)
	b = tqfile.AppendSection(b, stateInexact, inexact)
	return tqfile.End(b, 0), nil
}

// WriteFile writes the calibration (MarshalBinary) to path atomically. It
// returns an error naming path for a target that is not a regular file
// and for any file-system error.
func (c *Calibration) WriteFile(path string) error {
	b, _ := c.MarshalBinary()
	return atomicfile.WriteBytes(path, b)
}

// Unmarshal restores a calibration of g that MarshalBinary encoded: it
// places the quantizers with the saved options (Place) and restores the
// calibration sets. It returns an error for bytes that are not a whole
// quantization state of this version (another file, an older format,
// any changed bit, a truncated file), for a state of another model (its
// fingerprint: other nodes, names or weights), for options Place refuses,
// and for contents no calibration could have produced (calibration sets
// that calibrators.Set refuses, other groups than the plan's, impossible
// counts).
func Unmarshal(g *graph.Graph, data []byte) (*Calibration, error) {
	d, err := tqfile.QuantizationState.Open(data)
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	opt := d.Section(stateOptions)
	optJSON := opt.Bytes(opt.Len())
	ms := d.Section(stateModel)
	fp := ms.Bytes(32)
	ms.Done()
	ds := d.Section(stateData)
	samples := ds.Int(math.MaxInt32)
	batchSize := ds.Int(math.MaxInt32)
	numShards := ds.Int(math.MaxInt32)
	batches := ds.Int(math.MaxInt32)
	shards := make([]int, ds.Count(1))
	for i := range shards {
		shards[i] = ds.Int(math.MaxInt32)
	}
	ds.Done()
	gs := d.Section(stateGroups)
	type group struct {
		value string
		flags byte
		set   []byte
	}
	groups := make([]group, gs.Count(3))
	for i := range groups {
		groups[i].value = string(gs.Bytes(gs.Count(1)))
		groups[i].flags = gs.Byte()
		groups[i].set = gs.Bytes(gs.Count(1))
	}
	gs.Done()
	xs := d.Section(stateInexact)
	inexact := make([]string, xs.Count(1))
	for i := range inexact {
		inexact[i] = string(xs.Bytes(xs.Count(1)))
	}
	xs.Done()
	d.Done()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("quantize: quantization state: %w", err)
	}
	var o Options
	dec := json.NewDecoder(strings.NewReader(string(optJSON)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&o); err != nil {
		return nil, fmt.Errorf("quantize: quantization state: options: %w", err)
	}
	p, err := Place(g, o)
	if err != nil {
		return nil, err
	}
	if want := p.fingerprint(); !slices.Equal(fp, want[:]) {
		return nil, fmt.Errorf("quantize: the quantization state is of another model (its nodes, names or weights differ)")
	}
	bad := func(format string, a ...any) (*Calibration, error) {
		return nil, fmt.Errorf("quantize: invalid quantization state: "+format, a...)
	}
	switch {
	case batchSize < 1 || samples < 1 || numShards < 1 || len(shards) == 0 || len(shards) > numShards:
		return bad("%d samples, batch size %d, %d of %d shards", samples, batchSize, len(shards), numShards)
	case numShards > (samples+batchSize-1)/batchSize || batches < 1 || batches > (samples+batchSize-1)/batchSize:
		return bad("%d batches, %d shards of %d samples in batches of %d", batches, numShards, samples, batchSize)
	case len(groups) != len(p.Groups):
		return bad("%d calibrated tensors, the plan has %d", len(groups), len(p.Groups))
	}
	for i, s := range shards {
		if s >= numShards || i > 0 && s <= shards[i-1] {
			return bad("shards %v of %d", shards, numShards)
		}
	}
	c := &Calibration{plan: p, samples: samples, batchSize: batchSize, shards: shards, numShards: numShards, batches: batches,
		grew: make([]bool, len(groups)), inexact: inexact, sets: make([]*calibrators.Set, len(groups))}
	for i, gr := range groups {
		want := p.Groups[i]
		unsigned := gr.flags&1 != 0
		if gr.value != want.Value || unsigned != want.Unsigned || gr.flags&^3 != 0 {
			return bad("tensor %d is %q (flags %d), the plan's is %q", i, gr.value, gr.flags, want.Value)
		}
		c.grew[i] = gr.flags&2 != 0
		var s calibrators.Set
		if err := s.UnmarshalBinary(gr.set); err != nil {
			return nil, fmt.Errorf("quantize: quantization state: tensor %q: %w", gr.value, err)
		}
		h := s.Histogram().Options()
		if h.NumBins != p.Options.NumBins || h.Unsigned != want.Unsigned || h.NumBits != 8 || h.SkipZeros || h.NumpyHist {
			return bad("tensor %q: a histogram of %+v", gr.value, h)
		}
		c.sets[i] = &s
	}
	return c, nil
}

// ReadFile reads a calibration of g that WriteFile (or tensorquant
// quantize -save) wrote; see Unmarshal. It refuses what is not a regular
// file and checks the header before it reads the rest. Errors name path.
func ReadFile(g *graph.Graph, path string) (*Calibration, error) {
	b, err := tqfile.QuantizationState.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Unmarshal(g, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Complete reports whether the calibration holds every shard of its data.
func (c *Calibration) Complete() bool { return len(c.shards) == c.numShards }

// Shards returns the indices of the shards the calibration holds and
// their total number.
func (c *Calibration) Shards() ([]int, int) { return slices.Clone(c.shards), c.numShards }

// Merge joins calibrations of disjoint shards of one data set, for one
// model and plan (their options, the model's fingerprint, the samples,
// batch size and number of shards must agree), in shard order, into one.
// A merge of every shard (Complete) equals the calibration one process
// collects over all the data, exactly, but where Inexact says otherwise:
// when a shard other than the last grew a group's histogram past the
// range of batch 0 (the later shards binned with batch 0's bins, so an
// element within a rounding error of a bin edge may fall in the
// neighbouring bin), or a merged bin counts 2^24 values or more (the
// float32 counts of the original's histogram round in another order).
//
// It returns an error for no calibration, calibrations that do not
// belong together, and a shard given twice.
func Merge(parts ...*Calibration) (*Calibration, error) {
	if len(parts) == 0 {
		return nil, errors.New("quantize: no calibration to merge")
	}
	parts = slices.Clone(parts)
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].shards[0] < parts[j].shards[0] })
	first := parts[0]
	fp := first.plan.fingerprint()
	opts, _ := json.Marshal(first.plan.Options)
	m := &Calibration{plan: first.plan, samples: first.samples, batchSize: first.batchSize, numShards: first.numShards,
		grew: make([]bool, len(first.sets)), sets: make([]*calibrators.Set, len(first.sets))}
	for i, c := range parts {
		o, _ := json.Marshal(c.plan.Options)
		switch {
		case c.plan.fingerprint() != fp:
			return nil, fmt.Errorf("quantize: merge: calibrations of different models")
		case string(o) != string(opts):
			return nil, fmt.Errorf("quantize: merge: calibrations with different options (%s and %s)", opts, o)
		case c.samples != first.samples || c.batchSize != first.batchSize || c.numShards != first.numShards:
			return nil, fmt.Errorf("quantize: merge: %d samples in batches of %d in %d shards, and %d in batches of %d in %d shards",
				first.samples, first.batchSize, first.numShards, c.samples, c.batchSize, c.numShards)
		}
		for _, s := range c.shards {
			if slices.Contains(m.shards, s) {
				return nil, fmt.Errorf("quantize: merge: shard %d of %d given twice", s, c.numShards)
			}
		}
		m.shards = append(m.shards, c.shards...)
		m.batches += c.batches
		m.inexact = append(m.inexact, c.inexact...)
		for g, s := range c.sets {
			if i == 0 {
				m.sets[g] = s.Fork()
			} else if m.grew[g] {
				m.inexact = append(m.inexact, fmt.Sprintf("%q: a shard grew its histogram past batch 0's range before the last shard", first.plan.Groups[g].Value))
			}
			if err := m.sets[g].Merge(s); err != nil {
				return nil, fmt.Errorf("quantize: merge: tensor %q: %w", first.plan.Groups[g].Value, err)
			}
			m.grew[g] = m.grew[g] || c.grew[g]
		}
	}
	sort.Ints(m.shards)
	for g, s := range m.sets {
		if slices.ContainsFunc(s.Histogram().Counts(), func(n int64) bool { return n >= 1<<24 }) && len(parts) > 1 {
			m.inexact = append(m.inexact, fmt.Sprintf("%q: a histogram bin counts 2^24 values or more", first.plan.Groups[g].Value))
		}
	}
	slices.Sort(m.inexact)
	m.inexact = slices.Compact(m.inexact)
	return m, nil
}
