package vec

import "math"

// finishGeneric is the specification of the finish kernels:
// d[i] = min(max(x[i] + bias + add[i], lo), hi), add[i] only when add is
// not nil, each step rounded to float32 with Go's min and max (NaN
// propagates; max(-0, +0) is +0, min(-0, +0) is -0).
func finishGeneric(d, x, add []float32, bias, lo, hi float32) {
	x = x[:len(d)]
	if add != nil {
		add = add[:len(d)]
		for i, v := range x {
			d[i] = min(max(v+bias+add[i], lo), hi)
		}
		return
	}
	for i, v := range x {
		d[i] = min(max(v+bias, lo), hi)
	}
}

// reluGradGeneric is the specification of the reluGrad kernels: d[i] =
// dy[i] where x[i] > 0, else +0, without a branch: x > 0 (+Inf included,
// NaN not) is 0 < bits(x) <= bits(+Inf) as an integer, and the gradient's
// bits are masked.
func reluGradGeneric(d, dy, x []float32) {
	dy, x = dy[:len(d)], x[:len(d)]
	for i, v := range x {
		var m uint32
		if math.Float32bits(v)-1 < 0x7f800000 {
			m = ^uint32(0)
		}
		d[i] = math.Float32frombits(math.Float32bits(dy[i]) & m)
	}
}
