package layers

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/tensor"
)

func tensorOf(data []float32, shape ...int) *tensor.Tensor {
	return must(tensor.FromSlice(data, shape...))
}

func sameData(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
			t.Fatalf("%s: element %d = %v, want %v (all: %v)", what, i, got[i], want[i], got)
		}
	}
}

func TestPoolValues(t *testing.T) {
	nan := float32(math.NaN())
	x := tensorOf([]float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1, 1, 3, 3)
	mp := must(NewMaxPool2d(3, PoolOptions{Stride: 1, Padding: 1}))
	sameData(t, "maxpool pad 1", must(mp.Forward(x)).Data, []float32{5, 6, 6, 8, 9, 9, 8, 9, 9})
	// The gradient of the maxima goes to their positions (9 wins 4 times).
	dx := must(mp.Backward(tensorOf([]float32{1, 1, 1, 1, 1, 1, 1, 1, 1}, 1, 1, 3, 3)))
	sameData(t, "maxpool grad", dx.Data, []float32{0, 0, 0, 0, 1, 2, 0, 2, 4})
	// NaN wins its window; the first of equal maxima takes the gradient.
	xn := tensorOf([]float32{1, nan, 3, 3, 7, 7, 7, 7}, 1, 2, 2, 2)
	mp2 := must(NewMaxPool2d(2, PoolOptions{}))
	sameData(t, "maxpool NaN", must(mp2.Forward(xn)).Data, []float32{nan, 7})
	sameData(t, "maxpool ties", must(mp2.Backward(tensorOf([]float32{1, 1}, 1, 2, 1, 1))).Data, []float32{0, 1, 0, 0, 1, 0, 0, 0})
	// count_include_pad: the padding counts in the divisor.
	ones := tensorOf([]float32{1, 1, 1, 1, 1, 1, 1, 1, 1}, 1, 1, 3, 3)
	ap := must(NewAvgPool2d(3, PoolOptions{Stride: 1, Padding: 1}))
	f := func(v float32) float32 { return v / 9 }
	sameData(t, "avgpool pad", must(ap.Forward(ones)).Data, []float32{f(4), f(6), f(4), f(6), f(9), f(6), f(4), f(6), f(4)})
	// AdaptiveAvgPool1d(3) over 5 values: windows [0,2), [1,4), [3,5).
	aa := must(NewAdaptiveAvgPool1d(3))
	sameData(t, "adaptive", must(aa.Forward(tensorOf([]float32{1, 2, 3, 4, 5}, 1, 1, 5))).Data, []float32{1.5, 3, 4.5})
	sameData(t, "adaptive grad", must(aa.Backward(tensorOf([]float32{2, 3, 4}, 1, 1, 3))).Data, []float32{1, 2, 1, 3, 2})
	// Upsampling: windows [0,1), [0,2), [1,2).
	sameData(t, "adaptive up", must(aa.Forward(tensorOf([]float32{2, 4}, 1, 1, 2))).Data, []float32{2, 3, 4})
}

