package calibrators

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/fakequant"
)

// hostileHistogram returns the histograms the mse search must survive, on
// top of randomHistogram's: counts up to 2^50 (terms that overflow
// float32), ranges deep in the subnormals (squares that underflow) or up to
// 1e18, edges that are not a uniform grid, one bin per level, a single
// huge bin with a count of one everywhere else (candidates within rounding
// of each other).
func hostileHistogram(r *rand.Rand) (counts []int64, edges []float64) {
	counts, edges = randomHistogram(r)
	n := len(counts)
	switch r.IntN(11) {
	case 0: // huge counts
		for i := range counts {
			if r.IntN(3) == 0 {
				counts[i] = r.Int64N(1 << 50)
			}
		}
	case 1: // tiny range: squared differences below float32's normals
		w := math.Ldexp(1+r.Float64(), -70-r.IntN(60))
		for i := range edges {
			edges[i] = float64(float32(float64(i) * w))
		}
	case 2: // large range
		w := math.Pow(10, 10+7*r.Float64()) / float64(n)
		for i := range edges {
			edges[i] = float64(float32(float64(i) * w))
		}
	case 3: // irregular edges
		e := 0.0
		for i := range edges {
			edges[i] = float64(float32(e))
			e += r.Float64() * r.Float64()
		}
	case 4: // near ties
		for i := range counts {
			counts[i] = 1
		}
		counts[0] = 1 << 40
	case 5: // levels about as fine as the bins
		for i := range edges {
			edges[i] = float64(float32(float64(i) / 127))
		}
	case 6: // a narrow range far from 0 (NumPy's [min|x|, max|x|])
		base, w := math.Pow(10, 4*r.Float64()), math.Pow(10, -3-4*r.Float64())
		for i := range edges {
			edges[i] = float64(float32(base + float64(i)*w))
		}
	case 7: // consecutive float32 values far from 0: levels beyond 2^22
		base := math.Float32bits(float32(math.Ldexp(1, 5+r.IntN(15))))
		for i := range edges {
			edges[i] = float64(math.Float32frombits(base + uint32(i)))
		}
	}
	return counts, edges
}

func randomMSEFormat(r *rand.Rand) fakequant.Format {
	f := fakequant.Format{NumBits: []int{2, 3, 4, 5, 8, 12, 16, 24, 32}[r.IntN(9)], Unsigned: r.IntN(3) == 0, NarrowRange: true}
	return f
}

// TestMSEObjective checks the fused evaluator against the plain reference
// (mseExact) bit for bit, over every length to 300 and a few long ones
// (torch's cascade of levels), sparse counts (skipped rows) and amax from
// zero up.
func TestMSEObjective(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	lengths := []int{}
	for n := 1; n <= 300; n++ {
		lengths = append(lengths, n)
	}
	lengths = append(lengths, 1000, 4097, 70000, 140000)
	for _, n := range lengths {
		centers, cnt := make([]float32, n), make([]float32, n)
		w := float32(0.001 + r.Float64())
		for k := range centers {
			centers[k] = float32(k) * w
			if r.IntN(4) != 0 && (n < 1000 || r.IntN(50) == 0) {
				cnt[k] = float32(r.IntN(1 << uint(1+r.IntN(30))))
			}
		}
		f := randomMSEFormat(r)
		o := newMSEObjective(centers, cnt, f, true)
		buf := make([]float32, 2*n)
		for _, a := range []float32{0, 0x1p-24, centers[n-1], centers[r.IntN(n)], centers[n-1] * 2} {
			got, want := o.at(a), mseExact(centers, cnt, a, f, buf)
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("%d bins %v amax %v: %v, want %v", n, f, a, got, want)
			}
		}
	}
}

// TestMSEBounds checks that the ranking's interval holds the reference's
// objective for every candidate of many histograms, hostile ones
// included, and that the clipping part alone stays below it.
func TestMSEBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	for trial := range 640 {
		counts, edges := hostileHistogram(r)
		if trial >= 600 {
			// One counted bin among consecutive float32 values far from
			// 0: with more than 24 bits, levels beyond float32's integers.
			counts, edges = make([]int64, 50), make([]float64, 51)
			base := math.Float32bits(float32(math.Ldexp(1, trial%20)))
			for i := range edges {
				edges[i] = float64(math.Float32frombits(base + uint32(i)))
			}
			counts[r.IntN(50)] = 3
		}
		centers, cnt, _ := mseCenters(counts, edges, 0)
		if !mseModelled(centers) {
			continue
		}
		f := randomMSEFormat(r)
		if trial >= 600 {
			f.NumBits = 25 + trial%8
		}
		s := newMSESearch(centers, counts, f)
		buf := make([]float32, 2*len(centers))
		for _, a := range centers {
			want := float64(mseExact(centers, cnt, a, f, buf))
			lo, hi := s.bounds(s.objective(a))
			clo, _ := s.bounds(s.clipped(a))
			if !(lo <= want && want <= hi && clo <= want) {
				t.Fatalf("trial %d: %d bins %v amax %v: objective %v, bounds [%v, %v], clipped %v", trial, len(centers), f, a, want, lo, hi, clo)
			}
		}
	}
}

