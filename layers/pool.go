package layers

import (
	"fmt"
	"math"
	"slices"

	"github.com/tensorquant/tensorquant/internal/nn"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

func init() {
	// Input quantization only. Max pooling is not in the original's
	// default quantization map (QuantMaxPool1d and 3d are this package's);
	// average and adaptive average pooling are.
	declareQuantizable[MaxPool1d](quantFacts{kind: "MaxPool1d", weightAxis: -1})
	declareQuantizable[MaxPool2d](quantFacts{kind: "MaxPool2d", weightAxis: -1})
	declareQuantizable[MaxPool3d](quantFacts{kind: "MaxPool3d", weightAxis: -1})
	declareQuantizable[AvgPool1d](quantFacts{kind: "AvgPool1d", weightAxis: -1, byDefault: true})
	declareQuantizable[AvgPool2d](quantFacts{kind: "AvgPool2d", weightAxis: -1, byDefault: true})
	declareQuantizable[AvgPool3d](quantFacts{kind: "AvgPool3d", weightAxis: -1, byDefault: true})
	declareQuantizable[AdaptiveAvgPool1d](quantFacts{kind: "AdaptiveAvgPool1d", weightAxis: -1, byDefault: true})
	declareQuantizable[AdaptiveAvgPool2d](quantFacts{kind: "AdaptiveAvgPool2d", weightAxis: -1, byDefault: true})
	declareQuantizable[AdaptiveAvgPool3d](quantFacts{kind: "AdaptiveAvgPool3d", weightAxis: -1, byDefault: true})
}

// PoolOptions are the optional hyper-parameters of MaxPool and AvgPool,
// the same for every spatial dimension. Zero values mean PyTorch's
// defaults: stride = kernel size, padding 0, dilation 1 (MaxPool only).
// ceil_mode is always false; AvgPool counts the padding in its divisor
// (count_include_pad=True), as PyTorch does by default.
type PoolOptions struct {
	Stride, Padding, Dilation int
}

// Window holds the kernel size, stride, padding and dilation of MaxPool and
// AvgPool, one value per spatial dimension (AvgPool's dilation is always
// 1).
type Window struct {
	KernelSize, Stride, Padding, Dilation []int
}

// newPool validates a pooling window and wraps it as the layer type T;
// errors name kind.
func newPool[T any](kind string, dims, kernel int, opt PoolOptions, dilation bool, wrap func(Window) *T) (*T, error) {
	w, err := newWindow(dims, kernel, opt, dilation)
	if err != nil {
		return nil, fmt.Errorf("layers: %s: %w", kind, err)
	}
	return wrap(w), nil
}

func newWindow(dims, kernel int, opt PoolOptions, dilation bool) (Window, error) {
	stride, dil := opt.Stride, opt.Dilation
	if stride == 0 {
		stride = kernel
	}
	if dil == 0 {
		dil = 1
	}
	w := Window{repeat(kernel, dims), repeat(stride, dims), repeat(opt.Padding, dims), repeat(dil, dims)}
	if !dilation && dil != 1 {
		return w, fmt.Errorf("dilation %d: average pooling has none", dil)
	}
	return w, w.check()
}

func (w *Window) check() error {
	dims := len(w.KernelSize)
	if dims < 1 || dims > 3 || len(w.Stride) != dims || len(w.Padding) != dims || len(w.Dilation) != dims {
		return fmt.Errorf("kernel_size %v, stride %v, padding %v, dilation %v: want 1 to 3 values each, the same number", w.KernelSize, w.Stride, w.Padding, w.Dilation)
	}
	for i := range dims {
		k, s, p, d := w.KernelSize[i], w.Stride[i], w.Padding[i], w.Dilation[i]
		switch {
		case k < 1 || s < 1 || d < 1 || k > maxHyper || s > maxHyper || d > maxHyper:
			return fmt.Errorf("kernel_size %v, stride %v, dilation %v: want values from 1 to %d", w.KernelSize, w.Stride, w.Dilation, maxHyper)
		case p < 0 || 2*p > k:
			return fmt.Errorf("padding %v: want from 0 to half the kernel size %v", w.Padding, w.KernelSize)
		}
	}
	return nil
}

// geometry checks x against the window and returns the pooling geometry and
// output shape.
func (w *Window) geometry(self Layer, x *tensor.Tensor) (nn.Geom, []int, error) {
	if err := w.check(); err != nil {
		return nn.Geom{}, nil, errorf(self, "%v", err)
	}
	dims := len(w.KernelSize)
	if err := x.Validate(); err != nil {
		return nn.Geom{}, nil, errorf(self, "input: %v", err)
	}
	if len(x.Shape) != dims+2 {
		return nn.Geom{}, nil, errorf(self, "input shape %v: want %d dimensions (N, C%s)", x.Shape, dims+2, spatialNames(dims))
	}
	out := []int{x.Shape[0], x.Shape[1]}
	for i := range dims {
		in := x.Shape[2+i]
		span := w.Dilation[i]*(w.KernelSize[i]-1) + 1
		if in+2*w.Padding[i] < span {
			return nn.Geom{}, nil, errorf(self, "input shape %v: spatial size %v is too small for kernel %v (dilation %v, padding %v)",
				x.Shape, x.Shape[2:], w.KernelSize, w.Dilation, w.Padding)
		}
		out = append(out, (in+2*w.Padding[i]-span)/w.Stride[i]+1)
	}
	return nn.NewGeom(x.Shape[2:], out[2:], w.KernelSize, w.Stride, w.Padding, nil, w.Dilation), out, nil
}

// clone returns a deep copy of the window.
func (w Window) clone() Window {
	return Window{slices.Clone(w.KernelSize), slices.Clone(w.Stride), slices.Clone(w.Padding), slices.Clone(w.Dilation)}
}

// export writes pooling op ("MaxPool" or "AveragePool") over the window
// on x, with PyTorch's attributes (ceil_mode 0; count_include_pad 1 when
// padded; dilations when not 1).
func (w *Window) export(b Builder, op string, x Value) (Value, error) {
	dims := len(w.KernelSize)
	if dims < 1 || dims > 3 || len(w.Stride) != dims || len(w.Padding) != dims || len(w.Dilation) != dims {
		return Value{}, fmt.Errorf("kernel_size %v, stride %v, padding %v, dilation %v: want 1 to 3 values each, the same number",
			w.KernelSize, w.Stride, w.Padding, w.Dilation)
	}
	if len(x.Shape) != dims+2 {
		return Value{}, fmt.Errorf("input shape %s: want %d dimensions", FormatShape(x.Shape), dims+2)
	}
	out := slices.Clone(x.Shape[:2])
	for i := range dims {
		k, s, p, d := w.KernelSize[i], w.Stride[i], w.Padding[i], w.Dilation[i]
		if k < 1 || s < 1 || d < 1 || p < 0 || 2*p > k {
			return Value{}, fmt.Errorf("kernel_size %v, stride %v, dilation %v must be at least 1, padding %v from 0 to half the kernel",
				w.KernelSize, w.Stride, w.Dilation, w.Padding)
		}
		if op == "AveragePool" && d != 1 {
			return Value{}, fmt.Errorf("dilation %v: average pooling has none", w.Dilation)
		}
		span := d*(k-1) + 1
		if x.Shape[2+i]+2*p < span {
			return Value{}, fmt.Errorf("input shape %s: spatial size %v is too small for the kernel", FormatShape(x.Shape), x.Shape[2:])
		}
		out = append(out, (x.Shape[2+i]+2*p-span)/s+1)
	}
	attrs := []onnx.Attribute{onnx.IntAttr("ceil_mode", 0)}
	if op == "AveragePool" && !allEqual(w.Padding, 0) {
		attrs = append(attrs, onnx.IntAttr("count_include_pad", 1))
	}
	if op == "MaxPool" && !allEqual(w.Dilation, 1) {
		attrs = append(attrs, onnx.IntsAttr("dilations", ints64(w.Dilation)...))
	}
	attrs = append(attrs,
		onnx.IntsAttr("kernel_shape", ints64(w.KernelSize)...),
		onnx.IntsAttr("pads", ints64(w.Padding, w.Padding)...),
		onnx.IntsAttr("strides", ints64(w.Stride)...))
	return b.Node(op, []Value{x}, out, attrs...), nil
}

// repr formats the window as PyTorch prints pooling layers: a single
// number when every dimension agrees (as PyTorch keeps an int argument),
// a tuple otherwise.
func (w *Window) repr(v []int) string {
	if allEqual(v, v[0]) {
		return fmt.Sprint(v[0])
	}
	return tuple(v)
}

// MaxPool is max pooling over 1 to 3 spatial dimensions with PyTorch's
// semantics: padding counts as -Inf, a NaN in a window wins (the last one,
// as PyTorch's CPU kernel scans), and among equal maxima the first in scan
// order receives the gradient. MaxPool1d, MaxPool2d and MaxPool3d embed it.
type MaxPool struct {
	Window
	argmax   []int32 // per output element: index in its input plane, -1 for a window of padding only
	inShape  []int
	outShape []int
}

// MaxPool1d is torch.nn.MaxPool1d: input [N, C, L].
type MaxPool1d struct{ MaxPool }

// MaxPool2d is torch.nn.MaxPool2d: input [N, C, H, W].
type MaxPool2d struct{ MaxPool }

// MaxPool3d is torch.nn.MaxPool3d: input [N, C, D, H, W].
type MaxPool3d struct{ MaxPool }

// NewMaxPool1d returns torch.nn.MaxPool1d(kernel, ...). It returns an error
// for a kernel, stride or dilation < 1 or a padding outside [0, kernel/2].
func NewMaxPool1d(kernel int, opt PoolOptions) (*MaxPool1d, error) {
	return newPool("MaxPool1d", 1, kernel, opt, true, func(w Window) *MaxPool1d { return &MaxPool1d{MaxPool{Window: w}} })
}

// NewMaxPool2d returns torch.nn.MaxPool2d(kernel, ...). It returns an error
// for a kernel, stride or dilation < 1 or a padding outside [0, kernel/2].
func NewMaxPool2d(kernel int, opt PoolOptions) (*MaxPool2d, error) {
	return newPool("MaxPool2d", 2, kernel, opt, true, func(w Window) *MaxPool2d { return &MaxPool2d{MaxPool{Window: w}} })
}

// NewMaxPool3d returns torch.nn.MaxPool3d(kernel, ...). It returns an error
// for a kernel, stride or dilation < 1 or a padding outside [0, kernel/2].
func NewMaxPool3d(kernel int, opt PoolOptions) (*MaxPool3d, error) {
	return newPool("MaxPool3d", 3, kernel, opt, true, func(w Window) *MaxPool3d { return &MaxPool3d{MaxPool{Window: w}} })
}

// Kind returns "MaxPool1d", "MaxPool2d" or "MaxPool3d".
func (m *MaxPool) Kind() string { return fmt.Sprintf("MaxPool%dd", len(m.KernelSize)) }

// String returns PyTorch's repr, for example "MaxPool2d(kernel_size=2,
// stride=2, padding=0, dilation=1, ceil_mode=False)".
func (m *MaxPool) String() string {
	return fmt.Sprintf("%s(kernel_size=%s, stride=%s, padding=%s, dilation=%s, ceil_mode=False)",
		m.Kind(), m.repr(m.KernelSize), m.repr(m.Stride), m.repr(m.Padding), m.repr(m.Dilation))
}

// Params returns nil: pooling has no parameters.
func (m *MaxPool) Params() []Param { return nil }

// Export writes the layer as MaxPool. It returns an error for a window
// that does not fit x.
func (m *MaxPool) Export(b Builder, x Value) (Value, error) { return m.Window.export(b, "MaxPool", x) }

// unshare makes a copy of the layer made by assignment independent of the
// original: its own window, nothing of the last Forward.
func (m *MaxPool) unshare() {
	m.Window = m.Window.clone()
	m.argmax, m.inShape, m.outShape = nil, nil, nil
}

// Forward returns the windowed maxima of x. It returns an error for an
// input of the wrong rank or too small for the window.
func (m *MaxPool) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	g, out, err := m.geometry(m, x)
	if err != nil {
		return nil, err
	}
	if g.BigN() > math.MaxInt32 {
		return nil, errorf(m, "input shape %v: planes of more than 2^31 elements", x.Shape)
	}
	y := tensor.New(out...)
	if cap(m.argmax) < len(y.Data) {
		m.argmax = make([]int32, len(y.Data))
	}
	m.argmax = m.argmax[:len(y.Data)]
	nn.MaxPool(y.Data, m.argmax, x.Data, &g, 0, out[0]*out[1])
	m.inShape, m.outShape = x.Shape, out
	return y, nil
}

