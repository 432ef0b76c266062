package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// poolGeoms are pooling geometries: 1-D to 3-D, strides, dilations,
// asymmetric padding, and ceil-mode outputs whose last window extends
// past the end padding.
func poolGeoms() []Geom {
	return []Geom{
		NewGeom([]int{11}, []int{5}, []int{3}, []int{2}, []int{0}, nil, []int{1}),
		NewGeom([]int{11}, []int{6}, []int{3}, []int{2}, []int{1}, []int{0}, []int{1}), // ceil mode
		NewGeom([]int{7, 8}, []int{3, 4}, []int{3, 3}, []int{2, 2}, []int{1, 1}, nil, []int{1, 1}),
		NewGeom([]int{7, 8}, []int{4, 4}, []int{3, 2}, []int{2, 2}, []int{1, 0}, []int{0, 0}, []int{1, 1}), // ceil mode
		NewGeom([]int{9, 10}, []int{5, 6}, []int{3, 3}, []int{1, 1}, []int{1, 2}, []int{0, 1}, []int{2, 2}),
		NewGeom([]int{4, 5, 6}, []int{2, 3, 3}, []int{2, 3, 2}, []int{2, 1, 2}, []int{0, 1, 0}, []int{1, 0, 1}, []int{1, 1, 2}),
		NewGeom([]int{3, 3}, []int{3, 3}, []int{5, 5}, []int{1, 1}, []int{2, 2}, nil, []int{1, 1}), // kernel larger than the input
		NewGeom([]int{4, 4}, []int{1, 1}, []int{4, 4}, []int{1, 1}, []int{0, 0}, nil, []int{1, 1}), // global
		NewGeom([]int{8, 9}, []int{4, 4}, []int{2, 2}, []int{2, 2}, []int{0, 0}, nil, []int{1, 1}), // 2×2 stride 2, an odd width
		NewGeom([]int{7, 6}, []int{3, 3}, []int{2, 2}, []int{2, 2}, []int{0, 0}, nil, []int{1, 1}), // an odd height
		// 2×2 stride 2 with 19 and 16 outputs a row (the AVX2 rows of 8 and
		// their tail), without and with specials.
		NewGeom([]int{6, 38}, []int{3, 19}, []int{2, 2}, []int{2, 2}, []int{0, 0}, nil, []int{1, 1}),
		NewGeom([]int{6, 38}, []int{3, 19}, []int{2, 2}, []int{2, 2}, []int{0, 0}, nil, []int{1, 1}),
		NewGeom([]int{5, 33}, []int{2, 16}, []int{2, 2}, []int{2, 2}, []int{0, 0}, nil, []int{1, 1}),
		NewGeom([]int{5, 33}, []int{2, 16}, []int{2, 2}, []int{2, 2}, []int{0, 0}, nil, []int{1, 1}),
	}
}

// window returns the plane indices a window reads, in scan order, and
// the number of its taps inside the padded input.
func window(g *Geom, od, oh, ow int) (idx []int, padded int) {
	for a := range g.Kernel[0] {
		for b := range g.Kernel[1] {
			for c := range g.Kernel[2] {
				pos := [3]int{od*g.Stride[0] - g.Pad[0] + a*g.Dilation[0], oh*g.Stride[1] - g.Pad[1] + b*g.Dilation[1], ow*g.Stride[2] - g.Pad[2] + c*g.Dilation[2]}
				in, inPad := true, true
				for i, p := range pos {
					in = in && p >= 0 && p < g.Big[i]
					inPad = inPad && p >= -g.Pad[i] && p < g.Big[i]+g.PadEnd[i]
				}
				if inPad {
					padded++
				}
				if in {
					idx = append(idx, (pos[0]*g.Big[1]+pos[1])*g.Big[2]+pos[2])
				}
			}
		}
	}
	return idx, padded
}

// specials mixes NaN, ±Inf, ±0 and repeated values into x.
func specials(rng *rand.Rand, x []float32) {
	vals := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1, 1}
	for i := range x {
		if rng.IntN(8) == 0 {
			x[i] = vals[rng.IntN(len(vals))]
		}
	}
}

