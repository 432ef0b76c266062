package qgemm

import (
	"errors"
	"fmt"
)

// Layout is the order of the dimensions of a convolution's input and
// output.
type Layout uint8

const (
	// NCHW is ONNX's order: batch, channels, height, width.
	NCHW Layout = iota
	// NHWC is batch, height, width, channels: the order the kernels work
	// in, which saves two transpositions when consecutive integer
	// convolutions keep it.
	NHWC
)

// Conv is the shape of a 2-D convolution (ONNX Conv, QLinearConv,
// ConvInteger; a 1-D one has InH = KH = 1). Zero strides, dilations and
// groups mean 1.
type Conv struct {
	Batch, InC, InH, InW                 int
	OutC                                 int
	KH, KW                               int
	StrideH, StrideW                     int
	DilationH, DilationW                 int
	PadTop, PadLeft, PadBottom, PadRight int
	Groups                               int
}

// OutH returns the output height: (InH + pads − dilated kernel)/stride + 1,
// or 0 when the padded input is smaller than the dilated kernel.
func (c Conv) OutH() int {
	c = c.normal()
	return outSize(c.InH+c.PadTop+c.PadBottom, (c.KH-1)*c.DilationH+1, c.StrideH)
}

// OutW returns the output width, like OutH.
func (c Conv) OutW() int {
	c = c.normal()
	return outSize(c.InW+c.PadLeft+c.PadRight, (c.KW-1)*c.DilationW+1, c.StrideW)
}

// outSize returns the number of windows of extent ext, stride s, in n.
func outSize(n, ext, s int) int {
	if n < ext || s < 1 {
		return 0
	}
	return (n-ext)/s + 1
}

func (c Conv) normal() Conv {
	for _, p := range []*int{&c.StrideH, &c.StrideW, &c.DilationH, &c.DilationW, &c.Groups} {
		if *p == 0 {
			*p = 1
		}
	}
	return c
}

// check validates the shape.
func (c Conv) check() error {
	for _, d := range []struct {
		name string
		v    int
	}{
		{"batch", c.Batch}, {"input channels", c.InC}, {"input height", c.InH}, {"input width", c.InW},
		{"output channels", c.OutC}, {"kernel height", c.KH}, {"kernel width", c.KW},
		{"stride", c.StrideH}, {"stride", c.StrideW}, {"dilation", c.DilationH}, {"dilation", c.DilationW}, {"groups", c.Groups},
	} {
		if d.v < 1 || d.v > 1<<20 {
			return shapeErr("convolution %s %d is out of range", d.name, d.v)
		}
	}
	for _, p := range []struct {
		v, extent int
	}{{c.PadTop, (c.KH-1)*c.DilationH + 1}, {c.PadBottom, (c.KH-1)*c.DilationH + 1}, {c.PadLeft, (c.KW-1)*c.DilationW + 1}, {c.PadRight, (c.KW-1)*c.DilationW + 1}} {
		if p.v < 0 || p.v >= p.extent {
			return shapeErr("convolution padding %d is negative or not smaller than the kernel extent %d", p.v, p.extent)
		}
	}
	if c.InC%c.Groups != 0 || c.OutC%c.Groups != 0 {
		return shapeErr("%d input and %d output channels do not split into %d groups", c.InC, c.OutC, c.Groups)
	}
	if c.OutH() < 1 || c.OutW() < 1 {
		return shapeErr("convolution input %d×%d is smaller than the dilated kernel %d×%d", c.InH, c.InW, (c.KH-1)*c.DilationH+1, (c.KW-1)*c.DilationW+1)
	}
	if int64(c.Batch)*int64(c.InC)*int64(c.InH+c.PadTop+c.PadBottom)*int64(c.InW+c.PadLeft+c.PadRight) > maxElems ||
		int64(c.Batch)*int64(c.OutC)*int64(c.OutH())*int64(c.OutW()) > maxElems {
		return shapeErr("convolution of %d×%d×%d×%d is too large", c.Batch, c.InC, c.InH, c.InW)
	}
	return nil
}

// ConvWeights is the weights of a convolution packed for one shape (Conv),
// for the kernel family selected when they were packed. Like Weights, it is
// read-only and may be shared by goroutines.
type ConvWeights struct {
	shape  Conv
	groups []*Weights // one product per group; nil for a depthwise convolution
	dw     *depthwise
	// inC is the channels of a pixel of the padded input: shape.InC, or 4
	// for an ungrouped convolution of fewer (quadChannels).
	inC int
}

