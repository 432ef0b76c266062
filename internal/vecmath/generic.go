package vecmath

import (
	"math"
	"strconv"
	"strings"
)

// The generic code is the specification of the assembly: every kernel
// family returns the same bits for every input (any NaN matching any NaN).
// The polynomials are evaluated with fused multiply-adds, FMA32 here and
// VFMADD, FMLA in the assembly; every other product that is then added is
// rounded first, written float32(a*b) + c: Go may fuse a*b + c into one
// FMA on arm64 (and with GOAMD64=v3), also through a variable or a
// function result (t := a*b; t + c), and the assembly does a separate
// multiply and add there. Products that leave a function or land in a
// variable are therefore converted too.

// FMA32 returns a·b + c rounded once to float32, as a float32 FMA
// instruction computes it (the generic specification of kernels that fuse
// their multiply-adds). float32(math.FMA(a, b, c)) would round twice
// (to float64, then to float32) and differ in rare cases; here the sum is
// rounded to odd in float64 (an inexact result with an even last bit moves
// one step towards the exact value), which 53 bits make exact for the
// final rounding to 24 (Boldo and Melquiond's emulation of FMA).
func FMA32(a, b, c float32) float32 {
	p := float64(a) * float64(b) // exact: 48 bits
	s := p + float64(c)
	// The rounding error of the sum, exactly (Knuth's TwoSum).
	t := s - p
	e := (p - (s - t)) + (float64(c) - t)
	if e != 0 && s-s == 0 { // inexact, and s finite
		if bits := math.Float64bits(s); bits&1 == 0 {
			if (e > 0) == (s > 0) {
				bits++ // away from zero, towards s + e
			} else {
				bits--
			}
			s = math.Float64frombits(bits)
		}
	}
	return float32(s)
}

// lanes is the number of partial results of every reduction: element i of
// a slice goes into lane i%lanes, and fold16 combines the lanes pairwise at
// the end. A 512-bit register, two 256-bit ones or four 128-bit ones hold
// them.
const lanes = 16

// Constants of exp. The input is clamped to [expLo, expHi] (beyond them the
// result rounds to 0 or overflows to +Inf anyway); then x = n·ln2 + r with
// n = round(x·log2e) and r = x - n·ln2Hi - n·ln2Lo (ln2Hi has 9
// significant bits, so n·ln2Hi and the first subtraction are exact);
// e^r ≈ 1 + r + r²·P(r) on |r| <= ln2/2 (Cephes' expf polynomial); and the
// result is e^r·2^n1·2^n2 with n1 = n>>1 and n2 = n-n1, two exact scalings
// but for the last, which rounds once, also into the subnormals.
const (
	expLo = -104
	expHi = 89
	log2e = 1.44269504
	ln2Hi = 0.693359375
	ln2Lo = -2.12194440e-4
	expP0 = 1.9875691500e-4
	expP1 = 1.3981999507e-3
	expP2 = 8.3334519073e-3
	expP3 = 4.1665795894e-2
	expP4 = 1.6666665459e-1
	expP5 = 5.0000001201e-1
)

// expf is e^x.
func expf(x float32) float32 {
	x = min(max(x, expLo), expHi)
	n := float32(math.RoundToEven(float64(x * log2e)))
	r := x - float32(n*ln2Hi)
	r = FMA32(-n, ln2Lo, r)
	p := FMA32(expP0, r, expP1)
	p = FMA32(p, r, expP2)
	p = FMA32(p, r, expP3)
	p = FMA32(p, r, expP4)
	p = FMA32(p, r, expP5)
	y := FMA32(p, float32(r*r), r) + 1
	// n is an integer in [-150, 128] (garbage for a NaN x, whose y is
	// NaN): the two factors are normal floats.
	k := int32(n)
	k1 := k >> 1
	return float32(float32(y*math.Float32frombits(uint32(k1+127)<<23)) * math.Float32frombits(uint32(k-k1+127)<<23))
}

