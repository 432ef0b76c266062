package nn

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

func TestWindowDispatch(t *testing.T) {
	kerneltest.CheckDispatch(t, kerneltest.Dispatch{Kernel: "window rows", Family: windowFamily})
}

var windowSpecials = []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)),
	math.Float32frombits(1), -math.Float32frombits(0x7fffff), math.MaxFloat32, -math.MaxFloat32, 1, -1}

// windowCase is one row kernel: a depthwise row (w not nil) or a max
// pooling row of k taps, stride s, dilation d.
type windowCase struct {
	k, s, d int
	dw      bool
}

func (c windowCase) String() string {
	kind := "max"
	if c.dw {
		kind = "dw"
	}
	return fmt.Sprintf("%s/k%d/s%d/d%d", kind, c.k, c.s, c.d)
}

// TestWindowKernels runs every row kernel (and shapes without assembly)
// on every output count 0..300 at offsets 0..15 of the row and of out
// (two of them under -short), out between guard words, the row exactly as
// long as the windows read (so that the stride-2 kernels' extra element
// is out of reach) or longer, on every kernel family: the bits of the
// generic code, specials included.
func TestWindowKernels(t *testing.T) {
	cases := []windowCase{{3, 1, 1, true}, {3, 2, 1, true}, {5, 1, 1, true}, {5, 2, 1, true}, {3, 1, 2, true}, {4, 2, 1, true},
		{2, 2, 1, false}, {3, 1, 1, false}, {3, 2, 1, false}, {2, 1, 1, false}, {3, 2, 2, false}}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		impl := cpufeat.Selected
		rng := rand.New(rand.NewPCG(5, 6))
		for _, c := range cases {
			w := randSlice(rng, c.k)
			for n := 0; n <= 300; n++ {
				for off := range 16 {
					if testing.Short() && off != n%16 && off != 3 {
						continue
					}
					need := 0
					if n > 0 {
						need = (n-1)*c.s + (c.k-1)*c.d + 1
					}
					extra := off % 2 // every other offset: one element of slack
					buf := make([]float32, off+need+extra)
					for i := range buf {
						buf[i] = float32(rng.NormFloat64())
						if rng.IntN(6) == 0 {
							buf[i] = windowSpecials[rng.IntN(len(windowSpecials))]
						}
					}
					row := buf[off : off+need : off+need+extra]
					init := randSlice(rng, n)
					const guard = -7.5
					outBuf := make([]float32, n+32)
					for i := range outBuf {
						outBuf[i] = guard
					}
					out := outBuf[off : off+n]
					copy(out, init)
					want := append([]float32{}, init...)
					restore := cpufeat.Use(cpufeat.Generic)
					if c.dw {
						dwRowGeneric(want, row, w, c.s, c.d)
					} else {
						maxRowGeneric(want, row, c.k, c.s, c.d)
					}
					restore()
					_ = impl
					if c.dw {
						dwRow(out, row, w, c.s, c.d)
					} else {
						maxRow(out, row, c.k, c.s, c.d)
					}
					for i, v := range outBuf {
						j := i - off
						if j < 0 || j >= n {
							if v != guard {
								t.Fatalf("%v n=%d off=%d: guard %d overwritten", c, n, off, i)
							}
							continue
						}
						// Bit for bit, but a NaN's payload: which of two NaN
						// operands an addition returns depends on the order
						// the compiler gives its operands (-race changes it).
						if math.Float32bits(v) != math.Float32bits(want[j]) && !(c.dw && v != v && want[j] != want[j]) {
							t.Fatalf("%v n=%d off=%d: output %d is %v, want %v", c, n, off, j, v, want[j])
						}
					}
				}
			}
		}
	})
}

