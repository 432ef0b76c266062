package calibrators

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/histogram"
	"github.com/tensorquant/tensorquant/tensor"
)

// benchHistogram is the reference_timings.md set-up: 65536 standard-normal
// values in 2048 bins, and after growth the same values scaled by 1.6 as a
// second batch (3277 bins).
func benchHistogram(b *testing.B, grown bool) *Histogram {
	r := rand.New(rand.NewPCG(1, 2))
	h, err := NewHistogram(HistogramOptions{})
	if err != nil {
		b.Fatal(err)
	}
	x := tensor.New(65536)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	if err := h.Collect(x); err != nil {
		b.Fatal(err)
	}
	if grown {
		for i := range x.Data {
			x.Data[i] *= 1.6
		}
		if err := h.Collect(x); err != nil {
			b.Fatal(err)
		}
	}
	return h
}

func BenchmarkComputeAmax(b *testing.B) {
	for _, bc := range []struct {
		name   string
		method Method
		o      AmaxOptions
		grown  bool
	}{
		{"entropy/bins=2048", "entropy", AmaxOptions{}, false},
		{"entropy_stride4/bins=2048", "entropy", AmaxOptions{Stride: 4}, false},
		{"entropy/bins=3277", "entropy", AmaxOptions{}, true},
		{"mse/bins=2048", "mse", AmaxOptions{}, false},
		{"mse/bins=3277", "mse", AmaxOptions{}, true},
		{"percentile/bins=2048", "percentile", AmaxOptions{}, false},
		{"percentile/bins=3277", "percentile", AmaxOptions{}, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := benchHistogram(b, bc.grown)
			for b.Loop() {
				if _, err := h.ComputeAmax(bc.method, bc.o); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(h.Counts())), "bins")
		})
	}
}

// BenchmarkMSELarge runs the mse search over 1 Mi standard-normal values
// in 2^16 to histogram.MaxBins bins: the ranking stage costs one step per
// quantization level and candidate, the exact stage one pass over the
// bins per candidate within rounding of the minimum.
func BenchmarkMSELarge(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	x := tensor.New(1 << 20)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	for _, bins := range []int{1 << 16, 1 << 18, 1 << 20, histogram.MaxBins} {
		b.Run(fmt.Sprintf("bins=%d", bins), func(b *testing.B) {
			h, err := NewHistogram(HistogramOptions{NumBins: bins})
			if err != nil {
				b.Fatal(err)
			}
			if err := h.Collect(x); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := h.ComputeAmax("mse", AmaxOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCollect collects 1 Mi gaussian elements per batch into a
// 2048-bin calibrator whose range already covers them.
func BenchmarkCollect(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	x := tensor.New(1 << 20)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	h, err := NewHistogram(HistogramOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if err := h.Collect(x); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(4 << 20)
	for b.Loop() {
		if err := h.Collect(x); err != nil {
			b.Fatal(err)
		}
	}
}
