package layers

import (
	"math"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
	"github.com/tensorquant/tensorquant/tensor"
)

var (
	_ QuantLayer = (*QuantLinear)(nil)
	_ QuantLayer = (*QuantConv1d)(nil)
	_ QuantLayer = (*QuantConv2d)(nil)
	_ QuantLayer = (*QuantConv3d)(nil)
	_ QuantLayer = (*QuantConvTranspose1d)(nil)
	_ QuantLayer = (*QuantConvTranspose2d)(nil)
	_ QuantLayer = (*QuantConvTranspose3d)(nil)
	_ QuantLayer = (*QuantMaxPool1d)(nil)
	_ QuantLayer = (*QuantMaxPool2d)(nil)
	_ QuantLayer = (*QuantMaxPool3d)(nil)
	_ QuantLayer = (*QuantAvgPool1d)(nil)
	_ QuantLayer = (*QuantAvgPool2d)(nil)
	_ QuantLayer = (*QuantAvgPool3d)(nil)
	_ QuantLayer = (*QuantAdaptiveAvgPool1d)(nil)
	_ QuantLayer = (*QuantAdaptiveAvgPool2d)(nil)
	_ QuantLayer = (*QuantAdaptiveAvgPool3d)(nil)
	_ Stateful   = (*TensorQuantizer)(nil)
)

// calibrate runs the original's calibration of every quantizer of model:
// quant off and calib on, the batches forward, load_calib_amax(method),
// calib off and quant on.
func calibrate(t testing.TB, model Layer, batches []*tensor.Tensor, method calibrators.Method, o calibrators.AmaxOptions) {
	t.Helper()
	if err := Calibrate(model, batches, method, o, nil); err != nil {
		t.Fatal(err)
	}
}

// TestQuantModules runs quant_modules.json's module cases: the module is
// built with the case's weights and descriptors, every quantizer is
// calibrated with max on the case's batches, and the repr, the amaxes and
// the quantized input and weight must match exactly, the outputs within
// 1e-5 relative.
func TestQuantModules(t *testing.T) {
	var file struct {
		Cases []struct {
			moduleCase
			InputDesc    pyFields             `json:"input_desc"`
			CalibBatches []conformance.Tensor `json:"calib_batches"`
			X            conformance.Tensor   `json:"x"`
			InputAmax    conformance.Tensor   `json:"input_amax"`
			Weight       *conformance.Tensor  `json:"weight"`
			WeightAxis   *int                 `json:"weight_axis"`
			WeightAmax   *conformance.Tensor  `json:"weight_amax"`
		} `json:"cases"`
	}
	if err := conformance.Load("quant_modules.json", &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Cases) < 6 {
		t.Fatalf("%d module cases", len(file.Cases))
	}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, c := range file.Cases {
			t.Run(c.Name, func(t *testing.T) {
				in := c.InputDesc.descriptor(t)
				descs := QuantDescs{Input: &in}
				var w *tensor.Tensor
				if c.Weight != nil {
					w = c.Weight.MustFloat32()
					wd := QuantDesc8BitPerTensor()
					if c.WeightAxis != nil {
						wd.Axis = []int{*c.WeightAxis}
					}
					descs.Weight = &wd
				}
				float := floatModule(t, c.moduleCase, w)
				q, err := Quantize(float, descs)
				if err != nil {
					t.Fatal(err)
				}
				var batches []*tensor.Tensor
				for _, b := range c.CalibBatches {
					batches = append(batches, b.MustFloat32())
				}
				calibrate(t, q, batches, "max", calibrators.AmaxOptions{})
				wantRepr := strings.NewReplacer("(_input_quantizer)", "(input_quantizer)", "(_weight_quantizer)", "(weight_quantizer)").Replace(c.ModuleRepr)
				if got := Describe(q); got != wantRepr {
					t.Errorf("repr\n%s\nwant\n%s", got, wantRepr)
				}
				inQ, wQ := q.Quantizers()
				sameTensor(t, "input amax", inQ.Amax(), &c.InputAmax)
				x := c.X.MustFloat32()
				y, err := q.Forward(x)
				if err != nil {
					t.Fatal(err)
				}
				sameTensor(t, "quantized input", must(inQ.Forward(x)), &c.QuantInput)
				if wQ != nil {
					sameTensor(t, "weight amax", wQ.Amax(), c.WeightAmax)
					sameTensor(t, "quantized weight", must(wQ.Forward(q.Params()[0].Value)), c.QuantWeight)
				}
				checkModuleOutputs(t, y, &c.Outputs)
			})
		}
	})
}

