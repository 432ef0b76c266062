package layers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/pyfmt"
	"github.com/tensorquant/tensorquant/tensor"
)

// QuantDescriptor describes how a tensor is quantized, as the original
// toolkit's QuantDescriptor does; a TensorQuantizer is built from one.
//
// The original's defaults are those of QuantDesc8BitPerTensor(): 8 bits,
// fake quantization, per-tensor dynamic amax, full range, "max"
// calibration. Go's zero value cannot mean them (FakeQuant false is real
// quantization), so the zero value is invalid instead: NumBits 0 fails
// Validate, which every constructor that takes a descriptor runs. Start
// from a predefined descriptor, which is a new value on every call, and
// change fields:
//
//	d := layers.QuantDesc8BitPerTensor()
//	d.NumBits = 4
//
// A descriptor holds slices (Axis, Amax, AmaxShape): copying one with = shares
// them, Clone does not. Everything in this package that keeps a
// descriptor keeps a clone.
type QuantDescriptor struct {
	// NumBits is the integer bit width, 1 to 32 (2 or more when signed).
	NumBits int
	// FakeQuant selects fake quantization (quantize, then dequantize in
	// float32). When false the quantizer returns the integer codes as
	// float32 and always uses the narrow range, as the original does.
	FakeQuant bool
	// Axis lists the axes that KEEP their own amax (the original's
	// convention since v2.0): []int{0} on a (10, 9, 8, 7) weight gives an
	// amax of shape (10, 1, 1, 1). Nil means per-tensor. Negative axes count
	// from the end, except that a quantizer computing a dynamic amax treats
	// a single -1 as per-tensor, reproducing the original.
	Axis []int
	// Amax is a fixed amax; nil means none (dynamic, or calibrated later).
	Amax []float32
	// AmaxShape is the shape of Amax, which broadcasts against the input
	// with NumPy rules. Nil means [len(Amax)] (so a 1-D amax pairs with the
	// input's last dimension, as in the original), or a scalar when Amax
	// has one element.
	AmaxShape []int
	// LearnAmax learns the clipping range (PACT-style) starting from Amax
	// (or 1); it requires a per-tensor descriptor.
	LearnAmax bool
	// ScaleAmax, when not 0, multiplies the amax before quantizing.
	ScaleAmax float32
	// CalibMethod is CalibMax (the default, also when empty) or
	// CalibHistogram.
	CalibMethod CalibMethod
	// Unsigned selects [0, 2^NumBits-1]; the input must then be >= 0.
	Unsigned bool
	// NarrowRange drops the most negative level: [-(2^(b-1)-1), 2^(b-1)-1].
	// The original on a GPU fake-quantizes with the narrow range whatever
	// its narrow_range says (its CUDA extension ignores it; the CPU formula
	// followed here honours it): set NarrowRange to reproduce a model
	// trained with the original on a GPU. fakequant's package doc lists
	// the other differences of the GPU path.
	NarrowRange bool
	// Name is an optional label; String begins with it.
	Name string
	// Format is the number format: FormatInt (also when empty) for the
	// integer formats NumBits describes, or one of the FP8 formats:
	//
	//   - FormatE4M3 / FormatE5M2: E4M3FN and E5M2 in the ONNX convention
	//     of fakequant.FakeQuantFP8 (x / (amax/448), saturated, then
	//     * (amax/448); 57344 for E5M2). It is what the exported
	//     QuantizeLinear/DequantizeLinear pair computes, so a model
	//     fake-quantized in training and its export agree bit for bit.
	//   - FormatScaledE4M3: what the original's num_bits=(4, 3) means, its
	//     scaled_e4m3 as its CUDA extension computes it
	//     (fakequant.ScaledE4M3Tensor: x * (448/amax), rounded, then
	//     / (448/amax), and |x| < 2^-24 flushed to +0), to reproduce a
	//     model trained with the original. It prints as the original does,
	//     "(4, 3)bit". It exports as FormatE4M3 does (standard ONNX has no
	//     node for it), and in export mode (TensorQuantizer.SetExportMode)
	//     it computes those exported numbers, which differ from its own in
	//     the last bit of some elements and in the sign of tiny zeros.
	//     Unlike the original, which quietly ignores them for (4, 3), it
	//     rejects LearnAmax and real quantization.
	//
	// FormatE4M3 keeps the ONNX meaning it has always had here, so saved
	// descriptors and checkpoints compute what they computed; pick
	// FormatScaledE4M3 for the original's numbers. An FP8 descriptor must
	// say NumBits 8 (the width; nothing else uses it), fake quantization,
	// signed and full range. Calibration is that of the integer formats,
	// except that "mse" searches with E4M3FN (E5M2) in the ONNX convention.
	Format NumberFormat
	// BlockSize, when > 0, gives one amax to each block of BlockSize
	// consecutive elements along the input's last axis (the last block of
	// a row may be shorter; see fakequant.NumBlocks), computed from each
	// input or calibrated with "max". It requires the "int" format, fake
	// quantization, no Axis, no LearnAmax and the "max" calibration
	// method. A quantized convolution gives its weight quantizer the weight
	// viewed as a matrix with one row per output channel (per input
	// channel for a transposed one), so that blocks run over a filter.
	BlockSize int
}

