package layers

import (
	"encoding/json"
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/reduce"
	"github.com/tensorquant/tensorquant/tensor"
)

type quantizerCase struct {
	Name            string          `json:"name"`
	QuantizerKwargs map[string]bool `json:"quantizer_kwargs"`
	Desc            pyFields        `json:"desc"`
	Setup           *struct {
		AmaxSetter float32 `json:"amax_setter"`
	} `json:"setup"`
	CalibBatches    []conformance.Tensor `json:"calib_batches"`
	CalibBatchesRef string               `json:"calib_batches_ref"`
	CalibLoadArgs   *struct {
		Args   []string           `json:"args"`
		Kwargs map[string]float64 `json:"kwargs"`
	} `json:"calib_load_args"`
	ReprBefore       string              `json:"repr_before"`
	ReprAfter        string              `json:"repr_after"`
	X                conformance.Tensor  `json:"x"`
	AmaxBufferBefore *conformance.Tensor `json:"amax_buffer_before"`
	AmaxBufferAfter  *conformance.Tensor `json:"amax_buffer_after"`
	AmaxUsed         conformance.Tensor  `json:"amax_used"`
	Outputs          conformance.Tensor  `json:"outputs"`
	Scale            *conformance.Tensor `json:"scale"`
	Error            json.RawMessage     `json:"error"`
}

