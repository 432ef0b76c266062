package nn

import "math"

// Number is an element type max pooling works on.
type Number interface {
	~float32 | ~float64 | ~int8 | ~uint8 | ~int32 | ~int64
}

// lowest returns -Inf for a float type, else its smallest value.
func lowest[T Number]() T {
	var z T
	inf, i8, i32, i64 := math.Inf(-1), int8(math.MinInt8), int32(math.MinInt32), int64(math.MinInt64)
	switch any(z).(type) {
	case float32, float64:
		return T(inf)
	case int8:
		return T(i8)
	case int32:
		return T(i32)
	case int64:
		return T(i64)
	}
	return 0
}

// taps is, for each window position along one dimension, the first big
// index it reads (start = o·stride - pad) and the taps [lo, hi) that fall
// inside [0, big).
type taps struct {
	start, lo, hi []int
}

// tapsOf returns the taps of every window position of dimension i.
func (g *Geom) tapsOf(i int) taps {
	n, s, d, k := g.Small[i], g.Stride[i], g.Dilation[i], g.Kernel[i]
	t := taps{start: make([]int, n), lo: make([]int, n), hi: make([]int, n)}
	for o := range n {
		st := o*s - g.Pad[i]
		lo, hi := 0, k
		for lo < k && st+lo*d < 0 {
			lo++
		}
		for hi > lo && st+(hi-1)*d >= g.Big[i] {
			hi--
		}
		t.start[o], t.lo[o], t.hi[o] = st, lo, hi
	}
	return t
}

// MaxPool writes planes [p0, p1) of y (SmallN elements each) with the
// maximum of each window of the planes of x (BigN elements each). Padding
// counts as the lowest value (-Inf for floats); a NaN in a window wins
// (the last one in scan order), as PyTorch's CPU kernel has it. When
// argmax is not nil it receives, per output element, the index in its
// input plane of the maximum (the first in scan order among equal ones),
// or -1 for a window that reads only padding.
func MaxPool[T Number](y []T, argmax []int32, x []T, g *Geom, p0, p1 int) {
	B, P := g.BigN(), g.SmallN()
	if argmax == nil && p1-p0 > 1 && maxStacked(y[p0*P:p1*P], x[p0*B:p1*B], g, p1-p0) {
		return
	}
	s2, b2 := g.Small[2], g.Big[2]
	k, s, dw := g.Kernel[2], g.Stride[2], g.Dilation[2]
	k2s2 := g.Small[0] == 1 && g.Kernel == [3]int{1, 2, 2} && g.Stride == [3]int{1, 2, 2} &&
		g.Pad == [3]int{} && g.Dilation == [3]int{1, 1, 1} && 2*g.Small[1] <= g.Big[1] && 2*g.Small[2] <= g.Big[2]
	// The windows' taps, for the planes no kernel computes (made once,
	// then; the kernels need none).
	var td, th, tw taps
	var in0, in1 int
	low := lowest[T]()
	for p := p0; p < p1; p++ {
		plane := x[p*B : (p+1)*B]
		if argmax == nil && maxPlane(y[p*P:(p+1)*P], plane, g) {
			continue
		}
		if yf, ok := any(y).([]float32); ok && argmax != nil && k2s2 {
			maxPlaneK2S2Arg(yf[p*P:(p+1)*P], argmax[p*P:(p+1)*P], any(plane).([]float32), g.Small[1], g.Small[2], g.Big[2])
			continue
		}
		if tw.start == nil {
			td, th, tw = g.tapsOf(0), g.tapsOf(1), g.tapsOf(2)
			in0, in1 = tw.interior(k)
		}
		// Output row by output row, each starting at the lowest value and
		// taking, kernel row by kernel row, the maximum of the taps of
		// that input row: every window's taps in scan order, as a loop per
		// window would visit them (the same NaN and the same zero win).
		var out []T
		var am []int32
		g.forRows(&td, &th, func(r int) {
			at := p*P + r*s2
			out = y[at : at+s2]
			fill(out, low)
			if argmax != nil {
				am = argmax[at : at+s2]
				fill(am, -1)
			}
		}, func(off, _ int) {
			row := plane[off : off+b2]
			if am != nil {
				maxRowArg(out, am, row, off, &tw, dw)
				return
			}
			for ow := 0; ow < s2; ow++ {
				if ow == in0 {
					maxRow(out[in0:in1], row[tw.start[in0]:], k, s, dw)
					ow = in1 - 1
					continue
				}
				m := out[ow]
				for c := tw.lo[ow]; c < tw.hi[ow]; c++ {
					if v := row[tw.start[ow]+c*dw]; v > m || v != v {
						m = v
					}
				}
				out[ow] = m
			}
		}, nil)
	}
}

