package layers

// geom is the geometry shared by convolutions and pooling, in 3-D form
// (1-D and 2-D layers use leading spatial sizes of 1, with kernel 1, stride
// 1, padding 0, dilation 1 there). "big" is the side a window reads from (a
// convolution's input, a transposed convolution's output) and "small" the
// side with one element per window position; along each dimension,
// small position o reads big positions o·stride - padding + j·dilation for
// j < kernel, skipping those outside [0, big).
type geom struct {
	big, small [3]int
	k, s, p, d [3]int
}

func (g *geom) bigN() int   { return g.big[0] * g.big[1] * g.big[2] }
func (g *geom) smallN() int { return g.small[0] * g.small[1] * g.small[2] }
func (g *geom) kN() int     { return g.k[0] * g.k[1] * g.k[2] }

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
func (g *geom) tapSpan(a, b, c int) span {
	var sp span
	for i, j := range [3]int{a, b, c} {
		sp.lo[i], sp.hi[i] = validRange(g.small[i], g.big[i], g.s[i], g.p[i], g.d[i], j)
		sp.off[i] = j*g.d[i] - g.p[i]
		sp.empty = sp.empty || sp.lo[i] == sp.hi[i]
	}
	return sp
}

// im2col writes the columns of group channels [c0, c0+cg) of samples
// [n0, n0+nc) of src (a tensor [N, channels, big...]) into dst, a
// [cg·kN, nc·smallN] matrix: row (c, taps) holds, for each sample and
// window position, the element that tap reads, or 0 in the padding.
func (g *geom) im2col(dst, src []float32, channels, c0, cg, n0, nc int) {
	g.eachRow(dst, src, channels, c0, cg, n0, nc, g.gatherPlane)
}

// col2im is the adjoint of im2col: it adds every element of cols (laid out
// as im2col writes it) to the element of dst it was read from.
func (g *geom) col2im(dst, cols []float32, channels, c0, cg, n0, nc int) {
	g.eachRow(cols, dst, channels, c0, cg, n0, nc, g.scatterPlane)
}

// eachRow calls f(row part, plane, span) for every row of the [cg·kN,
// nc·smallN] matrix cols (the part of the row that belongs to one sample),
// the plane of t (a tensor [N, channels, big...]) it maps to and the span
// of the row's tap.
func (g *geom) eachRow(cols, t []float32, channels, c0, cg, n0, nc int, f func(part, plane []float32, sp *span)) {
	B, P := g.bigN(), g.smallN()
	L := nc * P
	spans := make([]span, 0, g.kN())
	for a := range g.k[0] {
		for b := range g.k[1] {
			for c := range g.k[2] {
				spans = append(spans, g.tapSpan(a, b, c))
			}
		}
	}
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
func (g *geom) gatherPlane(out, plane []float32, sp *span) {
	if sp.empty {
		clear(out)
		return
	}
	s1, s2 := g.small[1], g.small[2]
	b1, b2 := g.big[1], g.big[2]
	wlo, whi, woff, sw := sp.lo[2], sp.hi[2], sp.off[2], g.s[2]
	clear(out[:sp.lo[0]*s1*s2])
	clear(out[sp.hi[0]*s1*s2:])
	for od := sp.lo[0]; od < sp.hi[0]; od++ {
		id := od*g.s[0] + sp.off[0]
		slab := out[od*s1*s2 : (od+1)*s1*s2]
		clear(slab[:sp.lo[1]*s2])
		clear(slab[sp.hi[1]*s2:])
		for oh := sp.lo[1]; oh < sp.hi[1]; oh++ {
			ih := oh*g.s[1] + sp.off[1]
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
func (g *geom) scatterPlane(in, plane []float32, sp *span) {
	if sp.empty {
		return
	}
	s1, s2 := g.small[1], g.small[2]
	b1, b2 := g.big[1], g.big[2]
	wlo, whi, woff, sw := sp.lo[2], sp.hi[2], sp.off[2], g.s[2]
	for od := sp.lo[0]; od < sp.hi[0]; od++ {
		id := od*g.s[0] + sp.off[0]
		for oh := sp.lo[1]; oh < sp.hi[1]; oh++ {
			ih := oh*g.s[1] + sp.off[1]
			dst := plane[(id*b1+ih)*b2 : (id*b1+ih+1)*b2]
			src := in[(od*s1+oh)*s2 : (od*s1+oh+1)*s2]
			if sw == 1 {
				d := dst[wlo+woff : whi+woff]
				for i, v := range src[wlo:whi] {
					d[i] += v
				}
				continue
			}
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