// Backward sends each output gradient to the input element that was the
// window's maximum.
func (m *MaxPool) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if err := checkGrad(m, m.outShape, dy); err != nil {
		return nil, err
	}
	dx := tensor.New(m.inShape...)
	nn.MaxPoolBackward(dx.Data, dy.Data, m.argmax, spatial(m.outShape), spatial(m.inShape))
	return dx, nil
}

// spatial returns the number of elements of one plane of a tensor of the
// given shape [N, C, spatial...].
func spatial(shape []int) int {
	n := 1
	for _, d := range shape[2:] {
		n *= d
	}
	return n
}

// checkGrad returns an error unless a Forward ran (outShape is set) and dy
// has its output shape.
func checkGrad(self Layer, outShape []int, dy *tensor.Tensor) error {
	if outShape == nil {
		return errorf(self, "Backward called before Forward")
	}
	if err := dy.Validate(); err != nil {
		return errorf(self, "output gradient: %v", err)
	}
	if !tensor.SameShape(dy.Shape, outShape) {
		return errorf(self, "output gradient shape %v, want %v", dy.Shape, outShape)
	}
	return nil
}

// AvgPool is average pooling over 1 to 3 spatial dimensions with PyTorch's
// defaults: the divisor is the full kernel volume, padding included
// (count_include_pad=True, ceil_mode=False). AvgPool1d, AvgPool2d and
// AvgPool3d embed it.
type AvgPool struct {
	Window
	geo      nn.Geom
	inShape  []int
	outShape []int
}

