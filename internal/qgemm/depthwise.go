package qgemm

import (
	"sync"
	"unsafe"
)

// depthwise is the weights of a depthwise convolution (one input and one
// output channel per group), which runs a direct kernel: each output is a
// dot product of taps values, vectorized over the channels of a pixel.
type depthwise struct {
	fam  family
	taps int
	c    int
	// w holds β − zβ of channel ch, tap t at t·c + ch (in [−255, 255]).
	w []int16
}

func packDepthwise[T Int8](c Conv, w []T, zeroPoint []T) *depthwise {
	taps := c.KH * c.KW
	d := &depthwise{fam: selected(), taps: taps, c: c.OutC, w: make([]int16, taps*c.OutC)}
	flip := flipOf[T]()
	for ch := range c.OutC {
		z := zeroPoint[0]
		if len(zeroPoint) > 1 {
			z = zeroPoint[ch]
		}
		zb := int16(int8(uint8(z) ^ flip))
		for t := range taps {
			d.w[t*c.OutC+ch] = int16(int8(uint8(w[ch*taps+t])^flip)) - zb
		}
	}
	return d
}

// setDepthwise sets the per-channel terms of a depthwise convolution's
// epilogue: its kernel computes C − bias directly.
func (e *epilogue) setDepthwise(bias []int32, scales []float32) {
	e.colTerm = bias
	if bias == nil {
		e.colTerm = make([]int32, e.ld)
	}
	e.zp = nil
	e.scale = scales
}

// run computes the depthwise convolution of in into e's output, split
// over whole output pixels among up to threads goroutines.
func (d *depthwise) run(threads int, fam family, in *padded, zk int32, e *epilogue, c Conv, pixels int) {
	work := float64(pixels) * float64(d.c) * float64(d.taps)
	t := int(min(float64(threads), float64(pixels), work/parallelWork*4))
	t = max(t, 1)
	src := &convSource{in: in, ohw: c.OutH() * c.OutW(), ow: c.OutW(), sh: c.StrideH, sw: c.StrideW}
	for i := range c.KH {
		for j := range c.KW {
			src.tapPix = append(src.tapPix, i*c.DilationH*in.wp+j*c.DilationW)
		}
	}
	var wg sync.WaitGroup
	for i := range t {
		lo, hi := i*pixels/t, (i+1)*pixels/t
		if i == t-1 {
			d.block(fam, src, zk, e, lo, hi)
			break
		}
		wg.Go(func() { d.block(fam, src, zk, e, lo, hi) })
	}
	wg.Wait()
}

// block computes the output pixels [lo, hi).
func (d *depthwise) block(fam family, src *convSource, zk int32, e *epilogue, lo, hi int) {
	ind := make([]unsafe.Pointer, d.taps)
	p := make([]int32, d.c)
	for r := lo; r < hi; r++ {
		src.fill(ind, r, 1, 1)
		dwRow(fam, d.taps, d.c, ind, zk, d.w, p)
		e.tile(fam, p, d.c, 1, r, 0, d.c, nil)
	}
}
