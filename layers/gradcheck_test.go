package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
	"github.com/tensorquant/tensorquant/tensor"
)

func testRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 99)) }

// randTensor returns a tensor of the given shape with N(0, 1) entries.
func randTensor(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(rng.NormFloat64())
	}
	return t
}

// spacedTensor returns a tensor whose entries are a random permutation of
// distinct values 0.05 apart, at least 0.05 away from 0, so that a finite
// difference step of 1e-2 never changes a max-pooling choice or a ReLU
// branch.
func spacedTensor(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	perm := rng.Perm(len(t.Data))
	for i, p := range perm {
		v := 0.05 * float32(p-len(t.Data)/2)
		if v >= 0 {
			v += 0.05
		}
		t.Data[i] = v
	}
	return t
}

// objective returns sum(forward(x)·r) in float64.
func objective(t *testing.T, l Layer, x *tensor.Tensor, r *tensor.Tensor) float64 {
	t.Helper()
	y, err := l.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	var s float64
	for i, v := range y.Data {
		s += float64(v) * float64(r.Data[i])
	}
	return s
}

// gradCheck compares the analytic gradients of L = sum(l(x)·r), for a
// random r, with central finite differences of step h, for the input and
// every parameter. An element passes when |analytic - numeric| <= tol·(the
// largest |numeric| of that tensor + |numeric|).
func gradCheck(t *testing.T, l Layer, x *tensor.Tensor, tol float64) {
	t.Helper()
	const h = 1e-2
	y, err := l.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	r := randTensor(testRNG(7), y.Shape...)
	if err := ZeroGrad(l); err != nil {
		t.Fatal(err)
	}
	// Forward again right before Backward: objective() calls below
	// overwrite what Forward saved.
	if _, err := l.Forward(x); err != nil {
		t.Fatal(err)
	}
	dx, err := l.Backward(r)
	if err != nil {
		t.Fatal(err)
	}
	if !tensor.SameShape(dx.Shape, x.Shape) {
		t.Fatalf("input gradient shape %v, input %v", dx.Shape, x.Shape)
	}
	params, err := NamedParams(l)
	if err != nil {
		t.Fatal(err)
	}
	analytic := map[string][]float32{"input": append([]float32{}, dx.Data...)}
	targets := map[string][]float32{"input": x.Data}
	names := []string{"input"}
	for _, p := range params {
		analytic[p.Name] = append([]float32{}, p.Grad.Data...)
		targets[p.Name] = p.Value.Data
		names = append(names, p.Name)
	}
	// A second Backward adds the same gradients again.
	if _, err := l.Backward(r); err != nil {
		t.Fatal(err)
	}
	for _, p := range params {
		for i, g := range p.Grad.Data {
			if want := 2 * analytic[p.Name][i]; g != want {
				t.Fatalf("%s: after two Backward calls %s[%d] = %v, want %v", l, p.Name, i, g, want)
			}
		}
	}
	for _, name := range names {
		data := targets[name]
		num := make([]float64, len(data))
		for i := range data {
			old := data[i]
			data[i] = old + h
			fp := objective(t, l, x, r)
			data[i] = old - h
			fm := objective(t, l, x, r)
			data[i] = old
			num[i] = (fp - fm) / (2 * h)
		}
		scale := 1e-3
		for _, v := range num {
			scale = math.Max(scale, math.Abs(v))
		}
		for i, a := range analytic[name] {
			if d := math.Abs(float64(a) - num[i]); d > tol*(scale+math.Abs(num[i])) {
				t.Fatalf("%s: gradient of %s[%d] = %v, finite differences give %v (scale %v)", l, name, i, a, num[i], scale)
			}
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestGradients(t *testing.T) {
	rng := testRNG(1)
	conv := func(spec ConvSpec) Layer { return must(NewConv(spec, rng)) }
	bnTrain := func(l Layer) Layer { return l }
	bnEval := func(l Layer) Layer {
		l.(Trainer).SetTraining(false)
		st := l.(Stateful)
		for _, b := range st.State() {
			for i := range b.Tensor.Data {
				b.Tensor.Data[i] = 0.5 + float32(i)*0.1
			}
		}
		return l
	}
	bnAffine := func(l Layer) Layer {
		for _, p := range l.Params() {
			for i := range p.Value.Data {
				p.Value.Data[i] = float32(rng.NormFloat64())
			}
		}
		return l
	}
	cases := []struct {
		name  string
		layer Layer
		shape []int
		tol   float64
	}{
		{"Linear", must(NewLinear(5, 3, true, rng)), []int{4, 5}, 1e-2},
		{"Linear/nobias/3d", must(NewLinear(4, 6, false, rng)), []int{2, 3, 4}, 1e-2},
		{"Conv1d", conv(ConvSpec{InChannels: 2, OutChannels: 3, KernelSize: []int{3}, Bias: true}), []int{2, 2, 9}, 1e-2},
		{"Conv1d/stride2/pad2/dil2", conv(ConvSpec{InChannels: 2, OutChannels: 4, KernelSize: []int{3}, Stride: []int{2}, Padding: []int{2}, Dilation: []int{2}, Bias: true}), []int{2, 2, 11}, 1e-2},
		{"Conv2d", conv(ConvSpec{InChannels: 2, OutChannels: 3, KernelSize: []int{3, 3}, Padding: []int{1}, Bias: true}), []int{2, 2, 5, 5}, 1e-2},
		{"Conv2d/stride2/rect", conv(ConvSpec{InChannels: 3, OutChannels: 2, KernelSize: []int{2, 3}, Stride: []int{2, 1}, Padding: []int{1, 0}, Bias: true}), []int{2, 3, 5, 6}, 1e-2},
		{"Conv2d/dilation", conv(ConvSpec{InChannels: 2, OutChannels: 2, KernelSize: []int{3, 3}, Dilation: []int{2, 1}, Padding: []int{2, 1}}), []int{1, 2, 7, 5}, 1e-2},
		{"Conv2d/groups2", conv(ConvSpec{InChannels: 4, OutChannels: 6, KernelSize: []int{3, 3}, Groups: 2, Padding: []int{1}, Bias: true}), []int{2, 4, 4, 4}, 1e-2},
		{"Conv2d/depthwise", conv(ConvSpec{InChannels: 3, OutChannels: 3, KernelSize: []int{3, 3}, Groups: 3, Stride: []int{2}, Padding: []int{1}, Bias: true}), []int{2, 3, 5, 5}, 1e-2},
		{"Conv3d", conv(ConvSpec{InChannels: 2, OutChannels: 2, KernelSize: []int{2, 3, 2}, Padding: []int{1, 1, 0}, Stride: []int{1, 2, 1}, Bias: true}), []int{1, 2, 3, 4, 3}, 1e-2},
		{"ConvTranspose1d", conv(ConvSpec{InChannels: 2, OutChannels: 3, KernelSize: []int{3}, Stride: []int{2}, OutputPadding: []int{1}, Bias: true, Transposed: true}), []int{2, 2, 4}, 1e-2},
		{"ConvTranspose2d", conv(ConvSpec{InChannels: 3, OutChannels: 2, KernelSize: []int{3, 3}, Stride: []int{2}, Padding: []int{1}, OutputPadding: []int{1}, Bias: true, Transposed: true}), []int{2, 3, 3, 3}, 1e-2},
		{"ConvTranspose2d/groups/dilation", conv(ConvSpec{InChannels: 4, OutChannels: 2, KernelSize: []int{2, 3}, Dilation: []int{2, 1}, Groups: 2, Stride: []int{1, 2}, OutputPadding: []int{1, 1}, Bias: true, Transposed: true}), []int{1, 4, 3, 3}, 1e-2},
		{"ConvTranspose3d", conv(ConvSpec{InChannels: 2, OutChannels: 2, KernelSize: []int{2, 2, 2}, Stride: []int{2}, Bias: true, Transposed: true}), []int{1, 2, 2, 3, 2}, 1e-2},
		{"MaxPool1d", must(NewMaxPool1d(3, PoolOptions{Stride: 2, Padding: 1})), []int{2, 2, 9}, 1e-3},
		{"MaxPool2d", must(NewMaxPool2d(2, PoolOptions{})), []int{2, 3, 6, 6}, 1e-3},
		{"MaxPool2d/pad/dilation", must(NewMaxPool2d(3, PoolOptions{Stride: 1, Padding: 1, Dilation: 2})), []int{1, 2, 6, 5}, 1e-3},
		{"MaxPool3d", must(NewMaxPool3d(2, PoolOptions{Stride: 1})), []int{1, 2, 3, 3, 4}, 1e-3},
		{"AvgPool1d", must(NewAvgPool1d(3, PoolOptions{Stride: 2, Padding: 1})), []int{2, 2, 8}, 1e-2},
		{"AvgPool2d", must(NewAvgPool2d(2, PoolOptions{})), []int{2, 3, 6, 6}, 1e-2},
		{"AvgPool2d/pad", must(NewAvgPool2d(3, PoolOptions{Stride: 2, Padding: 1})), []int{1, 2, 7, 6}, 1e-2},
		{"AvgPool3d", must(NewAvgPool3d(2, PoolOptions{Stride: 1})), []int{1, 2, 3, 3, 3}, 1e-2},
		{"AdaptiveAvgPool1d", must(NewAdaptiveAvgPool1d(3)), []int{2, 2, 7}, 1e-2},
		{"AdaptiveAvgPool2d", must(NewAdaptiveAvgPool2d(3, 2)), []int{2, 2, 5, 7}, 1e-2},
		{"AdaptiveAvgPool2d/up", must(NewAdaptiveAvgPool2d(5, 4)), []int{1, 2, 3, 3}, 1e-2},
		{"AdaptiveAvgPool3d", must(NewAdaptiveAvgPool3d(2, 2, 1)), []int{1, 2, 3, 5, 2}, 1e-2},
		{"ReLU", NewReLU(), []int{3, 4, 5}, 1e-3},
		{"Flatten", NewFlatten(1, -1), []int{2, 3, 4}, 1e-3},
		{"Flatten/mid", NewFlatten(1, 2), []int{2, 3, 4, 2}, 1e-3},
		{"BatchNorm1d/train/2d", bnAffine(bnTrain(must(NewBatchNorm1d(3)))), []int{6, 3}, 1e-2},
		{"BatchNorm1d/train/3d", bnAffine(bnTrain(must(NewBatchNorm1d(2)))), []int{3, 2, 4}, 1e-2},
		{"BatchNorm2d/train", bnAffine(bnTrain(must(NewBatchNorm2d(3)))), []int{2, 3, 3, 3}, 1e-2},
		{"BatchNorm2d/eval", bnAffine(bnEval(must(NewBatchNorm2d(3)))), []int{2, 3, 3, 3}, 1e-2},
		{"BatchNorm3d/train", bnAffine(bnTrain(must(NewBatchNorm3d(2)))), []int{2, 2, 2, 2, 3}, 1e-2},
		{"Sequential", NewSequential(
			conv(ConvSpec{InChannels: 1, OutChannels: 3, KernelSize: []int{3, 3}, Padding: []int{1}, Bias: true}),
			bnAffine(must(NewBatchNorm2d(3))), NewReLU(),
			must(NewMaxPool2d(2, PoolOptions{})),
			NewFlatten(1, -1), must(NewLinear(12, 4, true, rng))), []int{3, 1, 4, 4}, 2e-2},
		{"Residual", NewResidual(
			NewSequential(conv(ConvSpec{InChannels: 2, OutChannels: 4, KernelSize: []int{3, 3}, Padding: []int{1}, Stride: []int{2}, Bias: true}), NewReLU(),
				conv(ConvSpec{InChannels: 4, OutChannels: 4, KernelSize: []int{3, 3}, Padding: []int{1}, Bias: true})),
			conv(ConvSpec{InChannels: 2, OutChannels: 4, KernelSize: []int{1, 1}, Stride: []int{2}})), []int{2, 2, 4, 4}, 1e-2},
		{"Residual/identity", NewResidual(conv(ConvSpec{InChannels: 2, OutChannels: 2, KernelSize: []int{3}, Padding: []int{1}, Bias: true}), nil), []int{2, 2, 5}, 1e-2},
	}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				x := spacedTensor(testRNG(uint64(len(c.name))), c.shape...)
				gradCheck(t, c.layer, x, c.tol)
			})
		}
	})
}