// AvgPool1d is torch.nn.AvgPool1d: input [N, C, L].
type AvgPool1d struct{ AvgPool }

// AvgPool2d is torch.nn.AvgPool2d: input [N, C, H, W].
type AvgPool2d struct{ AvgPool }

// AvgPool3d is torch.nn.AvgPool3d: input [N, C, D, H, W].
type AvgPool3d struct{ AvgPool }

// NewAvgPool1d returns torch.nn.AvgPool1d(kernel, ...). It returns an error
// for a kernel or stride < 1, a padding outside [0, kernel/2] or a
// dilation other than 1.
func NewAvgPool1d(kernel int, opt PoolOptions) (*AvgPool1d, error) {
	return newPool("AvgPool1d", 1, kernel, opt, false, func(w Window) *AvgPool1d { return &AvgPool1d{AvgPool{Window: w}} })
}

// NewAvgPool2d returns torch.nn.AvgPool2d(kernel, ...). It returns an error
// for a kernel or stride < 1, a padding outside [0, kernel/2] or a
// dilation other than 1.
func NewAvgPool2d(kernel int, opt PoolOptions) (*AvgPool2d, error) {
	return newPool("AvgPool2d", 2, kernel, opt, false, func(w Window) *AvgPool2d { return &AvgPool2d{AvgPool{Window: w}} })
}

