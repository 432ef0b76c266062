package quantize

import (
	"fmt"
	"slices"

	"github.com/tensorquant/tensorquant/graph"
)

// Data is a calibration (or evaluation) data set: for every graph input,
// samples along the first axis.
type Data interface {
	// Len returns the number of samples.
	Len() int
	// Read returns samples [lo, hi) of every input, by graph input name,
	// each of shape [hi-lo, ...]. Calibrate calls it with increasing lo, so
	// that a Data may stream from disk. The tensors it returns are only
	// read, while later batches are read: they must not change after the
	// call.
	Read(lo, hi int) (map[string]*graph.Tensor, error)
}

// tensors is Data held in memory.
type tensors struct {
	m map[string]*graph.Tensor
	n int
}

// Tensors returns the data set of in-memory tensors, one per graph input
// (by name), whose first axis is the sample. It returns an error for an
// invalid tensor, a scalar, or tensors of different numbers of samples.
func Tensors(inputs map[string]*graph.Tensor) (Data, error) {
	d := &tensors{m: inputs, n: -1}
	names := make([]string, 0, len(inputs))
	for name := range inputs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t := inputs[name]
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("quantize: input %q: %w", name, err)
		}
		if len(t.Shape) == 0 {
			return nil, fmt.Errorf("quantize: input %q is a scalar: the first axis must be the sample", name)
		}
		if d.n >= 0 && t.Shape[0] != d.n {
			return nil, fmt.Errorf("quantize: input %q has %d samples, %q has %d", name, t.Shape[0], names[0], d.n)
		}
		d.n = t.Shape[0]
	}
	if d.n < 0 {
		return nil, fmt.Errorf("quantize: no input tensors")
	}
	return d, nil
}

func (d *tensors) Len() int { return d.n }

func (d *tensors) Read(lo, hi int) (map[string]*graph.Tensor, error) {
	if lo < 0 || hi > d.n || lo > hi {
		return nil, fmt.Errorf("quantize: samples [%d, %d) of %d", lo, hi, d.n)
	}
	out := make(map[string]*graph.Tensor, len(d.m))
	for name, t := range d.m {
		r, err := t.Rows(lo, hi)
		if err != nil {
			return nil, err
		}
		out[name] = r
	}
	return out, nil
}

// batchRanges returns the sample ranges of the batches of n samples of
// size batch, in order: the last may be shorter.
func batchRanges(n, batch int) [][2]int {
	var out [][2]int
	for lo := 0; lo < n; lo += batch {
		out = append(out, [2]int{lo, min(n, lo+batch)})
	}
	return out
}
