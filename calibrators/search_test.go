package calibrators

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/tensor"
)

// bruteEntropy evaluates every candidate with klExact and picks as the
// reference does: the last NaN if any, else the last minimum.
func bruteEntropy(counts []int64, edges []float64, numBits int, unsigned bool, stride, start int) float32 {
	b := append([]int64{}, counts...)
	b[0] = b[1]
	var N int64
	for _, c := range b {
		N += c
	}
	shift := numBits - 1
	if unsigned {
		shift++
	}
	buf := make([]float64, 2*len(b))
	best, choice, sawNaN := math.Inf(1), -1, false
	for i := start; i <= len(b); i += stride {
		var P int64
		for _, c := range b[:i] {
			P += c
		}
		kl := klExact(b, i, int64(1)<<shift, N, N-P, buf)
		switch {
		case kl != kl:
			choice, sawNaN = i, true
		case sawNaN:
		case kl <= best || choice < 0:
			best, choice = kl, i
		}
	}
	return float32(edges[choice])
}

// mseExact is the reference's objective for one candidate amax, written
// as plainly as it reads: mean((fake_quant(c) - c)^2 * count) in float32,
// torch's sum order, divided by float32(n). mseObjective must agree with
// it bit for bit.
func mseExact(centers, cnt []float32, amax float32, f fakequant.Format, buf []float32) float32 {
	q := buf[:len(centers)]
	fakequant.FakeQuant(q, centers, amax, f)
	return mseOf(q, centers, cnt, buf[len(centers):2*len(centers)])
}

// bruteMSE evaluates every candidate with mseExact: the first minimum.
func bruteMSE(counts []int64, edges []float64, f fakequant.Format, stride, start int) float32 {
	nc := len(edges) - 1
	centers, cnt := make([]float32, nc), make([]float32, nc)
	for k := range centers {
		centers[k] = (float32(edges[k+1]) + float32(edges[k])) / 2
		cnt[k] = float32(counts[k])
	}
	buf := make([]float32, 2*nc)
	choice, best := -1, float32(0)
	for i := start; i < nc; i += stride {
		if v := mseExact(centers, cnt, centers[i], f, buf); choice < 0 || v < best {
			choice, best = i, v
		}
	}
	return centers[choice]
}

// randomHistogram returns histograms of many shapes: smooth, spiky, sparse,
// with empty stretches, exact repeats (ties), all in one bin, all zero.
func randomHistogram(r *rand.Rand) (counts []int64, edges []float64) {
	n := 2 + r.IntN(400)
	counts = make([]int64, n)
	switch r.IntN(6) {
	case 0: // gaussian-like
		s := float64(n) / (1 + 4*r.Float64())
		for i := range counts {
			counts[i] = int64(1000 * math.Exp(-float64(i*i)/(2*s*s)))
		}
	case 1: // sparse spikes
		for range 1 + r.IntN(10) {
			counts[r.IntN(n)] += int64(1 + r.IntN(100))
		}
	case 2: // periodic: many exact ties
		p := 1 + r.IntN(5)
		for i := range counts {
			if i%p == 0 {
				counts[i] = 7
			}
		}
	case 3: // a single bin
		counts[r.IntN(n)] = int64(1 + r.IntN(1000))
	case 4: // all zero
	default: // noise
		for i := range counts {
			counts[i] = int64(r.IntN(50))
		}
	}
	w := 0.001 + r.Float64()
	edges = make([]float64, n+1)
	for i := range edges {
		edges[i] = float64(float32(float64(i) * w))
	}
	return counts, edges
}

func TestEntropyMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for trial := range 1500 {
		counts, edges := randomHistogram(r)
		numBits := []int{2, 3, 4, 5, 8, 12}[r.IntN(6)]
		unsigned := r.IntN(3) == 0
		stride := 1 + r.IntN(3)
		start := 1 + r.IntN(len(counts))
		got, err := entropyAmax(counts, edges, numBits, unsigned, stride, start)
		if err != nil {
			t.Fatal(err)
		}
		want := bruteEntropy(counts, edges, numBits, unsigned, stride, start)
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("trial %d: %d bins %d bits unsigned=%v stride %d start %d counts %v: got %v, want %v",
				trial, len(counts), numBits, unsigned, stride, start, counts, got, want)
		}
	}
}

func TestMSEMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for trial := range 1500 {
		counts, edges := randomHistogram(r)
		f := fakequant.Format{NumBits: []int{2, 3, 4, 5, 8, 12}[r.IntN(6)], Unsigned: r.IntN(3) == 0, NarrowRange: true}
		stride := 1 + r.IntN(3)
		start := r.IntN(len(counts))
		got, err := mseAmax(counts, edges, f.NumBits, f.Unsigned, stride, start)
		if err != nil {
			t.Fatal(err)
		}
		want := bruteMSE(counts, edges, f, stride, start)
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("trial %d: %d bins %v stride %d start %d counts %v: got %v, want %v",
				trial, len(counts), f, stride, start, counts, got, want)
		}
	}
}

func TestSearchErrors(t *testing.T) {
	edges := []float64{0, 1, 2, 3}
	if _, err := entropyAmax([]int64{5}, edges[:2], 8, false, 1, 1); err == nil {
		t.Error("entropy over one bin")
	}
	if _, err := entropyAmax([]int64{1, 2, 3}, edges, 8, false, 1, 4); err == nil {
		t.Error("entropy start beyond the bins")
	}
	if _, err := mseAmax([]int64{1, 2, 3}, edges, 8, false, 1, 3); err == nil {
		t.Error("mse without candidates")
	}
	if _, err := mseAmax([]int64{1, 2}, edges, 8, false, 1, 0); err == nil {
		t.Error("mse with mismatched lengths")
	}
	neg := []float64{-1, -0.5, 0, 0.5}
	if _, err := mseAmax([]int64{1, 2, 3}, neg, 8, true, 1, 2); err == nil {
		t.Error("mse unsigned with negative centers")
	}
	if _, err := mseAmax([]int64{1, 2, 3}, neg, 8, false, 1, 0); err == nil {
		t.Error("mse with a negative candidate amax")
	}
	if v, err := mseAmax([]int64{1, 2, 3}, neg, 8, false, 1, 2); err != nil || v != 0.25 {
		t.Errorf("mse with negative centers below a positive candidate: %v %v", v, err)
	}
	if v, err := percentileAmax([]int64{0, 0, 0}, edges, 50); err != nil || v != 0 {
		t.Errorf("percentile of an empty histogram: %v %v (numpy: edges[0])", v, err)
	}
	if v, err := percentileAmax([]int64{1, 1, 2}, edges, 100); err != nil || v != 2 {
		t.Errorf("percentile 100: %v %v", v, err)
	}
	if v, err := percentileAmax([]int64{1, 1, 2}, edges, 0); err != nil || v != 0 {
		t.Errorf("percentile 0: %v %v", v, err)
	}
}

func TestAmaxOptionsDefaults(t *testing.T) {
	for _, c := range []struct {
		in   AmaxOptions
		want amaxParams
	}{
		{AmaxOptions{}, amaxParams{stride: 1, startBin: 128, percentile: 99.99}},
		{AmaxOptions{Stride: 4, Percentile: new(99.9)}, amaxParams{stride: 4, startBin: 128, percentile: 99.9}},
		{AmaxOptions{StartBin: new(0), Percentile: new(0.0)}, amaxParams{stride: 1}},
		{AmaxOptions{StartBin: new(32), Percentile: new(0.0)}, amaxParams{stride: 1, startBin: 32}},
	} {
		got, err := c.in.resolve("percentile")
		if err != nil || got != c.want {
			t.Errorf("resolve(%+v) = %+v %v, want %+v", c.in, got, err, c.want)
		}
	}
	for _, c := range []struct {
		method Method
		o      AmaxOptions
	}{
		{"entropy", AmaxOptions{Stride: -1}}, {"mse", AmaxOptions{StartBin: new(-3)}},
		{"entropy", AmaxOptions{StartBin: new(0)}}, {"percentile", AmaxOptions{Percentile: new(100.5)}},
	} {
		if _, err := c.o.resolve(c.method); err == nil {
			t.Errorf("%s %+v accepted", c.method, c.o)
		}
	}
	if _, err := (AmaxOptions{StartBin: new(0)}).resolve("mse"); err != nil {
		t.Errorf("mse with start_bin 0: %v", err)
	}
}

