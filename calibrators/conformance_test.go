package calibrators

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/tensor"
)

// The vectors' JSON, as FORMAT.md describes it.

type jsonAxis []int

func (a *jsonAxis) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case nil:
		*a = nil
	case float64:
		*a = jsonAxis{int(v)}
	case []any:
		*a = jsonAxis{}
		for _, x := range v {
			*a = append(*a, int(x.(float64)))
		}
	}
	return nil
}

type ctorJSON struct {
	NumBits   int      `json:"num_bits"`
	Axis      jsonAxis `json:"axis"`
	Unsigned  bool     `json:"unsigned"`
	TrackAmax bool     `json:"track_amax"`
	NumBins   int      `json:"num_bins"`
	SkipZeros bool     `json:"skip_zeros"`
	TorchHist bool     `json:"torch_hist"`
}

func (c ctorJSON) histogram(t *testing.T) *Histogram {
	t.Helper()
	h, err := NewHistogram(HistogramOptions{NumBins: c.NumBins, NumBits: c.NumBits, Unsigned: c.Unsigned, SkipZeros: c.SkipZeros, NumpyHist: !c.TorchHist, Axis: c.Axis})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type snapshotJSON struct {
	AfterBatch  int                `json:"after_batch"`
	Hist        conformance.Tensor `json:"hist"`
	BinEdges    conformance.Tensor `json:"bin_edges"`
	NumBinsAttr int                `json:"num_bins_attr"`
}

type amaxCaseJSON struct {
	Method string `json:"method"`
	Kwargs struct {
		Stride     *int     `json:"stride"`
		StartBin   *int     `json:"start_bin"`
		Percentile *float64 `json:"percentile"`
	} `json:"kwargs"`
	Amax  *conformance.Tensor `json:"amax"`
	Error *conformance.Error  `json:"error"`
	Trace *struct {
		What   string             `json:"what"`
		Values conformance.Tensor `json:"values"`
	} `json:"trace"`
}

func (c amaxCaseJSON) options() AmaxOptions {
	o := AmaxOptions{Stride: DefaultStride, StartBin: new(DefaultStartBin), Percentile: new(float64(DefaultPercentile))}
	if c.Kwargs.Stride != nil {
		o.Stride = *c.Kwargs.Stride
	}
	if c.Kwargs.StartBin != nil {
		o.StartBin = new(*c.Kwargs.StartBin)
	}
	if c.Kwargs.Percentile != nil {
		o.Percentile = new(*c.Kwargs.Percentile)
	}
	return o
}

// checkSnapshot compares the histogram with one snapshot exactly: counts,
// edge bits and dtype, num_bins.
func checkSnapshot(t *testing.T, h *Histogram, s snapshotJSON) {
	t.Helper()
	want := s.Hist.I64
	if want == nil {
		for _, v := range s.Hist.F32 {
			want = append(want, int64(v))
		}
	}
	got := h.Counts()
	if len(got) != len(want) {
		t.Fatalf("after batch %d: %d counts, want %d", s.AfterBatch, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("after batch %d: count[%d] = %d, want %d", s.AfterBatch, i, got[i], want[i])
		}
	}
	edges := h.Edges()
	if wantF32 := s.BinEdges.Dtype == "float32"; h.Float32Edges() != wantF32 {
		t.Fatalf("after batch %d: float32 edges %v, want dtype %s", s.AfterBatch, h.Float32Edges(), s.BinEdges.Dtype)
	}
	wantE := s.BinEdges.F64
	if wantE == nil {
		for _, v := range s.BinEdges.F32 {
			wantE = append(wantE, float64(v))
		}
	}
	if len(edges) != len(wantE) {
		t.Fatalf("after batch %d: %d edges, want %d", s.AfterBatch, len(edges), len(wantE))
	}
	for i := range edges {
		if math.Float64bits(edges[i]) != math.Float64bits(wantE[i]) {
			t.Fatalf("after batch %d: edge[%d] = %v, want %v", s.AfterBatch, i, edges[i], wantE[i])
		}
	}
	if h.NumBins() != s.NumBinsAttr {
		t.Fatalf("after batch %d: num_bins %d, want %d", s.AfterBatch, h.NumBins(), s.NumBinsAttr)
	}
}

// checkAmax runs one compute_amax case on h and compares exactly.
func checkAmax(t *testing.T, h *Histogram, c amaxCaseJSON) {
	t.Helper()
	before, _ := h.MarshalBinary()
	got, err := h.ComputeAmax(Method(c.Method), c.options())
	after, _ := h.MarshalBinary()
	if string(before) != string(after) {
		t.Fatalf("%s %+v changed the histogram", c.Method, c.Kwargs)
	}
	if c.Error != nil || c.Amax == nil {
		if err == nil {
			t.Fatalf("%s %+v: got %v, want the error %v", c.Method, c.Kwargs, got.Data, c.Error)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s %+v: %v", c.Method, c.Kwargs, err)
	}
	want := c.Amax.MustFloat32()
	if len(got.Shape) != 0 || !conformance.SameFloat32(got.Data[0], want.Data[0]) {
		t.Fatalf("%s %+v: amax %v (shape %v), want %v", c.Method, c.Kwargs, got.Data, got.Shape, want.Data[0])
	}
}

// histFile is one calibrators_hist_<dist>.json.
type histFile struct {
	Batches []conformance.Tensor `json:"batches"`
	Configs []struct {
		Name        string         `json:"name"`
		Ctor        ctorJSON       `json:"ctor"`
		BatchOrder  []int          `json:"batch_order"`
		Snapshots   []snapshotJSON `json:"snapshots"`
		ComputeAmax []amaxCaseJSON `json:"compute_amax"`
	} `json:"configs"`
}

// histFiles are the histogram vectors copied into testdata/conformance.
func histFiles(t *testing.T) []histFile {
	var out []histFile
	for _, name := range []string{"calibrators_hist_gaussian.json", "calibrators_hist_uniform.json"} {
		var f histFile
		if err := conformance.Load(name, &f); err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func TestConformanceHistFiles(t *testing.T) {
	for _, f := range histFiles(t) {
		for _, cfg := range f.Configs {
			t.Run(cfg.Name, func(t *testing.T) {
				h := cfg.Ctor.histogram(t)
				for k, b := range cfg.BatchOrder {
					if err := h.Collect(f.Batches[b].MustFloat32()); err != nil {
						t.Fatal(err)
					}
					checkSnapshot(t, h, cfg.Snapshots[k])
				}
				for _, c := range cfg.ComputeAmax {
					checkAmax(t, h, c)
				}
			})
		}
	}
}

func TestConformanceHistogramSmallCases(t *testing.T) {
	var f struct {
		Cases []struct {
			Name         string               `json:"name"`
			Ctor         ctorJSON             `json:"ctor"`
			Batches      []conformance.Tensor `json:"batches"`
			Snapshots    []snapshotJSON       `json:"snapshots"`
			CollectError *conformance.Error   `json:"collect_error"`
			ComputeAmax  []amaxCaseJSON       `json:"compute_amax"`
		} `json:"histogram_small_cases"`
	}
	if err := conformance.Load("calibrators.json", &f); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			h := c.Ctor.histogram(t)
			for k, b := range c.Batches {
				err := h.Collect(b.MustFloat32())
				if k >= len(c.Snapshots) {
					if err == nil || c.CollectError == nil {
						t.Fatalf("batch %d: error %v, want %v", k, err, c.CollectError)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				checkSnapshot(t, h, c.Snapshots[k])
			}
			for _, a := range c.ComputeAmax {
				checkAmax(t, h, a)
			}
		})
	}
}

func TestConformanceMax(t *testing.T) {
	var f struct {
		Cases []struct {
			Name        string               `json:"name"`
			Ctor        *ctorJSON            `json:"ctor"`
			Batches     []conformance.Tensor `json:"batches"`
			AfterEach   []conformance.Tensor `json:"amax_after_each_collect"`
			Amaxs       []conformance.Tensor `json:"amaxs"`
			ComputeAmax *conformance.Tensor  `json:"compute_amax"`
			Str         string               `json:"str"`
		} `json:"max_calibrator"`
	}
	if err := conformance.Load("calibrators.json", &f); err != nil {
		t.Fatal(err)
	}
	same := func(t *testing.T, what string, got *tensor.Tensor, want conformance.Tensor) {
		t.Helper()
		w := want.MustFloat32()
		if got == nil || !tensor.SameShape(got.Shape, w.Shape) {
			t.Fatalf("%s: got %v, want shape %v", what, got, w.Shape)
		}
		if d := conformance.DiffFloat32(got.Data, w.Data); d != "" {
			t.Fatalf("%s: %s", what, d)
		}
	}
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			if c.Ctor == nil {
				m := NewMax(8, nil, false)
				if m.ComputeAmax() != nil || c.ComputeAmax != nil {
					t.Fatalf("no data: %v", m.ComputeAmax())
				}
				if _, err := m.Amax("max", AmaxOptions{}); !errors.Is(err, ErrNoData) {
					t.Fatalf("no data: Amax error %v", err)
				}
				return
			}
			m := NewMax(c.Ctor.NumBits, c.Ctor.Axis, c.Ctor.Unsigned)
			m.SetTrackAmax(c.Ctor.TrackAmax)
			for k, b := range c.Batches {
				if err := m.Collect(b.MustFloat32()); err != nil {
					t.Fatal(err)
				}
				same(t, "after collect", m.ComputeAmax(), c.AfterEach[k])
			}
			got := m.Amaxs()
			if len(got) != len(c.Amaxs) {
				t.Fatalf("%d amaxs, want %d", len(got), len(c.Amaxs))
			}
			// Deliberate difference: the original's amaxs[0] is a numpy view
			// of the tensor that becomes the running amax and is updated in
			// place, so it shows the final amax; we record the first batch's
			// own amax (the first amax_after_each_collect).
			if len(got) > 0 {
				same(t, "amaxs[0]", got[0], c.AfterEach[0])
				same(t, "the original's aliased amaxs[0]", m.ComputeAmax(), c.Amaxs[0])
			}
			for k := 1; k < len(got); k++ {
				same(t, "amaxs", got[k], c.Amaxs[k])
			}
			same(t, "compute_amax", m.ComputeAmax(), *c.ComputeAmax)
			if c.Str != "" && m.String() != c.Str {
				t.Fatalf("String() = %q, want %q", m.String(), c.Str)
			}
			// Amax refuses the NaN the original quantizes with.
			a, err := m.Amax("max", AmaxOptions{})
			if hasNaN(c.ComputeAmax.F32) != errors.Is(err, ErrNaNAmax) {
				t.Fatalf("Amax: %v, %v", a, err)
			}
			m.Reset()
			if m.ComputeAmax() != nil || len(m.Amaxs()) != 0 {
				t.Fatal("Reset kept data")
			}
		})
	}
}

