package vecmath

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// exactFMA rounds a·b + c, computed exactly, once to float32.
func exactFMA(a, b, c float32) float32 {
	if math.IsNaN(float64(a)) || math.IsNaN(float64(b)) || math.IsNaN(float64(c)) ||
		math.IsInf(float64(a), 0) || math.IsInf(float64(b), 0) || math.IsInf(float64(c), 0) {
		return float32(math.FMA(float64(a), float64(b), float64(c)))
	}
	x := new(big.Float).SetPrec(400).SetFloat64(float64(a))
	x.Mul(x, new(big.Float).SetFloat64(float64(b)))
	x.Add(x, new(big.Float).SetFloat64(float64(c)))
	f, _ := x.Float32()
	if f == 0 && x.Sign() < 0 {
		return float32(math.Copysign(0, -1))
	}
	if f == 0 && x.Sign() == 0 {
		// An exact zero sum is +0, but -0 when both a·b and c are -0.
		return float32(math.FMA(float64(a), float64(b), float64(c)))
	}
	return f
}

// TestFMA32 checks FMA32 against the exact a·b + c rounded once: random
// operands of every magnitude, sums that land halfway between two floats
// with a tiny remainder either way (where rounding twice goes wrong),
// subnormal results, overflow, and the special values.
func TestFMA32(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	check := func(a, b, c float32) {
		t.Helper()
		if got, want := FMA32(a, b, c), exactFMA(a, b, c); !same(got, want) {
			t.Fatalf("FMA32(%v, %v, %v) = %v (%#x), want %v (%#x)", a, b, c, got, math.Float32bits(got), want, math.Float32bits(want))
		}
	}
	for range 200000 {
		check(math.Float32frombits(r.Uint32()), math.Float32frombits(r.Uint32()), math.Float32frombits(r.Uint32()))
		a, b := float32(r.NormFloat64()), float32(r.NormFloat64())
		check(a, b, float32(r.NormFloat64()))
		check(a, b, -a*b)
		// c a tiny fraction of a·b: a·b's low bits decide the rounding.
		check(a, b, float32(float64(a*b)*math.Ldexp(r.Float64()-0.5, -30)))
	}
	// a·b = 1 + 2^-24 = 97·257·673 / 2^24, halfway between 1 and 1 +
	// 2^-23, with a tiny c on either side: rounded twice (to float64, then
	// float32) the sum would tie and go to even, 1, for c > 0.
	a, b := float32(97*257)/(1<<15), float32(673)/(1<<9)
	if float64(a)*float64(b) != 1+0x1p-24 {
		t.Fatal("a·b is not 1 + 2^-24")
	}
	if got := float32(math.FMA(float64(a), float64(b), 0x1p-60)); got != 1 {
		t.Fatalf("double rounding gives %v, the case does not test it", got)
	}
	for _, c := range []float32{0x1p-60, -0x1p-60, 0x1p-149, -0x1p-149, 0} {
		check(a, b, c)
		check(a, -b, c)
		check(-a, b, -c)
	}
	for _, v := range specials {
		for _, w := range specials {
			check(v, w, 1)
			check(v, 1, w)
			check(0x1p-75, 0x1p-75, v)
		}
	}
	check(math.MaxFloat32, 2, -math.MaxFloat32)
	check(0x1p-100, 0x1p-60, 0x1p-149)
}
