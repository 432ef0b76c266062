package quantize

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/testkit/models"
	"github.com/tensorquant/tensorquant/tensor"
)

// growingData returns the cnn's 128 calibration samples with sample i
// scaled by 1 + i/32 (up to about 5x), so that the histograms grow past
// the first batch's range again and again.
func growingData(t *testing.T) (*Plan, *tensor.Tensor) {
	t.Helper()
	g, x, _ := loadPTQ(t, "cnn")
	p, err := Place(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	y := x.Clone()
	per := len(y.Data) / y.Shape[0]
	for i := range y.Shape[0] {
		for j := range per {
			y.Data[i*per+j] *= 1 + float32(i)/32
		}
	}
	return p, y
}

// sequential collects the batches one after the other into one
// calibration set per group, with a plain loop over RunObserved: the
// reference of what Calibrate must collect.
func sequential(t *testing.T, p *Plan, x *tensor.Tensor, batch int) []*calibrators.Set {
	t.Helper()
	sets := make([]*calibrators.Set, len(p.Groups))
	var watch []string
	for i, grp := range p.Groups {
		s, err := calibrators.NewSet(calibrators.HistogramOptions{Unsigned: grp.Unsigned})
		if err != nil {
			t.Fatal(err)
		}
		sets[i] = s
		watch = append(watch, grp.Value)
	}
	s, err := graph.NewSession(p.Graph(), graph.Options{Keep: watch})
	if err != nil {
		t.Fatal(err)
	}
	per := len(x.Data) / x.Shape[0]
	for lo := 0; lo < x.Shape[0]; lo += batch {
		hi := min(x.Shape[0], lo+batch)
		in, _ := graph.Floats(x.Data[lo*per:hi*per], append([]int{hi - lo}, x.Shape[1:]...)...)
		_, err := s.RunObserved(map[string]*graph.Tensor{p.Graph().Inputs[0].Name: in}, watch, func(name string, v *graph.Tensor) error {
			for i, grp := range p.Groups {
				if grp.Value == name {
					f, _ := v.AsFloat()
					if err := sets[i].Collect(f); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return sets
}

// sameSets returns a description of the first difference between the
// calibration sets of c and want (histogram counts and edges, every
// method's amax), or "".
func sameSets(c *Calibration, want []*calibrators.Set) string {
	for g, w := range want {
		got := c.sets[g]
		if !slices.Equal(got.Histogram().Counts(), w.Histogram().Counts()) || !slices.Equal(got.Histogram().Edges(), w.Histogram().Edges()) {
			return fmt.Sprintf("tensor %q: histograms differ (%d and %d bins)", c.plan.Groups[g].Value, got.Histogram().NumBins(), w.Histogram().NumBins())
		}
		for _, m := range []calibrators.Method{calibrators.MethodMax, calibrators.MethodEntropy, calibrators.MethodPercentile, calibrators.MethodMSE} {
			a, err1 := got.Amax(m, calibrators.AmaxOptions{})
			b, err2 := w.Amax(m, calibrators.AmaxOptions{})
			if err1 != nil || err2 != nil || a.Data[0] != b.Data[0] {
				return fmt.Sprintf("tensor %q: %s amax %v (%v), want %v (%v)", c.plan.Groups[g].Value, m, a, err1, b, err2)
			}
		}
		if got.Values() != w.Values() {
			return fmt.Sprintf("tensor %q: %d values, want %d", c.plan.Groups[g].Value, got.Values(), w.Values())
		}
	}
	return ""
}

// TestCalibrateWorkersExact calibrates data whose histograms keep
// growing with 1 to 5 workers and batch sizes that do and do not divide
// the data: every run collects exactly what the sequential loop does.
// Under an emulator (models.Emulated) with 1 and 3 workers.
func TestCalibrateWorkersExact(t *testing.T) {
	p, x := growingData(t)
	d := inputData(t, p.Graph(), x)
	for _, batch := range []int{8, 24} {
		want := sequential(t, p, x, batch)
		grew := false
		for _, s := range want {
			grew = grew || s.Histogram().NumBins() > calibrators.DefaultNumBins
		}
		if !grew {
			t.Fatalf("batch %d: no histogram grew; the test needs growth", batch)
		}
		for workers := 1; workers <= 5; workers++ {
			if models.Emulated() && workers != 1 && workers != 3 {
				continue
			}
			var calls []int
			c, err := p.Calibrate(d, CalibrateOptions{BatchSize: batch, Workers: workers, Progress: func(done, total int) { calls = append(calls, done*1000+total) }})
			if err != nil {
				t.Fatal(err)
			}
			if diff := sameSets(c, want); diff != "" {
				t.Errorf("batch %d, %d workers: %s", batch, workers, diff)
			}
			n := (x.Shape[0] + batch - 1) / batch
			if c.Batches() != n || len(calls) != n || calls[n-1] != n*1000+n {
				t.Errorf("batch %d, %d workers: %d batches, progress %v", batch, workers, c.Batches(), calls)
			}
		}
	}
}

// TestShardsMergeExact calibrates the data in shards, saves and restores
// each (MarshalBinary, Unmarshal) and merges them: with growth only in
// the last shard the merge equals the single run exactly and says so;
// when an earlier shard grew, Inexact says which tensor and shard.
func TestShardsMergeExact(t *testing.T) {
	p, grow := growingData(t)
	_, flat, _ := loadPTQ(t, "cnn")
	// Batch 0 as it is, the next 88 samples at a quarter of their size,
	// then the growing samples: growth in the last shard only.
	lastGrows := flat.Clone()
	per := len(flat.Data) / flat.Shape[0]
	for i := 8 * per; i < 96*per; i++ {
		lastGrows.Data[i] /= 4
	}
	copy(lastGrows.Data[96*per:], grow.Data[96*per:])
	for _, tc := range []struct {
		name  string
		x     *tensor.Tensor
		exact bool
	}{{"growth in the last shard", lastGrows, true}, {"growth in every shard", grow, false}} {
		want := sequential(t, p, tc.x, 8)
		if !slices.ContainsFunc(want, func(s *calibrators.Set) bool { return s.Histogram().NumBins() > calibrators.DefaultNumBins }) {
			t.Fatalf("%s: no histogram grew; the test needs growth", tc.name)
		}
		d := inputData(t, p.Graph(), tc.x)
		var parts []*Calibration
		for _, shard := range []int{2, 0, 3, 1} {
			c, err := p.Calibrate(d, CalibrateOptions{BatchSize: 8, Shard: shard, Shards: 4})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := c.Shards(); c.Complete() || !slices.Equal(got, []int{shard}) || c.Batches() != 4 {
				t.Fatalf("shard %d: shards %v, %d batches", shard, got, c.Batches())
			}
			b, _ := c.MarshalBinary()
			r, err := Unmarshal(p.Graph(), b)
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, r)
		}
		m, err := Merge(parts...)
		if err != nil {
			t.Fatal(err)
		}
		if !m.Complete() || m.Batches() != 16 {
			t.Errorf("%s: merged %d batches, complete %v", tc.name, m.Batches(), m.Complete())
		}
		diff := sameSets(m, want)
		switch {
		case tc.exact && (diff != "" || len(m.Inexact()) > 0):
			t.Errorf("%s: merge differs from one run (%s), inexact %q", tc.name, diff, m.Inexact())
		case !tc.exact && len(m.Inexact()) == 0:
			t.Errorf("%s: the merge reports no inexactness (%s)", tc.name, diff)
		case !tc.exact && !strings.Contains(m.Inexact()[0], "grew its histogram"):
			t.Errorf("%s: inexact %q", tc.name, m.Inexact())
		}
		// Merged again from halves: the same.
		a, err := Merge(parts[1], parts[3])
		if err != nil {
			t.Fatal(err)
		}
		b, err := Merge(parts[0], parts[2])
		if err != nil {
			t.Fatal(err)
		}
		ab, err := Merge(b, a)
		if err != nil {
			t.Fatal(err)
		}
		if d := sameSets(ab, m.sets); d != "" || !slices.Equal(ab.Inexact(), m.Inexact()) {
			t.Errorf("%s: merging halves: %s, inexact %q vs %q", tc.name, d, ab.Inexact(), m.Inexact())
		}
		if _, err := Merge(parts[0], a, parts[1]); err == nil || !strings.Contains(err.Error(), "given twice") {
			t.Errorf("%s: a shard merged twice: %v", tc.name, err)
		}
	}
}

// TestStateRefused checks that a state is refused for another model,
// changed bits, truncation and another file kind, and that options and
// shards that cannot work are errors.
func TestStateRefused(t *testing.T) {
	g, x, _ := loadPTQ(t, "cnn")
	p, c := calibrate(t, g, x, Options{}, 64)
	b, _ := c.MarshalBinary()
	other, _, _ := loadPTQ(t, "mlp_attn")
	if _, err := Unmarshal(other, b); err == nil {
		t.Error("a cnn state restored on mlp_attn")
	}
	for i := 0; i < len(b); i += 97 {
		bad := slices.Clone(b)
		bad[i] ^= 4
		if _, err := Unmarshal(g, bad); err == nil {
			t.Errorf("bit flipped at %d: accepted", i)
		}
	}
	if _, err := Unmarshal(g, b[:len(b)-1]); err == nil {
		t.Error("truncated state accepted")
	}
	set, _ := calibrators.NewSet(calibrators.HistogramOptions{})
	sb, _ := set.MarshalBinary()
	if _, err := Unmarshal(g, sb); err == nil || !strings.Contains(err.Error(), "calibration set, not a tensorquant quantization state") {
		t.Errorf("a calibration set as state: %v", err)
	}
	for _, o := range []CalibrateOptions{{Shard: 4, Shards: 4}, {Shards: 3, BatchSize: 64}, {BatchSize: -1}, {Workers: -1}} {
		if _, err := p.Calibrate(inputData(t, g, x), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if _, err := Merge(); err == nil {
		t.Error("empty merge accepted")
	}
	stop := errors.New("no more data")
	if _, err := p.Calibrate(failingData{inputData(t, g, x), 64, stop}, CalibrateOptions{BatchSize: 32, Workers: 2}); !errors.Is(err, stop) {
		t.Errorf("a read error: %v", err)
	}
	nan := x.Clone()
	nan.Data[len(nan.Data)/2] = float32(math.NaN())
	if _, err := p.Calibrate(inputData(t, g, nan), CalibrateOptions{BatchSize: 32, Workers: 3}); err == nil || !strings.Contains(err.Error(), "batch 2 (samples 64 to 95)") {
		t.Errorf("a NaN in batch 2: %v", err)
	}
}

// failingData fails to read from sample from on.
type failingData struct {
	Data
	from int
	err  error
}

func (d failingData) Read(lo, hi int) (map[string]*graph.Tensor, error) {
	if hi > d.from {
		return nil, d.err
	}
	return d.Data.Read(lo, hi)
}
