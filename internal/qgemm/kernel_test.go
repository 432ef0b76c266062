package qgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// The kernel tests run each family's kernels on their own, against the
// generic code (the specification), bit for bit: every micro-kernel on
// depths 0..40 and 1..3 taps, every epilogue on tiles of 1..7 rows of
// 0..300 columns at offsets 0..15 with guard values around the output,
// the depthwise kernel on 0..300 channels, and the byte transposition.

// randomBytes returns n random bytes, 0x00, 0x7f, 0x80 and 0xff more often
// than chance.
func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		switch rng.IntN(6) {
		case 0:
			b[i] = []byte{0, 0x7f, 0x80, 0xff}[rng.IntN(4)]
		default:
			b[i] = byte(rng.Uint32())
		}
	}
	return b
}

func TestMicroKernels(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		g := geometries[f]
		rng := rand.New(rand.NewPCG(5, uint64(f)))
		for taps := 1; taps <= 3; taps++ {
			for c4 := 0; c4 <= 40; c4++ {
				for rows := 1; rows <= g.mr; rows++ {
					// Each pointer at its own offset in its own buffer, so
					// that a read past 4·c4 bytes would show under -race
					// or in the results (the bytes past it differ).
					ind := make([]unsafe.Pointer, taps*g.mr)
					for i := range ind {
						b := randomBytes(rng, 4*c4+16)
						if g.wide { // the uint8 values as 16-bit ones
							w := make([]byte, 2*len(b))
							widenCopy(w, b, 0)
							b = w
						}
						off := rng.IntN(16) * g.es()
						ind[i] = unsafe.Pointer(&b[off])
					}
					w := make([]int8, taps*c4*g.nr*4)
					for i, v := range randomBytes(rng, len(w)) {
						w[i] = int8(v)
					}
					want := make([]int32, g.mr*g.nr)
					dotGeneric(g, taps, c4, ind, w, want)
					got := make([]int32, g.mr*g.nr)
					dot(f, rows, taps, c4, ind, w, got)
					if !slices.Equal(got[:rows*g.nr], want[:rows*g.nr]) {
						t.Fatalf("taps %d, c4 %d, rows %d: tile\n%v\nwant\n%v", taps, c4, rows, got[:rows*g.nr], want[:rows*g.nr])
					}
					cases++
				}
			}
		}
	})
}

// TestDotTiles compares dotTiles (on amd64 one call for every tile) with
// dotGeneric tile by tile, on every family: 0 to 4 tiles, 1 to 2 taps,
// depths of 0 to 9 quads, each row pointer in its own buffer; the sums
// past the last tile must stay as they were.
func TestDotTiles(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		g := geometries[f]
		rng := rand.New(rand.NewPCG(6, uint64(f)))
		for tiles := 0; tiles <= 4; tiles++ {
			for taps := 1; taps <= 2; taps++ {
				for c4 := 0; c4 <= 9; c4++ {
					ind := make([]unsafe.Pointer, tiles*taps*g.mr)
					for i := range ind {
						b := randomBytes(rng, 4*c4+16)
						if g.wide {
							w := make([]byte, 2*len(b))
							widenCopy(w, b, 0)
							b = w
						}
						ind[i] = unsafe.Pointer(&b[rng.IntN(16)*g.es()])
					}
					w := make([]int8, taps*c4*g.nr*4)
					for i, v := range randomBytes(rng, len(w)) {
						w[i] = int8(v)
					}
					tile := g.mr * g.nr
					want := make([]int32, (tiles+1)*tile)
					for i := range want {
						want[i] = -7
					}
					got := slices.Clone(want)
					for k := range tiles {
						dotGeneric(g, taps, c4, ind[k*taps*g.mr:], w, want[k*tile:])
					}
					dotTiles(f, tiles, taps, c4, ind, w, got)
					if !slices.Equal(got, want) {
						t.Fatalf("%d tiles, taps %d, c4 %d: sums\n%v\nwant\n%v", tiles, taps, c4, got, want)
					}
					cases++
				}
			}
		}
	})
}

