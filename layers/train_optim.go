package layers

import (
	"fmt"
	"math"
	"runtime"

	"github.com/tensorquant/tensorquant/internal/par"
)

// Optimizer updates parameters from their accumulated gradients.
type Optimizer interface {
	// Step applies one update to every parameter. It returns an error if
	// a parameter's value and gradient no longer have the same size.
	Step() error
	// LR returns the learning rate; SetLR changes it (schedules use it).
	LR() float64
	SetLR(lr float64)
}

// SGDConfig holds the hyper-parameters of SGD, with PyTorch's meaning.
// Zero values are PyTorch's defaults except LR, which must be set.
type SGDConfig struct {
	LR          float64
	Momentum    float64
	Dampening   float64
	WeightDecay float64
	Nesterov    bool
}

// SGD is torch.optim.SGD: with g = grad + WeightDecay·param,
//
//	buf = g (first step), else Momentum·buf + (1-Dampening)·g
//	g   = g + Momentum·buf when Nesterov, else buf (when Momentum != 0)
//	param -= LR·g
type SGD struct {
	cfg    SGDConfig
	params []Param
	buf    [][]float32 // momentum buffers, allocated by the first Step
}

// NewSGD returns an SGD optimizer over params (from NamedParams). It returns
// an error for a negative or non-finite hyper-parameter, Nesterov without
// momentum or with dampening, or a parameter whose value and gradient
// differ in size.
func NewSGD(params []Param, cfg SGDConfig) (*SGD, error) {
	for _, v := range []float64{cfg.LR, cfg.Momentum, cfg.Dampening, cfg.WeightDecay} {
		if !(v >= 0) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("layers: SGD%+v: hyper-parameters must be finite and >= 0", cfg)
		}
	}
	if cfg.Nesterov && (cfg.Momentum <= 0 || cfg.Dampening != 0) {
		return nil, fmt.Errorf("layers: SGD%+v: Nesterov momentum requires a momentum and zero dampening", cfg)
	}
	if err := checkParams(params); err != nil {
		return nil, err
	}
	return &SGD{cfg: cfg, params: params, buf: make([][]float32, len(params))}, nil
}

func checkParams(params []Param) error {
	for _, p := range params {
		if p.Value.Validate() != nil || p.Grad.Validate() != nil || len(p.Value.Data) != len(p.Grad.Data) {
			return fmt.Errorf("layers: parameter %q: value and gradient do not match", p.Name)
		}
	}
	return nil
}

// LR returns the learning rate.
func (o *SGD) LR() float64 { return o.cfg.LR }

// SetLR sets the learning rate.
func (o *SGD) SetLR(lr float64) { o.cfg.LR = lr }

// Step applies one SGD update to every parameter. It returns an error,
// and changes nothing, if a parameter changed size since the last step.
// Parameters of many elements are updated in parts on up to GOMAXPROCS
// goroutines; every element's arithmetic is the same whatever the split.
func (o *SGD) Step() error {
	if err := checkParams(o.params); err != nil {
		return err
	}
	for i, p := range o.params {
		if o.buf[i] != nil && len(o.buf[i]) != len(p.Value.Data) {
			return fmt.Errorf("layers: parameter %q changed size from %d to %d", p.Name, len(o.buf[i]), len(p.Value.Data))
		}
	}
	for i, p := range o.params {
		first := false
		if o.cfg.Momentum != 0 && o.buf[i] == nil {
			o.buf[i], first = make([]float32, len(p.Value.Data)), true
		}
		w, g, buf := p.Value.Data, p.Grad.Data, o.buf[i]
		n := len(w)
		parts := max(1, min(runtime.GOMAXPROCS(0), n/sgdPart))
		par.Do(parts, func(k int) {
			lo, hi := n*k/parts, n*(k+1)/parts
			var b []float32
			if buf != nil {
				b = buf[lo:hi]
			}
			o.cfg.update(w[lo:hi], g[lo:hi], b, first)
		})
	}
	return nil
}

// sgdPart is the fewest elements of a part of Step's work.
const sgdPart = 1 << 16

// update is one SGD step of the parameter w with gradient g and momentum
// buffer buf (nil without momentum; first: its first step), element by
// element in float64 as SGD documents, one loop per case.
func (c *SGDConfig) update(w, g, buf []float32, first bool) {
	g = g[:len(w)]
	switch {
	case c.Momentum == 0:
		for j, v := range w {
			d := float64(g[j]) + c.WeightDecay*float64(v)
			w[j] = float32(float64(v) - c.LR*d)
		}
	case first || c.Nesterov:
		for j, v := range w {
			d := float64(g[j]) + c.WeightDecay*float64(v)
			b := d
			if !first {
				b = c.Momentum*float64(buf[j]) + (1-c.Dampening)*d
			}
			buf[j] = float32(b)
			if c.Nesterov {
				d += c.Momentum * b
			} else {
				d = b
			}
			w[j] = float32(float64(v) - c.LR*d)
		}
	default:
		m, damp := c.Momentum, 1-c.Dampening
		for j, v := range w {
			b := m*float64(buf[j]) + damp*(float64(g[j])+c.WeightDecay*float64(v))
			buf[j] = float32(b)
			w[j] = float32(float64(v) - c.LR*b)
		}
	}
}

