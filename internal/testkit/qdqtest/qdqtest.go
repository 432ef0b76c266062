// Package qdqtest holds what the tests of QDQ models share: the original
// toolkit's tiny model with its parameters and amax
// (testdata/conformance/tiny_qdq_model.json), the calibration recipe and
// export mode of a layers model, and the values of the INT32 biases an
// exported model holds. It is a test helper: only _test.go files import
// it.
package qdqtest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/internal/testkit/conformance"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// TinyModel is the model of tiny_qdq_model.json, QuantConv2d(3, 4, 3,
// padding=1) -> ReLU -> flatten -> QuantLinear(64, 5) with the original's
// default descriptors, parameters and amax, its input X and the
// original's output for it in PyTorch (Torch).
type TinyModel struct {
	Model    layers.Layer
	X, Torch *tensor.Tensor
}

// Tiny builds the TinyModel. It returns an error when the vectors cannot
// be read or do not fit the model.
func Tiny() (*TinyModel, error) {
	var f struct {
		Params map[string]conformance.Tensor `json:"params"`
		Amax   map[string]conformance.Tensor `json:"amax"`
		X      conformance.Tensor            `json:"x"`
		Torch  conformance.Tensor            `json:"torch_output"`
	}
	if err := conformance.Load("tiny_qdq_model.json", &f); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 1))
	c, err := layers.NewConv2d(3, 4, 3, layers.ConvOptions{Padding: 1}, rng)
	if err != nil {
		return nil, err
	}
	l, err := layers.NewLinear(64, 5, true, rng)
	if err != nil {
		return nil, err
	}
	conv, err := layers.Quantize(c, layers.QuantDescs{})
	if err != nil {
		return nil, err
	}
	fc, err := layers.Quantize(l, layers.QuantDescs{})
	if err != nil {
		return nil, err
	}
	model, err := layers.NewNamedSequential(
		layers.Named{Name: "conv", Layer: conv}, layers.Named{Name: "relu", Layer: layers.NewReLU()},
		layers.Named{Name: "flatten", Layer: layers.NewFlatten(1, -1)}, layers.Named{Name: "fc", Layer: fc})
	if err != nil {
		return nil, err
	}
	params, err := layers.NamedParams(model)
	if err != nil {
		return nil, err
	}
	for _, p := range params {
		want, ok := f.Params[p.Name]
		if !ok || len(want.F32) != len(p.Value.Data) {
			return nil, fmt.Errorf("parameter %s: not in tiny_qdq_model.json with %d values", p.Name, len(p.Value.Data))
		}
		copy(p.Value.Data, want.F32)
	}
	for name, ql := range map[string]layers.QuantLayer{"conv": conv, "fc": fc} {
		in, w := ql.Quantizers()
		for q, key := range map[*layers.TensorQuantizer]string{in: name + "._input_quantizer", w: name + "._weight_quantizer"} {
			a := f.Amax[key]
			t, err := tensor.FromSlice(a.F32, a.Shape...)
			if err != nil {
				return nil, fmt.Errorf("amax %s: %w", key, err)
			}
			if err := q.SetAmax(t); err != nil {
				return nil, err
			}
		}
	}
	x, err := tensor.FromSlice(f.X.F32, f.X.Shape...)
	if err != nil {
		return nil, err
	}
	torch, err := tensor.FromSlice(f.Torch.F32, f.Torch.Shape...)
	if err != nil {
		return nil, err
	}
	return &TinyModel{Model: model, X: x, Torch: torch}, nil
}

