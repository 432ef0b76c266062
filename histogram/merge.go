package histogram

import (
	"fmt"
	"math"
)

// Merge adds the counts of o to h, so that shards of a calibration run can
// be collected separately (in goroutines or processes) and joined.
//
// Both histograms must have the same options (except NumBins) and, if both
// have data, the same bin grid: the same bin width on the torch path, the
// same first two edges on the NumPy path. That is the case when every shard
// starts from a Fork of one histogram that collected a first batch. The bins
// are aligned at the first edge; bins that both define are added (on the
// torch path rounded to float32, as the original adds float32 histograms),
// and the longer histogram (or, at equal length, the one with the larger
// last edge) gives the remaining bins and the edges.
//
// The result equals collecting o's batches into h after h's own, exactly,
// when each element of o was binned as h would have binned it: always when
// neither shard grew past the range it started from. When a shard grew, the
// grown histogram's edges come from a different float recipe (torch.arange
// instead of torch.linspace, or one numpy arange instead of two), and an
// element within a rounding error of a bin edge can fall into the
// neighbouring bin: the original shows the same effect between the batches
// it collects before and after a growth. Counts above 2^24 on the torch path
// are rounded to float32 in a different order than batch by batch.
//
// It returns an error for different options or grids, or a total count
// above 2^53; h is then unchanged.
func (h *Histogram) Merge(o *Histogram) error {
	if h.opts.NumPy != o.opts.NumPy || h.opts.SkipZeros != o.opts.SkipZeros {
		return fmt.Errorf("histogram: cannot merge %s with %s", h.opts.describe(), o.opts.describe())
	}
	if o.counts == nil {
		return nil
	}
	if h.counts == nil {
		h.numBins, h.counts, h.edges, h.edges32 = o.numBins, cloneOrNil(o.counts), cloneOrNil(o.edges), o.edges32
		return nil
	}
	if hw, ow := h.grid(), o.grid(); hw != ow {
		return fmt.Errorf("histogram: cannot merge histograms with different bins (first edges and width %v vs %v): start every shard from a Fork of one histogram", hw, ow)
	}
	long, short := h, o
	if len(o.counts) > len(h.counts) || len(o.counts) == len(h.counts) && o.edges[len(o.edges)-1] > h.edges[len(h.edges)-1] {
		long, short = o, h
	}
	counts := append([]int64{}, long.counts...)
	var total int64
	for i := range counts {
		if i < len(short.counts) {
			if h.opts.NumPy {
				counts[i] += short.counts[i]
			} else {
				counts[i] = int64(float32(counts[i]) + float32(short.counts[i]))
			}
		}
		total += counts[i]
		if total > maxTotal {
			return fmt.Errorf("histogram: merged total count above 2^53")
		}
	}
	h.counts, h.edges, h.edges32 = counts, cloneOrNil(long.edges), long.edges32
	if !h.opts.NumPy {
		h.numBins = len(counts)
	}
	return nil
}

// grid identifies the bin grid: the first edge and the width the original
// grows with.
func (h *Histogram) grid() [2]float64 {
	if h.opts.NumPy {
		return [2]float64{h.edges[0], h.edges[1] - h.edges[0]}
	}
	return [2]float64{h.edges[0], float64(float32(h.edges[1]) - float32(h.edges[0]))}
}

func (o Options) describe() string {
	mode := "torch_hist"
	if o.NumPy {
		mode = "numpy_hist"
	}
	return fmt.Sprintf("%s skip_zeros=%v", mode, o.SkipZeros)
}

// State is the complete state of a Histogram, for saving and restoring it.
type State struct {
	Options Options
	// NumBins is the num_bins attribute (see Histogram.NumBins).
	NumBins int
	// Counts and Edges are nil when no batch was collected.
	Counts []int64
	Edges  []float64
	// Float32Edges reports whether Edges are float32 values.
	Float32Edges bool
}

// State returns a copy of h's state.
func (h *Histogram) State() State {
	return State{Options: h.opts, NumBins: h.numBins, Counts: cloneOrNil(h.counts), Edges: cloneOrNil(h.edges), Float32Edges: h.edges32}
}

// Restore returns the histogram whose state is s (s is copied). It checks
// everything a collected histogram satisfies, so that a restored one
// behaves like a collected one: NumBins and the lengths within MaxBins,
// counts non-negative with a total of at most 2^53, edges finite and
// non-decreasing (but for the subnormal exception of Edges), float32 values
// where Float32Edges says so; on the torch
// path edges start at 0, counts are float32 values, NumBins is the number
// of counts and the edges number it plus 0, 1 or 2; on the NumPy path there
// is one more edge than counts.
func Restore(s State) (*Histogram, error) {
	h, err := New(s.Options)
	if err != nil {
		return nil, err
	}
	bad := func(format string, a ...any) (*Histogram, error) {
		return nil, fmt.Errorf("histogram: invalid state: "+format, a...)
	}
	if s.NumBins < 1 || s.NumBins > MaxBins {
		return bad("num_bins %d", s.NumBins)
	}
	h.numBins = s.NumBins
	if s.Counts == nil && s.Edges == nil {
		return h, nil
	}
	nc, ne := len(s.Counts), len(s.Edges)
	if nc < 1 || nc > MaxBins || ne < 2 || ne > MaxBins+2 {
		return bad("%d counts and %d edges", nc, ne)
	}
	var total int64
	for i, c := range s.Counts {
		if c < 0 || c > maxTotal-total {
			return bad("count %d at bin %d", c, i)
		}
		if !s.Options.NumPy && float64(float32(c)) != float64(c) {
			return bad("count %d at bin %d is not a float32 value", c, i)
		}
		total += c
	}
	ordered := s.Options.NumPy || s.Edges[len(s.Edges)-1] >= minOrderedRange
	for i, e := range s.Edges {
		if math.IsInf(e, 0) || e != e || ordered && i > 0 && e < s.Edges[i-1] {
			return bad("edge %v at %d (edges must be finite and non-decreasing)", e, i)
		}
		if s.Float32Edges && float64(float32(e)) != e {
			return bad("edge %v at %d is not a float32 value", e, i)
		}
	}
	if s.Options.NumPy {
		if ne != nc+1 {
			return bad("%d counts and %d edges on the numpy path", nc, ne)
		}
	} else {
		if !s.Float32Edges || s.Edges[0] != 0 || s.NumBins != nc || ne < nc || ne > nc+2 {
			return bad("torch path with %d counts, %d edges starting at %v, num_bins %d", nc, ne, s.Edges[0], s.NumBins)
		}
	}
	h.counts, h.edges, h.edges32 = cloneOrNil(s.Counts), cloneOrNil(s.Edges), s.Float32Edges
	return h, nil
}