// AdamConfig holds the hyper-parameters of Adam, with PyTorch's meaning;
// DefaultAdam gives PyTorch's defaults.
type AdamConfig struct {
	LR           float64
	Beta1, Beta2 float64
	Eps          float64
	WeightDecay  float64 // L2 penalty added to the gradient (not decoupled)
}

// DefaultAdam returns PyTorch's defaults with the given learning rate:
// betas (0.9, 0.999), eps 1e-8, no weight decay.
func DefaultAdam(lr float64) AdamConfig {
	return AdamConfig{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
}

// Adam is torch.optim.Adam (amsgrad=False): at step t, with
// g = grad + WeightDecay·param,
//
//	m = Beta1·m + (1-Beta1)·g,  v = Beta2·v + (1-Beta2)·g²
//	param -= LR/(1-Beta1^t) · m / (sqrt(v)/sqrt(1-Beta2^t) + Eps)
type Adam struct {
	cfg    AdamConfig
	params []Param
	m, v   [][]float32
	t      int
}

// NewAdam returns an Adam optimizer over params (from NamedParams). It
// returns an error for a negative or non-finite learning rate or weight
// decay, betas outside [0, 1), a non-positive eps, or a parameter whose
// value and gradient differ in size.
func NewAdam(params []Param, cfg AdamConfig) (*Adam, error) {
	ok := cfg.LR >= 0 && !math.IsInf(cfg.LR, 0) && cfg.WeightDecay >= 0 && !math.IsInf(cfg.WeightDecay, 0) &&
		cfg.Beta1 >= 0 && cfg.Beta1 < 1 && cfg.Beta2 >= 0 && cfg.Beta2 < 1 && cfg.Eps > 0 && !math.IsInf(cfg.Eps, 0)
	if !ok {
		return nil, fmt.Errorf("layers: Adam%+v: want finite lr, weight decay >= 0, betas in [0, 1), eps > 0", cfg)
	}
	if err := checkParams(params); err != nil {
		return nil, err
	}
	a := &Adam{cfg: cfg, params: params, m: make([][]float32, len(params)), v: make([][]float32, len(params))}
	for i, p := range params {
		a.m[i], a.v[i] = make([]float32, len(p.Value.Data)), make([]float32, len(p.Value.Data))
	}
	return a, nil
}

// LR returns the learning rate.
func (o *Adam) LR() float64 { return o.cfg.LR }

// SetLR sets the learning rate.
func (o *Adam) SetLR(lr float64) { o.cfg.LR = lr }

// Step applies one Adam update to every parameter.
func (o *Adam) Step() error {
	if err := checkParams(o.params); err != nil {
		return err
	}
	for i, p := range o.params {
		if len(o.m[i]) != len(p.Value.Data) {
			return fmt.Errorf("layers: parameter %q changed size from %d to %d", p.Name, len(o.m[i]), len(p.Value.Data))
		}
	}
	o.t++
	c := o.cfg
	bc1 := 1 - math.Pow(c.Beta1, float64(o.t))
	bc2 := math.Sqrt(1 - math.Pow(c.Beta2, float64(o.t)))
	step := c.LR / bc1
	for i, p := range o.params {
		m, v := o.m[i], o.v[i]
		for j, w := range p.Value.Data {
			g := float64(p.Grad.Data[j]) + c.WeightDecay*float64(w)
			mj := c.Beta1*float64(m[j]) + (1-c.Beta1)*g
			vj := c.Beta2*float64(v[j]) + (1-c.Beta2)*g*g
			m[j], v[j] = float32(mj), float32(vj)
			p.Value.Data[j] = float32(float64(w) - step*mj/(math.Sqrt(vj)/bc2+c.Eps))
		}
	}
	return nil
}

// Schedule gives the learning rate of each epoch (0-based).
type Schedule interface {
	Rate(epoch int) float64
}

// CosineAnnealing is torch.optim.lr_scheduler.CosineAnnealingLR in closed
// form, stepped once per epoch:
//
//	rate(e) = Min + (Base - Min)·(1 + cos(π·e/Epochs))/2
//
// so it starts at Base and reaches Min after Epochs epochs (it rises again
// after that, as PyTorch's does).
type CosineAnnealing struct {
	Base, Min float64
	Epochs    int
}

// NewCosineAnnealing returns the schedule the original toolkit recommends
// for quantization-aware fine-tuning: from base down to 1% of base over
// epochs epochs.
func NewCosineAnnealing(base float64, epochs int) CosineAnnealing {
	return CosineAnnealing{Base: base, Min: base / 100, Epochs: epochs}
}

// Rate returns the learning rate of epoch e; with Epochs <= 0 it is Base.
func (s CosineAnnealing) Rate(e int) float64 {
	if s.Epochs <= 0 {
		return s.Base
	}
	return s.Min + (s.Base-s.Min)*(1+math.Cos(math.Pi*float64(e)/float64(s.Epochs)))/2
}