// TestDropoutGradient checks that Backward applies exactly the mask of the
// last Forward (Dropout's output is random, so finite differences do not
// apply), that kept elements are scaled by 1/(1-p), and that the drop
// rate is near p.
func TestDropoutGradient(t *testing.T) {
	d := must(NewDropout(0.25, 3))
	x := spacedTensor(testRNG(2), 40, 50)
	y := must(d.Forward(x))
	r := randTensor(testRNG(3), 40, 50)
	dx := must(d.Backward(r))
	dropped := 0
	for i, v := range y.Data {
		switch v {
		case 0:
			dropped++
			if dx.Data[i] != 0 {
				t.Fatalf("element %d dropped but gradient %v", i, dx.Data[i])
			}
		case x.Data[i] * float32(1/0.75):
			if dx.Data[i] != r.Data[i]*float32(1/0.75) {
				t.Fatalf("element %d kept but gradient %v, want %v", i, dx.Data[i], r.Data[i]/0.75)
			}
		default:
			t.Fatalf("element %d: %v from %v", i, v, x.Data[i])
		}
	}
	if frac := float64(dropped) / 2000; math.Abs(frac-0.25) > 0.04 {
		t.Errorf("dropped %v of the elements, want about 0.25", frac)
	}
	// Same seed, same masks; evaluation mode is the identity.
	d2 := must(NewDropout(0.25, 3))
	y2 := must(d2.Forward(x))
	if fmt.Sprint(y2.Data) != fmt.Sprint(y.Data) {
		t.Error("same seed gave a different mask")
	}
	d2.SetTraining(false)
	y3 := must(d2.Forward(x))
	dx3 := must(d2.Backward(r))
	for i := range x.Data {
		if y3.Data[i] != x.Data[i] || dx3.Data[i] != r.Data[i] {
			t.Fatalf("eval mode changed element %d", i)
		}
	}
}
