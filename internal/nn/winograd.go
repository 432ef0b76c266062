package nn

import (
	"github.com/tensorquant/tensorquant/internal/gemm"
	"github.com/tensorquant/tensorquant/internal/vec"
	"github.com/tensorquant/tensorquant/internal/vecmath"
)

// Winograd's minimal filtering F(2×2, 3×3) (Lavin and Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2016) for the 3×3,
// stride-1 convolutions that dominate ResNet-style networks: each 2×2
// block of outputs (a tile) of one output channel is
//
//	Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A
//
// with d_c the tile's 4×4 input window of channel c and g_c the 3×3
// filter. For the 16 positions ξ of the 4×4 transformed domain that is
// one GEMM each, [OutC × InC] transformed weights times [InC × tiles]
// transformed inputs: 16 multiplications per tile and channel pair
// instead of the 36 of the direct convolution (2.25× fewer).
//
//	    [1  0 -1  0]        [1    0    0 ]        [1  1  1  0]
//	Bᵀ= [0  1  1  0]    G = [1/2  1/2  1/2]   Aᵀ = [0  1 -1 -1]
//	    [0 -1  1  0]        [1/2 -1/2  1/2]
//	    [0  1  0 -1]        [0    0    1 ]
//
// The input and output transforms only add and subtract, so the result
// is the convolution's sum in another order: within a few float32 ulps
// of the largest intermediate, not the im2col path's bits (the weight
// transform is computed in float64 and rounded once).
//
// Layout. The input is padded and split into its 2×2 phases (as a
// stride-2 convolution's columns are; see columns): phase (a, b) holds
// the padded rows a, a+2 ... and columns b, b+2 ..., (TH+1)×L values with
// L = TW+1 for TH×TW tiles. The four input rows a tile row reads are then
// rows t and t+1 of the even-row and odd-row phases, and the four columns
// of a tile columns t and t+1 of the even and odd phases: every step of
// Bᵀ d B is one vector operation over whole rows of L values, each row
// computing one more (dropped) tile than there are. The transformed
// inputs of a block of tile rows, of one or several samples, are the
// columns of the 16 GEMMs (N = rows × L); the output transform finishes
// them into y with the bias, the residual and the activation.

// WinogradFits reports whether a convolution with these parameters can
// be computed by Winograd's F(2×2, 3×3) (ForwardPacked does, with
// weights prepared by PackWinogradWeights): two spatial dimensions, a
// 3×3 kernel, unit strides and dilations, one group, not transposed.
func WinogradFits(inC, outC, groups int, transposed bool, kernel, strides, dilations []int) bool {
	if transposed || groups != 1 || inC < 1 || outC < 1 || len(kernel) != 2 {
		return false
	}
	for i := range 2 {
		if kernel[i] != 3 || at(strides, i) != 1 || at(dilations, i) != 1 {
			return false
		}
	}
	return true
}

// at returns v[i], or 1 when v is nil (an attribute left at its default).
func at(v []int, i int) int {
	if v == nil {
		return 1
	}
	return v[i]
}

// Winograd reports whether c fits Winograd's F(2×2, 3×3) (see
// WinogradFits) and runs faster by it than by im2col, as measured on
// ResNet-18's convolutions (BENCHMARKS.md): at least 64 input and output
// channels (the transforms cost per channel, the GEMM saves per pair of
// channels), and at least winogradMinWork of the smaller channel count
// times the tiles' GEMM columns per sample (below, the 16 GEMMs of a
// batch-1 run are too narrow; 512 channels at 7×7 stay on im2col).
func (c *Conv) Winograd() bool {
	if !c.winogradFits() {
		return false
	}
	th, tw := (c.Small[1]+1)/2, (c.Small[2]+1)/2
	return min(c.InC, c.OutC) >= 64 && min(c.InC, c.OutC)*th*(tw+1) >= winogradMinWork
}

