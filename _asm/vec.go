package main

import (
	"github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/reg"
)

func init() {
	outputs = append(outputs, struct {
		path, pkg string
		gen       func(c *build.Context)
	}{"internal/vec/vec_amd64.s", "internal/vec", vecKernels})
}

// vecKernels describes internal/vec/vec_amd64.s: finish and finishAdd,
// finishGeneric for slices of at least 8 elements (loop) and bounds that
// are not NaN.
func vecKernels(c *build.Context) {
	for _, s := range isas(c) {
		finishKernel(s, false)
		finishKernel(s, true)
	}
}

// finishKernel: dst[i] = min(max(x[i] + bias (+ add[i]), lo), hi) with Go's
// min and max. The clamp (see clamp) keeps a NaN x and returns x for two
// equal bounds, which is Go's result except for signed zeros: x = -0
// against lo = +0 gives -0 where Go's max gives +0, hence zfix (+0 when lo
// is +0, else -0) added after the max; x = +0 against hi = -0 gives +0
// where Go's min gives -0, hence sfix (the sign bit when hi is -0, else 0)
// or-ed after the min. A bias of -0 adds nothing.
func finishKernel(s isa, withAdd bool) {
	name, spec := "finish", "dst[i] = min(max(x[i] + bias, lo), hi) (finishGeneric without add)."
	if withAdd {
		name, spec = "finishAdd", "dst[i] = min(max(x[i] + bias + add[i], lo), hi) (finishGeneric)."
	}
	s.text(name, spec)
	dst, x, n := s.slice("dst", 4), s.slice("x", 4), s.length("x")
	in := []stream{x}
	if withAdd {
		in = append(in, s.slice("add", 4))
	}
	bias, lo, hi := s.broadcast(s.param("bias")), s.broadcast(s.param("lo")), s.broadcast(s.param("hi"))
	zfix, sfix := s.broadcast(s.param("zfix")), s.broadcast(s.param("sfix"))
	s.loop(elementwise{n: n, in: in, out: dst, store: storeFloats,
		vector: func(s isa, in []stream, i int) reg.Register {
			r := s.vec()
			s.VADDPS(in[0].at(i), s.v(bias), r)
			if withAdd {
				s.VADDPS(in[1].at(i), r, r)
			}
			s.clamp(r, lo, hi)
			s.VADDPS(s.v(zfix), r, r)
			s.or(s.v(sfix), r, r)
			return r
		}})
}