// TestModuleDefaultDescriptors compares the default descriptors of every
// quantized layer type with quant_modules.json's module_default_descriptors
// (the types the original has and this package does not, QuantLSTM and
// QuantInstanceNorm2d, are skipped), and checks the pooling types of the
// other dimensions and setting a default.
func TestModuleDefaultDescriptors(t *testing.T) {
	var file struct {
		Defaults map[string]map[string]struct {
			Fields pyFields `json:"fields"`
		} `json:"module_default_descriptors"`
	}
	if err := conformance.Load("quant_modules.json", &file); err != nil {
		t.Fatal(err)
	}
	n := 0
	for kind, descs := range file.Defaults {
		if kind == "QuantLSTM" || kind == "QuantInstanceNorm2d" {
			continue
		}
		got := defaultsOfKind(t, kind)
		in, w := descs["default_quant_desc_input"], descs["default_quant_desc_weight"]
		if !got.Input.Equal(in.Fields.descriptor(t)) {
			t.Errorf("%s input %v, want %v", kind, got.Input, in.Fields.descriptor(t))
		}
		_, hasW := descs["default_quant_desc_weight"]
		if (got.Weight != nil) != hasW || hasW && !got.Weight.Equal(w.Fields.descriptor(t)) {
			t.Errorf("%s weight %v, want %v", kind, got.Weight, w.Fields.descriptor(t))
		}
		n++
	}
	if n != 10 {
		t.Errorf("%d types compared", n)
	}
	for _, kind := range []string{"QuantMaxPool1d", "QuantMaxPool3d", "QuantAvgPool1d", "QuantAvgPool3d", "QuantAdaptiveAvgPool1d", "QuantAdaptiveAvgPool3d"} {
		if d := defaultsOfKind(t, kind); !d.Input.Equal(QuantDesc8BitPerTensor()) || d.Weight != nil {
			t.Errorf("%s: %v", kind, d)
		}
	}

	// Setting a default affects layers made afterwards only; the returned
	// descriptors are copies.
	old := must(DefaultQuantDescs[*Conv2d]())
	defer func() {
		must(0, SetDefaultQuantDescInput[*Conv2d](*old.Input))
		must(0, SetDefaultQuantDescWeight[*Conv2d](*old.Weight))
	}()
	before := must(NewQuantConv2d(1, 2, 3, ConvOptions{}, testRNG(1), QuantDescs{}))
	hist := QuantDesc8BitPerTensor()
	hist.CalibMethod = "histogram"
	four := QuantDesc8BitConv2dWeightPerChannel()
	four.NumBits = 4
	must(0, SetDefaultQuantDescInput[*Conv2d](hist))
	must(0, SetDefaultQuantDescWeight[*Conv2d](four))
	four.Axis[0] = 7
	after := must(NewQuantConv2d(1, 2, 3, ConvOptions{}, testRNG(1), QuantDescs{}))
	if before.InputQuantizer.Descriptor().Method() != "max" || after.InputQuantizer.Descriptor().Method() != "histogram" {
		t.Error("input default not applied to new layers only")
	}
	if wd := after.WeightQuantizer.Descriptor(); wd.NumBits != 4 || wd.Axis[0] != 0 {
		t.Errorf("weight default %v", wd)
	}
	d1 := must(DefaultQuantDescs[*Conv2d]())
	d1.Weight.Axis[0] = 5
	if d2 := must(DefaultQuantDescs[*Conv2d]()); d2.Weight.Axis[0] != 0 {
		t.Error("DefaultQuantDescs shares its descriptors")
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		// A type without a quantized form; a weight default for pooling
		// does not compile (SetDefaultQuantDescWeight takes Weighted types).
		{SetDefaultQuantDescInput[*ReLU](hist), "*layers.ReLU has no quantized form"},
		{second(DefaultQuantDescs[*ReLU]()), "*layers.ReLU has no quantized form"},
		{SetDefaultQuantDescInput[*Conv2d](QuantDescriptor{NumBits: 8}), "only fake quantization"},
		{SetDefaultQuantDescInput[*Conv2d](QuantDescriptor{NumBits: 0, FakeQuant: true}), "num_bits 0"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("error %v, want %q", tc.err, tc.want)
		}
	}
}

