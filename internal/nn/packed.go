package nn

import (
	"sync"

	"github.com/tensorquant/tensorquant/internal/gemm"
)

// ConvWeights are a convolution's weights prepared once for
// Conv.ForwardPacked: packed into the GEMM's panel layout group by group,
// or kept as given for the kernels that read them directly (depthwise
// and transposed convolutions).
type ConvWeights struct {
	inC, outC, groups, kernelN int
	transposed                 bool
	packed                     []*gemm.Packed // per group; nil when w is used
	w                          []float32
}

// PackConvWeights prepares the weights w of a convolution (or, when
// transposed, a transposed convolution) with inC input and outC output
// channels in groups, kernelN taps, in the layout Conv documents. It packs
// them for the GEMM kernel family selected now, except for a depthwise or
// transposed convolution, whose weights it keeps (w then must not change).
func PackConvWeights(inC, outC, groups, kernelN int, transposed bool, w []float32) *ConvWeights {
	cw := &ConvWeights{inC: inC, outC: outC, groups: groups, kernelN: kernelN, transposed: transposed}
	c := Conv{InC: inC, OutC: outC, Groups: groups, Transposed: transposed}
	if transposed || c.Depthwise() {
		cw.w = w
		return cw
	}
	rows, K := outC/groups, inC/groups*kernelN
	for g := range groups {
		cw.packed = append(cw.packed, gemm.PackA(false, rows, K, w[g*rows*K:], max(K, 1)))
	}
	return cw
}

// Len returns the number of float32 values the prepared weights hold.
func (cw *ConvWeights) Len() int {
	n := len(cw.w)
	for _, p := range cw.packed {
		n += p.Len()
	}
	return n
}

// Fused is what a fused convolution does to each output element after
// the convolution's sums, in this order: add Bias[channel] (nil: none),
// add the element of Add at the same index (a tensor shaped like the
// output; nil: none), apply Act in place (nil: none). Each step rounds to
// float32, as the separate Conv, Add and activation ops would: the fused
// output equals theirs bit for bit.
type Fused struct {
	Bias, Add []float32
	Act       func(dst, src []float32)
}

// ForwardPacked writes samples [n0, n1) of y, the convolution of x with
// the prepared weights w, finished by f (nil: bias-free, nothing else),
// on up to threads goroutines (the caller's included). For a convolution
// computed by the GEMM each sample's product takes the im2col columns
// straight from x in the GEMM's panel layout (an implicit GEMM: no column
// matrix is stored), or, for a 1×1 convolution with unit strides and no
// padding, x itself; the result equals Forward's (and the bias is added
// after the sums, as there). The depthwise kernel starts from the bias,
// as Forward's does. The results do not depend on threads.
func (c *Conv) ForwardPacked(y, x []float32, w *ConvWeights, f *Fused, n0, n1, threads int) {
	if f == nil {
		f = &Fused{}
	}
	threads = max(threads, 1)
	switch {
	case w.transposed:
		c.forwardTransposedFused(y, x, w.w, f, n0, n1, threads)
		return
	case w.packed == nil:
		P := c.SmallN()
		parallel(threads, (n1-n0)*c.OutC, max(1, grainElems/max(P*c.KernelN(), 1)), func(lo, hi int) {
			c.DepthwisePlanes(y, x, w.w, f.Bias, n0*c.OutC+lo, n0*c.OutC+hi)
			f.finishPlanes(y, n0*c.OutC+lo, n0*c.OutC+hi, P)
		})
		return
	}
	// Samples go to goroutines when there are enough of them; otherwise
	// each sample's GEMM uses the goroutines itself.
	var spans []span
	if !c.unitWindow() {
		spans = c.spans()
	}
	parts := min(threads, n1-n0)
	per := max(1, threads/max(parts, 1))
	parallel(parts, n1-n0, 1, func(lo, hi int) {
		for n := n0 + lo; n < n0+hi; n++ {
			c.gemmSample(y, x, w, f, spans, n, per)
		}
	})
}

// grainElems is the work (multiply-adds) below which splitting planes
// across goroutines does not pay.
const grainElems = 1 << 15

// gemmSample computes sample n of y by the GEMM, group by group, with
// the taps' spans (nil for a unit window, whose columns are x itself).
func (c *Conv) gemmSample(y, x []float32, w *ConvWeights, f *Fused, spans []span, n, threads int) {
	K, P, rows := c.dims()
	G := c.Groups
	cg := c.InC / G
	B := c.BigN()
	for gi := range G {
		xg := x[(n*c.InC+gi*cg)*B : (n*c.InC+(gi+1)*cg)*B]
		out := (n*c.OutC + gi*rows) * P
		p := &gemm.Params{M: rows, N: P, K: K, PackedA: w.packed[gi], C: y[out : out+rows*P], LdC: P, Threads: threads}
		if spans == nil {
			p.B, p.LdB = xg, P
		} else {
			p.PackB = func(dst []float32, nr, k0, kn, j0, jn int) { c.packColumns(dst, xg, spans, nr, k0, kn, j0, jn) }
		}
		if f.Bias != nil || f.Add != nil || f.Act != nil {
			ep := &gemm.Epilogue{Act: f.Act}
			if f.Bias != nil {
				ep.RowBias = f.Bias[gi*rows : (gi+1)*rows]
			}
			if f.Add != nil {
				ep.Add, ep.LdAdd = f.Add[out:out+rows*P], P
			}
			p.Epilogue = ep
		}
		gemm.Gemm(p)
	}
}