// CalibMethod is how a quantizer calibrates: the original's calib_method.
// Text (JSON) converts with CalibMethod(s); Validate refuses other names.
type CalibMethod string

// The calibration methods of a descriptor.
const (
	// CalibMax keeps the running abs-max (calibrators.Max).
	CalibMax CalibMethod = "max"
	// CalibHistogram collects a histogram (calibrators.Histogram), from
	// which entropy, percentile or mse calibration chooses the amax.
	CalibHistogram CalibMethod = "histogram"
)

// NumberFormat is the number format a descriptor quantizes to. Text (JSON)
// converts with NumberFormat(s); Validate refuses other names.
type NumberFormat string

// The number formats.
const (
	// FormatInt is the integer format NumBits, Unsigned and NarrowRange
	// describe.
	FormatInt NumberFormat = "int"
	// FormatE4M3 is FP8 E4M3FN (amax maps to 448).
	FormatE4M3 NumberFormat = "e4m3"
	// FormatE5M2 is FP8 E5M2 (amax maps to 57344).
	FormatE5M2 NumberFormat = "e5m2"
	// FormatScaledE4M3 is the original's num_bits=(4, 3): E4M3 as its
	// CUDA extension computes it (see QuantDescriptor.Format).
	FormatScaledE4M3 NumberFormat = "scaled_e4m3"
)

// The predefined descriptors of the original toolkit. Each call returns a
// new descriptor, so that changing one (its Axis slice included) never
// changes another. Weight descriptors keep one amax per output channel:
// axis 0 for Conv and Linear weights ([out, in, ...]), axis 1 for
// ConvTranspose weights ([in, out, ...]).

// QuantDesc8BitPerTensor returns the original's QUANT_DESC_8BIT_PER_TENSOR,
// its default descriptor: 8 bits, fake, per tensor, max calibration.
func QuantDesc8BitPerTensor() QuantDescriptor {
	return QuantDescriptor{NumBits: 8, FakeQuant: true, CalibMethod: CalibMax}
}

// QuantDescUnsigned8BitPerTensor returns the original's
// QUANT_DESC_UNSIGNED_8BIT_PER_TENSOR: QuantDesc8BitPerTensor() unsigned.
func QuantDescUnsigned8BitPerTensor() QuantDescriptor {
	d := QuantDesc8BitPerTensor()
	d.Unsigned = true
	return d
}

// perChannel returns QuantDesc8BitPerTensor() keeping one amax along axis.
func perChannel(axis int) QuantDescriptor {
	d := QuantDesc8BitPerTensor()
	d.Axis = []int{axis}
	return d
}

// QuantDesc8BitConv1dWeightPerChannel() returns the original's
// QUANT_DESC_8BIT_CONV1D_WEIGHT_PER_CHANNEL (axis 0).
func QuantDesc8BitConv1dWeightPerChannel() QuantDescriptor { return perChannel(0) }

// QuantDesc8BitConv2dWeightPerChannel() returns the original's
// QUANT_DESC_8BIT_CONV2D_WEIGHT_PER_CHANNEL (axis 0).
func QuantDesc8BitConv2dWeightPerChannel() QuantDescriptor { return perChannel(0) }

// QuantDesc8BitConv3dWeightPerChannel() returns the original's
// QUANT_DESC_8BIT_CONV3D_WEIGHT_PER_CHANNEL (axis 0).
func QuantDesc8BitConv3dWeightPerChannel() QuantDescriptor { return perChannel(0) }

// QuantDesc8BitLinearWeightPerRow() returns the original's
// QUANT_DESC_8BIT_LINEAR_WEIGHT_PER_ROW (axis 0).
func QuantDesc8BitLinearWeightPerRow() QuantDescriptor { return perChannel(0) }

