package nn

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
	"github.com/tensorquant/tensorquant/internal/vec"
)

// winogradCases are 3×3 stride-1 convolutions that WinogradFits: odd and
// even output sizes (a last tile row or column cut off), outputs of one
// element, no and asymmetric padding, images of several GEMM blocks and
// batches of small images that share a block.
func winogradCases() []convCase {
	c := func(n, inC, outC int, in, pad, padEnd []int) convCase {
		return convCase{n: n, inC: inC, outC: outC, groups: 1, in: in, kernel: []int{3, 3}, stride: []int{1, 1},
			pad: pad, padEnd: padEnd, dil: []int{1, 1}, bias: true}
	}
	p1 := []int{1, 1}
	return []convCase{
		c(2, 32, 32, []int{8, 8}, p1, p1),
		c(3, 33, 40, []int{7, 7}, p1, p1),
		c(2, 32, 35, []int{5, 6}, []int{0, 0}, []int{0, 0}),
		c(1, 40, 32, []int{1, 1}, p1, p1),
		c(2, 32, 32, []int{3, 3}, []int{0, 0}, []int{0, 0}),
		c(4, 32, 32, []int{3, 3}, []int{0, 0}, []int{0, 0}),
		c(2, 48, 32, []int{9, 4}, []int{0, 1}, []int{2, 0}),
		c(1, 32, 64, []int{57, 31}, p1, p1),
		c(7, 64, 32, []int{6, 5}, p1, p1),
	}
}

// TestWinograd compares the Winograd path with the im2col path
// (ForwardPacked with PackConvWeights), finished by a bias, a residual
// and ReLU: within 2⁻¹⁹ of the convolution of |x| with |w| (the scale of
// the sums' rounding), on every kernel family, one to three goroutines;
// and a batch equals its samples run one at a time, and in two runs on
// three goroutines, bit for bit (the blocks group samples differently).
func TestWinograd(t *testing.T) {
	relu := vec.Act{Kind: vec.Relu}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for i, k := range winogradCases() {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(i), 23))
				c, _ := k.conv()
				if !c.winogradFits() {
					t.Fatalf("%+v: does not fit Winograd's F(2×2, 3×3)", k)
				}
				x, w := randSlice(rng, k.n*k.inC*prodOf(k.in)), randSlice(rng, k.outC*k.inC*9)
				bias := randSlice(rng, k.outC)
				size := k.n * k.outC * c.SmallN()
				add := randSlice(rng, size)
				plan := c.Plan()
				ref := func(x, w []float32, f *Fused) []float32 {
					y := make([]float32, size)
					iw := PackConvWeights(k.inC, k.outC, 1, 9, false, w)
					plan.ForwardPacked(y, x, iw, f, 0, k.n, 1, make([]float32, plan.Scratch(iw, k.n, 1)))
					return y
				}
				want := ref(x, w, &Fused{Bias: bias, Add: add, Act: relu})
				scale := ref(absSlice(x), absSlice(w), nil)
				cw := PackWinogradWeights(k.inC, k.outC, w)
				var first []float32
				for _, threads := range []int{1, 2, 3} {
					got := nanSlice(size)
					plan.ForwardPacked(got, x, cw, &Fused{Bias: bias, Add: add, Act: relu}, 0, k.n, threads, nanSlice(plan.Scratch(cw, k.n, threads)))
					for j := range want {
						if d := math.Abs(float64(got[j] - want[j])); !(d <= 0x1p-19*float64(scale[j])) {
							t.Fatalf("threads %d: element %d = %v, im2col's %v (|x|*|w| %v)", threads, j, got[j], want[j], scale[j])
						}
					}
					if first == nil {
						first = got
					}
					sameBits(t, fmt.Sprintf("threads %d against 1", threads), got, first)
				}
				// A Func activation: applied to the finished sums, x².
				pre := nanSlice(size)
				plan.ForwardPacked(pre, x, cw, &Fused{Bias: bias, Add: add}, 0, k.n, 1, nanSlice(plan.Scratch(cw, k.n, 1)))
				for j, v := range pre {
					pre[j] = v * v
				}
				got := nanSlice(size)
				plan.ForwardPacked(got, x, cw, &Fused{Bias: bias, Add: add, Act: squareAct}, 0, k.n, 2, nanSlice(plan.Scratch(cw, k.n, 2)))
				sameBits(t, "Func activation", got, pre)
				got = nanSlice(size)
				for s := range k.n {
					plan.ForwardPacked(got, x, cw, &Fused{Bias: bias, Add: add, Act: relu}, s, s+1, 1, nanSlice(plan.Scratch(cw, 1, 1)))
				}
				sameBits(t, "one sample at a time", got, first)
				// And in two runs (all samples but the last, then the last)
				// on three goroutines with the whole batch's scratch: a run
				// of fewer samples may cut its blocks finer than the batch.
				got = nanSlice(size)
				sc := nanSlice(plan.Scratch(cw, k.n, 3))
				for _, r := range [][2]int{{0, k.n - 1}, {k.n - 1, k.n}} {
					plan.ForwardPacked(got, x, cw, &Fused{Bias: bias, Add: add, Act: relu}, r[0], r[1], 3, sc)
				}
				sameBits(t, "two runs on three goroutines", got, first)
			})
		}
	})
}

