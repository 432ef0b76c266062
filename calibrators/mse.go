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
	centers, cnt, err := mseCenters(counts, edges, start)
	if err != nil {
		return 0, err
	}
	nc := len(centers)
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
	// The reference rounds each term to float32 and sums nc of them in
	// float32 with about nc/32 additions per accumulator: candidates within
	// rel*best (plus the estimate's own rounding, abs) may be the minimum.
	rel, abs := 2*float64(nc/32+24)*0x1p-24+1e-9, 1e-12*est.pre[nc].s2
	fast := make([]float64, cands)
	best := math.Inf(1)
	// From the largest amax down: once the clipping error alone (a lower
	// bound of the objective, growing as amax shrinks) passes the best,
	// the candidate cannot win and its objective is not needed.
	for c := cands - 1; c >= 0; c-- {
		a := centers[start+c*stride]
		if est.clipped(a) > best*(1+rel)+abs {
			fast[c] = math.Inf(1)
			continue
		}
		fast[c] = est.objective(a)
		best = min(best, fast[c])
	}
	tol := best*rel + abs
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

// mseCenters returns the bin centers (e[k+1]+e[k])/2 in float32 and the
// counts as float32, or an error when the histogram has no candidate from
// start on.
func mseCenters(counts []int64, edges []float64, start int) (centers, cnt []float32, err error) {
	nc := len(edges) - 1
	if len(counts) != nc {
		return nil, nil, fmt.Errorf("calibrators: mse over %d counts and %d bin centers (the original fails to broadcast them)", len(counts), nc)
	}
	if start >= nc {
		return nil, nil, fmt.Errorf("calibrators: mse has no candidate: start_bin %d, %d bins (the original fails with an empty argmin)", start, nc)
	}
	centers = make([]float32, nc)
	cnt = make([]float32, nc)
	e0 := float32(edges[0])
	for k := range centers {
		e1 := float32(edges[k+1])
		centers[k] = (e1 + e0) / 2
		cnt[k] = float32(counts[k])
		e0 = e1
	}
	return centers, cnt, nil
}

// mseExact is the reference's objective for one candidate amax, bit for
// bit: mean((fake_quant(c) - c)^2 * count) in float32, torch's sum order,
// divided by float32(n).
func mseExact(centers, cnt []float32, amax float32, f fakequant.Format, buf []float32) float32 {
	q := buf[:len(centers)]
	fakequant.FakeQuant(q, centers, amax, f)
	return mseOf(q, centers, cnt, buf[len(centers):2*len(centers)])
}

// mseOf returns mean((q-c)^2 * count) in float32 with torch's sum order,
// using t as scratch.
func mseOf(q, centers, cnt, t []float32) float32 {
	for k, c := range centers {
		d := q[k] - c
		t[k] = float32(d*d) * cnt[k]
	}
	return torchSum(t) / float32(len(centers))
}

// mseFP8Amax is the mse search with FP8 fake quantization
// (fakequant.FakeQuantFP8, the ONNX numbers) in place of the integer one:
// the same centers, candidates and float32 objective, every candidate
// computed exactly, the first minimum.
func mseFP8Amax(counts []int64, edges []float64, f fakequant.FP8Format, stride, start int) (float32, error) {
	centers, cnt, err := mseCenters(counts, edges, start)
	if err != nil {
		return 0, err
	}
	n := len(centers)
	if centers[0] < 0 || math.IsInf(float64(centers[n-1]), 0) {
		return 0, fmt.Errorf("calibrators: mse with FP8: bin centers from %v to %v (want finite and >= 0)", centers[0], centers[n-1])
	}
	q, t := make([]float32, n), make([]float32, n)
	choice, best := -1, float32(0)
	for i := start; i < n; i += stride {
		if err := fakequant.FakeQuantFP8(q, centers, centers[i], f); err != nil {
			return 0, fmt.Errorf("calibrators: mse with FP8: %w", err)
		}
		if v := mseOf(q, centers, cnt, t); choice < 0 || v < best {
			choice, best = i, v
		}
	}
	return centers[choice], nil
}

// mseEstimator evaluates sum(count*(fq(c)-c)^2) for non-negative,
// non-decreasing centers in float64, one run of centers with the same
// quantization level at a time.
type mseEstimator struct {
	c        []float32
	pre      []prefix // pre[k]: sums over centers [0, k)
	c0, invW float64  // centers ~ c0 + k/invW, to find run ends
	maxBound float32
}

