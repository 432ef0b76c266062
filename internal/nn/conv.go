package nn

import "github.com/tensorquant/tensorquant/internal/gemm"

// Conv is a convolution, or a transposed convolution, of a batch of
// tensors [N, channels, spatial...] (channels first) with weights in
// PyTorch's and ONNX's layout: [OutC, InC/Groups, kernel...] for a
// convolution, [InC, OutC/Groups, kernel...] for a transposed one. For a
// convolution the Geom's big side is the input and its small side the
// output; for a transposed convolution it is the other way round (the
// transposed convolution is the adjoint of the convolution from its
// output's space to its input's).
//
// The work is im2col (col2im for the transposed direction) and the
// float32 GEMM of internal/gemm, group by group, in chunks of samples
// whose column matrix fits a fixed scratch size; a depthwise convolution
// (Groups == InC > 1) is computed directly, tap by tap, instead.
type Conv struct {
	Geom
	InC, OutC, Groups int
	Transposed        bool
}

// maxScratch bounds the im2col buffer (in elements); larger batches are
// processed in chunks of samples.
const maxScratch = 1 << 20

// Depthwise reports whether Forward computes c directly rather than by
// im2col: a convolution whose every group has one input channel.
func (c *Conv) Depthwise() bool {
	return !c.Transposed && c.Groups > 1 && c.Groups == c.InC
}

// dims returns K (the rows of the column matrix: channels of the big side
// per group × taps), P (window positions per sample) and the rows of the
// other operand (channels of the small side per group).
func (c *Conv) dims() (K, P, rows int) {
	if c.Transposed {
		return c.OutC / c.Groups * c.KernelN(), c.SmallN(), c.InC / c.Groups
	}
	return c.InC / c.Groups * c.KernelN(), c.SmallN(), c.OutC / c.Groups
}

// chunk returns the samples per chunk for a run of n samples: as many as
// fit maxScratch, at least one.
func (c *Conv) chunk(n int) int {
	K, P, _ := c.dims()
	per := max(1, maxScratch/max(1, K*P))
	return min(per, max(n, 1))
}

// Scratch returns the lengths of the two scratch buffers Forward (except
// for a depthwise convolution, which needs none) and Backward take for a
// run of n samples.
func (c *Conv) Scratch(n int) (cols, tmp int) {
	K, P, rows := c.dims()
	per := c.chunk(n)
	return K * P * per, rows * P * per
}

// Forward writes samples [n0, n1) of y, the convolution of x with weight
// w plus bias (nil: none), using the scratch buffers cols and tmp (at
// least the lengths Scratch(n1-n0) returns; unused for a depthwise
// convolution).
func (c *Conv) Forward(y, x, w, bias, cols, tmp []float32, n0, n1 int) {
	if c.Depthwise() {
		c.DepthwisePlanes(y, x, w, bias, n0*c.OutC, n1*c.OutC)
		return
	}
	c.gemmForward(y, x, w, bias, cols, tmp, n0, n1)
}

// gemmForward is Forward by im2col (col2im) and the GEMM, whatever the
// groups.
func (c *Conv) gemmForward(y, x, w, bias, cols, tmp []float32, n0, n1 int) {
	K, P, rows := c.dims()
	per, G := c.chunk(n1-n0), c.Groups
	if !c.Transposed {
		cg := c.InC / G
		for s := n0; s < n1; s += per {
			nc := min(per, n1-s)
			L := nc * P
			cols, tmp := cols[:K*L], tmp[:rows*L]
			for gi := range G {
				c.Im2col(cols, x, c.InC, gi*cg, cg, s, nc)
				gemm.Sgemm(false, false, rows, L, K, w[gi*rows*K:], K, cols, L, tmp, L, false)
				scatterChannels(y, tmp, c.OutC, gi*rows, rows, s, nc, P, bias)
			}
		}
		return
	}
	// Transposed: y = col2im(Wᵀ·x), the adjoint of the convolution from y's
	// space to x's, whose weight has x's channels as output channels.
	B := c.BigN()
	clear(y[n0*c.OutC*B : n1*c.OutC*B])
	cg := c.OutC / G
	for s := n0; s < n1; s += per {
		nc := min(per, n1-s)
		L := nc * P
		cols, tmp := cols[:K*L], tmp[:rows*L]
		for gi := range G {
			gatherChannels(tmp, x, c.InC, gi*rows, rows, s, nc, P)
			gemm.Sgemm(true, false, K, L, rows, w[gi*rows*K:], K, tmp, L, cols, L, false)
			c.Col2im(y, cols, c.OutC, gi*cg, cg, s, nc)
		}
	}
	if bias != nil {
		addChannelBias(y[n0*c.OutC*B:n1*c.OutC*B], bias, B)
	}
}

