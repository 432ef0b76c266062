package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

const sentinel = -12345.5

// problem is one Sgemm call with its operands laid out with spare leading
// dimension, so that reads and writes outside the matrices show.
type problem struct {
	transA, transB, acc bool
	m, n, k             int
	a, b, c             []float32
	lda, ldb, ldc       int
}

func newProblem(rng *rand.Rand, transA, transB, acc bool, m, n, k int) *problem {
	p := &problem{transA: transA, transB: transB, acc: acc, m: m, n: n, k: k}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	p.lda, p.ldb, p.ldc = max(1, ac+rng.IntN(3)), max(1, bc+rng.IntN(3)), n+1+rng.IntN(3)
	fill := func(rows, ld, cols int) []float32 {
		x := make([]float32, rows*ld)
		for i := range x {
			x[i] = sentinel
			if i%ld < cols {
				x[i] = float32(rng.NormFloat64())
			}
		}
		return x
	}
	p.a, p.b, p.c = fill(ar, p.lda, ac), fill(br, p.ldb, bc), fill(m, p.ldc, n)
	return p
}

func (p *problem) at(x []float32, ld int, trans bool, i, j int) float64 {
	if trans {
		return float64(x[j*ld+i])
	}
	return float64(x[i*ld+j])
}

// check runs Sgemm and compares every element with a float64 reference,
// allowing the rounding error of a float32 dot product of length k, and
// checks that the padding of C kept its sentinel.
func (p *problem) check(t *testing.T) { p.checkSample(t, nil) }

// checkSample is check with the reference computed only for the elements
// sample selects (all when sample is nil); the padding is always checked.
func (p *problem) checkSample(t *testing.T, sample func(i, j int) bool) {
	t.Helper()
	c0 := append([]float32{}, p.c...)
	Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, p.c, p.ldc, p.acc)
	const eps = 1.0 / (1 << 23)
	for i := range p.m {
		for j := range p.ldc {
			idx := i*p.ldc + j
			if j >= p.n {
				if math.Float32bits(p.c[idx]) != math.Float32bits(c0[idx]) {
					t.Fatalf("%+v: padding c[%d][%d] overwritten: %v", p.dims(), i, j, p.c[idx])
				}
				continue
			}
			if sample != nil && !sample(i, j) {
				continue
			}
			var want, mag float64
			if p.acc {
				want, mag = float64(c0[idx]), math.Abs(float64(c0[idx]))
			}
			for q := range p.k {
				v := p.at(p.a, p.lda, p.transA, i, q) * p.at(p.b, p.ldb, p.transB, q, j)
				want += v
				mag += math.Abs(v)
			}
			if d := math.Abs(float64(p.c[idx]) - want); d > float64(p.k+2)*eps*mag+1e-30 {
				t.Fatalf("%+v: c[%d][%d] = %v, want %v (|diff| %g, bound %g)", p.dims(), i, j, p.c[idx], want, d, float64(p.k+2)*eps*mag)
			}
		}
	}
}

func (p *problem) dims() string {
	return fmt.Sprintf("transA=%v transB=%v acc=%v m=%d n=%d k=%d lda=%d ldb=%d ldc=%d",
		p.transA, p.transB, p.acc, p.m, p.n, p.k, p.lda, p.ldb, p.ldc)
}

func TestSgemmRagged(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		// Every size 0..70 in each dimension once, the others random,
		// with every combination of transposes and accumulation (two of
		// the eight in turn under -short, for the race detector and qemu).
		for s := 0; s <= 70; s++ {
			for mode := range 8 {
				if testing.Short() && mode != s%8 && mode != (s+5)%8 {
					continue
				}
				ta, tb, acc := mode&1 != 0, mode&2 != 0, mode&4 != 0
				r1, r2 := 1+rng.IntN(70), 1+rng.IntN(70)
				newProblem(rng, ta, tb, acc, s, r1, r2).check(t)
				newProblem(rng, ta, tb, acc, r1, s, r2).check(t)
				newProblem(rng, ta, tb, acc, r1, r2, s).check(t)
			}
		}
	})
}

