package layers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tensorquant/tensorquant/data/digits"
	"github.com/tensorquant/tensorquant/tensor"
)

// digitsCNN is the small CNN of the seed's workflow, for 8×8 digits.
func digitsCNN(t testing.TB, seed uint64) Layer {
	rng := testRNG(seed)
	features := NewSequential(
		must(NewConv2d(1, 8, 3, ConvOptions{Padding: 1}, rng)), NewReLU(),
		must(NewMaxPool2d(2, PoolOptions{})),
		must(NewConv2d(8, 16, 3, ConvOptions{Padding: 1}, rng)), NewReLU(),
		must(NewMaxPool2d(2, PoolOptions{})),
	)
	classifier := NewSequential(NewFlatten(1, -1), must(NewLinear(16*2*2, 10, true, rng)))
	m, err := NewNamedSequential(Named{"features", features}, Named{"classifier", classifier})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTrainDigits trains the CNN for 10 epochs (about a second natively;
// ExampleFit covers a shorter run under -short).
func TestTrainDigits(t *testing.T) {
	if testing.Short() {
		t.Skip("10 training epochs are slow under -race and qemu; ExampleFit trains for 6")
	}
	set, err := digits.Load()
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := set.Split(0.2, 1)
	if err != nil {
		t.Fatal(err)
	}
	model := digitsCNN(t, 1)
	params, err := NamedParams(model)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := NewAdam(params, DefaultAdam(0.01))
	if err != nil {
		t.Fatal(err)
	}
	epochs := 10
	start := time.Now()
	calls := 0
	losses, err := Fit(model, train.X, train.Labels, FitConfig{
		Epochs: epochs, BatchSize: 32, Optimizer: opt, Schedule: NewCosineAnnealing(0.01, epochs), Seed: 1,
		Progress: func(p Progress) { calls++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := Accuracy(model, test.X, test.Labels, 256)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d epochs in %v, losses %.4f, test accuracy %.4f", epochs, time.Since(start), losses, acc)
	if acc < 0.95 {
		t.Errorf("test accuracy %.4f, want >= 0.95", acc)
	}
	if want := epochs * ((train.Len() + 31) / 32); calls != want {
		t.Errorf("progress called %d times, want %d", calls, want)
	}
}

// TestFitDeterministic trains twice with the same seeds (and once with
// another shuffling seed) on a small slice of the digits: the same seeds
// give the same bits.
func TestFitDeterministic(t *testing.T) {
	set := must(digits.Load())
	sub := tensorOf(set.X.Data[:96*64], 96, 1, 8, 8)
	labels := set.Labels[:96]
	run := func(seed uint64) ([]float64, []Param) {
		model := digitsCNN(t, 3)
		params := must(NamedParams(model))
		opt := must(NewSGD(params, SGDConfig{LR: 0.05, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4}))
		sched := NewCosineAnnealing(0.05, 2)
		var last []Progress
		losses, err := Fit(model, sub, labels, FitConfig{Epochs: 2, BatchSize: 16, Optimizer: opt, Schedule: sched, Seed: seed,
			Progress: func(p Progress) {
				if p.LearningRate != sched.Rate(p.Epoch) || p.Batches != 6 {
					t.Errorf("progress %+v: want 6 batches at rate %v", p, sched.Rate(p.Epoch))
				}
				if p.Batch == p.Batches {
					last = append(last, p)
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		for e, p := range last {
			if p.EpochLoss != losses[e] {
				t.Errorf("epoch %d: progress reports mean loss %v, Fit returns %v", e, p.EpochLoss, losses[e])
			}
		}
		return losses, params
	}
	l1, p1 := run(1)
	l2, p2 := run(1)
	l3, _ := run(2)
	if len(l1) != 2 || l1[0] != l2[0] || l1[1] != l2[1] {
		t.Fatalf("losses %v and %v with the same seed", l1, l2)
	}
	for i := range p1 {
		sameData(t, p1[i].Name, p2[i].Value.Data, p1[i].Value.Data)
	}
	if l3[1] == l1[1] {
		t.Error("another shuffling seed gave the same loss")
	}
}

func TestFitErrors(t *testing.T) {
	model := digitsCNN(t, 1)
	opt := must(NewAdam(must(NamedParams(model)), DefaultAdam(0.01)))
	x := tensor.New(4, 1, 8, 8)
	for _, tc := range []struct {
		name   string
		x      *tensor.Tensor
		labels []int
		cfg    FitConfig
		want   string
	}{
		{"labels", x, []int{1, 2}, FitConfig{Epochs: 1, BatchSize: 2, Optimizer: opt}, "samples of shape [4 1 8 8] with 2 labels"},
		{"batch", x, []int{1, 2, 3, 4}, FitConfig{Epochs: 1, Optimizer: opt}, "batch size 0"},
		{"optimizer", x, []int{1, 2, 3, 4}, FitConfig{Epochs: 1, BatchSize: 2}, "layers: fit: no optimizer"},
		{"epochs", x, []int{1, 2, 3, 4}, FitConfig{Epochs: -1, BatchSize: 2, Optimizer: opt}, "layers: fit: epochs -1 is negative"},
		{"label range", x, []int{1, 2, 3, 10}, FitConfig{Epochs: 1, BatchSize: 4, Optimizer: opt}, "label 10 of sample 3 is outside [0, 10)"},
		{"shape", tensor.New(4, 2, 8, 8), []int{1, 2, 3, 4}, FitConfig{Epochs: 1, BatchSize: 4, Optimizer: opt}, "features.0 Conv2d(1, 8"},
	} {
		// Short: the optimizer's struct once made an 8 KB message.
		_, err := Fit(model, tc.x, tc.labels, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || len(err.Error()) > 200 {
			t.Errorf("%s: error %.300v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := Predict(model, x, 0); err == nil {
		t.Error("Predict with batch size 0: no error")
	}
	if _, err := Accuracy(model, tensor.New(0, 1, 8, 8), nil, 4); err == nil {
		t.Error("Accuracy of no samples: no error")
	}
	pred := must(Predict(model, x, 3))
	if len(pred) != 4 {
		t.Errorf("Predict gave %d classes for 4 samples", len(pred))
	}
}

// TestFitLoopBatchSchedule: FitLoop calls step with every sample once per
// epoch in batches of BatchSize (the last shorter), and a BatchSchedule
// sets the learning rate of each batch of the run in order.
func TestFitLoopBatchSchedule(t *testing.T) {
	w := tensor.New(1)
	opt, err := NewSGD([]Param{{Name: "w", Value: w, Grad: tensor.New(1)}}, SGDConfig{LR: 1})
	if err != nil {
		t.Fatal(err)
	}
	sched := CosineAnnealing{Base: 1, Min: 0.01, Epochs: 6}
	var rates []float64
	var sizes []int
	seen := map[int]int{}
	losses, err := FitLoop(10, FitConfig{Epochs: 2, BatchSize: 4, Optimizer: opt, BatchSchedule: sched, Seed: 3,
		Progress: func(p Progress) { rates = append(rates, p.LearningRate) }}, func(idx []int) (float64, error) {
		sizes = append(sizes, len(idx))
		for _, i := range idx {
			seen[i]++
		}
		return float64(len(idx)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for b, r := range rates {
		if r != sched.Rate(b) {
			t.Errorf("batch %d: learning rate %v, want %v", b, r, sched.Rate(b))
		}
	}
	if len(rates) != 6 || fmt.Sprint(sizes) != "[4 4 2 4 4 2]" || len(seen) != 10 || fmt.Sprint(losses) != "[3.3333333333333335 3.3333333333333335]" {
		t.Errorf("rates %v, batch sizes %v, samples %v, losses %v", rates, sizes, seen, losses)
	}
	for i, c := range seen {
		if c != 2 {
			t.Errorf("sample %d seen %d times in 2 epochs", i, c)
		}
	}
}