func TestPoolErrorsAndRepr(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{second(NewMaxPool2d(2, PoolOptions{Padding: 2})), "layers: MaxPool2d: padding [2 2]: want from 0 to half the kernel size [2 2]"},
		{second(NewAvgPool2d(0, PoolOptions{})), "want values from 1"},
		{second(NewAvgPool1d(2, PoolOptions{Dilation: 2})), "dilation 2: average pooling has none"},
		{second(NewAdaptiveAvgPool2d(0, 1)), "output_size [0 1]"},
		{second(must(NewMaxPool2d(3, PoolOptions{})).Forward(tensor.New(1, 1, 2, 2))), "input shape [1 1 2 2]: spatial size [2 2] is too small for kernel [3 3]"},
		{second(must(NewAvgPool3d(2, PoolOptions{})).Forward(tensor.New(1, 2, 2))), "want 5 dimensions (N, C, D, H, W)"},
		{second(must(NewAdaptiveAvgPool2d(2, 2)).Forward(tensor.New(1, 1, 0, 3))), "empty spatial dimension"},
		{second(must(NewMaxPool1d(2, PoolOptions{})).Backward(tensor.New(1))), "Backward called before Forward"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("error %v, want %q", tc.err, tc.want)
		}
	}
	for _, tc := range []struct {
		l    Layer
		want string
	}{
		{must(NewMaxPool2d(2, PoolOptions{})), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"},
		{must(NewAvgPool2d(3, PoolOptions{Stride: 1, Padding: 1})), "AvgPool2d(kernel_size=3, stride=1, padding=1)"},
		{must(NewAvgPool1d(2, PoolOptions{})), "AvgPool1d(kernel_size=(2,), stride=(2,), padding=(0,))"},
		{must(NewAdaptiveAvgPool2d(1, 1)), "AdaptiveAvgPool2d(output_size=(1, 1))"},
		{must(NewAdaptiveAvgPool1d(4)), "AdaptiveAvgPool1d(output_size=4)"},
		{NewFlatten(1, -1), "Flatten(start_dim=1, end_dim=-1)"},
		{must(NewDropout(0.5, 1)), "Dropout(p=0.5, inplace=False)"},
		{must(NewLinear(16, 8, false, testRNG(1))), "Linear(in_features=16, out_features=8, bias=False)"},
	} {
		if got := tc.l.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestBatchNormStatistics(t *testing.T) {
	bn := must(NewBatchNorm2d(2))
	// Channel 0 holds 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased
	// 5/3); channel 1 holds 10 four times.
	x := tensorOf([]float32{1, 2, 10, 10, 3, 4, 10, 10}, 2, 2, 1, 2)
	y := must(bn.Forward(x))
	inv := 1 / math.Sqrt(1.25+1e-5)
	want := []float32{float32(-1.5 * inv), float32(-0.5 * inv), 0, 0, float32(0.5 * inv), float32(1.5 * inv), 0, 0}
	sameData(t, "train output", y.Data, want)
	sameData(t, "running_mean", bn.RunningMean.Data, []float32{0.25, 1})
	sameData(t, "running_var", bn.RunningVar.Data, []float32{float32(0.9 + 0.1*5.0/3), 0.9})
	bn.SetTraining(false)
	y = must(bn.Forward(x))
	e := func(v, c int) float32 {
		return float32((float64(v) - float64(bn.RunningMean.Data[c])) / math.Sqrt(float64(bn.RunningVar.Data[c])+1e-5))
	}
	sameData(t, "eval output", y.Data, []float32{e(1, 0), e(2, 0), e(10, 1), e(10, 1), e(3, 0), e(4, 0), e(10, 1), e(10, 1)})
	bn.SetTraining(true)
	if _, err := bn.Forward(tensor.New(1, 2, 1, 1)); err == nil || !strings.Contains(err.Error(), "expected more than 1 value per channel when training") {
		t.Errorf("single value per channel: %v", err)
	}
	if err := bn.SetState("running_var", tensor.New(3)); err == nil {
		t.Error("SetState accepted a wrong shape")
	}
	if err := bn.SetState("bogus", tensor.New(2)); err == nil {
		t.Error("SetState accepted an unknown name")
	}
}

func TestCrossEntropy(t *testing.T) {
	loss, g, err := CrossEntropy(tensorOf([]float32{0, 0, 1000, 0}, 2, 2), []int{0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := (math.Ln2 + 1000) / 2; math.Abs(loss-want) > 1e-12 {
		t.Errorf("loss %v, want %v", loss, want)
	}
	sameData(t, "gradient", g.Data, []float32{-0.25, 0.25, 0.5, -0.5})
	for _, tc := range []struct {
		logits *tensor.Tensor
		labels []int
		want   string
	}{
		{tensor.New(2, 3), []int{0}, "1 labels for logits of shape [2 3]"},
		{tensor.New(2, 3), []int{0, 3}, "label 3 of sample 1 is outside [0, 3)"},
		{tensor.New(6), []int{0}, "logits shape [6]: want [N, C]"},
	} {
		_, _, err := CrossEntropy(tc.logits, tc.labels)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

func TestOptimizers(t *testing.T) {
	param := func(v, g float32) []Param {
		return []Param{{Name: "w", Value: tensorOf([]float32{v}, 1), Grad: tensorOf([]float32{g}, 1)}}
	}
	// SGD, momentum 0.9, weight decay 0.1, two steps with gradient 1 at
	// w = 1: g1 = 1.1, buf = 1.1, w = 1 - 0.1·1.1 = 0.89; g2 = 1.089,
	// buf = 0.99 + 1.089 = 2.079, w = 0.89 - 0.2079 = 0.6821.
	p := param(1, 1)
	sgd := must(NewSGD(p, SGDConfig{LR: 0.1, Momentum: 0.9, WeightDecay: 0.1}))
	must(0, sgd.Step())
	must(0, sgd.Step())
	if got := p[0].Value.Data[0]; math.Abs(float64(got)-0.6821) > 1e-6 {
		t.Errorf("SGD: w = %v, want 0.6821", got)
	}
	// Nesterov: g + momentum·buf: step 1 w = 1 - 0.1·(1 + 0.9) = 0.81.
	p = param(1, 1)
	nes := must(NewSGD(p, SGDConfig{LR: 0.1, Momentum: 0.9, Nesterov: true}))
	must(0, nes.Step())
	if got := p[0].Value.Data[0]; math.Abs(float64(got)-0.81) > 1e-6 {
		t.Errorf("Nesterov SGD: w = %v, want 0.81", got)
	}
	// Adam's first step moves by lr·g/(|g| + eps) = lr·sign(g).
	p = param(1, -3)
	adam := must(NewAdam(p, DefaultAdam(0.01)))
	must(0, adam.Step())
	if got := p[0].Value.Data[0]; math.Abs(float64(got)-1.01) > 1e-7 {
		t.Errorf("Adam: w = %v, want 1.01", got)
	}
	// Second step with the same gradient: m = 0.19·g·..., the bias
	// corrections make the step lr·sign(g) again.
	must(0, adam.Step())
	if got := p[0].Value.Data[0]; math.Abs(float64(got)-1.02) > 1e-6 {
		t.Errorf("Adam step 2: w = %v, want 1.02", got)
	}
	if _, err := NewSGD(p, SGDConfig{LR: -1}); err == nil {
		t.Error("negative learning rate accepted")
	}
	if _, err := NewSGD(p, SGDConfig{LR: 1, Nesterov: true}); err == nil {
		t.Error("Nesterov without momentum accepted")
	}
	if _, err := NewAdam(p, AdamConfig{LR: 1, Beta1: 1, Beta2: 0.9, Eps: 1e-8}); err == nil {
		t.Error("beta1 = 1 accepted")
	}
	bad := []Param{{Name: "w", Value: tensor.New(2), Grad: tensor.New(3)}}
	if _, err := NewAdam(bad, DefaultAdam(1)); err == nil || !strings.Contains(err.Error(), `parameter "w"`) {
		t.Errorf("mismatched gradient: %v", err)
	}
	cos := NewCosineAnnealing(0.1, 10)
	for _, tc := range []struct {
		e    int
		want float64
	}{{0, 0.1}, {5, 0.0505}, {10, 0.001}} {
		if got := cos.Rate(tc.e); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("cosine rate(%d) = %v, want %v", tc.e, got, tc.want)
		}
	}
}

// TestPoolRandomConfigs checks MaxPool and AvgPool on random small
// configurations against their definitions.
func TestPoolRandomConfigs(t *testing.T) {
	rng := testRNG(5)
	for i := range 400 {
		dims := 1 + rng.IntN(3)
		k := 1 + rng.IntN(3)
		opt := PoolOptions{Stride: rng.IntN(3), Padding: rng.IntN(k/2 + 1)}
		avg := i%2 == 1
		if !avg {
			opt.Dilation = rng.IntN(3)
		}
		shape := []int{1 + rng.IntN(2), 1 + rng.IntN(2)}
		for range dims {
			shape = append(shape, 1+rng.IntN(6))
		}
		var l Layer
		var w *Window
		switch {
		case avg && dims == 1:
			a := must(NewAvgPool1d(k, opt))
			l, w = a, &a.Window
		case avg && dims == 2:
			a := must(NewAvgPool2d(k, opt))
			l, w = a, &a.Window
		case avg:
			a := must(NewAvgPool3d(k, opt))
			l, w = a, &a.Window
		case dims == 1:
			m := must(NewMaxPool1d(k, opt))
			l, w = m, &m.Window
		case dims == 2:
			m := must(NewMaxPool2d(k, opt))
			l, w = m, &m.Window
		default:
			m := must(NewMaxPool3d(k, opt))
			l, w = m, &m.Window
		}
		x := randTensor(rng, shape...)
		y, err := l.Forward(x)
		if err != nil {
			if !strings.Contains(err.Error(), "too small for kernel") {
				t.Fatalf("%s on %v: %v", l, shape, err)
			}
			continue
		}
		// The definition, with every spatial index spelled out.
		out := y.Shape[2:]
		in := shape[2:]
		idx := make([]int, dims)
		planes := shape[0] * shape[1]
		outN, inN := len(y.Data)/planes, len(x.Data)/planes
		for pl := range planes {
			for o := range outN {
				rem := o
				for d := dims - 1; d >= 0; d-- {
					idx[d] = rem % out[d]
					rem /= out[d]
				}
				best, sum := float32(math.Inf(-1)), float32(0)
				var visit func(d, off int)
				visit = func(d, off int) {
					if d == dims {
						v := x.Data[pl*inN+off]
						sum += v
						if v > best || v != v {
							best = v
						}
						return
					}
					for j := range w.KernelSize[d] {
						p := idx[d]*w.Stride[d] - w.Padding[d] + j*w.Dilation[d]
						if p >= 0 && p < in[d] {
							visit(d+1, off*in[d]+p)
						}
					}
				}
				visit(0, 0)
				want := best
				if avg {
					vol := 1
					for _, kk := range w.KernelSize {
						vol *= kk
					}
					want = sum / float32(vol)
				}
				if got := y.Data[pl*outN+o]; math.Abs(float64(got-want)) > 1e-6 {
					t.Fatalf("%s on %v: output %d of plane %d = %v, want %v", l, shape, o, pl, got, want)
				}
			}
		}
		if _, err := l.Backward(randTensor(rng, y.Shape...)); err != nil {
			t.Fatalf("%s: Backward: %v", l, err)
		}
	}
}

// TestSGDParts runs SGD on a parameter large enough to be updated in
// parts (on two goroutines) and on a small one, three steps of each kind
// (plain, momentum with dampening and weight decay, Nesterov), against
// the formula SGD documents element by element in float64: bit for bit.
func TestSGDParts(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	rng := rand.New(rand.NewPCG(4, 4))
	for _, cfg := range []SGDConfig{
		{LR: 0.1, WeightDecay: 0.01},
		{LR: 0.05, Momentum: 0.9, Dampening: 0.1, WeightDecay: 1e-3},
		{LR: 0.05, Momentum: 0.8, Nesterov: true, WeightDecay: 1e-4},
	} {
		for _, n := range []int{7, 2*sgdPart + 5} {
			w, g := make([]float32, n), make([]float32, n)
			for i := range w {
				w[i], g[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			}
			want, buf := slices.Clone(w), make([]float64, n)
			p := []Param{{Name: "w", Value: tensorOf(w, n), Grad: tensorOf(g, n)}}
			sgd := must(NewSGD(p, cfg))
			for step := range 3 {
				must(0, sgd.Step())
				for j := range want {
					d := float64(g[j]) + cfg.WeightDecay*float64(want[j])
					if cfg.Momentum != 0 {
						b := d
						if step > 0 {
							b = cfg.Momentum*buf[j] + (1-cfg.Dampening)*d
						}
						buf[j] = float64(float32(b))
						if cfg.Nesterov {
							d += cfg.Momentum * b
						} else {
							d = b
						}
					}
					want[j] = float32(float64(want[j]) - cfg.LR*d)
				}
				for j, v := range p[0].Value.Data {
					if math.Float32bits(v) != math.Float32bits(want[j]) {
						t.Fatalf("%+v, %d elements, step %d: element %d is %v, want %v", cfg, n, step, j, v, want[j])
					}
				}
			}
		}
	}
}