// Constants of erf. Below erfSplit, erf(x) = x + x·S(x²); above, erf(|x|)
// = 1 - e^-R(|x|) with |x| clamped to erfMax (where erf rounds to 1). S
// (degree 5, relative error 1.6e-8) and R (degree 8 on [erfSplit,
// erfMax], absolute error 1.2e-8, R being -log(erfc)) are minimax fits
// made for this package.
const (
	erfSplit = 0.921875
	erfMax   = 4
	erfS0    = 0.12837915
	erfS1    = -0.37612495
	erfS2    = 0.112818174
	erfS3    = -0.026766645
	erfS4    = 0.004993213
	erfS5    = -0.0005990992
	erfR0    = -0.00029428003
	erfR1    = 1.1301315
	erfR2    = 0.6319953
	erfR3    = 0.1099252
	erfR4    = -0.026335552
	erfR5    = 0.004730286
	erfR6    = -0.000590716
	erfR7    = 4.5354675e-05
	erfR8    = -1.6024944e-06
)

// erfSmall is S(u), the polynomial of erf below erfSplit (u = x²).
func erfSmall(u float32) float32 {
	p := FMA32(erfS5, u, erfS4)
	p = FMA32(p, u, erfS3)
	p = FMA32(p, u, erfS2)
	p = FMA32(p, u, erfS1)
	return FMA32(p, u, erfS0)
}

// erfcBig is erfc(a) = e^-R(a) for a >= erfSplit, a clamped to erfMax (NaN
// stays NaN).
func erfcBig(a float32) float32 {
	a = min(a, erfMax)
	p := FMA32(erfR8, a, erfR7)
	p = FMA32(p, a, erfR6)
	p = FMA32(p, a, erfR5)
	p = FMA32(p, a, erfR4)
	p = FMA32(p, a, erfR3)
	p = FMA32(p, a, erfR2)
	p = FMA32(p, a, erfR1)
	p = FMA32(p, a, erfR0)
	return expf(-p)
}

const signBit = 1 << 31

// abs clears the sign bit.
func abs(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ signBit) }

// withSign returns y (whose sign bit is clear) with the sign of x.
func withSign(y, x float32) float32 {
	return math.Float32frombits(math.Float32bits(y) | math.Float32bits(x)&signBit)
}

// erff is erf(x).
func erff(x float32) float32 {
	a := abs(x)
	if a < erfSplit {
		return FMA32(x, erfSmall(float32(x*x)), x)
	}
	return withSign(1-erfcBig(a), x)
}

// Constants of tanh: below tanhSplit, tanh(x) = x + x·x²·Q(x²) (degree 4,
// relative error 4.4e-9); above, 1 - 2/(e^2|x| + 1) with the sign of x.
const (
	tanhSplit = 0.625
	tanhQ0    = -0.3333328
	tanhQ1    = 0.13331442
	tanhQ2    = -0.053739715
	tanhQ3    = 0.02063909
	tanhQ4    = -0.0057049906
)

// tanhf is tanh(x), computed for |x| and given the sign of x.
func tanhf(x float32) float32 {
	a := abs(x)
	var y float32
	if a < tanhSplit {
		u := float32(a * a)
		p := FMA32(tanhQ4, u, tanhQ3)
		p = FMA32(p, u, tanhQ2)
		p = FMA32(p, u, tanhQ1)
		p = FMA32(p, u, tanhQ0)
		y = FMA32(a, float32(u*p), a)
	} else {
		y = 1 - 2/(expf(a+a)+1)
	}
	return withSign(y, x)
}

// sigmoidf is 1/(1 + e^-x), computed as 1/(1 + e) for x >= 0 and e/(1 + e)
// for x < 0, with e = e^-|x|: no overflow, and full relative precision for
// the small results of negative x.
func sigmoidf(x float32) float32 {
	e := expf(-abs(x))
	num := e
	if x >= 0 {
		num = 1
	}
	return num / (1 + e)
}

// siluf is x·sigmoid(x) (SiLU, Swish).
func siluf(x float32) float32 { return float32(x * sigmoidf(x)) }

// Constants of Gelu: invSqrt2 is 1/√2; geluTanhC1 and geluTanhC2 are
// 2·√(2/π) and 2·√(2/π)·0.044715.
const (
	invSqrt2   = 0.70710677
	geluTanhC1 = 1.5957692
	geluTanhC2 = 0.071354814
)

// geluf is x/2·(1 + erf(x/√2)). 1 + erf(t) is computed without
// cancellation: (1 + t) + t·S(t²) below erfSplit (1 + t is exact near
// t = -1), 2 - erfc(t) above, erfc(|t|) itself below -erfSplit, and 0
// below -erfMax, where erfc(|t|) < 1.6e-8.
func geluf(x float32) float32 {
	t := float32(x * invSqrt2)
	a := abs(t)
	var q float32
	switch {
	case a < erfSplit:
		q = FMA32(t, erfSmall(float32(t*t)), 1+t)
	case t >= 0:
		q = 2 - erfcBig(a)
	case a <= erfMax:
		q = erfcBig(a)
	}
	return float32(float32(x*0.5) * q)
}