// winogradFits is WinogradFits for c, whose first spatial dimension
// (that of a three-dimensional convolution) must be 1 on both sides.
func (c *Conv) winogradFits() bool {
	return c.Big[0] == 1 && c.Small[0] == 1 && c.Kernel[0] == 1 &&
		WinogradFits(c.InC, c.OutC, c.Groups, c.Transposed, c.Kernel[1:], c.Stride[1:], c.Dilation[1:])
}

// winogradMinWork is the least channels × tile columns per sample of a
// convolution Winograd admits: 256 channels at 14×14 (256·7·8 = 14336)
// gain 1.3× from batch 1 on, 512 at 7×7 (10240) lose at batch 1 and 2.
const winogradMinWork = 12288

// PackWinogradWeights prepares the weights w ([outC, inC, 3, 3]) of a
// convolution that WinogradFits for ForwardPacked: G g Gᵀ of every
// filter, as 16 [outC × inC] matrices packed for the GEMM kernel family
// selected now.
func PackWinogradWeights(inC, outC int, w []float32) *ConvWeights {
	cw := &ConvWeights{inC: inC, outC: outC, groups: 1, kernelN: 9}
	u := make([]float32, 16*outC*inC)
	for f := range outC * inC {
		g := w[f*9 : f*9+9]
		var t [4][3]float64 // G g
		for j := range 3 {
			g0, g1, g2 := float64(g[j]), float64(g[3+j]), float64(g[6+j])
			t[0][j], t[1][j], t[2][j], t[3][j] = g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2
		}
		for i := range 4 { // (G g) Gᵀ
			r0, r1, r2 := t[i][0], t[i][1], t[i][2]
			for j, v := range [4]float64{r0, (r0 + r1 + r2) / 2, (r0 - r1 + r2) / 2, r2} {
				u[(i*4+j)*outC*inC+f] = float32(v)
			}
		}
	}
	cw.wino = make([]*gemm.Packed, 16)
	for xi := range 16 {
		cw.wino[xi] = gemm.PackA(false, outC, inC, u[xi*outC*inC:], inC)
	}
	return cw
}

// winograd is how ForwardPacked runs a convolution by F(2×2, 3×3): the
// tiles, the phase split and the blocks of tile rows the GEMMs take.
type winograd struct {
	th, tw, l int      // tile rows and columns; L = tw+1 values per phase row
	phases    *columns // the 2×2 phase split (hq = th+1, wq = l)
	split     Conv     // c with stride 2: the geometry fillPhases reads
	rows      int      // tile rows per GEMM block
	stride    int      // the capacity of a row of V or M: rows·L, the fused kernels' slack and more
	offs      []int    // where the rows of a block's V_ξ start: c·stride
}

// winogradL2 is the bytes of transformed inputs and GEMM outputs a block
// should take: twice this VM's L2, which measured faster on ResNet-18's
// layers than blocks that fit it (fewer, wider GEMMs).
const winogradL2 = 1 << 22

// planWinograd returns the Winograd plan of c (which WinogradFits).
func (c *Conv) planWinograd() *winograd {
	ho, wo := c.Small[1], c.Small[2]
	wg := &winograd{th: (ho + 1) / 2, tw: (wo + 1) / 2}
	wg.l = wg.tw + 1
	wg.phases = &columns{hq: wg.th + 1, wq: wg.l}
	wg.split = *c
	wg.split.Stride = [3]int{1, 2, 2}
	// Columns per block: what fits winogradL2, at least 128 (a GEMM
	// narrower than a few panels runs slowly), at most 1024.
	n := min(max(winogradL2/(16*4*(c.InC+c.OutC)), 128), 1024)
	wg.rows = max(1, n/wg.l)
	// The fused transform kernels run whole vectors of 8 past a row's
	// end: 8 more, rounded up to 8 (the rows stay aligned as V's).
	wg.stride = (wg.rows*wg.l+7)&^7 + 8
	for ci := range c.InC {
		wg.offs = append(wg.offs, ci*wg.stride)
	}
	return wg
}

