package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// convCase is a convolution of a batch, described per spatial dimension.
type convCase struct {
	n, inC, outC, groups                 int
	in, kernel, stride, pad, padEnd, dil []int
	outPad                               []int // transposed only
	transposed, bias                     bool
}

// conv returns the Conv of the case and its output's spatial sizes.
func (k *convCase) conv() (Conv, []int) {
	out := make([]int, len(k.in))
	for i := range k.in {
		span := k.dil[i]*(k.kernel[i]-1) + 1
		if k.transposed {
			out[i] = (k.in[i]-1)*k.stride[i] + span + k.outPad[i] - k.pad[i] - k.padEnd[i]
		} else {
			out[i] = (k.in[i]+k.pad[i]+k.padEnd[i]-span)/k.stride[i] + 1
		}
	}
	big, small := k.in, out
	if k.transposed {
		big, small = out, k.in
	}
	return Conv{Geom: NewGeom(big, small, k.kernel, k.stride, k.pad, k.padEnd, k.dil),
		InC: k.inC, OutC: k.outC, Groups: k.groups, Transposed: k.transposed}, out
}

func randSlice(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func prodOf(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// naiveConv computes the case by its definition in float64, with the sum
// of |terms| of every output (a bound for float32 rounding): for each
// pair of an input and an output position and a tap, o·s - p + j·d = i
// (convolution: i input, o output; transposed: the other way round).
func naiveConv(k *convCase, x, w, bias []float32, out []int) (y, mag []float64) {
	dims := len(k.in)
	G := k.groups
	cin, cout := k.inC/G, k.outC/G
	inN, outN, kN := prodOf(k.in), prodOf(out), prodOf(k.kernel)
	y, mag = make([]float64, k.n*k.outC*outN), make([]float64, k.n*k.outC*outN)
	coord := func(flat int, shape []int) []int {
		c := make([]int, len(shape))
		for i := len(shape) - 1; i >= 0; i-- {
			c[i] = flat % shape[i]
			flat /= shape[i]
		}
		return c
	}
	for n := range k.n {
		for g := range G {
			for ci := range cin {
				for co := range cout {
					for ip := range inN {
						ic := coord(ip, k.in)
						xv := float64(x[(n*k.inC+g*cin+ci)*inN+ip])
						for op := range outN {
							oc := coord(op, out)
							for kp := range kN {
								kc := coord(kp, k.kernel)
								ok := true
								for d := range dims {
									if k.transposed {
										ok = ok && ic[d]*k.stride[d]-k.pad[d]+kc[d]*k.dil[d] == oc[d]
									} else {
										ok = ok && oc[d]*k.stride[d]-k.pad[d]+kc[d]*k.dil[d] == ic[d]
									}
								}
								if !ok {
									continue
								}
								var wv float64
								if k.transposed {
									wv = float64(w[((g*cin+ci)*cout+co)*kN+kp])
								} else {
									wv = float64(w[((g*cout+co)*cin+ci)*kN+kp])
								}
								j := (n*k.outC+g*cout+co)*outN + op
								y[j] += xv * wv
								mag[j] += math.Abs(xv * wv)
							}
						}
					}
				}
			}
		}
	}
	if bias != nil {
		for j := range y {
			b := float64(bias[(j/outN)%k.outC])
			y[j] += b
			mag[j] += math.Abs(b)
		}
	}
	return y, mag
}

func convCases() []convCase {
	one := func(v, n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	c := func(n, inC, outC, groups int, in, kernel, stride, pad, padEnd, dil []int, bias bool) convCase {
		return convCase{n: n, inC: inC, outC: outC, groups: groups, in: in, kernel: kernel, stride: stride, pad: pad, padEnd: padEnd, dil: dil,
			outPad: one(0, len(in)), bias: bias}
	}
	t := func(k convCase, outPad ...int) convCase {
		k.transposed, k.outPad = true, outPad
		return k
	}
	return []convCase{
		c(2, 3, 5, 1, []int{9}, []int{3}, []int{1}, []int{0}, []int{0}, []int{1}, true),
		c(2, 4, 6, 2, []int{11}, []int{4}, []int{3}, []int{2}, []int{1}, []int{2}, true),
		c(3, 3, 8, 1, []int{7, 6}, []int{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}, []int{1, 1}, true),
		c(2, 6, 4, 2, []int{8, 9}, []int{3, 2}, []int{2, 3}, []int{1, 2}, []int{0, 1}, []int{1, 2}, false),
		c(2, 2, 3, 1, []int{5, 6, 7}, []int{2, 3, 3}, []int{1, 2, 1}, []int{1, 0, 1}, []int{0, 1, 1}, []int{1, 1, 1}, true),
		// Depthwise, with and without a channel multiplier, strided, dilated.
		c(2, 5, 5, 5, []int{9, 8}, []int{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}, []int{1, 1}, true),
		c(2, 4, 8, 4, []int{9, 10}, []int{3, 3}, []int{2, 2}, []int{1, 0}, []int{0, 1}, []int{1, 2}, false),
		c(1, 3, 6, 3, []int{12}, []int{5}, []int{2}, []int{2}, []int{2}, []int{1}, true),
		c(1, 2, 2, 2, []int{4, 5, 6}, []int{3, 2, 3}, []int{1, 2, 2}, []int{1, 1, 0}, []int{1, 0, 2}, []int{2, 1, 1}, true),
		// A kernel larger than the input with padding: taps that read only padding.
		c(1, 2, 2, 2, []int{2, 2}, []int{5, 5}, []int{1, 1}, []int{2, 2}, []int{2, 2}, []int{1, 1}, false),
		t(c(2, 3, 4, 1, []int{5}, []int{3}, []int{2}, []int{0}, []int{0}, []int{1}, true), 1),
		t(c(2, 4, 6, 2, []int{4, 5}, []int{3, 3}, []int{2, 2}, []int{1, 1}, []int{0, 1}, []int{1, 1}, true), 1, 1),
		t(c(1, 2, 2, 1, []int{3, 4}, []int{2, 3}, []int{1, 2}, []int{0, 0}, []int{0, 0}, []int{3, 1}, false), 2, 1),
		t(c(1, 2, 3, 1, []int{3, 4, 3}, []int{2, 2, 3}, []int{2, 2, 2}, []int{0, 1, 1}, []int{1, 0, 1}, []int{1, 1, 1}, true), 0, 1, 1),
		t(c(2, 3, 3, 3, []int{4, 4}, []int{3, 3}, []int{2, 2}, []int{1, 1}, []int{1, 1}, []int{1, 1}, true), 1, 1),
	}
}

func TestConvForwardMatchesDefinition(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for i, k := range convCases() {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(i), 7))
				c, out := k.conv()
				wn := k.outC * k.inC / k.groups * prodOf(k.kernel)
				x, w := randSlice(rng, k.n*k.inC*prodOf(k.in)), randSlice(rng, wn)
				var bias []float32
				if k.bias {
					bias = randSlice(rng, k.outC)
				}
				want, mag := naiveConv(&k, x, w, bias, out)
				cols, tmp := c.Scratch(k.n)
				y := make([]float32, len(want))
				for i := range y {
					y[i] = float32(math.NaN()) // every element must be written
				}
				c.Forward(y, x, w, bias, make([]float32, cols), make([]float32, tmp), 0, k.n)
				for j, v := range y {
					if d := math.Abs(float64(v) - want[j]); !(d <= 1e-5*mag[j]+1e-30) {
						t.Fatalf("element %d: %v, want %v (bound %g)", j, v, want[j], 1e-5*mag[j])
					}
				}
				// Sample ranges computed separately give the same bits.
				z := make([]float32, len(y))
				per := len(y) / k.n
				for s := range k.n {
					cs, ts := c.Scratch(1)
					c.Forward(z, x, w, bias, make([]float32, cs), make([]float32, ts), s, s+1)
					for j := s * per; j < (s+1)*per; j++ {
						if math.Float32bits(z[j]) != math.Float32bits(y[j]) {
							t.Fatalf("sample %d alone: element %d is %v, the batch gives %v", s, j, z[j], y[j])
						}
					}
				}
			})
		}
	})
}

