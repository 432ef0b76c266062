package vec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

func TestDispatchUsesBestFamily(t *testing.T) {
	kerneltest.CheckDispatch(t, kerneltest.Dispatch{Kernel: "finish", Family: family})
}

// specials are the values where vector and scalar min/max part ways.
var specials = []float32{0, negz, 1, -1, 6, 6.5, inf, -inf, nan, -nan, math.MaxFloat32, -math.MaxFloat32,
	denorm, -denorm, 1e-40, -3e-39, 0.5, -2.5, 1e8, -1e8}

// boundPairs are Clip bounds with signed zeros, infinities and crossed
// bounds; NaN bounds take the generic path and are checked too.
var boundPairs = [][2]float32{{0, 6}, {negz, negz}, {0, 0}, {negz, 0}, {0, negz}, {-1, negz}, {negz, 1}, {-inf, inf},
	{3, 2}, {-1, 0}, {1, 1}, {nan, 1}, {0, nan}}

// refFinish is Finish written out for one element, in its order: x +
// bias (when hasBias) + add, then the activation.
func refFinish(x, bias float32, hasBias bool, add *float32, a Act) float32 {
	if hasBias {
		x += bias
	}
	if add != nil {
		x += *add
	}
	switch a.Kind {
	case Relu:
		x = max(x, 0)
	case Clip:
		x = min(max(x, a.Lo), a.Hi)
	}
	return x
}

// TestFinishLengthsOffsets runs Finish (every activation, with and
// without bias and residual) and ReluTo on every length 0..300 at offsets
// 0..15 (two of them under -short), with guard words around the output,
// on every kernel family, against the element-wise reference; the inputs
// mix normal values and specials.
func TestFinishLengthsOffsets(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		const maxN, pad = 300, 16
		src := make([]float32, maxN+pad)
		addb := make([]float32, maxN+pad)
		for i := range src {
			src[i] = float32(rng.NormFloat64() * 4)
			addb[i] = float32(rng.NormFloat64() * 4)
			if rng.IntN(8) == 0 {
				src[i] = specials[rng.IntN(len(specials))]
			}
			if rng.IntN(8) == 0 {
				addb[i] = specials[rng.IntN(len(specials))]
			}
		}
		acts := []Act{{}, {Kind: Relu}, {Kind: Clip, Lo: 0, Hi: 6}, {Kind: Clip, Lo: negz, Hi: negz}, {Kind: Clip, Lo: -1, Hi: 0.5}}
		const guard = float32(-12345.5)
		buf := make([]float32, maxN+2*pad)
		for n := 0; n <= maxN; n++ {
			for off := range pad {
				if testing.Short() && off != n%pad && off != 0 {
					continue
				}
				x, add := src[off:off+n], addb[(off*7)%pad:][:n]
				for ai, a := range acts {
					for mode := range 4 {
						hasBias, withAdd := mode&1 != 0, mode&2 != 0
						for i := range buf {
							buf[i] = guard
						}
						at := pad + off/2
						seg := buf[at : at+n]
						copy(seg, x)
						var ad []float32
						if withAdd {
							ad = add
						}
						Finish(seg, 3.25, hasBias, ad, &a)
						for i, v := range buf {
							j := i - at
							if j < 0 || j >= n {
								if v != guard {
									t.Fatalf("n=%d off=%d act %d mode %d: guard %d overwritten", n, off, ai, mode, i)
								}
								continue
							}
							var ap *float32
							if withAdd {
								ap = &add[j]
							}
							if want := refFinish(x[j], 3.25, hasBias, ap, a); !same(v, want) {
								t.Fatalf("n=%d off=%d act %d mode %d: element %d of %v is %v, want %v", n, off, ai, mode, j, x[j], v, want)
							}
						}
					}
				}
				d := make([]float32, n)
				ReluTo(d, x)
				for i := range d {
					if want := max(x[i], 0); !same(d[i], want) {
						t.Fatalf("ReluTo n=%d: element %d of %v is %v, want %v", n, i, x[i], d[i], want)
					}
				}
			}
		}
	})
}