type prefix struct{ a, b, s2 float64 } // count, count*c, count*c^2

func newMSEEstimator(centers []float32, counts []int64, f fakequant.Format) *mseEstimator {
	n := len(centers)
	e := &mseEstimator{c: centers, pre: make([]prefix, n+1)}
	for k, c := range centers {
		w, cf := float64(counts[k]), float64(c)
		p := e.pre[k]
		e.pre[k+1] = prefix{p.a + w, p.b + w*cf, p.s2 + w*cf*cf}
	}
	e.c0 = float64(centers[0])
	if n > 1 && centers[n-1] > centers[0] {
		e.invW = float64(n-1) / (float64(centers[n-1]) - e.c0)
	}
	_, e.maxBound = f.Bounds()
	return e
}

// run returns sum(count*(c-v)^2) over centers [lo, hi).
func (e *mseEstimator) run(lo, hi int, v float64) float64 {
	p, q := &e.pre[lo], &e.pre[hi]
	return (q.s2 - p.s2) - 2*v*(q.b-p.b) + v*v*(q.a-p.a)
}

// end returns the first index in [lo, n] whose center is >= t, starting
// from a guess on the near-uniform grid of centers.
func (e *mseEstimator) end(lo int, t float64) int {
	n := len(e.c)
	k := lo
	if e.invW > 0 {
		k = min(max(lo, int(math.Ceil((t-e.c0)*e.invW))), n)
	}
	for steps := 0; k > lo && float64(e.c[k-1]) >= t; steps++ {
		if k--; steps == 4 {
			return lo + sort.Search(k-lo, func(i int) bool { return float64(e.c[lo+i]) >= t })
		}
	}
	for steps := 0; k < n && float64(e.c[k]) < t; steps++ {
		if k++; steps == 4 {
			return k + sort.Search(n-k, func(i int) bool { return float64(e.c[k+i]) >= t })
		}
	}
	return k
}

// objective estimates the candidate amax's sum of squared errors: level j
// holds the centers with j-0.5 <= c*scale < j+0.5 and quantizes them to
// float32(j)/scale; the centers from maxBound-0.5 on clip to
// maxBound/scale.
func (e *mseEstimator) objective(amax float32) float64 {
	n := len(e.c)
	if amax <= 0x1p-24 {
		return e.pre[n].s2 // the scale is zero: every center quantizes to 0
	}
	s := e.maxBound / amax
	inv := 1 / float64(s)
	total, lo := 0.0, 0
	levels := int(e.maxBound)
	if levels > n {
		// More levels than centers: one center at a time.
		for ; lo < n; lo++ {
			j := math.RoundToEven(float64(e.c[lo]) * float64(s))
			if j >= float64(e.maxBound) {
				break
			}
			total += e.run(lo, lo+1, float64(float32(j)/s))
		}
	} else {
		// Level j ends at the first center >= (j+0.5)/scale; on the grid
		// of centers that is near x = ((j+0.5)/scale - c0)/w, which grows
		// by alpha per level.
		alpha := inv * e.invW
		x := (0.5*inv - e.c0) * e.invW
		c, pre := e.c, e.pre
		pLo := pre[0]
		for j := 0; j < levels && lo < n; j, x = j+1, x+alpha {
			t := (float64(j) + 0.5) * inv
			hi := int(x)
			if float64(hi) < x {
				hi++
			}
			hi = min(max(hi, lo), n)
			if (hi > lo && float64(c[hi-1]) >= t) || (hi < n && float64(c[hi]) < t) {
				hi = e.end(lo, t)
			}
			if hi == lo {
				continue
			}
			pHi := pre[hi]
			v := float64(float32(j) / s)
			total += (pHi.s2 - pLo.s2) - 2*v*(pHi.b-pLo.b) + v*v*(pHi.a-pLo.a)
			lo, pLo = hi, pHi
		}
	}
	if lo < n {
		total += e.run(lo, n, float64(e.maxBound/s))
	}
	return total
}

// clipped returns the part of objective(amax) from the centers that clip
// to maxBound/scale (from maxBound-0.5 on, in units of the scale).
func (e *mseEstimator) clipped(amax float32) float64 {
	if amax <= 0x1p-24 {
		return 0
	}
	s := e.maxBound / amax
	lo := e.end(0, (float64(e.maxBound)-0.5)/float64(s))
	return e.run(lo, len(e.c), float64(e.maxBound/s))
}
