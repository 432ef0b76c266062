package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
	"github.com/tensorquant/tensorquant/internal/vec"
)

// packedCases are convCases and the convolutions the fused paths
// distinguish: 1×1 with unit strides (x itself as the GEMM's B), 1×1
// strided, ResNet-like 3×3 and 7×7 stems over several panels of columns.
func packedCases() []convCase {
	c := func(n, inC, outC int, in, kernel, stride, pad []int) convCase {
		ones := make([]int, len(in))
		for i := range ones {
			ones[i] = 1
		}
		return convCase{n: n, inC: inC, outC: outC, groups: 1, in: in, kernel: kernel, stride: stride, pad: pad, padEnd: pad,
			dil: ones, outPad: make([]int, len(in)), bias: true}
	}
	return append(convCases(),
		c(3, 16, 24, []int{7, 9}, []int{1, 1}, []int{1, 1}, []int{0, 0}),
		c(2, 8, 12, []int{13, 11}, []int{1, 1}, []int{2, 2}, []int{0, 0}),
		c(2, 5, 70, []int{14, 15}, []int{3, 3}, []int{1, 1}, []int{1, 1}),
		c(1, 3, 9, []int{33, 31}, []int{7, 7}, []int{2, 2}, []int{3, 3}),
		c(2, 260, 9, []int{5, 6}, []int{1, 1}, []int{1, 1}, []int{0, 0}),
		endPadded(c(1, 2, 3, []int{3}, []int{2}, []int{1}, []int{0}), []int{1}),
		endPadded(c(2, 3, 4, []int{5, 4}, []int{3, 3}, []int{1, 1}, []int{0, 0}), []int{2, 1}),
		// Few output channels (tileProduct): a Fashion-MNIST CNN's layers,
		// 32 input channels at 7×7 (288 steps: two blocks of the depth;
		// samples that share a product) and 16 at 14×14 (one product per
		// sample), mobilenet_v2's first layer (3 channels, stride 2).
		c(3, 32, 32, []int{7, 7}, []int{3, 3}, []int{1, 1}, []int{1, 1}),
		c(2, 16, 32, []int{14, 14}, []int{3, 3}, []int{1, 1}, []int{1, 1}),
		c(1, 3, 32, []int{23, 21}, []int{3, 3}, []int{2, 2}, []int{1, 1}),
		c(2, 1, 16, []int{28, 28}, []int{3, 3}, []int{1, 1}, []int{1, 1}),
		c(1, 64, 48, []int{9, 10}, []int{3, 3}, []int{1, 1}, []int{1, 1}), // 576 steps: three blocks
	)
}

// endPadded is k with padding at the end of each axis only: unit strides
// and no start padding, whose windows still read past x (x cannot be the
// GEMM's B as it stands; it read past x, or panicked, before).
func endPadded(k convCase, padEnd []int) convCase {
	k.padEnd = padEnd
	return k
}

// TestForwardPackedMatchesForward checks the fused forward with prepared
// weights against Forward followed by the residual add and the
// activation, bit for bit, on every kernel family, whole batches and
// single samples, one to three goroutines.
func TestForwardPackedMatchesForward(t *testing.T) {
	relu := vec.Act{Kind: vec.Relu}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for i, k := range packedCases() {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(i), 17))
				c, _ := k.conv()
				kn := prodOf(k.kernel)
				x, w := randSlice(rng, k.n*k.inC*prodOf(k.in)), randSlice(rng, k.outC*k.inC/k.groups*kn)
				var bias []float32
				if k.bias {
					bias = randSlice(rng, k.outC)
				}
				outN := c.SmallN()
				if k.transposed {
					outN = c.BigN()
				}
				size := k.n * k.outC * outN
				add := randSlice(rng, size)
				want := make([]float32, size)
				cols, tmp := c.Scratch(k.n)
				c.Forward(want, x, w, bias, make([]float32, cols), make([]float32, tmp), 0, k.n)
				plain := append([]float32{}, want...)
				square := append([]float32{}, want...)
				for j := range want {
					want[j] = max(want[j]+add[j], 0)
					v := square[j] + add[j]
					square[j] = v * v
				}
				cw := PackConvWeights(k.inC, k.outC, k.groups, kn, k.transposed, w)
				plan := c.Plan()
				for _, threads := range []int{1, 2, 3} {
					got := nanSlice(size)
					plan.ForwardPacked(got, x, cw, &Fused{Bias: bias, Add: add, Act: relu}, 0, k.n, threads, nanSlice(plan.Scratch(cw, k.n, threads)))
					sameBits(t, fmt.Sprintf("threads %d", threads), got, want)
				}
				// An activation of any kernel (Func), applied to whole planes.
				got := nanSlice(size)
				plan.ForwardPacked(got, x, cw, &Fused{Bias: bias, Add: add, Act: squareAct}, 0, k.n, 2, nanSlice(plan.Scratch(cw, k.n, 2)))
				sameBits(t, "Func activation", got, square)
				// Without a finish, sample by sample: Forward's bits.
				got = make([]float32, size)
				for s := range k.n {
					plan.ForwardPacked(got, x, cw, &Fused{Bias: bias}, s, s+1, 1, nanSlice(plan.Scratch(cw, 1, 1)))
				}
				sameBits(t, "one sample at a time", got, plain)
			})
		}
	})
}

// squareAct is a Func activation: x².
var squareAct = vec.Act{Kind: vec.Func, Func: func(d, s []float32) {
	for i, v := range s[:len(d)] {
		d[i] = v * v
	}
}}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for j := range want {
		if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
			t.Fatalf("%s: element %d = %v, want %v", what, j, got[j], want[j])
		}
	}
}

