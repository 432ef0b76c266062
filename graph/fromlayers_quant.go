package graph

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// active reports whether q is written as a QuantizeLinear →
// DequantizeLinear pair: present, not disabled, its quant stage on.
func active(q *layers.TensorQuantizer) bool {
	return q != nil && !q.Disabled() && q.QuantEnabled()
}

// clipOnly reports whether q only clips its input: a learn_amax quantizer
// with its quant stage off and its clip stage on.
func clipOnly(q *layers.TensorQuantizer) bool {
	return q != nil && !q.Disabled() && !q.QuantEnabled() && q.Descriptor().LearnAmax && q.ClipEnabled()
}

// learnedClip returns the learned clip bounds [min, max] of the learn_amax
// quantizer q at path.
func learnedClip(path string, q *layers.TensorQuantizer) ([]float32, error) {
	b := []float32{float32(math.NaN()), float32(math.NaN())}
	for _, p := range q.Params() {
		i := slices.Index([]string{"clip.clip_value_min", "clip.clip_value_max"}, p.Name)
		if i >= 0 && p.Value != nil && len(p.Value.Data) == 1 {
			b[i] = p.Value.Data[0]
		}
	}
	if b[0] != b[0] || b[1] != b[1] {
		return nil, qdqErrorf(path, "learn_amax clip bounds %v: want two numbers", b)
	}
	return b, nil
}

// qdq holds what the written QuantizeLinear/DequantizeLinear of one
// quantizer needs.
type qdq struct {
	path  string              // the quantizer's hierarchical name
	zp    onnx.DataType       // zero-point (quantized) type
	fp8   fakequant.FP8Format // the FP8 format, 0 for integer formats
	lo    int32               // integer code range
	hi    int32
	scale []float32
	dims  []int64   // of the scale and zero point: [] per tensor, [C] per axis, the scale's shape for blocks
	axis  int       // the quantized axis, -1 per tensor
	block int       // block size, 0 without blocks
	clip  []float32 // learn_amax: the clip bounds [min, max] applied first
}

// qdqIntTypes maps the integer widths QuantizeLinear has to their signed and
// unsigned zero-point types.
var qdqIntTypes = map[int][2]onnx.DataType{
	4:  {onnx.Int4, onnx.Uint4},
	8:  {onnx.Int8, onnx.Uint8},
	16: {onnx.Int16, onnx.Uint16},
}

// qdqErrorf returns an error naming the quantizer at path.
func qdqErrorf(path string, format string, args ...any) error {
	return convErrorf("quantizer %s: %s", path, fmt.Sprintf(format, args...))
}

// requirement returns the lowest opset that expresses quantizer q and why:
// 10 for 8-bit integers per tensor, 13 per axis, 19 for FP8, 21 for 4- and
// 16-bit integers and blocks. The amax shape decides per tensor or per
// axis; errors in the quantizer's settings are left to qdqParams.
func requirement(q *layers.TensorQuantizer) (int, string) {
	d := q.Descriptor()
	if _, ok := d.FP8(); ok {
		return 19, "FP8 (" + string(d.Format) + ")"
	}
	switch {
	case d.BlockSize > 0:
		return 21, fmt.Sprintf("block_size %d", d.BlockSize)
	case d.NumBits == 4 || d.NumBits == 16:
		return 21, fmt.Sprintf("%d-bit integers", d.NumBits)
	}
	if a := q.Amax(); a != nil && len(a.Data) > 1 {
		return 13, "a per-channel amax"
	}
	return 10, ""
}

// neededOpset returns the lowest opset that expresses every active
// quantizer of model.
func neededOpset(model layers.Layer) int {
	need := MinLayersOpset
	_ = layers.Walk(model, func(_ string, l layers.Layer) error {
		if q, ok := l.(*layers.TensorQuantizer); ok && active(q) {
			n, _ := requirement(q)
			need = max(need, n)
		}
		return nil
	})
	return need
}

