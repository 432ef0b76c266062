package layers

import (
	"fmt"
	"slices"

	"github.com/tensorquant/tensorquant/internal/nn"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// BatchNorm is batch normalisation over the channel dimension (dimension 1)
// of [N, C, ...] inputs with PyTorch's semantics: in training mode each
// channel is normalised with its batch mean and biased variance, and the
// running statistics are updated with the unbiased variance:
//
//	running = (1 - Momentum)·running + Momentum·batch
//
// In evaluation mode the running statistics are used. Weight (γ, ones) and
// Bias (β, zeros) are the affine parameters. BatchNorm1d, BatchNorm2d and
// BatchNorm3d embed it; num_batches_tracked is not kept (it only matters
// for momentum=None, which is not supported).
type BatchNorm struct {
	NumFeatures int
	Eps         float64
	Momentum    float64
	// Weight and Bias are [NumFeatures]; RunningMean and RunningVar too.
	Weight, Bias            *tensor.Tensor
	RunningMean, RunningVar *tensor.Tensor

	weightGrad, biasGrad *tensor.Tensor
	training             bool
	ranks                []int // the input ranks the layer accepts
	kind                 string

	// Saved by Forward for Backward.
	xhat     []float32 // normalised input
	invStd   []float64 // per channel, 1/sqrt(var + eps)
	gamma    []float32 // the weight Forward used
	trainFwd bool      // whether the last Forward used batch statistics
	shape    []int
}

// BatchNorm1d is torch.nn.BatchNorm1d: input [N, C] or [N, C, L].
type BatchNorm1d struct{ BatchNorm }

// BatchNorm2d is torch.nn.BatchNorm2d: input [N, C, H, W].
type BatchNorm2d struct{ BatchNorm }

// BatchNorm3d is torch.nn.BatchNorm3d: input [N, C, D, H, W].
type BatchNorm3d struct{ BatchNorm }

// NewBatchNorm1d returns torch.nn.BatchNorm1d(c) (eps 1e-5, momentum 0.1,
// affine, tracking running statistics). It returns an error for c < 1.
func NewBatchNorm1d(c int) (*BatchNorm1d, error) {
	v, err := newBatchNorm("BatchNorm1d", c, 2, 3)
	return as(v, err, func(b *BatchNorm) *BatchNorm1d { return &BatchNorm1d{*b} })
}

// NewBatchNorm2d returns torch.nn.BatchNorm2d(c) (eps 1e-5, momentum 0.1,
// affine, tracking running statistics). It returns an error for c < 1.
func NewBatchNorm2d(c int) (*BatchNorm2d, error) {
	v, err := newBatchNorm("BatchNorm2d", c, 4)
	return as(v, err, func(b *BatchNorm) *BatchNorm2d { return &BatchNorm2d{*b} })
}

// NewBatchNorm3d returns torch.nn.BatchNorm3d(c) (eps 1e-5, momentum 0.1,
// affine, tracking running statistics). It returns an error for c < 1.
func NewBatchNorm3d(c int) (*BatchNorm3d, error) {
	v, err := newBatchNorm("BatchNorm3d", c, 5)
	return as(v, err, func(b *BatchNorm) *BatchNorm3d { return &BatchNorm3d{*b} })
}

func newBatchNorm(kind string, c int, ranks ...int) (*BatchNorm, error) {
	if c < 1 || c > maxParamElems {
		return nil, fmt.Errorf("layers: %s(%d): want at least 1 feature", kind, c)
	}
	b := &BatchNorm{NumFeatures: c, Eps: 1e-5, Momentum: 0.1, kind: kind, ranks: ranks, training: true,
		Weight: tensor.New(c), Bias: tensor.New(c), RunningMean: tensor.New(c), RunningVar: tensor.New(c),
		weightGrad: tensor.New(c), biasGrad: tensor.New(c)}
	for i := range c {
		b.Weight.Data[i], b.RunningVar.Data[i] = 1, 1
	}
	return b, nil
}

// Kind returns "BatchNorm1d", "BatchNorm2d" or "BatchNorm3d".
func (b *BatchNorm) Kind() string { return b.kind }

// String returns PyTorch's repr: "BatchNorm2d(8, eps=1e-05, momentum=0.1,
// affine=True, track_running_stats=True)".
func (b *BatchNorm) String() string {
	return fmt.Sprintf("%s(%d, eps=%v, momentum=%v, affine=True, track_running_stats=True)", b.kind, b.NumFeatures, b.Eps, b.Momentum)
}

// Params returns "weight" and "bias".
func (b *BatchNorm) Params() []Param {
	return []Param{{Name: "weight", Value: b.Weight, Grad: gradOf(b.Weight, &b.weightGrad)},
		{Name: "bias", Value: b.Bias, Grad: gradOf(b.Bias, &b.biasGrad)}}
}

// SetTraining switches between batch statistics (training) and running
// statistics (evaluation).
func (b *BatchNorm) SetTraining(training bool) { b.training = training }

// Training reports whether the layer is in training mode.
func (b *BatchNorm) Training() bool { return b.training }

// State returns "running_mean" and "running_var".
func (b *BatchNorm) State() []NamedTensor {
	return []NamedTensor{{Name: "running_mean", Tensor: b.RunningMean}, {Name: "running_var", Tensor: b.RunningVar}}
}

// SetState sets "running_mean" or "running_var" to a copy of t. It returns
// an error for another name or a shape other than [NumFeatures].
func (b *BatchNorm) SetState(name string, t *tensor.Tensor) error {
	if err := t.Validate(); err != nil || !tensor.SameShape(t.Shape, []int{b.NumFeatures}) {
		return errorf(b, "%s: shape %v, want [%d]", name, t.Shape, b.NumFeatures)
	}
	switch name {
	case "running_mean":
		b.RunningMean = t.Clone()
	case "running_var":
		b.RunningVar = t.Clone()
	default:
		return errorf(b, "no buffer named %q", name)
	}
	return nil
}

// norm returns the BatchNorm that BatchNorm1d, 2d and 3d embed.
func (b *BatchNorm) norm() *BatchNorm { return b }

// Export writes the layer as BatchNormalization with its running
// statistics (inference), whatever its training mode. It returns an error
// for parameters, buffers or eps that do not fit, and an input of the
// wrong rank or channel count.
func (b *BatchNorm) Export(g Builder, x Value) (Value, error) {
	if err := b.exportCheck(x.Shape); err != nil {
		return Value{}, err
	}
	inputs := []Value{x}
	for _, p := range []struct {
		name string
		t    *tensor.Tensor
	}{{"weight", b.Weight}, {"bias", b.Bias}, {"running_mean", b.RunningMean}, {"running_var", b.RunningVar}} {
		v, err := g.Param(p.name, p.t)
		if err != nil {
			return Value{}, err
		}
		inputs = append(inputs, v)
	}
	return g.Node("BatchNormalization", inputs, x.Shape,
		onnx.FloatAttr("epsilon", float32(b.Eps)),
		onnx.FloatAttr("momentum", float32(1-b.Momentum))), nil
}

// exportCheck checks the parameters, buffers and eps, and an input of the
// given shape, for inference.
func (b *BatchNorm) exportCheck(shape []int) error {
	C := b.NumFeatures
	if C < 1 {
		return fmt.Errorf("num_features %d: want at least 1", C)
	}
	for _, p := range []struct {
		what string
		t    *tensor.Tensor
	}{{"weight", b.Weight}, {"bias", b.Bias}, {"running_mean", b.RunningMean}, {"running_var", b.RunningVar}} {
		if err := checkTensor(p.what, p.t, C); err != nil {
			return err
		}
	}
	if !(b.Eps > 0) {
		return fmt.Errorf("eps %v: want eps > 0", b.Eps)
	}
	if !slices.Contains(b.ranks, len(shape)) || shape[1] != C {
		return fmt.Errorf("input shape %s: want %v dimensions with %d channels", FormatShape(shape), b.ranks, C)
	}
	return nil
}

func (b *BatchNorm) check(x *tensor.Tensor) error {
	if err := x.Validate(); err != nil {
		return errorf(b, "input: %v", err)
	}
	okRank := false
	for _, r := range b.ranks {
		okRank = okRank || len(x.Shape) == r
	}
	if !okRank {
		return errorf(b, "input shape %v: want %v dimensions", x.Shape, b.ranks)
	}
	if x.Shape[1] != b.NumFeatures {
		return errorf(b, "input shape %v: has %d channels, want %d", x.Shape, x.Shape[1], b.NumFeatures)
	}
	c := []int{b.NumFeatures}
	for _, t := range []*tensor.Tensor{b.Weight, b.Bias, b.RunningMean, b.RunningVar} {
		if t.Validate() != nil || !tensor.SameShape(t.Shape, c) {
			return errorf(b, "parameter or buffer of shape %v, want %v", t.Shape, c)
		}
	}
	if !(b.Eps > 0) || !(b.Momentum >= 0 && b.Momentum <= 1) {
		return errorf(b, "eps %v, momentum %v: want eps > 0 and 0 <= momentum <= 1", b.Eps, b.Momentum)
	}
	return nil
}

// Forward normalises x per channel. In training mode it uses the batch
// statistics and updates the running ones; it returns an error then if a
// channel has only one value (as PyTorch does), and always for an input of
// the wrong rank or channel count.
func (b *BatchNorm) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if err := b.check(x); err != nil {
		return nil, err
	}
	C := b.NumFeatures
	N := x.Shape[0]
	P := 1
	for _, d := range x.Shape[2:] {
		P *= d
	}
	count := N * P
	if b.training && count <= 1 {
		return nil, errorf(b, "input shape %v: expected more than 1 value per channel when training", x.Shape)
	}
	y := tensor.New(x.Shape...)
	if cap(b.xhat) < len(x.Data) {
		b.xhat = make([]float32, len(x.Data))
	}
	b.xhat = b.xhat[:len(x.Data)]
	b.invStd = make([]float64, C)
	for c := range C {
		var mean, variance float64
		if b.training {
			var ss float64
			mean, variance, ss = nn.Moments(x.Data, N, C, P, c)
			m := b.Momentum
			b.RunningMean.Data[c] = float32((1-m)*float64(b.RunningMean.Data[c]) + m*mean)
			b.RunningVar.Data[c] = float32((1-m)*float64(b.RunningVar.Data[c]) + m*ss/float64(count-1))
		} else {
			mean, variance = float64(b.RunningMean.Data[c]), float64(b.RunningVar.Data[c])
		}
		inv := nn.InvStd(variance, b.Eps)
		b.invStd[c] = inv
		gamma, beta := float64(b.Weight.Data[c]), float64(b.Bias.Data[c])
		for n := range N {
			lo, hi := (n*C+c)*P, (n*C+c+1)*P
			nn.Normalize(y.Data[lo:hi], b.xhat[lo:hi], x.Data[lo:hi], mean, inv, gamma, beta)
		}
	}
	b.trainFwd, b.shape = b.training, x.Shape
	b.gamma = append(b.gamma[:0], b.Weight.Data...)
	return y, nil
}

