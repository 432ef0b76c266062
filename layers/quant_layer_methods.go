package layers

import "github.com/tensorquant/tensorquant/tensor"

// The methods of the quantized layers: one set per type, each a thin
// wrapper over the shared bodies in quant_layers.go.

// Kind returns "QuantLinear".
func (q *QuantLinear) Kind() string { return "Quant" + q.Linear.Kind() }

// String returns the float layer's repr with the "Quant" prefix, for
// example "QuantLinear(...)"; Describe shows the quantizers below it.
func (q *QuantLinear) String() string { return "Quant" + q.Linear.String() }

// Children returns "input_quantizer" and "weight_quantizer".
func (q *QuantLinear) Children() []Named { return quantChildren(q.InputQuantizer, q.WeightQuantizer) }

// Float returns the embedded Linear, which shares the weights.
func (q *QuantLinear) Float() Layer { return &q.Linear }

// Quantizers returns the input and weight quantizers.
func (q *QuantLinear) Quantizers() (input, weight *TensorQuantizer) {
	return q.InputQuantizer, q.WeightQuantizer
}

// Forward quantizes x and the weight and computes the linear map with them. It
// returns the errors of the quantizers (named "input_quantizer" and
// "weight_quantizer") and of Linear.Forward.
func (q *QuantLinear) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardWeighted(q, q.InputQuantizer, q.WeightQuantizer, x, q.Weight, func(x, w *tensor.Tensor) (*tensor.Tensor, error) {
		return q.forward(q, x, w)
	})
}

// Backward returns the input gradient of the last Forward and adds the
// weight and bias gradients to the parameters' Grad, through the
// quantizers' straight-through gradients.
func (q *QuantLinear) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardWeighted(q, q.InputQuantizer, q.WeightQuantizer, dy, gradOf(q.Weight, &q.weightGrad), func(dy, dw *tensor.Tensor) (*tensor.Tensor, error) {
		return q.backward(q, dy, dw)
	})
}

// Kind returns "QuantConv1d".
func (q *QuantConv1d) Kind() string { return "Quant" + q.Conv1d.Kind() }

// String returns the float layer's repr with the "Quant" prefix, for
// example "QuantConv1d(...)"; Describe shows the quantizers below it.
func (q *QuantConv1d) String() string { return "Quant" + q.Conv1d.String() }

// Children returns "input_quantizer" and "weight_quantizer".
func (q *QuantConv1d) Children() []Named { return quantChildren(q.InputQuantizer, q.WeightQuantizer) }

// Float returns the embedded Conv1d, which shares the weights.
func (q *QuantConv1d) Float() Layer { return &q.Conv1d }

// Quantizers returns the input and weight quantizers.
func (q *QuantConv1d) Quantizers() (input, weight *TensorQuantizer) {
	return q.InputQuantizer, q.WeightQuantizer
}

// Forward quantizes x and the weight and computes the convolution with them. It
// returns the errors of the quantizers (named "input_quantizer" and
// "weight_quantizer") and of Conv1d.Forward.
func (q *QuantConv1d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardWeighted(q, q.InputQuantizer, q.WeightQuantizer, x, q.Weight, func(x, w *tensor.Tensor) (*tensor.Tensor, error) {
		return q.forward(q, x, w)
	})
}

// Backward returns the input gradient of the last Forward and adds the
// weight and bias gradients to the parameters' Grad, through the
// quantizers' straight-through gradients.
func (q *QuantConv1d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardWeighted(q, q.InputQuantizer, q.WeightQuantizer, dy, gradOf(q.Weight, &q.weightGrad), func(dy, dw *tensor.Tensor) (*tensor.Tensor, error) {
		return q.backward(q, dy, dw)
	})
}

// Kind returns "QuantConv2d".
func (q *QuantConv2d) Kind() string { return "Quant" + q.Conv2d.Kind() }

// String returns the float layer's repr with the "Quant" prefix, for
// example "QuantConv2d(...)"; Describe shows the quantizers below it.
func (q *QuantConv2d) String() string { return "Quant" + q.Conv2d.String() }

// Children returns "input_quantizer" and "weight_quantizer".
func (q *QuantConv2d) Children() []Named { return quantChildren(q.InputQuantizer, q.WeightQuantizer) }

// Float returns the embedded Conv2d, which shares the weights.
func (q *QuantConv2d) Float() Layer { return &q.Conv2d }