// geluTanhf is x/2·(1 + tanh(√(2/π)·(x + 0.044715·x³))), computed as
// x·sigmoid(2·√(2/π)·(x + 0.044715·x³)), the same function.
func geluTanhf(x float32) float32 {
	z := float32(x * FMA32(geluTanhC2, float32(x*x), geluTanhC1))
	return float32(x * sigmoidf(z))
}

// GeluFast's polynomials: gelu(x) = max(x, 0) - g(|x|) with g(a) =
// a·Φ(-a) = a/2·erfc(a/√2), the part of the Gelu that a ReLU lacks, and
// on each interval [k, k+1) of [0, 8) (k = 0..7) g(k + r) is a polynomial
// of degree 7 in r (a near-minimax fit; absolute error 5e-8, the
// constant of interval 0 exactly 0, so that gelu(0) = 0). Beyond 8, g <
// 5e-15: |x| is clamped to geluFastMax, the largest float32 below 8.
// Line k holds interval k's coefficients, of r⁰ to r⁷; _asm reads the
// same text, so that the assembly's tables are these values.
const (
	geluFastMax    = 7.9999995 // 0x40ffffff
	geluFastCoeffs = `
	0 0.50000006 -0.398948073 9.58463133e-05 0.0658799261 0.00191609049 -0.0132113565 0.00292275078
	0.158655271 -0.0833170265 -0.120952062 0.120709337 -0.0190175883 -0.0187894888 0.00960293598 -0.00139110116
	0.0455002561 -0.0852309093 0.0539720543 0.000154408306 -0.018623421 0.0104012126 -0.00223230035 0.000108390741
	0.00404969603 -0.0119458809 0.0155163994 -0.0111193908 0.00422075018 -0.000343279709 -0.000362449093 0.000110841916
	0.00012668487 -0.000503636722 0.000936544151 -0.00106857345 0.000817672932 -0.000423004501 0.000136783696 -2.10378366e-05
	1.43323439e-06 -7.14393627e-06 1.7033095e-05 -2.54886982e-05 2.59411245e-05 -1.77516613e-05 7.37911932e-06 -1.39637484e-06
	5.9191021e-09 -3.54141676e-08 1.02115358e-07 -1.84561685e-07 2.23265289e-07 -1.76358185e-07 8.17970118e-08 -1.67540346e-08
	8.95685782e-12 -6.2427459e-11 2.09544826e-10 -4.35845221e-10 5.93268268e-10 -5.1311827e-10 2.54142374e-10 -5.45173351e-11
`
)

// geluFastTab[j][k] is the coefficient of r^j on interval k (the layout
// of the assembly's tables: one vector of the 8 intervals per power).
var geluFastTab = func() (t [8][8]float32) {
	f := strings.Fields(geluFastCoeffs)
	if len(f) != 64 {
		panic("vecmath: geluFastCoeffs does not hold 64 numbers")
	}
	for i, s := range f {
		v, err := strconv.ParseFloat(s, 32)
		if err != nil {
			panic("vecmath: geluFastCoeffs: " + err.Error())
		}
		t[i%8][i/8] = float32(v)
	}
	return t
}()

// geluFastf is max(x, 0) - g(min(|x|, geluFastMax)), g the polynomial of
// the interval: k = trunc(a), r = a - k (exact), Horner's scheme in r
// with FMA32. A NaN returns itself; the assembly's NaN travels through r.
func geluFastf(x float32) float32 {
	if x != x {
		return x
	}
	a := min(abs(x), geluFastMax)
	k := int32(a)
	r := a - float32(k)
	p := geluFastTab[7][k]
	for j := 6; j >= 0; j-- {
		p = FMA32(p, r, geluFastTab[j][k])
	}
	return max(x, 0) - p
}

// The generic kernels apply their function to every element (dst and x,
// or a and b, have the same length; dst may be an input).

// each sets dst[i] = f(x[i]).
func each(dst, x []float32, f func(float32) float32) {
	for i, v := range x {
		dst[i] = f(v)
	}
}

