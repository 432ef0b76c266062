package layers

import (
	"testing"
	"time"

	"github.com/tensorquant/tensorquant/data/digits"
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
