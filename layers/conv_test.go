package layers

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
	"github.com/tensorquant/tensorquant/tensor"
)

// naiveConv computes the convolution (or transposed convolution) of x by
// its definition, in float64, and the sum of |products| of each output (a
// bound for the float32 rounding error). It is written independently of
// im2col: the transposed case scatters every input element.
func naiveConv(c *Conv, x *tensor.Tensor) (out, mag []float64, shape []int) {
	dims := len(c.KernelSize)
	N := x.Shape[0]
	in := x.Shape[2:]
	shape = []int{N, c.OutChannels}
	for i := range dims {
		var o int
		if c.Transposed {
			o = (in[i]-1)*c.Stride[i] - 2*c.Padding[i] + c.Dilation[i]*(c.KernelSize[i]-1) + c.OutputPadding[i] + 1
		} else {
			o = (in[i]+2*c.Padding[i]-c.Dilation[i]*(c.KernelSize[i]-1)-1)/c.Stride[i] + 1
		}
		shape = append(shape, o)
	}
	outSp := shape[2:]
	size := 1
	for _, d := range shape {
		size *= d
	}
	out, mag = make([]float64, size), make([]float64, size)
	// Iterate over every (input position, kernel tap) pair: for a
	// convolution the output position o satisfies i = o*s - p + k*d; for a
	// transposed one o = i*s - p + k*d.
	G := c.Groups
	cin, cout := c.InChannels/G, c.OutChannels/G
	inStr, outStr := tensor.Strides(in), tensor.Strides(outSp)
	kStr := tensor.Strides(c.KernelSize)
	inN, outN, kN := 1, 1, 1
	for i := range dims {
		inN, outN, kN = inN*in[i], outN*outSp[i], kN*c.KernelSize[i]
	}
	for n := range N {
		for g := range G {
			for ci := range cin {
				for co := range cout {
					var wBase int
					if c.Transposed {
						wBase = ((g*cin+ci)*cout + co) * kN
					} else {
						wBase = ((g*cout+co)*cin + ci) * kN
					}
					for ip := range inN {
						xv := float64(x.Data[((n*c.InChannels)+g*cin+ci)*inN+ip])
						for kp := range kN {
							wv := float64(c.Weight.Data[wBase+kp])
							if c.Transposed {
								op, ok := 0, true
								for i := range dims {
									ii := ip / inStr[i] % in[i]
									k := kp / kStr[i] % c.KernelSize[i]
									o := ii*c.Stride[i] - c.Padding[i] + k*c.Dilation[i]
									ok = ok && o >= 0 && o < outSp[i]
									op += o * outStr[i]
								}
								if ok {
									j := (n*c.OutChannels+g*cout+co)*outN + op
									out[j] += xv * wv
									mag[j] += math.Abs(xv * wv)
								}
								continue
							}
							// Convolution: find o with o*s = i + p - k*d.
							op, ok := 0, true
							for i := range dims {
								ii := ip / inStr[i] % in[i]
								k := kp / kStr[i] % c.KernelSize[i]
								num := ii + c.Padding[i] - k*c.Dilation[i]
								o := num / c.Stride[i]
								ok = ok && num >= 0 && num%c.Stride[i] == 0 && o < outSp[i]
								op += o * outStr[i]
							}
							if ok {
								j := (n*c.OutChannels+g*cout+co)*outN + op
								out[j] += xv * wv
								mag[j] += math.Abs(xv * wv)
							}
						}
					}
				}
			}
		}
	}
	if c.Bias != nil {
		for j := range out {
			b := float64(c.Bias.Data[(j/outN)%c.OutChannels])
			out[j] += b
			mag[j] += math.Abs(b)
		}
	}
	return out, mag, shape
}

