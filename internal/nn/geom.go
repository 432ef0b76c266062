package nn

import "github.com/tensorquant/tensorquant/internal/vec"

// noAct is no activation.
var noAct vec.Act

// Geom is the geometry of a sliding window over up to three spatial
// dimensions, in 3-D form: a 1-D or 2-D geometry has leading dimensions of
// size 1 with kernel 1, stride 1, dilation 1 and no padding. Big is the
// side a window reads from (a convolution's or a pooling's input, a
// transposed convolution's output) and Small the side with one element
// per window position. Along each dimension, window position o reads big
// positions o·Stride - Pad + j·Dilation for taps j < Kernel; those
// outside [0, Big) are padding. PadEnd is the padding after the end,
// which only pooling's divisors need (count_include_pad).
type Geom struct {
	Big, Small               [3]int
	Kernel, Stride, Dilation [3]int
	Pad, PadEnd              [3]int
}

// NewGeom returns the geometry of 1 to 3 spatial dimensions given one
// value per dimension in each slice (padEnd nil: the same as pad). It
// panics on slices of different or unsupported lengths: callers check
// ranks first.
func NewGeom(big, small, kernel, stride, pad, padEnd, dilation []int) Geom {
	dims := len(kernel)
	if padEnd == nil {
		padEnd = pad
	}
	if dims < 1 || dims > 3 || len(big) != dims || len(small) != dims || len(stride) != dims ||
		len(pad) != dims || len(padEnd) != dims || len(dilation) != dims {
		panic("nn: geometry of 1 to 3 dimensions needs one value per dimension in every slice")
	}
	g := Geom{Big: [3]int{1, 1, 1}, Small: [3]int{1, 1, 1}, Kernel: [3]int{1, 1, 1}, Stride: [3]int{1, 1, 1}, Dilation: [3]int{1, 1, 1}}
	for i := range dims {
		j := 3 - dims + i
		g.Big[j], g.Small[j], g.Kernel[j], g.Stride[j] = big[i], small[i], kernel[i], stride[i]
		g.Pad[j], g.PadEnd[j], g.Dilation[j] = pad[i], padEnd[i], dilation[i]
	}
	return g
}

// BigN returns the elements of one plane of the big side.
func (g *Geom) BigN() int { return g.Big[0] * g.Big[1] * g.Big[2] }

// SmallN returns the elements of one plane of the small side.
func (g *Geom) SmallN() int { return g.Small[0] * g.Small[1] * g.Small[2] }

// KernelN returns the number of kernel taps.
func (g *Geom) KernelN() int { return g.Kernel[0] * g.Kernel[1] * g.Kernel[2] }

// validRange returns the window positions [lo, hi) of one dimension (out
// positions along it) whose element for kernel tap j falls inside [0, n);
// an empty range is (0, 0).
func validRange(out, n, s, p, d, j int) (lo, hi int) {
	off := j*d - p // big index of position o is o*s + off
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	if n-off <= 0 {
		return 0, 0
	}
	hi = min(out, (n-off+s-1)/s)
	if lo >= hi {
		return 0, 0
	}
	return lo, hi
}

// span is what one kernel tap reads: the window positions [lo, hi) of each
// dimension whose element is inside the big side, and the offset off with
// big index = position·stride + off. A tap that reads only padding has
// empty set.
type span struct {
	lo, hi, off [3]int
	empty       bool
}

// tapSpan returns the span of tap (a, b, c).
func (g *Geom) tapSpan(a, b, c int) span {
	var sp span
	for i, j := range [3]int{a, b, c} {
		sp.lo[i], sp.hi[i] = validRange(g.Small[i], g.Big[i], g.Stride[i], g.Pad[i], g.Dilation[i], j)
		sp.off[i] = j*g.Dilation[i] - g.Pad[i]
		sp.empty = sp.empty || sp.lo[i] == sp.hi[i]
	}
	return sp
}

// spans returns the span of every tap, in tap order.
func (g *Geom) spans() []span {
	spans := make([]span, 0, g.KernelN())
	for a := range g.Kernel[0] {
		for b := range g.Kernel[1] {
			for c := range g.Kernel[2] {
				spans = append(spans, g.tapSpan(a, b, c))
			}
		}
	}
	return spans
}

// Im2col writes the columns of group channels [c0, c0+cg) of samples
// [n0, n0+nc) of src (a tensor [N, channels, big...]) into dst, a
// [cg·KernelN, nc·SmallN] matrix: row (c, tap) holds, for each sample and
// window position, the element that tap reads, or 0 in the padding.
func (g *Geom) Im2col(dst, src []float32, channels, c0, cg, n0, nc int) {
	g.eachRow(dst, src, channels, c0, cg, n0, nc, g.gatherPlane)
}

// Col2im is the adjoint of Im2col: it adds every element of cols (laid out
// as Im2col writes it) to the element of dst it was read from.
func (g *Geom) Col2im(dst, cols []float32, channels, c0, cg, n0, nc int) {
	g.eachRow(cols, dst, channels, c0, cg, n0, nc, g.scatterPlane)
}

// eachRow calls f(row part, plane, span) for every row of the [cg·KernelN,
// nc·SmallN] matrix cols (the part of the row that belongs to one sample),
// the plane of t (a tensor [N, channels, big...]) it maps to and the span
// of the row's tap.
func (g *Geom) eachRow(cols, t []float32, channels, c0, cg, n0, nc int, f func(part, plane []float32, sp *span)) {
	B, P := g.BigN(), g.SmallN()
	L := nc * P
	spans := g.spans()
	r := 0
	for ci := range cg {
		for i := range spans {
			row := cols[r*L : (r+1)*L]
			r++
			for j := range nc {
				f(row[j*P:(j+1)*P], t[((n0+j)*channels+c0+ci)*B:][:B], &spans[i])
			}
		}
	}
}