// TestPackColumns compares the implicit im2col's panels with the column
// matrix of Im2col, for blocks of rows and columns at every offset and
// panel widths of every kernel family, into a buffer of NaN.
func TestPackColumns(t *testing.T) {
	for i, k := range packedCases() {
		c, _ := k.conv()
		if c.Transposed || c.Depthwise() {
			continue
		}
		rng := rand.New(rand.NewPCG(uint64(i), 19))
		cg := k.inC / k.groups
		x := randSlice(rng, cg*c.BigN())
		K, P := cg*c.KernelN(), c.SmallN()
		cols := make([]float32, K*P)
		c.Im2col(cols, x, cg, 0, cg, 0, 1)
		spans := c.spans()
		for _, nr := range []int{4, 8, 16, 32} {
			for range 20 {
				k0, j0 := rng.IntN(K), rng.IntN(P)
				kn, jn := 1+rng.IntN(K-k0), 1+rng.IntN(P-j0)
				panels := (jn + nr - 1) / nr
				dst := make([]float32, panels*kn*nr+1)
				for j := range dst {
					dst[j] = float32(math.NaN())
				}
				c.packColumns(dst, x, spans, nr, k0, kn, j0, jn)
				for q := range panels {
					for p := range kn {
						for r := range nr {
							want := float32(0)
							if q*nr+r < jn {
								want = cols[(k0+p)*P+j0+q*nr+r]
							}
							if got := dst[q*kn*nr+p*nr+r]; math.Float32bits(got) != math.Float32bits(want) {
								t.Fatalf("case %d nr %d rows %d+%d cols %d+%d: panel %d row %d col %d = %v, want %v", i, nr, k0, kn, j0, jn, q, p, r, got, want)
							}
						}
					}
				}
				if !math.IsNaN(float64(dst[len(dst)-1])) {
					t.Fatalf("case %d: written past the panels", i)
				}
			}
		}
	}
}

// nanSlice returns n NaNs: scratch and outputs that show an element read
// before it is written, or not written.
func nanSlice(n int) []float32 {
	b := make([]float32, n)
	for i := range b {
		b[i] = float32(math.NaN())
	}
	return b
}

// BenchmarkForwardPacked runs the fused convolution (prepared weights,
// implicit im2col, bias and ReLU) on the distinct convolutions of
// ResNet-18 at 224×224, of the Fashion-MNIST CNN (1→16 at 28×28, 16→32
// at 14×14, 32→32 at 7×7), six 1×1 convolutions of mobilenet_v2 (few
// input channels on large planes, many on small ones) and its first layer
// (3→32, stride 2, at 224×224), one sample on one
// goroutine, as a model's Conv node does; ResNet-18's 3×3 stride-1 ones
// also at batch 8 and by Winograd's F(2×2, 3×3) (path=winograd) beside
// im2col, the Fashion CNN's at batch 8 (its benchmark batch). GFLOP/s
// counts 2 flops per multiply-add of the direct convolution.
func BenchmarkForwardPacked(b *testing.B) {
	c := func(n, inC, outC, k, s, hw int) convCase {
		return convCase{n: n, inC: inC, outC: outC, groups: 1, in: []int{hw, hw}, kernel: []int{k, k},
			stride: []int{s, s}, pad: []int{k / 2, k / 2}, padEnd: []int{k / 2, k / 2}, dil: []int{1, 1}, bias: true}
	}
	var cases []convCase
	for _, n := range []int{1, 8} {
		cases = append(cases, c(n, 3, 64, 7, 2, 224), c(n, 64, 64, 3, 1, 56), c(n, 64, 128, 3, 2, 56), c(n, 64, 128, 1, 2, 56),
			c(n, 128, 128, 3, 1, 28), c(n, 256, 256, 3, 1, 14), c(n, 512, 512, 3, 1, 7), c(n, 1, 16, 3, 1, 28), c(n, 16, 32, 3, 1, 14), c(n, 32, 32, 3, 1, 7), c(n, 16, 96, 1, 1, 112), c(n, 24, 144, 1, 1, 56), c(n, 144, 24, 1, 1, 56), c(n, 64, 384, 1, 1, 14), c(n, 384, 64, 1, 1, 14), c(n, 160, 960, 1, 1, 7), c(n, 3, 32, 3, 2, 224))
	}
	for _, k := range cases {
		conv, out := k.conv()
		paths := []string{"im2col"}
		if conv.Winograd() {
			paths = append(paths, "winograd")
		} else if k.n > 1 && (k.kernel[0] != 3 || k.inC > 32) { // not one of the Fashion CNN's
			continue
		}
		for _, path := range paths {
			b.Run(fmt.Sprintf("n%d/%dx%d_k%d_s%d_%d/path=%s", k.n, k.inC, k.outC, k.kernel[0], k.stride[0], k.in[0], path), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				kn := prodOf(k.kernel)
				x, w, bias := randSlice(rng, k.n*k.inC*prodOf(k.in)), randSlice(rng, k.outC*k.inC*kn), randSlice(rng, k.outC)
				y := make([]float32, k.n*k.outC*prodOf(out))
				cw := PackConvWeights(k.inC, k.outC, 1, kn, false, w)
				if path == "winograd" {
					cw = PackWinogradWeights(k.inC, k.outC, w)
				}
				plan := conv.Plan()
				sc := make([]float32, plan.Scratch(cw, k.n, 1))
				f := &Fused{Bias: bias, Act: vec.Act{Kind: vec.Relu}}
				for b.Loop() {
					plan.ForwardPacked(y, x, cw, f, 0, k.n, 1, sc)
				}
				flops := 2 * float64(len(y)*k.inC*kn)
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