// defaultsOfKind returns the default descriptors of the quantized type
// called kind ("QuantConv2d").
func defaultsOfKind(t *testing.T, kind string) QuantDescs {
	t.Helper()
	lt := typeOfKind(strings.TrimPrefix(kind, "Quant"))
	if lt == nil || !strings.HasPrefix(kind, "Quant") {
		t.Fatalf("no quantized layer type %q", kind)
	}
	return defaultsOf(lt)
}

// quantCases returns one quantized layer of every type with 20-bit
// quantizers (fine enough for finite differences) and static amaxes that
// clip some inputs and weights, with their input shapes. The values of
// spacedTensor (inputs, and weights here) are multiples of 0.05 (shifted by
// 0.05 away from 0), so an amax of 0.025 mod 0.05 is never within a
// finite-difference step of one.
func quantCases(t *testing.T) []struct {
	name  string
	layer QuantLayer
	shape []int
} {
	rng := testRNG(3)
	fine := QuantDesc8BitPerTensor()
	fine.NumBits = 20
	fine.Amax = []float32{0.775}
	fineW := fine.Clone()
	fineW.Amax = nil
	q := func(l Layer, err error) QuantLayer {
		if err != nil {
			t.Fatal(err)
		}
		in := fine.Clone()
		d := QuantDescs{Input: &in}
		if len(l.Params()) > 0 {
			w := fineW.Clone()
			d.Weight = &w
			// Spaced weights, clipped at 0.325 (between grid values).
			copy(l.Params()[0].Value.Data, spacedTensor(rng, l.Params()[0].Value.Shape...).Data)
		}
		ql, err := Quantize(l, d)
		if err != nil {
			t.Fatal(err)
		}
		if _, wq := ql.Quantizers(); wq != nil {
			must(0, wq.SetAmax(tensor.Scalar(0.325)))
		}
		return ql
	}
	conv := func(spec ConvSpec) (Layer, error) { return NewConv(spec, rng) }
	return []struct {
		name  string
		layer QuantLayer
		shape []int
	}{
		{"QuantLinear", q(NewLinear(5, 3, true, rng)), []int{4, 5}},
		{"QuantConv1d", q(conv(ConvSpec{InChannels: 2, OutChannels: 3, KernelSize: []int{3}, Padding: []int{1}, Bias: true})), []int{2, 2, 6}},
		{"QuantConv2d", q(conv(ConvSpec{InChannels: 2, OutChannels: 3, KernelSize: []int{3, 3}, Stride: []int{2}, Padding: []int{1}, Bias: true})), []int{2, 2, 5, 5}},
		{"QuantConv3d", q(conv(ConvSpec{InChannels: 2, OutChannels: 2, KernelSize: []int{2, 2, 2}, Bias: true})), []int{1, 2, 3, 3, 3}},
		{"QuantConvTranspose1d", q(conv(ConvSpec{InChannels: 2, OutChannels: 3, KernelSize: []int{3}, Stride: []int{2}, Bias: true, Transposed: true})), []int{2, 2, 4}},
		{"QuantConvTranspose2d", q(conv(ConvSpec{InChannels: 3, OutChannels: 2, KernelSize: []int{3, 3}, Stride: []int{2}, Padding: []int{1}, OutputPadding: []int{1}, Bias: true, Transposed: true})), []int{2, 3, 3, 3}},
		{"QuantConvTranspose3d", q(conv(ConvSpec{InChannels: 2, OutChannels: 2, KernelSize: []int{2, 2, 2}, Stride: []int{2}, Bias: true, Transposed: true})), []int{1, 2, 2, 2, 2}},
		{"QuantMaxPool1d", q(NewMaxPool1d(3, PoolOptions{Stride: 2, Padding: 1})), []int{2, 2, 9}},
		{"QuantMaxPool2d", q(NewMaxPool2d(2, PoolOptions{})), []int{2, 3, 6, 6}},
		{"QuantMaxPool3d", q(NewMaxPool3d(2, PoolOptions{Stride: 1})), []int{1, 2, 3, 3, 4}},
		{"QuantAvgPool1d", q(NewAvgPool1d(3, PoolOptions{Stride: 2, Padding: 1})), []int{2, 2, 8}},
		{"QuantAvgPool2d", q(NewAvgPool2d(2, PoolOptions{})), []int{2, 3, 6, 6}},
		{"QuantAvgPool3d", q(NewAvgPool3d(2, PoolOptions{Stride: 1})), []int{1, 2, 3, 3, 3}},
		{"QuantAdaptiveAvgPool1d", q(NewAdaptiveAvgPool1d(3)), []int{2, 2, 7}},
		{"QuantAdaptiveAvgPool2d", q(NewAdaptiveAvgPool2d(3, 2)), []int{2, 2, 5, 7}},
		{"QuantAdaptiveAvgPool3d", q(NewAdaptiveAvgPool3d(2, 2, 1)), []int{1, 2, 3, 5, 2}},
	}
}

