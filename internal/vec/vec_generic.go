package vec

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