// TestWinogradFits checks which convolutions fit Winograd's F(2×2, 3×3),
// and which of those Conv.Winograd admits.
func TestWinogradFits(t *testing.T) {
	for _, k := range []struct {
		inC, outC, hw int
		want          bool
	}{
		{64, 64, 56, true}, {128, 128, 28, true}, {256, 256, 14, true}, {512, 512, 7, false},
		{64, 64, 14, false}, {64, 64, 28, true}, {32, 32, 56, false}, {63, 128, 56, false},
	} {
		c := Conv{Geom: NewGeom([]int{k.hw, k.hw}, []int{k.hw, k.hw}, []int{3, 3}, []int{1, 1}, []int{1, 1}, nil, []int{1, 1}), InC: k.inC, OutC: k.outC, Groups: 1}
		if got := c.Winograd(); got != k.want {
			t.Errorf("%d to %d channels at %d×%d: Winograd() = %v", k.inC, k.outC, k.hw, k.hw, got)
		}
	}
	// A three-dimensional convolution of depth 1 with a 1×3×3 kernel
	// fits, unless its depth is padded (3 outputs from 1).
	for _, pad := range []int{0, 1} {
		c := Conv{Geom: NewGeom([]int{1, 56, 56}, []int{1 + 2*pad, 56, 56}, []int{1, 3, 3}, []int{1, 1, 1}, []int{pad, 1, 1}, nil, []int{1, 1, 1}), InC: 64, OutC: 64, Groups: 1}
		if got := c.winogradFits(); got != (pad == 0) {
			t.Errorf("depth padded by %d: winogradFits() = %v", pad, got)
		}
	}
	one := []int{1, 1}
	for _, k := range []struct {
		inC, outC, groups int
		transposed        bool
		kernel, s, d      []int
		want              bool
	}{
		{32, 32, 1, false, []int{3, 3}, one, one, true},
		{64, 512, 1, false, []int{3, 3}, nil, nil, true},
		{1, 1, 1, false, []int{3, 3}, one, one, true},
		{0, 64, 1, false, []int{3, 3}, one, one, false},
		{64, 64, 2, false, []int{3, 3}, one, one, false},
		{64, 64, 1, true, []int{3, 3}, one, one, false},
		{64, 64, 1, false, []int{3, 3}, []int{2, 2}, one, false},
		{64, 64, 1, false, []int{3, 3}, one, []int{1, 2}, false},
		{64, 64, 1, false, []int{3, 1}, one, one, false},
		{64, 64, 1, false, []int{3}, []int{1}, []int{1}, false},
		{64, 64, 1, false, []int{3, 3, 3}, []int{1, 1, 1}, []int{1, 1, 1}, false},
	} {
		if got := WinogradFits(k.inC, k.outC, k.groups, k.transposed, k.kernel, k.s, k.d); got != k.want {
			t.Errorf("WinogradFits(%+v) = %v", k, got)
		}
	}
}

func absSlice(v []float32) []float32 {
	a := make([]float32, len(v))
	for i, x := range v {
		a[i] = float32(math.Abs(float64(x)))
	}
	return a
}