// TestQuantGradients checks every quantized layer, a standalone quantizer
// and a learn_amax quantizer (its clip bounds are parameters) by finite
// differences: with 20-bit quantization the straight-through gradient is
// the derivative of the quantized function up to the rounding steps, and
// clipped inputs and weights (flat) get zero.
func TestQuantGradients(t *testing.T) {
	cases := quantCases(t)
	fine := QuantDesc8BitPerTensor()
	fine.NumBits, fine.Amax = 20, []float32{0.525}
	learn := fine.Clone()
	learn.LearnAmax, learn.Amax = true, []float32{0.625}
	kerneltest.ForEachImpl(t, func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if c.layer.Kind() != c.name {
					t.Fatalf("Kind() = %q", c.layer.Kind())
				}
				gradCheck(t, c.layer, spacedTensor(testRNG(uint64(len(c.name))), c.shape...), 1e-2)
			})
		}
		for _, d := range []QuantDescriptor{fine, learn} {
			t.Run(d.String(), func(t *testing.T) {
				q := must(NewTensorQuantizer(d))
				gradCheck(t, q, spacedTensor(testRNG(9), 4, 10), 1e-2)
			})
		}
	})
}

// TestQuantBackwardAt8Bits checks the wiring of the backward pass at 8
// bits, where finite differences do not apply: the input and weight
// gradients of a quantized layer are those of its float layer evaluated at
// the quantized input and weight, masked by each quantizer's
// straight-through rule (|value| <= amax).
func TestQuantBackwardAt8Bits(t *testing.T) {
	rng := testRNG(11)
	for _, c := range quantCases(t) {
		t.Run(c.name, func(t *testing.T) {
			ql := c.layer
			inQ, wQ := ql.Quantizers()
			in8 := QuantDesc8BitPerTensor()
			in8.Amax = []float32{0.775}
			inQ.desc, inQ.amax = in8, tensor.Scalar(0.775)
			if wQ != nil {
				wQ.desc.NumBits = 8
			}
			x := randTensor(rng, c.shape...)
			y := must(ql.Forward(x))
			dy := randTensor(rng, y.Shape...)
			must(0, ZeroGrad(ql))
			dx := must(ql.Backward(dy))
			// The float layer on the quantized values.
			qx := must(inQ.Forward(x))
			fl := ql.FloatLayer()
			var orig *tensor.Tensor
			if wQ != nil {
				w := fl.Params()[0].Value
				orig = w.Clone()
				copy(w.Data, must(wQ.Forward(w)).Data)
				defer copy(w.Data, orig.Data)
			}
			fy := must(fl.Forward(qx))
			if d := conformance.DiffFloat32(fy.Data, y.Data); d != "" {
				t.Fatalf("float layer on quantized values: %s", d)
			}
			var dwQuant []float32
			if wQ != nil {
				dwQuant = append([]float32{}, fl.Params()[0].Grad.Data...)
				clear(fl.Params()[0].Grad.Data)
			}
			fdx := must(fl.Backward(dy))
			checkSTE(t, x.Data, fdx.Data, dx.Data, func(int) float32 { return 0.775 })
			if wQ != nil {
				for i, g := range fl.Params()[0].Grad.Data {
					want := g
					if math.Abs(float64(orig.Data[i])) > 0.325 {
						want = 0
					}
					if math.Float32bits(dwQuant[i]) != math.Float32bits(want) && !(dwQuant[i] == 0 && want == 0) {
						t.Fatalf("dw[%d] = %v, want %v", i, dwQuant[i], want)
					}
				}
			}
		})
	}
}