// Quantizers returns the input and weight quantizers.
func (q *QuantConv2d) Quantizers() (input, weight *TensorQuantizer) {
	return q.InputQuantizer, q.WeightQuantizer
}

// Forward quantizes x and the weight and computes the convolution with them. It
// returns the errors of the quantizers (named "input_quantizer" and
// "weight_quantizer") and of Conv2d.Forward.
func (q *QuantConv2d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardWeighted(q, q.InputQuantizer, q.WeightQuantizer, x, q.Weight, func(x, w *tensor.Tensor) (*tensor.Tensor, error) {
		return q.forward(q, x, w)
	})
}

// Backward returns the input gradient of the last Forward and adds the
// weight and bias gradients to the parameters' Grad, through the
// quantizers' straight-through gradients.
func (q *QuantConv2d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardWeighted(q, q.InputQuantizer, q.WeightQuantizer, dy, gradOf(q.Weight, &q.weightGrad), func(dy, dw *tensor.Tensor) (*tensor.Tensor, error) {
		return q.backward(q, dy, dw)
	})
}

// Kind returns "QuantConv3d".
func (q *QuantConv3d) Kind() string { return "Quant" + q.Conv3d.Kind() }

// String returns the float layer's repr with the "Quant" prefix, for
// example "QuantConv3d(...)"; Describe shows the quantizers below it.
func (q *QuantConv3d) String() string { return "Quant" + q.Conv3d.String() }

// Children returns "input_quantizer" and "weight_quantizer".
func (q *QuantConv3d) Children() []Named { return quantChildren(q.InputQuantizer, q.WeightQuantizer) }

// Float returns the embedded Conv3d, which shares the weights.
func (q *QuantConv3d) Float() Layer { return &q.Conv3d }

// Quantizers returns the input and weight quantizers.
func (q *QuantConv3d) Quantizers() (input, weight *TensorQuantizer) {
	return q.InputQuantizer, q.WeightQuantizer
}

// Forward quantizes x and the weight and computes the convolution with them. It
// returns the errors of the quantizers (named "input_quantizer" and
// "weight_quantizer") and of Conv3d.Forward.
func (q *QuantConv3d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardWeighted(q, q.InputQuantizer, q.WeightQuantizer, x, q.Weight, func(x, w *tensor.Tensor) (*tensor.Tensor, error) {
		return q.forward(q, x, w)
	})
}

// Backward returns the input gradient of the last Forward and adds the
// weight and bias gradients to the parameters' Grad, through the
// quantizers' straight-through gradients.
func (q *QuantConv3d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardWeighted(q, q.InputQuantizer, q.WeightQuantizer, dy, gradOf(q.Weight, &q.weightGrad), func(dy, dw *tensor.Tensor) (*tensor.Tensor, error) {
		return q.backward(q, dy, dw)
	})
}

// Kind returns "QuantConvTranspose1d".
func (q *QuantConvTranspose1d) Kind() string { return "Quant" + q.ConvTranspose1d.Kind() }

// String returns the float layer's repr with the "Quant" prefix, for
// example "QuantConvTranspose1d(...)"; Describe shows the quantizers below it.
func (q *QuantConvTranspose1d) String() string { return "Quant" + q.ConvTranspose1d.String() }

// Children returns "input_quantizer" and "weight_quantizer".
func (q *QuantConvTranspose1d) Children() []Named {
	return quantChildren(q.InputQuantizer, q.WeightQuantizer)
}

// Float returns the embedded ConvTranspose1d, which shares the weights.
func (q *QuantConvTranspose1d) Float() Layer { return &q.ConvTranspose1d }

// Quantizers returns the input and weight quantizers.
func (q *QuantConvTranspose1d) Quantizers() (input, weight *TensorQuantizer) {
	return q.InputQuantizer, q.WeightQuantizer
}

// Forward quantizes x and the weight and computes the transposed convolution with them. It
// returns the errors of the quantizers (named "input_quantizer" and
// "weight_quantizer") and of ConvTranspose1d.Forward.
func (q *QuantConvTranspose1d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardWeighted(q, q.InputQuantizer, q.WeightQuantizer, x, q.Weight, func(x, w *tensor.Tensor) (*tensor.Tensor, error) {
		return q.forward(q, x, w)
	})
}

// Backward returns the input gradient of the last Forward and adds the
// weight and bias gradients to the parameters' Grad, through the
// quantizers' straight-through gradients.
func (q *QuantConvTranspose1d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardWeighted(q, q.InputQuantizer, q.WeightQuantizer, dy, gradOf(q.Weight, &q.weightGrad), func(dy, dw *tensor.Tensor) (*tensor.Tensor, error) {
		return q.backward(q, dy, dw)
	})
}

