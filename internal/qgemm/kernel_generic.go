package qgemm

import (
	"math"
	"unsafe"
)

// dotGeneric is the specification of every micro-kernel. For a family of
// geometry g it computes the mr×nr tile
//
//	c[r·nr + j] = Σ_{t<taps} Σ_{q<c4} Σ_{i<4} κ(ind[t·mr + r], 4q + i) · w[((t·c4 + q)·nr + j)·4 + i]
//
// in wrapping int32 arithmetic, where κ(p, i) is activation element i at
// p as g reads it (g.elem): a byte read as int8 when g.signed and as uint8
// otherwise, or a little-endian uint16 holding a uint8 value when g.wide.
// Row r of the tile reads 4·c4 elements from each of its taps' pointers;
// w is one packed panel (taps·c4 quads of nr columns).
func dotGeneric(g geometry, taps, c4 int, ind []unsafe.Pointer, w []int8, c []int32) {
	mr, nr := g.mr, g.nr
	c = c[:mr*nr]
	clear(c)
	for t := range taps {
		wt := w[t*c4*nr*4 : (t+1)*c4*nr*4]
		for r := range mr {
			a := unsafe.Slice((*byte)(ind[t*mr+r]), 4*c4*g.es())
			cr := c[r*nr : (r+1)*nr]
			for q := range c4 {
				var k [4]int32
				for i := range k {
					k[i] = g.elem(a, 4*q+i)
				}
				wq := wt[q*nr*4 : (q+1)*nr*4]
				for j := range cr {
					wj := wq[4*j : 4*j+4 : 4*j+4]
					cr[j] += k[0]*int32(wj[0]) + k[1]*int32(wj[1]) + k[2]*int32(wj[2]) + k[3]*int32(wj[3])
				}
			}
		}
	}
}

// correct returns C = p + colTerm − zp·ρ for one output (zp is 0 when the
// weights have no zero points).
func correct(p, colTerm, zp, rho int32) int32 { return p + colTerm - zp*rho }

// epiInt32Generic is the specification of the int32 epilogue: out[j] = C
// of p[j] (see correct), with zp[j] = 0 when zp is empty.
func epiInt32Generic(p, colTerm, zp []int32, rho int32, out []int32) {
	for j := range out {
		out[j] = correct(p[j], colTerm[j], zpAt(zp, j), rho)
	}
}

// epiQuantGeneric is the specification of the requantizing epilogue:
// out[j] = clamp(roundHalfEven(float32(C)·scale[j]), q.lo, q.hi) + q.zp, as a
// byte (the int8 or uint8 value's bits).
func epiQuantGeneric(p, colTerm, zp []int32, rho int32, scale []float32, q *quantParams, out []byte) {
	for j := range out {
		f := float32(correct(p[j], colTerm[j], zpAt(zp, j), rho)) * scale[j]
		f = min(max(f, q.lo), q.hi)
		out[j] = byte(int32(math.RoundToEven(float64(f))) + q.zp)
	}
}

// epiFloatGeneric is the specification of the float epilogue: out[j] =
// float32(float32(C)·scale[j]) + bias[j], rounded twice.
func epiFloatGeneric(p, colTerm, zp []int32, rho int32, scale, bias []float32, out []float32) {
	for j := range out {
		f := float32(correct(p[j], colTerm[j], zpAt(zp, j), rho)) * scale[j]
		out[j] = float32(f) + bias[j]
	}
}

func zpAt(zp []int32, j int) int32 {
	if len(zp) == 0 {
		return 0
	}
	return zp[j]
}

// dwGeneric is the specification of the depthwise kernel: for npix
// output pixels i and the c channels ch,
//
//	p[i·c + ch] = Σ_{t<taps} κ(ind[t][i·step + ch]) · w[t·c + ch]
//
// where ind[t] points at the channels of the input pixel that tap t of
// the first output pixel reads, and step is the bytes between consecutive
// output pixels' inputs.
func dwGeneric(signed bool, taps, c, npix, step int, ind []unsafe.Pointer, w []int16, p []int32) {
	p = p[:npix*c]
	clear(p)
	for t := range taps {
		wt := w[t*c : (t+1)*c]
		for i := range npix {
			x := unsafe.Slice((*byte)(unsafe.Add(ind[t], i*step)), c)
			pi := p[i*c : (i+1)*c]
			for ch, v := range x {
				pi[ch] += kappa(v, signed) * int32(wt[ch])
			}
		}
	}
}

// dwWordsGeneric is the specification of the depthwise kernel on
// activations widened to 16 bits (depthwise.words): dwGeneric with x_t's
// element ch the little-endian uint16 at ind[t] + i·step + 2·ch (step in
// bytes).
func dwWordsGeneric(taps, c, npix, step int, ind []unsafe.Pointer, w []int16, p []int32) {
	p = p[:npix*c]
	clear(p)
	for t := range taps {
		wt := w[t*c : (t+1)*c]
		for i := range npix {
			x := unsafe.Slice((*uint16)(unsafe.Add(ind[t], i*step)), c)
			pi := p[i*c : (i+1)*c]
			for ch, v := range x {
				pi[ch] += int32(v) * int32(wt[ch])
			}
		}
	}
}

// dotEach is dotTiles by one dot call per tile.
func dotEach(f family, tiles, taps, c4 int, ind []unsafe.Pointer, w []int8, c []int32) {
	g := geometries[f]
	for t := range tiles {
		dot(f, g.mr, taps, c4, ind[t*taps*g.mr:], w, c[t*g.mr*g.nr:])
	}
}