// BenchmarkWindowRow runs the row kernels on rows of MobileNetV2 and
// ResNet-18 widths, against the generic code.
func BenchmarkWindowRow(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range []windowCase{{3, 1, 1, true}, {3, 2, 1, true}, {3, 2, 1, false}, {2, 2, 1, false}} {
		for _, n := range []int{56, 112} {
			row := randSlice(rng, n*c.s+c.k+1)
			out, w := randSlice(rng, n), randSlice(rng, c.k)
			for _, impl := range cpufeat.Available() {
				b.Run(fmt.Sprintf("%v/n=%d/impl=%v", c, n, impl), func(b *testing.B) {
					defer cpufeat.Use(impl)()
					b.SetBytes(int64(4 * n))
					for b.Loop() {
						if c.dw {
							dwRow(out, row, w, c.s, c.d)
						} else {
							maxRow(out, row, c.k, c.s, c.d)
						}
					}
				})
			}
		}
	}
}

// TestGatherRows copies 0..300 rows of every panel width (8, 16 and 32
// have kernels) from random offsets, the last one at the end of src, into
// a destination between guard words, on every kernel family.
func TestGatherRows(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		src := randSlice(rng, 1000)
		for _, w := range []int{4, 8, 16, 32} {
			for n := 0; n <= 300; n++ {
				j := rng.IntN(20)
				offs := make([]int, n)
				for p := range offs {
					offs[p] = rng.IntN(len(src) - w - j + 1)
				}
				if n > 0 {
					offs[n-1] = len(src) - w - j
				}
				const guard = -3.5
				dst := make([]float32, n*w+16)
				for i := range dst {
					dst[i] = guard
				}
				gatherRows(dst[:n*w], src, offs, j, w)
				for p, o := range offs {
					for c := range w {
						if dst[p*w+c] != src[o+j+c] {
							t.Fatalf("w=%d n=%d: row %d element %d is %v, want %v", w, n, p, c, dst[p*w+c], src[o+j+c])
						}
					}
				}
				for i := n * w; i < len(dst); i++ {
					if dst[i] != guard {
						t.Fatalf("w=%d n=%d: guard %d overwritten", w, n, i)
					}
				}
			}
		}
	})
}

// TestDepthwisePlaneKernel compares DepthwisePlanes on every kernel family
// with the generic code, bit for bit, on the shapes of the plane and
// interleaved kernels (3×3 and 5×5, strides 1 and 2, every padding,
// planes from 1×1 to 37×37 around the vector widths) and some they do not
// take (dilation 2, unequal strides), with specials in the input, the
// weights and the biases (-0 among them): 2 samples of 19 channels, all
// the planes (blocks of 8 channels from channel 0 and 8, and 3 planes
// alone) and from plane 5 to 33 (blocks from channels 5 and 13 of the
// first sample, 0 and 8 of the second, crossing no sample).
func TestDepthwisePlaneKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	type shape struct{ k, s, pt, pl, pb, pr, h, w, d, s2 int }
	var shapes []shape
	for _, k := range []int{3, 5} {
		for _, s := range []int{1, 2} {
			for p := range k {
				for _, hw := range [][2]int{{1, 1}, {3, 17}, {7, 7}, {14, 14}, {16, 33}, {37, 5}, {2, 40}, {2, 300}} {
					if testing.Short() && p > 1 && hw[0] > 7 {
						continue
					}
					shapes = append(shapes, shape{k, s, p, p, (p + 1) % k, p % 2, hw[0], hw[1], 1, s})
				}
			}
		}
	}
	shapes = append(shapes, shape{3, 1, 1, 1, 1, 1, 9, 9, 2, 1}, shape{3, 2, 1, 1, 1, 1, 9, 9, 1, 1})
	for _, sh := range shapes {
		ho := (sh.h+sh.pt+sh.pb-sh.d*(sh.k-1)-1)/sh.s + 1
		wo := (sh.w+sh.pl+sh.pr-sh.d*(sh.k-1)-1)/sh.s2 + 1
		if ho < 1 || wo < 1 {
			continue
		}
		const C, N = 19, 2
		c := Conv{Geom: NewGeom([]int{sh.h, sh.w}, []int{ho, wo}, []int{sh.k, sh.k}, []int{sh.s, sh.s2}, []int{sh.pt, sh.pl}, []int{sh.pb, sh.pr}, []int{sh.d, sh.d}),
			InC: C, OutC: C, Groups: C}
		x := randSlice(rng, N*C*sh.h*sh.w)
		for i := range x {
			if rng.IntN(10) == 0 {
				x[i] = windowSpecials[rng.IntN(len(windowSpecials))]
			}
		}
		w, bias := randSlice(rng, C*sh.k*sh.k), randSlice(rng, C)
		for i := range w {
			if rng.IntN(50) == 0 {
				w[i] = windowSpecials[rng.IntN(len(windowSpecials))]
			}
		}
		bias[0], bias[9] = float32(math.Copysign(0, -1)), float32(math.Inf(-1))
		for _, pr := range [][2]int{{0, N * C}, {5, 33}} {
			restore := cpufeat.Use(cpufeat.Generic)
			// NaN where a kernel should write: a value left unwritten is
			// NaN, and so are the planes outside the range in both.
			unwritten := func() []float32 {
				v := make([]float32, N*C*ho*wo)
				for i := range v {
					v[i] = float32(math.NaN())
				}
				return v
			}
			want := unwritten()
			c.DepthwisePlanes(want, x, w, bias, pr[0], pr[1])
			restore()
			kerneltest.ForEachImpl(t, func(t *testing.T) {
				got := unwritten()
				c.DepthwisePlanes(got, x, w, bias, pr[0], pr[1])
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
						t.Fatalf("%+v, planes %v: output %d (plane %d) is %v, want %v", sh, pr, i, i/(ho*wo), got[i], want[i])
					}
				}
			})
		}
	}
}