// epiCase is a random epilogue tile: P, the per-column terms, the scales
// (with ties, huge and tiny values), the float bias.
type epiCase struct {
	t     tileOut
	scale []float32
	bias  []float32
	q     quantParams
}

func newEpiCase(rng *rand.Rand, rows, n int, zp bool) *epiCase {
	ldp := n + rng.IntN(4)
	c := &epiCase{t: tileOut{rows: rows, ldp: ldp}}
	c.t.p = make([]int32, rows*ldp)
	for i := range c.t.p {
		switch rng.IntN(4) {
		case 0:
			c.t.p[i] = rng.Int32N(512) - 256 // ties with scale 0.5 and 0.25
		default:
			c.t.p[i] = int32(rng.Uint32())
		}
	}
	c.t.colTerm = make([]int32, n)
	for i := range c.t.colTerm {
		c.t.colTerm[i] = rng.Int32N(1<<16) - 1<<15
	}
	if zp {
		c.t.zp = make([]int32, n)
		for i := range c.t.zp {
			c.t.zp[i] = rng.Int32N(256) - 128
		}
		c.t.rho = make([]int32, rows)
		for i := range c.t.rho {
			c.t.rho[i] = rng.Int32N(1<<20) - 1<<19
		}
	}
	c.scale = make([]float32, n)
	c.bias = make([]float32, n)
	for i := range c.scale {
		switch rng.IntN(6) {
		case 0:
			c.scale[i] = 0.5
		case 1:
			c.scale[i] = 0.25
		case 2:
			c.scale[i] = 3e38 // products overflow to ±Inf, clamped
		case 3:
			c.scale[i] = -float32(math.Ldexp(rng.Float64(), -20))
		default:
			c.scale[i] = float32(math.Ldexp(1+rng.Float64(), -rng.IntN(30)))
		}
		c.bias[i] = float32(rng.NormFloat64() * 100)
	}
	lo := rng.Int32N(200) - 128
	hi := lo + rng.Int32N(128-lo)
	zq := rng.Int32N(256) - 128
	c.q = quantParams{lo: float32(lo - zq), hi: float32(hi - zq), zp: zq}
	return c
}

func TestEpilogues(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		rng := rand.New(rand.NewPCG(6, uint64(f)))
		for n := 0; n <= 300; n++ {
			if testing.Short() && n > 40 && n%7 != 0 {
				continue
			}
			rows := 1 + n%7
			c := newEpiCase(rng, rows, n, n%3 != 0)
			ldo := n + rng.IntN(4)
			off := n % 16
			size := off + max(0, (rows-1)*ldo+n) + 8

			wi := make([]int32, size)
			gi := make([]int32, size)
			for i := range wi {
				wi[i], gi[i] = guard, guard
			}
			c.t.ldo = ldo
			c.t.rowsInt32(wi[off:])
			epiInt32(f, &c.t, gi[off:])
			if !slices.Equal(gi, wi) {
				t.Fatalf("int32 epilogue, %d×%d: %v, want %v", rows, n, gi, wi)
			}

			wq := make([]byte, size)
			gq := make([]byte, size)
			for i := range wq {
				wq[i], gq[i] = 0xa5, 0xa5
			}
			c.t.rowsQuant(c.scale, &c.q, wq[off:])
			epiQuant(f, &c.t, c.scale, &c.q, gq[off:])
			if !slices.Equal(gq, wq) {
				t.Fatalf("quantized epilogue, %d×%d (bounds %v): %v, want %v", rows, n, c.q, gq, wq)
			}

			wf := make([]float32, size)
			gf := make([]float32, size)
			for i := range wf {
				wf[i], gf[i] = guard, guard
			}
			c.t.rowsFloat(c.scale, c.bias, wf[off:])
			epiFloat(f, &c.t, c.scale, c.bias, gf[off:])
			for i := range wf {
				if math.Float32bits(gf[i]) != math.Float32bits(wf[i]) {
					t.Fatalf("float epilogue, %d×%d: element %d = %v, want %v", rows, n, i, gf[i], wf[i])
				}
			}
			cases += 3
		}
	})
}