// forRows walks the output rows of one plane (r = od·Small[1] + oh) in
// order: begin(r), then tap(off, kr) for every kernel row kr = a·Kernel[1]
// + b whose input row lies inside the plane (off its offset in the
// plane), then end(r) when not nil.
func (g *Geom) forRows(td, th *taps, begin func(r int), tap func(off, kr int), end func(r int)) {
	s1, b1, b2 := g.Small[1], g.Big[1], g.Big[2]
	for od := range g.Small[0] {
		for oh := range s1 {
			r := od*s1 + oh
			begin(r)
			for a := td.lo[od]; a < td.hi[od]; a++ {
				id := td.start[od] + a*g.Dilation[0]
				for b := th.lo[oh]; b < th.hi[oh]; b++ {
					tap((id*b1+th.start[oh]+b*g.Dilation[1])*b2, a*g.Kernel[1]+b)
				}
			}
			if end != nil {
				end(r)
			}
		}
	}
}

// maxRowArg updates the maxima out and their plane indices am with the
// taps of every window in one input row (which starts at plane index
// off).
func maxRowArg[T Number](out []T, am []int32, row []T, off int, tw *taps, dw int) {
	if o, ok := any(out).([]float32); ok {
		maxRowArgF32(o, am, any(row).([]float32), off, tw, dw)
		return
	}
	for ow, m := range out {
		mi := am[ow]
		for c := tw.lo[ow]; c < tw.hi[ow]; c++ {
			i := tw.start[ow] + c*dw
			if v := row[i]; v > m || v != v {
				m, mi = v, int32(off+i)
			}
		}
		out[ow], am[ow] = m, mi
	}
}

// maxRowArgF32 is maxRowArg on float32 without a branch on the data
// (which of a ReLU's outputs is larger is a coin toss for the branch
// predictor): each tap's comparison becomes a mask that selects the
// value's bits and index.
func maxRowArgF32(out []float32, am []int32, row []float32, off int, tw *taps, dw int) {
	am = am[:len(out)]
	for ow, m := range out {
		mb, mi := math.Float32bits(m), am[ow]
		lo, hi, st := tw.lo[ow], tw.hi[ow], tw.start[ow]
		for c := lo; c < hi; c++ {
			i := st + c*dw
			v := row[i]
			// take is all ones where v > m or v is NaN (a NaN wins,
			// the last one), as maxRowArg's comparison.
			take := -(b2i(v > math.Float32frombits(mb)) | b2i(v != v))
			mb ^= (mb ^ math.Float32bits(v)) & uint32(take)
			mi ^= (mi ^ int32(off+i)) & take
		}
		out[ow], am[ow] = math.Float32frombits(mb), mi
	}
}

// maxPlaneK2S2Arg is MaxPool with the argmax on one float32 plane of 2×2
// windows of stride 2 without padding (a CNN's commonest pooling; the
// last row and column of an odd plane are read by no window): the taps
// of maxRowArgF32 in the same order, unrolled.
func maxPlaneK2S2Arg(y []float32, am []int32, x []float32, s1, s2, b2 int) {
	low := math.Float32bits(float32(math.Inf(-1)))
	for oh := range s1 {
		r0 := 2 * oh * b2
		top, bottom := x[r0:r0+2*s2], x[r0+b2:r0+b2+2*s2]
		out, idx := y[oh*s2:(oh+1)*s2], am[oh*s2:(oh+1)*s2]
		for ow := maxArgRowK2S2(out, idx, top, bottom, r0, b2); ow < len(out); ow++ {
			mb, mi := low, int32(-1)
			c := 2 * ow
			at := [4]int{r0 + c, r0 + c + 1, r0 + b2 + c, r0 + b2 + c + 1}
			for k, v := range [4]float32{top[c], top[c+1], bottom[c], bottom[c+1]} {
				take := -(b2i(v > math.Float32frombits(mb)) | b2i(v != v))
				mb ^= (mb ^ math.Float32bits(v)) & uint32(take)
				mi ^= (mi ^ int32(at[k])) & take
			}
			out[ow], idx[ow] = math.Float32frombits(mb), mi
		}
	}
}

// b2i is 1 for true, 0 for false (a SETcc, not a branch).
func b2i(b bool) int32 {
	var i int32
	if b {
		i = 1
	}
	return i
}