// TestMaxPlaneKernel compares MaxPool (float32, without argmax) on every
// kernel family with the generic code, bit for bit (the same NaN wins),
// on the shapes of the plane kernels and others, every padding (end
// padding up to the kernel, as ceil_mode makes), NaN and signed zeros in
// the input.
func TestMaxPlaneKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	negz := float32(math.Copysign(0, -1))
	for _, k := range []int{2, 3, 4} {
		for _, s := range []int{1, 2} {
			for p := range k {
				for _, hw := range [][2]int{{1, 1}, {2, 17}, {7, 7}, {14, 14}, {16, 33}, {28, 28}, {37, 5}, {2, 300}} {
					pe := (p + 1) % k
					ho := (hw[0]+p+pe-k)/s + 1
					wo := (hw[1]+p+pe-k)/s + 1
					if ho < 1 || wo < 1 {
						continue
					}
					g := NewGeom([]int{hw[0], hw[1]}, []int{ho, wo}, []int{k, k}, []int{s, s}, []int{p, p}, []int{pe, pe}, []int{1, 1})
					x := randSlice(rng, 2*hw[0]*hw[1])
					for i := range x {
						switch rng.IntN(12) {
						case 0:
							x[i] = float32(math.NaN())
						case 1:
							x[i] = negz
						case 2:
							x[i] = 0
						}
					}
					restore := cpufeat.Use(cpufeat.Generic)
					want := make([]float32, 2*ho*wo)
					MaxPool(want, nil, x, &g, 0, 2)
					restore()
					kerneltest.ForEachImpl(t, func(t *testing.T) {
						got := make([]float32, len(want))
						MaxPool(got, nil, x, &g, 0, 2)
						for i := range want {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("k%d s%d pad %d+%d %v: output %d is %v, want %v", k, s, p, pe, hw, i, got[i], want[i])
							}
						}
					})
				}
			}
		}
	}
}

