package calibrators

import (
	"math"
	"sort"

	"github.com/tensorquant/tensorquant/fakequant"
)

// mseSearch ranks the candidates of the mse search without a pass over the
// bins per candidate, and bounds the reference's float32 objective of
// each, rigorously, so that mseAmax knows which candidates can be its
// first minimum.
//
// For a candidate amax, the centers quantize in runs: the kernel's level
// j = min(roundHalfEven(float32(c*scale)), maxBound) never decreases along
// the (non-decreasing) centers, and the run of level j quantizes to
// float32(j)/scale. The run boundaries are found with the kernel's own
// arithmetic (a guess on the near-uniform grid of centers, checked), so
// the runs are exactly the reference's. Bins without a count add nothing
// and are skipped. A run's sum of count*(c-v)^2 comes from prefix sums of
// count, count*c and count*c^2, or, for a run of a few bins in formats
// fine enough for those sums to cancel (shortRun), from the bins
// themselves. The cost is one step per quantization level that holds a
// count (or per level, where levels are coarser than bins): at most
// min(2^(bits-1), bins) per candidate.
//
// Error bounds. Let R be the exact sum of count*(q-c)^2 with the kernel's
// q. The prefix sums are summed in blocks of about sqrt(bins), so every
// prefix value is within gP = gamma(2*sqrt(bins)+4) (unit roundoff 2^-53)
// of its exact value relative to it; over a chain of prefix runs separated
// only by bins without a count, the errors telescope (Abel summation, the
// run values increase), to at most 2*gP*(P2 + 2*v*P1 + v^2*P0) at the
// chain's end. The reference's float32 sum T of the terms
// fl(fl(fl(q-c)^2) * fl(count)) is within (1+-u)^6 of R per term, plus an
// underflow of 2^-150 per counted element, times (1 +- gamma(depth)) for
// torch's summation tree (torchSumDepth); the objective is fl(T/n).
// bounds turns the float64 estimate and its error into an interval that
// holds the float32 objective.
type mseSearch struct {
	c               []float32
	counts          []int64
	p               []prefix // p[k]: sums over bins [0, k)
	next            []int32  // next[k]: the first bin from k on with a count, or len(c)
	firstNZ, lastNZ int      // the first and last bin with a count (lastNZ -1 if none)
	gP              float64  // relative error bound of every prefix sum
	gT              float64  // relative error bound of torch's sum of the terms
	c0, invW        float64  // centers ~ c0 + k/invW, to guess run ends
	m               float32  // maxBound
	total           float64  // the count of every bin
	nf              float64  // float32(bins), the reference's divisor
	short           int      // runs of at most short bins are summed from their bins
	runs            int      // the runs visited so far (the work)
}

// prefix holds the sums of count, count*c and count*c^2.
type prefix struct{ a, b, s2 float64 }

// Unit roundoffs of float32 and float64.
const (
	u32 = 0x1p-24
	u64 = 0x1p-53
)

// shortRun is the longest run summed from its bins (exact up to rounding)
// where the prefix sums would cancel too much: where the estimate's error
// bound, about 32*gP*maxBound^2 relative to the objective, could pass
// directLimit.
const (
	shortRun    = 8
	directLimit = 1e-7
)

// gamma is the classic bound k*u/(1-k*u) of k roundings.
func gamma(k int, u float64) float64 {
	ku := float64(k) * u
	return ku / (1 - ku)
}

var (
	gammaRun   = gamma(4, u64)          // the evaluation of a run from prefix sums
	gammaShort = gamma(shortRun+3, u64) // a run summed from its bins
	// The six roundings of a term of the reference, fl(fl(fl(q-c)^2) *
	// fl(count)), as factors of its exact value.
	termLo, termHi = math.Pow(1-u32, 6), math.Pow(1+u32, 6)
)

