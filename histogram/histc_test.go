package histogram

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

var (
	nan = float32(math.NaN())
	inf = float32(math.Inf(1))
)

// reference bins x with the generic kernel alone, into one histogram.
func reference(x []float32, p *histcParams) (counts []int64, zeros, outside int64) {
	h := make([]uint32, p.n+2)
	histcGeneric(h, x, p)
	counts = make([]int64, p.n)
	for i := range counts {
		counts[i] = int64(h[i])
	}
	return counts, int64(h[p.n]), int64(h[p.n+1])
}

// kernelCase is one binning set-up: bins and range.
type kernelCase struct {
	n      int
	lo, hi float32
	skip   bool
}

var kernelCases = []kernelCase{
	{2048, 0, 3.7, false}, {2048, 0, 3.7, true}, {1, 0, 1, false}, {2, 0, 1e-40, false}, {7, 0, 0.3, true},
	{128, 0, 0, false}, {128, 0, 0, true}, {100, 0.25, 3, false}, {33, 0, math.MaxFloat32, false}, {5, 2, 2, false},
	{64, -3e38, 3e38, false}, {3277, 0, 6.3, false},
}

// interesting returns n values for a case: the edges of every bin and their
// neighbours, the range ends, specials and noise.
func interesting(r *rand.Rand, n int, c kernelCase) []float32 {
	p := newHistcParams(c.n, c.lo, c.hi, c.skip)
	out := make([]float32, n)
	for i := range out {
		switch r.IntN(5) {
		case 0:
			pool := []float32{0, float32(math.Copysign(0, -1)), nan, -nan, inf, -inf, p.lo, p.hi, -p.hi,
				math.Nextafter32(p.hi, inf), math.Nextafter32(p.hi, 0), math.Nextafter32(p.lo, -inf),
				math.SmallestNonzeroFloat32, 1e-39, math.MaxFloat32, -math.MaxFloat32}
			out[i] = pool[r.IntN(len(pool))]
		case 1:
			e := p.lo + p.rng*float32(r.IntN(c.n+1))/p.fn
			out[i] = math.Float32frombits(math.Float32bits(e) + uint32(r.IntN(3)) - 1)
		case 2:
			out[i] = math.Float32frombits(r.Uint32())
		default:
			out[i] = (p.lo + p.rng*float32(r.Float64())) * float32(1-2*r.IntN(2))
		}
	}
	return out
}

func TestHistcKernelMatchesGeneric(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, c := range kernelCases {
			p := newHistcParams(c.n, c.lo, c.hi, c.skip)
			src := interesting(r, 300+16, c)
			var b binner
			got := make([]int64, c.n)
			for n := 0; n <= 300; n++ {
				for off := 0; off < 16; off++ {
					if testing.Short() && off%5 != 0 {
						continue
					}
					x := src[off : off+n]
					want, wz, wo := reference(x, p)
					clear(got)
					gz, goo := b.histc(got, x, p)
					if gz != wz || goo != wo {
						t.Fatalf("%+v n=%d off=%d: zeros/outside %d/%d, want %d/%d", c, n, off, gz, goo, wz, wo)
					}
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("%+v n=%d off=%d: bin %d = %d, want %d", c, n, off, i, got[i], want[i])
						}
					}
				}
			}
		}
	})
}

// TestHistcEveryBin puts one element at every bin edge (and one ulp on
// either side) of a few ranges, so that every lane meets every bin.
func TestHistcEveryBin(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, c := range []kernelCase{{2048, 0, 1, false}, {3000, 0, 7.3, false}, {17, 0, 1e-3, true}} {
			p := newHistcParams(c.n, c.lo, c.hi, c.skip)
			var x []float32
			for i := 0; i <= c.n; i++ {
				e := p.rng * float32(i) / p.fn
				x = append(x, e, math.Nextafter32(e, inf), math.Nextafter32(e, 0), -e)
			}
			want, wz, wo := reference(x, p)
			got := make([]int64, c.n)
			var b binner
			gz, goo := b.histc(got, x, p)
			if gz != wz || goo != wo {
				t.Fatalf("%+v: zeros/outside %d/%d, want %d/%d", c, gz, goo, wz, wo)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%+v: bin %d = %d, want %d", c, i, got[i], want[i])
				}
			}
		}
	})
}

// naiveHistc is torch.histc's loop written independently of the kernels.
func naiveHistc(x []float32, n int, lo, hi float32) []int64 {
	if lo == hi {
		lo, hi = lo-1, hi+1
	}
	out := make([]int64, n)
	for _, v := range x {
		a := float32(math.Abs(float64(v)))
		if a < lo || a > hi || a != a {
			continue
		}
		pos := int64(float32(float32(a-lo)/float32(hi-lo)) * float32(n))
		if pos == int64(n) {
			pos--
		}
		out[pos]++
	}
	return out
}

func TestHistcAbs(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		x := make([]float32, 100000)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		x[7], x[99], x[500] = nan, inf, 4
		for _, c := range []struct {
			n      int
			lo, hi float32
		}{{2048, 0, 3.5}, {10, 0, 0}, {300, 0.5, 1}} {
			got := make([]int64, c.n)
			skipped, err := HistcAbs(got, x, c.lo, c.hi)
			if err != nil {
				t.Fatal(err)
			}
			want := naiveHistc(x, c.n, c.lo, c.hi)
			var total int64
			for i := range got {
				total += got[i]
				if got[i] != want[i] {
					t.Fatalf("%+v: bin %d = %d, want %d", c, i, got[i], want[i])
				}
			}
			if total+int64(skipped) != int64(len(x)) {
				t.Fatalf("%+v: %d counted + %d skipped of %d", c, total, skipped, len(x))
			}
		}
	})
	for _, bad := range []struct {
		n      int
		lo, hi float32
	}{{0, 0, 1}, {MaxBins + 1, 0, 1}, {4, 0, inf}, {4, nan, 1}, {4, 2, 1}} {
		if _, err := HistcAbs(make([]int64, bad.n), nil, bad.lo, bad.hi); err == nil {
			t.Errorf("HistcAbs accepted %+v", bad)
		}
	}
}

func TestImplementationName(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		if got := Implementation(); got != t.Name()[len("TestImplementationName/"):] {
			t.Fatalf("Implementation() = %q under %s", got, t.Name())
		}
	})
}

func ExampleHistcAbs() {
	counts := make([]int64, 4)
	skipped, err := HistcAbs(counts, []float32{0, -0.5, 1, 2, 0.99, float32(math.NaN())}, 0, 1)
	fmt.Println(counts, skipped, err)
	// Output: [1 0 1 2] 2 <nil>
}