func TestPoolsMatchDefinition(t *testing.T) {
	for gi, g := range poolGeoms() {
		t.Run(fmt.Sprint(gi), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(gi), 1))
			planes := 3
			B, P := g.BigN(), g.SmallN()
			x := randSlice(rng, planes*B)
			if gi%2 == 1 {
				specials(rng, x)
			}
			ymax, ymax2, am := make([]float32, planes*P), make([]float32, planes*P), make([]int32, planes*P)
			MaxPool(ymax, am, x, &g, 0, planes)
			MaxPool(ymax2, nil, x, &g, 0, planes)
			yavg := map[bool][]float32{false: make([]float32, planes*P), true: make([]float32, planes*P)}
			for cp, y := range yavg {
				AvgPool(y, x, &g, cp, 0, planes)
			}
			for p := range planes {
				plane := x[p*B : (p+1)*B]
				o := 0
				for od := range g.Small[0] {
					for oh := range g.Small[1] {
						for ow := range g.Small[2] {
							idx, padded := window(&g, od, oh, ow)
							best, bi := float32(math.Inf(-1)), -1
							var sum float32
							for _, i := range idx {
								if v := plane[i]; v > best || v != v {
									best, bi = v, i
								}
								sum += plane[i]
							}
							j := p*P + o
							if math.Float32bits(ymax[j]) != math.Float32bits(best) || int(am[j]) != bi {
								t.Fatalf("max plane %d output %d: %v at %d, want %v at %d", p, o, ymax[j], am[j], best, bi)
							}
							if math.Float32bits(ymax2[j]) != math.Float32bits(best) {
								t.Fatalf("max without argmax plane %d output %d: %v, want %v", p, o, ymax2[j], best)
							}
							for cp, div := range map[bool]int{false: len(idx), true: padded} {
								want := sum / float32(div)
								if got := yavg[cp][j]; math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
									t.Fatalf("avg (count_include_pad %v) plane %d output %d: %v, want %v", cp, p, o, got, want)
								}
							}
							o++
						}
					}
				}
			}
		})
	}
}

// TestPoolBackwardAdjoint checks the average pooling gradient by the
// adjoint identity <dy, avg(x)> = <dx, x> and the max pooling gradient
// by the argmax.
func TestPoolBackwardAdjoint(t *testing.T) {
	for gi, g := range poolGeoms() {
		rng := rand.New(rand.NewPCG(uint64(gi), 2))
		planes := 2
		x, dy := randSlice(rng, planes*g.BigN()), randSlice(rng, planes*g.SmallN())
		for _, cp := range []bool{false, true} {
			y, dx := make([]float32, len(dy)), make([]float32, len(x))
			AvgPool(y, x, &g, cp, 0, planes)
			AvgPoolBackward(dx, dy, &g, cp, 0, planes)
			var l, r, mag float64
			for i := range y {
				l += float64(dy[i]) * float64(y[i])
				mag += math.Abs(float64(dy[i]) * float64(y[i]))
			}
			for i := range x {
				r += float64(dx[i]) * float64(x[i])
			}
			if math.Abs(l-r) > 1e-5*(mag+1) {
				t.Errorf("geometry %d, count_include_pad %v: <dy, avg(x)> = %v, <dx, x> = %v", gi, cp, l, r)
			}
		}
		y, am, dx := make([]float32, len(dy)), make([]int32, len(dy)), make([]float32, len(x))
		MaxPool(y, am, x, &g, 0, planes)
		MaxPoolBackward(dx, dy, am, g.SmallN(), g.BigN())
		want := make([]float32, len(x))
		for i, v := range dy {
			want[(i/g.SmallN())*g.BigN()+int(am[i])] += v
		}
		for i := range dx {
			if dx[i] != want[i] {
				t.Fatalf("geometry %d: max pooling dx[%d] = %v, want %v", gi, i, dx[i], want[i])
			}
		}
	}
}