// qdqParams computes the written scale, zero point and axis of quantizer
// q (at path) for an input of the given shape (batch dimension -1), and
// refuses what QuantizeLinear cannot express. weight says whether the
// input is a weight (only weights may be block-quantized: a block amax of
// an activation would fix the batch size).
func (b *layersBuilder) qdqParams(path string, q *layers.TensorQuantizer, shape []int, weight bool) (*qdq, error) {
	d := q.Descriptor()
	p := &qdq{path: path, axis: -1}
	fp8, isFP8 := d.FP8()
	switch {
	case !d.FakeQuant:
		return nil, qdqErrorf(path, "real quantization (fake_quant false) outputs integer codes, not a Q/DQ pair: export needs a fake quantizer")
	case isFP8:
		p.fp8 = fp8
		p.zp = onnx.Float8E4M3FN
		if fp8 == fakequant.E5M2 {
			p.zp = onnx.Float8E5M2
		}
	case d.NarrowRange && !d.Unsigned:
		return nil, qdqErrorf(path, "narrow range: QuantizeLinear saturates to the full range [%d, %d] (the original toolkit refuses it too)",
			-(int64(1) << (d.NumBits - 1)), int64(1)<<(d.NumBits-1)-1)
	case qdqIntTypes[d.NumBits][0] == onnx.Undefined:
		return nil, qdqErrorf(path, "num_bits %d: QuantizeLinear has no %d-bit type (8 bits from opset 10, 4 and 16 from opset 21)", d.NumBits, d.NumBits)
	case d.Unsigned:
		p.lo, p.hi, p.zp = 0, int32(1)<<d.NumBits-1, qdqIntTypes[d.NumBits][1]
	default:
		p.hi = int32(1)<<(d.NumBits-1) - 1
		p.lo, p.zp = -p.hi-1, qdqIntTypes[d.NumBits][0]
	}
	if need, why := requirement(q); int64(need) > b.opset {
		return nil, qdqErrorf(path, "%s: needs opset %d or later, exporting at opset %d", why, need, b.opset)
	}
	amax := q.Amax()
	if amax == nil {
		return nil, qdqErrorf(path, "dynamic amax (computed from each input): export needs a static amax; calibrate the quantizer or set one")
	}
	for i, a := range amax.Data {
		if !(a >= 0) || math.IsInf(float64(a), 1) {
			return nil, qdqErrorf(path, "amax %v at flat index %d: want finite and >= 0", a, i)
		}
	}
	if s := d.ScaleAmax; s != 0 && !d.LearnAmax {
		for i := range amax.Data {
			amax.Data[i] *= s
		}
	}
	if d.LearnAmax {
		var err error
		if p.clip, err = learnedClip(path, q); err != nil {
			return nil, err
		}
	}
	if d.BlockSize > 0 {
		if err := p.blocks(shape, amax, d.BlockSize, weight); err != nil {
			return nil, err
		}
	} else if err := p.perAxis(shape, amax); err != nil {
		return nil, err
	}
	p.scale = make([]float32, len(amax.Data))
	for i, a := range amax.Data {
		if isFP8 {
			s, err := fakequant.FP8Scale(a, fp8)
			if err != nil {
				return nil, qdqErrorf(path, "%v", err)
			}
			p.scale[i] = s
		} else if p.scale[i] = a / float32(p.hi); p.scale[i] == 0 {
			p.scale[i] = 1
		}
	}
	return p, nil
}

// perAxis sets the axis from the amax shape, right-aligned against the
// input's: per tensor when every amax dimension is 1, else the one axis
// along which it varies.
func (p *qdq) perAxis(shape []int, amax *tensor.Tensor) error {
	off := len(shape) - len(amax.Shape)
	for i, d := range amax.Shape {
		if d == 1 {
			continue
		}
		a := off + i
		switch {
		case p.axis >= 0:
			return qdqErrorf(p.path, "amax shape %v varies along more than one axis of the input %s: QuantizeLinear takes one axis", amax.Shape, layers.FormatShape(shape))
		case a == 0 && shape[0] == layers.Batch:
			return qdqErrorf(p.path, "amax shape %v varies along the batch dimension of the input %s, which the export keeps symbolic", amax.Shape, layers.FormatShape(shape))
		case a < 0 || shape[a] != d:
			return qdqErrorf(p.path, "amax shape %v does not broadcast against the input %s", amax.Shape, layers.FormatShape(shape))
		}
		p.axis = a
	}
	if p.axis >= 0 {
		p.dims = []int64{int64(shape[p.axis])}
	}
	return nil
}

