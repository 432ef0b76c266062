package qgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/fakequant"
)

// convProblem is a convolution in plain integers, NCHW.
type convProblem struct {
	c    Conv
	x    []int32
	zx   int32
	w    []int32 // [OutC][InC/G][KH][KW]
	zw   []int32 // 1 or OutC
	bias []int32
}

// ref returns the convolution by its definition, in int64, NCHW.
func (p *convProblem) ref() []int64 {
	c := p.c.normal()
	oh, ow := c.OutH(), c.OutW()
	cg, ocg := c.InC/c.Groups, c.OutC/c.Groups
	out := make([]int64, c.Batch*c.OutC*oh*ow)
	for n := range c.Batch {
		for oc := range c.OutC {
			g := oc / ocg
			zw := p.zw[0]
			if len(p.zw) > 1 {
				zw = p.zw[oc]
			}
			for y := range oh {
				for x := range ow {
					var s int64
					for ci := range cg {
						for i := range c.KH {
							for j := range c.KW {
								iy, ix := y*c.StrideH-c.PadTop+i*c.DilationH, x*c.StrideW-c.PadLeft+j*c.DilationW
								xv := p.zx
								if iy >= 0 && iy < c.InH && ix >= 0 && ix < c.InW {
									xv = p.x[((n*c.InC+g*cg+ci)*c.InH+iy)*c.InW+ix]
								}
								wv := p.w[((oc*cg+ci)*c.KH+i)*c.KW+j]
								s += int64(xv-p.zx) * int64(wv-zw)
							}
						}
					}
					if p.bias != nil {
						s += int64(p.bias[oc])
					}
					out[((n*c.OutC+oc)*oh+y)*ow+x] = s
				}
			}
		}
	}
	return out
}

// toNHWC reorders an NCHW tensor of batch×ch×hw.
func toNHWC[T any](v []T, batch, ch, hw int) []T {
	out := make([]T, len(v))
	for n := range batch {
		for c := range ch {
			for p := range hw {
				out[(n*hw+p)*ch+c] = v[(n*ch+c)*hw+p]
			}
		}
	}
	return out
}

func newConvProblem[X, W Int8](rng *rand.Rand, c Conv, perChannel, bias bool) *convProblem {
	c = c.normal()
	xlo, xhi := valueRange[X]()
	wlo, whi := valueRange[W]()
	p := &convProblem{c: c, zx: randomIn(rng, xlo, xhi)}
	p.x = make([]int32, c.Batch*c.InC*c.InH*c.InW)
	for i := range p.x {
		p.x[i] = randomIn(rng, xlo, xhi)
	}
	p.w = make([]int32, c.OutC*c.InC/c.Groups*c.KH*c.KW)
	for i := range p.w {
		p.w[i] = randomIn(rng, wlo, whi)
	}
	p.zw = randomZeroPoints[W](rng, c.OutC, perChannel)
	if bias {
		p.bias = make([]int32, c.OutC)
		for i := range p.bias {
			p.bias[i] = rng.Int32N(1<<20) - 1<<19
		}
	}
	return p
}