func TestMaxPoolIntegers(t *testing.T) {
	g := NewGeom([]int{5, 5}, []int{3, 3}, []int{3, 3}, []int{2, 2}, []int{1, 1}, nil, []int{1, 1})
	x := make([]uint8, 25)
	for i := range x {
		x[i] = uint8(i * 7 % 256)
	}
	y := make([]uint8, 9)
	MaxPool(y, nil, x, &g, 0, 1)
	// Windows of rows {r-1, r, r+1} x cols {c-1, c, c+1} at (2i, 2j).
	for i := range 3 {
		for j := range 3 {
			var want uint8
			for a := 2*i - 1; a <= 2*i+1; a++ {
				for b := 2*j - 1; b <= 2*j+1; b++ {
					if a >= 0 && a < 5 && b >= 0 && b < 5 {
						want = max(want, x[a*5+b])
					}
				}
			}
			if y[i*3+j] != want {
				t.Errorf("output (%d, %d) = %d, want %d", i, j, y[i*3+j], want)
			}
		}
	}
	z := make([]int8, 2)
	MaxPlanes(z, []int8{-5, -3, -9, -128, -128, -128}, 3, 0, 2)
	if z[0] != -3 || z[1] != -128 {
		t.Errorf("MaxPlanes int8 = %v, want [-3 -128]", z)
	}
	f := make([]float32, 2)
	MaxPlanes(f, []float32{1, float32(math.NaN()), 2, 3}, 2, 0, 2)
	if f[0] == f[0] || f[1] != 3 {
		t.Errorf("MaxPlanes float32 = %v, want [NaN 3]", f)
	}
}

func TestAdaptiveAvgPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, c := range []struct{ in, out [3]int }{
		{[3]int{1, 1, 10}, [3]int{1, 1, 3}},
		{[3]int{1, 7, 9}, [3]int{1, 3, 4}},
		{[3]int{4, 5, 6}, [3]int{2, 3, 5}},
		{[3]int{3, 4, 5}, [3]int{1, 1, 1}},
		{[3]int{1, 2, 3}, [3]int{1, 4, 5}},
	} {
		B, P := c.in[0]*c.in[1]*c.in[2], c.out[0]*c.out[1]*c.out[2]
		x := randSlice(rng, 2*B)
		y := make([]float32, 2*P)
		AdaptiveAvgPool(y, x, c.in, c.out, 0, 2)
		for p := range 2 {
			o := 0
			for od := range c.out[0] {
				for oh := range c.out[1] {
					for ow := range c.out[2] {
						var sum float32
						n := 0
						for d := od * c.in[0] / c.out[0]; d < ((od+1)*c.in[0]+c.out[0]-1)/c.out[0]; d++ {
							for h := oh * c.in[1] / c.out[1]; h < ((oh+1)*c.in[1]+c.out[1]-1)/c.out[1]; h++ {
								for w := ow * c.in[2] / c.out[2]; w < ((ow+1)*c.in[2]+c.out[2]-1)/c.out[2]; w++ {
									sum += x[p*B+(d*c.in[1]+h)*c.in[2]+w]
									n++
								}
							}
						}
						if want := sum / float32(n); y[p*P+o] != want {
							t.Errorf("in %v out %v plane %d output %d: %v, want %v", c.in, c.out, p, o, y[p*P+o], want)
						}
						o++
					}
				}
			}
		}
		dy := randSlice(rng, 2*P)
		dx := make([]float32, 2*B)
		AdaptiveAvgPoolBackward(dx, dy, c.in, c.out, 0, 2)
		var l, r float64
		for i := range y {
			l += float64(dy[i]) * float64(y[i])
		}
		for i := range x {
			r += float64(dx[i]) * float64(x[i])
		}
		if math.Abs(l-r) > 1e-4*(math.Abs(l)+1) {
			t.Errorf("in %v out %v: <dy, y> = %v, <dx, x> = %v", c.in, c.out, l, r)
		}
	}
}

func TestNormalize(t *testing.T) {
	x := []float32{1, -2, 3.5, 0}
	mean, variance, squares := Moments(append([]float32{9, 9}, x...), 1, 3, 2, 1) // channel 1 of [1, 3, 2]: {1, -2}
	if mean != -0.5 || variance != 2.25 || squares != 4.5 {
		t.Errorf("Moments = %v, %v, %v, want -0.5, 2.25, 4.5", mean, variance, squares)
	}
	mean, variance, _ = Moments(x, 2, 2, 1, 0) // channel 0 of [2, 2, 1]: {1, 3.5}
	if mean != 2.25 || variance != 1.5625 {
		t.Errorf("Moments across samples = %v, %v, want 2.25, 1.5625", mean, variance)
	}
	inv := InvStd(3, 1)
	if inv != 0.5 {
		t.Errorf("InvStd(3, 1) = %v", inv)
	}
	y, xhat, y2 := make([]float32, 4), make([]float32, 4), make([]float32, 4)
	Normalize(y, xhat, x, 1, inv, 2, 0.25)
	Normalize(y2, nil, x, 1, inv, 2, 0.25)
	for i, v := range x {
		h := (float64(v) - 1) * 0.5
		if xhat[i] != float32(h) || y[i] != float32(h*2+0.25) || y2[i] != y[i] {
			t.Errorf("element %d: y %v xhat %v (without xhat %v), want %v and %v", i, y[i], xhat[i], y2[i], float32(h*2+0.25), float32(h))
		}
	}
}

