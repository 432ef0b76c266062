package calibrators

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/tensorquant/tensorquant/fakequant"
)

// Work limits of the "mse" search, so that a hostile histogram (a state
// file may hold histogram.MaxBins bins and any counts) costs seconds, not
// hours; see Histogram.ComputeAmax for what happens beyond them.
const (
	// MSEExactLimit bounds the bins of the candidates evaluated exactly
	// (the reference's float32 objective, one pass over the bins each).
	MSEExactLimit = 1 << 30
	// MSERankLimit bounds the quantization runs visited while ranking the
	// candidates (one per non-empty quantization level and candidate).
	MSERankLimit = 1 << 28
)

// mseAmax is the original's _compute_amax_mse: centers = (e[k+1]+e[k])/2 in
// float32; for each candidate i in start, start+stride, ... <
// len(centers), q = fake_tensor_quant(centers, centers[i]) with the
// function default narrow range; mse = mean((q-c)^2 * counts) in float32
// with torch's summation order. The result is the center of the first
// candidate with the smallest mse.
//
// Evaluating that objective costs one pass over the bins per candidate,
// so the search has two stages. The first (mseSearch) ranks every
// candidate in float64 with prefix sums, one step per quantization level
// instead of one per bin, and bounds the float32 objective of each: only
// the candidates whose lower bound is below the best upper bound can be
// the first minimum. The second evaluates those exactly (mseObjective)
// and takes the first minimum: the original's choice, bit for bit. Where
// the second stage would pass MSEExactLimit bins, the smallest float64
// objective decides instead; where the first would pass MSERankLimit
// runs, or where the centers lie outside what the ranking models
// (negative, above 1e18, or decreasing) and evaluating every candidate
// exactly would pass MSEExactLimit bins, the search returns an error.
func mseAmax(counts []int64, edges []float64, numBits int, unsigned bool, stride, start int) (float32, error) {
	var w mseWork
	return mseAmaxWork(counts, edges, numBits, unsigned, stride, start, &w)
}

// mseWork is the work of one search: the runs the ranking visited and the
// candidates evaluated exactly.
type mseWork struct{ runs, exact int }