// checkConv runs p through the three outputs, its input in layout in and
// its output in layout out, under the current family and compares them
// with the definition.
func checkConv[X, W, Y Int8](t *testing.T, rng *rand.Rand, p *convProblem, in, out Layout, threads int) {
	t.Helper()
	c := p.c
	cw, err := PackConv(c, convert[W](p.w), convert[W](p.zw))
	if err != nil {
		t.Fatalf("%+v: %v", c, err)
	}
	hw, ohw := c.InH*c.InW, c.OutH()*c.OutW()
	x := p.x
	want := p.ref()
	if in == NHWC {
		x = toNHWC(x, c.Batch, c.InC, hw)
	}
	if out == NHWC {
		want = toNHWC(want, c.Batch, c.OutC, ohw)
	}
	chanOf := func(i int) int {
		if out == NHWC {
			return i % c.OutC
		}
		return i / ohw % c.OutC
	}
	xs := offset(convert[X](x), rng.IntN(16))
	name := func() string {
		return fmt.Sprintf("%s layouts %d→%d %+v zx=%d zw=%v bias=%v", cw.family(), in, out, c, p.zx, p.zw, p.bias != nil)
	}

	y32 := make([]int32, len(want))
	if err := ConvInt32(threads, cw, in, out, xs, X(p.zx), p.bias, y32); err != nil {
		t.Fatalf("%s: %v", name(), err)
	}
	for i, v := range y32 {
		if v != int32(want[i]) {
			t.Fatalf("%s: int32 output %d = %d, want %d", name(), i, v, want[i])
		}
	}

	lo, hi := valueRange[Y]()
	scale := make([]float32, c.OutC)
	for i := range scale {
		scale[i] = float32(math.Ldexp(1+rng.Float64(), -rng.IntN(14)))
	}
	if rng.IntN(3) == 0 {
		scale = scale[:1]
	}
	sc := func(i int) float32 {
		if len(scale) == 1 {
			return scale[0]
		}
		return scale[chanOf(i)]
	}
	q := Requant{Scale: scale, ZeroPoint: randomIn(rng, lo, hi), Min: lo, Max: hi}
	yq := make([]Y, len(want))
	if err := ConvQuant(threads, cw, in, out, xs, X(p.zx), p.bias, q, yq); err != nil {
		t.Fatalf("%s: %v", name(), err)
	}
	for i, v := range yq {
		if wq := refQuant(want[i], sc(i), q.ZeroPoint, q.Min, q.Max); int32(v) != wq {
			t.Fatalf("%s: quantized output %d = %d, want %d (C = %d)", name(), i, v, wq, want[i])
		}
	}

	cases++
	if p.bias != nil {
		return
	}
	fb := make([]float32, c.OutC)
	for i := range fb {
		fb[i] = float32(rng.NormFloat64())
	}
	yf := make([]float32, len(want))
	if err := ConvFloat(threads, cw, in, out, xs, X(p.zx), Dequant{Scale: scale, Bias: fb}, yf); err != nil {
		t.Fatalf("%s: %v", name(), err)
	}
	for i, v := range yf {
		wf := float32(float32(int32(want[i]))*sc(i)) + fb[chanOf(i)]
		if math.Float32bits(v) != math.Float32bits(wf) {
			t.Fatalf("%s: float output %d = %v, want %v", name(), i, v, wf)
		}
	}

	// The same with an activation, then the codes of a QuantizeLinear.
	d := Dequant{Scale: scale, Bias: fb, Act: testAct}
	ya := make([]float32, len(want))
	if err := ConvFloat(threads, cw, in, out, xs, X(p.zx), d, ya); err != nil {
		t.Fatalf("%s: %v", name(), err)
	}
	for i, v := range ya {
		if wf := testActOf(yf[i]); math.Float32bits(v) != math.Float32bits(wf) {
			t.Fatalf("%s: float output %d with the activation = %v, want %v", name(), i, v, wf)
		}
	}
	fq := Quantize{Scale: float32(math.Ldexp(1+rng.Float64(), -rng.IntN(8))), ZeroPoint: randomIn(rng, lo, hi)}
	if err := ConvFloatQuant(threads, cw, in, out, xs, X(p.zx), d, fq, yq); err != nil {
		t.Fatalf("%s: %v", name(), err)
	}
	for i, v := range yq {
		if wq := fakequant.QuantizeLinear(ya[i], fq.Scale, fq.ZeroPoint, lo, hi); int32(v) != wq {
			t.Fatalf("%s: codes of float output %d (%v) = %d, want %d", name(), i, ya[i], v, wq)
		}
	}
}

func eachConvType(f func(run func(t *testing.T, rng *rand.Rand, c Conv, in, out Layout, perChannel, bias bool, threads int))) {
	f(checkConvTyped[uint8, int8, uint8])
	f(checkConvTyped[int8, int8, int8])
	f(checkConvTyped[uint8, uint8, uint8])
	f(checkConvTyped[int8, uint8, uint8])
}

func checkConvTyped[X, W, Y Int8](t *testing.T, rng *rand.Rand, c Conv, in, out Layout, perChannel, bias bool, threads int) {
	t.Helper()
	checkConv[X, W, Y](t, rng, newConvProblem[X, W](rng, c, perChannel, bias), in, out, threads)
}