// Shape returns the convolution shape the weights were packed for.
func (cw *ConvWeights) Shape() Conv { return cw.shape }

// SignedActivations is Weights.SignedActivations for a convolution.
func (cw *ConvWeights) SignedActivations() bool { return geometries[cw.family()].signed }

// PackConv packs the weights of convolution c: w in ONNX order [OutC,
// InC/Groups, KH, KW], with zeroPoint of 1 element (per tensor) or OutC
// (per output channel). It returns an error wrapping ErrShape when the shape
// is invalid (a dimension below 1, a padding not smaller than the dilated
// kernel, channels that do not split into the groups, an empty output),
// when InC/Groups·KH·KW exceeds MaxK, or when w or zeroPoint has the wrong
// length.
func PackConv[T Int8](c Conv, w []T, zeroPoint []T) (*ConvWeights, error) {
	c = c.normal()
	if err := c.check(); err != nil {
		return nil, err
	}
	cg, ocg, taps := c.InC/c.Groups, c.OutC/c.Groups, c.KH*c.KW
	if len(w) != c.OutC*cg*taps {
		return nil, shapeErr("convolution weights have %d values, want %d×%d×%d×%d", len(w), c.OutC, cg, c.KH, c.KW)
	}
	if len(zeroPoint) != 1 && len(zeroPoint) != c.OutC {
		return nil, shapeErr("convolution has %d output channels but %d weight zero points", c.OutC, len(zeroPoint))
	}
	cw := &ConvWeights{shape: c, inC: c.InC}
	if cg == 1 && ocg == 1 {
		if taps > MaxK {
			return nil, shapeErr("kernel of %d taps exceeds %d, the largest whose int32 sums are exact", taps, MaxK)
		}
		cw.dw = packDepthwise(c, w, zeroPoint)
		return cw, nil
	}
	// Without groups, the taps of a kernel row (undilated) read
	// consecutive pixels, whose channels follow each other in the padded
	// input when they are whole quads: one pointer per kernel row can
	// then read the row's taps (the kernels' quads in the same order: the
	// same packed weights, the same sums). It pays for few channels, whose
	// pointers cost as much as their quads (3×3, AVX2, one goroutine: 16
	// → 32 channels at 14×14 27 → 23 µs, 32 → 32 at 7×7 12.8 → 11.8 µs),
	// not for many (64 → 64 at 56×56 1.77 → 1.97 ms, 256 at 14×14 1.69 →
	// 1.81 ms: the kernel's longer runs of quads are slower).
	//
	// An ungrouped input of fewer than 4 channels (an image's 1 or 3) is
	// copied with 4 (quadChannels), the extra ones holding the zero
	// point and weighted 0, so that its kernel rows too are read through
	// one pointer each: MobileNetV2's first layer (3 channels, 3×3,
	// stride 2, batch 1) 455 → ~200 µs in int8, with the copy's
	// interleaving in assembly (quadsAVX2).
	pc := cg // channels per pixel of the padded input
	if quadChannels(c) {
		pc = 4
		cw.inC = 4
	}
	ptrs := taps
	if c.Groups == 1 && c.DilationW == 1 && pc%4 == 0 && pc <= 32 {
		ptrs = c.KH
	}
	var zero T // the weight code of β = 0
	zero ^= T(flipOf[T]())
	for g := range c.Groups {
		zp := zeroPoint
		if len(zp) > 1 {
			zp = zp[g*ocg : (g+1)*ocg]
		}
		// Row k = tap·pc + channel of the group's K×ocg matrix.
		pw, err := pack(ptrs, taps*pc, ocg, zp, func(k, j int) T {
			if k%pc >= cg {
				return zero
			}
			return w[((g*ocg+j)*cg+k%pc)*taps+k/pc]
		})
		if err != nil {
			return nil, err
		}
		cw.groups = append(cw.groups, pw)
	}
	return cw, nil
}

// quadChannels reports whether convolution c's input is copied with 4
// channels a pixel instead of its InC: an ungrouped convolution of fewer
// than 4 input channels.
func quadChannels(c Conv) bool { return c.Groups == 1 && c.InC < 4 }