// MaxPoolBackward writes dx, the gradient of a max pooling whose output
// gradient is dy and whose argmax MaxPool recorded: each output gradient
// goes to its window's maximum. P and B are the output and input plane
// sizes.
func MaxPoolBackward(dx, dy []float32, argmax []int32, P, B int) {
	clear(dx)
	for i, v := range dy {
		if j := argmax[i]; j >= 0 {
			dx[(i/P)*B+int(j)] += v
		}
	}
}

// MaxPlanes writes y[p], for planes [p0, p1) of x (n elements each), with
// the plane's maximum (a NaN wins, -Inf or the lowest integer for an empty
// plane): global max pooling.
func MaxPlanes[T Number](y, x []T, n, p0, p1 int) {
	for p := p0; p < p1; p++ {
		best := lowest[T]()
		for _, v := range x[p*n : (p+1)*n] {
			if v > best || v != v {
				best = v
			}
		}
		y[p] = best
	}
}

// divisors returns, for each window position along dimension i, the
// number of taps an average divides by: those inside the input, or with
// countPad those inside the padded input [-Pad, Big+PadEnd).
func (g *Geom) divisors(i int, t taps, countPad bool) []int {
	out := make([]int, len(t.start))
	for o, st := range t.start {
		if !countPad {
			out[o] = t.hi[o] - t.lo[o]
			continue
		}
		for j := range g.Kernel[i] {
			if v := st + j*g.Dilation[i]; v >= -g.Pad[i] && v < g.Big[i]+g.PadEnd[i] {
				out[o]++
			}
		}
	}
	return out
}

// AvgPool writes planes [p0, p1) of y with the average of each window of
// the planes of x: the float32 sum of the taps inside the input, in scan
// order, divided by the number of those taps, or with countPad by the
// number of taps inside the padded input (PyTorch's and ONNX's
// count_include_pad; windows that a ceil-mode output extends beyond the
// padding do not count those positions).
func AvgPool(y, x []float32, g *Geom, countPad bool, p0, p1 int) {
	g.eachWindow(countPad, p0, p1, func(p, o int, rows []int, lo, hi, dw int, div float32) {
		plane := x[p*g.BigN() : (p+1)*g.BigN()]
		var sum float32
		for _, r := range rows {
			if dw == 1 {
				for _, v := range plane[r+lo : r+hi] {
					sum += v
				}
				continue
			}
			for c := lo; c < hi; c += dw {
				sum += plane[r+c]
			}
		}
		y[p*g.SmallN()+o] = sum / div
	})
}

// AvgPoolBackward writes planes [p0, p1) of dx, the gradient of AvgPool
// with the same geometry and countPad: each output gradient, divided by
// its window's divisor, is added to the inputs the window read.
func AvgPoolBackward(dx, dy []float32, g *Geom, countPad bool, p0, p1 int) {
	clear(dx[p0*g.BigN() : p1*g.BigN()])
	g.eachWindow(countPad, p0, p1, func(p, o int, rows []int, lo, hi, dw int, div float32) {
		plane := dx[p*g.BigN() : (p+1)*g.BigN()]
		v := dy[p*g.SmallN()+o] / div
		for _, r := range rows {
			for c := lo; c < hi; c += dw {
				plane[r+c] += v
			}
		}
	})
}

// eachWindow calls f for every window of planes [p0, p1): the plane, the
// window's output index in it, the offsets in the plane of the rows it
// reads (outer taps inside the input), the range [lo, hi) with step dw of
// the last dimension's offsets to add to them, and the divisor.
func (g *Geom) eachWindow(countPad bool, p0, p1 int, f func(p, o int, rows []int, lo, hi, dw int, div float32)) {
	td, th, tw := g.tapsOf(0), g.tapsOf(1), g.tapsOf(2)
	vd, vh, vw := g.divisors(0, td, countPad), g.divisors(1, th, countPad), g.divisors(2, tw, countPad)
	dw := g.Dilation[2]
	rows := make([]int, 0, g.Kernel[0]*g.Kernel[1])
	for p := p0; p < p1; p++ {
		g.forRows(&td, &th, func(int) { rows = rows[:0] }, func(off, _ int) { rows = append(rows, off) }, func(r int) {
			od, oh := r/g.Small[1], r%g.Small[1]
			for ow := range g.Small[2] {
				lo, hi := tw.start[ow]+tw.lo[ow]*dw, tw.start[ow]+tw.hi[ow]*dw
				if tw.lo[ow] == tw.hi[ow] {
					// A window all in the padding (pads at least the
					// kernel): no tap, and no offset outside the row.
					lo, hi = 0, dw-1
				}
				f(p, r*g.Small[2]+ow, rows, lo, max(lo, hi-dw+1), dw, float32(vd[od]*vh[oh]*vw[ow]))
			}
		})
	}
}