// newMSESearch prepares the ranking of the centers (mseModelled) with
// their counts, for format f.
func newMSESearch(centers []float32, counts []int64, f fakequant.Format) *mseSearch {
	n := len(centers)
	s := &mseSearch{c: centers, counts: counts, p: make([]prefix, n+1), next: make([]int32, n+1),
		firstNZ: n, lastNZ: -1, nf: float64(float32(n))}
	bs := int(math.Ceil(math.Sqrt(float64(n))))
	var blk, loc prefix // the blocks before the current one; the current one
	for k, c := range centers {
		if k%bs == 0 {
			blk = prefix{blk.a + loc.a, blk.b + loc.b, blk.s2 + loc.s2}
			loc = prefix{}
		}
		w, cf := float64(counts[k]), float64(c)
		s.total += w
		if counts[k] != 0 {
			s.firstNZ, s.lastNZ = min(s.firstNZ, k), k
		}
		loc = prefix{loc.a + w, loc.b + w*cf, loc.s2 + w*(cf*cf)}
		s.p[k+1] = prefix{blk.a + loc.a, blk.b + loc.b, blk.s2 + loc.s2}
	}
	s.next[n] = int32(n)
	for k := n - 1; k >= 0; k-- {
		s.next[k] = s.next[k+1]
		if counts[k] != 0 {
			s.next[k] = int32(k)
		}
	}
	s.gP = gamma(n/bs+bs+4, u64)
	_, s.m = f.Bounds()
	if 32*s.gP*float64(s.m)*float64(s.m) > directLimit {
		s.short = shortRun
	}
	s.gT = gamma(torchSumDepth(n), u32)
	s.c0 = float64(centers[0])
	if n > 1 && centers[n-1] > centers[0] {
		s.invW = float64(n-1) / (float64(centers[n-1]) - s.c0)
	}
	return s
}

// torchSumDepth bounds the additions any term of torchSum passes through
// (its depth in the summation tree): a level-0 run of multiRowSum, two
// more levels of runs, the top level, the merges of levels and
// accumulators, and the tail and lanes.
func torchSumDepth(n int) int {
	rows := max(n/32, 1)
	power := max(4, ceilLog2(rows)/4)
	step := 1 << power
	return 3*step + rows>>(3*power) + 1 + 3 + 3 + 3 + 8 + 8
}

// level is the kernel's quantization level of center k at scale sc.
func (s *mseSearch) level(k int, sc float32) float32 {
	return min(float32(math.RoundToEven(float64(s.c[k]*sc))), s.m)
}

// end returns the first index in [lo, n] whose center quantizes above
// level j (an integer below maxBound) at scale sc; the guess g =
// (j+0.5)*gA + gB, where the centers near (j+0.5)/sc lie, is tried first.
// (objective repeats its fast path inline.)
func (s *mseSearch) end(lo int, j float64, sc float32, gA, gB float64) int {
	jh := j + 0.5
	k := s.guessAt(lo, jh, gA, gB)
	if k > lo && k < len(s.c) && s.above(k, jh, sc) && !s.above(k-1, jh, sc) {
		return k
	}
	return s.search(lo, k, jh, sc)
}

// guessAt returns ceil((j+0.5)*gA + gB) within [lo, n].
func (s *mseSearch) guessAt(lo int, jh, gA, gB float64) int {
	g := jh*gA + gB
	switch {
	case !(g > float64(lo)):
		return lo
	case !(g < float64(len(s.c))):
		return len(s.c)
	}
	k := int(g)
	if float64(k) < g {
		k++
	}
	return k
}

// above reports whether center k quantizes above level jh-0.5 at scale
// sc: float32(c*sc) rounds (half to even) above it.
func (s *mseSearch) above(k int, jh float64, sc float32) bool {
	y := float64(s.c[k] * sc)
	return y > jh || y == jh && int64(jh)&1 == 1
}

// search is end's slow path from a wrong guess k.
func (s *mseSearch) search(lo, k int, jh float64, sc float32) int {
	n := len(s.c)
	above := func(i int) bool { return s.above(i, jh, sc) }
	if k < n && !above(k) {
		for range 4 {
			if k++; k == n || above(k) {
				return k
			}
		}
		return k + 1 + sort.Search(n-k-1, func(i int) bool { return above(k + 1 + i) })
	}
	for range 4 {
		if k == lo || !above(k-1) {
			return k
		}
		k--
	}
	return lo + sort.Search(k-lo, func(i int) bool { return above(lo + i) })
}