// scratchLen returns the scratch one worker takes: a sample's phases,
// the row transform of one channel, a block's transformed inputs and
// GEMM outputs, and the output transform of one channel.
func (wg *winograd) scratchLen(inC, outC int) int {
	return inC*4*(wg.th+1)*wg.l + phaseSlack + 8*(wg.rows+1)*wg.l + (16*(inC+outC)+16)*wg.stride
}

// block is a run of tile rows [ty0, ty1) of one sample.
type block struct{ n, ty0, ty1 int }

// blocks cuts tile rows of samples [n0, n1) into blocks of at most
// wg.rows tile rows, and groups consecutive whole samples into one
// block's GEMMs while they fit (units: the groups). When that would make
// fewer units than threads (a batch of one sample whose tile rows fit one
// block: ResNet-18's 28×28 and 14×14 layers), the blocks are cut to
// about the tile rows over threads, so that each goroutine transforms and
// multiplies its share (one unit's GEMMs of a few million multiply-adds
// are not split, and its transforms run on one goroutine).
func (wg *winograd) blocks(n0, n1, threads int) [][]block {
	per := wg.rows
	if total := (n1 - n0) * wg.th; threads > 1 && total < threads*per {
		per = max(1, (total+threads-1)/threads)
	}
	var units [][]block
	var cur []block
	rows := 0
	for n := n0; n < n1; n++ {
		for ty := 0; ty < wg.th; ty += per {
			b := block{n, ty, min(ty+per, wg.th)}
			if rows+b.ty1-b.ty0 > per {
				units, cur, rows = append(units, cur), nil, 0
			}
			cur = append(cur, b)
			rows += b.ty1 - b.ty0
		}
	}
	if cur != nil {
		units = append(units, cur)
	}
	return units
}

// forwardWinograd is ForwardPacked for a convolution that fits
// Winograd's F(2×2, 3×3), with weights from PackWinogradWeights.
func (p *ConvPlan) forwardWinograd(y, x []float32, w *ConvWeights, f *Fused, n0, n1, threads int, scratch []float32) {
	c, wg := &p.Conv, p.wino
	units := wg.blocks(n0, n1, threads)
	each := wg.scratchLen(c.InC, c.OutC)
	np, per := parts(len(units), threads)
	var shared []float32
	if n1-n0 == 1 && np > 1 {
		// One sample's tile rows on several goroutines: its phases are
		// split once, the channels on every goroutine, into part 0's
		// buffer, which every part reads (each part split the whole
		// sample itself: ResNet-18's 64 channels at 56×56 on two threads
		// spent a fifth of their time so).
		inC, B := c.InC, c.BigN()
		phases := inC * 4 * (wg.th + 1) * wg.l
		shared = scratch[:phases+phaseSlack]
		wg.split.fillPhasesOn(threads, shared[:phases], x[n0*inC*B:(n0+1)*inC*B], wg.phases, inC)
		clear(shared[phases:]) // read for dropped positions: no stale denormals
	}
	eachPart(np, len(units), func(part, lo, hi int) {
		sc := scratch[part*each : (part+1)*each]
		last := -1 // the sample whose phases sc (or shared) holds
		if shared != nil {
			last = n0
		}
		for _, u := range units[lo:hi] {
			last = c.winogradUnit(y, x, w, f, wg, u, last, sc, shared, per)
		}
	})
}