// convShapes are convolutions with every feature: 1×1 and 3×3, strides,
// dilations, asymmetric padding, groups, depthwise, channels that are not
// multiples of 4 and ones read a kernel row at a time, a 1-D one,
// batches.
var convShapes = []Conv{
	{Batch: 1, InC: 3, InH: 7, InW: 6, OutC: 5, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
	{Batch: 2, InC: 8, InH: 5, InW: 5, OutC: 16, KH: 1, KW: 1},
	{Batch: 1, InC: 6, InH: 9, InW: 8, OutC: 10, KH: 3, KW: 2, StrideH: 2, StrideW: 3, PadTop: 2, PadBottom: 0, PadLeft: 0, PadRight: 1},
	{Batch: 1, InC: 5, InH: 11, InW: 10, OutC: 7, KH: 3, KW: 3, DilationH: 2, DilationW: 3, PadTop: 2, PadLeft: 3, PadBottom: 1, PadRight: 2},
	{Batch: 2, InC: 12, InH: 6, InW: 6, OutC: 9, KH: 3, KW: 3, Groups: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
	{Batch: 1, InC: 6, InH: 5, InW: 7, OutC: 6, KH: 3, KW: 3, Groups: 6, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
	{Batch: 2, InC: 19, InH: 8, InW: 9, OutC: 19, KH: 3, KW: 3, Groups: 19, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1},
	{Batch: 1, InC: 40, InH: 6, InW: 6, OutC: 40, KH: 5, KW: 5, Groups: 40, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2},
	{Batch: 1, InC: 4, InH: 1, InW: 20, OutC: 70, KH: 1, KW: 5, PadLeft: 2, PadRight: 1},
	{Batch: 1, InC: 3, InH: 4, InW: 4, OutC: 12, KH: 1, KW: 1, Groups: 3},
	{Batch: 1, InC: 33, InH: 9, InW: 9, OutC: 65, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
	// Whole quads of channels without groups: a pointer per kernel row.
	{Batch: 2, InC: 16, InH: 7, InW: 7, OutC: 24, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
	{Batch: 1, InC: 8, InH: 10, InW: 9, OutC: 12, KH: 3, KW: 4, DilationH: 2, StrideW: 2, PadTop: 2, PadLeft: 1, PadBottom: 1, PadRight: 2},
	// Fewer than 4 channels, copied as 4 (quadChannels): an image's
	// stem (whole blocks of 8 pixels and the rest), 1 and 2 channels, a
	// dilated row (a pointer per tap).
	{Batch: 2, InC: 3, InH: 9, InW: 19, OutC: 33, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
	{Batch: 1, InC: 1, InH: 6, InW: 16, OutC: 8, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
	{Batch: 1, InC: 2, InH: 7, InW: 9, OutC: 6, KH: 2, KW: 3, DilationW: 2, PadLeft: 2, PadRight: 1},
}

// TestConv runs every shape of convShapes with each type combination, in
// the four pairs of input and output layouts, per-tensor and per-channel zero points, with and without
// a bias, against the definition.
func TestConv(t *testing.T) {
	forEachFamily(t, func(t *testing.T, fam family) {
		rng := rand.New(rand.NewPCG(2, uint64(fam)))
		eachConvType(func(check func(t *testing.T, rng *rand.Rand, c Conv, in, out Layout, perChannel, bias bool, threads int)) {
			for i, c := range convShapes {
				for _, in := range []Layout{NCHW, NHWC} {
					for _, out := range []Layout{NCHW, NHWC} {
						check(t, rng, c, in, out, i%2 == 0, i%3 != 0, 1+i%3)
					}
				}
			}
		})
	})
}

// TestConvImages checks that a batch run image by image (convImages, as
// a batch whose padded copy exceeds batchCopyBytes runs) gives the bits
// of the whole batch at once: int32 sums, requantized codes, and codes
// through floats with an activation, in both output layouts.
func TestConvImages(t *testing.T) {
	forEachFamily(t, func(t *testing.T, fam family) {
		rng := rand.New(rand.NewPCG(12, uint64(fam)))
		for _, c := range convShapes {
			c.Batch = 3
			n := c.Batch * c.OutC * c.OutH() * c.OutW()
			w := make([]int8, c.OutC*c.InC/c.normal().Groups*c.KH*c.KW)
			for i := range w {
				w[i] = int8(rng.IntN(256) - 128)
			}
			x := make([]uint8, c.Batch*c.InC*c.InH*c.InW)
			for i := range x {
				x[i] = uint8(rng.IntN(256))
			}
			cw, err := PackConv(c, w, []int8{int8(rng.IntN(7) - 3)})
			if err != nil {
				t.Fatal(err)
			}
			for _, out := range []Layout{NCHW, NHWC} {
				run := func() ([]int32, []uint8, []uint8) {
					c32, q8, f8 := make([]int32, n), make([]uint8, n), make([]uint8, n)
					if err := ConvInt32(2, cw, NCHW, out, x, 9, nil, c32); err != nil {
						t.Fatal(err)
					}
					rq := Requant{Scale: []float32{1.0 / 700}, ZeroPoint: 100, Min: 0, Max: 255}
					if err := ConvQuant(2, cw, NCHW, out, x, 9, nil, rq, q8); err != nil {
						t.Fatal(err)
					}
					d := Dequant{Scale: []float32{1.0 / 300}, Act: func(v []float32) {
						for i := range v {
							v[i] = max(v[i], -1)
						}
					}}
					if err := ConvFloatQuant(2, cw, NCHW, out, x, 9, d, Quantize{Scale: 1.0 / 16, ZeroPoint: 60}, f8); err != nil {
						t.Fatal(err)
					}
					return c32, q8, f8
				}
				c32, q8, f8 := run()
				old := batchCopyBytes
				batchCopyBytes = 0
				i32, iq8, if8 := run()
				batchCopyBytes = old
				if !slices.Equal(c32, i32) || !slices.Equal(q8, iq8) || !slices.Equal(f8, if8) {
					t.Fatalf("%+v, output %v: image by image differs from the whole batch", c, out)
				}
				cases++
			}
		}
	})
}