// blocks sets the block layout: one amax per block of the last axis, the
// amax shaped like the input with that axis shortened.
func (p *qdq) blocks(shape []int, amax *tensor.Tensor, size int, weight bool) error {
	if !weight {
		return qdqErrorf(p.path, "block_size %d on an activation: its block amax would fix the batch size; only weights are exported with blocks", size)
	}
	want := slices.Clone(shape)
	last := len(shape) - 1
	want[last] = (shape[last] + size - 1) / size
	if !slices.Equal(amax.Shape, want) {
		return qdqErrorf(p.path, "block amax shape %v, want %v for the input %s with block_size %d", amax.Shape, want, layers.FormatShape(shape), size)
	}
	p.axis, p.block = last, size
	p.dims = dims64(want)
	return nil
}

// channel returns the index into p.scale of element i of an input of the
// given (constant) shape.
func (p *qdq) channel(i int, shape []int) int {
	switch {
	case p.axis < 0:
		return 0
	case p.block > 0:
		k := shape[len(shape)-1]
		return i/k*int(p.dims[len(p.dims)-1]) + i%k/p.block
	}
	inner := 1
	for _, d := range shape[p.axis+1:] {
		inner *= d
	}
	return i / inner % shape[p.axis]
}

// attrs returns the axis, block_size and (QuantizeLinear of FP8) saturate
// attributes.
func (p *qdq) attrs(quantize bool) []onnx.Attribute {
	var a []onnx.Attribute
	if p.axis >= 0 {
		a = append(a, onnx.IntAttr("axis", int64(p.axis)))
	}
	if p.block > 0 {
		a = append(a, onnx.IntAttr("block_size", int64(p.block)))
	}
	if quantize && p.fp8 != 0 {
		a = append(a, onnx.IntAttr("saturate", 1))
	}
	return a
}

// codesTensor returns a tensor of type p.zp holding the codes (integer
// formats) or FP8 bytes, packed two per byte for 4-bit types.
func (p *qdq) codesTensor(dims []int64, codes []int32, fp8 []byte) (onnx.Tensor, error) {
	t := onnx.Tensor{Dims: slices.Clone(dims), DataType: p.zp}
	switch p.zp {
	case onnx.Float8E4M3FN, onnx.Float8E5M2:
		t.RawData = fp8
	case onnx.Int4, onnx.Uint4:
		c8 := make([]int8, len(codes))
		for i, c := range codes {
			c8[i] = int8(c)
		}
		t.RawData = make([]byte, fakequant.PackedInt4Len(len(c8)))
		if err := fakequant.PackInt4(t.RawData, c8, p.zp == onnx.Uint4); err != nil {
			return onnx.Tensor{}, err
		}
	default:
		size := p.zp.Size()
		t.RawData = make([]byte, 0, size*len(codes))
		for _, c := range codes {
			if size == 1 {
				t.RawData = append(t.RawData, byte(c))
			} else {
				t.RawData = binary.LittleEndian.AppendUint16(t.RawData, uint16(c))
			}
		}
	}
	return t, nil
}

// constants emits the zero point and scale as Constant nodes (in this
// order, as PyTorch does) and returns their names.
func (b *layersBuilder) constants(scope string, p *qdq) (scale, zp string, err error) {
	zt, err := p.codesTensor(p.dims, make([]int32, len(p.scale)), make([]byte, len(p.scale)))
	if err != nil {
		return "", "", err
	}
	st, err := onnx.NewTensor("", p.dims, p.scale)
	if err != nil {
		return "", "", err
	}
	zp = b.constant(scope, zt).name
	return b.constant(scope, st).name, zp, nil
}

// clip emits the learn_amax Clip of x to bounds [min, max] (attributes
// at opset 10, Constant inputs from opset 11).
func (b *layersBuilder) clip(scope string, x layerValue, bounds []float32) (layerValue, error) {
	if b.opset < 11 {
		return b.node(scope, "Clip", []string{x.name}, onnx.Float, x.shape,
			onnx.FloatAttr("max", bounds[1]), onnx.FloatAttr("min", bounds[0])), nil
	}
	inputs := []string{x.name}
	for _, v := range bounds {
		t, err := onnx.NewTensor("", nil, []float32{v})
		if err != nil {
			return layerValue{}, err
		}
		inputs = append(inputs, b.constant(scope, t).name)
	}
	return b.node(scope, "Clip", inputs, onnx.Float, x.shape), nil
}

