package export

import (
	"math"
	"slices"

	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// convOf returns the convolution inside l (a Conv1d ... ConvTranspose3d),
// or nil.
func convOf(l layers.Layer) *layers.Conv {
	switch c := l.(type) {
	case *layers.Conv1d:
		return &c.Conv
	case *layers.Conv2d:
		return &c.Conv
	case *layers.Conv3d:
		return &c.Conv
	case *layers.ConvTranspose1d:
		return &c.Conv
	case *layers.ConvTranspose2d:
		return &c.Conv
	case *layers.ConvTranspose3d:
		return &c.Conv
	}
	return nil
}

// batchNormOf returns the BatchNorm inside l and the input ranks its kind
// accepts (batch dimension included), or nil.
func batchNormOf(l layers.Layer) (*layers.BatchNorm, []int) {
	switch n := l.(type) {
	case *layers.BatchNorm1d:
		return &n.BatchNorm, []int{2, 3}
	case *layers.BatchNorm2d:
		return &n.BatchNorm, []int{4}
	case *layers.BatchNorm3d:
		return &n.BatchNorm, []int{5}
	}
	return nil, nil
}

// floatInitializer adds t as a FLOAT initializer called name and returns
// its (unique) name.
func (b *builder) floatInitializer(name string, t *tensor.Tensor) (string, error) {
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	ot, err := onnx.NewTensor(name, dims, t.Data)
	if err != nil {
		return "", err
	}
	return b.initializer(name, ot), nil
}

// checkTensor returns an error unless t is a valid tensor of the given
// shape; what names it.
func checkTensor(path string, l layers.Layer, what string, t *tensor.Tensor, shape ...int) error {
	if t == nil {
		return errorf(path, l, "%s is nil", what)
	}
	if err := t.Validate(); err != nil {
		return errorf(path, l, "%s: %v", what, err)
	}
	if !slices.Equal(t.Shape, shape) {
		return errorf(path, l, "%s shape %v, want %v", what, t.Shape, shape)
	}
	return nil
}

// convShape checks c's hyper-parameters, weights and the input shape and
// returns the output shape.
func convShape(path string, l layers.Layer, c *layers.Conv, x value) ([]int, error) {
	dims := len(c.KernelSize)
	if dims < 1 || dims > 3 || len(c.Stride) != dims || len(c.Padding) != dims || len(c.Dilation) != dims || len(c.OutputPadding) != dims {
		return nil, errorf(path, l, "kernel_size %v, stride %v, padding %v, dilation %v, output_padding %v: want 1 to 3 values each, the same number",
			c.KernelSize, c.Stride, c.Padding, c.Dilation, c.OutputPadding)
	}
	if c.InChannels < 1 || c.OutChannels < 1 || c.Groups < 1 || c.InChannels%c.Groups != 0 || c.OutChannels%c.Groups != 0 {
		return nil, errorf(path, l, "channels %d -> %d with groups %d: want groups dividing both", c.InChannels, c.OutChannels, c.Groups)
	}
	wshape := append([]int{c.OutChannels, c.InChannels / c.Groups}, c.KernelSize...)
	if c.Transposed {
		wshape[0], wshape[1] = c.InChannels, c.OutChannels/c.Groups
	}
	if err := checkTensor(path, l, "weight", c.Weight, wshape...); err != nil {
		return nil, err
	}
	if c.Bias != nil {
		if err := checkTensor(path, l, "bias", c.Bias, c.OutChannels); err != nil {
			return nil, err
		}
	}
	if len(x.shape) != dims+2 || x.shape[1] != c.InChannels {
		return nil, errorf(path, l, "input shape %s: want %d dimensions with %d channels", shapeString(x.shape), dims+2, c.InChannels)
	}
	out := []int{x.shape[0], c.OutChannels}
	for i := range dims {
		k, s, p, d, op := c.KernelSize[i], c.Stride[i], c.Padding[i], c.Dilation[i], c.OutputPadding[i]
		if k < 1 || s < 1 || d < 1 || p < 0 || op < 0 {
			return nil, errorf(path, l, "kernel_size %v, stride %v, dilation %v must be at least 1, padding %v and output_padding %v at least 0",
				c.KernelSize, c.Stride, c.Dilation, c.Padding, c.OutputPadding)
		}
		in, span := x.shape[2+i], d*(k-1)+1
		var o int
		if c.Transposed {
			o = (in-1)*s - 2*p + span + op
		} else if in+2*p >= span {
			o = (in+2*p-span)/s + 1
		}
		if o < 1 {
			return nil, errorf(path, l, "input shape %s: spatial size %v is too small for the kernel", shapeString(x.shape), x.shape[2:])
		}
		out = append(out, o)
	}
	return out, nil
}

// conv exports the convolution c, the float part of layer l, applied to
// x, with the input and weight quantizers of a quantized layer (nil for a
// float one). weight and bias, when weight is not nil, replace c's (a
// folded BatchNorm; bias may then be nil).
func (b *builder) conv(path, scope string, l layers.Layer, c *layers.Conv, inQ, wQ *layers.TensorQuantizer, x value, weight, bias *tensor.Tensor) (value, error) {
	out, err := convShape(path, l, c, x)
	if err != nil {
		return value{}, err
	}
	wname, bname := joinPath(path, "weight"), joinPath(path, "bias")
	if weight == nil {
		weight, bias = c.Weight, c.Bias
	} else {
		wname, bname = wname+"_folded", bname+"_folded"
	}
	x, inP, err := b.inputQuant(path, scope, inQ, x)
	if err != nil {
		return value{}, err
	}
	w, wP, err := b.weightInput(path, scope, l, wname, weight, wQ)
	if err != nil {
		return value{}, err
	}
	inputs := []string{x.name, w}
	if bias != nil {
		outAxis := 0
		if c.Transposed {
			outAxis = 1
		}
		bn, err := b.biasInput(path, scope, l, bname, bias, inP, wP, outAxis)
		if err != nil {
			return value{}, err
		}
		inputs = append(inputs, bn)
	}
	attrs := []onnx.Attribute{
		onnx.IntsAttr("dilations", ints64(c.Dilation)...),
		onnx.IntAttr("group", int64(c.Groups)),
		onnx.IntsAttr("kernel_shape", ints64(c.KernelSize)...),
	}
	op := "Conv"
	if c.Transposed {
		op = "ConvTranspose"
		attrs = append(attrs, onnx.IntsAttr("output_padding", ints64(c.OutputPadding)...))
	}
	attrs = append(attrs,
		onnx.IntsAttr("pads", ints64(c.Padding, c.Padding)...),
		onnx.IntsAttr("strides", ints64(c.Stride)...))
	return b.node(scope, op, inputs, onnx.Float, out, attrs...), nil
}

// foldedConv exports the convolution c (layer l at path, with its
// quantizers) followed by the BatchNorm bnLayer at bnPath as one
// convolution with
//
//	weight' = weight·γ/√(var+ε)   (per output channel)
//	bias'   = (bias − mean)·γ/√(var+ε) + β
//
// computed in float64 and rounded once to float32. It refuses a
// convolution whose weight quantizer is active: the quantizer's amax was
// calibrated on the unfolded weight.
func (b *builder) foldedConv(path, scope string, l layers.Layer, c *layers.Conv, inQ, wQ *layers.TensorQuantizer, bnPath string, bnLayer layers.Layer, x value) (value, error) {
	out, err := convShape(path, l, c, x)
	if err != nil {
		return value{}, err
	}
	bn, ranks := batchNormOf(bnLayer)
	if err := checkBatchNorm(bnPath, bnLayer, bn, ranks, out); err != nil {
		return value{}, err
	}
	if active(wQ) {
		return value{}, errorf(path, l, "FoldBatchNorm: cannot fold %s into weights quantized by %s, whose amax was calibrated on the unfolded weight (fold before calibrating, or export without folding)",
			bnPath, joinPath(path, "weight_quantizer"))
	}
	C := c.OutChannels
	w := c.Weight.Clone()
	bias := tensor.New(C)
	per := len(w.Data) / C
	for o := range C {
		f := float64(bn.Weight.Data[o]) / math.Sqrt(float64(bn.RunningVar.Data[o])+bn.Eps)
		for i := o * per; i < (o+1)*per; i++ {
			w.Data[i] = float32(float64(w.Data[i]) * f)
		}
		b0 := 0.0
		if c.Bias != nil {
			b0 = float64(c.Bias.Data[o])
		}
		bias.Data[o] = float32((b0-float64(bn.RunningMean.Data[o]))*f + float64(bn.Bias.Data[o]))
	}
	return b.conv(path, scope, l, c, inQ, wQ, x, w, bias)
}

// checkBatchNorm checks bn's parameters, buffers and eps against an input
// of the given shape.
func checkBatchNorm(path string, l layers.Layer, bn *layers.BatchNorm, ranks []int, shape []int) error {
	C := bn.NumFeatures
	if C < 1 {
		return errorf(path, l, "num_features %d: want at least 1", C)
	}
	for _, p := range []struct {
		what string
		t    *tensor.Tensor
	}{{"weight", bn.Weight}, {"bias", bn.Bias}, {"running_mean", bn.RunningMean}, {"running_var", bn.RunningVar}} {
		if err := checkTensor(path, l, p.what, p.t, C); err != nil {
			return err
		}
	}
	if !(bn.Eps > 0) {
		return errorf(path, l, "eps %v: want eps > 0", bn.Eps)
	}
	if !slices.Contains(ranks, len(shape)) || shape[1] != C {
		return errorf(path, l, "input shape %s: want %v dimensions with %d channels", shapeString(shape), ranks, C)
	}
	return nil
}

// batchNorm exports BatchNorm l as BatchNormalization with its running
// statistics (inference).
func (b *builder) batchNorm(path, scope string, l layers.Layer, x value) (value, error) {
	bn, ranks := batchNormOf(l)
	if err := checkBatchNorm(path, l, bn, ranks, x.shape); err != nil {
		return value{}, err
	}
	inputs := []string{x.name}
	for _, p := range []struct {
		name string
		t    *tensor.Tensor
	}{{"weight", bn.Weight}, {"bias", bn.Bias}, {"running_mean", bn.RunningMean}, {"running_var", bn.RunningVar}} {
		n, err := b.floatInitializer(joinPath(path, p.name), p.t)
		if err != nil {
			return value{}, errorf(path, l, "%v", err)
		}
		inputs = append(inputs, n)
	}
	return b.node(scope, "BatchNormalization", inputs, onnx.Float, x.shape,
		onnx.FloatAttr("epsilon", float32(bn.Eps)),
		onnx.FloatAttr("momentum", float32(1-bn.Momentum))), nil
}

// linear exports Linear lin (the float part of layer l, with the input
// and weight quantizers of a quantized layer) applied to x: Gemm (transB)
// for a 2-D input as PyTorch does, else Transpose of the weight, MatMul
// and Add. Opset 10's Gemm needs a bias, so a Linear without one becomes
// MatMul there.
func (b *builder) linear(path, scope string, l layers.Layer, lin *layers.Linear, inQ, wQ *layers.TensorQuantizer, x value) (value, error) {
	in, outF := lin.InFeatures, lin.OutFeatures
	if in < 1 || outF < 1 {
		return value{}, errorf(path, l, "in_features %d, out_features %d: want at least 1", in, outF)
	}
	if err := checkTensor(path, l, "weight", lin.Weight, outF, in); err != nil {
		return value{}, err
	}
	if lin.Bias != nil {
		if err := checkTensor(path, l, "bias", lin.Bias, outF); err != nil {
			return value{}, err
		}
	}
	if len(x.shape) < 2 || x.shape[len(x.shape)-1] != in {
		return value{}, errorf(path, l, "input shape %s: want last dimension %d", shapeString(x.shape), in)
	}
	out := append(slices.Clone(x.shape[:len(x.shape)-1]), outF)
	x, inP, err := b.inputQuant(path, scope, inQ, x)
	if err != nil {
		return value{}, err
	}
	w, wP, err := b.weightInput(path, scope, l, joinPath(path, "weight"), lin.Weight, wQ)
	if err != nil {
		return value{}, err
	}
	var bname string
	if lin.Bias != nil {
		if bname, err = b.biasInput(path, scope, l, joinPath(path, "bias"), lin.Bias, inP, wP, 0); err != nil {
			return value{}, err
		}
	}
	if len(x.shape) == 2 && (lin.Bias != nil || b.opset >= 11) {
		inputs := []string{x.name, w}
		if bname != "" {
			inputs = append(inputs, bname)
		}
		return b.node(scope, "Gemm", inputs, onnx.Float, out,
			onnx.FloatAttr("alpha", 1), onnx.FloatAttr("beta", 1), onnx.IntAttr("transB", 1)), nil
	}
	wt := b.node(scope, "Transpose", []string{w}, onnx.Float, []int{in, outF}, onnx.IntsAttr("perm", 1, 0))
	y := b.node(scope, "MatMul", []string{x.name, wt.name}, onnx.Float, out)
	if bname == "" {
		return y, nil
	}
	return b.node(scope, "Add", []string{y.name, bname}, onnx.Float, out), nil
}

// pool exports the pooling layer f (the float part of layer l), after the
// input quantizer inQ of a quantized pooling layer; ok is false when f is
// not a pooling layer.
func (b *builder) pool(path, scope string, l, f layers.Layer, inQ *layers.TensorQuantizer, x value) (v value, ok bool, err error) {
	var w *layers.Window
	var a *layers.AdaptiveAvgPool
	op := "MaxPool"
	switch p := f.(type) {
	case *layers.MaxPool1d:
		w = &p.Window
	case *layers.MaxPool2d:
		w = &p.Window
	case *layers.MaxPool3d:
		w = &p.Window
	case *layers.AvgPool1d:
		w, op = &p.Window, "AveragePool"
	case *layers.AvgPool2d:
		w, op = &p.Window, "AveragePool"
	case *layers.AvgPool3d:
		w, op = &p.Window, "AveragePool"
	case *layers.AdaptiveAvgPool1d:
		a = &p.AdaptiveAvgPool
	case *layers.AdaptiveAvgPool2d:
		a = &p.AdaptiveAvgPool
	case *layers.AdaptiveAvgPool3d:
		a = &p.AdaptiveAvgPool
	default:
		return value{}, false, nil
	}
	if x, _, err = b.inputQuant(path, scope, inQ, x); err != nil {
		return value{}, true, err
	}
	if a != nil {
		v, err = b.adaptive(path, scope, l, a, x)
	} else {
		v, err = b.window(path, scope, l, op, w, x)
	}
	return v, true, err
}

// window exports MaxPool or AveragePool over window w.
func (b *builder) window(path, scope string, l layers.Layer, op string, w *layers.Window, x value) (value, error) {
	dims := len(w.KernelSize)
	if dims < 1 || dims > 3 || len(w.Stride) != dims || len(w.Padding) != dims || len(w.Dilation) != dims {
		return value{}, errorf(path, l, "kernel_size %v, stride %v, padding %v, dilation %v: want 1 to 3 values each, the same number",
			w.KernelSize, w.Stride, w.Padding, w.Dilation)
	}
	if len(x.shape) != dims+2 {
		return value{}, errorf(path, l, "input shape %s: want %d dimensions", shapeString(x.shape), dims+2)
	}
	out := slices.Clone(x.shape[:2])
	for i := range dims {
		k, s, p, d := w.KernelSize[i], w.Stride[i], w.Padding[i], w.Dilation[i]
		if k < 1 || s < 1 || d < 1 || p < 0 || 2*p > k {
			return value{}, errorf(path, l, "kernel_size %v, stride %v, dilation %v must be at least 1, padding %v from 0 to half the kernel",
				w.KernelSize, w.Stride, w.Dilation, w.Padding)
		}
		if op == "AveragePool" && d != 1 {
			return value{}, errorf(path, l, "dilation %v: average pooling has none", w.Dilation)
		}
		span := d*(k-1) + 1
		if x.shape[2+i]+2*p < span {
			return value{}, errorf(path, l, "input shape %s: spatial size %v is too small for the kernel", shapeString(x.shape), x.shape[2:])
		}
		out = append(out, (x.shape[2+i]+2*p-span)/s+1)
	}
	attrs := []onnx.Attribute{onnx.IntAttr("ceil_mode", 0)}
	if op == "AveragePool" && slices.ContainsFunc(w.Padding, func(p int) bool { return p != 0 }) {
		attrs = append(attrs, onnx.IntAttr("count_include_pad", 1))
	}
	if op == "MaxPool" && slices.ContainsFunc(w.Dilation, func(d int) bool { return d != 1 }) {
		attrs = append(attrs, onnx.IntsAttr("dilations", ints64(w.Dilation)...))
	}
	attrs = append(attrs,
		onnx.IntsAttr("kernel_shape", ints64(w.KernelSize)...),
		onnx.IntsAttr("pads", ints64(w.Padding, w.Padding)...),
		onnx.IntsAttr("strides", ints64(w.Stride)...))
	return b.node(scope, op, []string{x.name}, onnx.Float, out, attrs...), nil
}

// adaptive exports adaptive average pooling: GlobalAveragePool for an
// output of size 1, AveragePool with kernel = stride = input/output when
// every input size is a multiple of the output size (PyTorch's windows are
// then exactly those), and an error otherwise.
func (b *builder) adaptive(path, scope string, l layers.Layer, a *layers.AdaptiveAvgPool, x value) (value, error) {
	dims := len(a.OutputSize)
	if dims < 1 || dims > 3 || slices.ContainsFunc(a.OutputSize, func(v int) bool { return v < 1 }) {
		return value{}, errorf(path, l, "output_size %v: want 1 to 3 values of at least 1", a.OutputSize)
	}
	if len(x.shape) != dims+2 {
		return value{}, errorf(path, l, "input shape %s: want %d dimensions", shapeString(x.shape), dims+2)
	}
	out := append(slices.Clone(x.shape[:2]), a.OutputSize...)
	if !slices.ContainsFunc(a.OutputSize, func(v int) bool { return v != 1 }) {
		return b.node(scope, "GlobalAveragePool", []string{x.name}, onnx.Float, out), nil
	}
	k := make([]int, dims)
	for i, o := range a.OutputSize {
		in := x.shape[2+i]
		if in%o != 0 {
			return value{}, errorf(path, l, "input shape %s: spatial size %v is not a multiple of output_size %v: ONNX has no adaptive pooling, and AveragePool's fixed window matches PyTorch's only then",
				shapeString(x.shape), x.shape[2:], a.OutputSize)
		}
		k[i] = in / o
	}
	return b.node(scope, "AveragePool", []string{x.name}, onnx.Float, out,
		onnx.IntAttr("ceil_mode", 0),
		onnx.IntsAttr("kernel_shape", ints64(k)...),
		onnx.IntsAttr("pads", make([]int64, 2*dims)...),
		onnx.IntsAttr("strides", ints64(k)...)), nil
}