// transformRun runs the input and the output transform of F(2×2, 3×3) on
// the kernel family selected now: phases ph of th+1 rows of l (plus
// phaseSlack), tile rows [ty0, ty1); M the same 16 planes as V. It
// returns V (16 planes of (ty1-ty0)·l) and the output plane (ho×wo).
func transformRun(ph []float32, th, l, ty0, ty1, ho, wo int, m []float32) (v, y []float32) {
	nb := ty1 - ty0
	k := nb * l
	ld := (k+7)&^7 + 8
	vv := make([]float32, 16*ld)
	winogradInput(vv, ld, ph, make([]float32, 8*(nb+1)*l), (th+1)*l, l, ty0, ty1)
	for xi := range 16 {
		v = append(v, vv[xi*ld:xi*ld+k]...)
	}
	y = make([]float32, ho*wo)
	winogradOutput(y, m, ld, make([]float32, 16*ld), ld, k, l, ty0, ho, wo, nil, nil, &vec.Act{})
	return v, y
}

// checkTransforms compares the transforms of every kernel family with the
// generic code's (vecmath's), bit for bit (NaNs as NaNs) except V's junk
// tile column (the last of each row: the fused kernels read the next
// row where vecmath's reads 0).
func checkTransforms(t *testing.T, data []float32, th, tw, ty0, ty1 int) {
	l := tw + 1
	plane := (th + 1) * l
	ph := make([]float32, 4*plane+phaseSlack)
	copy(ph, data)
	ho, wo := 2*ty1, 2*tw
	k := (ty1 - ty0) * l
	ld := (k+7)&^7 + 8
	m := make([]float32, 16*ld)
	copy(m, data[min(len(data), 4*plane):])
	restore := cpufeat.Use(cpufeat.Generic)
	wantV, wantY := transformRun(ph, th, l, ty0, ty1, ho, wo, m)
	restore()
	for _, impl := range cpufeat.Available()[1:] {
		restore := cpufeat.Use(impl)
		gotV, gotY := transformRun(ph, th, l, ty0, ty1, ho, wo, m)
		restore()
		for i := range wantV {
			if i%l != l-1 && !sameFloat(gotV[i], wantV[i]) {
				t.Fatalf("%v input transform %dx%d tiles, rows %d-%d: V[%d] (plane %d) = %v, want %v", impl, th, tw, ty0, ty1, i, i/k, gotV[i], wantV[i])
			}
		}
		for i := range wantY[2*ty0*wo:] {
			if j := 2*ty0*wo + i; !sameFloat(gotY[j], wantY[j]) {
				t.Fatalf("%v output transform %dx%d tiles, rows %d-%d: y[%d] = %v, want %v", impl, th, tw, ty0, ty1, j, gotY[j], wantY[j])
			}
		}
	}
}

func sameFloat(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
}

// TestWinogradTransforms runs checkTransforms on random data, with NaN,
// infinities, -0, denormals and exact ties of sums among it, for tile
// grids of every width from 1 to 33 (positions per block from 2 to 170,
// around the vector sizes).
func TestWinogradTransforms(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0x1p-140, 0.5, -0.5, 0x1p24, 1}
	for th := 1; th <= 5; th++ {
		for tw := 1; tw <= 33; tw++ {
			data := randSlice(rng, 4*(th+1)*(tw+1)+16*(th*(tw+1)+16))
			for range len(data) / 16 {
				data[rng.IntN(len(data))] = specials[rng.IntN(len(specials))]
			}
			for ty0 := range th {
				checkTransforms(t, data, th, tw, ty0, ty0+1+rng.IntN(th-ty0))
			}
		}
	}
}

// FuzzWinogradTransforms runs checkTransforms on arbitrary float32 bit
// patterns and tile grids.
func FuzzWinogradTransforms(f *testing.F) {
	f.Add([]byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop"), uint8(3), uint8(17), uint8(1))
	f.Add(make([]byte, 4*600), uint8(1), uint8(8), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, th, tw, ty0 uint8) {
		x := make([]float32, len(data)/4)
		for i := range x {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		h, w := 1+int(th)%6, 1+int(tw)%40
		y0 := int(ty0) % h
		checkTransforms(t, x, h, w, y0, h)
	})
}