// TestQuantizeSharesWeights checks that Quantize keeps the float layer's
// tensors (an optimizer built before the replacement keeps working) and
// that FloatLayer returns the quantized layer's Float, a copy with its own
// hyper-parameters.
func TestQuantizeSharesWeights(t *testing.T) {
	conv := must(NewConv2d(2, 3, 3, ConvOptions{Padding: 1}, testRNG(1)))
	before := conv.Params()
	q := must(Quantize(conv, QuantDescs{})).(*QuantConv2d)
	after := q.Params()
	for i := range before {
		if before[i].Value != after[i].Value || before[i].Grad != after[i].Grad {
			t.Fatalf("param %s not shared", before[i].Name)
		}
	}
	if q.FloatLayer().(*Conv2d) != q.Float || q.Float.Weight != conv.Weight {
		t.Fatal("FloatLayer does not return Float")
	}
	q.Float.KernelSize[0] = 5
	if conv.KernelSize[0] != 3 {
		t.Fatal("hyper-parameters shared with the float layer")
	}
	names := []string{}
	must(0, Walk(q, func(name string, _ Layer) error {
		names = append(names, name)
		return nil
	}))
	if strings.Join(names, ",") != ",input_quantizer,weight_quantizer" {
		t.Errorf("walk %v", names)
	}
}