func formatFor(c ctorJSON) fakequant.Format {
	return fakequant.Format{NumBits: c.NumBits, Unsigned: c.Unsigned, NarrowRange: true}
}

func hasNaN(v []float32) bool {
	for _, x := range v {
		if x != x {
			return true
		}
	}
	return false
}

func TestConformanceCalibrateWeights(t *testing.T) {
	var f struct {
		Cases []struct {
			Module     string              `json:"module"`
			Method     string              `json:"method"`
			PerChannel bool                `json:"perchannel"`
			Percentile float64             `json:"percentile"`
			NumBins    int                 `json:"num_bins"`
			Weight     conformance.Tensor  `json:"weight"`
			Amax       *conformance.Tensor `json:"weight_quantizer_amax"`
			Error      *conformance.Error  `json:"error"`
		} `json:"calibrate_weights"`
	}
	if err := conformance.Load("calibrators.json", &f); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.Cases {
		o := WeightOptions{NumBins: c.NumBins, Amax: AmaxOptions{Percentile: new(c.Percentile), StartBin: new(0)}}
		if c.PerChannel {
			o.Axis = []int{0}
			if strings.HasPrefix(c.Module, "QuantConvTranspose") {
				o.Axis = []int{1}
			}
		}
		got, err := CalibrateWeight(c.Weight.MustFloat32(), Method(c.Method), o)
		name := c.Module + "/" + c.Method
		if c.Error != nil {
			if err == nil {
				t.Errorf("%s perchannel=%v: got %v, want error %v", name, c.PerChannel, got, c.Error)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s perchannel=%v: %v", name, c.PerChannel, err)
			continue
		}
		w := c.Amax.MustFloat32()
		if !tensor.SameShape(got.Shape, w.Shape) {
			t.Errorf("%s perchannel=%v: shape %v, want %v", name, c.PerChannel, got.Shape, w.Shape)
		} else if d := conformance.DiffFloat32(got.Data, w.Data); d != "" {
			t.Errorf("%s perchannel=%v: %s", name, c.PerChannel, d)
		}
	}
}

func TestConformanceErrors(t *testing.T) {
	// HistogramCalibrator(axis=0).
	if _, err := NewHistogram(HistogramOptions{Axis: []int{0}}); err == nil {
		t.Error("NewHistogram accepted an axis")
	}
	h, _ := NewHistogram(HistogramOptions{})
	// No data: every method reports it.
	for _, m := range []Method{"entropy", "percentile", "mse"} {
		if _, err := h.ComputeAmax(m, AmaxOptions{}); !errors.Is(err, ErrNoData) {
			t.Errorf("%s without data: %v", m, err)
		}
	}
	if err := h.Collect(tensor.Scalar(1)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []float64{101, -1, math.NaN()} {
		if _, err := h.ComputeAmax("percentile", AmaxOptions{Percentile: new(p)}); err == nil || !strings.Contains(err.Error(), "invalid percentile") {
			t.Errorf("percentile %v: %v", p, err)
		}
	}
	if _, err := h.ComputeAmax("Entropy", AmaxOptions{}); !errors.Is(err, ErrUnknownMethod) || !strings.Contains(err.Error(), `"Entropy"`) {
		t.Errorf("unknown method: %v", err)
	}
	// skip_zeros with an all-zero batch.
	z, _ := NewHistogram(HistogramOptions{SkipZeros: true})
	if err := z.Collect(tensor.New(4)); err == nil {
		t.Error("skip_zeros accepted an all-zero batch")
	}
	// MaxCalibrator amax shape change.
	m := NewMax(8, []int{0}, false)
	if err := m.Collect(tensor.New(3, 2)); err != nil {
		t.Fatal(err)
	}
	if err := m.Collect(tensor.New(4, 2)); err == nil || !strings.Contains(err.Error(), "amax shape changed") {
		t.Errorf("shape change: %v", err)
	}
	// num_bins=128 never grown, numpy path, x = linspace(-3, 3, 1001).
	n, _ := NewHistogram(HistogramOptions{NumBins: 128, NumpyHist: true})
	x := tensor.New(1001)
	for i := range x.Data {
		x.Data[i] = float32(-3 + 6*float64(i)/1000)
	}
	if err := n.Collect(x); err != nil {
		t.Fatal(err)
	}
	for method, want := range map[Method]float32{"entropy": 3, "percentile": 2.9765625} {
		if got, err := n.ComputeAmax(method, AmaxOptions{}); err != nil || got.Data[0] != want {
			t.Errorf("%s: %v %v, want %v", method, got, err, want)
		}
	}
	if got, err := n.ComputeAmax("mse", AmaxOptions{}); err == nil {
		t.Errorf("mse without candidates: %v", got)
	}
}

// TestConformanceTraces checks the exact evaluators on every candidate
// against the per-candidate objectives the vectors keep: MSE bit for bit
// (float32, torch's summation order), KL within 1e-13 relative (the only
// difference is Go's math.Log against glibc's log, one ulp apart on some
// inputs, see FORMAT.md).
func TestConformanceTraces(t *testing.T) {
	for _, f := range histFiles(t) {
		for _, cfg := range f.Configs {
			h := cfg.Ctor.histogram(t)
			for _, b := range cfg.BatchOrder {
				if err := h.Collect(f.Batches[b].MustFloat32()); err != nil {
					t.Fatal(err)
				}
			}
			counts, edges := h.Counts(), h.Edges()
			for _, c := range cfg.ComputeAmax {
				if c.Trace == nil {
					continue
				}
				o, _ := c.options().resolve(Method(c.Method))
				switch c.Method {
				case "mse":
					nc := len(edges) - 1
					centers, cnt := make([]float32, nc), make([]float32, nc)
					for k := range centers {
						centers[k] = (float32(edges[k+1]) + float32(edges[k])) / 2
						cnt[k] = float32(counts[k])
					}
					want := c.Trace.Values.F32
					buf := make([]float32, 2*nc)
					obj := newMSEObjective(centers, cnt, formatFor(cfg.Ctor), true)
					for n, i := 0, o.startBin; i < nc; n, i = n+1, i+o.stride {
						got := mseExact(centers, cnt, centers[i], formatFor(cfg.Ctor), buf)
						if !conformance.SameFloat32(got, want[n]) {
							t.Fatalf("%s mse %+v candidate %d: %v, want %v", cfg.Name, c.Kwargs, i, got, want[n])
						}
						if got := obj.at(centers[i]); !conformance.SameFloat32(got, want[n]) {
							t.Fatalf("%s mse %+v candidate %d: mseObjective %v, want %v", cfg.Name, c.Kwargs, i, got, want[n])
						}
					}
				case "entropy":
					b := append([]int64{}, counts...)
					b[0] = b[1]
					var N int64
					for _, v := range b {
						N += v
					}
					nbins := int64(1) << (cfg.Ctor.NumBits - 1)
					want := c.Trace.Values.F64
					buf := make([]float64, 2*len(b))
					for n, i := 0, o.startBin; i <= len(b); n, i = n+1, i+o.stride {
						var P int64
						for _, v := range b[:i] {
							P += v
						}
						got := klExact(b, i, nbins, N, N-P, buf)
						if math.Abs(got-want[n]) > 1e-13*math.Abs(want[n]) {
							t.Fatalf("%s entropy %+v candidate %d: %v, want %v", cfg.Name, c.Kwargs, i, got, want[n])
						}
					}
				}
			}
		}
	}
}
