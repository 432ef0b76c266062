package qgemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/gemm"
	"github.com/tensorquant/tensorquant/internal/nn"
	"github.com/tensorquant/tensorquant/internal/vecmath"
)

// The benchmarks compare the integer products with the float32 ones of
// internal/gemm and internal/nn on the shapes of issue 14, one
// sub-benchmark per implementation: impl=fp32-<cpufeat family> and
// impl=int8-<qgemm family>, for every family this machine runs except the
// generic ones. Both sides run the path a graph runs: weights packed once
// outside the loop (gemm.PackB, nn.PackConvWeights and ForwardPacked for
// float; PackMatrix and PackConv for int8), one thread (threads = 1), the
// int8 products with their requantized uint8 output. Run them with -cpu 1,
// interleaved (-count 5 or more), and compare the ratios within one run
// (see BENCHMARKS.md). Each reports GOP/s: 2 operations per multiply-add.

// matShapes are M×K×N: BERT-base's feed-forward and attention projections
// for 128 tokens, and one token's.
var matShapes = []struct{ m, k, n int }{{128, 768, 3072}, {128, 768, 768}, {1, 768, 3072}, {3136, 24, 144}, {3136, 144, 24}}

// convShapesBench are 3×3 convolutions with padding 1: ResNet's 64
// channels at 56×56 and 256 at 14×14, MobileNet-v2's depthwise 192 at
// 56×56.
var convShapesBench = []struct {
	name          string
	c, hw, groups int
}{{"3x3-64ch@56", 64, 56, 1}, {"3x3-256ch@14", 256, 14, 1}, {"dw3x3-192ch@56", 192, 56, 192}}

// benchFamilies are the float and integer families compared: every
// assembly family this machine runs.
func benchFamilies() (fp []cpufeat.Impl, q []family) {
	fp = cpufeat.Available()[1:]
	q = families()[1:]
	return fp, q
}

func gops(b *testing.B, macs float64) {
	b.ReportMetric(2*macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOP/s")
}

func BenchmarkMatMul(b *testing.B) {
	fps, qs := benchFamilies()
	for _, s := range matShapes {
		rng := rand.New(rand.NewPCG(1, 2))
		af := make([]float32, s.m*s.k)
		bf := make([]float32, s.k*s.n)
		cf := make([]float32, s.m*s.n)
		a8 := make([]uint8, s.m*s.k)
		w8 := make([]int8, s.k*s.n)
		y8 := make([]uint8, s.m*s.n)
		for i := range af {
			af[i] = float32(rng.NormFloat64())
			a8[i] = uint8(rng.IntN(256))
		}
		for i := range bf {
			bf[i] = float32(rng.NormFloat64())
			w8[i] = int8(rng.IntN(256) - 128)
		}
		macs := float64(s.m) * float64(s.k) * float64(s.n)
		shape := fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n)
		for _, f := range fps {
			b.Run(shape+"/impl=fp32-"+f.String(), func(b *testing.B) {
				defer cpufeat.Use(f)()
				p := &gemm.Params{M: s.m, N: s.n, K: s.k, A: af, LdA: s.k, PackedB: gemm.PackB(false, s.k, s.n, bf, s.n), C: cf, LdC: s.n, Threads: 1}
				for b.Loop() {
					gemm.Gemm(p)
				}
				gops(b, macs)
			})
		}
		for _, f := range qs {
			b.Run(shape+"/impl=int8-"+f.String(), func(b *testing.B) {
				defer useFamily(f)()
				w, err := PackMatrix(w8, s.k, s.n, s.n, false, []int8{0})
				if err != nil {
					b.Fatal(err)
				}
				a := Matrix[uint8]{Data: a8, Rows: s.m, Stride: s.k, ZeroPoint: 3}
				q := Requant{Scale: []float32{1.0 / 4096}, ZeroPoint: 128, Min: 0, Max: 255}
				for b.Loop() {
					if err := MatMulQuant(1, a, w, nil, q, y8, s.n); err != nil {
						b.Fatal(err)
					}
				}
				gops(b, macs)
			})
		}
	}
}

