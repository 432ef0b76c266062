package layers

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/reduce"
	"github.com/tensorquant/tensorquant/tensor"
)

// TestDescriptorScaledE4M3: the original's num_bits=(4, 3) prints as the
// original prints it, validates, survives JSON, is E4M3FN for FP8(), and
// refuses what the original quietly ignores.
func TestDescriptorScaledE4M3(t *testing.T) {
	d := QuantDesc8BitPerTensor()
	d.Format = "scaled_e4m3"
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := d.String(), "QuantDescriptor((4, 3)bit fake axis= per-tensor)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if f, ok := d.FP8(); !ok || f != fakequant.E4M3FN {
		t.Errorf("FP8() = %v, %v", f, ok)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back QuantDescriptor
	if err := json.Unmarshal(b, &back); err != nil || !back.Equal(d) || back.Format != "scaled_e4m3" {
		t.Errorf("%s -> %+v, %v", b, back, err)
	}
	e4 := d
	e4.Format = "e4m3"
	if e4.Equal(d) {
		t.Error(`Equal does not tell "scaled_e4m3" from "e4m3"`)
	}
	for _, c := range []struct {
		change func(*QuantDescriptor)
		want   string
	}{
		{func(d *QuantDescriptor) { d.LearnAmax = true }, "format scaled_e4m3 has no learn_amax"},
		{func(d *QuantDescriptor) { d.FakeQuant = false }, "format scaled_e4m3 needs fake quantization"},
		{func(d *QuantDescriptor) { d.NumBits = 4 }, "format scaled_e4m3 is 8 bits wide"},
		{func(d *QuantDescriptor) { d.NarrowRange = true }, "format scaled_e4m3 has no unsigned or narrow-range variant"},
		{func(d *QuantDescriptor) { d.Format = "E4M3" }, `unknown format "E4M3" (want "int", "e4m3", "scaled_e4m3" or "e5m2")`},
	} {
		bad := d
		c.change(&bad)
		if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", bad, err, c.want)
		}
	}
}

// TestQuantizerScaledE4M3 checks a "scaled_e4m3" quantizer against
// fakequant.ScaledE4M3 (static amax per tensor, dynamic per channel), its
// gradient against the original's (dy where |x| <= amax, flushed tiny
// inputs included; 0 beyond and for NaN), and export mode, which switches
// to the ONNX numbers of "e4m3".
func TestQuantizerScaledE4M3(t *testing.T) {
	d := QuantDesc8BitPerTensor()
	d.Format, d.Amax = "scaled_e4m3", []float32{3.7}
	q := must(NewTensorQuantizer(d))
	if got := q.String(); !strings.HasPrefix(got, "TensorQuantizer((4, 3)bit fake per-tensor amax=3.7000") {
		t.Errorf("repr %q", got)
	}
	nan := float32(math.NaN())
	x := must(tensor.FromSlice([]float32{1e-30, float32(math.Copysign(0, -1)), 3.7, -3.7, 5, nan, -0.1234, 2.5}, 8))
	y := must(q.Forward(x))
	want := make([]float32, 8)
	if err := fakequant.ScaledE4M3(want, x.Data, 3.7); err != nil {
		t.Fatal(err)
	}
	if dd := conformance.DiffFloat32(y.Data, want); dd != "" {
		t.Errorf("static amax 3.7: %s", dd)
	}
	if y.Data[0] != 0 || math.Signbit(float64(y.Data[1])) || y.Data[4] != y.Data[2] {
		t.Errorf("forward %v: want +0 for 1e-30 and -0, and 5 clipped to the value of 3.7", y.Data)
	}
	dy := must(tensor.FromSlice([]float32{1, 2, 3, 4, 5, 6, 7, 8}, 8))
	dx := must(q.Backward(dy))
	if dd := conformance.DiffFloat32(dx.Data, []float32{1, 2, 3, 4, 0, 0, 7, 8}); dd != "" {
		t.Errorf("gradient %v: %s", dx.Data, dd)
	}

	if err := q.SetExportMode(true); err != nil {
		t.Fatal(err)
	}
	xs := randTensor(testRNG(5), 4096)
	got := must(q.Forward(xs))
	onnx := make([]float32, len(xs.Data))
	if err := fakequant.FakeQuantFP8(onnx, xs.Data, 3.7, fakequant.E4M3FN); err != nil {
		t.Fatal(err)
	}
	if dd := conformance.DiffFloat32(got.Data, onnx); dd != "" {
		t.Errorf("export mode is not FakeQuantFP8: %s", dd)
	}
	if err := fakequant.ScaledE4M3(onnx, xs.Data, 3.7); err != nil {
		t.Fatal(err)
	}
	if conformance.DiffFloat32(got.Data, onnx) == "" {
		t.Error("export mode gives the scaled_e4m3 numbers on 4096 normal inputs")
	}

	d = QuantDesc8BitConv1dWeightPerChannel()
	d.Format = "scaled_e4m3"
	q = must(NewTensorQuantizer(d))
	w := randTensor(testRNG(6), 3, 2, 5)
	y = must(q.Forward(w))
	want = make([]float32, 10)
	for c := range 3 {
		row := w.Data[c*10 : (c+1)*10]
		if err := fakequant.ScaledE4M3(want, row, reduce.AbsMax(row)); err != nil {
			t.Fatal(err)
		}
		if dd := conformance.DiffFloat32(y.Data[c*10:(c+1)*10], want); dd != "" {
			t.Errorf("dynamic per channel, channel %d: %s", c, dd)
		}
	}
}