// TestEvensZip checks evens and zip on every kernel family, at every
// length from 0 to 70 and source offset around the vector sizes, against
// their definitions bit for bit (specials included), with guards after
// the outputs.
func TestEvensZip(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		src := randSlice(rng, 200)
		// Specials among them, moved bit for bit: a NaN payload,
		// infinities, -0, a denormal.
		for i, v := range []float32{math.Float32frombits(0x7fc01234), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.Copysign(0, -1)), 0x1p-140} {
			src[3+7*i], src[104+5*i] = v, v
		}
		const guard = -3.5
		for n := 0; n <= 70; n++ {
			for off := range 3 {
				dst := make([]float32, n+8)
				for i := range dst {
					dst[i] = guard
				}
				evens(dst[:n], src[off:off+max(2*n-1, 0)])
				for i := range dst {
					want := float32(guard)
					if i < n {
						want = src[off+2*i]
					}
					if math.Float32bits(dst[i]) != math.Float32bits(want) {
						t.Fatalf("evens n=%d off=%d: element %d is %v, want %v", n, off, i, dst[i], want)
					}
				}
				z := make([]float32, 2*n+8)
				for i := range z {
					z[i] = guard
				}
				zip(z, src[off:off+n], src[100+off:])
				for i := range z {
					want := float32(guard)
					if i < 2*n {
						want = src[off+i/2+(i%2)*100]
					}
					if math.Float32bits(z[i]) != math.Float32bits(want) {
						t.Fatalf("zip n=%d off=%d: element %d is %v, want %v", n, off, i, z[i], want)
					}
				}
			}
		}
	})
}

// FuzzEvensZip checks evens and zip on every kernel family against the
// generic code, bit for bit, on arbitrary float32 bit patterns (NaN
// payloads and signed zeros included) and lengths.
func FuzzEvensZip(f *testing.F) {
	f.Add([]byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop"), uint8(3))
	f.Add(make([]byte, 4*200), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, skip uint8) {
		x := make([]float32, len(data)/4)
		for i := range x {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		if int(skip)%4 > len(x) {
			return
		}
		x = x[int(skip)%4:]
		n := (len(x) + 1) / 2
		run := func() [2][]float32 {
			e := make([]float32, n)
			evens(e, x)
			z := make([]float32, 2*(len(x)/2))
			zip(z, x[:len(x)/2], x[len(x)/2:])
			return [2][]float32{e, z}
		}
		restore := cpufeat.Use(cpufeat.Generic)
		want := run()
		restore()
		for _, impl := range cpufeat.Available()[1:] {
			restore := cpufeat.Use(impl)
			got := run()
			restore()
			for j, name := range []string{"evens", "zip"} {
				for i := range want[j] {
					if math.Float32bits(got[j][i]) != math.Float32bits(want[j][i]) {
						t.Fatalf("%v %s of %d: element %d is %#x, want %#x", impl, name, len(x), i, math.Float32bits(got[j][i]), math.Float32bits(want[j][i]))
					}
				}
			}
		}
	})
}

// TestMaxK2S2 runs the kernel of 2×2 max pooling of stride 2 without
// padding (maxK2S2) against maxK2S2Generic, bit for bit, on every kernel
// family: output rows of 4 to 40 (whole vectors of 8, an overlapping
// last one, the 4-lane path below 8), 0 to 3 rows, input rows wider than
// the windows read, NaN (the last one wins), signed zeros (the first of
// equal values stays) and infinities among the inputs, guards after the
// outputs.
func TestMaxK2S2(t *testing.T) {
	negz := float32(math.Copysign(0, -1))
	specials := []float32{float32(math.NaN()), math.Float32frombits(0x7fc01234), negz, 0, float32(math.Inf(1)), float32(math.Inf(-1))}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(17, 18))
		ran := false
		for wo := 4; wo <= 40; wo++ {
			for rows := range 4 {
				wd := 2*wo + rng.IntN(3)
				in := randSlice(rng, 2*rows*wd)
				for i := range in {
					if rng.IntN(6) == 0 {
						in[i] = specials[rng.IntN(len(specials))]
					}
				}
				const guard = -7.25
				want, got := make([]float32, rows*wo+8), make([]float32, rows*wo+8)
				for i := range want {
					want[i], got[i] = guard, guard
				}
				maxK2S2Generic(want, in, rows, wo, wd)
				if !maxK2S2(got, in, rows, wo, wd) {
					continue
				}
				ran = true
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("wo %d, %d rows, wd %d: output %d is %v, want %v", wo, rows, wd, i, got[i], want[i])
					}
				}
			}
		}
		if !ran && (cpufeat.Selected == cpufeat.AVX2 || cpufeat.Selected == cpufeat.AVX512) {
			t.Fatal("the kernel never ran")
		}
	})
}