// sameTensor fails the test unless got has want's shape and bits (any NaN
// matching any NaN).
func sameTensor(t *testing.T, what string, got *tensor.Tensor, want *conformance.Tensor) {
	t.Helper()
	if got == nil || want == nil {
		if (got == nil) != (want == nil) {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
		return
	}
	w := want.MustFloat32()
	if !tensor.SameShape(got.Shape, w.Shape) {
		t.Fatalf("%s shape %v, want %v", what, got.Shape, w.Shape)
	}
	if d := conformance.DiffFloat32(got.Data, w.Data); d != "" {
		t.Fatalf("%s: %s", what, d)
	}
}

var torchTensorRepr = regexp.MustCompile(`scale=tensor\((?s:.*?)\)( |$)`)

// expectedRepr turns a recorded extra_repr into the String this package
// gives: one-element tuple axes print as plain numbers (a Go []int cannot
// tell them apart), and a tensor-valued scale prints in the short form of
// the amax, computed from the case's recorded scale.
func expectedRepr(repr string, scale *conformance.Tensor) string {
	repr = pyTupleToGo(repr)
	if scale != nil {
		short := shortValues(scale.MustFloat32(), "")
		repr = torchTensorRepr.ReplaceAllString(repr, "scale="+short+"$1")
	}
	return "TensorQuantizer(" + repr + ")"
}

// TestTensorQuantizerConformance runs every case of tensor_quantizer.json:
// the setup (disabled, quant off, amax setter, calibration with max,
// percentile or entropy), the repr before and after, the amax buffer, the
// amax used, the outputs and the scale of real quantization, all exact.
func TestTensorQuantizerConformance(t *testing.T) {
	var file struct {
		Shared struct {
			Hist []conformance.Tensor `json:"hist_calib_batches"`
		} `json:"shared_batches"`
		Cases []quantizerCase `json:"cases"`
	}
	if err := conformance.Load("tensor_quantizer.json", &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 25 {
		t.Fatalf("%d cases", len(file.Cases))
	}
	for _, c := range file.Cases {
		t.Run(c.Name, func(t *testing.T) {
			if len(c.Error) > 0 && string(c.Error) != "null" {
				t.Fatalf("unexpected error case %s", c.Error)
			}
			q, err := NewTensorQuantizer(c.Desc.descriptor(t))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.QuantizerKwargs {
				switch {
				case k == "disabled" && v:
					q.Disable()
				case k == "if_quant" && !v:
					q.DisableQuant()
				default:
					t.Fatalf("quantizer kwarg %s=%v", k, v)
				}
			}
			if c.Setup != nil {
				if err := q.SetAmax(tensor.Scalar(c.Setup.AmaxSetter)); err != nil {
					t.Fatal(err)
				}
			}
			batches := c.CalibBatches
			if c.CalibBatchesRef == "hist_calib_batches" {
				batches = file.Shared.Hist
			}
			if c.CalibLoadArgs != nil {
				q.DisableQuant()
				q.EnableCalib()
				for _, b := range batches {
					if _, err := q.Forward(b.MustFloat32()); err != nil {
						t.Fatal(err)
					}
				}
				method := calibrators.MethodMax
				if len(c.CalibLoadArgs.Args) > 0 {
					method = calibrators.Method(c.CalibLoadArgs.Args[0])
				}
				var o calibrators.AmaxOptions
				for k, v := range c.CalibLoadArgs.Kwargs {
					if k != "percentile" {
						t.Fatalf("load_calib_amax kwarg %s", k)
					}
					o.Percentile = new(v)
				}
				if err := q.LoadCalibAmax(method, o); err != nil {
					t.Fatal(err)
				}
				q.DisableCalib()
				q.EnableQuant()
			}
			if got, want := q.String(), expectedRepr(c.ReprBefore, nil); got != want {
				t.Errorf("repr before forward %q, want %q", got, want)
			}
			sameTensor(t, "amax buffer before", q.amax, c.AmaxBufferBefore)
			y, err := q.Forward(c.X.MustFloat32())
			if err != nil {
				t.Fatal(err)
			}
			sameTensor(t, "outputs", y, &c.Outputs)
			if q.fw.amax != nil {
				sameTensor(t, "amax used", q.fw.amax, &c.AmaxUsed)
			} else if !q.Disabled() && q.QuantEnabled() {
				t.Fatal("quantized without recording the amax")
			}
			sameTensor(t, "scale", q.Scale(), c.Scale)
			sameTensor(t, "amax buffer after", q.amax, c.AmaxBufferAfter)
			if got, want := q.String(), expectedRepr(c.ReprAfter, c.Scale); got != want {
				t.Errorf("repr after forward %q, want %q", got, want)
			}
			// Backward is straight through with the amax used.
			dy := randTensor(testRNG(5), y.Shape...)
			dx, err := q.Backward(dy)
			if err != nil {
				t.Fatal(err)
			}
			amax := func(int) float32 { return float32(math.Inf(1)) }
			if a := q.fw.amax; a != nil {
				amax = func(i int) float32 { return amaxAt(a, q.fw.x.Shape, i) }
			}
			checkSTE(t, q.fw.x.Data, dy.Data, dx.Data, amax)
		})
	}
}

// checkSTE fails unless dx[i] is g[i] where |x[i]| <= amax(i) and 0
// elsewhere (NaN x included): the straight-through gradient.
func checkSTE(t *testing.T, x, g, dx []float32, amax func(i int) float32) {
	t.Helper()
	for i, v := range x {
		want := g[i]
		if !(float32(math.Abs(float64(v))) <= amax(i)) {
			want = 0
		}
		if dx[i] != want {
			t.Fatalf("dx[%d] = %v for x %v, want %v", i, dx[i], v, want)
		}
	}
}

// amaxAt returns the element of amax that broadcasts onto flat index i of
// an input of shape xs.
func amaxAt(a *tensor.Tensor, xs []int, i int) float32 {
	out, _ := tensor.BroadcastShapes(xs, a.Shape)
	st := tensor.BroadcastStrides(a.Shape, out)
	off := 0
	for d := len(out) - 1; d >= 0; d-- {
		off += (i % out[d]) * st[d]
		i /= out[d]
	}
	return a.Data[off]
}

// TestTensorQuantizerErrors covers the error cases of tensor_quantizer.json
// that have a Go form, and the deliberate differences.
func TestTensorQuantizerErrors(t *testing.T) {
	d := QuantDesc8BitPerTensor()
	d.NumBits = -1
	if _, err := NewTensorQuantizer(d); err == nil || !strings.Contains(err.Error(), "num_bits -1") {
		t.Errorf("num_bits -1: %v", err)
	}
	d = QuantDesc8BitPerTensor()
	d.CalibMethod = "bogus"
	if _, err := NewTensorQuantizer(d); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("calib_method bogus: %v", err)
	}
	d = QuantDesc8BitConv2dWeightPerChannel()
	d.CalibMethod = "histogram"
	if _, err := NewTensorQuantizer(d); err == nil || !strings.Contains(err.Error(), "per tensor") {
		t.Errorf("histogram per channel: %v", err)
	}
	d = QuantDesc8BitPerTensor()
	d.LearnAmax, d.Amax = true, []float32{1, 2}
	if _, err := NewTensorQuantizer(d); err == nil || !strings.Contains(err.Error(), "single amax") {
		t.Errorf("learn_amax with 2 amax values: %v", err)
	}

	q := must(NewTensorQuantizer(QuantDesc8BitPerTensor()))
	if err := q.SetAmax(tensor.Scalar(1)); err != nil {
		t.Fatal(err)
	}
	err := q.SetAmax(must(tensor.FromSlice([]float32{1, 2}, 2)))
	if err == nil || !strings.Contains(err.Error(), "changing the amax shape from [] to [2] is not allowed") {
		t.Errorf("amax setter shape change: %v", err)
	}
	for _, bad := range []float32{-1, float32(math.NaN()), float32(math.Inf(1))} {
		if err := q.SetAmax(tensor.Scalar(bad)); err == nil {
			t.Errorf("SetAmax(%v) accepted", bad)
		}
	}
	if err := q.EnableClip(); err == nil || !strings.Contains(err.Error(), "learn_amax is false: cannot enable clip") {
		t.Errorf("enable_clip: %v", err)
	}
	if err := q.InitLearnAmax(); err == nil {
		t.Error("InitLearnAmax without learn_amax accepted")
	}

	// load_calib_amax: strict fails without data, non-strict gives NaN,
	// which Forward refuses.
	q = must(NewTensorQuantizer(QuantDesc8BitPerTensor()))
	if err := q.LoadCalibAmax("max", calibrators.AmaxOptions{}); !errors.Is(err, calibrators.ErrNoData) {
		t.Errorf("strict load without data: %v", err)
	}
	if err := q.LoadCalibAmaxNonStrict("max", calibrators.AmaxOptions{}); err != nil {
		t.Fatal(err)
	}
	if a := q.Amax(); len(a.Shape) != 0 || !math.IsNaN(float64(a.Data[0])) {
		t.Errorf("non-strict amax %v, want NaN", a)
	}
	x := must(tensor.FromSlice([]float32{1, -2, 3}, 3))
	if _, err := q.Forward(x); err == nil || !strings.Contains(err.Error(), "amax NaN") || !strings.Contains(err.Error(), "TensorQuantizer(8bit fake per-tensor amax=nan") {
		t.Errorf("forward with NaN amax: %v", err)
	}
	if err := q.LoadCalibAmax("entropy", calibrators.AmaxOptions{}); !errors.Is(err, calibrators.ErrUnknownMethod) {
		t.Errorf("entropy on a max calibrator: %v", err)
	}

	// Dynamic amax from an input with NaN or Inf, an axis out of range,
	// unsigned with a negative input, amax that does not broadcast.
	q = must(NewTensorQuantizer(QuantDesc8BitPerTensor()))
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		if _, err := q.Forward(must(tensor.FromSlice([]float32{1, v}, 2))); err == nil {
			t.Errorf("dynamic amax from %v accepted", v)
		}
	}
	d = QuantDesc8BitPerTensor()
	d.Axis = []int{2}
	q = must(NewTensorQuantizer(d))
	if _, err := q.Forward(tensor.New(2, 2)); err == nil || !strings.Contains(err.Error(), "input shape [2 2]: axis 2 out of range") {
		t.Errorf("axis out of range: %v", err)
	}
	q = must(NewTensorQuantizer(QuantDescUnsigned8BitPerTensor()))
	if _, err := q.Forward(x); err == nil || !strings.Contains(err.Error(), "negative value -2 at flat index 1") {
		t.Errorf("unsigned negative input: %v", err)
	}
	d = QuantDesc8BitPerTensor()
	d.Amax = []float32{1, 2}
	q = must(NewTensorQuantizer(d))
	if _, err := q.Forward(x); err == nil || !strings.Contains(err.Error(), "input shape [3], amax shape [2]") {
		t.Errorf("amax not broadcasting: %v", err)
	}
	if _, err := q.Backward(x); err == nil {
		t.Error("Backward after a failed Forward accepted")
	}
	if _, err := q.Forward(&tensor.Tensor{Shape: []int{2}, Data: []float32{1}}); err == nil {
		t.Error("invalid tensor accepted")
	}
	if err := q.SetState("scale", tensor.Scalar(1)); err == nil {
		t.Error("SetState of an unknown buffer accepted")
	}
	if err := q.SetState("amax", tensor.Scalar(1)); err == nil {
		t.Error("SetState changed the amax shape")
	}
}