func TestConvMatchesDefinition(t *testing.T) {
	specs := []ConvSpec{
		{InChannels: 3, OutChannels: 5, KernelSize: []int{3}, Bias: true},
		{InChannels: 4, OutChannels: 6, KernelSize: []int{4}, Stride: []int{3}, Padding: []int{2}, Dilation: []int{2}, Groups: 2, Bias: true},
		{InChannels: 3, OutChannels: 8, KernelSize: []int{3, 3}, Padding: []int{1}, Bias: true},
		{InChannels: 6, OutChannels: 4, KernelSize: []int{3, 2}, Stride: []int{2, 3}, Padding: []int{1, 2}, Dilation: []int{1, 2}, Groups: 2},
		{InChannels: 5, OutChannels: 5, KernelSize: []int{5, 5}, Padding: []int{2}, Groups: 5, Bias: true},
		{InChannels: 2, OutChannels: 3, KernelSize: []int{2, 3, 3}, Stride: []int{1, 2, 1}, Padding: []int{1, 0, 1}, Bias: true},
		{InChannels: 3, OutChannels: 4, KernelSize: []int{3}, Stride: []int{2}, OutputPadding: []int{1}, Bias: true, Transposed: true},
		{InChannels: 4, OutChannels: 6, KernelSize: []int{3, 3}, Stride: []int{2}, Padding: []int{1}, OutputPadding: []int{1}, Groups: 2, Bias: true, Transposed: true},
		{InChannels: 2, OutChannels: 2, KernelSize: []int{2, 3}, Stride: []int{1, 2}, Dilation: []int{3, 1}, OutputPadding: []int{2, 1}, Transposed: true},
		{InChannels: 2, OutChannels: 3, KernelSize: []int{2, 2, 3}, Stride: []int{2}, Padding: []int{0, 1, 1}, Bias: true, Transposed: true},
	}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for i, spec := range specs {
			l := must(NewConv(spec, testRNG(uint64(i))))
			c := convOf(l)
			shape := []int{3, spec.InChannels}
			for d := range spec.KernelSize {
				shape = append(shape, 5+d)
			}
			x := randTensor(testRNG(uint64(100+i)), shape...)
			y, err := l.Forward(x)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			want, mag, wshape := naiveConv(c, x)
			if !tensor.SameShape(y.Shape, wshape) {
				t.Fatalf("%s: output shape %v, want %v", l, y.Shape, wshape)
			}
			for j, v := range y.Data {
				if d := math.Abs(float64(v) - want[j]); d > 1e-5*mag[j] {
					t.Fatalf("%s: output[%d] = %v, want %v", l, j, v, want[j])
				}
			}
		}
	})
}

// TestConvChunks runs a batch large enough to be split into several im2col
// chunks and compares it with the same samples one at a time.
func TestConvChunks(t *testing.T) {
	l := must(NewConv2d(2, 3, 3, ConvOptions{Padding: 1}, testRNG(1)))
	// K = 18, P = 32·32: maxScratch / (K·P) = 227 samples per chunk.
	x := randTensor(testRNG(2), 500, 2, 32, 32)
	y := must(l.Forward(x))
	per := len(x.Data) / 500
	for _, n := range []int{0, 226, 227, 499} {
		one := &tensor.Tensor{Shape: []int{1, 2, 32, 32}, Data: x.Data[n*per : (n+1)*per]}
		y1 := must(l.Forward(one))
		out := len(y1.Data)
		for i, v := range y1.Data {
			if y.Data[n*out+i] != v {
				t.Fatalf("sample %d element %d: batched %v, alone %v", n, i, y.Data[n*out+i], v)
			}
		}
	}
}

func TestConvErrors(t *testing.T) {
	rng := testRNG(1)
	c2 := must(NewConv2d(1, 8, 3, ConvOptions{}, rng))
	for _, tc := range []struct {
		name string
		l    Layer
		x    *tensor.Tensor
		want string
	}{
		{"channels", c2, tensor.New(4, 3, 8, 8), "layers: Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1)): input shape [4 3 8 8]: has 3 channels, want 1"},
		{"rank", c2, tensor.New(1, 8, 8), "input shape [1 8 8]: want 4 dimensions (N, C, H, W)"},
		{"small", c2, tensor.New(1, 1, 2, 8), "input shape [1 1 2 8]: spatial size [2 8] is too small for kernel [3 3]"},
		{"invalid", c2, &tensor.Tensor{Shape: []int{1, 1, 3, 3}, Data: make([]float32, 8)}, "input: tensor: shape [1 1 3 3] holds 9 elements, data has 8"},
	} {
		_, err := tc.l.Forward(tc.x)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	// A weight replaced with the wrong shape, and gradients of the wrong
	// shape, are errors too.
	c := must(NewConv1d(2, 2, 3, ConvOptions{}, rng))
	if _, err := c.Backward(tensor.New(1, 2, 3)); err == nil || !strings.Contains(err.Error(), "Backward called before Forward") {
		t.Errorf("backward before forward: %v", err)
	}
	must(c.Forward(tensor.New(1, 2, 5)))
	if _, err := c.Backward(tensor.New(1, 2, 4)); err == nil || !strings.Contains(err.Error(), "output gradient shape [1 2 4], want [1 2 3]") {
		t.Errorf("bad gradient shape: %v", err)
	}
	c.Weight = tensor.New(2, 2, 2)
	if _, err := c.Forward(tensor.New(1, 2, 5)); err == nil || !strings.Contains(err.Error(), "weight shape [2 2 2], want [2 2 3]") {
		t.Errorf("bad weight: %v", err)
	}
	for _, tc := range []struct {
		spec ConvSpec
		want string
	}{
		{ConvSpec{InChannels: 3, OutChannels: 4, KernelSize: []int{3}, Groups: 2}, "groups 2 must divide in_channels 3 and out_channels 4"},
		{ConvSpec{InChannels: 0, OutChannels: 4, KernelSize: []int{3}}, "channels 0 -> 4: want at least 1"},
		{ConvSpec{InChannels: 1, OutChannels: 1, KernelSize: []int{0, 3}}, "kernel_size [0 3]: want at least 1"},
		{ConvSpec{InChannels: 1, OutChannels: 1, KernelSize: []int{3}, Padding: []int{-1}}, "padding [-1]: want at least 0"},
		{ConvSpec{InChannels: 1, OutChannels: 1, KernelSize: []int{3}, OutputPadding: []int{1}}, "output_padding [1] on a convolution that is not transposed"},
		{ConvSpec{InChannels: 1, OutChannels: 1, KernelSize: []int{3}, Stride: []int{2}, OutputPadding: []int{2}, Transposed: true}, "output_padding [2] must be smaller than either stride [2] or dilation [1]"},
		{ConvSpec{InChannels: 1, OutChannels: 1, KernelSize: []int{3, 3}, Stride: []int{1, 2, 3}}, "stride [1 2 3]: want 1 or 2 values"},
		{ConvSpec{InChannels: 1, OutChannels: 1, KernelSize: []int{3, 3, 3, 3}}, "4 kernel dimensions, want 1, 2 or 3"},
		{ConvSpec{InChannels: 1 << 20, OutChannels: 1 << 20, KernelSize: []int{3}}, "is too large"},
		{ConvSpec{InChannels: 1, OutChannels: 1, KernelSize: []int{1 << 25}}, "want at most 16777216"},
	} {
		_, err := NewConv(tc.spec, rng)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewConv(%+v): error %v, want %q", tc.spec, err, tc.want)
		}
	}
	// A nil rng is the documented fixed-seed source: TestNilRandomSource.
}