// winogradUnit computes the tile rows of the blocks u (at most wg.rows
// in all) into y, with the scratch sc whose phases hold sample last's
// phase split (-1: none); it returns the sample whose phases sc holds
// after it. With shared (not nil), the phases are shared's, which holds
// sample last's (the only one u has).
func (c *Conv) winogradUnit(y, x []float32, w *ConvWeights, f *Fused, wg *winograd, u []block, last int, sc, shared []float32, threads int) int {
	inC, outC, l := c.InC, c.OutC, wg.l
	plane := (wg.th + 1) * l
	ph, sc := sc[:inC*4*plane+phaseSlack], sc[inC*4*plane+phaseSlack:]
	if shared != nil {
		ph = shared
	}
	rowT, sc := sc[:8*(wg.rows+1)*l], sc[8*(wg.rows+1)*l:]
	n := 0
	for _, b := range u {
		n += (b.ty1 - b.ty0) * l
	}
	stride := wg.stride
	v, sc := sc[:16*inC*stride], sc[16*inC*stride:]
	m, sc := sc[:16*outC*stride], sc[16*outC*stride:]
	out := sc[:16*stride]
	B := c.BigN()
	col := 0
	for _, b := range u {
		if b.n != last {
			wg.split.fillPhases(ph, x[b.n*inC*B:(b.n+1)*inC*B], wg.phases, inC)
			clear(ph[inC*4*plane:]) // read for dropped positions: no stale denormals
			last = b.n
		}
		for ci := range inC {
			winogradInput(v[ci*stride+col:], inC*stride, ph[ci*4*plane:], rowT, plane, l, b.ty0, b.ty1)
		}
		col += (b.ty1 - b.ty0) * l
	}
	for xi := range 16 {
		// B's rows are V's rows of ξ: packed by the im2col path's
		// row gather.
		vx, offs := v[xi*inC*stride:(xi+1)*inC*stride], wg.offs
		// N rounded up to 8: the output transform's vectors read M
		// there (dropped positions, computed from V's, not stale
		// scratch that may hold denormals, whose arithmetic is slow).
		gemm.Gemm(&gemm.Params{M: outC, N: (n + 7) &^ 7, K: inC, PackedA: w.wino[xi], C: m[xi*outC*stride:], LdC: stride, Threads: threads,
			PackB: func(dst []float32, nr, k0, kn, j0, jn int) { packPhases(dst, vx, offs, nr, k0, kn, j0, jn) }})
	}
	col = 0
	P := c.SmallN()
	for _, b := range u {
		nb := (b.ty1 - b.ty0) * l
		for co := range outC {
			var bias, add []float32
			if f.Bias != nil {
				bias = f.Bias[co : co+1]
			}
			if f.Add != nil {
				add = f.Add[(b.n*outC+co)*P : (b.n*outC+co+1)*P]
			}
			winogradOutput(y[(b.n*outC+co)*P:(b.n*outC+co+1)*P], m[co*stride+col:], outC*stride, out, stride, nb, l, b.ty0, c.Small[1], c.Small[2], bias, add, &f.Act)
		}
		col += nb
	}
	return last
}

// winogradInput writes Bᵀ d B of tile rows [ty0, ty1) of one channel,
// whose 2×2 phases ph holds (4 planes of plane values, rows of l, and
// phaseSlack more values after them), to the 16 planes dst[ξ·ld:] (ξ =
// 4i + j), (ty1-ty0)·l values each and junk (or zeros) up to a multiple
// of 8; t is scratch of 8·(ty1-ty0+1)·l values.
func winogradInput(dst []float32, ld int, ph, t []float32, plane, l, ty0, ty1 int) {
	nb := ty1 - ty0
	e0, o0, e1, o1 := ph[ty0*l:], ph[plane+ty0*l:], ph[2*plane+ty0*l:], ph[3*plane+ty0*l:]
	if winoIn(dst, ld, nb*l, e0, o0, e1, o1, l) {
		return
	}
	r := (nb + 1) * l // the rows the tiles read, in each phase
	// Row pass (along x) of the even and the odd rows: u_j.
	for a := range 2 {
		e := ph[(2*a)*plane+ty0*l:][:r]
		o := ph[(2*a+1)*plane+ty0*l:][:r]
		u := t[a*4*r : (a+1)*4*r]
		k := r - 1
		vecmath.Sub(u[0:k], e[:k], e[1:r])       // d0 - d2
		vecmath.Add(u[r:r+k], o[:k], e[1:r])     // d1 + d2
		vecmath.Sub(u[2*r:2*r+k], e[1:r], o[:k]) // d2 - d1
		vecmath.Sub(u[3*r:3*r+k], o[:k], o[1:r]) // d1 - d3
		for j := range 4 {
			u[j*r+k] = 0 // the last row's extra tile reads past the phase
		}
	}
	// Column pass (along y): v_ij from rows t, t+1 of the even (ue) and
	// odd (uo) row transforms.
	k := nb * l
	for j := range 4 {
		ue := t[j*r : j*r+r]
		uo := t[(4+j)*r : (4+j)*r+r]
		vecmath.Sub(dst[(0*4+j)*ld:][:k], ue[:k], ue[l:l+k])
		vecmath.Add(dst[(1*4+j)*ld:][:k], uo[:k], ue[l:l+k])
		vecmath.Sub(dst[(2*4+j)*ld:][:k], ue[l:l+k], uo[:k])
		vecmath.Sub(dst[(3*4+j)*ld:][:k], uo[:k], uo[l:l+k])
	}
	// The GEMM reads up to a multiple of 8 positions, as the fused
	// kernels write: zeros there.
	for xi := range 16 {
		clear(dst[xi*ld+k : xi*ld+(k+7)&^7])
	}
}

