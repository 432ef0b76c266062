package gemm

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
	"github.com/tensorquant/tensorquant/internal/vec"
)

// sameBits fails t unless got and want are equal bit for bit.
func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d elements, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: element %d = %v, want %v", what, i, got[i], want[i])
		}
	}
}

// sgemmRef is Sgemm on a copy of p's C.
func (p *problem) sgemmRef() []float32 {
	c := append([]float32{}, p.c...)
	Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, c, p.ldc, p.acc)
	return c
}

// params returns Params for p writing into c.
func (p *problem) params(c []float32) *Params {
	return &Params{M: p.m, N: p.n, K: p.k, A: p.a, LdA: p.lda, TransA: p.transA, B: p.b, LdB: p.ldb, TransB: p.transB,
		C: c, LdC: p.ldc, Accumulate: p.acc}
}

// packBFunc returns a Params.PackB that packs op(B) of p as Gemm's own
// packing does, counting the calls running at once in *live and the most
// ever seen in *peak; each call takes at least pause, so that concurrent
// calls overlap.
func (p *problem) packBFunc(live, peak *atomic.Int32, pause time.Duration) func(dst []float32, nr, k0, kn, j0, jn int) {
	return func(dst []float32, nr, k0, kn, j0, jn int) {
		time.Sleep(pause)
		n := live.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		defer live.Add(-1)
		time.Sleep(pause)
		for q := 0; q*nr < jn; q++ {
			for r := range kn {
				for c := range nr {
					v := float32(0)
					if j := q*nr + c; j < jn {
						v = float32(p.at(p.b, p.ldb, p.transB, k0+r, j0+j))
					}
					dst[q*kn*nr+r*nr+c] = v
				}
			}
		}
	}
}

// gemmShapes cross the blocking boundaries (mc of every family, kc, nc)
// and the panel edges.
var gemmShapes = [][3]int{
	{1, 1, 1}, {7, 5, 3}, {8, 32, 256}, {9, 33, 257}, {150, 70, 2*kc + 1}, {17, nc + 37, 40}, {130, 49, 600}, {64, 3136, 27},
}

// TestGemmPackedOperands checks that Gemm with A packed in advance, B
// packed in advance, both, or B packed by the caller's function gives
// Sgemm's bits.
func TestGemmPackedOperands(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for i, d := range gemmShapes {
			for mode := range 8 {
				if testing.Short() && mode != i%8 && mode != (i+3)%8 {
					continue // two of the eight (race detector, qemu)
				}
				ta, tb, acc := mode&1 != 0, mode&2 != 0, mode&4 != 0
				p := newProblem(rng, ta, tb, acc, d[0], d[1], d[2])
				want := p.sgemmRef()
				pa := PackA(p.transA, p.m, p.k, p.a, p.lda)
				pb := PackB(p.transB, p.k, p.n, p.b, p.ldb)
				var live, peak atomic.Int32
				for _, v := range []struct {
					name string
					set  func(q *Params)
				}{
					{"packed A", func(q *Params) { q.A, q.PackedA = nil, pa }},
					{"packed B", func(q *Params) { q.B, q.PackedB = nil, pb }},
					{"packed A and B", func(q *Params) { q.A, q.PackedA, q.B, q.PackedB = nil, pa, nil, pb }},
					{"PackB", func(q *Params) { q.B, q.PackB = nil, p.packBFunc(&live, &peak, 0) }},
					{"packed A, PackB", func(q *Params) { q.A, q.PackedA, q.B, q.PackB = nil, pa, nil, p.packBFunc(&live, &peak, 0) }},
				} {
					c := append([]float32{}, p.c...)
					q := p.params(c)
					v.set(q)
					Gemm(q)
					sameBits(t, p.dims()+" "+v.name, c, want)
				}
				if i == 0 && mode == 0 {
					if pa.Rows() != 1 || pa.Cols() != 1 || pb.Len() != pb.kern.nr {
						t.Errorf("1×1 packed: A %d×%d, B holds %d values (nr %d)", pa.Rows(), pa.Cols(), pb.Len(), pb.kern.nr)
					}
				}
			}
		}
	})
}

// affine is a Func activation that tells one application from two or
// none: 2x + 1.
func affine(dst, src []float32) {
	for i, v := range src {
		dst[i] = 2*v + 1
	}
}

// tightC lays C out with no gap between its rows (ldc = n).
func (p *problem) tightC() {
	c := make([]float32, p.m*p.n)
	for i := range p.m {
		copy(c[i*p.n:][:p.n], p.c[i*p.ldc:])
	}
	p.c, p.ldc = c, max(1, p.n)
}

