package calibrators

import (
	"fmt"
	"math"
)

// entropyAmax is the original's _compute_amax_entropy (TensorRT's KL
// calibration) on a copy of the histogram: bins[0] = bins[1]; for each
// candidate i in start, start+stride, ... <= len(bins), the first i bins
// are merged into nbins = 2^(numBits-1+unsigned) quantized bins (bin j into
// nbins*j/i), each quantized bin's count spread evenly over its non-empty
// members; the reference is bins[:i] with the tail sum(bins[i:]) added to
// its last element; KL = scipy.stats.entropy(reference, quantized), which
// normalizes both. The result is edges[i] of the last candidate with the
// smallest KL (a NaN KL, when the first i bins are all empty, wins).
//
// Each KL takes O(quantized bins) with prefix sums of the counts, of the
// non-empty bins and of c*log(c); the candidates within a rounding margin
// of the best are then recomputed with the reference's own arithmetic
// (klExact), so that the choice, exact ties included, is the reference's.
// The original also raises "Count mismatch" when the spread counts do not
// round back to the total; in float64 they always do below 2^53 (the
// largest total a histogram holds), so that check is not repeated.
func entropyAmax(counts []int64, edges []float64, numBits int, unsigned bool, stride, start int) (float32, error) {
	n := len(counts)
	if n < 2 {
		return 0, fmt.Errorf("calibrators: entropy needs at least 2 bins, the histogram has %d (the original fails at bins[1])", n)
	}
	if start > n {
		return 0, fmt.Errorf("calibrators: entropy has no candidate: start_bin %d beyond the %d bins (the original fails with an empty argmin)", start, n)
	}
	b := append([]int64{}, counts...)
	b[0] = b[1]
	shift := numBits - 1
	if unsigned {
		shift++
	}
	nbins := int64(1) << shift

	P := make([]int64, n+1)    // P[k] = sum of b[:k]
	Z := make([]int64, n+1)    // Z[k] = non-empty bins in b[:k]
	BL := make([]float64, n+1) // BL[k] = sum of c*log(c) over b[:k]
	maxGroup := int64(1)
	for j, c := range b {
		P[j+1], Z[j+1], BL[j+1] = P[j]+c, Z[j], BL[j]
		if c > 0 {
			Z[j+1]++
			BL[j+1] += float64(c) * math.Log(float64(c))
		}
	}
	N := P[n]
	cands := (n-start)/stride + 1
	last := start + (cands-1)*stride
	pick := func(i int) (float32, error) {
		if i >= len(edges) {
			return 0, fmt.Errorf("calibrators: entropy picked bin %d but there are %d edges (the original fails)", i, len(edges))
		}
		return float32(edges[i]), nil
	}
	if N == 0 {
		return pick(last) // every KL is NaN (0/0): the last wins
	}
	if nbins < int64(n) {
		maxGroup = (int64(n)+nbins-1)/nbins + 1
	}
	logK := make([]float64, maxGroup+1)
	for k := range logK {
		logK[k] = math.Log(float64(k))
	}
	logN := math.Log(float64(N))

	const (
		finite = iota
		inf
		nan
	)
	kind := make([]uint8, cands)
	fast := make([]float64, cands)
	lastNaN := -1
	best := math.Inf(1)
	// From the largest candidate down, so that a good best is known early:
	// a candidate whose lower bound passes it cannot win and needs no KL.
	for c := cands - 1; c >= 0; c-- {
		i := start + c*stride
		Q := P[i]
		T := N - Q
		bl := b[i-1]
		switch {
		case Q == 0:
			kind[c] = nan
			lastNaN = max(lastNaN, c)
			continue
		case bl == 0 && T > 0:
			kind[c] = inf
			continue
		}
		if lb := klLowerBound(P, Z, i, shift, N, T); lb > best+1e-10+1e-8*best {
			fast[c] = math.Inf(1)
			continue
		}
		// sumSL = sum over quantized bins m of S_m*log(S_m/k_m); logV is
		// log(S/k) of the bin holding element i-1.
		var sumSL, logV float64
		if nbins >= int64(i) {
			sumSL = BL[i]
			if bl > 0 {
				logV = math.Log(float64(bl))
			}
		} else {
			var s, k int64
			sumSL, s, k = groupSums(P, Z, logK, i, shift)
			if k > 0 {
				logV = fastLog(float64(s)) - logK[k]
			}
		}
		R := bl + T
		kl := BL[i-1] - sumSL + float64(N)*(math.Log(float64(Q))-logN)
		if R > 0 {
			kl += float64(R) * math.Log(float64(R))
		}
		if T > 0 {
			kl -= float64(T) * logV
		}
		kl /= float64(N)
		fast[c] = kl
		best = min(best, kl)
	}
	if lastNaN >= 0 {
		return pick(start + lastNaN*stride)
	}
	if math.IsInf(best, 1) {
		return pick(last) // every KL is +Inf
	}
	// The fast KLs are within about 1e-12 of the reference's; recompute
	// every candidate that could be the minimum.
	tol := 1e-10 + 1e-8*math.Abs(best)
	choice, exactBest := -1, math.Inf(1)
	buf := make([]float64, 2*n)
	for c := range cands {
		if kind[c] != finite || fast[c] > best+tol {
			continue
		}
		i := start + c*stride
		if e := klExact(b, i, nbins, N, N-P[i], buf); e <= exactBest {
			choice, exactBest = c, e
		}
	}
	return pick(start + choice*stride)
}