// winogradOutput writes Aᵀ M A of tile rows [ty0, ty0 + k/l) of one
// output channel, whose 16 planes are m[ξ·ld:] (k values each: rows of l
// tiles, the last one dropped), to the output plane y (ho×wo), finished
// by bias (nil, or the channel's), add (nil, or the residual plane) and
// act as vec.FinishRows does; t is scratch of 16 planes of ldt values
// (ldt at least k rounded up to a multiple of 8).
func winogradOutput(y, m []float32, ld int, t []float32, ldt, k, l, ty0, ho, wo int, bias, add []float32, act *vec.Act) {
	// Row a of t (2·ldt values) holds the outputs of row 2·ty + a of
	// each tile row ty, interleaved: rows of 2·l values.
	if !winoOut(t, 2*ldt, m, ld, k) {
		o := t[4*ldt:]
		winogradSums(o, ldt, m, ld, k)
		for a := range 2 {
			zip(t[2*a*ldt:], o[2*a*ldt:][:k], o[(2*a+1)*ldt:])
		}
	}
	fin := act
	if act.Kind == vec.Func {
		fin = &vec.Act{} // applied below to all the rows at once
	}
	for a := range 2 {
		r0 := 2*ty0 + a
		rows := min(k/l, (ho-r0+1)/2)
		var ar []float32
		if add != nil {
			ar = add[r0*wo:]
		}
		vec.FinishRows(y[r0*wo:], 2*wo, t[2*a*ldt:], 2*l, rows, wo, bias, 0, ar, 2*wo, fin)
	}
	if act.Kind == vec.Func {
		seg := y[2*ty0*wo : min(2*ty0+2*(k/l), ho)*wo]
		act.Func(seg, seg)
	}
}

// winogradSums is winogradOutput's transform on vecmath: the 4 planes of
// o_ab at t[(2a+b)·ldt:] (k values each) from the 16 of m, through the 8
// of s_aj at t[(4+4a+j)·ldt:].
func winogradSums(t []float32, ldt int, m []float32, ld, k int) {
	p := func(i int) []float32 { return t[i*ldt:][:k] }
	for j := range 4 {
		m0, m1, m2, m3 := m[j*ld:][:k], m[(4+j)*ld:][:k], m[(8+j)*ld:][:k], m[(12+j)*ld:][:k]
		s0, s1 := p(4+j), p(8+j)
		vecmath.Add(s0, m0, m1)
		vecmath.Add(s0, s0, m2)
		vecmath.Sub(s1, m1, m2)
		vecmath.Sub(s1, s1, m3)
	}
	for a := range 2 {
		s0, s1, s2, s3 := p(4+4*a), p(5+4*a), p(6+4*a), p(7+4*a)
		o0, o1 := p(2*a), p(2*a+1)
		vecmath.Add(o0, s0, s1)
		vecmath.Add(o0, o0, s2)
		vecmath.Sub(o1, s1, s2)
		vecmath.Sub(o1, o1, s3)
	}
}