// Backward returns the input gradient of the last Forward (through the
// batch statistics when it ran in training mode) and adds the weight and
// bias gradients.
func (b *BatchNorm) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if err := checkGrad(b, b.shape, dy); err != nil {
		return nil, err
	}
	N, C := b.shape[0], b.shape[1]
	P := len(dy.Data) / max(1, N*C)
	count := float64(N * P)
	wg, bg := gradOf(b.Weight, &b.weightGrad), gradOf(b.Bias, &b.biasGrad)
	if len(wg.Data) != C || len(bg.Data) != C {
		return nil, errorf(b, "weight or bias changed between Forward and Backward")
	}
	dx := tensor.New(b.shape...)
	for c := range C {
		var sdy, sdyx float64
		for n := range N {
			lo, hi := (n*C+c)*P, (n*C+c+1)*P
			for i, g := range dy.Data[lo:hi] {
				sdy += float64(g)
				sdyx += float64(g) * float64(b.xhat[lo+i])
			}
		}
		bg.Data[c] += float32(sdy)
		wg.Data[c] += float32(sdyx)
		k := float64(b.gamma[c]) * b.invStd[c]
		for n := range N {
			lo, hi := (n*C+c)*P, (n*C+c+1)*P
			for i, g := range dy.Data[lo:hi] {
				if b.trainFwd {
					dx.Data[lo+i] = float32(k * (float64(g) - sdy/count - float64(b.xhat[lo+i])*sdyx/count))
				} else {
					dx.Data[lo+i] = float32(k * float64(g))
				}
			}
		}
	}
	return dx, nil
}