// TestSgemmLarge crosses every blocking boundary: m beyond one row block
// (mc), n beyond one column block (nc), k beyond one depth block (kc).
func TestSgemmLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large products are slow under -short (race, qemu)")
	}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		// The reference is computed for one element in 16 and for every
		// element next to a block boundary.
		edge := func(v, block int) bool { r := v % block; return r == 0 || r == block-1 }
		sample := func(i, j int) bool {
			return rng.IntN(16) == 0 || edge(i, 8) || edge(j, 32) || edge(j, nc)
		}
		for _, d := range [][3]int{{150, nc + 37, kc + 5}, {300, 70, 2*kc + 1}, {7, 2*nc + 1, 3}} {
			newProblem(rng, false, false, true, d[0], d[1], d[2]).checkSample(t, sample)
			newProblem(rng, true, true, false, d[0], d[1], d[2]).checkSample(t, sample)
		}
	})
}

// TestSgemmDeterministic checks that the split across goroutines does not
// change a single bit.
func TestSgemmDeterministic(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		// Split along n, then along m (with transposes and accumulation).
		for _, p := range []*problem{newProblem(rng, false, true, false, 300, 1001, 250), newProblem(rng, true, false, true, 1003, 270, 250)} {
			run := func(procs int) []float32 {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				c := append([]float32{}, p.c...)
				Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, c, p.ldc, p.acc)
				return c
			}
			one := run(1)
			for _, procs := range []int{2, 3, 4} {
				many := run(procs)
				for i := range one {
					if math.Float32bits(one[i]) != math.Float32bits(many[i]) {
						t.Fatalf("%s: element %d: %v with 1 goroutine, %v with %d", p.dims(), i, one[i], many[i], procs)
					}
				}
			}
		}
	})
}

func TestSgemmZeroK(t *testing.T) {
	c := []float32{1, 2, 3, 4, 5, 6}
	Sgemm(false, false, 2, 2, 0, nil, 1, nil, 2, c, 3, true)
	if c[0] != 1 || c[4] != 5 {
		t.Fatalf("accumulate with k=0 changed C: %v", c)
	}
	Sgemm(false, false, 2, 2, 0, nil, 1, nil, 2, c, 3, false)
	if want := []float32{0, 0, 3, 0, 0, 6}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Fatalf("k=0 without accumulate: C = %v, want %v", c, want)
	}
}

func TestSgemmPanicsOnShortSlices(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"short A", func() {
			Sgemm(false, false, 2, 2, 2, make([]float32, 3), 2, make([]float32, 4), 2, make([]float32, 4), 2, false)
		}},
		{"short C", func() {
			Sgemm(false, false, 2, 2, 2, make([]float32, 4), 2, make([]float32, 4), 2, make([]float32, 3), 2, false)
		}},
		{"small ldb", func() {
			Sgemm(false, true, 2, 3, 2, make([]float32, 4), 2, make([]float32, 6), 1, make([]float32, 6), 3, false)
		}},
		{"negative m", func() { Sgemm(false, false, -1, 2, 2, nil, 2, make([]float32, 4), 2, nil, 2, false) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
}

// TestSgemmSpecials checks that NaN and infinities propagate as in the
// float64 reference: NaN where it is NaN (0·Inf included), the same
// infinity where it is infinite.
func TestSgemmSpecials(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 9))
		for _, d := range [][3]int{{3, 5, 4}, {17, 40, 33}} {
			p := newProblem(rng, false, false, false, d[0], d[1], d[2])
			p.a[0], p.a[p.lda+1], p.b[2] = nan, inf, -inf // row 0: NaN; row 1: ±Inf (or NaN with -Inf·0)
			p.b[p.ldb+3] = 0
			Sgemm(false, false, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, p.c, p.ldc, false)
			for i := range p.m {
				for j := range p.n {
					var want float64
					for q := range p.k {
						want += float64(p.a[i*p.lda+q]) * float64(p.b[q*p.ldb+j])
					}
					got := float64(p.c[i*p.ldc+j])
					switch {
					case math.IsNaN(want) && !math.IsNaN(got):
						t.Fatalf("%v: c[%d][%d] = %v, want NaN", d, i, j, got)
					case math.IsInf(want, 0) && got != want:
						t.Fatalf("%v: c[%d][%d] = %v, want %v", d, i, j, got, want)
					}
				}
			}
		}
	})
}