// emitQDQ emits (Clip →) QuantizeLinear → DequantizeLinear of x in scope.
func (b *layersBuilder) emitQDQ(scope string, x layerValue, p *qdq) (layerValue, error) {
	var err error
	if p.clip != nil {
		if x, err = b.clip(scope, x, p.clip); err != nil {
			return layerValue{}, qdqErrorf(p.path, "%v", err)
		}
	}
	scale, zp, err := b.constants(scope, p)
	if err != nil {
		return layerValue{}, qdqErrorf(p.path, "%v", err)
	}
	q := b.node(scope, "QuantizeLinear", []string{x.name, scale, zp}, p.zp, x.shape, p.attrs(true)...)
	return b.node(scope, "DequantizeLinear", []string{q.name, scale, zp}, onnx.Float, x.shape, p.attrs(false)...), nil
}

// quantizerScope returns the path and node scope of the quantizer child
// called name ("input_quantizer", "weight_quantizer") of the layer at
// path.
func quantizerScope(path, scope, name string) (string, string) {
	qp := joinPath(path, name)
	return qp, scopeOf(scope, qp)
}

// quantize converts the quantizer q at path (node scope scope) on the
// activation x: QuantizeLinear → DequantizeLinear when active, Clip when
// it only clips, nothing otherwise. It returns the result and the Q/DQ
// parameters (nil without Q/DQ).
func (b *layersBuilder) quantize(path, scope string, q *layers.TensorQuantizer, x layerValue) (layerValue, *qdq, error) {
	switch {
	case active(q):
		p, err := b.qdqParams(path, q, x.shape, false)
		if err != nil {
			return layerValue{}, nil, err
		}
		v, err := b.emitQDQ(scope, x, p)
		return v, p, err
	case clipOnly(q):
		bounds, err := learnedClip(path, q)
		if err != nil {
			return layerValue{}, nil, err
		}
		v, err := b.clip(scope, x, bounds)
		if err != nil {
			return layerValue{}, nil, qdqErrorf(path, "%v", err)
		}
		return v, nil, nil
	}
	return x, nil, nil
}

// inputQuant converts the input quantizer q of the quantized layer at path
// on x (see quantize).
func (b *layersBuilder) inputQuant(path, scope string, q *layers.TensorQuantizer, x layerValue) (layerValue, *qdq, error) {
	qp, qs := quantizerScope(path, scope, "input_quantizer")
	return b.quantize(qp, qs, q, x)
}

// weightInput returns the value that feeds the weight input of the layer
// at path: the float initializer called name, or, when the weight
// quantizer q is active, its DequantizeLinear output, with the quantizer's
// parameters (a quantizer that only clips: the Clip output). A block
// quantizer sees the weight as a matrix of one row per filter
// ([w.Shape[0], rest]); that matrix is stored and a Reshape restores the
// weight's shape.
func (b *layersBuilder) weightInput(path, scope string, l layers.Layer, name string, w *tensor.Tensor, q *layers.TensorQuantizer) (string, *qdq, error) {
	qp, qs := quantizerScope(path, scope, "weight_quantizer")
	if !active(q) {
		n, err := b.floatInitializer(name, w)
		if err != nil {
			return "", nil, layerErrorf(path, l, "%v", err)
		}
		v, _, err := b.quantize(qp, qs, q, layerValue{name: n, elem: onnx.Float, shape: w.Shape})
		return v.name, nil, err
	}
	view := w
	if q.Descriptor().BlockSize > 0 && len(w.Shape) > 2 {
		view = &tensor.Tensor{Shape: []int{w.Shape[0], len(w.Data) / w.Shape[0]}, Data: w.Data}
	}
	p, err := b.qdqParams(qp, q, view.Shape, true)
	if err != nil {
		return "", nil, err
	}
	var out layerValue
	if b.opts.Weights == WeightsFloat {
		n, err := b.floatInitializer(name, view)
		if err != nil {
			return "", nil, layerErrorf(path, l, "%v", err)
		}
		if out, err = b.emitQDQ(qs, layerValue{name: n, elem: onnx.Float, shape: view.Shape}, p); err != nil {
			return "", nil, err
		}
	} else {
		codes, err := p.quantizeWeight(view)
		if err != nil {
			return "", nil, err
		}
		n, err := b.initializer(name+"_quantized", codes)
		if err != nil {
			return "", nil, qdqErrorf(qp, "%v", err)
		}
		scale, zp, err := b.constants(qs, p)
		if err != nil {
			return "", nil, qdqErrorf(qp, "%v", err)
		}
		out = b.node(qs, "DequantizeLinear", []string{n, scale, zp}, onnx.Float, view.Shape, p.attrs(false)...)
	}
	if view != w {
		t, err := onnx.NewTensor("", []int64{int64(len(w.Shape))}, dims64(w.Shape))
		if err != nil {
			return "", nil, layerErrorf(path, l, "%v", err)
		}
		shape := b.constant(qs, t)
		out = b.node(qs, "Reshape", []string{out.name, shape.name}, onnx.Float, w.Shape)
	}
	return out.name, p, nil
}