func BenchmarkConv(b *testing.B) {
	fps, qs := benchFamilies()
	for _, s := range convShapesBench {
		rng := rand.New(rand.NewPCG(3, 4))
		hw := []int{s.hw, s.hw}
		conv := nn.Conv{Geom: nn.NewGeom(hw, hw, []int{3, 3}, []int{1, 1}, []int{1, 1}, nil, []int{1, 1}), InC: s.c, OutC: s.c, Groups: s.groups}
		wf := make([]float32, s.c*s.c/s.groups*9)
		for i := range wf {
			wf[i] = float32(rng.NormFloat64())
		}
		x := make([]float32, s.c*s.hw*s.hw)
		y := make([]float32, len(x))
		x8 := make([]uint8, len(x))
		for i := range x {
			x[i] = float32(rng.NormFloat64())
			x8[i] = uint8(rng.IntN(256))
		}
		shape := Conv{Batch: 1, InC: s.c, InH: s.hw, InW: s.hw, OutC: s.c, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: s.groups}
		w8 := make([]int8, s.c*s.c/s.groups*9)
		for i := range w8 {
			w8[i] = int8(rng.IntN(256) - 128)
		}
		y8 := make([]uint8, s.c*s.hw*s.hw)
		macs := float64(s.hw*s.hw) * float64(s.c) * float64(s.c/s.groups*9)
		for _, f := range fps {
			b.Run(s.name+"/impl=fp32-"+f.String(), func(b *testing.B) {
				defer cpufeat.Use(f)()
				cw := nn.PackConvWeights(s.c, s.c, s.groups, 9, false, wf)
				plan := conv.Plan()
				scratch := make([]float32, plan.Scratch(cw, 1, 1))
				for b.Loop() {
					plan.ForwardPacked(y, x, cw, nil, 0, 1, 1, scratch)
				}
				gops(b, macs)
			})
		}
		for _, f := range qs {
			for _, l := range []Layout{NCHW, NHWC} {
				b.Run(fmt.Sprintf("%s/impl=int8-%s-%s", s.name, f, []string{"nchw", "nhwc"}[l]), func(b *testing.B) {
					defer useFamily(f)()
					cw, err := PackConv(shape, w8, []int8{0})
					if err != nil {
						b.Fatal(err)
					}
					q := Requant{Scale: []float32{1.0 / 4096}, ZeroPoint: 128, Min: 0, Max: 255}
					for b.Loop() {
						if err := ConvQuant(1, cw, l, l, x8, 3, nil, q, y8); err != nil {
							b.Fatal(err)
						}
					}
					gops(b, macs)
				})
			}
		}
	}
}

// BenchmarkMicroKernel runs each family's micro-kernel alone on one
// panel of depth 768 (6 KiB to 48 KiB of weights, in L1 or L2) with rows
// that stay in L1: the ceiling of the products.
func BenchmarkMicroKernel(b *testing.B) {
	for _, f := range families() {
		b.Run("impl="+f.String(), func(b *testing.B) {
			g := geometries[f]
			const c4 = 192
			row := 4 * c4 * g.es()
			rows := make([]byte, g.mr*row)
			ind := make([]unsafe.Pointer, g.mr)
			for r := range ind {
				ind[r] = unsafe.Pointer(&rows[r*row])
			}
			w := make([]int8, c4*g.nr*4)
			c := make([]int32, g.mr*g.nr)
			for b.Loop() {
				dot(f, g.mr, 1, c4, ind, w, c)
			}
			gops(b, float64(g.mr*g.nr*4*c4))
		})
	}
}