func TestDepthwiseKernel(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		g := geometries[f]
		rng := rand.New(rand.NewPCG(7, uint64(f)))
		for c := 0; c <= 300; c++ {
			if testing.Short() && c > 40 && c%7 != 0 {
				continue
			}
			taps, npix := 1+c%9, 1+c%5
			step := c + rng.IntN(8)
			ind := make([]unsafe.Pointer, taps)
			for i := range ind {
				b := randomBytes(rng, (npix-1)*step+c+16)
				ind[i] = unsafe.Pointer(&b[rng.IntN(16)])
			}
			w := make([]int16, taps*c)
			for i := range w {
				w[i] = int16(rng.IntN(511) - 255)
			}
			want := make([]int32, npix*c+5)
			got := make([]int32, npix*c+5)
			for i := range want {
				want[i], got[i] = guard, guard
			}
			dwGeneric(g.signed, taps, c, npix, step, ind, w, want)
			dwRun(f, taps, c, npix, step, ind, w, pairTaps(w, taps, c), got)
			if !slices.Equal(got, want) {
				t.Fatalf("c %d, taps %d, %d pixels: %v, want %v", c, taps, npix, got, want)
			}
			cases++
		}
	})
}

// TestDepthwiseWords runs the depthwise kernel on 16-bit activations
// (dwWords: dwWordsVNNI on the VNNI families) against dwWordsGeneric on 0
// to 300 channels (blocks of 32 and an overlapping last one; below 32 the
// generic code), 1-9 taps and 1-5 pixels, activations 0-255 and weights
// −255-255 with their extremes, guards past the sums.
func TestDepthwiseWords(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		rng := rand.New(rand.NewPCG(11, uint64(f)))
		for c := 0; c <= 300; c++ {
			if testing.Short() && c > 70 && c%7 != 0 {
				continue
			}
			taps, npix := 1+c%9, 1+c%5
			step := 2*c + 2*rng.IntN(8)
			ind := make([]unsafe.Pointer, taps)
			for i := range ind {
				b := make([]uint16, (npix-1)*step/2+c+16)
				for j := range b {
					b[j] = uint16(rng.IntN(256))
					if rng.IntN(8) == 0 {
						b[j] = 255
					}
				}
				ind[i] = unsafe.Pointer(&b[rng.IntN(16)])
			}
			w := make([]int16, taps*c)
			for i := range w {
				w[i] = int16(rng.IntN(511) - 255)
				if rng.IntN(8) == 0 {
					w[i] = []int16{-255, 255}[rng.IntN(2)]
				}
			}
			var words []int32
			if c >= 32 {
				words = dwWordWeights(w, taps, c)
			}
			want := make([]int32, npix*c+5)
			got := make([]int32, npix*c+5)
			for i := range want {
				want[i], got[i] = guard, guard
			}
			dwWordsGeneric(taps, c, npix, step, ind, w, want)
			dwWords(f, taps, c, npix, step, ind, w, words, got)
			if !slices.Equal(got, want) {
				t.Fatalf("c %d, taps %d, %d pixels: %v, want %v", c, taps, npix, got, want)
			}
			cases++
		}
	})
}

// TestDepthwiseRows runs the row kernels of 3×3 and 5×5 windows (dwRows)
// against dwGeneric on 8 to 40 channels (blocks of 8 and an overlapping
// last one), each with 0 to 9 pixels (groups of dwRowsPixels and single
// ones), strides of 1 and 2, rows of any length, the bytes' and the
// weights' extremes among them, with guards past the sums.
func TestDepthwiseRows(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		rng := rand.New(rand.NewPCG(10, uint64(f)))
		ran := 0
		for _, k := range []int{3, 5} {
			for c := 8; c <= 40; c++ {
				for npix := range 10 {
					st := 1 + (c+npix)%2
					step := st * c
					ld := (max(npix-1, 0)*st+k+rng.IntN(3))*c + rng.IntN(4)
					x := randomBytes(rng, max(npix-1, 0)*step+(k-1)*(ld+c)+c)
					w := make([]int16, k*k*c)
					for i := range w {
						w[i] = int16(rng.IntN(511) - 255)
						if rng.IntN(8) == 0 { // the extremes of β − zβ
							w[i] = []int16{-255, 255}[rng.IntN(2)]
						}
					}
					ind := make([]unsafe.Pointer, k*k)
					for i := range k {
						for j := range k {
							ind[i*k+j] = unsafe.Pointer(&x[i*ld+j*c])
						}
					}
					want := make([]int32, npix*c+5)
					for i := range want {
						want[i] = guard
					}
					got := slices.Clone(want)
					dwGeneric(false, k*k, c, npix, step, ind, w, want)
					if !dwRows(f, k, c, npix, step, ld, x, dwRowWeights(w, k, c), got) {
						continue
					}
					if !slices.Equal(got, want) {
						t.Fatalf("%d×%d, c %d, %d pixels, step %d, ld %d: %v, want %v", k, k, c, npix, step, ld, got, want)
					}
					cases++
					ran++
				}
			}
		}
		if f.ymm() && ran == 0 {
			t.Fatalf("the %v family ran no row kernel", f)
		}
	})
}