// NewAvgPool3d returns torch.nn.AvgPool3d(kernel, ...). It returns an error
// for a kernel or stride < 1, a padding outside [0, kernel/2] or a
// dilation other than 1.
func NewAvgPool3d(kernel int, opt PoolOptions) (*AvgPool3d, error) {
	return newPool("AvgPool3d", 3, kernel, opt, false, func(w Window) *AvgPool3d { return &AvgPool3d{AvgPool{Window: w}} })
}

// Kind returns "AvgPool1d", "AvgPool2d" or "AvgPool3d".
func (a *AvgPool) Kind() string { return fmt.Sprintf("AvgPool%dd", len(a.KernelSize)) }

// String returns PyTorch's repr, for example "AvgPool2d(kernel_size=2,
// stride=2, padding=0)" (AvgPool1d prints tuples, as PyTorch does).
func (a *AvgPool) String() string {
	f := a.repr
	if len(a.KernelSize) == 1 {
		f = tuple
	}
	return fmt.Sprintf("%s(kernel_size=%s, stride=%s, padding=%s)", a.Kind(), f(a.KernelSize), f(a.Stride), f(a.Padding))
}

// Params returns nil: pooling has no parameters.
func (a *AvgPool) Params() []Param { return nil }

// Export writes the layer as AveragePool. It returns an error for a window
// that does not fit x.
func (a *AvgPool) Export(b Builder, x Value) (Value, error) {
	return a.Window.export(b, "AveragePool", x)
}