// TestMSEHostileMatchesBruteForce is TestMSEMatchesBruteForce over the
// hostile histograms and every bit width.
func TestMSEHostileMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(45, 46))
	for trial := range 1500 {
		counts, edges := hostileHistogram(r)
		f := randomMSEFormat(r)
		stride, start := 1+r.IntN(3), r.IntN(len(counts))
		got, err := mseAmax(counts, edges, f.NumBits, f.Unsigned, stride, start)
		if err != nil {
			t.Fatal(err)
		}
		if want := bruteMSE(counts, edges, f, stride, start); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("trial %d: %d bins %v stride %d start %d: got %v, want %v", trial, len(counts), f, stride, start, got, want)
		}
	}
}

// TestMSEHostileWork runs the search over histograms of 2^20 bins (2^16
// with -short; BenchmarkComputeAmax runs histogram.MaxBins) that cost a
// search with one pass over the bins per candidate quadratic time (3 s at
// 2^20 bins, 93 s at 4 Mi before the ranking stage): the work must stay
// within the limits, and the search must not fail.
func TestMSEHostileWork(t *testing.T) {
	n := 1 << 20
	if testing.Short() {
		n = 1 << 16
	}
	edges := make([]float64, n+1)
	for i := range edges {
		edges[i] = float64(float32(float64(i) * 5 / float64(n)))
	}
	centers, _, _ := mseCenters(make([]int64, n), edges, 0)
	gauss := func(c []int64) {
		s := float64(n) / 4
		for i := range c {
			c[i] = int64(1000 * math.Exp(-float64(i)*float64(i)/(2*s*s)))
		}
	}
	for _, tc := range []struct {
		name string
		bits int
		fill func([]int64)
		want float32 // 0: any amax
	}{
		// Every candidate has the same terms: the first wins.
		{"no counts", 8, func([]int64) {}, centers[128]},
		// Counts in two bins only.
		{"lowest bins", 8, func(c []int64) { c[0], c[1] = 5, 7 }, 0},
		// Mass in the lowest 1% of the bins.
		{"lowest 1%", 8, func(c []int64) {
			for i := range n / 100 {
				c[i] = int64(i%5 + 1)
			}
		}, 0},
		// Every candidate is within float32 rounding of the others.
		{"near ties", 8, func(c []int64) {
			for i := range c {
				c[i] = 1
			}
			c[0] = 1 << 40
		}, 0},
		{"gaussian", 8, gauss, 0},
		{"uniform", 8, func(c []int64) {
			for i := range c {
				c[i] = 3
			}
		}, 0},
		{"gaussian 4 bits", 4, gauss, 0},
	} {
		counts := make([]int64, n)
		tc.fill(counts)
		var w mseWork
		got, err := mseAmaxWork(counts, edges, tc.bits, false, 1, DefaultStartBin, &w)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tc.want != 0 && got != tc.want {
			t.Errorf("%s: amax %v, want %v", tc.name, got, tc.want)
		}
		if w.runs > MSERankLimit || w.exact > MSEExactLimit/n {
			t.Errorf("%s: %d runs, %d exact evaluations of %d bins", tc.name, w.runs, w.exact, n)
		}
		t.Logf("%s: amax %v, %d runs, %d exact evaluations", tc.name, got, w.runs, w.exact)
	}
}

// TestMSEUnorderedCenters: centers that a hostile state can give
// (decreasing edges) are searched candidate by candidate; a negative
// candidate or, unsigned, a negative center anywhere is the original's
// error, not a panic of the kernels.
func TestMSEUnorderedCenters(t *testing.T) {
	counts := []int64{1, 2, 3, 4}
	edges := []float64{0, 1, 2, 1, -3}
	if _, err := mseAmax(counts, edges, 8, false, 1, 0); err == nil || !strings.Contains(err.Error(), "is negative") {
		t.Errorf("negative later candidate: %v", err)
	}
	if _, err := mseAmax(counts, edges, 8, true, 1, 0); err == nil || !strings.Contains(err.Error(), "unsigned") {
		t.Errorf("unsigned with a negative center: %v", err)
	}
	// Decreasing but non-negative: the exact search, as brute force.
	edges = []float64{0, 1, 3, 2, 2.5}
	f := fakequant.Format{NumBits: 8, NarrowRange: true}
	got, err := mseAmax(counts, edges, 8, false, 1, 0)
	if want := bruteMSE(counts, edges, f, 1, 0); err != nil || got != want {
		t.Errorf("unordered centers: %v %v, want %v", got, err, want)
	}
}
