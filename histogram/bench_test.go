package histogram

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/reduce"
)

const benchN = 1 << 20

func benchData() []float32 {
	r := rand.New(rand.NewPCG(11, 12))
	x := make([]float32, benchN)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// naiveLoop is the obvious Go loop for torch.histc over |x| into 2048
// bins, the baseline the kernels are measured against.
func naiveLoop(counts []int64, x []float32, hi float32) {
	n := len(counts)
	fn := float32(n)
	for _, v := range x {
		a := float32(math.Abs(float64(v)))
		if !(a <= hi) {
			continue
		}
		pos := int(a / hi * fn)
		if pos == n {
			pos--
		}
		counts[pos]++
	}
}

// BenchmarkHistc bins 1 Mi gaussian elements into 2048 bins over
// [0, max|x|]: each kernel family, and the naive loop in the same run.
func BenchmarkHistc(b *testing.B) {
	x := benchData()
	hi := reduce.AbsMax(x)
	counts := make([]int64, 2048)
	b.Run("impl=naive", func(b *testing.B) {
		b.SetBytes(4 * benchN)
		for b.Loop() {
			naiveLoop(counts, x, hi)
		}
	})
	for _, impl := range cpufeat.Available() {
		b.Run("impl="+impl.String(), func(b *testing.B) {
			defer cpufeat.Use(impl)()
			p := newHistcParams(2048, 0, hi, false)
			var bn binner
			b.SetBytes(4 * benchN)
			for b.Loop() {
				bn.histc(counts, x, p)
			}
		})
	}
}

// BenchmarkCollect is a whole torch-path Collect of a 1 Mi-element batch
// into a 2048-bin histogram that already covers it (the steady state of a
// calibration run).
func BenchmarkCollect(b *testing.B) {
	x := benchData()
	for _, numpy := range []bool{false, true} {
		name := "path=torch"
		if numpy {
			name = "path=numpy"
		}
		b.Run(name, func(b *testing.B) {
			h, err := New(Options{NumBins: 2048, NumPy: numpy})
			if err != nil {
				b.Fatal(err)
			}
			if err := h.Collect(x); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(4 * benchN)
			for b.Loop() {
				if err := h.Collect(x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHistcVsNaive alternates the naive loop and the selected kernel
// on the same 1 Mi elements and reports their speed ratio, which a busy
// machine disturbs less than separate benchmarks.
func BenchmarkHistcVsNaive(b *testing.B) {
	x := benchData()
	hi := reduce.AbsMax(x)
	counts := make([]int64, 2048)
	for _, impl := range cpufeat.Available() {
		b.Run("impl="+impl.String(), func(b *testing.B) {
			defer cpufeat.Use(impl)()
			p := newHistcParams(2048, 0, hi, false)
			var bn binner
			var naive, kernel time.Duration
			b.SetBytes(4 * benchN)
			for b.Loop() {
				t0 := time.Now()
				naiveLoop(counts, x, hi)
				t1 := time.Now()
				bn.histc(counts, x, p)
				naive, kernel = naive+t1.Sub(t0), kernel+time.Since(t1)
			}
			b.ReportMetric(float64(naive)/float64(kernel), "x-naive")
			b.ReportMetric(float64(benchN)*float64(b.N)/kernel.Seconds()/1e9, "Gelem/s")
		})
	}
}