// FuzzMaxK2S2 pins the kernel of 2×2 max pooling of stride 2 to
// maxK2S2Generic on arbitrary widths, row counts and values (the data's
// bytes as float32 bits: every NaN payload and special).
func FuzzMaxK2S2(f *testing.F) {
	f.Add([]byte{0, 0, 192, 127, 0, 0, 0, 128, 0, 0, 128, 255, 1, 0, 192, 127}, uint8(9), uint8(2), uint8(1))
	f.Add([]byte("two by two, stride two"), uint8(4), uint8(3), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, wo8, rows8, extra8 uint8) {
		if len(data) == 0 {
			return
		}
		wo, rows := 4+int(wo8%60), int(rows8%5)
		wd := 2*wo + int(extra8%4)
		in := make([]float32, 2*rows*wd)
		for i := range in {
			b := func(k int) uint32 { return uint32(data[(4*i+k)%len(data)]) }
			in[i] = math.Float32frombits(b(0) | b(1)<<8 | b(2)<<16 | b(3)<<24)
		}
		want, got := make([]float32, rows*wo), make([]float32, rows*wo)
		maxK2S2Generic(want, in, rows, wo, wd)
		if !maxK2S2(got, in, rows, wo, wd) {
			t.Skip("no kernel")
		}
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("wo %d, %d rows, wd %d: output %d is %v, want %v", wo, rows, wd, i, got[i], want[i])
			}
		}
	})
}

// TestPadPlanes runs padPlanes on every kernel family against
// padPlanesGeneric, bit for bit, on planes of 1 to 30 values wide and 1
// to 6 tall, 0 to 2 rows and columns of padding before them, phase planes
// that end before the input does or after it, 1 to 3 planes, the
// destination full of stale values, guards after it.
func TestPadPlanes(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(19, 20))
		for range 600 {
			planes, h, w := 1+rng.IntN(3), 1+rng.IntN(6), 1+rng.IntN(30)
			top, left := rng.IntN(3), rng.IntN(3)
			hq, wq := max(top, h+top+rng.IntN(4)-1), max(1, w+left+rng.IntN(4)-1)
			src := randSlice(rng, planes*h*w)
			const guard = -9.5
			want, got := make([]float32, planes*hq*wq+8), make([]float32, planes*hq*wq+8)
			for i := range want {
				want[i], got[i] = guard, guard
				if i < planes*hq*wq {
					want[i], got[i] = 3, 3 // stale values to overwrite
				}
			}
			padPlanesGeneric(want, src, planes, h, w, hq, wq, top, left)
			padPlanes(got, src, planes, h, w, hq, wq, top, left)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%d planes %d×%d into %d×%d, padding %d, %d: value %d is %v, want %v", planes, h, w, hq, wq, top, left, i, got[i], want[i])
				}
			}
		}
	})
}

// FuzzPadPlanes pins padPlanes's kernel to padPlanesGeneric on arbitrary
// plane shapes, paddings and values.
func FuzzPadPlanes(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, uint8(7), uint8(7), uint8(1), uint8(1), uint8(2), uint8(2))
	f.Add([]byte("phase planes"), uint8(3), uint8(30), uint8(0), uint8(2), uint8(0), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, h8, w8, top8, left8, dh8, dw8 uint8) {
		if len(data) == 0 {
			return
		}
		h, w, top, left := 1+int(h8%12), 1+int(w8%40), int(top8%3), int(left8%3)
		hq, wq := max(top, top+h+int(dh8%5)-2), max(1, left+w+int(dw8%5)-2)
		planes := 1 + len(data)%3
		src := make([]float32, planes*h*w)
		for i := range src {
			src[i] = float32(data[i%len(data)]) - 128
		}
		want, got := make([]float32, planes*hq*wq), make([]float32, planes*hq*wq)
		for i := range want {
			want[i], got[i] = 7, 7
		}
		padPlanesGeneric(want, src, planes, h, w, hq, wq, top, left)
		padPlanes(got, src, planes, h, w, hq, wq, top, left)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%d planes %d×%d into %d×%d, padding %d, %d: value %d is %v, want %v", planes, h, w, hq, wq, top, left, i, got[i], want[i])
			}
		}
	})
}