// guess returns the coefficients of end's guess at scale sc.
func (s *mseSearch) guess(sc float32) (gA, gB float64) {
	return s.invW / float64(sc), -s.c0 * s.invW
}

// prefixRun returns the sum of count*(c-v)^2 over bins [lo, hi) from the
// prefix sums, and the sum of the magnitudes its evaluation rounds (times
// gammaRun, its rounding error; the prefix sums' own errors are
// chainBound's).
func (s *mseSearch) prefixRun(lo, hi int, v float64) (r, mag float64) {
	p, q := &s.p[lo], &s.p[hi]
	a, b, c := q.s2-p.s2, q.b-p.b, q.a-p.a
	return a - 2*v*b + v*v*c, a + 2*v*b + v*v*c
}

// chainBound bounds the error that the prefix sums bring into a chain of
// prefix runs ending at bin hi with value v.
func (s *mseSearch) chainBound(hi int, v float64) float64 {
	p := &s.p[hi]
	return 2 * s.gP * (p.s2 + 2*v*p.b + v*v*p.a)
}

// objective returns the float64 estimate of the sum of count*(q-c)^2 for
// candidate amax a, and a bound of its error.
func (s *mseSearch) objective(a float32) (r, e float64) {
	if s.allZero(a) {
		// Every counted center quantizes to 0.
		t := s.p[len(s.c)].s2
		return t, 2 * s.gP * t
	}
	sc := s.m / a
	gA, gB := s.guess(sc)
	acc := runSum{s: s, chainHi: -1}
	lo, last := s.firstNZ, s.lastNZ+1
	vM := float64(s.m / sc)
	c := s.c
	if s.m < 1<<22 && (float64(s.c[s.lastNZ])-float64(s.c[lo]))*float64(sc) <= float64(last-lo) {
		// Fewer levels than bins: level by level, each run's end found
		// on its own (end and add inline), so that one run's work does
		// not wait for the last.
		n := len(s.c)
		j := s.level(lo, sc)
		ji := int(j)
		g := (float64(j)+0.5)*gA + gB // the guess of the end of level j
		// The sums in registers; acc takes them back for short runs.
		r, mag, runs := 0.0, 0.0, 0
		chainHi, chainV := -1, 0.0
		for lo < last && j < s.m {
			// The kernel's test of s.above, in float32 (j+0.5 is exact:
			// the levels here are below 2^22).
			jh, odd := j+0.5, ji&1 == 1
			hi := lo
			if g > float64(lo) {
				if hi = n; g < float64(n) {
					hi = int(g)
					if float64(hi) < g {
						hi++
					}
				}
			}
			if hi == lo || hi == n || !(c[hi]*sc > jh || c[hi]*sc == jh && odd) || c[hi-1]*sc > jh || c[hi-1]*sc == jh && odd {
				hi = s.search(lo, hi, float64(jh), sc)
			}
			if hi = min(hi, last); hi > lo {
				if v := float64(j / sc); hi-lo <= s.short {
					if chainHi >= 0 {
						acc.chainHi, acc.chainV = chainHi, chainV
						chainHi = -1
					}
					acc.addShort(lo, hi, v)
				} else {
					p, q := &s.p[lo], &s.p[hi]
					b2, b1, b0 := q.s2-p.s2, q.b-p.b, q.a-p.a
					r += b2 - 2*v*b1 + v*v*b0
					mag += b2 + 2*v*b1 + v*v*b0
					chainHi, chainV = hi, v
				}
				runs++
			}
			j++
			ji++
			g += gA
			if lo = hi; lo < last && int(s.next[lo]) != lo {
				lo = int(s.next[lo])
				j = s.level(lo, sc)
				ji = int(j)
				g = (float64(j)+0.5)*gA + gB
			}
		}
		if chainHi >= 0 {
			acc.chainHi, acc.chainV = chainHi, chainV
		}
		acc.r += r
		acc.magRun += mag
		acc.runs += runs
		if lo < last {
			acc.add(lo, last, vM)
		}
	} else {
		// From counted run to counted run: the next run's level is its
		// first center's.
		for lo < last {
			j := s.level(lo, sc)
			hi := last
			if j < s.m {
				hi = min(s.end(lo, float64(j), sc, gA, gB), last)
			}
			acc.add(lo, hi, float64(j/sc))
			lo = int(s.next[hi])
		}
	}
	return acc.done()
}