// DepthwiseBlock is a multiple of how many consecutive planes of one
// sample DepthwisePlanes computes at once when it can (the interleaved
// kernels take 8 channels in the lanes of a vector on AVX2, 16 on
// AVX-512): when OutC is a multiple of it, a range of planes split at its
// multiples leaves none to the plane-by-plane path.
const DepthwiseBlock = 16

// DepthwisePlanes writes planes [p0, p1) of y (plane p is channel p mod
// OutC of sample p / OutC) of a depthwise convolution (Depthwise): output
// channel o reads input channel o / (OutC/InC) only, so each output
// element is its bias plus, tap by tap in the weight's order, the tap's
// weight times the input element it reads (taps in the padding skipped;
// each product rounded to float32 before it is added, on every
// architecture). The work goes output row by output row and kernel row by
// kernel row; the windows whose taps are all inside the input row take a
// loop without range checks. Where the AVX2 and AVX-512 families have
// interleaved kernels (dwBlock), 8 or 16 channels of one sample go at
// once.
func (c *Conv) DepthwisePlanes(y, x, w, bias []float32, p0, p1 int) {
	B, P, K := c.BigN(), c.SmallN(), c.KernelN()
	m := c.OutC / c.Groups
	td, th, tw := c.tapsOf(0), c.tapsOf(1), c.tapsOf(2)
	s2, b2 := c.Small[2], c.Big[2]
	kw, sw, dw := c.Kernel[2], c.Stride[2], c.Dilation[2]
	in0, in1 := tw.interior(kw)
	for p := p0; p < p1; p++ {
		if k := dwBlock(y, x, w, bias, c, p, p1); k > 0 {
			p += k - 1
			continue
		}
		n, o := p/c.OutC, p%c.OutC
		plane := x[(n*c.InC+o/m)*B:][:B]
		wo := w[o*K : (o+1)*K]
		var b float32
		if bias != nil {
			b = bias[o]
		}
		if dwPlane(y[p*P:(p+1)*P], plane, wo, b, &c.Geom) {
			continue
		}
		var out []float32
		c.forRows(&td, &th, func(r int) {
			out = y[p*P+r*s2 : p*P+(r+1)*s2]
			fill(out, b)
		}, func(off, kr int) {
			row, wr := plane[off:off+b2], wo[kr*kw:(kr+1)*kw]
			for ow := 0; ow < s2; ow++ {
				if ow == in0 {
					dwRow(out[in0:in1], row[tw.start[in0]:], wr, sw, dw)
					ow = in1 - 1
					continue
				}
				acc := out[ow]
				for kc := tw.lo[ow]; kc < tw.hi[ow]; kc++ {
					acc += float32(wr[kc] * row[tw.start[ow]+kc*dw])
				}
				out[ow] = acc
			}
		}, nil)
	}
}

// interior returns the window positions [lo, hi) whose k taps are all
// inside the input (lo = -1 when there are none).
func (t *taps) interior(k int) (lo, hi int) {
	lo = -1
	for o := range t.start {
		if t.lo[o] == 0 && t.hi[o] == k {
			if lo < 0 {
				lo = o
			}
			hi = o + 1
		}
	}
	return lo, hi
}

// Backward computes the gradients of a forward pass over n samples: it
// writes the input gradient dx (every element; nil: not computed, when
// only the weights' gradients are wanted), and adds the weight
// gradient to dw and, when db is not nil, the bias gradient (per channel
// sums of dy, accumulated in float64) to db. x and w are the forward
// pass's input and weight, dy the output gradient; cols and tmp are
// scratch of the lengths Scratch(n) returns.
func (c *Conv) Backward(dx, dw, db, dy, x, w, cols, tmp []float32, n int) {
	K, P, rows := c.dims()
	per, G := c.chunk(n), c.Groups
	if !c.Transposed {
		clear(dx)
		cg := c.InC / G
		for s := 0; s < n; s += per {
			nc := min(per, n-s)
			L := nc * P
			cols, tmp := cols[:K*L], tmp[:rows*L]
			for gi := range G {
				gatherChannels(tmp, dy, c.OutC, gi*rows, rows, s, nc, P)
				c.Im2col(cols, x, c.InC, gi*cg, cg, s, nc)
				gemm.Sgemm(false, true, rows, K, L, tmp, L, cols, L, dw[gi*rows*K:], K, true)
				if dx != nil {
					gemm.Sgemm(true, false, K, L, rows, w[gi*rows*K:], K, tmp, L, cols, L, false)
					c.Col2im(dx, cols, c.InC, gi*cg, cg, s, nc)
				}
			}
		}
		if db != nil {
			sumChannels(db, dy, P)
		}
		return
	}
	cg := c.OutC / G
	for s := 0; s < n; s += per {
		nc := min(per, n-s)
		L := nc * P
		cols, tmp := cols[:K*L], tmp[:rows*L]
		for gi := range G {
			c.Im2col(cols, dy, c.OutC, gi*cg, cg, s, nc)
			gatherChannels(tmp, x, c.InC, gi*rows, rows, s, nc, P)
			gemm.Sgemm(false, true, rows, K, L, tmp, L, cols, L, dw[gi*rows*K:], K, true)
			if dx != nil {
				gemm.Sgemm(false, false, rows, L, K, w[gi*rows*K:], K, cols, L, tmp, L, false)
				scatterChannels(dx, tmp, c.InC, gi*rows, rows, s, nc, P, nil)
			}
		}
	}
	if db != nil {
		sumChannels(db, dy, c.BigN())
	}
}

