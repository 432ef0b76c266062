package quantize

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/histogram"
)

// Format is the number format of the quantized model.
type Format string

// The formats.
const (
	// Int8 is TensorRT's INT8: symmetric, zero point 0, scale amax/127
	// (amax/255 for unsigned activations), weights per channel; opset 13
	// (10 with per-tensor weights).
	Int8 Format = "int8"
	// FP8 is FLOAT8E4M3FN for activations (per tensor) and weights (per
	// channel), scale amax/448, QuantizeLinear saturating; opset 19.
	FP8 Format = "fp8"
	// Int4 is INT4 weights (scale amax/7), in blocks of BlockSize along the
	// reduction axis or per channel, with INT8 activations; opset 21.
	Int4 Format = "int4"
)

// DefaultOpTypes are the op types the original toolkit quantizes (the
// layers quant_modules.initialize() replaces, as PyTorch exports them):
// the data input of every Conv, ConvTranspose, Gemm and MatMul with a
// constant weight, that weight per channel, and the input of average
// pooling.
var DefaultOpTypes = []string{"AveragePool", "Conv", "ConvTranspose", "Gemm", "GlobalAveragePool", "MatMul"}

// placeable are the op types Place knows how to quantize.
var placeable = append(slices.Clone(DefaultOpTypes), "Add")

// Options choose where quantizers go and in which format. The zero value
// is the original toolkit's placement in INT8 (see Place).
type Options struct {
	// OpTypesToQuantize lists the op types that get quantizers; nil means
	// DefaultOpTypes. "Add" is implied by QuantizeResidualAdd.
	OpTypesToQuantize []string `json:"op_types_to_quantize,omitempty"`
	// OpTypesToExclude are left float even when listed above.
	OpTypesToExclude []string `json:"op_types_to_exclude,omitempty"`
	// NodesToExclude is a regular expression (RE2 syntax, unanchored:
	// "^/fc/" for a prefix); a node whose name it matches gets no
	// quantizer on its inputs.
	NodesToExclude string `json:"nodes_to_exclude,omitempty"`
	// QuantizeResidualAdd quantizes the inputs of every Add of two
	// computed values (a residual connection), as TensorRT recommends
	// for fusing the Add into the convolution before it: when exactly one
	// input comes from a convolution (directly or through
	// BatchNormalization) only the other is quantized; when both do, input
	// 1 (PyTorch's shortcut in out += identity); otherwise both.
	QuantizeResidualAdd bool `json:"quantize_residual_add,omitempty"`
	// QuantizeActivationMatMul quantizes both inputs of every MatMul of two
	// computed values (attention's q·kᵀ and softmax·v), per tensor.
	QuantizeActivationMatMul bool `json:"quantize_activation_matmul,omitempty"`
	// PerTensorWeights quantizes weights with one amax each instead of one
	// per output channel.
	PerTensorWeights bool `json:"per_tensor_weights,omitempty"`
	// UnsignedAfterReLU quantizes activations that come from a Relu
	// (directly or through pooling, Flatten, Reshape, Transpose,
	// Squeeze, Unsqueeze or Identity) as unsigned: UINT8, scale amax/255,
	// and the histogram searches for an unsigned format. Int8 only.
	UnsignedAfterReLU bool `json:"unsigned_after_relu,omitempty"`
	// Format is the number format; "" means Int8.
	Format Format `json:"format,omitempty"`
	// BlockSize is the block size of Int4 weights along their reduction
	// axis (a convolution's weight as the matrix [filters, rest], followed
	// by a Reshape; ConvTranspose weights stay per channel); 0 means per
	// channel.
	BlockSize int `json:"block_size,omitempty"`
	// WeightMethod calibrates the weights: "max" (the default, ""),
	// "percentile" or "mse" per channel, computed by
	// calibrators.CalibrateWeight with Amax's options. Blocks and
	// per-tensor weights take "max" only.
	WeightMethod calibrators.Method `json:"weight_method,omitempty"`
	// NumBins is the number of bins of each activation histogram on the
	// first batch; 0 means 2048.
	NumBins int `json:"num_bins,omitempty"`
}

// withDefaults returns o with its zero values resolved, and an error
// naming the field for values it cannot use.
func (o Options) withDefaults() (Options, error) {
	if o.Format == "" {
		o.Format = Int8
	}
	if o.WeightMethod == "" {
		o.WeightMethod = calibrators.MethodMax
	}
	if o.NumBins == 0 {
		o.NumBins = calibrators.DefaultNumBins
	}
	if o.OpTypesToQuantize == nil {
		o.OpTypesToQuantize = slices.Clone(DefaultOpTypes)
	}
	switch o.Format {
	case Int8, FP8, Int4:
	default:
		return o, fmt.Errorf("quantize: format %q: want int8, fp8 or int4", o.Format)
	}
	if o.BlockSize < 0 || o.BlockSize > 0 && (o.Format != Int4 || o.PerTensorWeights) {
		return o, fmt.Errorf("quantize: block size %d: blocks are for int4 weights that are not per tensor (0: per channel)", o.BlockSize)
	}
	if o.UnsignedAfterReLU && o.Format == FP8 {
		return o, fmt.Errorf("quantize: unsigned activations after ReLU: FP8 has no unsigned format")
	}
	switch o.WeightMethod {
	case calibrators.MethodMax:
	case calibrators.MethodPercentile, calibrators.MethodMSE:
		if o.PerTensorWeights || o.BlockSize > 0 {
			return o, fmt.Errorf("quantize: weight method %q is per channel: per-tensor and block weights take \"max\"", o.WeightMethod)
		}
		if o.Format == FP8 {
			return o, fmt.Errorf("quantize: weight method %q searches integer formats: FP8 weights take \"max\"", o.WeightMethod)
		}
	default:
		return o, fmt.Errorf("quantize: weight method %q: want max, percentile or mse", o.WeightMethod)
	}
	if o.NumBins < 1 || o.NumBins > histogram.MaxBins {
		return o, fmt.Errorf("quantize: %d histogram bins: want 1 to %d", o.NumBins, histogram.MaxBins)
	}
	for _, t := range append(slices.Clone(o.OpTypesToQuantize), o.OpTypesToExclude...) {
		if !slices.Contains(placeable, t) {
			return o, fmt.Errorf("quantize: op type %q: quantizers go on %v", t, placeable)
		}
	}
	if _, err := regexp.Compile(o.NodesToExclude); err != nil {
		return o, fmt.Errorf("quantize: nodes to exclude: %w", err)
	}
	return o, nil
}

// weightBits returns the bit width of the weights' integer format (0 for
// FP8).
func (o Options) weightBits() int {
	switch o.Format {
	case Int4:
		return 4
	case FP8:
		return 0
	}
	return 8
}