// Kind returns "QuantConvTranspose2d".
func (q *QuantConvTranspose2d) Kind() string { return "Quant" + q.ConvTranspose2d.Kind() }

// String returns the float layer's repr with the "Quant" prefix, for
// example "QuantConvTranspose2d(...)"; Describe shows the quantizers below it.
func (q *QuantConvTranspose2d) String() string { return "Quant" + q.ConvTranspose2d.String() }

// Children returns "input_quantizer" and "weight_quantizer".
func (q *QuantConvTranspose2d) Children() []Named {
	return quantChildren(q.InputQuantizer, q.WeightQuantizer)
}

// Float returns the embedded ConvTranspose2d, which shares the weights.
func (q *QuantConvTranspose2d) Float() Layer { return &q.ConvTranspose2d }

// Quantizers returns the input and weight quantizers.
func (q *QuantConvTranspose2d) Quantizers() (input, weight *TensorQuantizer) {
	return q.InputQuantizer, q.WeightQuantizer
}

// Forward quantizes x and the weight and computes the transposed convolution with them. It
// returns the errors of the quantizers (named "input_quantizer" and
// "weight_quantizer") and of ConvTranspose2d.Forward.
func (q *QuantConvTranspose2d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardWeighted(q, q.InputQuantizer, q.WeightQuantizer, x, q.Weight, func(x, w *tensor.Tensor) (*tensor.Tensor, error) {
		return q.forward(q, x, w)
	})
}

// Backward returns the input gradient of the last Forward and adds the
// weight and bias gradients to the parameters' Grad, through the
// quantizers' straight-through gradients.
func (q *QuantConvTranspose2d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardWeighted(q, q.InputQuantizer, q.WeightQuantizer, dy, gradOf(q.Weight, &q.weightGrad), func(dy, dw *tensor.Tensor) (*tensor.Tensor, error) {
		return q.backward(q, dy, dw)
	})
}

// Kind returns "QuantConvTranspose3d".
func (q *QuantConvTranspose3d) Kind() string { return "Quant" + q.ConvTranspose3d.Kind() }

// String returns the float layer's repr with the "Quant" prefix, for
// example "QuantConvTranspose3d(...)"; Describe shows the quantizers below it.
func (q *QuantConvTranspose3d) String() string { return "Quant" + q.ConvTranspose3d.String() }

// Children returns "input_quantizer" and "weight_quantizer".
func (q *QuantConvTranspose3d) Children() []Named {
	return quantChildren(q.InputQuantizer, q.WeightQuantizer)
}

// Float returns the embedded ConvTranspose3d, which shares the weights.
func (q *QuantConvTranspose3d) Float() Layer { return &q.ConvTranspose3d }

// Quantizers returns the input and weight quantizers.
func (q *QuantConvTranspose3d) Quantizers() (input, weight *TensorQuantizer) {
	return q.InputQuantizer, q.WeightQuantizer
}

// Forward quantizes x and the weight and computes the transposed convolution with them. It
// returns the errors of the quantizers (named "input_quantizer" and
// "weight_quantizer") and of ConvTranspose3d.Forward.
func (q *QuantConvTranspose3d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardWeighted(q, q.InputQuantizer, q.WeightQuantizer, x, q.Weight, func(x, w *tensor.Tensor) (*tensor.Tensor, error) {
		return q.forward(q, x, w)
	})
}

// Backward returns the input gradient of the last Forward and adds the
// weight and bias gradients to the parameters' Grad, through the
// quantizers' straight-through gradients.
func (q *QuantConvTranspose3d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardWeighted(q, q.InputQuantizer, q.WeightQuantizer, dy, gradOf(q.Weight, &q.weightGrad), func(dy, dw *tensor.Tensor) (*tensor.Tensor, error) {
		return q.backward(q, dy, dw)
	})
}

// Kind returns "QuantMaxPool1d".
func (q *QuantMaxPool1d) Kind() string { return "Quant" + q.MaxPool1d.Kind() }

// String returns the float layer's repr with the "Quant" prefix; Describe
// shows the input quantizer below it.
func (q *QuantMaxPool1d) String() string { return "Quant" + q.MaxPool1d.String() }