// ConvInt32 computes the convolution of x (zero point zx) with cw into y,
// C + bias[channel] in int32 (ONNX ConvInteger, with a bias), on up to
// threads goroutines. x is in layout in, y in layout out; bias is nil or
// has OutC values. It returns an error when threads < 1, a layout is
// unknown or a slice has the wrong length for the shape (wrapping
// ErrShape).
func ConvInt32[X Int8](threads int, cw *ConvWeights, in, out Layout, x []X, zx X, bias []int32, y []int32) error {
	return conv(threads, cw, in, out, x, zx, bias, nil, len(y), &epilogue{kind: outInt32, i32: y})
}

// ConvQuant is ConvInt32 followed by the requantization q into y of type
// Y (ONNX QLinearConv). It also returns an error when a scale is not
// finite or q's zero point or bounds are outside Y's range.
func ConvQuant[X, Y Int8](threads int, cw *ConvWeights, in, out Layout, x []X, zx X, bias []int32, q Requant, y []Y) error {
	e := &epilogue{kind: outQuant, u8: bytesOf(y)}
	lo, hi := rangeOf[Y]()
	if err := e.setQuant(q, lo, hi); err != nil {
		return err
	}
	return conv(threads, cw, in, out, x, zx, bias, q.Scale, len(y), e)
}

// ConvFloat is ConvInt32 (without an int32 bias) followed by the float
// output d. It also returns an error when a scale is not finite or d.Bias
// has neither 0 nor OutC values.
func ConvFloat[X Int8](threads int, cw *ConvWeights, in, out Layout, x []X, zx X, d Dequant, y []float32) error {
	if cw == nil {
		return errors.New("qgemm: nil convolution weights")
	}
	e := &epilogue{kind: outFloat, f32: y}
	if err := e.setFloat(d, cw.shape.OutC, "convolution has %d output channels"); err != nil {
		return err
	}
	return conv(threads, cw, in, out, x, zx, nil, d.Scale, len(y), e)
}

// ConvFloatQuant is ConvFloat (with d.Act) followed by the QuantizeLinear
// q, into y of type Y (int8 or uint8): the codes of a convolution, its
// activation and the next layer's quantization, without writing the
// float values. It also returns an error when q's zero point is outside
// Y's range.
func ConvFloatQuant[X, Y Int8](threads int, cw *ConvWeights, in, out Layout, x []X, zx X, d Dequant, q Quantize, y []Y) error {
	if cw == nil {
		return errors.New("qgemm: nil convolution weights")
	}
	e := &epilogue{kind: outFloatQuant, u8: bytesOf(y)}
	if err := e.setFloat(d, cw.shape.OutC, "convolution has %d output channels"); err != nil {
		return err
	}
	if err := setCodes[Y](e, q); err != nil {
		return err
	}
	return conv(threads, cw, in, out, x, zx, nil, d.Scale, len(y), e)
}