// maxDataGradRows bounds the output channels per group of a convolution
// whose input gradient DataGrad computes. col2im costs per input channel,
// tap and position, the backward's GEMM that much times the output
// channels per group: at 16 and 32 (the Fashion-MNIST CNN, 32 samples)
// the forward pass took 0.45-0.65× the time of the GEMM and col2im (a
// depthwise one 0.06×), at 64 to 512 (ResNet-18's) 0.8-2.8×.
const maxDataGradRows = 32

// DataGrad returns the convolution whose forward pass, with the weights
// FlipWeights writes, computes Backward's input gradient from the output
// gradient, and true; false when c has none (a transposed convolution, or
// one with a stride other than 1 or with a padding larger than the
// kernel's extent ((Kernel-1)·Dilation) at either end) or when Backward's
// GEMM and col2im are as fast: groups of more than maxDataGradRows output
// channels. Its input is c's output and its output c's input: with
// stride 1, the input element i receives dy[i + t·d - pad] · w[t] from
// each tap t, which is tap K-1-t of a convolution of dy padded by
// (Kernel-1)·Dilation - pad at the same end. It sums in another order
// than Backward (a position's taps and channels together): within
// float32 rounding of it.
func (c *Conv) DataGrad() (Conv, bool) {
	if c.Transposed || c.OutC/c.Groups > maxDataGradRows {
		return Conv{}, false
	}
	d := Conv{InC: c.OutC, OutC: c.InC, Groups: c.Groups}
	d.Geom = Geom{Big: c.Small, Small: c.Big, Kernel: c.Kernel, Stride: c.Stride, Dilation: c.Dilation}
	for i := range 3 {
		e := (c.Kernel[i] - 1) * c.Dilation[i]
		if c.Stride[i] != 1 || c.Pad[i] > e || c.PadEnd[i] > e {
			return Conv{}, false
		}
		d.Pad[i], d.PadEnd[i] = e-c.Pad[i], e-c.PadEnd[i]
	}
	return d, true
}

// FlipWeights writes into dst (len(w) elements) the weights of
// DataGrad's convolution from c's weights w: in each group, filter ci of
// channel co is filter co of channel ci of w with its taps reversed.
func (c *Conv) FlipWeights(dst, w []float32) {
	rows, cg, K := c.OutC/c.Groups, c.InC/c.Groups, c.KernelN()
	for g := range c.Groups {
		for co := range rows {
			for ci := range cg {
				src := w[((g*rows+co)*cg+ci)*K:][:K]
				d := dst[((g*cg+ci)*rows+co)*K:][:K]
				for t, v := range src {
					d[K-1-t] = v
				}
			}
		}
	}
}

// addChannelBias adds bias[c] to every element of channel c of y, a tensor
// [N, C, P].
func addChannelBias(y, bias []float32, P int) {
	C := len(bias)
	for i := 0; i+P <= len(y); i += P {
		b := bias[(i/P)%C]
		for j := range y[i : i+P] {
			y[i+j] += b
		}
	}
}

// sumChannels adds, for each channel c, the sum of channel c of dy (a
// tensor [N, C, P]) to db[c], accumulating in float64: each plane in four
// running sums (elements 4j, 4j+1, 4j+2, 4j+3; the last P mod 4 in the
// first), added as (s0+s1)+(s2+s3), then the planes in order.
func sumChannels(db, dy []float32, P int) {
	C := len(db)
	sums := make([]float64, C)
	for i := 0; i+P <= len(dy); i += P {
		plane := dy[i : i+P]
		var s0, s1, s2, s3 float64
		j := 0
		for ; j+4 <= len(plane); j += 4 {
			s0 += float64(plane[j])
			s1 += float64(plane[j+1])
			s2 += float64(plane[j+2])
			s3 += float64(plane[j+3])
		}
		for _, v := range plane[j:] {
			s0 += float64(v)
		}
		sums[(i/P)%C] += (s0 + s1) + (s2 + s3)
	}
	for c, s := range sums {
		db[c] += float32(s)
	}
}

// fill sets every element of d to v.
func fill[T any](d []T, v T) {
	for i := range d {
		d[i] = v
	}
}