// Children returns "input_quantizer".
func (q *QuantMaxPool1d) Children() []Named { return quantChildren(q.InputQuantizer, nil) }

// Float returns the embedded MaxPool1d.
func (q *QuantMaxPool1d) Float() Layer { return &q.MaxPool1d }

// Quantizers returns the input quantizer and a nil weight quantizer.
func (q *QuantMaxPool1d) Quantizers() (input, weight *TensorQuantizer) { return q.InputQuantizer, nil }

// Forward quantizes x and applies max pooling to it. It returns the errors of
// the input quantizer (named "input_quantizer") and of MaxPool1d.Forward.
func (q *QuantMaxPool1d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardInput(q, q.InputQuantizer, x, func(x *tensor.Tensor) (*tensor.Tensor, error) { return q.forward(q, x) })
}

// Backward returns the input gradient of the last Forward, through the
// input quantizer's straight-through gradient.
func (q *QuantMaxPool1d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardInput(q, q.InputQuantizer, dy, func(dy *tensor.Tensor) (*tensor.Tensor, error) { return q.backward(q, dy) })
}

// Kind returns "QuantMaxPool2d".
func (q *QuantMaxPool2d) Kind() string { return "Quant" + q.MaxPool2d.Kind() }

// String returns the float layer's repr with the "Quant" prefix; Describe
// shows the input quantizer below it.
func (q *QuantMaxPool2d) String() string { return "Quant" + q.MaxPool2d.String() }

// Children returns "input_quantizer".
func (q *QuantMaxPool2d) Children() []Named { return quantChildren(q.InputQuantizer, nil) }

// Float returns the embedded MaxPool2d.
func (q *QuantMaxPool2d) Float() Layer { return &q.MaxPool2d }

// Quantizers returns the input quantizer and a nil weight quantizer.
func (q *QuantMaxPool2d) Quantizers() (input, weight *TensorQuantizer) { return q.InputQuantizer, nil }

// Forward quantizes x and applies max pooling to it. It returns the errors of
// the input quantizer (named "input_quantizer") and of MaxPool2d.Forward.
func (q *QuantMaxPool2d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardInput(q, q.InputQuantizer, x, func(x *tensor.Tensor) (*tensor.Tensor, error) { return q.forward(q, x) })
}

// Backward returns the input gradient of the last Forward, through the
// input quantizer's straight-through gradient.
func (q *QuantMaxPool2d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardInput(q, q.InputQuantizer, dy, func(dy *tensor.Tensor) (*tensor.Tensor, error) { return q.backward(q, dy) })
}

// Kind returns "QuantMaxPool3d".
func (q *QuantMaxPool3d) Kind() string { return "Quant" + q.MaxPool3d.Kind() }

// String returns the float layer's repr with the "Quant" prefix; Describe
// shows the input quantizer below it.
func (q *QuantMaxPool3d) String() string { return "Quant" + q.MaxPool3d.String() }

// Children returns "input_quantizer".
func (q *QuantMaxPool3d) Children() []Named { return quantChildren(q.InputQuantizer, nil) }

// Float returns the embedded MaxPool3d.
func (q *QuantMaxPool3d) Float() Layer { return &q.MaxPool3d }

// Quantizers returns the input quantizer and a nil weight quantizer.
func (q *QuantMaxPool3d) Quantizers() (input, weight *TensorQuantizer) { return q.InputQuantizer, nil }

// Forward quantizes x and applies max pooling to it. It returns the errors of
// the input quantizer (named "input_quantizer") and of MaxPool3d.Forward.
func (q *QuantMaxPool3d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardInput(q, q.InputQuantizer, x, func(x *tensor.Tensor) (*tensor.Tensor, error) { return q.forward(q, x) })
}

// Backward returns the input gradient of the last Forward, through the
// input quantizer's straight-through gradient.
func (q *QuantMaxPool3d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardInput(q, q.InputQuantizer, dy, func(dy *tensor.Tensor) (*tensor.Tensor, error) { return q.backward(q, dy) })
}

// Kind returns "QuantAvgPool1d".
func (q *QuantAvgPool1d) Kind() string { return "Quant" + q.AvgPool1d.Kind() }

// String returns the float layer's repr with the "Quant" prefix; Describe
// shows the input quantizer below it.
func (q *QuantAvgPool1d) String() string { return "Quant" + q.AvgPool1d.String() }

// Children returns "input_quantizer".
func (q *QuantAvgPool1d) Children() []Named { return quantChildren(q.InputQuantizer, nil) }