// conv runs the convolution into e, whose output (of ylen values) is set.
func conv[X Int8](threads int, cw *ConvWeights, in, out Layout, x []X, zx X, bias []int32, scale []float32, ylen int, e *epilogue) error {
	if cw == nil {
		return errors.New("qgemm: nil convolution weights")
	}
	if threads < 1 {
		return fmt.Errorf("qgemm: %d threads", threads)
	}
	for _, l := range [2]Layout{in, out} {
		if l != NCHW && l != NHWC {
			return fmt.Errorf("qgemm: unknown layout %d", l)
		}
	}
	c := cw.shape
	oh, ow := c.OutH(), c.OutW()
	if len(x) != c.Batch*c.InC*c.InH*c.InW {
		return shapeErr("convolution input has %d values, want %d×%d×%d×%d", len(x), c.Batch, c.InC, c.InH, c.InW)
	}
	if ylen != c.Batch*c.OutC*oh*ow {
		return shapeErr("convolution output has %d values, want %d×%d×%d×%d", ylen, c.Batch, c.OutC, oh, ow)
	}
	if bias != nil && len(bias) != c.OutC {
		return shapeErr("convolution has %d output channels but the bias has %d values", c.OutC, len(bias))
	}
	var scales []float32
	if e.kind != outInt32 {
		var err error
		if scales, err = perColumn("scale", scale, c.OutC); err != nil {
			return err
		}
	}
	fam := cw.family()
	geo := geometries[fam]
	flip := actFlip[X](geo)
	zk := kappa(uint8(zx)^flip, geo.signed)
	g := geo // how the kernels read the copy
	if cw.dw != nil {
		g.wide = cw.dw.words != nil // depthwise kernels read bytes, dwWordsVNNI words
	}
	if image := (c.InH + c.PadTop + c.PadBottom) * (c.InW + c.PadLeft + c.PadRight) * cw.inC * g.es(); c.Batch > 1 && c.Batch*image > batchCopyBytes {
		return convImages(threads, cw, in, out, x, zx, bias, scale, ylen, e)
	}
	px := newPadded(c, cw.inC, in, bytesOf(x), uint8(zx), flip, g)
	defer px.release()

	// The kernels write NHWC: into y itself, or into a buffer transposed
	// into y at the end.
	pixels := c.Batch * oh * ow
	e.ld = c.OutC
	finish := func() {}
	if out == NCHW {
		finish = e.viaNHWC(c.Batch, oh*ow, c.OutC)
	}
	if cw.dw != nil {
		e.setDepthwise(cw.dw, zk, bias, scales)
		cw.dw.run(threads, fam, px, e, c, pixels)
	} else {
		ocg := c.OutC / c.Groups
		for g, w := range cw.groups {
			ge := *e
			ge.off = g * ocg
			var gb []int32
			if bias != nil {
				gb = bias[g*ocg : (g+1)*ocg]
			}
			var gs []float32
			if scales != nil {
				gs = scales[g*ocg : (g+1)*ocg]
			}
			if ge.bias != nil {
				ge.bias = e.bias[g*ocg : (g+1)*ocg]
			}
			if err := ge.setColumns(w, zk, gb, gs); err != nil {
				return err
			}
			src := newConvSource(px, c, g, w)
			run(threads, w, src, &ge, pixels)
		}
	}
	finish()
	return nil
}

// batchCopyBytes bounds the padded copy of a batch's input that a
// convolution makes at once: a larger batch runs image by image (each
// image's copy still in L2 when the kernels read it). At batch 8 on one
// thread, MobileNetV2's depthwise 96 channels at 112×112 stride 2 took
// 0.36 ms an image against 0.24 at batch 1 (its batch's copy 9.8 MB). A
// variable for the tests.
var batchCopyBytes = 1 << 20

// convImages runs conv on each image of the batch in turn, into e's
// output (the images are contiguous in both layouts).
func convImages[X Int8](threads int, cw *ConvWeights, in, out Layout, x []X, zx X, bias []int32, scale []float32, ylen int, e *epilogue) error {
	c := cw.shape
	c.Batch = 1
	one := &ConvWeights{shape: c, groups: cw.groups, dw: cw.dw, inC: cw.inC}
	xs, ys := len(x)/cw.shape.Batch, ylen/cw.shape.Batch
	for n := range cw.shape.Batch {
		en := *e
		switch {
		case e.i32 != nil:
			en.i32 = e.i32[n*ys : (n+1)*ys]
		case e.u8 != nil:
			en.u8 = e.u8[n*ys : (n+1)*ys]
		case e.f32 != nil:
			en.f32 = e.f32[n*ys : (n+1)*ys]
		}
		if err := conv(threads, one, in, out, x[n*xs:(n+1)*xs], zx, bias, scale, ys, &en); err != nil {
			return err
		}
	}
	return nil
}

// family returns the family the weights were packed for.
func (cw *ConvWeights) family() family {
	if cw.dw != nil {
		return cw.dw.fam
	}
	return cw.groups[0].fam
}

// viaNHWC points e at a buffer of its output's kind and length, and
// returns the function that transposes the buffer, batch × pixels ×
// channels, into the output as batch × channels × pixels.
func (e *epilogue) viaNHWC(batch, pixels, channels int) (finish func()) {
	n := pixels * channels
	if e.kind == outInt32 || e.kind == outFloat {
		var y []uint32
		buf := getBuf[uint32](&wordPool, batch*n)
		if e.kind == outInt32 {
			y = bits32(e.i32)
			e.i32 = fromBits32[int32](*buf)
		} else {
			y = bits32(e.f32)
			e.f32 = fromBits32[float32](*buf)
		}
		return func() {
			for b := range batch {
				transposeBits32(y[b*n:(b+1)*n], pixels, (*buf)[b*n:], channels, pixels, channels)
			}
			wordPool.Put(buf)
		}
	}
	y, buf := e.u8, getBuf[byte](&bytePool, len(e.u8))
	e.u8 = *buf
	return func() {
		for b := range batch {
			transposeBytes(y[b*n:(b+1)*n], pixels, e.u8[b*n:], channels, pixels, channels, 0)
		}
		bytePool.Put(buf)
	}
}

