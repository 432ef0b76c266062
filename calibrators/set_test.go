package calibrators

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/histogram"
	"github.com/tensorquant/tensorquant/internal/testkit/badfile"
	"github.com/tensorquant/tensorquant/tensor"
)

// smallSet returns a set of 256 bins that saw a few batches.
func smallSet(t *testing.T, r *rand.Rand) *Set {
	t.Helper()
	s, err := NewSet(HistogramOptions{NumBins: 256})
	if err != nil {
		t.Fatal(err)
	}
	wide := randomBatch(r, 500, 1)
	wide.Data[0] = 6
	for _, x := range append(make([]*tensor.Tensor, 0, 3), wide, randomBatch(r, 500, 1), randomBatch(r, 500, 2)) {
		if err := s.Collect(x); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestSetRoundTripAndMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	seed := smallSet(t, r)
	one := smallSet(t, rand.New(rand.NewPCG(7, 8)))
	shards := []*Set{seed.Fork(), seed.Fork()}
	for i := range 6 {
		x := randomBatch(r, 300, 1)
		if err := one.Collect(x); err != nil {
			t.Fatal(err)
		}
		if err := shards[i%2].Collect(x); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	var paths []string
	for i, s := range append([]*Set{seed}, shards...) {
		p := filepath.Join(dir, string(rune('a'+i))+".tqcal")
		if err := s.Save(p); err != nil {
			t.Fatal(err)
		}
		back, err := LoadSet(p)
		if err != nil {
			t.Fatal(err)
		}
		b1, _ := s.MarshalBinary()
		b2, _ := back.MarshalBinary()
		if !bytes.Equal(b1, b2) {
			t.Fatalf("set %d does not round-trip", i)
		}
		paths = append(paths, p)
	}
	merged, err := MergeFiles(paths...)
	if err != nil {
		t.Fatal(err)
	}
	if merged.Values() != one.Values() || len(merged.Shards()) != 3 {
		t.Errorf("merged %d values from %d shards, want %d from 3", merged.Values(), len(merged.Shards()), one.Values())
	}
	for _, m := range []Method{"max", "entropy", "percentile", "mse"} {
		want, _ := one.Amax(m, AmaxOptions{})
		got, err := merged.Amax(m, AmaxOptions{})
		if err != nil || got.Data[0] != want.Data[0] {
			t.Errorf("%s: merged %v %v, one pass %v", m, got, err, want)
		}
	}
}

// TestSetEveryBitFlip: a saved set with any single bit changed is refused.
func TestSetEveryBitFlip(t *testing.T) {
	b, _ := smallSet(t, rand.New(rand.NewPCG(9, 10))).MarshalBinary()
	if len(b) < 1000 || len(b) > 10000 {
		t.Fatalf("a set of %d bytes", len(b))
	}
	var s Set
	for i := range 8 * len(b) {
		b[i/8] ^= 1 << (i % 8)
		if err := s.UnmarshalBinary(b); err == nil {
			t.Fatalf("bit %d of byte %d of %d flipped: accepted", i%8, i/8, len(b))
		}
		b[i/8] ^= 1 << (i % 8)
	}
	if err := s.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
}

// TestSetDuplicateShard: the same shard merged twice is refused, directly,
// inside a merged set, and between files (naming both).
func TestSetDuplicateShard(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	seed := smallSet(t, r)
	fork := seed.Fork()
	fork.Collect(randomBatch(r, 100, 1))
	if err := seed.Merge(seed); !errors.Is(err, ErrDuplicateShard) {
		t.Errorf("a set merged into itself: %v", err)
	}
	before, _ := seed.MarshalBinary()
	merged := *seed
	if err := merged.Merge(fork); err != nil {
		t.Fatal(err)
	}
	if err := merged.Merge(fork); !errors.Is(err, ErrDuplicateShard) {
		t.Errorf("a fork merged twice: %v", err)
	}
	if after, _ := seed.MarshalBinary(); !bytes.Equal(before, after) {
		t.Error("a merge changed the set merged into a copy of")
	}
	dir := t.TempDir()
	for name, s := range map[string]*Set{"seed": seed, "fork": fork, "merged": &merged} {
		if err := s.Save(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, files := range [][]string{{"seed", "fork", "fork"}, {"merged", "fork"}, {"fork", "merged"}} {
		var paths []string
		for _, f := range files {
			paths = append(paths, filepath.Join(dir, f))
		}
		_, err := MergeFiles(paths...)
		want := "calibrators: the same shard merged twice: " + paths[len(paths)-2] + " and " + paths[len(paths)-1] + " both hold shard "
		if !errors.Is(err, ErrDuplicateShard) || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%v: %v, want %s...", files, err, want)
		}
	}
}

// saturated returns a set that claims n values with a histogram of one
// torch-path bin of 2^24 (which only says "at least 2^24").
func saturated(t *testing.T, n int64) *Set {
	t.Helper()
	h, err := histogram.Restore(histogram.State{Options: histogram.Options{NumBins: 1}, NumBins: 1,
		Counts: []int64{1 << 24}, Edges: []float64{0, 1}, Float32Edges: true})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := NewSet(HistogramOptions{NumBins: 1})
	s.hist.h, s.values = h, n
	s.max.amax = tensor.Scalar(1)
	return s
}

// TestSetValues: the value counts add up with a bound instead of wrapping
// (main printed "values": -4611686018427387904 for three states of 2^62),
// and a saved count must agree with the histogram.
func TestSetValues(t *testing.T) {
	a, b, c := saturated(t, 1<<52), saturated(t, 1<<52), saturated(t, 1<<52)
	if err := a.Merge(b); err != nil || a.Values() != 1<<53 {
		t.Fatalf("2^52 + 2^52: %d %v", a.Values(), err)
	}
	if err := a.Merge(c); err == nil || err.Error() != "calibrators: merged calibration sets hold 9007199254740992 + 4503599627370496 values, more than 2^53" || a.Values() != 1<<53 {
		t.Errorf("2^53 + 2^52: %d %v", a.Values(), err)
	}
	ok := smallSet(t, rand.New(rand.NewPCG(13, 14)))
	skip, _ := NewSet(HistogramOptions{NumBins: 16, SkipZeros: true})
	skip.Collect(randomBatch(rand.New(rand.NewPCG(1, 2)), 100, 1))
	skip.Collect(tensor.Scalar(0))
	for _, tc := range []struct {
		set    *Set
		values int64
		want   string
	}{
		{ok, 1499, "calibrators: calibration set: 1499 values in a histogram that counts 1500"},
		{ok, 1501, "calibrators: calibration set: 1501 values in a histogram that counts 1500"},
		{ok, 0, "calibrators: calibration set: no values but a max calibrator with amax 7.091706"},
		{ok.Fork(), 5, "calibrators: calibration set: 5 values but a max calibrator without amax"},
		{ok, 1<<53 + 1, "calibrators: calibration set: value 9007199254740993 above 9007199254740992"},
		{skip, 99, "calibrators: calibration set: 99 values in a histogram that counts 100"},
		{skip, 101, ""}, // one zero skipped
		{skip, 1 << 40, ""},
		{saturated(t, 1<<24-1), 1<<24 - 1, "calibrators: calibration set: 16777215 values in a histogram that counts 16777216"},
		{saturated(t, 1<<24), 1 << 24, ""},
	} {
		s := *tc.set
		s.values = tc.values
		b, _ := s.MarshalBinary()
		var got Set
		err := got.UnmarshalBinary(b)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
			t.Errorf("%d values: %v, want %q", tc.values, err, tc.want)
		}
	}
}

func TestLoadSetRefusesNonRegular(t *testing.T) {
	badfile.Refused(t, "not a tensorquant calibration set (bad magic)", func(path string) error {
		_, err := LoadSet(path)
		return err
	})
	p := filepath.Join(t.TempDir(), "state")
	h, _ := NewHistogram(HistogramOptions{})
	b, _ := h.MarshalBinary()
	os.WriteFile(p, b, 0o644)
	if _, err := LoadSet(p); err == nil || err.Error() != p+": a tensorquant calibrator state, not a tensorquant calibration set" {
		t.Errorf("a calibrator state: %v", err)
	}
}