// TestConvChunks runs a batch whose column matrix exceeds the scratch
// bound (several chunks) and checks it against the samples one by one.
func TestConvChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	k := convCase{n: 7, inC: 64, outC: 8, groups: 1, in: []int{20, 20}, kernel: []int{3, 3}, stride: []int{1, 1},
		pad: []int{1, 1}, padEnd: []int{1, 1}, dil: []int{1, 1}, outPad: []int{0, 0}, bias: true}
	for _, tr := range []bool{false, true} {
		k.transposed = tr
		if tr {
			k.inC, k.outC = k.outC, k.inC
		}
		c, _ := k.conv()
		if c.chunk(k.n) >= k.n {
			t.Fatalf("transposed %v: one chunk of %d samples", tr, c.chunk(k.n))
		}
		x := randSlice(rng, k.n*k.inC*400)
		w := randSlice(rng, k.outC*k.inC*9)
		bias := randSlice(rng, k.outC)
		per := c.OutC * c.SmallN()
		if tr {
			per = c.OutC * c.BigN()
		}
		y, z := make([]float32, k.n*per), make([]float32, k.n*per)
		cols, tmp := c.Scratch(k.n)
		c.Forward(y, x, w, bias, make([]float32, cols), make([]float32, tmp), 0, k.n)
		cols, tmp = c.Scratch(1)
		for s := range k.n {
			c.Forward(z, x, w, bias, make([]float32, cols), make([]float32, tmp), s, s+1)
		}
		for j := range y {
			if math.Float32bits(z[j]) != math.Float32bits(y[j]) {
				t.Fatalf("transposed %v: element %d is %v in chunks, %v alone", tr, j, y[j], z[j])
			}
		}
	}
}