// unshare makes a copy of the layer made by assignment independent of the
// original: its own window, nothing of the last Forward.
func (a *AvgPool) unshare() {
	a.Window = a.Window.clone()
	a.geo, a.inShape, a.outShape = nn.Geom{}, nil, nil
}

// Forward returns the window averages of x. It returns an error for an
// input of the wrong rank or too small for the window, or a dilation other
// than 1.
func (a *AvgPool) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if !allEqual(a.Dilation, 1) {
		return nil, errorf(a, "dilation %v: average pooling has none", a.Dilation)
	}
	g, out, err := a.geometry(a, x)
	if err != nil {
		return nil, err
	}
	y := tensor.New(out...)
	nn.AvgPool(y.Data, x.Data, &g, true, 0, out[0]*out[1])
	a.geo, a.inShape, a.outShape = g, x.Shape, out
	return y, nil
}

// Backward spreads each output gradient, divided by the kernel volume,
// over the input elements of its window.
func (a *AvgPool) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if err := checkGrad(a, a.outShape, dy); err != nil {
		return nil, err
	}
	dx := tensor.New(a.inShape...)
	nn.AvgPoolBackward(dx.Data, dy.Data, &a.geo, true, 0, a.inShape[0]*a.inShape[1])
	return dx, nil
}

// AdaptiveAvgPool is adaptive average pooling over 1 to 3 spatial
// dimensions: output position i of a dimension of input size n and output
// size m averages the inputs from floor(i·n/m) to ceil((i+1)·n/m)
// (exclusive), PyTorch's formula. AdaptiveAvgPool1d, AdaptiveAvgPool2d and
// AdaptiveAvgPool3d embed it.
type AdaptiveAvgPool struct {
	OutputSize []int

	inShape  []int
	outShape []int
}

// AdaptiveAvgPool1d is torch.nn.AdaptiveAvgPool1d: input [N, C, L].
type AdaptiveAvgPool1d struct{ AdaptiveAvgPool }

// AdaptiveAvgPool2d is torch.nn.AdaptiveAvgPool2d: input [N, C, H, W].
type AdaptiveAvgPool2d struct{ AdaptiveAvgPool }

