package reduce

// absMaxGeneric is the specification of AbsMax: the largest |x[i]|, 0 for an
// empty slice, and the quiet NaN as soon as any element is NaN.
func absMaxGeneric(x []float32) float32 {
	var m float32
	for _, v := range x {
		a := abs32(v)
		if a > m {
			m = a
		} else if a != a {
			return quietNaN
		}
	}
	return m
}
