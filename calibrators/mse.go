package calibrators

import (
	"fmt"
	"math"
	"sort"

	"github.com/tensorquant/tensorquant/fakequant"
)

// mseAmax is the original's _compute_amax_mse: centers = (e[k+1]+e[k])/2 in
// float32; for each candidate i in start, start+stride, ... <
// len(centers), q = fake_tensor_quant(centers, centers[i]) with the
// function default narrow range; mse = mean((q-c)^2 * counts) in float32
// with torch's summation order. The result is the center of the first
// candidate with the smallest mse.
//
// The candidates are first ranked by a float64 estimate that costs one step
// per quantization level instead of one per bin: centers that round to the
// same level form a run, and sum(count*(c-v)^2) over a run comes from prefix
// sums of count, count*c and count*c^2. Every candidate within the
// estimate's error bound of the best is then computed exactly as the
// reference does (mseExact).
func mseAmax(counts []int64, edges []float64, numBits int, unsigned bool, stride, start int) (float32, error) {
	nc := len(edges) - 1
	if len(counts) != nc {
		return 0, fmt.Errorf("calibrators: mse over %d counts and %d bin centers (the original fails to broadcast them)", len(counts), nc)
	}
	if start >= nc {
		return 0, fmt.Errorf("calibrators: mse has no candidate: start_bin %d, %d bins (the original fails with an empty argmin)", start, nc)
	}
	centers := make([]float32, nc)
	cnt := make([]float32, nc)
	e0 := float32(edges[0])
	for k := range centers {
		e1 := float32(edges[k+1])
		centers[k] = (e1 + e0) / 2
		cnt[k] = float32(counts[k])
		e0 = e1
	}
	f := fakequant.Format{NumBits: numBits, Unsigned: unsigned, NarrowRange: true}
	if unsigned && centers[0] < 0 {
		return 0, fmt.Errorf("calibrators: mse of unsigned format: negative bin center %v (the original: negative values encountered in unsigned quantization)", centers[0])
	}
	if centers[start] < 0 {
		return 0, fmt.Errorf("calibrators: mse candidate amax %v is negative (the original: negative values in amax)", centers[start])
	}
	cands := (nc-start-1)/stride + 1
	buf := make([]float32, 2*nc)
	exact := func(c int) float32 { return mseExact(centers, cnt, centers[start+c*stride], f, buf) }
	if centers[0] < 0 || centers[nc-1] > 1e18 {
		// Outside what the estimate models (negative centers, squares that
		// overflow float32): compute every candidate exactly.
		choice, bestV := 0, exact(0)
		for c := 1; c < cands; c++ {
			if v := exact(c); v < bestV || v != v && bestV == bestV {
				choice, bestV = c, v
			}
		}
		return centers[start+choice*stride], nil
	}
	est := newMSEEstimator(centers, counts, f)
	fast := make([]float64, cands)
	best := math.Inf(1)
	for c := range cands {
		fast[c] = est.objective(centers[start+c*stride])
		best = min(best, fast[c])
	}
	// The reference rounds each term to float32 and sums nc of them in
	// float32 with about nc/32 additions per accumulator.
	tol := best*(2*float64(nc/32+24)*0x1p-24+1e-9) + 1e-12*est.s2[nc]
	choice, bestV := -1, float32(0)
	for c := range cands {
		if fast[c] > best+tol {
			continue
		}
		if v := exact(c); choice < 0 || v < bestV {
			choice, bestV = c, v
		}
	}
	return centers[start+choice*stride], nil
}

// mseExact is the reference's objective for one candidate amax, bit for
// bit: mean((fake_quant(c) - c)^2 * count) in float32, torch's sum order,
// divided by float32(n).
func mseExact(centers, cnt []float32, amax float32, f fakequant.Format, buf []float32) float32 {
	n := len(centers)
	q, t := buf[:n], buf[n:2*n]
	fakequant.FakeQuant(q, centers, amax, f)
	for k, c := range centers {
		d := q[k] - c
		t[k] = float32(d*d) * cnt[k]
	}
	return torchSum(t) / float32(n)
}

// mseEstimator evaluates sum(count*(fq(c)-c)^2) for non-negative,
// non-decreasing centers in float64, one run of equal quantization level at
// a time.
type mseEstimator struct {
	c        []float32
	a, b, s2 []float64 // prefix sums of count, count*c, count*c^2
	c0, w    float64   // centers ~ c0 + k*w, to guess run ends
	maxBound float32
}

func newMSEEstimator(centers []float32, counts []int64, f fakequant.Format) *mseEstimator {
	n := len(centers)
	e := &mseEstimator{c: centers, a: make([]float64, n+1), b: make([]float64, n+1), s2: make([]float64, n+1)}
	for k, c := range centers {
		w, cf := float64(counts[k]), float64(c)
		e.a[k+1] = e.a[k] + w
		e.b[k+1] = e.b[k] + w*cf
		e.s2[k+1] = e.s2[k] + w*cf*cf
	}
	e.c0 = float64(centers[0])
	if n > 1 {
		e.w = (float64(centers[n-1]) - e.c0) / float64(n-1)
	}
	_, e.maxBound = f.Bounds()
	return e
}

// run returns sum(count*(c-v)^2) over centers [lo, hi).
func (e *mseEstimator) run(lo, hi int, v float64) float64 {
	return (e.s2[hi] - e.s2[lo]) - 2*v*(e.b[hi]-e.b[lo]) + v*v*(e.a[hi]-e.a[lo])
}

// objective estimates the candidate amax's sum of squared errors.
func (e *mseEstimator) objective(amax float32) float64 {
	n := len(e.c)
	if amax <= 0x1p-24 {
		return e.s2[n] // the scale is zero: every center quantizes to 0
	}
	s := e.maxBound / amax
	s64 := float64(s)
	mb := float64(e.maxBound)
	total := 0.0
	for k := 0; k < n; {
		j := math.Floor(float64(e.c[k])*s64 + 0.5)
		if j >= mb {
			total += e.run(k, n, float64(e.maxBound/s))
			break
		}
		// The run ends at the first center with c*s >= j+0.5.
		t := (j + 0.5) / s64
		end := k + 1
		if e.w > 0 {
			end = max(end, min(n, int(math.Ceil((t-e.c0)/e.w))))
		}
		for steps := 0; end > k+1 && float64(e.c[end-1]) >= t; steps++ {
			if end--; steps == 4 {
				end = k + 1 + sort.Search(end-k-1, func(i int) bool { return float64(e.c[k+1+i]) >= t })
				break
			}
		}
		for steps := 0; end < n && float64(e.c[end]) < t; steps++ {
			if end++; steps == 4 {
				end += sort.Search(n-end, func(i int) bool { return float64(e.c[end+i]) >= t })
				break
			}
		}
		total += e.run(k, end, float64(float32(j)/s))
		k = end
	}
	return total
}
