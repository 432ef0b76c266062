package calibrators

import "math"

// fastLog is log(x) for finite, normal x > 0 within about 1e-15 absolute
// (plus 1 ulp of the result): x = 2^e * m, m in [1, 2) is split at its top 7
// mantissa bits into a table point c near m and r = m/c - 1 (|r| < 2^-8),
// and log(x) = e*ln2 + log(c) + log1p(r) with a degree-7 series. It ranks
// entropy candidates; the final choice is made with math.Log (klExact).
func fastLog(x float64) float64 {
	b := math.Float64bits(x)
	e := int(b>>52) - 1023
	t := &logTable[(b>>45)&127]
	m := math.Float64frombits(b&(1<<52-1) | 1023<<52)
	r := m*t.inv - 1
	p := r * (1 + r*(-1.0/2+r*(1.0/3+r*(-1.0/4+r*(1.0/5+r*(-1.0/6+r*(1.0/7)))))))
	return float64(e)*math.Ln2 + t.log + p
}

var logTable = func() (t [128]struct{ inv, log float64 }) {
	for i := range t {
		c := 1 + (float64(i)+0.5)/128
		t[i].inv, t[i].log = 1/c, math.Log(c)
	}
	return t
}()