// TestConvBackwardAdjoint checks the gradients by the adjoint identities
// of a linear map y = conv(x, w) + b: <dy, y(x)> = <dx, x> + <dy, b> and
// <dy, y(w)> = <dw, w> + <dy, b>, in float64.
func TestConvBackwardAdjoint(t *testing.T) {
	for i, k := range convCases() {
		rng := rand.New(rand.NewPCG(uint64(i), 9))
		c, out := k.conv()
		wn := k.outC * k.inC / k.groups * prodOf(k.kernel)
		x, w, b := randSlice(rng, k.n*k.inC*prodOf(k.in)), randSlice(rng, wn), randSlice(rng, k.outC)
		y, _ := naiveConv(&k, x, w, b, out)
		dy := randSlice(rng, len(y))
		dx, dw, db := make([]float32, len(x)), make([]float32, len(w)), make([]float32, len(b))
		cols, tmp := c.Scratch(k.n)
		c.Backward(dx, dw, db, dy, x, w, make([]float32, cols), make([]float32, tmp), k.n)
		var lhs, rx, rw, rb, mag float64
		outN := len(y) / (k.n * k.outC)
		for j, v := range y {
			lhs += float64(dy[j]) * v
			rb += float64(dy[j]) * float64(b[(j/outN)%k.outC])
			mag += math.Abs(float64(dy[j]) * v)
		}
		for j := range x {
			rx += float64(dx[j]) * float64(x[j])
		}
		for j := range w {
			rw += float64(dw[j]) * float64(w[j])
		}
		var sb float64
		for j := range b {
			sb += float64(db[j]) * float64(b[j])
		}
		for name, got := range map[string]float64{"dx": rx + rb, "dw": rw + rb, "db": sb} {
			want := lhs
			if name == "db" {
				want = rb
			}
			if math.Abs(got-want) > 1e-4*(mag+1) {
				t.Errorf("case %d: <%s, ·> = %v, want %v", i, name, got, want)
			}
		}
	}
}