// padded is a convolution input as the kernels read it: NHWC, the
// elements the kernels read (bytes flipped to their signedness, widened
// to 16 bits for the wide ones), with the padding materialized as the
// zero point's, and 4 elements of slack at the end (a pointer's last quad
// may reach 3 elements past its channels). An NHWC input that needs none
// of that is used as it is.
type padded struct {
	x      []byte
	buf    *[]byte // x's buffer, from the pool (nil when x is the input)
	hp, wp int
	c      int
	pixels int      // hp·wp·batch
	geo    geometry // how the kernels read x
	es     int      // geo.es()
}

// newPadded returns the input x (layout l) as the kernels of geometry g
// read it, with pc channels a pixel: c.InC, or 4 when quadChannels(c)
// (the extra channels hold the zero point, like the padding).
func newPadded(c Conv, pc int, l Layout, x []byte, zero, flip byte, g geometry) *padded {
	p := &padded{hp: c.InH + c.PadTop + c.PadBottom, wp: c.InW + c.PadLeft + c.PadRight, c: pc, geo: g, es: 1}
	p.pixels = c.Batch * p.hp * p.wp
	if l == NHWC && flip == 0 && !p.geo.wide && c.PadTop+c.PadBottom+c.PadLeft+c.PadRight == 0 && (c.InC/c.Groups)%4 == 0 {
		// x is already what the kernels read, and no quad of a group's
		// channels reaches past the last pixel: no copy.
		p.x = x
		return p
	}
	p.buf = getBuf[byte](&bytePool, p.pixels*p.c+4)
	p.x = *p.buf
	pad := zero ^ flip
	rowBytes := p.wp * p.c
	hw := c.InH * c.InW
	// An NCHW image whose rows are not a multiple of 8 pixels wide is
	// transposed whole into nhwc (the transposition's 8×8 blocks then run
	// across its rows), and its rows copied from there.
	var nhwc *[]byte
	if l == NCHW && c.InW%8 != 0 && hw >= 8 && pc == c.InC {
		nhwc = getBuf[byte](&bytePool, hw*c.InC)
		defer bytePool.Put(nhwc)
	}
	for n := range c.Batch {
		img := p.x[n*p.hp*rowBytes : (n+1)*p.hp*rowBytes]
		fillBytes(img[:c.PadTop*rowBytes], pad)
		fillBytes(img[(c.PadTop+c.InH)*rowBytes:], pad)
		src, f := x[n*hw*c.InC:], flip
		if nhwc != nil {
			// Channel ch of pixel i at x[(n·C + ch)·H·W + i].
			transposeBytes(*nhwc, p.c, src, hw, c.InC, hw, flip)
			src, f = *nhwc, 0
		}
		for h := range c.InH {
			row := img[(h+c.PadTop)*rowBytes : (h+c.PadTop+1)*rowBytes]
			fillBytes(row[:c.PadLeft*p.c], pad)
			fillBytes(row[(c.PadLeft+c.InW)*p.c:], pad)
			in := row[c.PadLeft*p.c : (c.PadLeft+c.InW)*p.c]
			if pc != c.InC {
				if l == NHWC {
					spreadPixels(in, src[h*c.InW*c.InC:][:c.InW*c.InC], c.InC, f, pad)
				} else {
					transposeQuads(in, src[h*c.InW:], hw, c.InC, c.InW, flip, pad)
				}
				continue
			}
			if l == NHWC || nhwc != nil {
				xorCopy(in, src[h*c.InW*c.InC:][:c.InW*c.InC], f)
				continue
			}
			// NCHW: channel ch of pixel w at x[(n·C + ch)·H·W + h·W + w].
			transposeBytes(in, p.c, src[h*c.InW:], hw, c.InC, c.InW, flip)
		}
	}
	fillBytes(p.x[len(p.x)-4:], 0)
	if p.geo.wide {
		wide := getBuf[byte](&bytePool, 2*len(p.x))
		widenCopy(*wide, p.x, 0)
		bytePool.Put(p.buf)
		p.buf, p.x, p.es = wide, *wide, 2
	}
	return p
}

// release returns the buffer to the pool.
func (p *padded) release() {
	if p.buf != nil {
		bytePool.Put(p.buf)
	}
}