// QuantDesc8BitConvTranspose1dWeightPerChannel() returns the original's
// QUANT_DESC_8BIT_CONVTRANSPOSE1D_WEIGHT_PER_CHANNEL (axis 1).
func QuantDesc8BitConvTranspose1dWeightPerChannel() QuantDescriptor { return perChannel(1) }

// QuantDesc8BitConvTranspose2dWeightPerChannel() returns the original's
// QUANT_DESC_8BIT_CONVTRANSPOSE2D_WEIGHT_PER_CHANNEL (axis 1).
func QuantDesc8BitConvTranspose2dWeightPerChannel() QuantDescriptor { return perChannel(1) }

// QuantDesc8BitConvTranspose3dWeightPerChannel() returns the original's
// QUANT_DESC_8BIT_CONVTRANSPOSE3D_WEIGHT_PER_CHANNEL (axis 1).
func QuantDesc8BitConvTranspose3dWeightPerChannel() QuantDescriptor { return perChannel(1) }

// Clone returns a deep copy of d.
func (d QuantDescriptor) Clone() QuantDescriptor {
	d.Axis = slices.Clone(d.Axis)
	d.Amax = slices.Clone(d.Amax)
	d.AmaxShape = slices.Clone(d.AmaxShape)
	return d
}

// IntFormat returns the integer format d quantizes to in fake mode. (A
// real, non-fake quantizer uses the narrow range whatever NarrowRange says.)
// It is meaningless for an FP8 Format.
func (d QuantDescriptor) IntFormat() fakequant.Format {
	return fakequant.Format{NumBits: d.NumBits, Unsigned: d.Unsigned, NarrowRange: d.NarrowRange}
}

// FormatName returns the number format, FormatInt when Format is empty.
func (d QuantDescriptor) FormatName() NumberFormat {
	if d.Format == "" {
		return FormatInt
	}
	return d.Format
}

// FP8 returns the FP8 format of a FormatE4M3, FormatScaledE4M3 or
// FormatE5M2 descriptor (E4M3FN for both E4M3 formats), and false for the
// integer formats.
func (d QuantDescriptor) FP8() (fakequant.FP8Format, bool) {
	switch d.Format {
	case FormatE4M3, FormatScaledE4M3:
		return fakequant.E4M3FN, true
	case FormatE5M2:
		return fakequant.E5M2, true
	}
	return 0, false
}

// Method returns the calibration method, CalibMax when CalibMethod is
// empty.
func (d QuantDescriptor) Method() CalibMethod {
	if d.CalibMethod == "" {
		return CalibMax
	}
	return d.CalibMethod
}

// AmaxTensor returns the fixed amax as a tensor shaped by AmaxShape, or nil
// when Amax is nil.
func (d QuantDescriptor) AmaxTensor() (*tensor.Tensor, error) {
	if d.Amax == nil {
		return nil, nil
	}
	shape := d.AmaxShape
	if shape == nil && len(d.Amax) != 1 {
		shape = []int{len(d.Amax)}
	}
	t, err := tensor.FromSlice(slices.Clone(d.Amax), shape...)
	if err != nil {
		return nil, fmt.Errorf("layers: %s: amax_shape %v: %w", d.label(), d.AmaxShape, err)
	}
	return t, nil
}

// Validate returns an error naming the offending field and value if d is
// not a usable descriptor: NumBits that fakequant.Format.Validate refuses,
// an unknown CalibMethod, a repeated axis, LearnAmax with per-channel axes,
// a negative, NaN or infinite amax element, an AmaxShape that does not hold
// len(Amax) elements, a negative, NaN or infinite ScaleAmax, an unknown
// Format, an FP8 format with NumBits other than 8, real quantization,
// Unsigned or NarrowRange, and a negative BlockSize or a BlockSize with
// another format, real quantization, an Axis, LearnAmax or the histogram
// method.
func (d QuantDescriptor) Validate() error {
	if err := d.validateFormat(); err != nil {
		return err
	}
	if d.NumBits == 0 {
		return fmt.Errorf("layers: %s: num_bits 0 out of range [1, %d] (a zero QuantDescriptor: start from a preset such as QuantDesc8BitPerTensor())", d.label(), fakequant.MaxNumBits)
	}
	if err := d.IntFormat().Validate(); err != nil {
		return fmt.Errorf("layers: %s: %w", d.label(), err)
	}
	switch d.CalibMethod {
	case "", CalibMax, CalibHistogram:
	default:
		return fmt.Errorf("layers: %s: unknown calib_method %q (want \"max\" or \"histogram\")", d.label(), d.CalibMethod)
	}
	for i, a := range d.Axis {
		if slices.Contains(d.Axis[:i], a) {
			return fmt.Errorf("layers: %s: axis %d given twice in %v", d.label(), a, d.Axis)
		}
	}
	if d.LearnAmax && d.Axis != nil {
		return fmt.Errorf("layers: %s: learn_amax needs a per-tensor descriptor, got axis %v", d.label(), d.Axis)
	}
	for i, a := range d.Amax {
		if a < 0 || a != a || math.IsInf(float64(a), 0) {
			return fmt.Errorf("layers: %s: amax[%d] = %v: amax must be finite and >= 0", d.label(), i, a)
		}
	}
	if d.AmaxShape != nil {
		n, err := tensor.NumelOf(d.AmaxShape)
		if err != nil || n != len(d.Amax) || d.Amax == nil {
			return fmt.Errorf("layers: %s: amax_shape %v does not hold the %d amax values", d.label(), d.AmaxShape, len(d.Amax))
		}
	}
	if s := d.ScaleAmax; s < 0 || s != s || math.IsInf(float64(s), 0) {
		return fmt.Errorf("layers: %s: scale_amax %v must be finite and >= 0", d.label(), s)
	}
	return nil
}