// TestConvDataGrad checks DataGrad and FlipWeights: for every case of
// stride 1 (and a few more: padding at the kernel's extent, none, a 1×1
// kernel, a channel multiplier), the forward pass of DataGrad's
// convolution with the flipped weights, by Forward and by ForwardPacked,
// is the input gradient by its definition (the transposed convolution of
// dy with the same weights, in float64) within float32 rounding, and
// within that of Backward's. The other cases (and groups of more than
// maxDataGradRows output channels) have no DataGrad.
func TestConvDataGrad(t *testing.T) {
	c1 := func(n, inC, outC, groups int, in, kernel, pad, padEnd, dil []int) convCase {
		ones := make([]int, len(in))
		for i := range ones {
			ones[i] = 1
		}
		return convCase{n: n, inC: inC, outC: outC, groups: groups, in: in, kernel: kernel, stride: ones, pad: pad, padEnd: padEnd, dil: dil,
			outPad: make([]int, len(in))}
	}
	cases := append(convCases(),
		c1(2, 3, 4, 1, []int{6, 7}, []int{3, 3}, []int{2, 0}, []int{0, 2}, []int{1, 1}),
		c1(2, 4, 6, 2, []int{5, 6}, []int{3, 2}, []int{0, 0}, []int{0, 0}, []int{2, 1}),
		c1(3, 16, 8, 1, []int{7, 7}, []int{1, 1}, []int{0, 0}, []int{0, 0}, []int{1, 1}),
		c1(2, 4, 8, 4, []int{6, 5}, []int{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}),
		c1(1, 2, 3, 1, []int{3, 4, 5}, []int{2, 2, 3}, []int{1, 0, 2}, []int{0, 1, 1}, []int{1, 1, 1}),
		c1(2, 32, 16, 1, []int{8, 8}, []int{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}),
		c1(1, 66, 32, 1, []int{5, 5}, []int{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}),
		c1(1, 4, 33, 1, []int{5, 5}, []int{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}),
	)
	tested := 0
	for i, k := range cases {
		c, out := k.conv()
		d, ok := c.DataGrad()
		stride1 := !k.transposed && k.outC/k.groups <= maxDataGradRows
		for j := range k.in {
			e := (k.kernel[j] - 1) * k.dil[j]
			stride1 = stride1 && k.stride[j] == 1 && k.pad[j] <= e && k.padEnd[j] <= e
		}
		if ok != stride1 {
			t.Fatalf("case %d: DataGrad reports %v, want %v", i, ok, stride1)
		}
		if !ok {
			continue
		}
		tested++
		rng := rand.New(rand.NewPCG(uint64(i), 11))
		wn := k.outC * k.inC / k.groups * prodOf(k.kernel)
		x, w := randSlice(rng, k.n*k.inC*prodOf(k.in)), randSlice(rng, wn)
		dy := randSlice(rng, k.n*k.outC*prodOf(out))
		// The input gradient by its definition: the transposed convolution
		// of dy with w (same layout, same relation between positions).
		kt := k
		kt.inC, kt.outC, kt.in, kt.transposed = k.outC, k.inC, out, true
		want, mag := naiveConv(&kt, dy, w, nil, k.in)
		wf := make([]float32, wn)
		c.FlipWeights(wf, w)
		cols, tmp := d.Scratch(k.n)
		byForward := make([]float32, len(want))
		d.Forward(byForward, dy, wf, nil, make([]float32, cols), make([]float32, tmp), 0, k.n)
		byPacked := make([]float32, len(want))
		cw := PackConvWeights(d.InC, d.OutC, d.Groups, d.KernelN(), false, wf)
		d.Plan().ForwardPacked(byPacked, dy, cw, nil, 0, k.n, 2, make([]float32, d.Plan().Scratch(cw, k.n, 2)))
		cols, tmp = c.Scratch(k.n)
		byBackward := make([]float32, len(want))
		c.Backward(byBackward, make([]float32, wn), nil, dy, x, w, make([]float32, cols), make([]float32, tmp), k.n)
		for name, got := range map[string][]float32{"Forward": byForward, "ForwardPacked": byPacked, "Backward": byBackward} {
			for j, v := range got {
				if e := math.Abs(float64(v) - want[j]); !(e <= 1e-5*mag[j]+1e-30) {
					t.Fatalf("case %d, %s: element %d is %v, want %v (bound %g)", i, name, j, v, want[j], 1e-5*mag[j])
				}
			}
		}
	}
	if tested < 8 {
		t.Fatalf("%d cases with a DataGrad, want at least 8", tested)
	}
}