func TestConvRepr(t *testing.T) {
	rng := testRNG(1)
	for _, tc := range []struct {
		l    Layer
		want string
	}{
		{must(NewConv2d(1, 8, 3, ConvOptions{Padding: 1}, rng)), "Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"},
		{must(NewConv1d(3, 4, 3, ConvOptions{}, rng)), "Conv1d(3, 4, kernel_size=(3,), stride=(1,))"},
		{must(NewConv3d(2, 4, 3, ConvOptions{Stride: 2, Dilation: 2, Groups: 2, NoBias: true}, rng)), "Conv3d(2, 4, kernel_size=(3, 3, 3), stride=(2, 2, 2), dilation=(2, 2, 2), groups=2, bias=False)"},
		{must(NewConvTranspose2d(4, 2, 3, ConvOptions{Stride: 2, Padding: 1, OutputPadding: 1}, rng)), "ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))"},
	} {
		if got := tc.l.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	ct := must(NewConvTranspose1d(4, 6, 3, ConvOptions{Groups: 2}, rng))
	if got := fmt.Sprintf("%v %s", ct.Weight.Shape, ct.Kind()); got != "[4 3 3] ConvTranspose1d" {
		t.Errorf("ConvTranspose1d weight shape and kind: %s", got)
	}
}

// TestConvRandomConfigs draws random small convolutions, including
// paddings wider than the input and output paddings that only the dilation
// allows, and checks Forward against the definition and that Backward runs
// (the gradients themselves are checked in TestGradients).
func TestConvRandomConfigs(t *testing.T) {
	rng := testRNG(11)
	n := 300
	if testing.Short() {
		n = 60
	}
	for i := range n {
		dims := 1 + rng.IntN(3)
		g := 1 + rng.IntN(2)
		spec := ConvSpec{InChannels: g * (1 + rng.IntN(2)), OutChannels: g * (1 + rng.IntN(2)), Groups: g,
			Bias: rng.IntN(2) == 0, Transposed: rng.IntN(2) == 0}
		shape := []int{1 + rng.IntN(2), spec.InChannels}
		for range dims {
			k, s, d := 1+rng.IntN(3), 1+rng.IntN(3), 1+rng.IntN(3)
			spec.KernelSize = append(spec.KernelSize, k)
			spec.Stride = append(spec.Stride, s)
			spec.Dilation = append(spec.Dilation, d)
			spec.Padding = append(spec.Padding, rng.IntN(4))
			op := 0
			if spec.Transposed {
				op = rng.IntN(max(s, d))
			}
			spec.OutputPadding = append(spec.OutputPadding, op)
			shape = append(shape, 1+rng.IntN(5))
		}
		l, err := NewConv(spec, rng)
		if err != nil {
			t.Fatalf("NewConv(%+v): %v", spec, err)
		}
		x := randTensor(rng, shape...)
		y, err := l.Forward(x)
		if err != nil {
			if !strings.Contains(err.Error(), "too small for kernel") {
				t.Fatalf("%s on %v: %v", l, shape, err)
			}
			continue
		}
		want, mag, wshape := naiveConv(convOf(l), x)
		if !tensor.SameShape(y.Shape, wshape) {
			t.Fatalf("%s on %v: output shape %v, want %v", l, shape, y.Shape, wshape)
		}
		for j, v := range y.Data {
			if d := math.Abs(float64(v) - want[j]); d > 1e-5*mag[j]+1e-30 {
				t.Fatalf("case %d %s on %v: output[%d] = %v, want %v", i, l, shape, j, v, want[j])
			}
		}
		if _, err := l.Backward(randTensor(rng, y.Shape...)); err != nil {
			t.Fatalf("%s: Backward: %v", l, err)
		}
	}
}
