package fuzz

import (
	"bytes"
	"math"
	"testing"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/histogram"
	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/tensor"
)

// calibStates are valid saved states of both kinds, as seeds.
func calibStates(f *testing.F) [][]byte {
	var out [][]byte
	batch := func(n int, s float32) *tensor.Tensor {
		x := tensor.New(n)
		for i := range x.Data {
			x.Data[i] = s * float32(math.Sin(float64(i)*1.3))
		}
		return x
	}
	for _, o := range []calibrators.HistogramOptions{{NumBins: 8}, {NumBins: 16, NumpyHist: true}, {NumBins: 4, SkipZeros: true, Unsigned: true, NumBits: 4}} {
		h, err := calibrators.NewHistogram(o)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := h.MarshalBinary()
		out = append(out, b)
		for _, s := range []float32{1, 2.5} {
			if err := h.Collect(batch(20, s)); err != nil {
				f.Fatal(err)
			}
			b, _ := h.MarshalBinary()
			out = append(out, b)
		}
	}
	m := calibrators.NewMax(8, []int{-1}, false)
	m.SetTrackAmax(true)
	for _, s := range []float32{1, 3} {
		x, _ := batch(12, s).Reshape(3, 4)
		if err := m.Collect(x); err != nil {
			f.Fatal(err)
		}
		b, _ := m.MarshalBinary()
		out = append(out, b)
	}
	return out
}

// FuzzCalibratorState feeds arbitrary bytes to the state decoder: it must
// return an error or a calibrator that round-trips and works, never panic
// or allocate beyond what the input describes.
func FuzzCalibratorState(f *testing.F) {
	for _, s := range calibStates(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := calibrators.Unmarshal(data)
		if err != nil {
			return
		}
		b1, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := calibrators.Unmarshal(b1)
		if err != nil {
			t.Fatalf("re-encoded state rejected: %v", err)
		}
		if b2, _ := c2.MarshalBinary(); !bytes.Equal(b1, b2) {
			t.Fatal("state does not round-trip")
		}
		for _, m := range []calibrators.Method{"max", "entropy", "percentile", "mse"} {
			a, err := c.Amax(m, calibrators.AmaxOptions{StartBin: new(1)})
			if err == nil && a.Data[0] != a.Data[0] {
				t.Fatalf("%s: NaN amax without an error", m)
			}
		}
		// Merging a calibrator with its own copy must work or fail cleanly.
		_ = c.Merge(c2)
		_ = c.Collect(tensor.Scalar(0.5))
	})
}

// FuzzHistc pins every SIMD binning kernel to the generic one on
// arbitrary float32 bit patterns, bin counts and ranges.
func FuzzHistc(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, hiBits uint32, bins, flags uint8) {
		x := floats(data)
		n := int(bins) + 1
		if flags&1 != 0 {
			n *= 37
		}
		hi := float32(math.Abs(float64(math.Float32frombits(hiBits))))
		lo := float32(0)
		if flags&2 != 0 {
			lo = hi / 3
		}
		if math.IsInf(float64(hi), 0) || hi != hi {
			return
		}
		eachImpl(t, func() []int64 {
			counts := make([]int64, n+1)
			skipped, err := histogram.HistcAbs(counts[:n], x, lo, hi)
			if err != nil {
				t.Fatal(err)
			}
			counts[n] = int64(skipped)
			return counts
		}, func(impl cpufeat.Impl, got, want []int64) {
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("%v %d bins [%v, %v]: slot %d = %d, want %d", impl, n, lo, hi, i, got[i], want[i])
				}
			}
		})
	})
}

// FuzzHistogramCollect collects fuzz batches on both paths and checks that
// the histogram's counts add up and its edges stay finite and ordered.
func FuzzHistogramCollect(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, data []byte, _ uint32, bins, flags uint8) {
		h, err := histogram.New(histogram.Options{NumBins: int(bins) + 1, NumPy: flags&1 != 0, SkipZeros: flags&2 != 0})
		if err != nil {
			t.Fatal(err)
		}
		x := floats(data)
		chunk := 1 + int(flags>>2)*3
		// Growth can reach histogram.MaxBins bins, and every batch costs
		// O(bins): stop at a size that keeps the target fast.
		for len(x) > 0 && len(h.Counts()) <= 1<<14 {
			k := min(chunk, len(x))
			_ = h.Collect(x[:k])
			x = x[k:]
		}
		// The edges are finite, and ordered unless the whole range lies deep
		// in the subnormals (histogram.Histogram.Edges documents why).
		e := h.Edges()
		ordered := len(e) > 0 && (flags&1 != 0 || e[len(e)-1] >= 0x1p-100)
		for i := range e {
			if math.IsInf(e[i], 0) || e[i] != e[i] || ordered && i > 0 && e[i] < e[i-1] {
				t.Fatalf("edges %v", e)
			}
		}
		if h.HasData() {
			if _, err := histogram.Restore(h.State()); err != nil {
				t.Fatalf("collected state rejected: %v", err)
			}
		}
	})
}