// TestDepthwiseMatchesGEMM compares the direct depthwise kernel with the
// im2col path on the same convolutions: within float32 rounding (the
// products are the same, the GEMM may fuse them with the sum).
func TestDepthwiseMatchesGEMM(t *testing.T) {
	for i, k := range convCases() {
		c, _ := k.conv()
		if !c.Depthwise() {
			continue
		}
		rng := rand.New(rand.NewPCG(uint64(i), 11))
		x, w := randSlice(rng, k.n*k.inC*prodOf(k.in)), randSlice(rng, k.outC*prodOf(k.kernel))
		var bias []float32
		if k.bias {
			bias = randSlice(rng, k.outC)
		}
		n := k.n * k.outC * c.SmallN()
		direct, viaGEMM := make([]float32, n), make([]float32, n)
		c.Forward(direct, x, w, bias, nil, nil, 0, k.n)
		cols, tmp := c.Scratch(k.n)
		c.gemmForward(viaGEMM, x, w, bias, make([]float32, cols), make([]float32, tmp), 0, k.n)
		for j := range direct {
			if d := math.Abs(float64(direct[j] - viaGEMM[j])); d > 1e-5*(1+math.Abs(float64(direct[j]))) {
				t.Fatalf("case %d element %d: direct %v, GEMM %v", i, j, direct[j], viaGEMM[j])
			}
		}
	}
}

// BenchmarkDepthwise compares the direct depthwise kernels (those of the
// selected family, and the generic code) with im2col and the GEMM on
// MobileNetV2's depthwise shapes (batch 1, one thread).
func BenchmarkDepthwise(b *testing.B) {
	for _, sh := range []struct {
		c, hw, stride int
	}{{32, 112, 1}, {96, 112, 2}, {144, 56, 1}, {192, 28, 1}, {576, 14, 1}, {960, 7, 1}} {
		out := (sh.hw+2-3)/sh.stride + 1
		c := Conv{Geom: NewGeom([]int{sh.hw, sh.hw}, []int{out, out}, []int{3, 3}, []int{sh.stride, sh.stride}, []int{1, 1}, nil, []int{1, 1}),
			InC: sh.c, OutC: sh.c, Groups: sh.c}
		rng := rand.New(rand.NewPCG(1, 1))
		x, w, bias := randSlice(rng, sh.c*sh.hw*sh.hw), randSlice(rng, sh.c*9), randSlice(rng, sh.c)
		y := make([]float32, sh.c*out*out)
		cn, tn := c.Scratch(1)
		cols, tmp := make([]float32, cn), make([]float32, tn)
		name := fmt.Sprintf("c%d_%dx%d_s%d", sh.c, sh.hw, sh.hw, sh.stride)
		b.Run(name+"/direct", func(b *testing.B) {
			b.SetBytes(int64(4 * len(y)))
			for b.Loop() {
				c.Forward(y, x, w, bias, nil, nil, 0, 1)
			}
		})
		b.Run(name+"/generic", func(b *testing.B) {
			defer cpufeat.Use(cpufeat.Generic)()
			b.SetBytes(int64(4 * len(y)))
			for b.Loop() {
				c.Forward(y, x, w, bias, nil, nil, 0, 1)
			}
		})
		b.Run(name+"/im2col", func(b *testing.B) {
			b.SetBytes(int64(4 * len(y)))
			for b.Loop() {
				c.gemmForward(y, x, w, bias, cols, tmp, 0, 1)
			}
		})
	}
}
