package histogram

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestCollectErrorsLeaveStateUnchanged(t *testing.T) {
	for _, o := range []Options{{NumBins: 8}, {NumBins: 8, NumPy: true}} {
		h := mustNew(t, o)
		collect(t, h, []float32{1, -0.5})
		before := h.State()
		for _, bad := range []struct {
			x    []float32
			want string
		}{
			{nil, "empty"},
			{[]float32{1, nan}, "NaN at flat index 1"},
			{[]float32{-inf}, "-Inf at flat index 0"},
			{[]float32{1e30}, "bins"},
		} {
			err := h.Collect(bad.x)
			if err == nil || !strings.Contains(err.Error(), bad.want) {
				t.Errorf("%+v: Collect(%v) = %v, want an error with %q", o, bad.x, err, bad.want)
			}
			after := h.State()
			sameCounts(t, "after error", after.Counts, before.Counts)
			sameEdges(t, "after error", after.Edges, before.Edges, 0)
		}
	}
	// skip_zeros: an all-zero batch fails on both paths after the first
	// batch, and on the torch path also as the first batch.
	for _, numpy := range []bool{false, true} {
		h := mustNew(t, Options{NumBins: 4, NumPy: numpy, SkipZeros: true})
		err := h.Collect([]float32{0, 0})
		if numpy != (err == nil) {
			t.Errorf("numpy=%v first all-zero batch: %v", numpy, err)
		}
		if numpy {
			// np.histogram of an empty array: range (0, 1), no counts.
			sameCounts(t, "empty numpy batch", h.Counts(), []int64{0, 0, 0, 0})
			sameEdges(t, "empty numpy batch", h.Edges(), []float64{0, 0.25, 0.5, 0.75, 1}, 0)
		} else {
			collect(t, h, []float32{1})
		}
		if err := h.Collect([]float32{0}); err == nil {
			t.Errorf("numpy=%v: later all-zero batch accepted", numpy)
		}
	}
	// A zero first batch gives a zero width: growing fails as in the
	// original (OverflowError).
	h := mustNew(t, Options{NumBins: 8})
	collect(t, h, []float32{0, 0})
	collect(t, h, []float32{0})
	if err := h.Collect([]float32{1}); err == nil {
		t.Error("grew from a zero width")
	}
	if _, err := New(Options{NumBins: 0}); err == nil {
		t.Error("New accepted 0 bins")
	}
	if _, err := New(Options{NumBins: MaxBins + 1}); err == nil {
		t.Error("New accepted too many bins")
	}
}

func TestResetCloneFork(t *testing.T) {
	h := mustNew(t, Options{NumBins: 4})
	collect(t, h, []float32{1, 2, 3})
	c := h.Clone()
	f := h.Fork()
	collect(t, h, []float32{0.1})
	sameCounts(t, "clone", c.Counts(), []int64{0, 1, 1, 1})
	sameCounts(t, "fork", f.Counts(), []int64{0, 0, 0, 0})
	sameEdges(t, "fork", f.Edges(), c.Edges(), 0)
	h.Reset()
	if h.HasData() || h.Counts() != nil || h.Edges() != nil || h.NumBins() != 4 {
		t.Fatalf("Reset: %+v", h.State())
	}
}

func TestRestore(t *testing.T) {
	good := func() State {
		h := mustNew(t, Options{NumBins: 4})
		collect(t, h, []float32{1, 2, 3})
		collect(t, h, []float32{5})
		return h.State()
	}
	s := good()
	h, err := Restore(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.State(); fmt.Sprint(got) != fmt.Sprint(s) {
		t.Fatalf("Restore(State()) = %+v, want %+v", got, s)
	}
	for name, mutate := range map[string]func(*State){
		"num_bins attr":   func(s *State) { s.NumBins = 0 },
		"options":         func(s *State) { s.Options.NumBins = -1 },
		"negative count":  func(s *State) { s.Counts[1] = -1 },
		"huge count":      func(s *State) { s.Counts[1] = 1 << 60 },
		"non-float count": func(s *State) { s.Counts[1] = 1<<24 + 1 },
		"NaN edge":        func(s *State) { s.Edges[2] = math.NaN() },
		"Inf edge":        func(s *State) { s.Edges[len(s.Edges)-1] = math.Inf(1) },
		"decreasing":      func(s *State) { s.Edges[2], s.Edges[3] = s.Edges[3], s.Edges[2] },
		"float64 edge":    func(s *State) { s.Edges[1] = 0.1 },
		"first edge":      func(s *State) { s.Edges[0] = -1 },
		"edges only":      func(s *State) { s.Counts = nil },
		"counts only":     func(s *State) { s.Edges = nil },
		"one edge":        func(s *State) { s.Edges = s.Edges[:1] },
		"too few edges":   func(s *State) { s.Edges = s.Edges[:len(s.Counts)-1] },
		"numpy lengths":   func(s *State) { s.Options.NumPy = true; s.Edges = append(s.Edges, 99) },
	} {
		s := good()
		mutate(&s)
		if _, err := Restore(s); err == nil {
			t.Errorf("%s: Restore accepted %+v", name, s)
		}
	}
}

func ExampleHistogram() {
	h, _ := New(Options{NumBins: 4})
	_ = h.Collect([]float32{0.5, -1, 2})
	fmt.Println(h.Counts(), h.Edges())
	_ = h.Collect([]float32{3}) // beyond the last edge: two more bins of width 0.5
	fmt.Println(h.Counts(), h.Edges())
	// Output:
	// [0 1 1 1] [0 0.5 1 1.5 2]
	// [0 1 1 1 0 1] [0 0.5 1 1.5 2 2.5 3]
}