// TestClipBounds runs ClipTo over every special value under every pair of
// special bounds, on every kernel family.
func TestClipBounds(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		x := make([]float32, 0, 3*len(specials))
		for range 3 {
			x = append(x, specials...) // longer than one vector: the kernels run
		}
		d := make([]float32, len(x))
		for _, b := range boundPairs {
			ClipTo(d, x, b[0], b[1])
			for i, v := range x {
				if want := min(max(v, b[0]), b[1]); !same(d[i], want) {
					t.Fatalf("clip %v to [%v, %v]: %v (%#x), want %v (%#x)", v, b[0], b[1], d[i], math.Float32bits(d[i]), want, math.Float32bits(want))
				}
			}
		}
	})
}

func BenchmarkFinish(b *testing.B) {
	for _, n := range []int{32, 1024, 65536} {
		x := kerneltest.Float32s(n, 4)
		add := kerneltest.Float32s(n, 4)
		d := make([]float32, n)
		for _, impl := range []string{"relu", "clip", "bias+add+relu"} {
			b.Run(fmt.Sprintf("%s/n=%d", impl, n), func(b *testing.B) {
				b.SetBytes(int64(4 * n))
				for b.Loop() {
					switch impl {
					case "relu":
						ReluTo(d, x)
					case "clip":
						ClipTo(d, x, 0, 6)
					default:
						copy(d, x)
						Finish(d, 0.5, true, add, &Act{Kind: Relu})
					}
				}
			})
		}
	}
}

// TestFinishTile runs FinishTile on tiles of 0..9 rows and 0..40 columns
// inside a larger matrix with guard values around the tile, every
// activation, with and without row bias and residual, on every kernel
// family, against Finish row by row on the generic code.
func TestFinishTile(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const ld, ldAdd = 45, 43
	src := make([]float32, 10*ld)
	addM := make([]float32, 10*ldAdd)
	bias := make([]float32, 10)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 3)
		if rng.IntN(9) == 0 {
			src[i] = specials[rng.IntN(len(specials))]
		}
	}
	for i := range addM {
		addM[i] = float32(rng.NormFloat64() * 3)
	}
	for i := range bias {
		bias[i] = float32(rng.NormFloat64())
	}
	bias[3] = negz
	acts := []Act{{}, {Kind: Relu}, {Kind: Clip, Lo: 0, Hi: 6}, {Kind: Clip, Lo: negz, Hi: negz},
		{Kind: Func, Func: func(d, x []float32) {
			for i, v := range x {
				d[i] = v * 0.5
			}
		}}}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for rows := range 10 {
			for cols := 0; cols <= 40; cols++ {
				for ai, a := range acts {
					for mode := range 4 {
						var rb, ad []float32
						if mode&1 != 0 {
							rb = bias[:rows]
						}
						if mode&2 != 0 {
							ad = addM
						}
						got := append([]float32{}, src...)
						FinishTile(got[ld+2:], ld, rows, cols, rb, ad, ldAdd, &a)
						want := append([]float32{}, src...)
						restore := cpufeat.Use(cpufeat.Generic)
						for r := range rows {
							var ar []float32
							if ad != nil {
								ar = ad[r*ldAdd:]
							}
							var b float32
							if rb != nil {
								b = rb[r]
							}
							Finish(want[ld+2+r*ld:ld+2+r*ld+cols], b, rb != nil, ar, &a)
						}
						restore()
						for i := range want {
							if !same(got[i], want[i]) {
								t.Fatalf("rows %d cols %d act %d mode %d: element %d is %v, want %v", rows, cols, ai, mode, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	})
}

// TestFinishRows runs FinishRows from a matrix of row stride 19 into one
// of row stride 13 (a convolution's padded rows into its output), the
// bias repeated (stride 0) or per row, on every kernel family, against
// copy and Finish row by row on the generic code; the elements between
// the rows of dst keep their guard.
func TestFinishRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const lds, ldd, ldAdd = 19, 13, 17
	src := make([]float32, 12*lds)
	addM := make([]float32, 12*ldAdd)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 3)
		if rng.IntN(9) == 0 {
			src[i] = specials[rng.IntN(len(specials))]
		}
	}
	for i := range addM {
		addM[i] = float32(rng.NormFloat64() * 3)
	}
	bias := []float32{1.5, negz, -0.25, 3, 2, 1, 0, -1, 4, 5, 6, 7}
	const guard = -99.5
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for rows := range 12 {
			for cols := 0; cols <= ldd; cols++ {
				for _, a := range []Act{{}, {Kind: Relu}, {Kind: Clip, Lo: -1, Hi: 1}} {
					for mode := range 6 {
						var b []float32
						stride := 1
						switch mode % 3 {
						case 1:
							b = bias
						case 2:
							b, stride = bias[1:], 0
						}
						var ad []float32
						if mode >= 3 {
							ad = addM
						}
						got := make([]float32, 12*ldd)
						want := make([]float32, 12*ldd)
						for i := range got {
							got[i], want[i] = guard, guard
						}
						FinishRows(got, ldd, src, lds, rows, cols, b, stride, ad, ldAdd, &a)
						restore := cpufeat.Use(cpufeat.Generic)
						for r := range rows {
							d := want[r*ldd : r*ldd+cols]
							copy(d, src[r*lds:])
							var ar []float32
							if ad != nil {
								ar = ad[r*ldAdd:]
							}
							var bv float32
							if b != nil {
								bv = b[r*stride]
							}
							Finish(d, bv, b != nil, ar, &a)
						}
						restore()
						for i := range want {
							if !same(got[i], want[i]) {
								t.Fatalf("rows %d cols %d mode %d act %+v: element %d is %v, want %v", rows, cols, mode, a, i, got[i], want[i])
							}
						}
					}
				}
			}
		}
	})
}

