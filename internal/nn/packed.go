package nn

import (
	"slices"

	"github.com/tensorquant/tensorquant/internal/gemm"
	"github.com/tensorquant/tensorquant/internal/par"
	"github.com/tensorquant/tensorquant/internal/vec"
)

// ConvWeights are a convolution's weights prepared once for
// Conv.ForwardPacked: packed into the GEMM's panel layout group by group,
// or kept as given for the kernels that read them directly (depthwise
// and transposed convolutions).
type ConvWeights struct {
	inC, outC, groups, kernelN int
	transposed                 bool
	packed                     []*gemm.Packed // per group; nil when w is used
	tiles                      [][]float32    // per group, for tileProduct (packTiles); nil: none
	tileLanes                  int            // the lanes tiles are packed for
	w                          []float32
	wino                       []*gemm.Packed // PackWinogradWeights': G g Gᵀ at each ξ
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
		if t, lanes := packTiles(rows, K, w[g*rows*K:(g+1)*rows*K]); t != nil {
			cw.tiles, cw.tileLanes = append(cw.tiles, t), lanes
		}
	}
	return cw
}

// Len returns the number of float32 values the prepared weights hold.
func (cw *ConvWeights) Len() int {
	n := len(cw.w)
	for _, t := range cw.tiles {
		n += len(t)
	}
	for _, ps := range [][]*gemm.Packed{cw.packed, cw.wino} {
		for _, p := range ps {
			n += p.Len()
		}
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
	Act       vec.Act
}

// ConvPlan is a convolution prepared for ForwardPacked at one input size:
// its geometry and how its GEMM reads the columns (see columns). Make one
// per input shape with Conv.Plan and reuse it; it is read-only and safe
// for concurrent use.
type ConvPlan struct {
	Conv
	cols  *columns  // nil for a depthwise or transposed convolution
	wino  *winograd // nil unless c fits Winograd's F(2×2, 3×3)
	group int       // samples per GEMM of the im2col path
}

// Plan prepares c for ForwardPacked.
func (c Conv) Plan() *ConvPlan {
	p := &ConvPlan{Conv: c}
	p.group = 1
	if !c.Transposed && !c.Depthwise() {
		p.cols = p.planColumns()
		if p.cols.spans == nil && c.Groups == 1 && p.cols.n < minGemmCols {
			p.group = (minGemmCols + p.cols.n - 1) / max(p.cols.n, 1)
		}
	}
	if c.winogradFits() {
		p.wino = p.planWinograd()
	}
	return p
}

// parts returns the goroutines ForwardPacked splits n samples into, and
// the threads each part's GEMM uses.
func parts(n, threads int) (parts, per int) {
	parts = max(1, min(threads, n))
	return parts, max(1, threads/parts)
}

// Scratch returns the length of the scratch buffer ForwardPacked takes
// for n samples on threads goroutines with the weights w (which say the
// path: Winograd's with PackWinogradWeights', else im2col's).
func (p *ConvPlan) Scratch(w *ConvWeights, n, threads int) int {
	np, _ := parts(n, max(threads, 1))
	switch {
	case w.wino != nil && p.wino != nil:
		// A part per goroutine, at most one per tile row: a run of some
		// of the n samples may cut its blocks finer than the whole
		// batch's (see blocks).
		nw, _ := parts(n*p.wino.th, max(threads, 1))
		return nw * p.wino.scratchLen(p.InC, p.OutC)
	case p.Transposed:
		cols, tmp := p.Conv.Scratch(max(1, (n+np-1)/np))
		return np * (cols + tmp)
	case p.cols == nil:
		return 0
	}
	return np * p.scratchLen((n+np-1)/np)
}

// ForwardPacked writes samples [n0, n1) of y, the convolution of x with
// the prepared weights w, finished by f (nil: bias-free, nothing else),
// on up to threads goroutines (the caller's included), with scratch of at
// least Scratch(w, n1-n0, threads) elements. For a convolution computed by
// the GEMM each sample's product reads its im2col columns from x (or from
// x padded and split into phases, see columns) straight into the GEMM's
// panel layout: an implicit GEMM, no column matrix is stored. The result
// equals Forward's (and the bias is added after the sums, as there); the
// depthwise kernel starts from the bias, as Forward's does. With weights
// from PackWinogradWeights the convolution is Winograd's F(2×2, 3×3)
// instead (see winograd.go; within a few ulps of the sums' scale, not
// Forward's bits). The results depend neither on threads nor on how the
// samples are split between calls.
func (p *ConvPlan) ForwardPacked(y, x []float32, w *ConvWeights, f *Fused, n0, n1, threads int, scratch []float32) {
	if f == nil {
		f = &Fused{}
	}
	threads = max(threads, 1)
	c := &p.Conv
	switch {
	case w.transposed:
		c.forwardTransposedFused(y, x, w.w, f, n0, n1, threads, scratch)
		return
	case w.wino != nil:
		if p.wino == nil {
			panic("nn: Winograd weights for a convolution that is not Winograd's")
		}
		p.forwardWinograd(y, x, w, f, n0, n1, threads, scratch)
		return
	case w.packed == nil:
		P, n := c.SmallN(), (n1-n0)*c.OutC
		// Parts of whole blocks of DepthwiseBlock planes.
		parallel(threads, (n+DepthwiseBlock-1)/DepthwiseBlock, max(1, grainElems/max(DepthwiseBlock*P*c.KernelN(), 1)), func(lo, hi int) {
			lo, hi = n0*c.OutC+lo*DepthwiseBlock, n0*c.OutC+min(n, hi*DepthwiseBlock)
			c.DepthwisePlanes(y, x, w.w, f.Bias, lo, hi)
			f.finishPlanes(y, lo, hi, P)
		})
		return
	}
	// Samples go to goroutines when there are enough of them; otherwise
	// each sample's GEMM uses the goroutines itself. Samples of few
	// output positions share one GEMM, several at a time.
	np, per := parts(n1-n0, threads)
	each := p.scratchLen((n1 - n0 + np - 1) / np)
	eachPart(np, n1-n0, func(part, lo, hi int) {
		sc := scratch[part*each : (part+1)*each]
		for n := n0 + lo; n < n0+hi; {
			k := min(p.group, n0+hi-n)
			if k > 1 {
				c.gemmSamples(y, x, w, f, p.cols, sc, n, n+k, per)
			} else {
				c.gemmSample(y, x, w, f, p.cols, sc, n, per)
			}
			n += k
		}
	})
}

// minGemmCols is the number of GEMM columns below which a convolution's
// samples share one GEMM (ResNet-18's last layers have 49 positions per
// sample: a GEMM of 49 columns computes 64, in panels of 32).
const minGemmCols = 192

// scratchLen returns the scratch one goroutine of ForwardPacked takes
// on the im2col path for n samples: a sample's, or a group's of up to
// p.group samples.
func (p *ConvPlan) scratchLen(n int) int {
	rows := p.OutC / p.Groups
	if k := min(p.group, n); k > 1 {
		slack := phaseSlack
		if p.cols.direct {
			slack = 0
		}
		return k * (p.cols.phaseLen + slack + rows*samplesCols(p.cols.n))
	}
	return p.cols.scratchLen(rows)
}

// grainElems is the work (multiply-adds) below which splitting planes
// across goroutines does not pay.
const grainElems = 1 << 15

// columns is how a convolution's GEMM reads its im2col matrix B, whose
// row k is input channel k / KernelN and tap k mod KernelN.
//
// For a convolution of one or two spatial dimensions, the input is padded
// and split into stride×stride phase planes of hq×wq elements (phase (a,
// b) holds the padded input's rows a, a+s1, a+2·s1 ... and columns b,
// b+s2 ...), in which the window positions of every tap are consecutive:
// row k of B is the run of the phase buffer that starts at offs[k]. The
// GEMM's columns are then the output positions in rows of wq, of which
// the first Wo are outputs and the others (the padding's) are computed and
// dropped: n columns in all. The phase buffer is x itself for unit strides
// without padding that the windows read (direct); the GEMM writes y itself
// when moreover wq is the output width (a 1×1 convolution).
//
// A three-dimensional convolution packs B from its geometry's spans
// instead (spans not nil).
type columns struct {
	direct, intoY bool
	hq, wq, n     int
	offs          []int
	maxOff        int // the largest of offs
	phaseLen      int // elements of one group's phase buffer
	// unread marks the phases (a·s2 + b for phase (a, b)) no tap of the
	// kernel reads, which fillPhases does not fill: three of a 1×1
	// stride-2 convolution's four; nil when every phase is read.
	unread []bool
	spans  []span
	// pos holds the place in the phase buffer of each output position,
	// (i, j) at i·wq + j, then copies of the last up to a multiple of 6
	// (tileProduct's tiles, which compute no padding column); nil where
	// tileProduct does not run (the output channels per group not a
	// multiple of 16 up to tileRows, or no phase buffer).
	pos    []int
	npos   int // the output positions (ho·wo)
	maxPos int // the largest of pos
}

// planColumns returns how the GEMM reads the columns.
func (c *Conv) planColumns() *columns {
	if c.Small[0] != 1 || c.Big[0] != 1 {
		return &columns{spans: c.spans(), n: c.SmallN()}
	}
	s1, s2, d1, d2 := c.Stride[1], c.Stride[2], c.Dilation[1], c.Dilation[2]
	k1, k2 := c.Kernel[1], c.Kernel[2]
	ho, wo := c.Small[1], c.Small[2]
	// The padded input as far as the windows read it.
	hp, wp := (ho-1)*s1+(k1-1)*d1+1, (wo-1)*s2+(k2-1)*d2+1
	pl := &columns{hq: (hp + s1 - 1) / s1, wq: (wp + s2 - 1) / s2}
	// Direct only where the windows stay inside x: no padding at the
	// start, none read at the end either.
	pl.direct = s1 == 1 && s2 == 1 && c.Pad[1] == 0 && c.Pad[2] == 0 && hp <= c.Big[1] && wp <= c.Big[2]
	if pl.direct {
		pl.hq, pl.wq = c.Big[1], c.Big[2]
	}
	pl.intoY = pl.direct && pl.wq == wo
	pl.n = (ho-1)*pl.wq + wo
	plane := pl.hq * pl.wq
	cg := c.InC / c.Groups
	read := make([]bool, s1*s2)
	for ci := range cg {
		for a := range k1 {
			for b := range k2 {
				r, q := a*d1, b*d2
				read[r%s1*s2+q%s2] = true
				phase := ci*s1*s2 + r%s1*s2 + q%s2
				pl.offs = append(pl.offs, phase*plane+r/s1*pl.wq+q/s2)
			}
		}
	}
	if !pl.direct {
		pl.phaseLen = cg * s1 * s2 * plane
		if slices.Contains(read, false) {
			pl.unread = make([]bool, len(read))
			for i, r := range read {
				pl.unread[i] = !r
			}
		}
	}
	pl.maxOff = slices.Max(pl.offs)
	if rows := c.OutC / c.Groups; !pl.direct && rows%16 == 0 && rows <= tileRows {
		P := ho * wo
		pl.npos, pl.pos = P, make([]int, (P+5)/6*6)
		for p := range pl.pos {
			q := min(p, P-1)
			pl.pos[p] = q/wo*pl.wq + q%wo
		}
		pl.maxPos = pl.pos[len(pl.pos)-1]
	}
	return pl
}

// fillPhasesOn is fillPhases with the channels split on up to threads
// goroutines.
func (c *Conv) fillPhasesOn(threads int, dst, xg []float32, pl *columns, cg int) {
	per, B := c.Stride[1]*c.Stride[2]*pl.hq*pl.wq, c.BigN() // one channel's phases
	parallel(threads, cg, max(1, grainElems/max(per, 1)), func(lo, hi int) {
		c.fillPhases(dst[lo*per:hi*per], xg[lo*B:hi*B], pl, hi-lo)
	})
}

// fillPhases writes the phase planes of the cg channels of xg (planes of
// BigN elements) into dst (the layout of columns).
func (c *Conv) fillPhases(dst, xg []float32, pl *columns, cg int) {
	s1, s2 := c.Stride[1], c.Stride[2]
	p1, p2 := c.Pad[1], c.Pad[2]
	b1, b2 := c.Big[1], c.Big[2]
	hq, wq := pl.hq, pl.wq
	B := c.BigN()
	if s1 == 1 && s2 == 1 {
		padPlanes(dst, xg, cg, b1, b2, hq, wq, p1, p2)
		return
	}
	for ci := range cg {
		src := xg[ci*B : (ci+1)*B]
		for a := range s1 {
			for b := range s2 {
				ph := dst[((ci*s1+a)*s2+b)*hq*wq:][:hq*wq]
				if pl.unread != nil && pl.unread[a*s2+b] {
					// Only junk columns read into it, from the plane
					// before (up to phaseSlack values): zeros, not stale
					// scratch that may hold denormals.
					clear(ph[:min(len(ph), phaseSlack)])
					continue
				}
				// Column j of the phase reads input column j·s2 + b - p2.
				jlo := min(max(0, (p2-b+s2-1)/s2), wq)
				jhi := min(max(jlo, (b2+p2-b+s2-1)/s2), wq)
				if jlo > 0 || jhi < wq || a < p1 || (hq-1)*s1+a-p1 >= b1 {
					// Padding: one clear of the plane, not one or two
					// short ones per row (a 28×28 plane's rows).
					clear(ph)
				}
				for i := range hq {
					ih := i*s1 + a - p1
					if ih < 0 || ih >= b1 {
						continue
					}
					row := ph[i*wq : (i+1)*wq]
					in := src[ih*b2 : (ih+1)*b2]
					first := jlo*s2 + b - p2
					switch s2 {
					case 1:
						copy(row[jlo:jhi], in[first:first+jhi-jlo])
						continue
					case 2:
						evens(row[jlo:jhi], in[first:])
						continue
					}
					part := row[jlo:jhi]
					for j := range part {
						part[j] = in[first+j*s2]
					}
				}
			}
		}
	}
}

// padPlanes writes the planes of h×w values of src, padded (top rows and
// left columns of zeros before them, zeros after them), into the planes
// of hq×wq values of dst: a convolution's phase buffer for unit strides,
// by padPlanesAsm where there is a kernel, else padPlanesGeneric.
func padPlanes(dst, src []float32, planes, h, w, hq, wq, top, left int) {
	i0 := min(top, hq)
	i1 := min(max(i0, top+h), hq)
	j0 := min(left, wq)
	j1 := min(max(j0, left+w), wq)
	if i0 == top && padPlanesAsm(dst, src, planes, hq, wq, i0, i1, j0, j1-j0, w, h*w) {
		return
	}
	padPlanesGeneric(dst, src, planes, h, w, hq, wq, top, left)
}

// padPlanesGeneric is padPlanes in Go, and its kernel's specification:
// each row written once (zeros where it reads no input), rather than
// every plane cleared and its rows copied in (a plane of 9×9 values,
// rows of 7, cost as much to clear as to fill).
func padPlanesGeneric(dst, src []float32, planes, h, w, hq, wq, top, left int) {
	i0 := min(top, hq)
	i1 := min(max(i0, top+h), hq)
	j0 := min(left, wq)
	j1 := min(max(j0, left+w), wq)
	for ci := range planes {
		ph := dst[ci*hq*wq : (ci+1)*hq*wq]
		in := src[ci*h*w : (ci+1)*h*w]
		clear(ph[:i0*wq])
		for i := i0; i < i1; i++ {
			row := ph[i*wq : (i+1)*wq]
			if wq > 16 {
				clear(row[:j0])
				copy(row[j0:j1], in[(i-top)*w:])
				clear(row[j1:])
				continue
			}
			// Short rows by hand: a call to the runtime's copy or clear
			// per part cost more than the part (rows of 7 values: 19
			// → 13 ns a row).
			for j := 0; j < j0; j++ {
				row[j] = 0
			}
			r, x := row[j0:j1], in[(i-top)*w:]
			x = x[:len(r)]
			for j := 0; j < len(r); j++ {
				r[j] = x[j]
			}
			for j := j1; j < wq; j++ {
				row[j] = 0
			}
		}
		clear(ph[i1*wq:])
	}
}

// packPhases writes rows [k0, k0+kn) and columns [j0, j0+jn) of B, the
// runs of buf at offs, into dst in the GEMM's panel layout
// (gemm.Params.PackB).
func packPhases(dst, buf []float32, offs []int, nr, k0, kn, j0, jn int) {
	offs = offs[k0 : k0+kn]
	for q := 0; q*nr < jn; q++ {
		pan := dst[q*kn*nr : (q+1)*kn*nr]
		j := j0 + q*nr
		w := min(nr, jn-q*nr)
		if w == nr {
			gatherRows(pan, buf, offs, j, nr)
			continue
		}
		for p, o := range offs {
			d := pan[p*nr : (p+1)*nr]
			copy(d[:w], buf[o+j:o+j+w])
			clear(d[w:])
		}
	}
}

// scratchLen returns the scratch one sample's GEMM takes: the phase
// buffer and, when the GEMM does not write y itself, C (rows×n).
func (pl *columns) scratchLen(rows int) int {
	if pl.spans != nil || pl.intoY {
		return pl.phaseLen
	}
	return pl.phaseLen + rows*pl.n
}

// gemmSample computes sample n of y by the GEMM, group by group, reading
// the columns as pl says.
func (c *Conv) gemmSample(y, x []float32, w *ConvWeights, f *Fused, pl *columns, sc []float32, n, threads int) {
	K, P, rows := c.dims()
	G := c.Groups
	cg := c.InC / G
	B := c.BigN()
	for gi := range G {
		xg := x[(n*c.InC+gi*cg)*B : (n*c.InC+(gi+1)*cg)*B]
		out := (n*c.OutC + gi*rows) * P
		p := &gemm.Params{M: rows, N: pl.n, K: K, PackedA: w.packed[gi], Threads: threads}
		var ep *gemm.Epilogue
		if f.Bias != nil || f.Add != nil || f.Act.Kind != vec.None {
			ep = &gemm.Epilogue{Act: f.Act}
			if f.Bias != nil {
				ep.RowBias = f.Bias[gi*rows : (gi+1)*rows]
			}
			if f.Add != nil {
				ep.Add, ep.LdAdd = f.Add[out:out+rows*P], P
			}
		}
		switch {
		case pl.spans != nil:
			p.PackB = func(dst []float32, nr, k0, kn, j0, jn int) { c.packColumns(dst, xg, pl.spans, nr, k0, kn, j0, jn) }
		case pl.intoY:
			// B is x itself: its rows are the input planes (offs).
			p.PackB = func(dst []float32, nr, k0, kn, j0, jn int) { packPhases(dst, xg, pl.offs, nr, k0, kn, j0, jn) }
		default:
			buf := xg
			if !pl.direct {
				buf = sc[:pl.phaseLen]
				c.fillPhasesOn(threads, buf, xg, pl, cg)
			}
			p.PackB = func(dst []float32, nr, k0, kn, j0, jn int) { packPhases(dst, buf, pl.offs, nr, k0, kn, j0, jn) }
		}
		if pl.spans != nil || pl.intoY {
			p.C, p.LdC, p.Epilogue = y[out:out+rows*P], P, ep
			gemm.Gemm(p)
			continue
		}
		// C has the output positions (tileProduct) or the phase width
		// (the GEMM): its output columns go to y, finished.
		ho, wo := c.Small[1], c.Small[2]
		var wt []float32
		if !pl.direct && w.tiles != nil {
			wt = w.tiles[gi]
		}
		cs := sc[pl.phaseLen:]
		var bias []float32
		if f.Bias != nil {
			bias = f.Bias[gi*rows : (gi+1)*rows]
		}
		// With an activation the kernel finishes, tileProduct writes y.
		act, tileOut := f.tileAct(), cs[:rows*P]
		if act != nil {
			tileOut = y[out : out+rows*P]
		}
		ldc, lds := P, wo
		if tileProduct(tileOut, P, sc[:pl.phaseLen], wt, w.tileLanes, pl, K, rows, threads, bias, act) {
			if act != nil {
				continue
			}
		} else {
			ldc, lds = pl.n, pl.wq
			p.C, p.LdC = cs[:rows*pl.n], pl.n
			gemm.Gemm(p)
		}
		parallel(threads, rows, max(1, finishGrain/P), func(lo, hi int) {
			f.finishChannels(y[out:], cs, ldc, lds, ho, wo, gi*rows, out, lo, hi)
		})
	}
}

// gemmSamples computes samples [s0, s1) of y (one group) by one GEMM
// whose columns are each sample's in turn (see columns), reading the
// samples' inputs as pl says; sc holds the samples' phase buffers and C.
// Each column is its own sum: the result is gemmSample's.
func (c *Conv) gemmSamples(y, x []float32, w *ConvWeights, f *Fused, pl *columns, sc []float32, s0, s1, threads int) {
	K, P, rows := c.dims()
	k := s1 - s0
	B := c.BigN()
	// The samples' B matrices: x itself (direct), or their phases.
	buf, stride := x[s0*c.InC*B:s1*c.InC*B], c.InC*B
	if !pl.direct {
		stride = pl.phaseLen + phaseSlack
		buf = sc[:k*stride]
		for s := range k {
			c.fillPhases(buf[s*stride:s*stride+pl.phaseLen], x[(s0+s)*c.InC*B:(s0+s+1)*c.InC*B], pl, c.InC)
			// Junk columns read the slack: zeros, not stale scratch
			// that may hold denormals (slow arithmetic).
			clear(buf[s*stride+pl.phaseLen : (s+1)*stride])
		}
	}
	used := 0 // the phase buffers' share of sc
	if !pl.direct {
		used = len(buf)
	}
	// C holds the samples side by side: their output positions
	// (tileProduct), or their columns in rows of the phase width (the
	// GEMM).
	ho, wo := c.Small[1], c.Small[2]
	cols, lds := P, wo
	n := k * cols
	cs := sc[used:]
	// tileProduct runs for every sample or none; with an activation the
	// kernel finishes, it writes y.
	tiled, act := !pl.direct && w.tiles != nil, f.tileAct()
	for s := 0; s < k && tiled; s++ {
		dst, ld := cs[s*cols:rows*n], n
		if act != nil {
			dst, ld = y[(s0+s)*c.OutC*P:][:rows*P], P
		}
		tiled = tileProduct(dst, ld, buf[s*stride:(s+1)*stride], w.tiles[0], w.tileLanes, pl, K, rows, threads, f.Bias, act)
	}
	if tiled && act != nil {
		return
	}
	if !tiled {
		cols, lds = samplesCols(pl.n), pl.wq
		n = k * cols
		gemm.Gemm(&gemm.Params{M: rows, N: n, K: K, PackedA: w.packed[0], C: cs[:rows*n], LdC: n, Threads: threads,
			PackB: func(dst []float32, nr, k0, kn, j0, jn int) {
				packSamples(dst, buf, stride, cols, pl, nr, k0, kn, j0, jn)
			}})
	}
	parallel(threads, k*rows, max(1, finishGrain/P), func(lo, hi int) {
		// Sample by sample, the channels of [lo, hi) in it.
		for q := lo; q < hi; {
			s, i := q/rows, q%rows
			e := min(hi-q, rows-i) + i
			out := (s0 + s) * c.OutC * P
			f.finishChannels(y[out:], cs[s*cols:], n, lds, ho, wo, 0, out, i, e)
			q += e - i
		}
	})
}

// samplesCols is the GEMM columns of one sample in gemmSamples: its n
// columns rounded up to 32, a multiple of every kernel family's panel
// width, so that no panel holds two samples' columns.
func samplesCols(n int) int { return (n + 31) &^ 31 }

// phaseSlack is the elements after a sample's phase buffer that may be
// read for columns whose results are dropped: a panel's junk columns in
// gemmSamples (past the sample's n, up to 31), the fused Winograd input
// transform's last vector (up to 8 past the last phase row).
const phaseSlack = 32

// finishGrain is the fewest outputs a goroutine finishes (finishChannels)
// when the work is split: a part of internal/par costs about a
// microsecond to hand over, as much as finishing 4096 outputs (the
// Fashion CNN's first layer on two threads took 24 µs, on one 7.5).
const finishGrain = 1 << 14

// tileAct returns the activation tileProduct's kernel can finish the
// sums with (f's, when it has no Add and is a clamp), or nil.
func (f *Fused) tileAct() *vec.Act {
	if _, _, _, _, ok := f.Act.Clamp(); !ok || f.Add != nil {
		return nil
	}
	return &f.Act
}

// finishChannels finishes channels [lo, hi) of an output whose planes of
// ho×wo values start at y (channel i at y[i·ho·wo:]) from the rows of C
// (channel i's from cs[i·ldc:], rows of wo outputs at a stride of lds),
// with f's bias from index b0 + i and its Add from index a0 + i·ho·wo:
// planes whose rows have no gaps between them (lds = wo) in one
// vec.FinishRows (one call for the channels; over planes of 49 values,
// one per plane cost as much as the work), others plane by plane.
func (f *Fused) finishChannels(y, cs []float32, ldc, lds, ho, wo, b0, a0, lo, hi int) {
	P := ho * wo
	var bias, add []float32
	if f.Bias != nil {
		bias = f.Bias[b0+lo : b0+hi]
	}
	if f.Add != nil {
		add = f.Add[a0+lo*P : a0+hi*P]
	}
	if lds != wo {
		for i := range hi - lo {
			var b, a []float32
			if bias != nil {
				b = bias[i : i+1]
			}
			if add != nil {
				a = add[i*P : (i+1)*P]
			}
			finishPlane(y[(lo+i)*P:(lo+i+1)*P], cs[(lo+i)*ldc:], lds, ho, wo, b, a, &f.Act)
		}
		return
	}
	fin := &f.Act
	if fin.Kind == vec.Func {
		fin = &vec.Act{}
	}
	dst := y[lo*P : hi*P]
	vec.FinishRows(dst, P, cs[lo*ldc:], ldc, hi-lo, P, bias, 1, add, P, fin)
	if f.Act.Kind == vec.Func {
		f.Act.Func(dst, dst)
	}
}

// finishPlane writes act(src + bias + add) to the ho×wo plane dst, whose
// rows src holds at a stride of lds (bias nil or one value, add nil or a
// plane), as vec.FinishRows does; a Func activation goes once over the
// whole plane, whose kernels run vectors over long runs, not over rows
// of 7.
func finishPlane(dst, src []float32, lds, ho, wo int, bias, add []float32, act *vec.Act) {
	rows, cols := ho, wo
	if lds == wo {
		rows, cols, lds = 1, ho*wo, ho*wo // one run
	}
	fin := act
	if act.Kind == vec.Func {
		fin = &vec.Act{}
	}
	vec.FinishRows(dst, cols, src, lds, rows, cols, bias, 0, add, cols, fin)
	if act.Kind == vec.Func {
		act.Func(dst[:ho*wo], dst[:ho*wo])
	}
}

// packSamples is packPhases for the columns of several samples in turn:
// column j is column j mod cols of sample j / cols, whose B has its rows
// at buf[sample·stride + offs[k]:] (columns past pl.n are junk). A panel
// is gathered as packPhases does while its reads stay inside buf; the
// last sample's junk columns are zeros.
func packSamples(dst, buf []float32, stride, cols int, pl *columns, nr, k0, kn, j0, jn int) {
	offs := pl.offs[k0 : k0+kn]
	for q := 0; q*nr < jn; q++ {
		pan := dst[q*kn*nr : (q+1)*kn*nr]
		j := j0 + q*nr
		s, col := j/cols, j%cols
		if col+nr <= pl.n || s*stride+pl.maxOff+col+nr <= len(buf) {
			gatherRows(pan, buf[s*stride:], offs, col, nr)
			continue
		}
		w := max(0, pl.n-col)
		for p, o := range offs {
			d := pan[p*nr : (p+1)*nr]
			if w > 0 {
				copy(d[:w], buf[s*stride+o+col:])
			}
			clear(d[w:])
		}
	}
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
// finished by f plane by plane, with the scratch of ConvPlan.Scratch.
func (c *Conv) forwardTransposedFused(y, x, w []float32, f *Fused, n0, n1, threads int, scratch []float32) {
	np, _ := parts(n1-n0, threads)
	cols, tmp := c.Scratch(max(1, (n1-n0+np-1)/np))
	eachPart(np, n1-n0, func(part, lo, hi int) {
		s := scratch[part*(cols+tmp) : (part+1)*(cols+tmp)]
		c.Forward(y, x, w, f.Bias, s[:cols], s[cols:], n0+lo, n0+hi)
		f.finishPlanes(y, (n0+lo)*c.OutC, (n0+hi)*c.OutC, c.BigN())
	})
}

// finishPlanes applies f's Add and Act (the bias is already in) to planes
// [p0, p1) of y, P elements each.
func (f *Fused) finishPlanes(y []float32, p0, p1, P int) {
	if f.Add == nil && f.Act.Kind == vec.None {
		return
	}
	var add []float32
	if f.Add != nil {
		add = f.Add[p0*P : p1*P]
	}
	vec.Finish(y[p0*P:p1*P], 0, false, add, &f.Act)
}

// parallel calls fn on consecutive ranges [lo, hi) covering [0, n), on up
// to threads goroutines (the caller's included), each at least grain
// long; with one part it calls fn(0, n) on the caller's goroutine.
func parallel(threads, n, grain int, fn func(lo, hi int)) {
	eachPart(min(threads, (n+grain-1)/max(grain, 1)), n, func(_, lo, hi int) { fn(lo, hi) })
}

// eachPart calls fn(part, lo, hi) for parts consecutive ranges covering
// [0, n), part 0 on the caller's goroutine and the others on internal/par's
// workers.
func eachPart(parts, n int, fn func(part, lo, hi int)) {
	if parts <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	par.Do(parts, func(p int) { fn(p, n*p/parts, n*(p+1)/parts) })
}
