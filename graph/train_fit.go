package graph

import (
	"fmt"
	"slices"

	"github.com/tensorquant/tensorquant/layers"
)

// Fit trains the parameters on a data set: inputs holds, for every graph
// input the Trainer needs (Inputs), the samples along the first
// dimension ([N, ...], of the input's type), and target the N targets of
// Loss (labels [N], or values of the output's shape). The epochs,
// shuffled mini-batches, learning-rate schedule and updates are
// layers.FitLoop's with cfg, whose Optimizer must be built on Params: a
// graph converted from a layers model (FromLayers) trains, with the same
// data, seed and optimizer and one thread, as layers.Fit trains the
// model. It returns the mean loss of every epoch, and an error for
// inputs that are missing or disagree on N, a target of another N, the
// errors of layers.FitLoop and those of Grad.
func (t *Trainer) Fit(inputs map[string]*Tensor, target *Tensor, cfg layers.FitConfig) ([]float64, error) {
	specs := t.Inputs()
	n := -1
	for _, spec := range specs {
		x, ok := inputs[spec.Name]
		if !ok || x == nil {
			return nil, fmt.Errorf("graph: fit: no samples for input %q", spec.Name)
		}
		if err := x.Validate(); err != nil {
			return nil, fmt.Errorf("graph: fit: input %q: %w", spec.Name, err)
		}
		if len(x.Shape) == 0 || n >= 0 && x.Shape[0] != n {
			return nil, fmt.Errorf("graph: fit: input %q has shape %v: every input needs the same number of samples along its first dimension", spec.Name, x.Shape)
		}
		n = x.Shape[0]
	}
	if len(inputs) != len(specs) {
		for name := range inputs {
			if !slices.ContainsFunc(specs, func(s ValueSpec) bool { return s.Name == name }) {
				return nil, fmt.Errorf("graph: fit: %q is not an input of the graph", name)
			}
		}
	}
	if target == nil || target.Validate() != nil || len(target.Shape) == 0 || target.Shape[0] != n {
		return nil, fmt.Errorf("graph: fit: target %v for %d samples", target, n)
	}
	return layers.FitLoop(max(n, 0), cfg, func(idx []int) (float64, error) {
		batch := make(map[string]*Tensor, len(inputs))
		for name, x := range inputs {
			batch[name] = takeRows(x, idx)
		}
		return t.Grad(batch, takeRows(target, idx))
	})
}

// takeRows returns the rows idx of x along its first dimension, in
// order, as a new tensor.
func takeRows(x *Tensor, idx []int) *Tensor {
	shape := append([]int{len(idx)}, x.Shape[1:]...)
	out := &Tensor{DType: x.DType, Shape: shape}
	out.alloc(prod(shape))
	per := prod(x.Shape[1:])
	sw, dw := wordsOf(x), wordsOf(out)
	switch {
	case dw.b4 != nil:
		copyRows(dw.b4, sw.b4, idx, per)
	case dw.b8 != nil:
		copyRows(dw.b8, sw.b8, idx, per)
	case dw.b1 != nil:
		copyRows(dw.b1, sw.b1, idx, per)
	}
	return out
}

// copyRows copies rows idx of src (per elements each) into dst, in order.
func copyRows[T any](dst, src []T, idx []int, per int) {
	for i, j := range idx {
		copy(dst[i*per:(i+1)*per], src[j*per:(j+1)*per])
	}
}
