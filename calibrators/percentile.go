package calibrators

import "fmt"

// percentileAmax is the original's _compute_amax_percentile: cdf =
// cumsum(hist/total) in float64, in order; the first index whose cdf is not
// below p/100 (numpy's searchsorted, where NaN, from an empty histogram,
// sorts last and so stops the search at once); the edge at that index,
// rounded to float32.
func percentileAmax(counts []int64, edges []float64, p float64) (float32, error) {
	var total int64
	for _, c := range counts {
		total += c
	}
	target := p / 100
	idx, cdf := len(counts), 0.0
	for i, c := range counts {
		cdf += float64(c) / float64(total)
		if !(cdf < target) {
			idx = i
			break
		}
	}
	if idx >= len(edges) {
		return 0, fmt.Errorf("calibrators: percentile %v picked edge %d of %d (the original fails)", p, idx, len(edges))
	}
	return float32(edges[idx]), nil
}