// TestFinishRowsWide finishes rows of 256 columns and more, where the
// count of columns left has a low byte under 16 (BZHI reads only the low
// byte of its index: such a chunk lost its lanes before the count was
// capped at 16).
func TestFinishRowsWide(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, cols := range []int{256, 260, 272, 300, 520} {
			src := make([]float32, 2*cols)
			for i := range src {
				src[i] = float32(rng.NormFloat64())
			}
			bias := []float32{0.5, -1}
			a := Act{Kind: Relu}
			got := make([]float32, len(src))
			FinishRows(got, cols, src, cols, 2, cols, bias, 1, nil, 0, &a)
			for i, x := range src {
				if want := max(x+bias[i/cols], 0); !same(got[i], want) {
					t.Fatalf("cols %d: element %d is %v, want %v", cols, i, got[i], want)
				}
			}
		}
	})
}

// TestReluGrad runs ReluGrad on every length 0..100 at offsets 0..3, in
// place over dy and over x too, on every kernel family, against the
// element-wise definition (dy where x > 0, else +0: ±0, -Inf and NaN x
// give +0, +Inf passes), with guard words after the output.
func TestReluGrad(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		const maxN, pad = 100, 8
		x, dy := make([]float32, maxN+pad), make([]float32, maxN+pad)
		for i := range x {
			x[i], dy[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
			if rng.IntN(4) == 0 {
				x[i] = specials[rng.IntN(len(specials))]
			}
			if rng.IntN(8) == 0 {
				dy[i] = specials[rng.IntN(len(specials))]
			}
		}
		want := func(i int) float32 {
			if x[i] > 0 {
				return dy[i]
			}
			return 0
		}
		for n := range maxN + 1 {
			for off := range 4 {
				if off+n > maxN {
					continue
				}
				d := make([]float32, n+pad)
				for i := range d {
					d[i] = 42
				}
				ReluGrad(d[:n], dy[off:], x[off:])
				for i := range n {
					if math.Float32bits(d[i]) != math.Float32bits(want(off+i)) {
						t.Fatalf("n %d off %d: d[%d] = %v for x %v dy %v, want %v", n, off, i, d[i], x[off+i], dy[off+i], want(off+i))
					}
				}
				for i := n; i < len(d); i++ {
					if d[i] != 42 {
						t.Fatalf("n %d off %d: guard %d overwritten", n, off, i-n)
					}
				}
				for _, over := range []string{"dy", "x"} {
					a, b := slices.Clone(dy[off:off+n]), slices.Clone(x[off:off+n])
					dst := a
					if over == "x" {
						dst = b
					}
					ReluGrad(dst, a, b)
					for i := range n {
						if math.Float32bits(dst[i]) != math.Float32bits(want(off+i)) {
							t.Fatalf("n %d off %d in place over %s: element %d = %v, want %v", n, off, over, i, dst[i], want(off+i))
						}
					}
				}
			}
		}
	})
}
