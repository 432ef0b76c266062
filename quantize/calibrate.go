package quantize

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/graph"
)

// DefaultBatchSize is the number of samples of a calibration batch
// unless CalibrateOptions.BatchSize says otherwise.
const DefaultBatchSize = 32

// CalibrateOptions control Calibrate.
type CalibrateOptions struct {
	// BatchSize is the number of samples per batch, taken in order (the
	// last batch may be shorter); 0 means DefaultBatchSize. It is part of
	// the result: the histograms fix their bin width on the first batch
	// and grow by whole bins after, as the original's do.
	BatchSize int
	// Workers is the number of batches run at once; 0 means
	// runtime.GOMAXPROCS(0). The result does not depend on it.
	Workers int
	// Shard and Shards select the Shard-th (from 0) of Shards consecutive
	// slices of the batches (Shards 0 or 1: every batch). A shard other
	// than the first runs batch 0 too, to fix its histograms' bins, and
	// then counts its own batches only; Merge joins the shards.
	Shard, Shards int
	// Progress, when set, is called after each batch with the number of
	// batches done and the total (from one goroutine at a time).
	Progress func(done, total int)
}

// Calibration is what calibrating a plan's activations collected: for
// each of its groups a calibrators.Set (a histogram and a max calibrator
// fed the same batches), with how the data was batched and sharded.
// Amax computes every quantizer's amax from it, and it can be saved
// (MarshalBinary) and merged with the other shards of a data set.
type Calibration struct {
	plan *Plan
	sets []*calibrators.Set
	// the data: samples in the whole data set, the batch size, the
	// shard (Shard of Shards) and the batches counted here
	samples, batchSize int
	shards             []int // the shards held (one, or all merged)
	numShards          int
	batches            int
	// grew[g] is whether group g's histogram grew past its first batch's
	// range in the batches counted here.
	grew []bool
	// Inexact lists why a merge may differ from a single run (empty when
	// it equals one exactly).
	inexact []string
}

// Plan returns the plan the calibration is for.
func (c *Calibration) Plan() *Plan { return c.plan }

// Batches returns the number of batches counted (all shards merged).
func (c *Calibration) Batches() int { return c.batches }

// Samples returns the number of samples of the whole data set.
func (c *Calibration) Samples() int { return c.samples }

// BatchSize returns the batch size the data was calibrated with.
func (c *Calibration) BatchSize() int { return c.batchSize }

// Histogram returns a copy of the histogram calibrator of group g (see
// Plan.Groups). It panics if g is out of range.
func (c *Calibration) Histogram(g int) *calibrators.Histogram { return c.sets[g].Histogram() }

// Inexact returns the reasons why this merged calibration may differ from
// collecting every batch in one process (see Merge), or nil when it
// equals it exactly.
func (c *Calibration) Inexact() []string { return append([]string(nil), c.inexact...) }

// Calibrate runs the float graph over the batches of data and collects
// what each group of activation quantizers sees: its float input, as the
// original's calibration does (quantization off), observed as soon as it
// is computed (graph.Session.RunObserved). Memory does not grow with the
// data: batches are read in order as they are needed, and each group
// keeps one histogram.
//
// Batches run on o.Workers goroutines at once, each batch whole on one.
// The result does not depend on the number of workers: each group's
// calibrator takes the batches in data order (a batch that is ahead waits
// for the one before it at that group), so it collects exactly what one
// worker would, bin edges, growth and float32 count rounding included.
//
// With o.Shards > 1 it collects one slice of the batches (see
// CalibrateOptions); Merge joins the slices.
//
// It returns an error for bad options, data without a graph input or of
// another shape, a batch the graph fails on (naming it), and a
// calibrator's error (a NaN or infinite activation, naming the group's
// value and the batch).
func (p *Plan) Calibrate(data Data, o CalibrateOptions) (*Calibration, error) {
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Shards == 0 {
		o.Shards = 1
	}
	switch {
	case o.BatchSize < 0:
		return nil, fmt.Errorf("quantize: batch size %d", o.BatchSize)
	case o.Workers < 0:
		return nil, fmt.Errorf("quantize: %d workers", o.Workers)
	case o.Shards < 0 || o.Shard < 0 || o.Shard >= o.Shards:
		return nil, fmt.Errorf("quantize: shard %d of %d", o.Shard, o.Shards)
	}
	n := data.Len()
	all := batchRanges(n, o.BatchSize)
	if len(all) == 0 {
		return nil, fmt.Errorf("quantize: no calibration samples")
	}
	if o.Shards > len(all) {
		return nil, fmt.Errorf("quantize: %d shards of %d batches (%d samples, batch size %d): some shards would be empty", o.Shards, len(all), n, o.BatchSize)
	}
	own := all[o.Shard*len(all)/o.Shards : (o.Shard+1)*len(all)/o.Shards]
	c := &Calibration{plan: p, samples: n, batchSize: o.BatchSize, shards: []int{o.Shard}, numShards: o.Shards,
		batches: len(own), grew: make([]bool, len(p.Groups))}
	if err := c.newSets(); err != nil {
		return nil, err
	}
	workers := o.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if o.Shard > 0 {
		// Batch 0 fixes the bins; this shard counts its own batches only.
		if err := p.collect(c.sets, data, all[:1], o.BatchSize, 1, nil); err != nil {
			return nil, err
		}
		for g, s := range c.sets {
			c.sets[g] = s.Fork()
		}
	}
	if err := p.collect(c.sets, data, own, o.BatchSize, workers, o.Progress); err != nil {
		return nil, err
	}
	for g, s := range c.sets {
		c.grew[g] = s.Histogram().NumBins() != p.Options.NumBins
	}
	return c, nil
}

