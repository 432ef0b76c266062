package layers

import (
	"fmt"
	"math/rand/v2"

	"github.com/tensorquant/tensorquant/tensor"
)

// FitConfig configures Fit. Build the optimizer from NamedParams once the
// model is final (after any layer replacement): it keeps the parameter
// tensors it was given.
type FitConfig struct {
	Epochs    int
	BatchSize int
	Optimizer Optimizer
	// Schedule, when not nil, sets the optimizer's learning rate at the
	// start of every epoch.
	Schedule Schedule
	// BatchSchedule, when not nil, sets the optimizer's learning rate
	// before every batch instead: Rate(b) for the b-th batch of the whole
	// run (0-based, counted across epochs), so that a CosineAnnealing
	// whose Epochs is the number of batches anneals within a run of one
	// or two epochs.
	BatchSchedule Schedule
	// Seed seeds the shuffling of the samples before every epoch: the
	// same seed (and model, data and optimizer) gives the same result.
	Seed uint64
	// Progress, when not nil, is called after every batch.
	Progress func(Progress)
}

// Progress reports one finished training batch.
type Progress struct {
	Epoch, Epochs  int     // 0-based epoch, and the total
	Batch, Batches int     // batches done in this epoch (1-based), and the total
	Loss           float64 // this batch's mean loss
	EpochLoss      float64 // mean loss over the epoch's batches so far
	LearningRate   float64
}

// Fit trains model on the samples x (shape [N, ...]) with class labels
// (len N) for cfg.Epochs epochs of shuffled mini-batches, minimising
// CrossEntropy of the model's [batch, classes] output with cfg.Optimizer,
// whose parameters should be the model's (NamedParams). The model is put in
// training mode first. It returns the mean loss of every epoch, and an
// error for inconsistent data, no samples, negative epochs, a batch size
// < 1, no optimizer, or any error of the model (naming the failing layer).
func Fit(model Layer, x *tensor.Tensor, labels []int, cfg FitConfig) ([]float64, error) {
	n, per, err := checkData(x, labels)
	if err != nil {
		return nil, err
	}
	if err := cfg.check(n); err != nil {
		return nil, err
	}
	if err := SetTraining(model, true); err != nil {
		return nil, err
	}
	return FitLoop(n, cfg, func(idx []int) (float64, error) {
		bx, by := gather(x, labels, per, idx)
		if err := ZeroGrad(model); err != nil {
			return 0, err
		}
		out, err := model.Forward(bx)
		if err != nil {
			return 0, err
		}
		loss, dout, err := CrossEntropy(out, by)
		if err != nil {
			return 0, fmt.Errorf("layers: fit: model output: %w", err)
		}
		if _, err := model.Backward(dout); err != nil {
			return 0, err
		}
		return loss, nil
	})
}

// check returns Fit's error for a configuration it cannot run on n
// samples.
func (cfg *FitConfig) check(n int) error {
	switch {
	case cfg.Epochs < 0:
		return fmt.Errorf("layers: fit: epochs %d is negative", cfg.Epochs)
	case cfg.BatchSize < 1:
		return fmt.Errorf("layers: fit: batch size %d, want at least 1", cfg.BatchSize)
	case cfg.Optimizer == nil:
		return fmt.Errorf("layers: fit: no optimizer")
	case n < 1:
		return fmt.Errorf("layers: fit: no samples")
	}
	return nil
}