// AdaptiveAvgPool writes planes [p0, p1) of y, [out...] each, with
// PyTorch's adaptive averages of the planes of x, [in...] each (3-D form:
// leading sizes 1): output position i of a dimension averages the inputs
// from floor(i·n/m) to ceil((i+1)·n/m), exclusive; the sum is float32 in
// scan order, divided by the window's size. An output of size 1 is global
// average pooling.
func AdaptiveAvgPool(y, x []float32, in, out [3]int, p0, p1 int) {
	B, P := in[0]*in[1]*in[2], out[0]*out[1]*out[2]
	for pl := p0; pl < p1; pl++ {
		plane := x[pl*B : (pl+1)*B]
		yo := y[pl*P : (pl+1)*P]
		if P == 1 {
			var sum float32
			for _, v := range plane {
				sum += v
			}
			yo[0] = sum / float32(B)
			continue
		}
		adaptiveWindows(in, out, func(o int, rows []int, w0, w1 int, n float32) {
			var sum float32
			for _, r := range rows {
				for _, v := range plane[r+w0 : r+w1] {
					sum += v
				}
			}
			yo[o] = sum / n
		})
	}
}

// AdaptiveAvgPoolBackward writes planes [p0, p1) of dx, the gradient of
// AdaptiveAvgPool: each output gradient, divided by its window's size, is
// added to the window.
func AdaptiveAvgPoolBackward(dx, dy []float32, in, out [3]int, p0, p1 int) {
	B, P := in[0]*in[1]*in[2], out[0]*out[1]*out[2]
	for pl := p0; pl < p1; pl++ {
		plane := dx[pl*B : (pl+1)*B]
		clear(plane)
		do := dy[pl*P : (pl+1)*P]
		adaptiveWindows(in, out, func(o int, rows []int, w0, w1 int, n float32) {
			v := do[o] / n
			for _, r := range rows {
				row := plane[r+w0 : r+w1]
				for i := range row {
					row[i] += v
				}
			}
		})
	}
}

// adaptiveRange returns PyTorch's window [start, end) of output position i
// for input size n and output size m.
func adaptiveRange(i, n, m int) (int, int) {
	return i * n / m, ((i+1)*n + m - 1) / m
}

// adaptiveWindows calls f for every output position o of an adaptive
// pooling of a plane: the offsets of the input rows its window reads, the
// range [w0, w1) of the last dimension, and the window's size.
func adaptiveWindows(in, out [3]int, f func(o int, rows []int, w0, w1 int, n float32)) {
	var rows []int
	o := 0
	for od := range out[0] {
		d0, d1 := adaptiveRange(od, in[0], out[0])
		for oh := range out[1] {
			h0, h1 := adaptiveRange(oh, in[1], out[1])
			rows = rows[:0]
			for d := d0; d < d1; d++ {
				for h := h0; h < h1; h++ {
					rows = append(rows, (d*in[1]+h)*in[2])
				}
			}
			for ow := range out[2] {
				w0, w1 := adaptiveRange(ow, in[2], out[2])
				f(o, rows, w0, w1, float32((d1-d0)*(h1-h0)*(w1-w0)))
				o++
			}
		}
	}
}

// maxStacked computes the max pooling of planes planes of g at once, as
// one plane planes times as tall, by maxPlane, and reports whether it
// could: when the windows of a plane's output rows tile its input rows
// exactly (no rows of padding, ho·s = h, each window inside its plane),
// the tall plane's windows are the planes' own. One kernel call instead
// of one per plane (planes of 14×14 values cost as much per call as in
// work).
func maxStacked[T Number](y, x []T, g *Geom, planes int) bool {
	h, ho, k, s := g.Big[1], g.Small[1], g.Kernel[1], g.Stride[1]
	if g.Small[0] != 1 || g.Pad[1] != 0 || g.PadEnd[1] != 0 || g.Dilation[1] != 1 || ho*s != h || (ho-1)*s+k > h {
		return false
	}
	tall := *g
	tall.Big[1], tall.Small[1] = planes*h, planes*ho
	return maxPlane(y, x, &tall)
}