// AdaptiveAvgPool3d is torch.nn.AdaptiveAvgPool3d: input [N, C, D, H, W].
type AdaptiveAvgPool3d struct{ AdaptiveAvgPool }

// NewAdaptiveAvgPool1d returns torch.nn.AdaptiveAvgPool1d(l). It returns an
// error for a size < 1.
func NewAdaptiveAvgPool1d(l int) (*AdaptiveAvgPool1d, error) {
	v, err := newAdaptive(l)
	return as(v, err, func(a *AdaptiveAvgPool) *AdaptiveAvgPool1d { return &AdaptiveAvgPool1d{*a} })
}

// NewAdaptiveAvgPool2d returns torch.nn.AdaptiveAvgPool2d((h, w)). It
// returns an error for a size < 1.
func NewAdaptiveAvgPool2d(h, w int) (*AdaptiveAvgPool2d, error) {
	v, err := newAdaptive(h, w)
	return as(v, err, func(a *AdaptiveAvgPool) *AdaptiveAvgPool2d { return &AdaptiveAvgPool2d{*a} })
}

// NewAdaptiveAvgPool3d returns torch.nn.AdaptiveAvgPool3d((d, h, w)). It
// returns an error for a size < 1.
func NewAdaptiveAvgPool3d(d, h, w int) (*AdaptiveAvgPool3d, error) {
	v, err := newAdaptive(d, h, w)
	return as(v, err, func(a *AdaptiveAvgPool) *AdaptiveAvgPool3d { return &AdaptiveAvgPool3d{*a} })
}

func newAdaptive(size ...int) (*AdaptiveAvgPool, error) {
	a := &AdaptiveAvgPool{OutputSize: size}
	if err := a.check(); err != nil {
		return nil, fmt.Errorf("layers: %s: %w", a.Kind(), err)
	}
	return a, nil
}

func (a *AdaptiveAvgPool) check() error {
	if len(a.OutputSize) < 1 || len(a.OutputSize) > 3 {
		return fmt.Errorf("output_size %v: want 1 to 3 values", a.OutputSize)
	}
	for _, v := range a.OutputSize {
		if v < 1 || v > maxHyper {
			return fmt.Errorf("output_size %v: want values from 1 to %d", a.OutputSize, maxHyper)
		}
	}
	return nil
}

// Kind returns "AdaptiveAvgPool1d", "AdaptiveAvgPool2d" or
// "AdaptiveAvgPool3d".
func (a *AdaptiveAvgPool) Kind() string { return fmt.Sprintf("AdaptiveAvgPool%dd", len(a.OutputSize)) }

// String returns PyTorch's repr, for example
// "AdaptiveAvgPool2d(output_size=(1, 1))".
func (a *AdaptiveAvgPool) String() string {
	if len(a.OutputSize) == 1 {
		return fmt.Sprintf("%s(output_size=%d)", a.Kind(), a.OutputSize[0])
	}
	return fmt.Sprintf("%s(output_size=%s)", a.Kind(), tuple(a.OutputSize))
}

// Params returns nil: pooling has no parameters.
func (a *AdaptiveAvgPool) Params() []Param { return nil }