func TestTransposeBytes(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		rng := rand.New(rand.NewPCG(8, uint64(f)))
		for rows := 0; rows <= 33; rows++ {
			for cols := 0; cols <= 33; cols++ {
				lds, ldd := cols+rng.IntN(3), rows+rng.IntN(3)
				flip := []byte{0, 0x80}[rng.IntN(2)]
				src := randomBytes(rng, rows*lds+3)
				want := randomBytes(rng, cols*ldd+3)
				got := slices.Clone(want)
				for i := range rows {
					for j := range cols {
						want[j*ldd+i] = src[i*lds+j] ^ flip
					}
				}
				transposeBytes(got, ldd, src, lds, rows, cols, flip)
				if !slices.Equal(got, want) {
					t.Fatalf("%d×%d (lds %d, ldd %d, flip %#x): %v, want %v", rows, cols, lds, ldd, flip, got, want)
				}
				cases++
			}
		}
	})
}

// TestTransposeQuads checks the stem's copy into pixels of 4 channels
// (quadChannels) against its definition, for 1-3 channels, rows of 0-70
// pixels (blocks of 16 in assembly and the rest), both flips.
func TestTransposeQuads(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		rng := rand.New(rand.NewPCG(9, uint64(f)))
		for rows := 1; rows <= 3; rows++ {
			for cols := 0; cols <= 70; cols++ {
				lds := cols + rng.IntN(20)
				flip, pad := []byte{0, 0x80}[rng.IntN(2)], byte(rng.IntN(256))
				src := randomBytes(rng, rows*lds)
				want := randomBytes(rng, 4*cols+8)
				got := slices.Clone(want)
				for j := range cols {
					for i := range 4 {
						want[4*j+i] = pad
						if i < rows {
							want[4*j+i] = src[i*lds+j] ^ flip
						}
					}
				}
				transposeQuads(got, src, lds, rows, cols, flip, pad)
				if !slices.Equal(got, want) {
					t.Fatalf("%d rows of %d (lds %d, flip %#x, pad %#x): %v, want %v", rows, cols, lds, flip, pad, got, want)
				}
				cases++
			}
		}
	})
}

