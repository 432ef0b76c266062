package histogram

import (
	"math"
	"math/rand/v2"
	"testing"
)

func mustNew(t *testing.T, o Options) *Histogram {
	t.Helper()
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func collect(t *testing.T, h *Histogram, x []float32) {
	t.Helper()
	if err := h.Collect(x); err != nil {
		t.Fatal(err)
	}
}

func sameCounts(t *testing.T, what string, got, want []int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d counts, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: count[%d] = %d, want %d", what, i, got[i], want[i])
		}
	}
}

func sameEdges(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d edges, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol {
			t.Fatalf("%s: edge[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// shardRun collects batches in shards forked from seed and merges them back
// into a clone of seed, and collects the same batches, shard after shard,
// into another clone: the two must agree.
func shardRun(t *testing.T, r *rand.Rand, seed *Histogram, batches [][]float32) (merged, single *Histogram) {
	t.Helper()
	nShards := 1 + r.IntN(4)
	shards := make([]*Histogram, nShards)
	order := make([][]int, nShards)
	for s := range shards {
		shards[s] = seed.Fork()
	}
	for b := range batches {
		s := r.IntN(nShards)
		order[s] = append(order[s], b)
	}
	single = seed.Clone()
	for s, bs := range order {
		for _, b := range bs {
			collect(t, shards[s], batches[b])
			collect(t, single, batches[b])
		}
	}
	merged = seed.Clone()
	for _, s := range r.Perm(nShards) {
		if err := merged.Merge(shards[s]); err != nil {
			t.Fatal(err)
		}
	}
	return merged, single
}

// TestMergeWithinRange: shards that stay within the seed's range merge into
// exactly the single-pass histogram, on both paths, for any data.
func TestMergeWithinRange(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for trial := range 200 {
		o := Options{NumBins: 1 + r.IntN(300), NumPy: r.IntN(2) == 0, SkipZeros: r.IntN(3) == 0}
		seed := mustNew(t, o)
		amax := float32(0.1 + 10*r.Float64())
		first := []float32{amax, -amax / 3, 0, amax / 7}
		collect(t, seed, first)
		var batches [][]float32
		for range 1 + r.IntN(8) {
			x := make([]float32, 1+r.IntN(500))
			for i := range x {
				x[i] = float32(r.NormFloat64()) * amax / 3
				if r.IntN(50) == 0 {
					x[i] = 0
				}
				x[i] = max(min(x[i], amax), -amax)
			}
			x[0] = amax / 2 // never all zeros
			batches = append(batches, x)
		}
		merged, single := shardRun(t, r, seed, batches)
		sameCounts(t, "merged", merged.Counts(), single.Counts())
		sameEdges(t, "merged", merged.Edges(), single.Edges(), 0)
		if merged.NumBins() != single.NumBins() || merged.Float32Edges() != single.Float32Edges() {
			t.Fatalf("trial %d: num_bins %d/%d float32 %v/%v", trial, merged.NumBins(), single.NumBins(), merged.Float32Edges(), single.Float32Edges())
		}
	}
}

// TestMergeWithGrowth: shards that grow the range, by different amounts,
// with data at bin centers (so that no element is within a rounding error
// of an edge): the counts equal the single pass exactly; the edges exactly
// on the torch path; on the NumPy path they come from different growth
// histories (each np.arange starts at the last edge and steps by a width
// rounded there), which drift apart by a few float32 ulps per bin, far less
// than a bin.
func TestMergeWithGrowth(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for range 200 {
		o := Options{NumBins: 8 + r.IntN(200), NumPy: r.IntN(2) == 0, SkipZeros: r.IntN(3) == 0}
		seed := mustNew(t, o)
		amax := float32(0.1 + 10*r.Float64())
		collect(t, seed, []float32{amax, amax / 64})
		e := seed.Edges()
		w := e[1] - e[0]
		var batches [][]float32
		for range 1 + r.IntN(8) {
			top := o.NumBins + r.IntN(3*o.NumBins)
			x := make([]float32, 1+r.IntN(300))
			for i := range x {
				x[i] = float32(e[0] + (float64(r.IntN(top))+0.5)*w)
				if r.IntN(2) == 0 {
					x[i] = -x[i]
				}
				if r.IntN(40) == 0 {
					x[i] = 0
				}
			}
			x[0] = float32(e[0] + 0.5*w)
			batches = append(batches, x)
		}
		merged, single := shardRun(t, r, seed, batches)
		sameCounts(t, "merged", merged.Counts(), single.Counts())
		tol := 0.0
		if o.NumPy {
			tol = 0.05 * w
		}
		sameEdges(t, "merged", merged.Edges(), single.Edges(), tol)
	}
}

func TestMergeErrorsAndEmpty(t *testing.T) {
	a := mustNew(t, Options{NumBins: 16})
	b := mustNew(t, Options{NumBins: 16})
	if err := a.Merge(b); err != nil || a.HasData() {
		t.Fatalf("empty into empty: %v, data %v", err, a.HasData())
	}
	collect(t, b, []float32{1, 2})
	if err := a.Merge(b); err != nil || !a.HasData() {
		t.Fatalf("into empty: %v", err)
	}
	sameCounts(t, "into empty", a.Counts(), b.Counts())
	c := mustNew(t, Options{NumBins: 16})
	collect(t, c, []float32{3})
	before := a.State()
	if err := a.Merge(c); err == nil {
		t.Fatal("merged different grids")
	}
	sameCounts(t, "after a failed merge", a.Counts(), before.Counts)
	for _, o := range []Options{{NumBins: 16, NumPy: true}, {NumBins: 16, SkipZeros: true}} {
		d := mustNew(t, o)
		if err := a.Merge(d); err == nil {
			t.Fatalf("merged %+v into torch_hist", o)
		}
	}
}