// TestLearnAmaxGradients runs the learn_amax cases of ste_backward.json:
// the clipped and quantized outputs, the input gradient with the Clip
// rule's strict inequalities, and the gradients of both clip bounds, all
// exact.
func TestLearnAmaxGradients(t *testing.T) {
	var file struct {
		LearnAmax []struct {
			Name string `json:"name"`
			Desc struct {
				NumBits   int     `json:"num_bits"`
				Amax      float32 `json:"amax"`
				LearnAmax bool    `json:"learn_amax"`
			} `json:"desc"`
			X          conformance.Tensor `json:"x"`
			GradOutput conformance.Tensor `json:"grad_output"`
			Outputs    conformance.Tensor `json:"outputs"`
			GradInput  conformance.Tensor `json:"grad_input"`
			Min        conformance.Tensor `json:"clip_value_min"`
			Max        conformance.Tensor `json:"clip_value_max"`
			GradMin    conformance.Tensor `json:"grad_clip_value_min"`
			GradMax    conformance.Tensor `json:"grad_clip_value_max"`
		} `json:"learn_amax_cases"`
	}
	if err := conformance.Load("ste_backward.json", &file); err != nil {
		t.Fatal(err)
	}
	if len(file.LearnAmax) == 0 {
		t.Fatal("no learn_amax cases")
	}
	for _, c := range file.LearnAmax {
		t.Run(c.Name, func(t *testing.T) {
			d := QuantDesc8BitPerTensor()
			d.NumBits, d.Amax, d.LearnAmax = c.Desc.NumBits, []float32{c.Desc.Amax}, c.Desc.LearnAmax
			q := must(NewTensorQuantizer(d))
			ps := q.Params()
			if len(ps) != 2 || ps[0].Name != "clip.clip_value_min" || ps[1].Name != "clip.clip_value_max" {
				t.Fatalf("params %v", ps)
			}
			sameTensor(t, "clip_value_min", ps[0].Value, &c.Min)
			sameTensor(t, "clip_value_max", ps[1].Value, &c.Max)
			y := must(q.Forward(c.X.MustFloat32()))
			sameTensor(t, "outputs", y, &c.Outputs)
			dx := must(q.Backward(c.GradOutput.MustFloat32()))
			sameTensor(t, "grad_input", dx, &c.GradInput)
			sameTensor(t, "grad clip_value_min", ps[0].Grad, &c.GradMin)
			sameTensor(t, "grad clip_value_max", ps[1].Grad, &c.GradMax)
			if a := q.Amax(); a.Data[0] != c.Desc.Amax {
				t.Errorf("learned amax %v", a)
			}
			// Without the clip stage the bounds get no gradient, but the
			// input is still clipped.
			q.DisableClip()
			if err := ZeroGrad(q); err != nil {
				t.Fatal(err)
			}
			must(q.Forward(c.X.MustFloat32()))
			dx2 := must(q.Backward(c.GradOutput.MustFloat32()))
			sameTensor(t, "grad_input without clip stage", dx2, &c.GradInput)
			if ps[0].Grad.Data[0] != 0 || ps[1].Grad.Data[0] != 0 {
				t.Errorf("bounds got gradients %v %v with the clip stage off", ps[0].Grad, ps[1].Grad)
			}
		})
	}
}