// Export writes the layer as GlobalAveragePool for an output of size 1,
// or as AveragePool with kernel = stride = input/output when every input
// size is a multiple of the output size (PyTorch's windows are then
// exactly those). It returns an error otherwise: ONNX has no adaptive
// pooling.
func (a *AdaptiveAvgPool) Export(b Builder, x Value) (Value, error) {
	dims := len(a.OutputSize)
	if dims < 1 || dims > 3 || slices.ContainsFunc(a.OutputSize, func(v int) bool { return v < 1 }) {
		return Value{}, fmt.Errorf("output_size %v: want 1 to 3 values of at least 1", a.OutputSize)
	}
	if len(x.Shape) != dims+2 {
		return Value{}, fmt.Errorf("input shape %s: want %d dimensions", FormatShape(x.Shape), dims+2)
	}
	out := append(slices.Clone(x.Shape[:2]), a.OutputSize...)
	if allEqual(a.OutputSize, 1) {
		return b.Node("GlobalAveragePool", []Value{x}, out), nil
	}
	k := make([]int, dims)
	for i, o := range a.OutputSize {
		in := x.Shape[2+i]
		if in%o != 0 {
			return Value{}, fmt.Errorf("input shape %s: spatial size %v is not a multiple of output_size %v: ONNX has no adaptive pooling, and AveragePool's fixed window matches PyTorch's only then",
				FormatShape(x.Shape), x.Shape[2:], a.OutputSize)
		}
		k[i] = in / o
	}
	return b.Node("AveragePool", []Value{x}, out,
		onnx.IntAttr("ceil_mode", 0),
		onnx.IntsAttr("kernel_shape", ints64(k)...),
		onnx.IntsAttr("pads", make([]int64, 2*dims)...),
		onnx.IntsAttr("strides", ints64(k)...)), nil
}

// unshare makes a copy of the layer made by assignment independent of the
// original: its own output size, nothing of the last Forward.
func (a *AdaptiveAvgPool) unshare() {
	a.OutputSize = slices.Clone(a.OutputSize)
	a.inShape, a.outShape = nil, nil
}

// Forward returns the adaptive averages of x. It returns an error for an
// input of the wrong rank or with a zero spatial size.
func (a *AdaptiveAvgPool) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	in, out, shape, err := a.shapes(x)
	if err != nil {
		return nil, err
	}
	y := tensor.New(shape...)
	nn.AdaptiveAvgPool(y.Data, x.Data, in, out, 0, shape[0]*shape[1])
	a.inShape, a.outShape = x.Shape, shape
	return y, nil
}

// shapes checks x and returns the input and output sizes in 3-D form.
func (a *AdaptiveAvgPool) shapes(x *tensor.Tensor) (in, out [3]int, shape []int, err error) {
	if err := a.check(); err != nil {
		return in, out, nil, errorf(a, "%v", err)
	}
	if err := x.Validate(); err != nil {
		return in, out, nil, errorf(a, "input: %v", err)
	}
	dims := len(a.OutputSize)
	if len(x.Shape) != dims+2 {
		return in, out, nil, errorf(a, "input shape %v: want %d dimensions (N, C%s)", x.Shape, dims+2, spatialNames(dims))
	}
	in, out = [3]int{1, 1, 1}, [3]int{1, 1, 1}
	shape = []int{x.Shape[0], x.Shape[1]}
	for i := range dims {
		if x.Shape[2+i] < 1 {
			return in, out, nil, errorf(a, "input shape %v: empty spatial dimension", x.Shape)
		}
		in[3-dims+i], out[3-dims+i] = x.Shape[2+i], a.OutputSize[i]
		shape = append(shape, a.OutputSize[i])
	}
	if n, err := tensor.NumelOf(shape); err != nil || n > maxActivation {
		return in, out, nil, errorf(a, "input shape %v: output shape %v is too large", x.Shape, shape)
	}
	return in, out, shape, nil
}

// Backward spreads each output gradient, divided by its window's size, over
// the window.
func (a *AdaptiveAvgPool) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	if err := checkGrad(a, a.outShape, dy); err != nil {
		return nil, err
	}
	in, out := [3]int{1, 1, 1}, [3]int{1, 1, 1}
	dims := len(a.inShape) - 2
	for i := range dims {
		in[3-dims+i], out[3-dims+i] = a.inShape[2+i], a.outShape[2+i]
	}
	dx := tensor.New(a.inShape...)
	nn.AdaptiveAvgPoolBackward(dx.Data, dy.Data, in, out, 0, a.inShape[0]*a.inShape[1])
	return dx, nil
}