// FitLoop is Fit's schedule for any model that computes its own
// gradients (a graph.Trainer, or Fit's layers): for cfg.Epochs epochs it
// sets the optimizer's learning rate (cfg.Schedule; cfg.BatchSchedule
// before every batch), shuffles the n
// sample indices (seeded by cfg.Seed), and for each batch of
// cfg.BatchSize of them (the last one shorter) calls step, which sets
// the gradients of the optimizer's parameters for those samples and
// returns the batch's mean loss, then cfg.Optimizer.Step; it reports
// every batch to cfg.Progress. The same n, configuration and step give
// Fit's sequence of batches and updates exactly. It returns the mean loss
// of every epoch, and an error for negative epochs, a batch size < 1, no
// optimizer, no samples, and the first error of step or of the
// optimizer (with the losses of the epochs before).
func FitLoop(n int, cfg FitConfig, step func(idx []int) (float64, error)) ([]float64, error) {
	if err := cfg.check(n); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x66697421))
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	batches := (n + cfg.BatchSize - 1) / cfg.BatchSize
	var losses []float64
	for epoch := range cfg.Epochs {
		if cfg.Schedule != nil {
			cfg.Optimizer.SetLR(cfg.Schedule.Rate(epoch))
		}
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		var sum float64
		for b := range batches {
			if cfg.BatchSchedule != nil {
				cfg.Optimizer.SetLR(cfg.BatchSchedule.Rate(epoch*batches + b))
			}
			loss, err := step(order[b*cfg.BatchSize : min(n, (b+1)*cfg.BatchSize)])
			if err != nil {
				return losses, err
			}
			if err := cfg.Optimizer.Step(); err != nil {
				return losses, err
			}
			sum += loss
			if cfg.Progress != nil {
				cfg.Progress(Progress{Epoch: epoch, Epochs: cfg.Epochs, Batch: b + 1, Batches: batches,
					Loss: loss, EpochLoss: sum / float64(b+1), LearningRate: cfg.Optimizer.LR()})
			}
		}
		losses = append(losses, sum/float64(batches))
	}
	return losses, nil
}

// checkData validates a data set and returns its sample count and the
// number of elements per sample.
func checkData(x *tensor.Tensor, labels []int) (n, per int, err error) {
	if err := x.Validate(); err != nil {
		return 0, 0, fmt.Errorf("layers: data: %w", err)
	}
	if len(x.Shape) < 1 || x.Shape[0] != len(labels) {
		return 0, 0, fmt.Errorf("layers: data: samples of shape %v with %d labels", x.Shape, len(labels))
	}
	n = x.Shape[0]
	if n > 0 {
		per = len(x.Data) / n
	}
	return n, per, nil
}

// gather copies the samples idx of x (per elements each) and their labels
// into a new batch.
func gather(x *tensor.Tensor, labels []int, per int, idx []int) (*tensor.Tensor, []int) {
	shape := append([]int{len(idx)}, x.Shape[1:]...)
	bx := tensor.New(shape...)
	by := make([]int, len(idx))
	for i, j := range idx {
		copy(bx.Data[i*per:(i+1)*per], x.Data[j*per:(j+1)*per])
		by[i] = labels[j]
	}
	return bx, by
}

// Predict runs model in evaluation mode on x (shape [N, ...]) in batches
// of batchSize and returns each sample's highest-scoring class (the first
// on ties). It returns an error for a batch size < 1 or any error of the
// model.
func Predict(model Layer, x *tensor.Tensor, batchSize int) ([]int, error) {
	if err := x.Validate(); err != nil || len(x.Shape) < 1 {
		return nil, fmt.Errorf("layers: predict: input shape %v: want [N, ...]", x.Shape)
	}
	if batchSize < 1 {
		return nil, fmt.Errorf("layers: predict: batch size %d", batchSize)
	}
	if err := SetTraining(model, false); err != nil {
		return nil, err
	}
	n := x.Shape[0]
	per := 0
	if n > 0 {
		per = len(x.Data) / n
	}
	pred := make([]int, 0, n)
	for b := 0; b < n; b += batchSize {
		e := min(n, b+batchSize)
		bx := &tensor.Tensor{Shape: append([]int{e - b}, x.Shape[1:]...), Data: x.Data[b*per : e*per]}
		out, err := model.Forward(bx)
		if err != nil {
			return nil, err
		}
		if len(out.Shape) != 2 || out.Shape[0] != e-b || out.Shape[1] < 1 {
			return nil, fmt.Errorf("layers: predict: model output shape %v for %d samples: want [%d, classes]", out.Shape, e-b, e-b)
		}
		c := out.Shape[1]
		for i := range e - b {
			row := out.Data[i*c : (i+1)*c]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			pred = append(pred, best)
		}
	}
	return pred, nil
}

// Accuracy returns the fraction of samples of x (shape [N, ...]) whose
// predicted class (Predict, in evaluation mode) equals the label. It
// returns an error for inconsistent data, no samples or any error of the
// model.
func Accuracy(model Layer, x *tensor.Tensor, labels []int, batchSize int) (float64, error) {
	n, _, err := checkData(x, labels)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("layers: accuracy: no samples")
	}
	pred, err := Predict(model, x, batchSize)
	if err != nil {
		return 0, err
	}
	right := 0
	for i, p := range pred {
		if p == labels[i] {
			right++
		}
	}
	return float64(right) / float64(n), nil
}