// BenchmarkMaxPoolArgmax is max pooling with the argmax a backward pass
// reads, on ReLU outputs (half of them zero): the Fashion-MNIST CNN's
// 2×2 pools at batch 32 and ResNet-18's 3×3 stride-2 pool.
func BenchmarkMaxPoolArgmax(b *testing.B) {
	benchMaxPool(b, 512, true)
}

// BenchmarkMaxPool is max pooling without the argmax (inference), on ReLU
// outputs: the Fashion-MNIST CNN's 2×2 pool of 16 planes of 28×28 and
// ResNet-18's 3×3 stride-2 pool.
func BenchmarkMaxPool(b *testing.B) {
	benchMaxPool(b, 16, false)
}

// benchMaxPool runs MaxPool on a 2×2 pool of planes28 planes of 28×28
// and of twice as many of 14×14 (the Fashion-MNIST CNN's pools), and a
// 3×3 stride-2 pool of 64 planes of 112×112 (padding 1), with the
// argmax or without.
func benchMaxPool(b *testing.B, planes28 int, argmax bool) {
	for _, c := range []struct {
		name   string
		planes int
		g      Geom
	}{
		{fmt.Sprintf("k2s2_28x28x%d", planes28), planes28, NewGeom([]int{28, 28}, []int{14, 14}, []int{2, 2}, []int{2, 2}, []int{0, 0}, nil, []int{1, 1})},
		{fmt.Sprintf("k2s2_14x14x%d", 2*planes28), 2 * planes28, NewGeom([]int{14, 14}, []int{7, 7}, []int{2, 2}, []int{2, 2}, []int{0, 0}, nil, []int{1, 1})},
		{"k3s2p1_112x112x64", 64, NewGeom([]int{112, 112}, []int{56, 56}, []int{3, 3}, []int{2, 2}, []int{1, 1}, nil, []int{1, 1})},
	} {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, 4))
			x := make([]float32, c.planes*c.g.BigN())
			for i := range x {
				x[i] = max(0, float32(rng.NormFloat64()))
			}
			y := make([]float32, c.planes*c.g.SmallN())
			var am []int32
			if argmax {
				am = make([]int32, len(y))
			}
			for b.Loop() {
				MaxPool(y, am, x, &c.g, 0, c.planes)
			}
			b.SetBytes(int64(4 * len(x)))
		})
	}
}

// TestMaxPlaneK2S2ArgLengths runs maxPlaneK2S2Arg (the training graph's
// 2×2 stride-2 max pooling with its argmax) on rows of 0 to 40 outputs,
// on every kernel family, against the definition: from -Inf and index -1,
// the window's four taps in scan order, each taken where it is greater
// or NaN. The planes have an odd extra column and row that no window
// reads, and mix NaN, ±Inf, ±0 and ties.
func TestMaxPlaneK2S2ArgLengths(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for s2 := range 41 {
			const s1 = 2
			b2 := 2*s2 + 1
			x := randSlice(rng, (2*s1+1)*b2)
			specials(rng, x)
			y, am := make([]float32, s1*s2), make([]int32, s1*s2)
			maxPlaneK2S2Arg(y, am, x, s1, s2, b2)
			for oh := range s1 {
				for ow := range s2 {
					best, bi := float32(math.Inf(-1)), int32(-1)
					for _, i := range []int{2*oh*b2 + 2*ow, 2*oh*b2 + 2*ow + 1, (2*oh+1)*b2 + 2*ow, (2*oh+1)*b2 + 2*ow + 1} {
						if v := x[i]; v > best || v != v {
							best, bi = v, int32(i)
						}
					}
					j := oh*s2 + ow
					if math.Float32bits(y[j]) != math.Float32bits(best) || am[j] != bi {
						t.Fatalf("%d outputs a row: output (%d, %d) is %v at %d, want %v at %d", s2, oh, ow, y[j], am[j], best, bi)
					}
				}
			}
		}
	})
}
