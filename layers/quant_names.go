package layers

import "math/rand/v2"

// The original toolkit's quantized layers, by their names: each is Quant
// around the float layer of the same name. A quantizable layer type added
// later needs no name here: its quantized form is Quant[*T], whose Kind is
// "Quant" and the float kind.
type (
	// QuantLinear is the original's QuantLinear.
	QuantLinear = Quant[*Linear]
	// QuantConv1d is the original's QuantConv1d.
	QuantConv1d = Quant[*Conv1d]
	// QuantConv2d is the original's QuantConv2d.
	QuantConv2d = Quant[*Conv2d]
	// QuantConv3d is the original's QuantConv3d.
	QuantConv3d = Quant[*Conv3d]
	// QuantConvTranspose1d is the original's QuantConvTranspose1d.
	QuantConvTranspose1d = Quant[*ConvTranspose1d]
	// QuantConvTranspose2d is the original's QuantConvTranspose2d.
	QuantConvTranspose2d = Quant[*ConvTranspose2d]
	// QuantConvTranspose3d is the original's QuantConvTranspose3d.
	QuantConvTranspose3d = Quant[*ConvTranspose3d]
	// QuantMaxPool1d is MaxPool1d with a quantized input.
	QuantMaxPool1d = Quant[*MaxPool1d]
	// QuantMaxPool2d is the original's QuantMaxPool2d.
	QuantMaxPool2d = Quant[*MaxPool2d]
	// QuantMaxPool3d is MaxPool3d with a quantized input.
	QuantMaxPool3d = Quant[*MaxPool3d]
	// QuantAvgPool1d is the original's QuantAvgPool1d.
	QuantAvgPool1d = Quant[*AvgPool1d]
	// QuantAvgPool2d is the original's QuantAvgPool2d.
	QuantAvgPool2d = Quant[*AvgPool2d]
	// QuantAvgPool3d is the original's QuantAvgPool3d.
	QuantAvgPool3d = Quant[*AvgPool3d]
	// QuantAdaptiveAvgPool1d is the original's QuantAdaptiveAvgPool1d.
	QuantAdaptiveAvgPool1d = Quant[*AdaptiveAvgPool1d]
	// QuantAdaptiveAvgPool2d is the original's QuantAdaptiveAvgPool2d.
	QuantAdaptiveAvgPool2d = Quant[*AdaptiveAvgPool2d]
	// QuantAdaptiveAvgPool3d is the original's QuantAdaptiveAvgPool3d.
	QuantAdaptiveAvgPool3d = Quant[*AdaptiveAvgPool3d]
)

// quantized wraps the result of a float constructor in its quantized
// form, or passes its error on.
func quantized[P Layer](f P, err error, d QuantDescs) (*Quant[P], error) {
	if err != nil {
		return nil, err
	}
	return newQuant(f, d)
}

// NewQuantLinear returns QuantLinear(in, out, bias) with the weights of
// NewLinear (rng is a math/rand/v2 source, nil for a fixed seed) and
// quantizers from d. It returns the errors of NewLinear and Quantize.
func NewQuantLinear(in, out int, bias bool, rng *rand.Rand, d QuantDescs) (*QuantLinear, error) {
	l, err := NewLinear(in, out, bias, rng)
	return quantized(l, err, d)
}

// NewQuantConv1d returns QuantConv1d(in, out, kernel, ...) with the
// weights of NewConv1d (rng is a math/rand/v2 source, nil for a fixed
// seed) and quantizers from d. It returns the errors of
// NewConv1d and Quantize.
func NewQuantConv1d(in, out, kernel int, opt ConvOptions, rng *rand.Rand, d QuantDescs) (*QuantConv1d, error) {
	l, err := NewConv1d(in, out, kernel, opt, rng)
	return quantized(l, err, d)
}

// NewQuantConv2d returns QuantConv2d(in, out, kernel, ...) with the
// weights of NewConv2d (rng is a math/rand/v2 source, nil for a fixed
// seed) and quantizers from d. It returns the errors of
// NewConv2d and Quantize.
func NewQuantConv2d(in, out, kernel int, opt ConvOptions, rng *rand.Rand, d QuantDescs) (*QuantConv2d, error) {
	l, err := NewConv2d(in, out, kernel, opt, rng)
	return quantized(l, err, d)
}

// NewQuantConv3d returns QuantConv3d(in, out, kernel, ...) with the
// weights of NewConv3d (rng is a math/rand/v2 source, nil for a fixed
// seed) and quantizers from d. It returns the errors of
// NewConv3d and Quantize.
func NewQuantConv3d(in, out, kernel int, opt ConvOptions, rng *rand.Rand, d QuantDescs) (*QuantConv3d, error) {
	l, err := NewConv3d(in, out, kernel, opt, rng)
	return quantized(l, err, d)
}

// NewQuantConvTranspose2d returns QuantConvTranspose2d(in, out, kernel,
// ...) with the weights of NewConvTranspose2d (rng is a math/rand/v2
// source, nil for a fixed seed) and quantizers from d. It
// returns the errors of NewConvTranspose2d and Quantize. (For the other
// dimensions, and per-dimension hyper-parameters: NewQuantConv.)
func NewQuantConvTranspose2d(in, out, kernel int, opt ConvOptions, rng *rand.Rand, d QuantDescs) (*QuantConvTranspose2d, error) {
	l, err := NewConvTranspose2d(in, out, kernel, opt, rng)
	return quantized(l, err, d)
}

// NewQuantConv returns the quantized convolution spec describes (a
// *QuantConv1d ... *QuantConvTranspose3d) with the weights of NewConv (rng
// is a math/rand/v2 source, nil for a fixed seed) and quantizers from d. It returns the errors of NewConv and Quantize.
func NewQuantConv(spec ConvSpec, rng *rand.Rand, d QuantDescs) (QuantLayer, error) {
	l, err := NewConv(spec, rng)
	if err != nil {
		return nil, err
	}
	return Quantize(l, d)
}

// NewQuantMaxPool2d returns QuantMaxPool2d(kernel, ...) with an input
// quantizer from d. It returns the errors of NewMaxPool2d and Quantize.
// (For the other pooling layers: Quantize the float layer.)
func NewQuantMaxPool2d(kernel int, opt PoolOptions, d QuantDescs) (*QuantMaxPool2d, error) {
	l, err := NewMaxPool2d(kernel, opt)
	return quantized(l, err, d)
}

// NewQuantAvgPool2d returns QuantAvgPool2d(kernel, ...) with an input
// quantizer from d. It returns the errors of NewAvgPool2d and Quantize.
func NewQuantAvgPool2d(kernel int, opt PoolOptions, d QuantDescs) (*QuantAvgPool2d, error) {
	l, err := NewAvgPool2d(kernel, opt)
	return quantized(l, err, d)
}

// NewQuantAdaptiveAvgPool2d returns QuantAdaptiveAvgPool2d((h, w)) with an
// input quantizer from d. It returns the errors of NewAdaptiveAvgPool2d
// and Quantize.
func NewQuantAdaptiveAvgPool2d(h, w int, d QuantDescs) (*QuantAdaptiveAvgPool2d, error) {
	l, err := NewAdaptiveAvgPool2d(h, w)
	return quantized(l, err, d)
}
