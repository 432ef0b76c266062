package layers_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/npy"
)

// A PyTorch model's weights, saved with
//
//	np.savez("model.npz", **{k: v.numpy() for k, v in net.state_dict().items()})
//
// load into the same architecture built from layers (see
// testdata/statedict/gen.py), which then computes what PyTorch computes.
func ExampleLoadStateDict() {
	rng := rand.New(rand.NewPCG(1, 2)) // initial weights, replaced by the load
	conv, _ := layers.NewConv2d(1, 4, 3, layers.ConvOptions{Padding: 1}, rng)
	bn, _ := layers.NewBatchNorm2d(4)
	pool, _ := layers.NewMaxPool2d(2, layers.PoolOptions{})
	fc, _ := layers.NewLinear(64, 5, true, rng)
	model, _ := layers.NewNamedSequential(
		layers.Named{Name: "features", Layer: layers.NewSequential(conv, bn, layers.NewReLU(), pool)},
		layers.Named{Name: "flatten", Layer: layers.NewFlatten(1, -1)},
		layers.Named{Name: "classifier", Layer: fc})

	if err := layers.LoadStateDict(model, "testdata/statedict/model.npz"); err != nil {
		panic(err)
	}
	layers.SetTraining(model, false)
	x, _ := npy.ReadFile("testdata/statedict/input.npy")
	y, _ := model.Forward(x)
	for i := range 2 {
		fmt.Printf("%.4f\n", y.Data[5*i:5*i+5])
	}
	// Output:
	// [0.2007 0.1871 0.2635 0.2045 -0.3137]
	// [-0.3449 -0.1524 0.2030 0.0841 0.0202]
}