// TestSTEThroughQuantizer runs ste_backward.json's function cases through
// quantizers with the case's amax: fake_tensor_quant as a fake quantizer,
// narrow-range tensor_quant as a real one (which is always narrow).
func TestSTEThroughQuantizer(t *testing.T) {
	var file struct {
		Cases []struct {
			Name     string `json:"name"`
			Function string `json:"function"`
			Params   struct {
				NumBits     int  `json:"num_bits"`
				Unsigned    bool `json:"unsigned"`
				NarrowRange bool `json:"narrow_range"`
			} `json:"params"`
			X          conformance.Tensor `json:"x"`
			Amax       conformance.Tensor `json:"amax"`
			GradOutput conformance.Tensor `json:"grad_output"`
			Outputs    conformance.Tensor `json:"outputs"`
			GradInput  conformance.Tensor `json:"grad_input"`
		} `json:"cases"`
	}
	if err := conformance.Load("ste_backward.json", &file); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range file.Cases {
		if c.Function == "tensor_quant" && !c.Params.NarrowRange {
			continue
		}
		t.Run(c.Name+"/"+c.Function, func(t *testing.T) {
			d := QuantDescriptor{NumBits: c.Params.NumBits, Unsigned: c.Params.Unsigned, NarrowRange: c.Params.NarrowRange,
				FakeQuant: c.Function == "fake_tensor_quant", Amax: c.Amax.F32}
			if len(c.Amax.Shape) != 0 {
				d.AmaxShape = c.Amax.Shape
			}
			q := must(NewTensorQuantizer(d))
			y := must(q.Forward(c.X.MustFloat32()))
			sameTensor(t, "outputs", y, &c.Outputs)
			dx := must(q.Backward(c.GradOutput.MustFloat32()))
			sameTensor(t, "grad_input", dx, &c.GradInput)
			n++
		})
	}
	if n < 8 {
		t.Fatalf("only %d cases", n)
	}
}

