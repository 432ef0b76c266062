package histogram

import (
	"math"
	"testing"
)

// TestSubnormalRange pins the case the fuzzer found: one value of 48*2^-149
// over 69 bins. torch's linspace rounds the step to 1*2^-149; its lower
// half counts up from 0 and its upper half counts down from the end, so the
// edges step back where the halves meet (index 40 starts the block of
// eight whose base comes from the end: 48-29 = 19 steps). The histogram
// reproduces that, and its state saves and restores.
func TestSubnormalRange(t *testing.T) {
	tiny := float32(math.Float32frombits(48))
	h, err := New(Options{NumBins: 69})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Collect([]float32{tiny}); err != nil {
		t.Fatal(err)
	}
	e := h.Edges()
	unit := float64(math.Float32frombits(1))
	for i, want := range map[int]float64{0: 0, 39: 39, 40: 19, 47: 26, 69: 48} {
		if e[i] != want*unit {
			t.Errorf("edge %d = %v, want %v*2^-149", i, e[i], want)
		}
	}
	if _, err := Restore(h.State()); err != nil {
		t.Fatalf("state of a collected histogram rejected: %v", err)
	}
	s := h.State()
	s.Edges[len(s.Edges)-1] = 1 // a normal range must be ordered
	if _, err := Restore(s); err == nil {
		t.Fatal("unordered edges over a normal range accepted")
	}
}
