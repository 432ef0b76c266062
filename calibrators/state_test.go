package calibrators

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/internal/tqfile"
	"github.com/tensorquant/tensorquant/tensor"
)

func randomBatch(r *rand.Rand, n int, scale float64) *tensor.Tensor {
	x := tensor.New(n)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

// states returns calibrators in many states, each with the batches it saw.
func states(t *testing.T) []Calibrator {
	r := rand.New(rand.NewPCG(41, 42))
	var out []Calibrator
	for _, o := range []HistogramOptions{{}, {NumpyHist: true}, {NumBins: 16, SkipZeros: true, NumBits: 4, Unsigned: true}, {NumBins: 128, NumpyHist: true}} {
		for batches := range 3 {
			h, err := NewHistogram(o)
			if err != nil {
				t.Fatal(err)
			}
			for b := range batches {
				if err := h.Collect(randomBatch(r, 1000, 1+float64(b))); err != nil {
					t.Fatal(err)
				}
			}
			out = append(out, h)
		}
	}
	for _, axis := range [][]int{nil, {0}, {-1}} {
		for batches := range 3 {
			m := NewMax(8, axis, false)
			m.SetTrackAmax(batches == 2)
			for range batches {
				x, _ := randomBatch(r, 24, 1).Reshape(4, 6)
				if err := m.Collect(x); err != nil {
					t.Fatal(err)
				}
			}
			out = append(out, m)
		}
	}
	return out
}

func TestStateRoundTrip(t *testing.T) {
	for _, c := range states(t) {
		b, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		b2, _ := got.MarshalBinary()
		if !bytes.Equal(b, b2) {
			t.Fatalf("%v: round trip changed the state", c)
		}
		for _, m := range []Method{"max", "entropy", "percentile", "mse"} {
			want, werr := c.Amax(m, AmaxOptions{StartBin: new(1)})
			have, herr := got.Amax(m, AmaxOptions{StartBin: new(1)})
			if (werr == nil) != (herr == nil) || werr == nil && !bytes.Equal(tensorBytes(want), tensorBytes(have)) {
				t.Fatalf("%v %s: %v %v after restore, want %v %v", c, m, have, herr, want, werr)
			}
		}
	}
}

func tensorBytes(t *tensor.Tensor) []byte { return tqfile.AppendTensor(nil, t) }

// TestStateHostile: every truncation, and every single-byte change, of a
// valid state gives an error or a valid calibrator, never a panic; a
// restore that fails leaves the receiver unchanged.
func TestStateHostile(t *testing.T) {
	for _, c := range states(t) {
		b, _ := c.MarshalBinary()
		for n := 0; n < len(b); n += 1 + n/64 {
			if _, err := Unmarshal(b[:n]); err == nil {
				t.Fatalf("%v: truncated to %d of %d bytes accepted", c, n, len(b))
			}
		}
		step := 1 + len(b)/40
		if testing.Short() {
			step = 1 + len(b)/8
		}
		for i := 0; i < len(b); i += step {
			for _, v := range []byte{0, 0xff, b[i] ^ 1, b[i] + 0x80} {
				mut := append([]byte{}, b...)
				mut[i] = v
				got, err := Unmarshal(mut)
				if err == nil {
					// Whatever it restored must work.
					for _, m := range []Method{"max", "entropy", "percentile", "mse"} {
						got.Amax(m, AmaxOptions{})
					}
					got.Collect(tensor.Scalar(1))
				}
			}
		}
		before, _ := c.MarshalBinary()
		if err := c.UnmarshalBinary(append(before[:len(before):len(before)], 0)); err == nil {
			t.Fatalf("%v: trailing byte accepted", c)
		}
		after, _ := c.MarshalBinary()
		if !bytes.Equal(before, after) {
			t.Fatalf("%v: a failed restore changed the calibrator", c)
		}
	}
	for _, tc := range []struct {
		data []byte
		want string
	}{
		{nil, "calibrators: not a tensorquant calibrator state (bad magic)"},
		{[]byte("TQCAL"), "calibrators: not a tensorquant calibrator state (bad magic)"},
		{[]byte("XXXXX\x01H\x00"), "calibrators: not a tensorquant calibrator state (bad magic)"},
		{[]byte("TQCAL\x01H\x00\x08\x10\x10"), "calibrators: tensorquant calibrator state of format version 1, written by an older tensorquant (this one reads version 2): collect the calibrator again and save it with MarshalBinary"},
		{frameState('Z', nil), `calibrators: saved state: unknown kind 'Z'`},
		{append(frameState('H', nil)[:8], 3), "calibrators: tensorquant calibrator state of format version 3, written by a newer tensorquant: this one reads version 2"},
		{frameState('H', []byte{0x40}), "calibrators: saved state: unknown histogram flags 0x40"},
		{frameState('H', []byte{0}), "calibrators: saved state: truncated"},
		// A signed 1-bit format, which NewHistogram refuses (FuzzCalibratorState
		// found that its mse amax panicked).
		{frameState('H', []byte{0, 1, 0x80, 0x10, 0x80, 0x10}), "calibrators: saved state: fakequant: signed quantization needs num_bits >= 2, got 1 (its only level would be 0)"},
		// A length that claims more elements than the bytes left: an
		// error, not an allocation.
		{frameState('H', []byte{8, 8, 0x80, 0x10, 0x80, 0x10, 0xff, 0xff, 0xff, 0xff, 0x0f}), "calibrators: saved state: value 4294967295 above 5"},
		{frameState('H', []byte{8, 8, 0x80, 0x10, 0x80, 0x10, 3, 1, 2}), "calibrators: saved state: truncated"},
	} {
		if _, err := Unmarshal(tc.data); err == nil || err.Error() != tc.want {
			t.Errorf("Unmarshal(%q): %v, want %s", tc.data, err, tc.want)
		}
	}
	m := NewMax(8, nil, false)
	h, _ := NewHistogram(HistogramOptions{})
	hb, _ := h.MarshalBinary()
	if err := m.UnmarshalBinary(hb); err == nil || err.Error() != `calibrators: saved state of kind 'H', want 'M'` {
		t.Errorf("a histogram state restored into a Max: %v", err)
	}
}

// TestStateEveryBitFlip: a saved state with any single bit changed is
// refused (the checksum covers the whole file). Version 1 states had no
// checksum, and a flipped count changed the amax silently.
func TestStateEveryBitFlip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	h, _ := NewHistogram(HistogramOptions{NumBins: 512})
	for range 3 {
		if err := h.Collect(randomBatch(r, 4000, 2)); err != nil {
			t.Fatal(err)
		}
	}
	m := NewMax(8, []int{0}, false)
	m.SetTrackAmax(true)
	for range 6 {
		x, _ := randomBatch(r, 256, 1).Reshape(16, 16)
		m.Collect(x)
	}
	for _, c := range []Calibrator{h, m} {
		b, _ := c.MarshalBinary()
		if len(b) < 200 || len(b) > 10000 {
			t.Fatalf("%v: a state of %d bytes", c, len(b))
		}
		for i := range 8 * len(b) {
			b[i/8] ^= 1 << (i % 8)
			if _, err := Unmarshal(b); err == nil {
				t.Fatalf("%v: bit %d of byte %d of %d flipped: accepted", c, i%8, i/8, len(b))
			}
			b[i/8] ^= 1 << (i % 8)
		}
		if _, err := Unmarshal(b); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMergeCalibrators(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	// Max: merging shards equals collecting everything.
	batches := make([]*tensor.Tensor, 6)
	for i := range batches {
		batches[i], _ = randomBatch(r, 24, float64(i+1)).Reshape(4, 6)
	}
	batches[3].Data[5] = float32(nanF())
	single, a, b := NewMax(8, []int{1}, false), NewMax(8, []int{1}, false), NewMax(8, []int{1}, false)
	for i, x := range batches {
		single.Collect(x)
		if i%2 == 0 {
			a.Collect(x)
		} else {
			b.Collect(x)
		}
	}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tensorBytes(a.ComputeAmax()), tensorBytes(single.ComputeAmax())) {
		t.Fatalf("merged max %v, want %v", a.ComputeAmax(), single.ComputeAmax())
	}
	if err := a.Merge(NewMax(8, []int{0}, false)); err == nil {
		t.Error("merged max calibrators of different axes")
	}
	h, _ := NewHistogram(HistogramOptions{})
	if err := a.Merge(h); err == nil {
		t.Error("merged a histogram into a max calibrator")
	}

	// Histogram: shards forked from a seed merge into the single-pass
	// calibrator, and so give the same amax for every method.
	seed, _ := NewHistogram(HistogramOptions{NumBins: 512})
	wide := randomBatch(r, 5000, 1)
	wide.Data[0] = 6
	seed.Collect(wide)
	one := seed.Clone()
	shards := []*Histogram{seed.Fork(), seed.Fork(), seed.Fork()}
	for i := range 9 {
		x := randomBatch(r, 2000, 1)
		one.Collect(x)
		shards[i%3].Collect(x)
	}
	merged := seed.Clone()
	for _, s := range shards {
		if err := merged.Merge(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []Method{"entropy", "percentile", "mse"} {
		want, _ := one.ComputeAmax(m, AmaxOptions{})
		got, err := merged.ComputeAmax(m, AmaxOptions{})
		if err != nil || got.Data[0] != want.Data[0] {
			t.Errorf("%s: merged %v %v, single pass %v", m, got, err, want)
		}
	}
	other, _ := NewHistogram(HistogramOptions{NumBins: 512, NumBits: 4})
	if err := merged.Merge(other); err == nil {
		t.Error("merged histograms for different num_bits")
	}
	if err := merged.Merge(NewMax(8, nil, false)); err == nil {
		t.Error("merged a max calibrator into a histogram")
	}
	if _, err := merged.Amax("max", AmaxOptions{}); !errors.Is(err, ErrUnknownMethod) {
		t.Errorf("histogram Amax(max): %v", err)
	}
	if _, err := single.Amax("entropy", AmaxOptions{}); !errors.Is(err, ErrUnknownMethod) {
		t.Errorf("max Amax(entropy): %v", err)
	}
}

func nanF() float64 { var z float64; return z / z }