// Float returns the embedded AvgPool1d.
func (q *QuantAvgPool1d) Float() Layer { return &q.AvgPool1d }

// Quantizers returns the input quantizer and a nil weight quantizer.
func (q *QuantAvgPool1d) Quantizers() (input, weight *TensorQuantizer) { return q.InputQuantizer, nil }

// Forward quantizes x and applies average pooling to it. It returns the errors of
// the input quantizer (named "input_quantizer") and of AvgPool1d.Forward.
func (q *QuantAvgPool1d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardInput(q, q.InputQuantizer, x, func(x *tensor.Tensor) (*tensor.Tensor, error) { return q.forward(q, x) })
}

// Backward returns the input gradient of the last Forward, through the
// input quantizer's straight-through gradient.
func (q *QuantAvgPool1d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardInput(q, q.InputQuantizer, dy, func(dy *tensor.Tensor) (*tensor.Tensor, error) { return q.backward(q, dy) })
}

// Kind returns "QuantAvgPool2d".
func (q *QuantAvgPool2d) Kind() string { return "Quant" + q.AvgPool2d.Kind() }

// String returns the float layer's repr with the "Quant" prefix; Describe
// shows the input quantizer below it.
func (q *QuantAvgPool2d) String() string { return "Quant" + q.AvgPool2d.String() }

// Children returns "input_quantizer".
func (q *QuantAvgPool2d) Children() []Named { return quantChildren(q.InputQuantizer, nil) }

// Float returns the embedded AvgPool2d.
func (q *QuantAvgPool2d) Float() Layer { return &q.AvgPool2d }

// Quantizers returns the input quantizer and a nil weight quantizer.
func (q *QuantAvgPool2d) Quantizers() (input, weight *TensorQuantizer) { return q.InputQuantizer, nil }

// Forward quantizes x and applies average pooling to it. It returns the errors of
// the input quantizer (named "input_quantizer") and of AvgPool2d.Forward.
func (q *QuantAvgPool2d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardInput(q, q.InputQuantizer, x, func(x *tensor.Tensor) (*tensor.Tensor, error) { return q.forward(q, x) })
}

// Backward returns the input gradient of the last Forward, through the
// input quantizer's straight-through gradient.
func (q *QuantAvgPool2d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardInput(q, q.InputQuantizer, dy, func(dy *tensor.Tensor) (*tensor.Tensor, error) { return q.backward(q, dy) })
}

// Kind returns "QuantAvgPool3d".
func (q *QuantAvgPool3d) Kind() string { return "Quant" + q.AvgPool3d.Kind() }

// String returns the float layer's repr with the "Quant" prefix; Describe
// shows the input quantizer below it.
func (q *QuantAvgPool3d) String() string { return "Quant" + q.AvgPool3d.String() }

// Children returns "input_quantizer".
func (q *QuantAvgPool3d) Children() []Named { return quantChildren(q.InputQuantizer, nil) }

// Float returns the embedded AvgPool3d.
func (q *QuantAvgPool3d) Float() Layer { return &q.AvgPool3d }

// Quantizers returns the input quantizer and a nil weight quantizer.
func (q *QuantAvgPool3d) Quantizers() (input, weight *TensorQuantizer) { return q.InputQuantizer, nil }

// Forward quantizes x and applies average pooling to it. It returns the errors of
// the input quantizer (named "input_quantizer") and of AvgPool3d.Forward.
func (q *QuantAvgPool3d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardInput(q, q.InputQuantizer, x, func(x *tensor.Tensor) (*tensor.Tensor, error) { return q.forward(q, x) })
}

// Backward returns the input gradient of the last Forward, through the
// input quantizer's straight-through gradient.
func (q *QuantAvgPool3d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardInput(q, q.InputQuantizer, dy, func(dy *tensor.Tensor) (*tensor.Tensor, error) { return q.backward(q, dy) })
}

// Kind returns "QuantAdaptiveAvgPool1d".
func (q *QuantAdaptiveAvgPool1d) Kind() string { return "Quant" + q.AdaptiveAvgPool1d.Kind() }

// String returns the float layer's repr with the "Quant" prefix; Describe
// shows the input quantizer below it.
func (q *QuantAdaptiveAvgPool1d) String() string { return "Quant" + q.AdaptiveAvgPool1d.String() }

// Children returns "input_quantizer".
func (q *QuantAdaptiveAvgPool1d) Children() []Named { return quantChildren(q.InputQuantizer, nil) }