// newSets gives c an empty calibration set per group.
func (c *Calibration) newSets() error {
	c.sets = make([]*calibrators.Set, len(c.plan.Groups))
	for g, grp := range c.plan.Groups {
		s, err := calibrators.NewSet(calibrators.HistogramOptions{NumBins: c.plan.Options.NumBins, Unsigned: grp.Unsigned})
		if err != nil {
			return fmt.Errorf("quantize: %w", err)
		}
		c.sets[g] = s
	}
	return nil
}

// turnstile lets each group's calibrator take the batches in order: the
// worker of batch k collects into group g only after batch k-1 has.
type turnstile struct {
	mu   sync.Mutex
	cond sync.Cond
	turn []int // per group: the batch allowed next
	err  error
}

func newTurnstile(groups int) *turnstile {
	t := &turnstile{turn: make([]int, groups)}
	t.cond.L = &t.mu
	return t
}

// wait blocks until it is batch k's turn at group g, or a batch failed
// (its error).
func (t *turnstile) wait(g, k int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for t.turn[g] != k && t.err == nil {
		t.cond.Wait()
	}
	return t.err
}

// pass gives group g to the next batch.
func (t *turnstile) pass(g int) {
	t.mu.Lock()
	t.turn[g]++
	t.mu.Unlock()
	t.cond.Broadcast()
}

// fail records the first error and wakes every waiter.
func (t *turnstile) fail(err error) {
	t.mu.Lock()
	if t.err == nil {
		t.err = err
	}
	t.mu.Unlock()
	t.cond.Broadcast()
}

func (t *turnstile) failed() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// collect runs the graph over the batches (sample ranges) of data on up
// to workers goroutines and collects each group's value into sets, in
// batch order (turnstile).
func (p *Plan) collect(sets []*calibrators.Set, data Data, batches [][2]int, batchSize, workers int, progress func(done, total int)) error {
	workers = max(1, min(workers, len(batches)))
	threads := max(1, runtime.GOMAXPROCS(0)/workers)
	groupsOf := map[string][]int{}
	var watch []string
	for g, grp := range p.Groups {
		if _, ok := groupsOf[grp.Value]; !ok {
			watch = append(watch, grp.Value)
		}
		groupsOf[grp.Value] = append(groupsOf[grp.Value], g)
	}
	s, err := graph.NewSession(p.g, graph.Options{Threads: threads, Keep: watch})
	if err != nil {
		return err
	}
	ts := newTurnstile(len(p.Groups))
	type job struct {
		k     int
		feeds map[string]*graph.Tensor
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	var pmu sync.Mutex
	done := 0
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				r := batches[j.k]
				where := fmt.Sprintf("batch %d (samples %d to %d)", r[0]/batchSize, r[0], r[1]-1)
				_, err := s.RunObserved(j.feeds, watch, func(name string, t *graph.Tensor) error {
					x, err := t.AsFloat()
					if err != nil {
						return err
					}
					for _, g := range groupsOf[name] {
						if err := ts.wait(g, j.k); err != nil {
							return errSkip
						}
						err := sets[g].Collect(x)
						ts.pass(g)
						if err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					if !errors.Is(err, errSkip) {
						ts.fail(fmt.Errorf("quantize: %s: %w", where, err))
					}
					continue
				}
				if progress != nil {
					pmu.Lock()
					done++
					progress(done, len(batches))
					pmu.Unlock()
				}
			}
		}()
	}
	var readErr error
	for k, r := range batches {
		if ts.failed() != nil {
			break
		}
		feeds, err := data.Read(r[0], r[1])
		if err != nil {
			readErr = err
			ts.fail(err)
			break
		}
		jobs <- job{k, feeds}
	}
	close(jobs)
	wg.Wait()
	if readErr != nil {
		return readErr
	}
	return ts.failed()
}

// errSkip ends a run whose batch cannot be collected because another
// batch failed (the turnstile's error is reported instead).
var errSkip = errors.New("another batch failed")
