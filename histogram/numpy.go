package histogram

import (
	"fmt"
	"sort"
)

// NumpyHistogram returns what np.histogram(|x|, bins, range=(lo, hi))
// returns for float32 data: bins int64 counts and bins+1 float32 edges. The
// edges are np.linspace(lo, hi, bins+1) computed in float64 and rounded to
// float32; a range with lo == hi is widened to [lo-0.5, hi+0.5] in float64.
// The bin of v = |x| is the i with edges[i] <= v < edges[i+1], the last bin
// closed, found as numpy finds it (a float32 estimate corrected by one bin
// against the edges); values outside the range, and NaNs, are left out.
// With skipZeros, zeros are left out too (the calibrator's skip_zeros).
//
// It is the histogram of calibrate_weights (range (0, max|w|)) and of the
// first batch of a NumPy-mode calibrator (range (min|x|, max|x|)).
//
// It returns an error if bins is not in [1, MaxBins], lo or hi is not
// finite, lo > hi, or the widened range still has zero width (|lo| >=
// 2^53), where numpy fails.
func NumpyHistogram(x []float32, bins int, lo, hi float32, skipZeros bool) (counts []int64, edges []float32, err error) {
	if err := checkBins(bins); err != nil {
		return nil, nil, err
	}
	if !finite(lo) || !finite(hi) || lo > hi {
		return nil, nil, fmt.Errorf("histogram: range of [%v, %v] is not finite and increasing", lo, hi)
	}
	first, last := float64(lo), float64(hi)
	first32, last32, denom := lo, hi, hi-lo
	if lo == hi {
		first, last = first-0.5, last+0.5
		first32, last32, denom = float32(first), float32(last), float32(last-first)
		if denom == 0 {
			return nil, nil, fmt.Errorf("histogram: cannot bin the constant %v (range of zero width after widening)", lo)
		}
	}
	edges = numpyLinspace(first, last, bins+1)
	counts = make([]int64, bins)
	fn := float32(bins)
	for _, v := range x {
		a := abs32(v)
		if !(a >= first32 && a <= last32) || skipZeros && a == 0 {
			continue
		}
		i := int(float32(float32(a-first32)/denom) * fn)
		if i >= bins {
			i = bins - 1
		}
		if i > 0 && a < edges[i] {
			i--
		} else if i < bins-1 && a >= edges[i+1] {
			i++
		}
		counts[i]++
	}
	return counts, edges, nil
}

// binByEdges adds to counts[:len(edges)-1] the histogram of |x| over the
// explicit, non-decreasing edges, as np.histogram(x, bins=edges) counts it:
// bin i holds edges[i] <= v < edges[i+1], the last bin edges[n-1] <= v <=
// edges[n]. Values below edges[0], NaNs and (with skipZeros) zeros are left
// out, and so are values above edges[n].
func binByEdges(counts []int64, x []float32, edges []float64, skipZeros bool) {
	n := len(edges) - 1
	e0, en := edges[0], edges[n]
	w := edges[1] - edges[0]
	for _, v := range x {
		a32 := abs32(v)
		if skipZeros && a32 == 0 {
			continue
		}
		a := float64(a32)
		if !(a >= e0 && a <= en) {
			continue
		}
		// i is the largest index in [0, n] with edges[i] <= a.
		i := 0
		if w > 0 {
			i = int(min((a-e0)/w, float64(n)))
		}
		switch {
		case edges[i] > a:
			if i--; edges[i] > a {
				i = sort.Search(i, func(k int) bool { return edges[k+1] > a })
			}
		case i < n && edges[i+1] <= a:
			if i++; i < n && edges[i+1] <= a {
				i += sort.Search(n-i, func(k int) bool { return edges[i+k+1] > a })
			}
		}
		if i == n {
			i = n - 1
		}
		counts[i]++
	}
}