// runSum adds up the runs of one candidate and the bounds of their errors.
type runSum struct {
	s                        *mseSearch
	r                        float64
	magRun, magShort, chains float64 // see done
	chainHi                  int     // the end of the open chain of prefix runs, or -1
	chainV                   float64 // its last value
	runs                     int
}

// add adds the run of bins [lo, hi) (not empty) with value v. The bins
// between the previous run and lo hold no count. (objective repeats it
// inline.)
func (a *runSum) add(lo, hi int, v float64) {
	a.runs++
	if hi-lo <= a.s.short {
		a.addShort(lo, hi, v)
		return
	}
	// The prefix sums are equal (bit for bit) across bins without a count,
	// so the chain goes on.
	p, q := &a.s.p[lo], &a.s.p[hi]
	b2, b1, b0 := q.s2-p.s2, q.b-p.b, q.a-p.a
	a.r += b2 - 2*v*b1 + v*v*b0
	a.magRun += b2 + 2*v*b1 + v*v*b0
	a.chainHi, a.chainV = hi, v
}

// addShort adds a run summed from its bins, which ends the chain.
func (a *runSum) addShort(lo, hi int, v float64) {
	var rr float64
	for k := lo; k < hi; k++ {
		d := float64(a.s.c[k]) - v
		rr += float64(a.s.counts[k]) * (d * d)
	}
	a.r += rr
	a.magShort += rr
	if a.chainHi >= 0 {
		a.chains += a.s.chainBound(a.chainHi, a.chainV)
		a.chainHi = -1
	}
}

// done returns the sum and its error bound: the prefix sums' errors per
// chain, the runs' own roundings and their sum (whose terms sum to at most
// magRun + magShort in magnitude); then twice the whole, for the
// second-order terms the bounds leave out.
func (a *runSum) done() (r, e float64) {
	if a.chainHi >= 0 {
		a.chains += a.s.chainBound(a.chainHi, a.chainV)
	}
	a.s.runs += a.runs
	e = a.chains + gammaRun*a.magRun + gammaShort*a.magShort + gamma(a.runs, u64)*(a.magRun+a.magShort)
	return a.r, 2 * e
}

// clipped returns the part of objective(a) from the counted centers that
// clip to maxBound/scale, a lower bound of the objective, and its error
// bound.
func (s *mseSearch) clipped(a float32) (r, e float64) {
	if s.allZero(a) {
		return s.objective(a)
	}
	sc := s.m / a
	gA, gB := s.guess(sc)
	lo, last := s.end(0, float64(s.m)-1, sc, gA, gB), s.lastNZ+1
	if lo >= last {
		return 0, 0
	}
	v := float64(s.m / sc)
	r, mag := s.prefixRun(lo, last, v)
	return r, 2 * (gammaRun*mag + s.chainBound(last, v))
}

// allZero reports whether every counted center quantizes to 0 with
// candidate a: all such candidates have the same terms.
func (s *mseSearch) allZero(a float32) bool {
	return a <= 0x1p-24 || s.lastNZ < 0 || s.level(s.lastNZ, s.m/a) == 0
}

// bounds returns an interval that holds the reference's float32 objective
// for an estimate r of the exact sum within e (+Inf where the objective
// surely, or for hi possibly, overflows).
func (s *mseSearch) bounds(r, e float64) (lo, hi float64) {
	const eta = 0x1p-150 // the largest rounding error of a float32 below 2^-126
	under := s.total * (1 + u32) * eta
	tl := (max(r-e, 0)*termLo - under) * (1 - s.gT)
	th := ((r+e)*termHi + under) * (1 + s.gT)
	lo, hi = math.Inf(1), math.Inf(1)
	if tl <= math.MaxFloat32 {
		lo = tl/s.nf*(1-u32) - eta
	}
	if th <= math.MaxFloat32 {
		hi = th/s.nf*(1+u32) + eta
	}
	return lo, hi
}