// TestQuantLayerErrors covers the errors of construction and of bad
// input, which name the layer by its hierarchical name and state the
// shapes.
func TestQuantLayerErrors(t *testing.T) {
	rng := testRNG(1)
	conv := must(NewQuantConv2d(1, 8, 3, ConvOptions{Padding: 1}, rng, QuantDescs{}))
	model := NewSequential(NewSequential(conv, NewReLU()))
	_, err := model.Forward(tensor.New(4, 3, 8, 8))
	if want := "layers: 0.0 QuantConv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)): input shape [4 3 8 8]: has 3 channels, want 1"; err == nil || err.Error() != want {
		t.Errorf("wrong channels: %v\nwant %s", err, want)
	}
	perCh := QuantDesc8BitConv2dWeightPerChannel()
	perCh.Axis = []int{1}
	perCh.Amax, perCh.AmaxShape = []float32{1, 1}, []int{1, 2, 1, 1}
	conv2 := must(NewQuantConv2d(3, 2, 3, ConvOptions{}, rng, QuantDescs{Input: &perCh}))
	model = NewSequential(conv2)
	_, err = model.Forward(tensor.New(1, 3, 4, 4))
	if err == nil || !strings.HasPrefix(err.Error(), "layers: 0.input_quantizer TensorQuantizer(8bit fake axis=0 amax=1.0000") &&
		!strings.Contains(err.Error(), "input shape [1 3 4 4], amax shape [1 2 1 1]") {
		t.Errorf("input amax of the wrong shape: %v", err)
	}
	if _, err := conv.Backward(tensor.New(1)); err == nil {
		t.Error("Backward with a bad gradient accepted")
	}
	fresh := must(NewQuantLinear(4, 2, true, rng, QuantDescs{}))
	if _, err := fresh.Backward(tensor.New(1, 2)); err == nil || !strings.Contains(err.Error(), "Backward called before Forward") {
		t.Errorf("Backward before Forward: %v", err)
	}
	fresh.InputQuantizer = nil
	if _, err := fresh.Forward(tensor.New(1, 4)); err == nil {
		t.Error("nil quantizer accepted")
	}
	if _, err := NamedQuantizers(fresh); err == nil {
		t.Error("walk of a nil quantizer accepted")
	}

	real := QuantDesc8BitPerTensor()
	real.FakeQuant = false
	w := QuantDesc8BitPerTensor()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{second(NewQuantLinear(4, 2, true, rng, QuantDescs{Input: &real})), "only fake quantization is supported"},
		{second(NewQuantMaxPool2d(2, PoolOptions{}, QuantDescs{Weight: &w})), "QuantMaxPool2d has no weight quantizer"},
		{second(Quantize(NewReLU(), QuantDescs{})), "ReLU() (*layers.ReLU) has no quantized counterpart"},
		{second(Quantize(nil, QuantDescs{})), "nil layer"},
		{second(NewQuantConv2d(0, 1, 3, ConvOptions{}, rng, QuantDescs{})), "channels 0 -> 1"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("error %v, want %q", tc.err, tc.want)
		}
	}
}

// TestBlockQuantizedConvWeights: a convolution's block weight quantizer
// sees the weight as one row per output channel (per input channel when
// transposed), so blocks run over a filter; the layer computes the float
// convolution with those block-quantized weights, and its gradient passes
// finite differences at 20 bits.
func TestBlockQuantizedConvWeights(t *testing.T) {
	rng := testRNG(4)
	blk := QuantDesc8BitPerTensor()
	blk.NumBits, blk.BlockSize = 4, 8
	for _, spec := range []ConvSpec{
		{InChannels: 3, OutChannels: 4, KernelSize: []int{3, 3}, Padding: []int{1}, Bias: true},
		{InChannels: 2, OutChannels: 6, KernelSize: []int{2, 3}, Stride: []int{2}, Bias: true, Transposed: true},
	} {
		ql := must(NewQuantConv(spec, rng, QuantDescs{Weight: &blk}))
		x := randTensor(rng, 2, spec.InChannels, 5, 5)
		y := must(ql.Forward(x))
		inQ, wQ := ql.Quantizers()
		w := ql.Params()[0].Value
		rows := w.Shape[0]
		rowLen := len(w.Data) / rows
		if want := []int{rows, (rowLen + 7) / 8}; !tensor.SameShape(wQ.fw.amax.Shape, want) {
			t.Fatalf("%s: block amax shape %v, want %v", ql, wQ.fw.amax.Shape, want)
		}
		amax := must(fakequant.BlockAmax(w.Data, rowLen, 8))
		qw := tensor.New(w.Shape...)
		must(0, fakequant.FakeQuantBlock(qw.Data, w.Data, amax, rowLen, 8, blk.IntFormat()))
		fl := must(NewConv(spec, rng))
		copy(fl.Params()[0].Value.Data, qw.Data)
		copy(fl.Params()[1].Value.Data, ql.Params()[1].Value.Data)
		want := must(fl.Forward(must(inQ.Forward(x))))
		if d := conformance.DiffFloat32(y.Data, want.Data); d != "" {
			t.Errorf("%s: %s", ql, d)
		}

		fine := blk
		fine.NumBits = 20
		fineIn := QuantDesc8BitPerTensor()
		fineIn.NumBits = 20
		gradCheck(t, must(NewQuantConv(spec, rng, QuantDescs{Input: &fineIn, Weight: &fine})), spacedTensor(rng, 2, spec.InChannels, 4, 4), 1e-2)
	}
}