// validateFormat checks Format and BlockSize against the other fields.
func (d QuantDescriptor) validateFormat() error {
	switch d.Format {
	case "", FormatInt:
	case FormatE4M3, FormatE5M2, FormatScaledE4M3:
		switch {
		case d.NumBits != 8:
			return fmt.Errorf("layers: %s: format %s is 8 bits wide, got num_bits %d", d.label(), d.Format, d.NumBits)
		case !d.FakeQuant:
			return fmt.Errorf("layers: %s: format %s needs fake quantization", d.label(), d.Format)
		case d.Unsigned || d.NarrowRange:
			return fmt.Errorf("layers: %s: format %s has no unsigned or narrow-range variant", d.label(), d.Format)
		case d.LearnAmax && d.Format == FormatScaledE4M3:
			return fmt.Errorf("layers: %s: format %s has no learn_amax (the original ignores it for num_bits=(4, 3))", d.label(), d.Format)
		}
	default:
		return fmt.Errorf("layers: %s: unknown format %q (want \"int\", \"e4m3\", \"scaled_e4m3\" or \"e5m2\")", d.label(), d.Format)
	}
	switch {
	case d.BlockSize < 0:
		return fmt.Errorf("layers: %s: block_size %d is negative", d.label(), d.BlockSize)
	case d.BlockSize == 0:
	case d.FormatName() != FormatInt:
		return fmt.Errorf("layers: %s: block_size %d needs the int format, got %s", d.label(), d.BlockSize, d.Format)
	case !d.FakeQuant || d.Axis != nil || d.LearnAmax || d.Method() != CalibMax:
		return fmt.Errorf("layers: %s: block_size %d needs fake quantization, no axis, no learn_amax and calib_method \"max\" (got fake_quant %v, axis %v, learn_amax %v, calib_method %q)",
			d.label(), d.BlockSize, d.FakeQuant, d.Axis, d.LearnAmax, d.Method())
	}
	return nil
}

// label names d in error messages.
func (d QuantDescriptor) label() string {
	if d.Name != "" {
		return "descriptor " + strconv.Quote(d.Name)
	}
	return "descriptor"
}

// String describes d in the words of the original's __str__, e.g.
// "QuantDescriptor(8bit fake axis= per-tensor)" or
// "input: (unsigned 8bit real axis=(0, 1) amax=[0.5  0.25] full_range
// scale_amax=2.0)". The original prints " full_range" after any fixed amax
// whatever the range; so does this. A Go []int cannot tell the original's
// axis=0 from axis=(0,): one axis prints as "axis=0". The formats the
// original does not have print as "e4m3" or "e5m2" in place of "8bit"
// ("scaled_e4m3" prints the original's "(4, 3)bit"),
// and a block size as " block_size=32" after the axis.
func (d QuantDescriptor) String() string {
	var b strings.Builder
	if d.Name != "" {
		b.WriteString(d.Name + ": ")
	} else {
		b.WriteString("QuantDescriptor")
	}
	b.WriteString("(")
	if d.Unsigned {
		b.WriteString("unsigned ")
	}
	b.WriteString(d.width())
	if d.FakeQuant {
		b.WriteString(" fake")
	} else {
		b.WriteString(" real")
	}
	b.WriteString(" axis=" + pyAxis(d.Axis))
	if d.BlockSize > 0 {
		fmt.Fprintf(&b, " block_size=%d", d.BlockSize)
	}
	if d.Amax != nil {
		shape := d.AmaxShape
		if shape == nil && len(d.Amax) != 1 {
			shape = []int{len(d.Amax)}
		}
		b.WriteString(" amax=" + pyfmt.Array(shape, d.Amax) + " full_range")
	}
	if d.LearnAmax {
		b.WriteString(" learn_amax")
	}
	if d.ScaleAmax != 0 {
		b.WriteString(" scale_amax=" + pyfmt.Scalar(d.ScaleAmax))
	}
	b.WriteString(")")
	return b.String()
}