// gatherPlane fills out (one window position per element) with the element
// the tap of sp reads from plane, or 0.
func (g *Geom) gatherPlane(out, plane []float32, sp *span) {
	if sp.empty {
		clear(out)
		return
	}
	s1, s2 := g.Small[1], g.Small[2]
	b1, b2 := g.Big[1], g.Big[2]
	wlo, whi, woff, sw := sp.lo[2], sp.hi[2], sp.off[2], g.Stride[2]
	clear(out[:sp.lo[0]*s1*s2])
	clear(out[sp.hi[0]*s1*s2:])
	for od := sp.lo[0]; od < sp.hi[0]; od++ {
		id := od*g.Stride[0] + sp.off[0]
		slab := out[od*s1*s2 : (od+1)*s1*s2]
		clear(slab[:sp.lo[1]*s2])
		clear(slab[sp.hi[1]*s2:])
		if sw == 1 && g.Stride[1] == 1 && b2 == s2 && sp.hi[1] > sp.lo[1] {
			// Input and output rows of one length: the tap's rows are one
			// run in both, shifted by woff. One copy of the run, whose
			// values wrapped into the padding columns are then zeroed,
			// instead of a copy and two clears per row of 7 to 28 values.
			lo, hi := sp.lo[1], sp.hi[1]
			ih := lo + sp.off[1]
			n := (hi-lo)*s2 - (s2 - (whi - wlo))
			copy(slab[lo*s2+wlo:lo*s2+wlo+n], plane[(id*b1+ih)*b2+wlo+woff:])
			for oh := lo; oh < hi; oh++ {
				row := slab[oh*s2 : (oh+1)*s2]
				clear(row[:wlo])
				clear(row[whi:])
			}
			continue
		}
		for oh := sp.lo[1]; oh < sp.hi[1]; oh++ {
			ih := oh*g.Stride[1] + sp.off[1]
			src := plane[(id*b1+ih)*b2 : (id*b1+ih+1)*b2]
			dst := slab[oh*s2 : (oh+1)*s2]
			clear(dst[:wlo])
			clear(dst[whi:])
			if sw == 1 {
				copy(dst[wlo:whi], src[wlo+woff:whi+woff])
				continue
			}
			for ow := wlo; ow < whi; ow++ {
				dst[ow] = src[ow*sw+woff]
			}
		}
	}
}

// scatterPlane adds each element of in to the element of plane that the
// tap of sp reads for its window position; padding taps are dropped.
func (g *Geom) scatterPlane(in, plane []float32, sp *span) {
	if sp.empty {
		return
	}
	s1, s2 := g.Small[1], g.Small[2]
	b1, b2 := g.Big[1], g.Big[2]
	wlo, whi, woff, sw := sp.lo[2], sp.hi[2], sp.off[2], g.Stride[2]
	for od := sp.lo[0]; od < sp.hi[0]; od++ {
		id := od*g.Stride[0] + sp.off[0]
		if sw == 1 {
			// The rows of the slab in one call of the rows kernel:
			// d[i] += src[i] (+ -0 first changes nothing). Rows of 7 to
			// 28 values one call each spent more in the calls than in
			// the adds.
			ih0, rows := sp.lo[1]*g.Stride[1]+sp.off[1], sp.hi[1]-sp.lo[1]
			if rows <= 0 || whi <= wlo {
				continue
			}
			dst := plane[(id*b1+ih0)*b2+wlo+woff:]
			vec.FinishRows(dst, g.Stride[1]*b2, dst, g.Stride[1]*b2, rows, whi-wlo, nil, 0, in[(od*s1+sp.lo[1])*s2+wlo:], s2, &noAct)
			continue
		}
		for oh := sp.lo[1]; oh < sp.hi[1]; oh++ {
			ih := oh*g.Stride[1] + sp.off[1]
			dst := plane[(id*b1+ih)*b2 : (id*b1+ih+1)*b2]
			src := in[(od*s1+oh)*s2 : (od*s1+oh+1)*s2]
			for ow := wlo; ow < whi; ow++ {
				dst[ow*sw+woff] += src[ow]
			}
		}
	}
}

// gatherChannels copies channels [c0, c0+cn) of samples [n0, n0+nc) of src
// (a tensor [N, channels, P]) into dst as a [cn, nc·P] matrix.
func gatherChannels(dst, src []float32, channels, c0, cn, n0, nc, P int) {
	for o := range cn {
		for j := range nc {
			copy(dst[(o*nc+j)*P:(o*nc+j+1)*P], src[((n0+j)*channels+c0+o)*P:][:P])
		}
	}
}

// scatterChannels is the inverse of gatherChannels: it copies the
// [cn, nc·P] matrix src into channels [c0, c0+cn) of samples [n0, n0+nc)
// of dst (a tensor [N, channels, P]), adding bias[c0+o] when bias is not
// nil.
func scatterChannels(dst, src []float32, channels, c0, cn, n0, nc, P int, bias []float32) {
	for o := range cn {
		for j := range nc {
			d := dst[((n0+j)*channels+c0+o)*P:][:P]
			s := src[(o*nc+j)*P : (o*nc+j+1)*P]
			if bias == nil {
				copy(d, s)
				continue
			}
			bv := bias[c0+o]
			for i, v := range s {
				d[i] = v + bv
			}
		}
	}
}