// mseAmaxWork is mseAmax, reporting its work into w.
func mseAmaxWork(counts []int64, edges []float64, numBits int, unsigned bool, stride, start int, w *mseWork) (float32, error) {
	centers, cnt, err := mseCenters(counts, edges, start)
	if err != nil {
		return 0, err
	}
	nc := len(centers)
	f := fakequant.Format{NumBits: numBits, Unsigned: unsigned, NarrowRange: true}
	if lo := slices.Min(centers); unsigned && lo < 0 {
		return 0, fmt.Errorf("calibrators: mse of unsigned format: negative bin center %v (the original: negative values encountered in unsigned quantization)", lo)
	}
	cands := (nc-start-1)/stride + 1
	at := func(c int) float32 { return centers[start+c*stride] }
	for c := range cands {
		if at(c) < 0 {
			return 0, fmt.Errorf("calibrators: mse candidate amax %v is negative: the bins span [%v, %v]; NumPy's histogram spans [x-0.5, x+0.5] when every |x| of the first batch equals x (the original fails too: negative values in amax)",
				at(c), edges[0], edges[len(edges)-1])
		}
	}
	modelled := mseModelled(centers)
	obj := newMSEObjective(centers, cnt, f, modelled)
	defer func() { w.exact = obj.evals }()
	if !modelled {
		if cands > MSEExactLimit/nc {
			return 0, fmt.Errorf("calibrators: mse over %d bins with centers from %v to %v: outside the fast search (negative, above 1e18 or decreasing centers), and evaluating %d candidates exactly would pass %d bin evaluations (MSEExactLimit)",
				nc, centers[0], centers[nc-1], cands, MSEExactLimit)
		}
		choice, bestV := 0, obj.at(at(0))
		for c := 1; c < cands; c++ {
			// The first minimum, as np.argmin: a NaN objective (Inf*0 when
			// a square overflows float32) wins.
			if v := obj.at(at(c)); v < bestV || v != v && bestV == bestV {
				choice, bestV = c, v
			}
		}
		return at(choice), nil
	}

	s := newMSESearch(centers, counts, f)
	defer func() { w.runs = s.runs }()
	lo, est := make([]float64, cands), make([]float64, cands)
	best := math.Inf(1) // the smallest upper bound of a float32 objective
	// From the largest amax down: once the clipping error alone (a lower
	// bound of the objective, growing as amax shrinks) puts a candidate
	// above the best, its objective is not needed.
	for c := cands - 1; c >= 0; c-- {
		a := at(c)
		if l, _ := s.bounds(s.clipped(a)); l > best {
			lo[c], est[c] = math.Inf(1), math.Inf(1)
			continue
		}
		r, e := s.objective(a)
		var hi float64
		lo[c], hi = s.bounds(r, e)
		est[c] = r
		best = min(best, hi)
		if s.runs > MSERankLimit {
			return 0, fmt.Errorf("calibrators: mse over %d bins at %d bits: ranking the candidates passed %d quantization runs (MSERankLimit); use fewer bins, fewer bits or a larger stride", nc, numBits, MSERankLimit)
		}
	}
	// The candidates that may be the first minimum. Those whose every
	// counted center quantizes to 0 have the same terms, so the same
	// objective: only the first of them can win; so can only the first of
	// those whose objective surely overflows to +Inf.
	var band []int
	zeroSeen, infSeen := false, false
	for c := range cands {
		if lo[c] > best {
			continue
		}
		if s.allZero(at(c)) {
			if zeroSeen {
				continue
			}
			zeroSeen = true
		}
		if math.IsInf(lo[c], 1) {
			if infSeen {
				continue
			}
			infSeen = true
		}
		band = append(band, c)
	}
	if len(band) == 1 {
		return at(band[0]), nil
	}
	// Exactly, in the order of the estimates (the first on ties), skipping
	// the candidates whose lower bound shows they cannot beat the best
	// found: a later candidate must be smaller, an earlier one at most
	// equal. The best estimate's objective bounds how many that leaves;
	// beyond MSEExactLimit bins of them, the candidates are too many,
	// within float32 rounding of each other, to tell apart as the
	// original does, and the smallest float64 objective decides.
	sort.SliceStable(band, func(x, y int) bool { return est[band[x]] < est[band[y]] })
	choice, bestV := band[0], obj.at(at(band[0]))
	need := 1
	for _, c := range band[1:] {
		if lo[c] <= float64(bestV) {
			need++
		}
	}
	if need > MSEExactLimit/nc {
		return at(choice), nil
	}
	for _, c := range band[1:] {
		if lo[c] > float64(bestV) || c > choice && lo[c] >= float64(bestV) {
			continue
		}
		if v := obj.at(at(c)); v < bestV || v == bestV && c < choice {
			choice, bestV = c, v
		}
	}
	return at(choice), nil
}