// BenchmarkConvFloatQuant compares the two ways to a convolution's codes
// through a float activation (an EfficientNet layer: SiLU, then the next
// layer's QuantizeLinear), NHWC, batch 8, on this machine's best family:
// "separate" is ConvFloat, then vecmath.SiLU and
// fakequant.QuantizeLinearCodes over the whole output; "fused" is
// ConvFloatQuant with the SiLU as Dequant.Act.
func BenchmarkConvFloatQuant(b *testing.B) {
	for _, s := range []struct {
		name                 string
		inC, outC, k, groups int
		hw                   int
	}{
		{"1x1-24to144@56", 24, 144, 1, 1, 56},
		{"1x1-40to240@28", 40, 240, 1, 1, 28},
		{"dw3x3-144ch@56", 144, 144, 3, 144, 56},
	} {
		shape := Conv{Batch: 8, InC: s.inC, InH: s.hw, InW: s.hw, OutC: s.outC, KH: s.k, KW: s.k, Groups: s.groups}
		if s.k == 3 {
			shape.PadTop, shape.PadLeft, shape.PadBottom, shape.PadRight = 1, 1, 1, 1
		}
		cw, x8 := benchConvOperands(b, rand.New(rand.NewPCG(5, 6)), shape)
		n := 8 * s.outC * s.hw * s.hw
		yf, y8 := make([]float32, n), make([]uint8, n)
		d := Dequant{Scale: []float32{1.0 / 4096}}
		q := Quantize{Scale: 0.05, ZeroPoint: 128}
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d/separate", s.name, threads), func(b *testing.B) {
				for b.Loop() {
					if err := ConvFloat(threads, cw, NHWC, NHWC, x8, 3, d, yf); err != nil {
						b.Fatal(err)
					}
					vecmath.SiLU(yf, yf)
					if err := fakequant.QuantizeLinearCodes(y8, yf, q.Scale, q.ZeroPoint, 0, 255); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("%s/threads=%d/fused", s.name, threads), func(b *testing.B) {
				d := d
				d.Act = func(x []float32) { vecmath.SiLU(x, x) }
				for b.Loop() {
					if err := ConvFloatQuant(threads, cw, NHWC, NHWC, x8, 3, d, q, y8); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkConvQuant runs ConvQuant (int8 codes in and out, NHWC) on the
// 1×1 convolutions of MobileNetV2 at batch 8, one goroutine: products
// with few input channels, whose requantizing epilogue costs about as
// much as their dot products.
func BenchmarkConvQuant(b *testing.B) {
	for _, s := range []struct{ inC, outC, hw int }{{16, 96, 112}, {24, 144, 56}, {144, 24, 56}, {192, 32, 28}, {576, 96, 14}} {
		shape := Conv{Batch: 8, InC: s.inC, InH: s.hw, InW: s.hw, OutC: s.outC, KH: 1, KW: 1, Groups: 1}
		cw, x8 := benchConvOperands(b, rand.New(rand.NewPCG(7, 8)), shape)
		y8 := make([]uint8, 8*s.outC*s.hw*s.hw)
		q := Requant{Scale: []float32{1.0 / 2048}, ZeroPoint: 128, Min: 0, Max: 255}
		b.Run(fmt.Sprintf("1x1-%dto%d@%d", s.inC, s.outC, s.hw), func(b *testing.B) {
			for b.Loop() {
				if err := ConvQuant(1, cw, NHWC, NHWC, x8, 128, nil, q, y8); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(y8))*float64(b.N)/b.Elapsed().Seconds()/1e9, "Goutputs/s")
		})
	}
}

// benchConvOperands returns random int8 weights of the convolution
// shape, packed (zero point 0), and random uint8 activations for it.
func benchConvOperands(b *testing.B, rng *rand.Rand, shape Conv) (*ConvWeights, []uint8) {
	w8 := make([]int8, shape.OutC*shape.InC/shape.Groups*shape.KH*shape.KW)
	for i := range w8 {
		w8[i] = int8(rng.IntN(256) - 128)
	}
	x8 := make([]uint8, shape.Batch*shape.InC*shape.InH*shape.InW)
	for i := range x8 {
		x8[i] = uint8(rng.IntN(256))
	}
	cw, err := PackConv(shape, w8, []int8{0})
	if err != nil {
		b.Fatal(err)
	}
	return cw, x8
}

// BenchmarkDepthwise runs mobilenet_v2's 3×3 depthwise layers (NHWC,
// uint8 in and out, one thread) on each family's kernel for any window
// (kernel=taps: a pointer per tap, pairs of taps) and, where it has one,
// on its row kernel (kernel=rows: dwK3AVX2).
func BenchmarkDepthwise(b *testing.B) {
	_, qs := benchFamilies()
	for _, s := range []struct{ c, hw, stride int }{{32, 112, 1}, {96, 112, 2}, {144, 56, 1}, {144, 56, 2}, {192, 28, 1}, {192, 28, 2}, {384, 14, 1}, {576, 14, 1}, {576, 14, 2}, {960, 7, 1}} {
		rng := rand.New(rand.NewPCG(3, 4))
		shape := Conv{Batch: 1, InC: s.c, InH: s.hw, InW: s.hw, OutC: s.c, KH: 3, KW: 3, StrideH: s.stride, StrideW: s.stride,
			PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, Groups: s.c}
		w8 := make([]int8, s.c*9)
		for i := range w8 {
			w8[i] = int8(rng.IntN(256) - 128)
		}
		x8 := make([]uint8, s.c*s.hw*s.hw)
		for i := range x8 {
			x8[i] = uint8(rng.IntN(256))
		}
		y8 := make([]uint8, s.c*shape.OutH()*shape.OutW())
		macs := float64(len(y8)) * 9
		for _, f := range qs {
			for _, rows := range []bool{false, true} {
				name := fmt.Sprintf("%dch@%d/s%d/impl=%s/kernel=taps", s.c, s.hw, s.stride, f)
				if rows {
					name = name[:len(name)-4] + "rows"
				}
				b.Run(name, func(b *testing.B) {
					defer useFamily(f)()
					cw, err := PackConv(shape, w8, []int8{0})
					if err != nil {
						b.Fatal(err)
					}
					if rows && cw.dw.rows == nil || rows && !f.ymm() {
						b.Skip("no row kernel")
					}
					if !rows {
						cw.dw.rows = nil
					}
					q := Requant{Scale: []float32{1.0 / 4096}, ZeroPoint: 128, Min: 0, Max: 255}
					for b.Loop() {
						if err := ConvQuant(1, cw, NHWC, NHWC, x8, 3, nil, q, y8); err != nil {
							b.Fatal(err)
						}
					}
					gops(b, macs)
				})
			}
		}
	}
}
