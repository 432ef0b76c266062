package quantize

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
)

// sitesOf returns "NODE:INPUT" of every site of p, with "u" appended for
// unsigned ones and "w<axis>" for weights.
func sitesOf(p *Plan) []string {
	var out []string
	for _, s := range p.Sites {
		e := s.Node + ":" + string(rune('0'+s.Input))
		if s.Unsigned {
			e += "u"
		}
		if s.Kind == Weight {
			e += "w" + string(rune('0'+s.Axis+1))
		}
		out = append(out, e)
	}
	return out
}

// TestPlaceOptions checks each option of Place on the vector models
// against the sites it must add or remove.
func TestPlaceOptions(t *testing.T) {
	cnn, _, _ := loadPTQ(t, "cnn")
	mlp, _, _ := loadPTQ(t, "mlp_attn")
	place := func(g *graph.Graph, o Options) []string {
		t.Helper()
		p, err := Place(g, o)
		if err != nil {
			t.Fatal(err)
		}
		return sitesOf(p)
	}
	base := place(cnn, Options{})
	// w1 is axis 0 (the digit is axis+1).
	want := []string{"/conv1/Conv:0", "/conv1/Conv:1w1", "/res/conv1/Conv:0", "/res/conv1/Conv:1w1", "/res/conv2/Conv:0", "/res/conv2/Conv:1w1",
		"/down/Conv:0", "/down/Conv:1w1", "/gap/GlobalAveragePool:0", "/fc/Gemm:0", "/fc/Gemm:1w1"}
	if !slices.Equal(base, want) {
		t.Fatalf("cnn sites %v, want %v", base, want)
	}
	// The residual Add: input 0 is a Conv's output, so only the shortcut.
	if got := place(cnn, Options{QuantizeResidualAdd: true}); !slices.Contains(got, "/res/Add:1") || slices.Contains(got, "/res/Add:0") || len(got) != len(base)+1 {
		t.Errorf("cnn residual Add: %v", got)
	}
	// mlp_attn's residual Add: neither input comes from a Conv: both.
	if got := place(mlp, Options{QuantizeResidualAdd: true}); !slices.Contains(got, "/Add:0") || !slices.Contains(got, "/Add:1") {
		t.Errorf("mlp_attn residual Add: %v", got)
	}
	got := place(mlp, Options{QuantizeActivationMatMul: true})
	for _, s := range []string{"/attn/MatMul:0", "/attn/MatMul:1", "/attn/MatMul_1:0", "/attn/MatMul_1:1"} {
		if !slices.Contains(got, s) {
			t.Errorf("activation MatMul: %s missing from %v", s, got)
		}
	}
	for _, s := range place(cnn, Options{PerTensorWeights: true}) {
		if strings.Contains(s, ":1w") && !strings.HasSuffix(s, "w0") {
			t.Errorf("per-tensor weights: %s", s)
		}
	}
	unsigned := place(cnn, Options{UnsignedAfterReLU: true})
	wantU := []string{"/conv1/Conv:0", "/conv1/Conv:1w1", "/res/conv1/Conv:0u", "/res/conv1/Conv:1w1", "/res/conv2/Conv:0u", "/res/conv2/Conv:1w1",
		"/down/Conv:0u", "/down/Conv:1w1", "/gap/GlobalAveragePool:0", "/fc/Gemm:0", "/fc/Gemm:1w1"}
	if !slices.Equal(unsigned, wantU) {
		t.Errorf("unsigned after ReLU: %v, want %v", unsigned, wantU)
	}
	p, err := Place(cnn, Options{NodesToExclude: "^/res/", OpTypesToExclude: []string{"GlobalAveragePool"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := sitesOf(p); !slices.Equal(got, []string{"/conv1/Conv:0", "/conv1/Conv:1w1", "/down/Conv:0", "/down/Conv:1w1", "/fc/Gemm:0", "/fc/Gemm:1w1"}) {
		t.Errorf("excluding /res/ and GlobalAveragePool: %v", got)
	}
	var left []string
	for _, u := range p.Unquantized {
		left = append(left, u.Node)
	}
	if !slices.Equal(left, []string{"/res/conv1/Conv", "/res/conv2/Conv", "/gap/GlobalAveragePool"}) {
		t.Errorf("unquantized %v", left)
	}
	if got := place(cnn, Options{OpTypesToQuantize: []string{"Gemm"}}); !slices.Equal(got, []string{"/fc/Gemm:0", "/fc/Gemm:1w1"}) {
		t.Errorf("Gemm only: %v", got)
	}
}

// TestPlaceRefuses checks the errors of Place: options it cannot use and
// a graph that is already quantized.
func TestPlaceRefuses(t *testing.T) {
	g, _, _ := loadPTQ(t, "cnn")
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{NodesToExclude: "("}, "nodes to exclude"},
		{Options{OpTypesToQuantize: []string{"Relu"}}, `op type "Relu"`},
		{Options{Format: "int2"}, `format "int2"`},
		{Options{Format: FP8, UnsignedAfterReLU: true}, "FP8 has no unsigned"},
		{Options{BlockSize: 32}, "blocks are for int4"},
		{Options{Format: Int4, BlockSize: 32, PerTensorWeights: true}, "blocks are for int4"},
		{Options{WeightMethod: "entropy"}, `weight method "entropy"`},
		{Options{WeightMethod: "mse", PerTensorWeights: true}, "per channel"},
		{Options{NumBins: -1}, "histogram bins"},
	} {
		if _, err := Place(g, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one containing %q", c.o, err, c.want)
		}
	}
	q, err := graph.ImportFile(filepath.Join(ptqDir(t), "cnn.pq_qdq.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Place(q, Options{}); err == nil || !strings.Contains(err.Error(), "already quantized") {
		t.Errorf("a QDQ model: %v", err)
	}
}