// TestWorstCaseOperands runs the extreme operands through every family:
// all activations at one end of their range and every weight at one end
// of its, against zero points at the other ends, at the largest depth
// (MaxK), where |C| comes within 0.002% of 2³¹. The VPMADDWD, SDOT and
// SMULL/SADALP kernels see their largest products in every lane (255 or
// 127 times −128, four to a quad), and a kernel that saturated (as
// VPMADDUBSW would, at 64770 per pair) or dropped bits would be off by
// millions.
func TestWorstCaseOperands(t *testing.T) {
	type extreme struct{ a, za, b, zb int32 }
	u8s8 := []extreme{{255, 0, -128, 127}, {255, 0, 127, -128}, {0, 255, -128, 127}, {0, 255, 127, -128}, {255, 255, -128, -128}}
	s8s8 := []extreme{{127, -128, -128, 127}, {-128, 127, -128, 127}, {127, -128, 127, -128}}
	k := MaxK
	if testing.Short() {
		k = 4099
	}
	forEachFamily(t, func(t *testing.T, f family) {
		g := geometries[f]
		m, n := g.mr+1, g.nr+3
		run := func(name string, check func(t *testing.T, p *problem)) {
			t.Run(name, func(t *testing.T) {
				for _, e := range u8s8 {
					check(t, extremeProblem(m, n, k, e.a, e.za, e.b, e.zb))
				}
			})
		}
		// The operands do reach VPMADDUBSW's saturation: its pair sums of
		// 255·127 or 255·(−128) do not fit in int16.
		if sat := maddubs(255, 255, 127, 127); sat == 255*127*2 {
			t.Fatal("the saturation model does not saturate")
		}
		if sat := maddubs(255, 255, -128, -128); sat == -255*128*2 {
			t.Fatal("the saturation model does not saturate")
		}
		run("u8s8", func(t *testing.T, p *problem) { checkProblem[uint8, int8, uint8](t, rand.New(rand.NewPCG(1, 1)), p, 2) })
		t.Run("s8s8", func(t *testing.T) {
			for _, e := range s8s8 {
				checkProblem[int8, int8, int8](t, rand.New(rand.NewPCG(1, 1)), extremeProblem(m, n, k, e.a, e.za, e.b, e.zb), 2)
			}
		})
	})
}

// extremeProblem returns an m×n×k product with every activation a (zero
// point za) and every weight b (zero point zb), and checks that |C| is
// close to the largest the package promises.
func extremeProblem(m, n, k int, a, za, b, zb int32) *problem {
	p := &problem{m: m, n: n, k: k, lda: k, za: za, zb: []int32{zb}}
	p.a = make([]int32, m*k)
	for i := range p.a {
		p.a[i] = a
	}
	p.b = make([]int32, k*n)
	for i := range p.b {
		p.b[i] = b
	}
	if c := int64(k) * int64(a-za) * int64(b-zb); c > math.MaxInt32 || c < math.MinInt32 {
		panic(fmt.Sprint("extreme product overflows: ", c))
	}
	return p
}

// maddubs is one 16-bit lane of VPMADDUBSW: the two products of unsigned
// a and signed b, summed with signed saturation.
func maddubs(a0, a1, b0, b1 int32) int32 {
	return min(max(a0*b0+a1*b1, math.MinInt16), math.MaxInt16)
}

// TestMatMulGrid runs every M up to two tiles and a row, every N up to a
// panel and 9 columns, and depths 0..9 and around 16, 32 and 64, with the
// zero points at their extremes and the activations at every offset
// 0..15, through every family (int32 output: the epilogues have their own
// test).
func TestMatMulGrid(t *testing.T) {
	ks := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65}
	forEachFamily(t, func(t *testing.T, f family) {
		g := geometries[f]
		rng := rand.New(rand.NewPCG(9, uint64(f)))
		count := 0
		for m := 1; m <= 2*g.mr+1; m++ {
			for n := 1; n <= g.nr+9; n++ {
				for ki, k := range ks {
					if testing.Short() && (m+n+ki)%11 != 0 {
						continue
					}
					p := newProblem[uint8, int8](rng, m, n, k, false, false)
					p.za = []int32{0, 255, 128}[(m+ki)%3]
					p.zb[0] = []int32{-128, 127, 0}[(n+ki)%3]
					w, err := PackMatrix(convert[int8](p.b), k, n, n, false, convert[int8](p.zb))
					if err != nil {
						t.Fatal(err)
					}
					a := Matrix[uint8]{Data: offset(convert[uint8](p.a), count%16), Rows: m, Stride: p.lda, ZeroPoint: uint8(p.za)}
					c := make([]int32, m*n)
					if err := MatMulInt32(1, a, w, nil, c, n); err != nil {
						t.Fatal(err)
					}
					for i, v := range p.ref() {
						if c[i] != int32(v) {
							t.Fatalf("m=%d n=%d k=%d za=%d zb=%d: C[%d] = %d, want %d", m, n, k, p.za, p.zb[0], i, c[i], v)
						}
					}
					count++
					cases++
				}
			}
		}
	})
}