// mseModelled reports whether mseSearch models the centers: finite, from
// 0 to 1e18 (no square of a difference overflows float32), non-decreasing.
func mseModelled(centers []float32) bool {
	if !(centers[0] >= 0) {
		return false
	}
	for k := 1; k < len(centers); k++ {
		if !(centers[k] >= centers[k-1]) {
			return false
		}
	}
	return centers[len(centers)-1] <= 1e18
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

// mseOf returns mean((q-c)^2 * count) in float32 with torch's sum order,
// using t as scratch.
func mseOf(q, centers, cnt, t []float32) float32 {
	for k, c := range centers {
		d := q[k] - c
		t[k] = float32(d*d) * cnt[k]
	}
	return torchSum(t) / float32(len(centers))
}

// mseObjective evaluates the reference's objective for one candidate amax,
// bit for bit: mean((fake_quant(c) - c)^2 * count) in float32, torch's sum
// order (torchSum), divided by float32(n). It computes the terms as it
// sums them. With sparse set (centers that mseModelled accepts, whose
// squared differences are finite), it skips the rows of 32 bins that hold
// no count: their terms are +0, and adding +0 changes no partial sum.
type mseObjective struct {
	c, cnt, q []float32
	busy      []bool // busy[i]: bins [32i, 32i+32) are summed
	f         fakequant.Format
	evals     int // calls of at
}

func newMSEObjective(centers, cnt []float32, f fakequant.Format, sparse bool) *mseObjective {
	o := &mseObjective{c: centers, cnt: cnt, q: make([]float32, len(centers)), busy: make([]bool, (len(cnt)+31)/32), f: f}
	for k, w := range cnt {
		if w != 0 || !sparse {
			o.busy[k/32] = true
		}
	}
	return o
}

// term is bin k's (q-c)^2 * count, each step rounded to float32.
func (o *mseObjective) term(k int) float32 {
	d := o.q[k] - o.c[k]
	return float32(float32(d*d) * o.cnt[k])
}

// at returns the objective of amax. The layout follows torchSum: element
// 32*row + 8*k + lane goes to accumulator k, lane lane, of multiRowSum's
// level 0; the items left over after the rows go to accumulator 0; the
// n%8 tail is summed first and the 8 lanes added to it in order.
func (o *mseObjective) at(amax float32) float32 {
	o.evals++
	n := len(o.c)
	fakequant.FakeQuant(o.q, o.c, amax, o.f)
	if n < 8 {
		t := make([]float32, n)
		for k := range t {
			t[k] = o.term(k)
		}
		return torchSum(t) / float32(n)
	}
	vecs := n / 8
	rows := vecs / 4
	const levels = 4
	power := max(4, ceilLog2(rows)/levels)
	step := 1 << power
	mask := step - 1
	var acc [levels][32]float32
	row := func(i int) {
		if !o.busy[i] {
			return
		}
		base := 32 * i
		q, c, w := o.q[base:base+32], o.c[base:base+32], o.cnt[base:base+32]
		a := &acc[0]
		for m := range a {
			d := q[m] - c[m]
			a[m] += float32(float32(d*d) * w[m])
		}
	}
	i := 0
	for i+step <= rows {
		for range step {
			row(i)
			i++
		}
		for j := 1; j < levels; j++ {
			for m := range acc[j] {
				acc[j][m] += acc[j-1][m]
			}
			acc[j-1] = [32]float32{}
			if i&(mask<<(j*power)) != 0 {
				break
			}
		}
	}
	for ; i < rows; i++ {
		row(i)
	}
	for j := 1; j < levels; j++ {
		for m := range acc[0] {
			acc[0][m] += acc[j][m]
		}
	}
	for it := 4 * rows; it < vecs; it++ {
		for l := range 8 {
			acc[0][l] += o.term(8*it + l)
		}
	}
	for k := 1; k < 4; k++ {
		for l := range 8 {
			acc[0][l] += acc[0][8*k+l]
		}
	}
	var sum float32
	for k := 8 * vecs; k < n; k++ {
		sum += o.term(k)
	}
	for l := range 8 {
		sum += acc[0][l]
	}
	return sum / float32(n)
}

// mseFP8Amax is the mse search with FP8 fake quantization
// (fakequant.FakeQuantFP8, the ONNX numbers) in place of the integer one:
// the same centers, candidates and float32 objective, every candidate
// computed exactly, the first minimum. Past MSEExactLimit bin evaluations
// it returns an error.
func mseFP8Amax(counts []int64, edges []float64, f fakequant.FP8Format, stride, start int) (float32, error) {
	centers, cnt, err := mseCenters(counts, edges, start)
	if err != nil {
		return 0, err
	}
	n := len(centers)
	if centers[0] < 0 || math.IsInf(float64(centers[n-1]), 0) {
		return 0, fmt.Errorf("calibrators: mse with FP8: bin centers from %v to %v (want finite and >= 0)", centers[0], centers[n-1])
	}
	if cands := (n-start-1)/stride + 1; cands > MSEExactLimit/n {
		return 0, fmt.Errorf("calibrators: mse with FP8 over %d bins: evaluating %d candidates would pass %d bin evaluations (MSEExactLimit); use fewer bins or a larger stride", n, cands, MSEExactLimit)
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