// quantizeWeight returns the codes QuantizeLinear computes for w, as an
// initializer tensor of type p.zp (WeightsQuantized).
func (p *qdq) quantizeWeight(w *tensor.Tensor) (onnx.Tensor, error) {
	var codes []int32
	var fp8 []byte
	if p.fp8 != 0 {
		fp8 = make([]byte, len(w.Data))
		for i, v := range w.Data {
			if err := fakequant.QuantizeFP8(fp8[i:i+1], []float32{v}, p.scale[p.channel(i, w.Shape)], p.fp8, true); err != nil {
				return onnx.Tensor{}, qdqErrorf(p.path, "%v", err)
			}
		}
	} else {
		codes = make([]int32, len(w.Data))
		for i, v := range w.Data {
			codes[i] = fakequant.QuantizeLinear(v, p.scale[p.channel(i, w.Shape)], 0, p.lo, p.hi)
		}
	}
	t, err := p.codesTensor(dims64(w.Shape), codes, fp8)
	if err != nil {
		return onnx.Tensor{}, qdqErrorf(p.path, "%v", err)
	}
	return t, nil
}

// biasInput returns the value that feeds the bias input of the layer at
// path: the float initializer called name, or with BiasInt32, when the
// input is quantized per tensor and the weight per tensor or along
// outAxis (the output channels) with 8-bit integers, INT32 codes
// round(bias/(input_scale·weight_scale)) followed by DequantizeLinear.
func (b *layersBuilder) biasInput(path, scope string, l layers.Layer, name string, bias *tensor.Tensor, in, w *qdq, outAxis int) (string, error) {
	eightBit := func(p *qdq) bool { return p != nil && (p.zp == onnx.Int8 || p.zp == onnx.Uint8) && p.block == 0 }
	perOut := w != nil && w.axis == outAxis && len(w.scale) == len(bias.Data)
	if b.opts.Bias != BiasInt32 || !eightBit(in) || !eightBit(w) || in.axis >= 0 || (w.axis >= 0 && !perOut) {
		n, err := b.floatInitializer(name, bias)
		if err != nil {
			return "", layerErrorf(path, l, "%v", err)
		}
		return n, nil
	}
	scale := make([]float32, len(w.scale))
	for i, s := range w.scale {
		scale[i] = in.scale[0] * s
	}
	codes := make([]int32, len(bias.Data))
	for i, v := range bias.Data {
		s := scale[0]
		if w.axis >= 0 {
			s = scale[i]
		}
		c := math.RoundToEven(float64(v) / float64(s))
		if !(c >= math.MinInt32 && c <= math.MaxInt32) {
			return "", layerErrorf(path, l, "bias[%d] = %v divided by its INT32 scale %v (input scale × weight scale) is %.4g, beyond INT32; export the bias as float",
				i, v, s, c)
		}
		codes[i] = int32(c)
	}
	ct, err := onnx.NewTensor(name+"_quantized", []int64{int64(len(codes))}, codes)
	if err != nil {
		return "", layerErrorf(path, l, "%v", err)
	}
	n, err := b.initializer(name+"_quantized", ct)
	if err != nil {
		return "", layerErrorf(path, l, "%v", err)
	}
	var dims []int64
	var attrs []onnx.Attribute
	if w.axis >= 0 {
		dims = []int64{int64(len(scale))}
		attrs = append(attrs, onnx.IntAttr("axis", 0))
	}
	st, err := onnx.NewTensor("", dims, scale)
	if err != nil {
		return "", layerErrorf(path, l, "%v", err)
	}
	sc := b.constant(scope, st)
	return b.node(scope, "DequantizeLinear", []string{n, sc.name}, onnx.Float, bias.Shape, attrs...).name, nil
}