func expGeneric(dst, x []float32)      { each(dst, x, expf) }
func erfGeneric(dst, x []float32)      { each(dst, x, erff) }
func tanhGeneric(dst, x []float32)     { each(dst, x, tanhf) }
func sigmoidGeneric(dst, x []float32)  { each(dst, x, sigmoidf) }
func siluGeneric(dst, x []float32)     { each(dst, x, siluf) }
func geluGeneric(dst, x []float32)     { each(dst, x, geluf) }
func geluTanhGeneric(dst, x []float32) { each(dst, x, geluTanhf) }
func geluFastGeneric(dst, x []float32) { each(dst, x, geluFastf) }

// The reductions accumulate into lanes: acc[i%16] for element i.

// maxGeneric: acc[l] = x[i] where x[i] > acc[l] (NaN never is).
func maxGeneric(acc *[lanes]float32, x []float32) {
	for i, v := range x {
		if v > acc[i%lanes] {
			acc[i%lanes] = v
		}
	}
}

// sumGeneric: acc[l] += x[i].
func sumGeneric(acc *[lanes]float32, x []float32) {
	for i, v := range x {
		acc[i%lanes] += v
	}
}

// sqDevGeneric: acc[l] += (x[i] - m)².
func sqDevGeneric(acc *[lanes]float32, x []float32, m float32) {
	for i, v := range x {
		d := v - m
		acc[i%lanes] += float32(d * d)
	}
}

// expSumGeneric: dst[i] = e^(scale·x[i] - shift); acc[l] += dst[i].
func expSumGeneric(acc *[lanes]float32, dst, x []float32, scale, shift float32) {
	for i, v := range x {
		e := expf(float32(scale*v) - shift)
		dst[i] = e
		acc[i%lanes] += e
	}
}

// fold16 adds the upper half of the lanes to the lower half until one is
// left: acc[j] += acc[j+w] for w = 8, 4, 2, 1.
func fold16(acc *[lanes]float32) float32 {
	for w := lanes / 2; w >= 1; w /= 2 {
		for j := range w {
			acc[j] += acc[j+w]
		}
	}
	return acc[0]
}

// maxFold16 is fold16 with acc[j] = max(acc[j], acc[j+w]), Go's max
// (+0 above -0; the lanes hold no NaN): branch-free, where a compare and
// branch per step mispredicts on data.
func maxFold16(acc *[lanes]float32) float32 {
	for w := lanes / 2; w >= 1; w /= 2 {
		for j := range w {
			acc[j] = max(acc[j], acc[j+w])
		}
	}
	return acc[0]
}

// normGeneric: dst[i] = ((x[i] - m)·s)·w[i] + b[i].
func normGeneric(dst, x, w, b []float32, m, s float32) {
	for i, v := range x {
		dst[i] = float32(float32((v-m)*s)*w[i]) + b[i]
	}
}

// The binary kernels: dst[i] = a[i] op b[i], or with a scalar operand.

// pairs sets dst[i] = f(a[i], b[i]).
func pairs(dst, a, b []float32, f func(a, b float32) float32) {
	for i, v := range a {
		dst[i] = f(v, b[i])
	}
}

// withScalar sets dst[i] = f(a[i], s).
func withScalar(dst, a []float32, s float32, f func(a, s float32) float32) {
	for i, v := range a {
		dst[i] = f(v, s)
	}
}

func add(a, b float32) float32 { return a + b }
func sub(a, b float32) float32 { return a - b }
func mul(a, b float32) float32 { return a * b }
func div(a, b float32) float32 { return a / b }
func bus(a, b float32) float32 { return b - a }
func vid(a, b float32) float32 { return b / a }

func addGeneric(dst, a, b []float32) { pairs(dst, a, b, add) }
func subGeneric(dst, a, b []float32) { pairs(dst, a, b, sub) }
func mulGeneric(dst, a, b []float32) { pairs(dst, a, b, mul) }
func divGeneric(dst, a, b []float32) { pairs(dst, a, b, div) }

func addScalarGeneric(dst, a []float32, s float32) { withScalar(dst, a, s, add) }
func subScalarGeneric(dst, a []float32, s float32) { withScalar(dst, a, s, sub) }
func scalarSubGeneric(dst, a []float32, s float32) { withScalar(dst, a, s, bus) }
func mulScalarGeneric(dst, a []float32, s float32) { withScalar(dst, a, s, mul) }
func divScalarGeneric(dst, a []float32, s float32) { withScalar(dst, a, s, div) }
func scalarDivGeneric(dst, a []float32, s float32) { withScalar(dst, a, s, vid) }
