package fakequant

import "math"

// refFP8 is a deliberately plain model of one FP8 format, written from the
// ONNX text ("Float stored in 8 bits" and the Cast tables) in float64
// arithmetic, independent of the bit tricks of the kernels.
type refFP8 struct {
	name               string
	f                  FP8Format
	mbits, ebits, bias int
	hasInf             bool // E5M2: S.11111.00 is ±Inf, S.11111.{01,10,11} NaN
	max                float64
	maxCode            uint8
	values             [256]float64 // value of every code
}

func newRefFP8(name string, f FP8Format, mbits, ebits, bias int, hasInf bool) *refFP8 {
	r := &refFP8{name: name, f: f, mbits: mbits, ebits: ebits, bias: bias, hasInf: hasInf}
	for c := range 256 {
		r.values[c] = r.value(uint8(c))
		if v := r.values[c]; v > r.max && !math.IsInf(v, 0) {
			r.max, r.maxCode = v, uint8(c)
		}
	}
	return r
}

var (
	refE4M3FN = newRefFP8("E4M3FN", E4M3FN, 3, 4, 7, false)
	refE5M2   = newRefFP8("E5M2", E5M2, 2, 5, 15, true)
	refFP8s   = []*refFP8{refE4M3FN, refE5M2}
)

// value is the ONNX formula (a NaN keeps the code's sign): (-1)^S 2^(E-bias) (1 + M/2^m) for E != 0,
// (-1)^S 2^(1-bias) M/2^m for E == 0, and the special codes.
func (r *refFP8) value(c uint8) float64 {
	s := 1.0
	if c&0x80 != 0 {
		s = -1
	}
	e := int(c>>r.mbits) & (1<<r.ebits - 1)
	m := int(c) & (1<<r.mbits - 1)
	allOnes := e == 1<<r.ebits-1
	switch {
	case r.hasInf && allOnes && m == 0:
		return s * math.Inf(1)
	case r.hasInf && allOnes, !r.hasInf && allOnes && m == 1<<r.mbits-1:
		return math.Copysign(math.NaN(), s)
	case e == 0:
		return s * math.Ldexp(float64(m), 1-r.bias-r.mbits)
	}
	return s * math.Ldexp(float64(1<<r.mbits+m), e-r.bias-r.mbits)
}

// round returns |x| rounded to the format's precision with an unbounded
// exponent above (ties to even), +Inf for ±Inf; x must not be NaN. The
// quantum of the binade [2^e, 2^(e+1)) is 2^(e-m); below the smallest
// normal binade the quantum stays that of the smallest one (subnormals).
func (r *refFP8) round(x float32) float64 {
	a := math.Abs(float64(x))
	if a == 0 || math.IsInf(a, 0) {
		return a
	}
	e := max(exponent(a), 1-r.bias)
	return math.RoundToEven(a*pow2(r.mbits-e)) * pow2(e-r.mbits)
}

// exponent returns e with a in [2^e, 2^(e+1)) for a float64 a > 0 that is
// not subnormal (every float32 is a normal float64).
func exponent(a float64) int { return int(math.Float64bits(a)>>52) - 1023 }

// pow2 returns 2^k for -1022 <= k <= 1023.
func pow2(k int) float64 { return math.Float64frombits(uint64(k+1023) << 52) }

// code is the code of a rounded magnitude v <= max with the given sign, or
// of an overflow (v > max) under the Cast tables: ±max with saturation;
// without it ±Inf (E5M2) or NaN with the sign kept (E4M3FN).
func (r *refFP8) code(v float64, neg, saturate bool) uint8 {
	var s uint8
	if neg {
		s = 0x80
	}
	switch {
	case v > r.max && saturate:
		return s | r.maxCode
	case v > r.max && r.hasInf:
		return s | 0x7C
	case v > r.max:
		return s | 0x7F
	}
	emin := 1 - r.bias
	if v < pow2(emin) { // subnormal or zero: a multiple of 2^(emin-m)
		return s | uint8(v*pow2(r.mbits-emin))
	}
	e := exponent(v)
	m := v*pow2(r.mbits-e) - float64(int(1)<<r.mbits)
	return s | uint8((e-emin+1)<<r.mbits) | uint8(m)
}

// encode is the reference conversion of one float32.
func (r *refFP8) encode(x float32, saturate bool) uint8 {
	neg := math.Signbit(float64(x))
	if x != x {
		if neg {
			return 0xFF
		}
		return 0x7F
	}
	return r.code(r.round(x), neg, saturate)
}
