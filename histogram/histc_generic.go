package histogram

// histcGeneric is the specification of the binning kernels: for each
// element, v = |x|, its slot in h (len(h) >= p.n+2) is
//
//	p.n+1  if !(p.lo <= v && v <= p.hi)  (NaN included)
//	p.n    if p.skipZeros && v == 0
//	min(int32(float32(float32(v-p.lo)/p.rng)*p.fn), p.n-1)  otherwise
//
// where a NaN position (v-lo and rng both +Inf) counts as 0; a position is
// never negative or above p.n for a finite range.
func histcGeneric(h []uint32, x []float32, p *histcParams) {
	h = h[:p.n+2]
	for _, v := range x {
		a := abs32(v)
		var s int32
		switch {
		case !(a >= p.lo && a <= p.hi):
			s = p.n + 1
		case p.skipZeros && a == 0:
			s = p.n
		default:
			f := float32(float32(a-p.lo)/p.rng) * p.fn
			if f == f {
				s = int32(f)
			}
			s = max(min(s, p.n-1), 0)
		}
		h[s]++
	}
}