// Calibrate runs the original's calibration recipe on model with the
// batch x: every enabled quantizer collects x with its quant stage off,
// then loads the max amax (and initialises learned clip bounds) and
// quantizes again. The model is left in evaluation mode.
func Calibrate(model layers.Layer, x *tensor.Tensor) error {
	nqs, err := layers.NamedQuantizers(model)
	if err != nil {
		return err
	}
	var qs []layers.NamedQuantizer
	for _, nq := range nqs {
		if !nq.Quantizer.Disabled() {
			qs = append(qs, nq)
			nq.Quantizer.EnableCalib()
			nq.Quantizer.DisableQuant()
		}
	}
	if err := layers.SetTraining(model, false); err != nil {
		return err
	}
	if _, err := model.Forward(x); err != nil {
		return err
	}
	for _, nq := range qs {
		q := nq.Quantizer
		if err := q.LoadCalibAmax(calibrators.MethodMax, calibrators.AmaxOptions{}); err != nil {
			return fmt.Errorf("%s: %w", nq.Name, err)
		}
		if q.Descriptor().LearnAmax {
			if err := q.InitLearnAmax(); err != nil {
				return fmt.Errorf("%s: %w", nq.Name, err)
			}
		}
		q.DisableCalib()
		q.EnableQuant()
	}
	return nil
}

// SetExportMode switches every quantizer of model to the
// export-equivalent forward, or back.
func SetExportMode(model layers.Layer, on bool) error {
	nqs, err := layers.NamedQuantizers(model)
	if err != nil {
		return err
	}
	for _, nq := range nqs {
		if err := nq.Quantizer.SetExportMode(on); err != nil {
			return fmt.Errorf("%s: %w", nq.Name, err)
		}
	}
	return nil
}

// INT32Biases returns, by parameter name, the values the INT32 biases of
// the exported model m dequantize to: float32(code)·scale, as
// DequantizeLinear computes them (scales from a Constant node or an
// initializer).
func INT32Biases(m *onnx.Model) (map[string][]float32, error) {
	consts, inits := map[string]*onnx.Tensor{}, map[string]*onnx.Tensor{}
	for _, n := range m.Graph.Node {
		if n.OpType == "Constant" && len(n.Attribute) > 0 {
			consts[n.Output[0]] = n.Attribute[0].T
		}
	}
	for i := range m.Graph.Initializer {
		inits[m.Graph.Initializer[i].Name] = &m.Graph.Initializer[i]
	}
	out := map[string][]float32{}
	for _, n := range m.Graph.Node {
		if n.OpType != "DequantizeLinear" || len(n.Input) < 2 {
			continue
		}
		init, ok := inits[n.Input[0]]
		if !ok || init.DataType != onnx.Int32 {
			continue
		}
		codes, err := onnx.TensorValues[int32](init)
		if err != nil {
			return nil, err
		}
		st := consts[n.Input[1]]
		if st == nil {
			st = inits[n.Input[1]]
		}
		if st == nil {
			return nil, fmt.Errorf("bias %s: no constant scale %q", init.Name, n.Input[1])
		}
		scale, err := onnx.TensorValues[float32](st)
		if err != nil {
			return nil, err
		}
		v := make([]float32, len(codes))
		for i, c := range codes {
			v[i] = float32(c) * scale[min(i, len(scale)-1)]
		}
		out[strings.TrimSuffix(init.Name, "_quantized")] = v
	}
	return out, nil
}

// ForwardWithBiases runs model on x with the named biases (parameter
// names, as INT32Biases returns them) in place of its own, then restores
// them. It returns an error when a name is not a parameter of model.
func ForwardWithBiases(model layers.Layer, biases map[string][]float32, x *tensor.Tensor) (*tensor.Tensor, error) {
	params, err := layers.NamedParams(model)
	if err != nil {
		return nil, err
	}
	saved := map[string][]float32{}
	for _, p := range params {
		if v, ok := biases[p.Name]; ok {
			saved[p.Name] = slices.Clone(p.Value.Data)
			copy(p.Value.Data, v)
		}
	}
	defer func() {
		for _, p := range params {
			if v, ok := saved[p.Name]; ok {
				copy(p.Value.Data, v)
			}
		}
	}()
	if len(saved) != len(biases) {
		return nil, fmt.Errorf("%d of %d biases found in the model", len(saved), len(biases))
	}
	return model.Forward(x)
}

// Randn returns a tensor of the given shape with standard normal values
// drawn from rng.
func Randn(rng *rand.Rand, shape ...int) *tensor.Tensor {
	x := tensor.New(shape...)
	for i := range x.Data {
		x.Data[i] = float32(rng.NormFloat64())
	}
	return x
}