// klLowerBound is the divergence between the two-bin distributions
// (element i-1, the rest) of candidate i's reference and quantized
// distributions: by the log-sum inequality no larger than their KL. It
// costs O(1) and grows fast as the clipped tail T grows. The candidate is
// neither NaN nor +Inf (Q > 0, and b[i-1] > 0 or T == 0).
func klLowerBound(P, Z []int64, i, shift int, N, T int64) float64 {
	nbins := int64(1) << shift
	Q, bl := float64(P[i]), P[i]-P[i-1]
	if bl == 0 {
		return 0
	}
	v := float64(bl) // the quantized value of element i-1
	if nbins < int64(i) {
		lo := int(((nbins-1)*int64(i) + nbins - 1) >> shift)
		v = float64(P[i]-P[lo]) / float64(Z[i]-Z[lo])
	}
	fn := float64(N)
	p2, q2 := float64(bl+T)/fn, v/Q
	lb := p2 * math.Log(p2/q2)
	if rest := P[i-1]; rest > 0 {
		p1, q1 := float64(rest)/fn, (Q-v)/Q
		lb += p1 * math.Log(p1/q1)
	}
	return lb
}

// klExact is the reference's divergence of candidate i computed as it does:
// quantized-bin sums in float64 in order, divided by the number of
// non-empty members; p = ref/N; q = new/sum(new) with NumPy's pairwise sum;
// the sum of rel_entr(p, q) terms, pairwise. T is sum(b[i:]). Only the logarithm differs
// (Go's math.Log against glibc's log, at most one ulp).
func klExact(b []int64, i int, nbins, N, T int64, buf []float64) float64 {
	newd, vec := buf[:i], buf[i:2*i]
	for j := 0; j < i; {
		m := nbins * int64(j) / int64(i)
		end := int(((m+1)*int64(i) + nbins - 1) / nbins)
		s, k := 0.0, 0
		for t := j; t < end; t++ {
			if b[t] != 0 {
				s += float64(b[t])
				k++
			}
		}
		v := s / float64(k)
		for t := j; t < end; t++ {
			newd[t] = 0
			if b[t] != 0 {
				newd[t] = v
			}
		}
		j = end
	}
	Q := pairwiseSum(newd)
	for j := range i {
		ref := b[j]
		if j == i-1 {
			ref += T
		}
		vec[j] = relEntr(float64(ref)/float64(N), newd[j]/Q)
	}
	return pairwiseSum(vec)
}

// relEntr is scipy.special.rel_entr.
func relEntr(x, y float64) float64 {
	switch {
	case x != x || y != y:
		return math.NaN()
	case x > 0 && y > 0:
		return x * math.Log(x/y)
	case x == 0 && y >= 0:
		return 0
	}
	return math.Inf(1)
}

// groupSums returns the sum over the 2^shift quantized bins m of candidate
// i of S_m*log(S_m/k_m), S_m the counts and k_m the non-empty bins of the
// histogram bins [ceil(m*i/2^shift), ceil((m+1)*i/2^shift)), and S, k of
// the last quantized bin. It is the hot loop of the entropy search, with
// fastLog written out.
func groupSums(P, Z []int64, logK []float64, i, shift int) (sum float64, s, k int64) {
	nbins := int64(1) << shift
	round := nbins - 1
	lo, num := 0, int64(0)
	pLo, zLo := P[0], Z[0]
	for range nbins {
		num += int64(i)
		hi := int((num + round) >> shift)
		pHi, zHi := P[hi], Z[hi]
		s, k = pHi-pLo, zHi-zLo
		if k > 0 {
			fs := float64(s)
			b := math.Float64bits(fs)
			t := &logTable[(b>>45)&127]
			r := math.Float64frombits(b&(1<<52-1)|1023<<52)*t.inv - 1
			p := r * (1 + r*(-1.0/2+r*(1.0/3+r*(-1.0/4+r*(1.0/5+r*(-1.0/6+r*(1.0/7)))))))
			sum += fs * (float64(int(b>>52)-1023)*math.Ln2 + t.log + p - logK[k])
		}
		lo, pLo, zLo = hi, pHi, zHi
	}
	_ = lo
	return sum, s, k
}