// Float returns the embedded AdaptiveAvgPool1d.
func (q *QuantAdaptiveAvgPool1d) Float() Layer { return &q.AdaptiveAvgPool1d }

// Quantizers returns the input quantizer and a nil weight quantizer.
func (q *QuantAdaptiveAvgPool1d) Quantizers() (input, weight *TensorQuantizer) {
	return q.InputQuantizer, nil
}

// Forward quantizes x and applies adaptive average pooling to it. It returns the errors of
// the input quantizer (named "input_quantizer") and of AdaptiveAvgPool1d.Forward.
func (q *QuantAdaptiveAvgPool1d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardInput(q, q.InputQuantizer, x, func(x *tensor.Tensor) (*tensor.Tensor, error) { return q.forward(q, x) })
}

// Backward returns the input gradient of the last Forward, through the
// input quantizer's straight-through gradient.
func (q *QuantAdaptiveAvgPool1d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardInput(q, q.InputQuantizer, dy, func(dy *tensor.Tensor) (*tensor.Tensor, error) { return q.backward(q, dy) })
}

// Kind returns "QuantAdaptiveAvgPool2d".
func (q *QuantAdaptiveAvgPool2d) Kind() string { return "Quant" + q.AdaptiveAvgPool2d.Kind() }

// String returns the float layer's repr with the "Quant" prefix; Describe
// shows the input quantizer below it.
func (q *QuantAdaptiveAvgPool2d) String() string { return "Quant" + q.AdaptiveAvgPool2d.String() }

// Children returns "input_quantizer".
func (q *QuantAdaptiveAvgPool2d) Children() []Named { return quantChildren(q.InputQuantizer, nil) }

// Float returns the embedded AdaptiveAvgPool2d.
func (q *QuantAdaptiveAvgPool2d) Float() Layer { return &q.AdaptiveAvgPool2d }

// Quantizers returns the input quantizer and a nil weight quantizer.
func (q *QuantAdaptiveAvgPool2d) Quantizers() (input, weight *TensorQuantizer) {
	return q.InputQuantizer, nil
}

// Forward quantizes x and applies adaptive average pooling to it. It returns the errors of
// the input quantizer (named "input_quantizer") and of AdaptiveAvgPool2d.Forward.
func (q *QuantAdaptiveAvgPool2d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardInput(q, q.InputQuantizer, x, func(x *tensor.Tensor) (*tensor.Tensor, error) { return q.forward(q, x) })
}

// Backward returns the input gradient of the last Forward, through the
// input quantizer's straight-through gradient.
func (q *QuantAdaptiveAvgPool2d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardInput(q, q.InputQuantizer, dy, func(dy *tensor.Tensor) (*tensor.Tensor, error) { return q.backward(q, dy) })
}

// Kind returns "QuantAdaptiveAvgPool3d".
func (q *QuantAdaptiveAvgPool3d) Kind() string { return "Quant" + q.AdaptiveAvgPool3d.Kind() }

// String returns the float layer's repr with the "Quant" prefix; Describe
// shows the input quantizer below it.
func (q *QuantAdaptiveAvgPool3d) String() string { return "Quant" + q.AdaptiveAvgPool3d.String() }

// Children returns "input_quantizer".
func (q *QuantAdaptiveAvgPool3d) Children() []Named { return quantChildren(q.InputQuantizer, nil) }

// Float returns the embedded AdaptiveAvgPool3d.
func (q *QuantAdaptiveAvgPool3d) Float() Layer { return &q.AdaptiveAvgPool3d }

// Quantizers returns the input quantizer and a nil weight quantizer.
func (q *QuantAdaptiveAvgPool3d) Quantizers() (input, weight *TensorQuantizer) {
	return q.InputQuantizer, nil
}

// Forward quantizes x and applies adaptive average pooling to it. It returns the errors of
// the input quantizer (named "input_quantizer") and of AdaptiveAvgPool3d.Forward.
func (q *QuantAdaptiveAvgPool3d) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	return forwardInput(q, q.InputQuantizer, x, func(x *tensor.Tensor) (*tensor.Tensor, error) { return q.forward(q, x) })
}

// Backward returns the input gradient of the last Forward, through the
// input quantizer's straight-through gradient.
func (q *QuantAdaptiveAvgPool3d) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return backwardInput(q, q.InputQuantizer, dy, func(dy *tensor.Tensor) (*tensor.Tensor, error) { return q.backward(q, dy) })
}