// unitWindow reports whether the im2col matrix of a sample is its input
// itself: a 1×1 kernel with unit strides and no padding.
func (c *Conv) unitWindow() bool {
	for i := range 3 {
		if c.Kernel[i] != 1 || c.Stride[i] != 1 || c.Pad[i] != 0 || c.Big[i] != c.Small[i] {
			return false
		}
	}
	return true
}

// packColumns writes rows [k0, k0+kn) and columns [j0, j0+jn) of the
// im2col matrix of one sample's group (x: its cg input planes) into dst
// in the GEMM's panel layout (gemm.Params.PackB): row k is channel
// k / KernelN and tap k mod KernelN (spans, in tap order), column j the
// window position j; padding reads 0.
func (g *Geom) packColumns(dst, x []float32, spans []span, nr, k0, kn, j0, jn int) {
	KN, B := g.KernelN(), g.BigN()
	s1, s2 := g.Small[1], g.Small[2]
	for q := 0; q*nr < jn; q++ {
		pan := dst[q*kn*nr : (q+1)*kn*nr]
		j := j0 + q*nr
		w := min(nr, jn-q*nr)
		od, oh, ow := j/(s1*s2), j/s2%s1, j%s2
		for p := range kn {
			r := k0 + p
			d := pan[p*nr : (p+1)*nr]
			g.packRow(d[:w], x[(r/KN)*B:(r/KN+1)*B], &spans[r%KN], od, oh, ow)
			clear(d[w:])
		}
	}
}

// packRow fills d with what the tap of sp reads from plane for the
// len(d) window positions that start at (od, oh, ow) in scan order, 0 in
// the padding.
func (g *Geom) packRow(d, plane []float32, sp *span, od, oh, ow int) {
	s1, s2 := g.Small[1], g.Small[2]
	b1, b2 := g.Big[1], g.Big[2]
	sw := g.Stride[2]
	for len(d) > 0 {
		n := min(len(d), s2-ow)
		seg := d[:n]
		d = d[n:]
		if sp.empty || od < sp.lo[0] || od >= sp.hi[0] || oh < sp.lo[1] || oh >= sp.hi[1] {
			clear(seg)
		} else {
			id, ih := od*g.Stride[0]+sp.off[0], oh*g.Stride[1]+sp.off[1]
			src := plane[(id*b1+ih)*b2 : (id*b1+ih+1)*b2]
			lo, hi := min(max(sp.lo[2]-ow, 0), n), min(max(sp.hi[2]-ow, 0), n)
			clear(seg[:lo])
			clear(seg[hi:])
			if lo < hi {
				first := (ow+lo)*sw + sp.off[2]
				if sw == 1 {
					copy(seg[lo:hi], src[first:first+hi-lo])
				} else {
					part := seg[lo:hi]
					for i := range part {
						part[i] = src[first+i*sw]
					}
				}
			}
		}
		ow = 0
		if oh++; oh == s1 {
			oh = 0
			od++
		}
	}
}

// forwardTransposedFused is the transposed convolution of Forward,
// finished by f plane by plane.
func (c *Conv) forwardTransposedFused(y, x, w []float32, f *Fused, n0, n1, threads int) {
	parts := min(threads, n1-n0)
	cols, tmp := c.Scratch(max(1, (n1-n0+parts-1)/parts))
	parallel(parts, n1-n0, 1, func(lo, hi int) {
		s := make([]float32, cols+tmp)
		c.Forward(y, x, w, f.Bias, s[:cols], s[cols:], n0+lo, n0+hi)
		f.finishPlanes(y, (n0+lo)*c.OutC, (n0+hi)*c.OutC, c.BigN())
	})
}

// finishPlanes applies f's Add and Act (the bias is already in) to planes
// [p0, p1) of y, P elements each.
func (f *Fused) finishPlanes(y []float32, p0, p1, P int) {
	if f.Add == nil && f.Act == nil {
		return
	}
	seg := y[p0*P : p1*P]
	if f.Add != nil {
		add := f.Add[p0*P : p1*P]
		for i := range seg {
			seg[i] += add[i]
		}
	}
	if f.Act != nil {
		f.Act(seg, seg)
	}
}

// parallel calls fn on consecutive ranges [lo, hi) covering [0, n), on up
// to threads goroutines (the caller's included), each at least grain
// long; with one part it calls fn(0, n) on the caller's goroutine.
func parallel(threads, n, grain int, fn func(lo, hi int)) {
	parts := min(threads, (n+grain-1)/max(grain, 1))
	if parts <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for p := 1; p < parts; p++ {
		wg.Go(func() { fn(n*p/parts, n*(p+1)/parts) })
	}
	fn(0, n/parts)
	wg.Wait()
}