// TestMSEFP8 checks the FP8 mse search against a float64 reference built
// on QuantizeFP8 and DequantizeFP8 (another path through fakequant): the
// chosen candidate's objective must be the smallest up to float32
// rounding of the sums. It also runs the search through ComputeAmax and
// CalibrateWeight, and checks what the options refuse.
func TestMSEFP8(t *testing.T) {
	r := rand.New(rand.NewPCG(35, 36))
	for trial := range 200 {
		counts, edges := randomHistogram(r)
		f := []fakequant.FP8Format{fakequant.E4M3FN, fakequant.E5M2}[r.IntN(2)]
		stride, start := 1+r.IntN(3), r.IntN(len(counts))
		got, err := mseFP8Amax(counts, edges, f, stride, start)
		if err != nil {
			t.Fatal(err)
		}
		nc := len(counts)
		centers := make([]float32, nc)
		for k := range centers {
			centers[k] = (float32(edges[k+1]) + float32(edges[k])) / 2
		}
		codes, q := make([]uint8, nc), make([]float32, nc)
		obj := func(amax float32) float64 {
			scale, err := fakequant.FP8Scale(amax, f)
			must0(t, err)
			must0(t, fakequant.QuantizeFP8(codes, centers, scale, f, true))
			must0(t, fakequant.DequantizeFP8(q, codes, scale, f))
			var s float64
			for k, c := range centers {
				d := float64(q[k]) - float64(c)
				s += d * d * float64(counts[k])
			}
			return s
		}
		best := math.Inf(1)
		for i := start; i < nc; i += stride {
			best = min(best, obj(centers[i]))
		}
		if g := obj(got); g > best*(1+1e-5)+1e-30 {
			t.Fatalf("trial %d (%v, %d bins, stride %d, start %d): amax %v has objective %v, the best %v", trial, f, nc, stride, start, got, g, best)
		}
	}

	h, _ := NewHistogram(HistogramOptions{})
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	must0(t, h.Collect(&tensor.Tensor{Shape: []int{len(x)}, Data: x}))
	e4, err := h.ComputeAmax("mse", AmaxOptions{FP8: fakequant.E4M3FN})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := mseFP8Amax(h.Counts(), h.Edges(), fakequant.E4M3FN, 1, DefaultStartBin)
	i8, _ := h.ComputeAmax("mse", AmaxOptions{})
	if e4.Data[0] != want || e4.Data[0] == i8.Data[0] {
		t.Errorf("ComputeAmax FP8 mse %v, want %v (int8 mse %v)", e4.Data[0], want, i8.Data[0])
	}
	w := &tensor.Tensor{Shape: []int{2, 2048}, Data: append(append([]float32{}, x[:2048]...), x[2048:]...)}
	wa, err := CalibrateWeight(w, "mse", WeightOptions{Axis: []int{0}, Amax: AmaxOptions{FP8: fakequant.E5M2}})
	if err != nil || len(wa.Data) != 2 {
		t.Fatalf("CalibrateWeight FP8 mse: %v, %v", wa, err)
	}
	if _, err := h.ComputeAmax("entropy", AmaxOptions{FP8: fakequant.E4M3FN}); err == nil {
		t.Error("entropy with FP8 accepted")
	}
	if _, err := h.ComputeAmax("mse", AmaxOptions{FP8: 9}); err == nil {
		t.Error("unknown FP8 format accepted")
	}
	if p, err := h.ComputeAmax("percentile", AmaxOptions{FP8: fakequant.E5M2}); err != nil || p.Data[0] <= 0 {
		t.Errorf("percentile with FP8: %v, %v", p, err)
	}
}

func must0(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