// TestThreads splits products and convolutions across 2..5 goroutines
// (with the work threshold lowered) and checks every output against one
// goroutine's, bit for bit.
func TestThreads(t *testing.T) {
	defer func(w float64) { parallelWork = w }(parallelWork)
	parallelWork = 1
	forEachFamily(t, func(t *testing.T, f family) {
		rng := rand.New(rand.NewPCG(10, uint64(f)))
		for _, s := range [][3]int{{37, 200, 29}, {300, 20, 50}, {1, 500, 64}} {
			p := newProblem[uint8, int8](rng, s[0], s[1], s[2], true, true)
			for threads := 1; threads <= 5; threads++ {
				checkProblem[uint8, int8, uint8](t, rng, p, threads)
			}
		}
		for _, c := range convShapes {
			p := newConvProblem[uint8, int8](rng, c, true, true)
			for threads := 1; threads <= 5; threads++ {
				checkConv[uint8, int8, uint8](t, rng, p, NHWC, NHWC, threads)
			}
		}
	})
}

func TestTransposeBits32(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		rng := rand.New(rand.NewPCG(13, uint64(f)))
		for rows := 0; rows <= 33; rows++ {
			for cols := 0; cols <= 33; cols++ {
				lds, ldd := cols+rng.IntN(3), rows+rng.IntN(3)
				src := make([]uint32, rows*lds+3)
				for i := range src {
					src[i] = rng.Uint32()
				}
				want := make([]uint32, cols*ldd+3)
				for i := range want {
					want[i] = rng.Uint32()
				}
				got := slices.Clone(want)
				for i := range rows {
					for j := range cols {
						want[j*ldd+i] = src[i*lds+j]
					}
				}
				transposeBits32(got, ldd, src, lds, rows, cols)
				if !slices.Equal(got, want) {
					t.Fatalf("%d×%d (lds %d, ldd %d): %v, want %v", rows, cols, lds, ldd, got, want)
				}
				cases++
			}
		}
	})
}

// TestXorCopy: xorCopy flips every byte of every length around the
// 4 KiB runs of signFlips, for the sign flip, no flip and another byte,
// and writes nothing past len(src).
func TestXorCopy(t *testing.T) {
	src := make([]byte, 9000)
	for i := range src {
		src[i] = byte(i*131 + 7)
	}
	for _, flip := range []byte{0x80, 0, 0x5a} {
		for _, n := range []int{0, 1, 7, 8, 9, 4095, 4096, 4097, 8192, 8999} {
			dst := make([]byte, n+3)
			for i := range dst {
				dst[i] = 0xee
			}
			xorCopy(dst, src[:n], flip)
			for i := range n {
				if dst[i] != src[i]^flip {
					t.Fatalf("flip %#x n=%d: dst[%d] = %#x, want %#x", flip, n, i, dst[i], src[i]^flip)
				}
			}
			if dst[n] != 0xee || dst[n+2] != 0xee {
				t.Fatalf("flip %#x n=%d: wrote past the end", flip, n)
			}
		}
	}
}

// TestWidenCopy: widenCopy widens every length 0-200 at source offsets
// 0-3 on every family (widenAVX2's blocks of 16 and the Go code's tail),
// for the sign flip, no flip and another byte, and writes nothing past
// 2·len(src).
func TestWidenCopy(t *testing.T) {
	forEachFamily(t, func(t *testing.T, f family) {
		rng := rand.New(rand.NewPCG(16, uint64(f)))
		for _, flip := range []byte{0x80, 0, 0x5a} {
			for n := 0; n <= 200; n++ {
				for off := range 4 {
					src := randomBytes(rng, off+n)[off:]
					dst := make([]byte, 2*n+3)
					for i := range dst {
						dst[i] = 0xee
					}
					widenCopy(dst, src, flip)
					for i := range n {
						if dst[2*i] != src[i]^flip || dst[2*i+1] != 0 {
							t.Fatalf("flip %#x n=%d off=%d: element %d is %#x %#x, want %#x 0", flip, n, off, i, dst[2*i], dst[2*i+1], src[i]^flip)
						}
					}
					if dst[2*n] != 0xee || dst[2*n+2] != 0xee {
						t.Fatalf("flip %#x n=%d off=%d: wrote past the end", flip, n, off)
					}
					cases++
				}
			}
		}
	})
}
