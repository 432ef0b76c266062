package export

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/qdqtest"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// calibrate runs the original's calibration recipe on model with x
// (qdqtest.Calibrate).
func calibrate(t testing.TB, model layers.Layer, x *tensor.Tensor) {
	t.Helper()
	if err := qdqtest.Calibrate(model, x); err != nil {
		t.Fatal(err)
	}
}

// setExportMode switches every quantizer of model to the
// export-equivalent forward (or back).
func setExportMode(t testing.TB, model layers.Layer, on bool) {
	t.Helper()
	if err := qdqtest.SetExportMode(model, on); err != nil {
		t.Fatal(err)
	}
}

// exportedBiases returns, by parameter name, the values the INT32 biases
// of m dequantize to.
func exportedBiases(t testing.TB, m *onnx.Model) map[string][]float32 {
	t.Helper()
	return must(qdqtest.INT32Biases(m))
}

// forwardWithBiases runs model (evaluation mode) on x with the named
// biases replaced by the given values, then restores them.
func forwardWithBiases(t testing.TB, model layers.Layer, biases map[string][]float32, x *tensor.Tensor) *tensor.Tensor {
	t.Helper()
	return must(qdqtest.ForwardWithBiases(model, biases, x))
}