// width prints the number format as String and the quantizer's repr do:
// "8bit" for the integer formats, "e4m3" or "e5m2" for FP8, and the
// original's "(4, 3)bit" for its num_bits=(4, 3).
func (d QuantDescriptor) width() string {
	if d.Format == FormatScaledE4M3 {
		return "(4, 3)bit"
	}
	if _, ok := d.FP8(); ok {
		return string(d.Format)
	}
	return fmt.Sprintf("%dbit", d.NumBits)
}

// pyAxis prints an axis list as the original prints its axis attribute.
func pyAxis(axis []int) string {
	switch len(axis) {
	case 0:
		if axis == nil {
			return " per-tensor"
		}
		return "()"
	case 1:
		return strconv.Itoa(axis[0])
	}
	parts := make([]string, len(axis))
	for i, a := range axis {
		parts[i] = strconv.Itoa(a)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// Equal reports whether d and o describe the same quantization (an empty
// CalibMethod equals "max" and an empty Format "int"; nil and empty slices
// differ only for Axis, where nil means per-tensor).
func (d QuantDescriptor) Equal(o QuantDescriptor) bool {
	return d.NumBits == o.NumBits && d.FakeQuant == o.FakeQuant && d.LearnAmax == o.LearnAmax &&
		d.FormatName() == o.FormatName() && d.BlockSize == o.BlockSize &&
		d.ScaleAmax == o.ScaleAmax && d.Method() == o.Method() && d.Unsigned == o.Unsigned &&
		d.NarrowRange == o.NarrowRange && d.Name == o.Name &&
		(d.Axis == nil) == (o.Axis == nil) && slices.Equal(d.Axis, o.Axis) &&
		(d.Amax == nil) == (o.Amax == nil) && slices.Equal(d.Amax, o.Amax) && slices.Equal(d.AmaxShape, o.AmaxShape)
}

// descriptorJSON is the saved form: every field, always, so that nothing is
// lost on a round trip (the original's yaml drops narrow_range and
// calib_method).
type descriptorJSON struct {
	NumBits     int          `json:"num_bits"`
	FakeQuant   bool         `json:"fake_quant"`
	Axis        []int        `json:"axis"`
	Amax        []float32    `json:"amax"`
	AmaxShape   []int        `json:"amax_shape"`
	LearnAmax   bool         `json:"learn_amax"`
	ScaleAmax   float32      `json:"scale_amax"`
	CalibMethod CalibMethod  `json:"calib_method"`
	Unsigned    bool         `json:"unsigned"`
	NarrowRange bool         `json:"narrow_range"`
	Name        string       `json:"name"`
	Format      NumberFormat `json:"format"`
	BlockSize   int          `json:"block_size"`
}

// MarshalJSON writes every field of d under the original's names
// (num_bits, fake_quant, axis, amax, ... narrow_range, name), then format
// ("int" when empty) and block_size. It fails for a descriptor that does
// not validate (JSON cannot hold a NaN amax anyway).
func (d QuantDescriptor) MarshalJSON() ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(descriptorJSON{d.NumBits, d.FakeQuant, d.Axis, d.Amax, d.AmaxShape, d.LearnAmax,
		d.ScaleAmax, d.Method(), d.Unsigned, d.NarrowRange, d.Name, d.FormatName(), d.BlockSize})
}

// UnmarshalJSON reads what MarshalJSON writes; a missing format is "int"
// and a missing block_size 0 (the files of earlier versions). Unknown
// fields, missing num_bits and descriptors that do not validate are errors.
func (d *QuantDescriptor) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	j := descriptorJSON{NumBits: -1}
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("layers: quant descriptor: %w", err)
	}
	if j.NumBits == -1 {
		return fmt.Errorf("layers: quant descriptor: num_bits missing")
	}
	nd := QuantDescriptor(j)
	if err := nd.Validate(); err != nil {
		return err
	}
	*d = nd
	return nil
}