// TestGemmEpilogue checks the epilogue against Sgemm followed by the same
// operations element by element: a row or column bias, a residual and an
// activation (Relu, or a Func kernel, applied once to every element of C
// and to nothing else, with and without gaps between the rows of C), bit
// for bit, with k = 0 too.
func TestGemmEpilogue(t *testing.T) {
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(13, 14))
		for i, d := range append([][3]int{{5, 6, 0}}, gemmShapes...) {
			for mode := range 16 {
				if testing.Short() && mode != i%16 && mode != (i+5)%16 && mode != (i+11)%16 {
					continue
				}
				acc, perCol, withAdd, fn := mode&1 != 0, mode&2 != 0, mode&4 != 0, mode&8 != 0
				p := newProblem(rng, false, mode&1 != 0, acc, d[0], d[1], d[2])
				e := &Epilogue{Act: vec.Act{Kind: vec.Func, Func: affine}}
				if !fn {
					e.Act = vec.Act{Kind: vec.Relu}
				} else if i%2 == 0 {
					p.tightC() // rows of C back to back: Func runs on whole blocks
				}
				bias := make([]float32, max(p.m, p.n))
				for i := range bias {
					bias[i] = float32(rng.NormFloat64())
				}
				if perCol {
					e.ColBias = bias[:p.n]
				} else {
					e.RowBias = bias[:p.m]
				}
				if withAdd {
					e.LdAdd = p.n + 3
					e.Add = make([]float32, p.m*e.LdAdd)
					for i := range e.Add {
						e.Add[i] = float32(rng.NormFloat64())
					}
				}
				want := p.sgemmRef()
				for i := range p.m {
					for j := range p.n {
						v := &want[i*p.ldc+j]
						if perCol {
							*v += bias[j]
						} else {
							*v += bias[i]
						}
						if withAdd {
							*v += e.Add[i*e.LdAdd+j]
						}
						if fn {
							affine(want[i*p.ldc+j:][:1], want[i*p.ldc+j:][:1])
						} else {
							*v = max(*v, 0)
						}
					}
				}
				c := append([]float32{}, p.c...)
				q := p.params(c)
				q.Epilogue = e
				Gemm(q)
				sameBits(t, p.dims(), c, want)
			}
		}
	})
}

// TestGemmThreads checks that Threads bounds the goroutines (counted in
// the caller's packing function) and does not change a bit; the products
// are split along m and along n.
func TestGemmThreads(t *testing.T) {
	defer func(w float64) { parallelWork = w }(parallelWork)
	parallelWork = 1 << 10
	rng := rand.New(rand.NewPCG(15, 16))
	for _, d := range [][3]int{{130, 9, 300}, {16, 300, 70}} {
		p := newProblem(rng, false, false, false, d[0], d[1], d[2])
		want := p.sgemmRef()
		for _, threads := range []int{1, 2, 3, 4} {
			var live, peak atomic.Int32
			c := append([]float32{}, p.c...)
			q := p.params(c)
			q.B, q.PackB, q.Threads = nil, p.packBFunc(&live, &peak, time.Millisecond), threads
			Gemm(q)
			sameBits(t, p.dims(), c, want)
			if got := int(peak.Load()); got > threads {
				t.Errorf("%s: Threads %d, %d goroutines packed B at once", p.dims(), threads, peak.Load())
			}
		}
	}
}

func TestGemmPanics(t *testing.T) {
	a := PackA(false, 2, 3, make([]float32, 6), 3)
	b := PackB(false, 3, 2, make([]float32, 6), 2)
	for _, tc := range []struct {
		name string
		p    Params
	}{
		{"A twice", Params{M: 2, N: 2, K: 3, A: make([]float32, 6), LdA: 3, PackedA: a, PackedB: b, C: make([]float32, 4), LdC: 2}},
		{"packed A of another shape", Params{M: 3, N: 2, K: 2, PackedA: a, B: make([]float32, 4), LdB: 2, C: make([]float32, 6), LdC: 2}},
		{"packed B as A", Params{M: 3, N: 2, K: 2, PackedA: b, B: make([]float32, 4), LdB: 2, C: make([]float32, 6), LdC: 2}},
		{"B twice", Params{M: 2, N: 2, K: 3, PackedA: a, B: make([]float32, 6), LdB: 2, PackedB: b, C: make([]float32, 4), LdC: 2}},
		{"no B", Params{M: 2, N: 2, K: 3, PackedA: a, C: make([]float32, 4), LdC: 2}},
		{"short bias", Params{M: 2, N: 2, K: 3, PackedA: a, PackedB: b, C: make([]float32, 4), LdC: 2, Epilogue: &Epilogue{RowBias: []float32{1}}}},
		{"two biases", Params{M: 2, N: 2, K: 3, PackedA: a, PackedB: b, C: make([]float32, 4), LdC: 2, Epilogue: &Epilogue{RowBias: []float32{1, 2}, ColBias: []float32{1, 2}}}},
		{"short Add", Params{M: 2, N: 2, K: 3, PackedA: a, PackedB: b, C: make([]float32, 4), LdC: 2, Epilogue: &Epilogue{Add: make([]float32, 3), LdAdd: 2}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			Gemm(&tc.p)
		}()
	}
}
