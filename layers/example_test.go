package layers_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/tensorquant/tensorquant/data/digits"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/tensor"
)

// newCNN builds the small CNN of the seed's workflow for 8×8 digits.
func newCNN(seed uint64) (*layers.Sequential, error) {
	rng := rand.New(rand.NewPCG(seed, 0))
	conv1, err := layers.NewConv2d(1, 8, 3, layers.ConvOptions{Padding: 1}, rng)
	if err != nil {
		return nil, err
	}
	conv2, err := layers.NewConv2d(8, 16, 3, layers.ConvOptions{Padding: 1}, rng)
	if err != nil {
		return nil, err
	}
	pool1, _ := layers.NewMaxPool2d(2, layers.PoolOptions{})
	pool2, _ := layers.NewMaxPool2d(2, layers.PoolOptions{})
	fc, err := layers.NewLinear(16*2*2, 10, true, rng)
	if err != nil {
		return nil, err
	}
	return layers.NewNamedSequential(
		layers.Named{Name: "features", Layer: layers.NewSequential(conv1, layers.NewReLU(), pool1, conv2, layers.NewReLU(), pool2)},
		layers.Named{Name: "classifier", Layer: layers.NewSequential(layers.NewFlatten(1, -1), fc)},
	)
}

func Example() {
	model, err := newCNN(1)
	if err != nil {
		panic(err)
	}
	fmt.Println(layers.Describe(model))
	// Bad input is an error naming the layer and the shapes.
	_, err = model.Forward(tensor.New(4, 3, 8, 8))
	fmt.Println(err)
	// Output:
	// Sequential(
	//   (features): Sequential(
	//     (0): Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
	//     (1): ReLU()
	//     (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
	//     (3): Conv2d(8, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
	//     (4): ReLU()
	//     (5): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
	//   )
	//   (classifier): Sequential(
	//     (0): Flatten(start_dim=1, end_dim=-1)
	//     (1): Linear(in_features=64, out_features=10, bias=True)
	//   )
	// )
	// layers: features.0 Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)): input shape [4 3 8 8]: has 3 channels, want 1
}

func ExampleFit() {
	set, err := digits.Load()
	if err != nil {
		panic(err)
	}
	train, test, err := set.Split(0.2, 1)
	if err != nil {
		panic(err)
	}
	model, err := newCNN(1)
	if err != nil {
		panic(err)
	}
	params, err := layers.NamedParams(model)
	if err != nil {
		panic(err)
	}
	opt, err := layers.NewAdam(params, layers.DefaultAdam(0.01))
	if err != nil {
		panic(err)
	}
	const epochs = 6
	_, err = layers.Fit(model, train.X, train.Labels, layers.FitConfig{
		Epochs: epochs, BatchSize: 32, Optimizer: opt,
		Schedule: layers.NewCosineAnnealing(0.01, epochs), Seed: 1,
		Progress: func(p layers.Progress) {
			if p.Batch == p.Batches && p.Epoch == epochs-1 {
				fmt.Printf("epoch %d/%d: %d batches\n", p.Epoch+1, p.Epochs, p.Batches)
			}
		},
	})
	if err != nil {
		panic(err)
	}
	acc, err := layers.Accuracy(model, test.X, test.Labels, 256)
	if err != nil {
		panic(err)
	}
	fmt.Println("test accuracy above 95%:", acc > 0.95)
	// Output:
	// epoch 6/6: 45 batches
	// test accuracy above 95%: true
}

func ExampleWalk() {
	model, err := newCNN(1)
	if err != nil {
		panic(err)
	}
	err = layers.Walk(model, func(name string, l layers.Layer) error {
		if strings.HasPrefix(l.Kind(), "Conv") || l.Kind() == "Linear" {
			fmt.Println(name, l.Kind())
		}
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// features.0 Conv2d
	// features.3 Conv2d
	// classifier.1 Linear
}

func ExampleSaveCheckpoint() {
	a, _ := newCNN(1)
	b, _ := newCNN(2) // different weights
	path := filepath.Join(os.TempDir(), "tensorquant-example.tqckpt")
	defer os.Remove(path)
	if err := layers.SaveCheckpoint(path, a); err != nil {
		panic(err)
	}
	if err := layers.LoadCheckpoint(path, b); err != nil {
		panic(err)
	}
	pa, _ := layers.NamedParams(a)
	pb, _ := layers.NamedParams(b)
	fmt.Println(pa[0].Name, pa[0].Value.Data[0] == pb[0].Value.Data[0])
	// Output:
	// features.0.weight true
}

func ExampleRegisterForwardHook() {
	model, err := newCNN(1)
	if err != nil {
		panic(err)
	}
	// Capture the activations of the first convolution, as PyTorch's
	// register_forward_hook does.
	var act *tensor.Tensor
	h, err := layers.RegisterForwardHook(model, "features.0", func(name string, l layers.Layer, x, y *tensor.Tensor) (*tensor.Tensor, error) {
		act = y
		return nil, nil // keep the output
	})
	if err != nil {
		panic(err)
	}
	defer h.Remove()
	if _, err := model.Forward(tensor.New(2, 1, 8, 8)); err != nil {
		panic(err)
	}
	fmt.Println("features.0 output:", act.Shape)
	// Output:
	// features.0 output: [2 8 8 8]
}
