package export

import (
	"slices"
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// quantizers returns every TensorQuantizer of model by name.
func quantizers(t testing.TB, model layers.Layer) map[string]*layers.TensorQuantizer {
	t.Helper()
	out := map[string]*layers.TensorQuantizer{}
	for _, nq := range must(layers.NamedQuantizers(model)) {
		out[nq.Name] = nq.Quantizer
	}
	return out
}

// calibrate collects x through every enabled quantizer of model with its
// quant stage off, then loads the "max" amax (and initialises learned clip
// bounds) and switches quantization back on, the original's calibration
// recipe.
func calibrate(t testing.TB, model layers.Layer, x *tensor.Tensor) {
	t.Helper()
	qs := quantizers(t, model)
	for name, q := range qs {
		if q.Disabled() {
			delete(qs, name)
		}
	}
	for _, q := range qs {
		q.EnableCalib()
		q.DisableQuant()
	}
	forward(t, model, x)
	for name, q := range qs {
		if err := q.LoadCalibAmax("max", calibrators.AmaxOptions{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if q.Descriptor().LearnAmax {
			if err := q.InitLearnAmax(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		q.DisableCalib()
		q.EnableQuant()
	}
}

// setExportMode switches every quantizer of model to the
// export-equivalent forward (or back).
func setExportMode(t testing.TB, model layers.Layer, on bool) {
	t.Helper()
	for name, q := range quantizers(t, model) {
		if err := q.SetExportMode(on); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// exportedBiases returns, by parameter name, the values the INT32 biases
// of m dequantize to: float32(code)·scale, as DequantizeLinear computes
// them.
func exportedBiases(t testing.TB, m *onnx.Model) map[string][]float32 {
	t.Helper()
	consts := map[string]*onnx.Tensor{}
	inits := map[string]*onnx.Tensor{}
	for _, n := range m.Graph.Node {
		if n.OpType == "Constant" {
			consts[n.Output[0]] = n.Attribute[0].T
		}
	}
	for i := range m.Graph.Initializer {
		inits[m.Graph.Initializer[i].Name] = &m.Graph.Initializer[i]
	}
	out := map[string][]float32{}
	for _, n := range m.Graph.Node {
		if n.OpType != "DequantizeLinear" {
			continue
		}
		init, ok := inits[n.Input[0]]
		if !ok || init.DataType != onnx.Int32 {
			continue
		}
		codes := must(onnx.TensorValues[int32](init))
		scale := must(onnx.TensorValues[float32](consts[n.Input[1]]))
		v := make([]float32, len(codes))
		for i, c := range codes {
			v[i] = float32(c) * scale[min(i, len(scale)-1)]
		}
		out[strings.TrimSuffix(init.Name, "_quantized")] = v
	}
	return out
}

// forwardWithBiases runs model (evaluation mode) on x with the named
// biases replaced by the given values, then restores them.
func forwardWithBiases(t testing.TB, model layers.Layer, biases map[string][]float32, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	saved := map[string][]float32{}
	params := must(layers.NamedParams(model))
	for _, p := range params {
		if v, ok := biases[p.Name]; ok {
			saved[p.Name] = slices.Clone(p.Value.Data)
			copy(p.Value.Data, v)
		}
	}
	if len(saved) != len(biases) {
		t.Fatalf("biases %d of %d found in the model", len(saved), len(biases))
	}
	defer func() {
		for _, p := range params {
			if v, ok := saved[p.Name]; ok {
				copy(p.Value.Data, v)
			}
		}
	}()
	return forward(t, model, x)
}
