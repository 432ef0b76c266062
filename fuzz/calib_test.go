package fuzz

import (
	"bytes"
	"math"
	"testing"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/histogram"
	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/internal/tqfile"
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

// FuzzCalibratorState feeds arbitrary bytes to the state decoder, as they
// are and as the section of a state file (framed with the right length
// and checksum, so that the fuzzer reaches the decoder behind them): it
// must return an error or a calibrator that round-trips and works, never
// panic or allocate beyond what the input describes.
func FuzzCalibratorState(f *testing.F) {
	for _, s := range calibStates(f) {
		f.Add(s)
		f.Add(section(f, tqfile.CalibratorState, s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkState(t, data)
		if len(data) > 0 {
			checkState(t, frame(tqfile.CalibratorState, data))
		}
	})
}

// frame makes a file of format f whose one section is data: its tag, then
// its content.
func frame(f tqfile.Format, data []byte) []byte {
	return tqfile.End(tqfile.AppendSection(f.Begin(nil), data[0], data[1:]), 0)
}

// section returns the first section of the file b (of format f): its tag,
// then its content.
func section(tb testing.TB, f tqfile.Format, b []byte) []byte {
	d, err := f.Open(b)
	if err != nil {
		tb.Fatal(err)
	}
	tag, s := d.Next()
	return append([]byte{tag}, s.Bytes(s.Len())...)
}

func checkState(t *testing.T, data []byte) {
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
}

// FuzzCalibrationSet feeds arbitrary bytes to the calibration set decoder,
// as they are and as the body of a set file (the info section, framed):
// it must return an error or a set that round-trips and merges with a
// fork of itself, never panic.
func FuzzCalibrationSet(f *testing.F) {
	states := calibStates(f)
	var hist, max []byte
	for _, s := range states {
		switch c, _ := calibrators.Unmarshal(s); c.(type) {
		case *calibrators.Histogram:
			hist = s
		case *calibrators.Max:
			max = s
		}
	}
	for _, o := range []calibrators.HistogramOptions{{NumBins: 8}, {NumBins: 16, NumpyHist: true, SkipZeros: true}} {
		s, err := calibrators.NewSet(o)
		if err != nil {
			f.Fatal(err)
		}
		for _, x := range []float32{1, -2.5} {
			batch, _ := tensor.FromSlice([]float32{0, x, 0.25}, 3)
			if err := s.Collect(batch); err != nil {
				f.Fatal(err)
			}
		}
		b, _ := s.MarshalBinary()
		f.Add(b)
		f.Add(section(f, tqfile.CalibrationSet, b))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSet(t, data)
		if len(data) > 0 {
			// data is the info section; the calibrators are valid states,
			// so that the checks across them are reached.
			b := tqfile.AppendSection(tqfile.CalibrationSet.Begin(nil), data[0], data[1:])
			b = tqfile.AppendSection(b, 'H', hist)
			b = tqfile.AppendSection(b, 'M', max)
			checkSet(t, tqfile.End(b, 0))
		}
	})
}

func checkSet(t *testing.T, data []byte) {
	var s calibrators.Set
	if s.UnmarshalBinary(data) != nil {
		return
	}
	b1, _ := s.MarshalBinary()
	var s2 calibrators.Set
	if err := s2.UnmarshalBinary(b1); err != nil {
		t.Fatalf("re-encoded set rejected: %v", err)
	}
	if b2, _ := s2.MarshalBinary(); !bytes.Equal(b1, b2) {
		t.Fatal("set does not round-trip")
	}
	if err := s.Merge(&s2); err == nil {
		t.Fatal("a set merged with a copy of itself")
	}
	if err := s.Merge(s2.Fork()); err != nil {
		t.Fatalf("a set does not merge with its fork: %v", err)
	}
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