// TestExportMode checks the export-equivalent forward against
// fb_fake_quant.json: the default forward against v2.2.1, the export mode
// against v2.1.2's use_fb_fake_quant and against the NumPy Q/DQ emulation
// (which differs from ONNX Runtime only in the sign of zero).
func TestExportMode(t *testing.T) {
	var file struct {
		Cases []struct {
			Name       string                     `json:"name"`
			DescKwargs map[string]json.RawMessage `json:"desc_kwargs"`
			X          conformance.Tensor         `json:"x"`
			AmaxUsed   conformance.Tensor         `json:"amax_used"`
			Default    struct {
				Outputs *conformance.Tensor `json:"outputs"`
			} `json:"v2_2_1_default"`
			FB struct {
				Outputs *conformance.Tensor `json:"outputs"`
			} `json:"v2_1_2_use_fb_fake_quant"`
			Numpy struct {
				Scale   conformance.Tensor `json:"scale"`
				Outputs conformance.Tensor `json:"outputs"`
			} `json:"derived_onnx_qdq_numpy"`
		} `json:"cases"`
	}
	if err := conformance.Load("fb_fake_quant.json", &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 5 {
		t.Fatalf("%d cases", len(file.Cases))
	}
	for _, c := range file.Cases {
		t.Run(c.Name, func(t *testing.T) {
			d := QuantDesc8BitPerTensor()
			for k, v := range c.DescKwargs {
				var err error
				switch k {
				case "num_bits":
					err = json.Unmarshal(v, &d.NumBits)
				case "axis":
					var a int
					err = json.Unmarshal(v, &a)
					d.Axis = []int{a}
				case "amax":
					var f float32
					if json.Unmarshal(v, &f) == nil {
						d.Amax = []float32{f}
						break
					}
					var ct conformance.Tensor
					err = json.Unmarshal(v, &ct)
					d.Amax, d.AmaxShape = ct.F32, ct.Shape
				default:
					t.Fatalf("desc kwarg %s", k)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			x := c.X.MustFloat32()
			q := must(NewTensorQuantizer(d))
			y := must(q.Forward(x))
			sameTensor(t, "default forward", y, c.Default.Outputs)
			sameTensor(t, "amax used", q.fw.amax, &c.AmaxUsed)
			if err := q.SetExportMode(true); err != nil {
				t.Fatal(err)
			}
			y = must(q.Forward(x))
			sameTensor(t, "export mode vs use_fb_fake_quant", y, c.FB.Outputs)
			// The NumPy emulation multiplies back with the scale too; it
			// differs in -0 only (rint keeps the sign, ONNX Runtime's
			// integer codes do not).
			want := c.Numpy.Outputs.MustFloat32()
			for i, v := range want.Data {
				if v == 0 {
					want.Data[i] = 0
				}
			}
			if dd := conformance.DiffFloat32(y.Data, want.Data); dd != "" {
				t.Errorf("export mode vs NumPy Q/DQ: %s", dd)
			}
			_, hi := q.qdqRange()
			scale := c.Numpy.Scale.MustFloat32()
			for i, a := range q.fw.amax.Data {
				if s := qdqScale(a, hi); s != scale.Data[i] {
					t.Errorf("scale[%d] = %v, want %v", i, s, scale.Data[i])
				}
			}
			if strings.Contains(q.String(), " export") != true {
				t.Errorf("repr %q does not show the export mode", q)
			}
		})
	}
	// What export mode refuses.
	for _, d := range []QuantDescriptor{
		{NumBits: 8, FakeQuant: true, NarrowRange: true},
		{NumBits: 8},
		{NumBits: 20, FakeQuant: true},
	} {
		q := must(NewTensorQuantizer(d))
		if err := q.SetExportMode(true); err == nil || !strings.Contains(err.Error(), "TensorQuantizer(") {
			t.Errorf("%v: export mode: %v", d, err)
		}
	}
	d := QuantDesc8BitPerTensor()
	d.Amax, d.AmaxShape = []float32{1, 2, 3, 4}, []int{2, 2}
	q := must(NewTensorQuantizer(d))
	must(0, q.SetExportMode(true))
	if _, err := q.Forward(tensor.New(3, 2, 2)); err == nil || !strings.Contains(err.Error(), "single axis") {
		t.Errorf("two amax axes in export mode: %v", err)
	}
}

// TestQuantizerFP8 checks FP8 quantizers against the slice kernels: per
// channel with a dynamic amax (FakeQuantFP8PerChannel), per tensor with a
// static one (FakeQuantFP8), and the straight-through gradient.
func TestQuantizerFP8(t *testing.T) {
	x := randTensor(testRNG(3), 4, 3, 5)
	for i := range x.Data {
		x.Data[i] *= float32(1 + i%7)
	}
	d := QuantDesc8BitConv1dWeightPerChannel()
	d.Format = "e4m3"
	q := must(NewTensorQuantizer(d))
	y := must(q.Forward(x))
	amax := make([]float32, 4)
	for c := range amax {
		amax[c] = reduce.AbsMax(x.Data[c*15 : (c+1)*15])
	}
	want := tensor.New(x.Shape...)
	if err := fakequant.FakeQuantFP8PerChannel(want.Data, x.Data, amax, 15, fakequant.E4M3FN); err != nil {
		t.Fatal(err)
	}
	if dd := conformance.DiffFloat32(y.Data, want.Data); dd != "" {
		t.Errorf("e4m3 per channel: %s", dd)
	}
	if !strings.HasPrefix(q.String(), "TensorQuantizer(e4m3 fake axis=0 amax=dynamic") {
		t.Errorf("repr %q", q)
	}

	d = QuantDesc8BitPerTensor()
	d.Format, d.Amax = "e5m2", []float32{3}
	q = must(NewTensorQuantizer(d))
	y = must(q.Forward(x))
	if err := fakequant.FakeQuantFP8(want.Data, x.Data, 3, fakequant.E5M2); err != nil {
		t.Fatal(err)
	}
	if dd := conformance.DiffFloat32(y.Data, want.Data); dd != "" {
		t.Errorf("e5m2 static: %s", dd)
	}
	dy := randTensor(testRNG(4), x.Shape...)
	dx := must(q.Backward(dy))
	checkSTE(t, x.Data, dy.Data, dx.Data, func(int) float32 { return 3 })
}

// TestQuantizerBlocks checks block quantizers against FakeQuant on each
// block with its own abs-max: dynamic, calibrated with max over two
// batches, in export mode (FakeQuantQDQ per block), and the gradient.
func TestQuantizerBlocks(t *testing.T) {
	const rows, cols, bs = 3, 70, 32
	a := randTensor(testRNG(5), rows, cols)
	b := randTensor(testRNG(6), rows, cols)
	d := QuantDesc8BitPerTensor()
	d.NumBits, d.BlockSize = 4, bs
	q := must(NewTensorQuantizer(d))
	f := d.IntFormat()

	ref := func(x *tensor.Tensor, amaxOf func(blk int, s, e int) float32, qdq bool) *tensor.Tensor {
		y := tensor.New(x.Shape...)
		blk := 0
		for r := 0; r < rows; r++ {
			for s := r * cols; s < (r+1)*cols; s += bs {
				e := min(s+bs, (r+1)*cols)
				am := amaxOf(blk, s, e)
				if qdq {
					must(0, fakequant.FakeQuantQDQ(y.Data[s:e], x.Data[s:e], qdqScale(am, 7), 0, -8, 7))
				} else {
					fakequant.FakeQuant(y.Data[s:e], x.Data[s:e], am, f)
				}
				blk++
			}
		}
		return y
	}
	own := func(x *tensor.Tensor) func(int, int, int) float32 {
		return func(_, s, e int) float32 { return reduce.AbsMax(x.Data[s:e]) }
	}
	y := must(q.Forward(a))
	if dd := conformance.DiffFloat32(y.Data, ref(a, own(a), false).Data); dd != "" {
		t.Errorf("dynamic blocks: %s", dd)
	}
	if !tensor.SameShape(q.fw.amax.Shape, []int{rows, 3}) {
		t.Errorf("block amax shape %v", q.fw.amax.Shape)
	}
	dy := randTensor(testRNG(7), rows, cols)
	dx := must(q.Backward(dy))
	for i, v := range a.Data {
		if dx.Data[i] != dy.Data[i] { // every |x| is within its block's amax
			t.Fatalf("dx[%d] = %v for x %v, want %v", i, dx.Data[i], v, dy.Data[i])
		}
	}

	// Calibration: the running max of each block over both batches.
	q.DisableQuant()
	q.EnableCalib()
	must(q.Forward(a))
	must(q.Forward(b))
	q.DisableCalib()
	q.EnableQuant()
	if err := q.LoadCalibAmax("max", calibrators.AmaxOptions{}); err != nil {
		t.Fatal(err)
	}
	am := q.Amax()
	if !tensor.SameShape(am.Shape, []int{rows, 3}) {
		t.Fatalf("calibrated block amax shape %v", am.Shape)
	}
	both := func(blk, s, e int) float32 {
		return max(reduce.AbsMax(a.Data[s:e]), reduce.AbsMax(b.Data[s:e]))
	}
	for blk, s := 0, 0; s < rows*cols; blk++ {
		e := min(s+bs, (s/cols+1)*cols)
		if am.Data[blk] != both(blk, s, e) {
			t.Fatalf("block %d amax %v, want %v", blk, am.Data[blk], both(blk, s, e))
		}
		s = e
	}
	y = must(q.Forward(b))
	if dd := conformance.DiffFloat32(y.Data, ref(b, both, false).Data); dd != "" {
		t.Errorf("calibrated blocks: %s", dd)
	}
	if err := q.SetExportMode(true); err != nil {
		t.Fatal(err)
	}
	y = must(q.Forward(b))
	if dd := conformance.DiffFloat32(y.Data, ref(b, both, true).Data); dd != "" {
		t.Errorf("export-mode blocks: %s", dd)
	}
	if _, err := q.Forward(tensor.New(rows, 40)); err == nil || !strings.Contains(err.Error(), "block amax shape [3 3], want [3 2]") {
		t.Errorf("static block amax for another shape: %v", err)
	}
	q = must(NewTensorQuantizer(d))
	q.EnableCalib()
	must(q.Forward(a))
	if _, err := q.Forward(tensor.New(2, cols)); err == nil || !strings.Contains(err.Error(), "earlier batches [3 3]") {
		t.Errorf("calibration batches of another shape: %v", err)
	}
	if _, err := q.Forward(tensor.Scalar(1)); err == nil || !strings.Contains(err.Error(), "at least one dimension") {
		t.Errorf("scalar block input: %v", err)
	}
}

// TestQuantizerState covers the amax buffer (checkpoint state), Descriptor
// and InitLearnAmax.
func TestQuantizerState(t *testing.T) {
	q := must(NewTensorQuantizer(QuantDesc8BitConv2dWeightPerChannel()))
	if q.State() != nil || q.Amax() != nil || q.Descriptor().Amax != nil {
		t.Fatal("dynamic quantizer has an amax")
	}
	x := randTensor(testRNG(1), 3, 2, 2)
	dynamic := must(q.Forward(x))
	amax := must(tensor.FromSlice([]float32{0.5, 1, 2}, 3, 1, 1))
	if err := q.SetState("amax", amax); err != nil {
		t.Fatal(err)
	}
	amax.Data[0] = 9
	st := q.State()
	if len(st) != 1 || st[0].Name != "amax" || st[0].Tensor.Data[0] != 0.5 {
		t.Fatalf("state %v", st)
	}
	static := must(q.Forward(x))
	if conformance.DiffFloat32(static.Data, dynamic.Data) == "" {
		t.Error("the loaded amax was not used")
	}
	d := q.Descriptor()
	if !tensor.SameShape(d.AmaxShape, []int{3, 1, 1}) || len(d.Amax) != 3 || !d.Equal(d) {
		t.Errorf("descriptor %v", d)
	}
	q2 := must(NewTensorQuantizer(d))
	if dd := conformance.DiffFloat32(must(q2.Forward(x)).Data, static.Data); dd != "" {
		t.Errorf("quantizer from Descriptor(): %s", dd)
	}

	dl := QuantDesc8BitPerTensor()
	dl.LearnAmax = true
	ql := must(NewTensorQuantizer(dl))
	if a := ql.Amax(); a.Data[0] != 1 {
		t.Errorf("learned amax without a given one %v, want 1", a)
	}
	if err := ql.InitLearnAmax(); err == nil {
		t.Error("InitLearnAmax without an amax accepted")
	}
	must(0, ql.SetAmax(must(tensor.FromSlice([]float32{0.25, 0.75}, 2))))
	if err := ql.InitLearnAmax(); err != nil {
		t.Fatal(err)
	}
	if a := ql.Amax(); a.Data[0] != 0.75 || ql.Params()[0].Value.Data[0] != -0.75 {
		t.Errorf("after InitLearnAmax: amax %v, min %v", a, ql.Params()[0].Value)
	}
	ql.Params()[0].Value.Data = nil
	if _, err := ql.Forward(x); err == nil {
		t.Error("emptied clip bound accepted")
	}
}

// TestQuantizerFP8Calibration: an FP8 quantizer's histogram "mse" searches
// with its FP8 format (unlike the integer search over the same histogram).
func TestQuantizerFP8Calibration(t *testing.T) {
	d := QuantDesc8BitPerTensor()
	d.Format, d.CalibMethod = "e4m3", "histogram"
	q := must(NewTensorQuantizer(d))
	q.EnableCalib()
	q.DisableQuant()
	x := randTensor(testRNG(8), 64, 64)
	must(q.Forward(x))
	must(0, q.LoadCalibAmax("mse", calibrators.AmaxOptions{}))
	h := q.Calibrator().(*calibrators.Histogram)
	fp8 := must(h.Amax("mse", calibrators.AmaxOptions{FP8: fakequant.E4M3FN}))
	i8 := must(h.Amax("mse", calibrators.AmaxOptions{}))
	if got := q.Amax().Data[0]; got != fp8.Data[0] || got == i8.Data[0] {
		t.Errorf("FP8 quantizer mse amax %v, want the FP8 search's %v (the int8 one is %v)", got, fp8.Data[0], i8.Data[0])
	}
}

// TestAxisMinusOne pins the documented quirk: a dynamic amax treats axis
// -1 as per-tensor, while the max calibrator normalises it to the last
// axis.
func TestAxisMinusOne(t *testing.T) {
	d := QuantDesc8BitPerTensor()
	d.Axis = []int{-1}
	q := must(NewTensorQuantizer(d))
	x := randTensor(testRNG(2), 4, 5)
	q.EnableCalib()
	must(q.Forward(x))
	if len(q.fw.amax.Shape) != 0 {
		t.Errorf("dynamic amax shape %v, want per-tensor []", q.fw.amax.Shape)
	}
	must(0, q.LoadCalibAmax("max", calibrators.AmaxOptions{}))
	if a := q.Amax(); !tensor.SameShape(a.Shape, []int{1, 5}) {
		t.Errorf("calibrated amax shape %v, want [1 5]", a.Shape)
	}
}
