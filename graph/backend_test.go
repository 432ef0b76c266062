package graph

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/onnxbackend"
	"github.com/tensorquant/tensorquant/onnx"
)

// backendKnown are the suite's cases of the ops this package implements
// that cannot pass, and why. The test fails if one of them passes.
var backendKnown = func() onnxbackend.Known {
	k := onnxbackend.Known{}
	add := func(reason string, names ...string) {
		for _, n := range names {
			k["test_"+n] = reason
		}
	}
	add("FLOAT16 and BFLOAT16 are not element types of graph.Tensor",
		"cast_BFLOAT16_to_FLOAT", "cast_DOUBLE_to_FLOAT16", "cast_FLOAT16_to_DOUBLE", "cast_FLOAT16_to_FLOAT",
		"cast_FLOAT_to_BFLOAT16", "cast_FLOAT_to_FLOAT16", "castlike_BFLOAT16_to_FLOAT_expanded",
		"castlike_DOUBLE_to_FLOAT16_expanded", "castlike_FLOAT16_to_DOUBLE_expanded", "castlike_FLOAT16_to_FLOAT_expanded",
		"castlike_FLOAT_to_BFLOAT16_expanded", "castlike_FLOAT_to_FLOAT16_expanded", "max_float16", "min_float16")
	add("STRING is not an element type of graph.Tensor",
		"cast_FLOAT_to_STRING", "cast_STRING_to_FLOAT", "castlike_FLOAT_to_STRING_expanded", "castlike_STRING_to_FLOAT_expanded")
	add("INT16, UINT16, UINT32 and UINT64 are not element types of graph.Tensor",
		"max_int16", "max_uint16", "max_uint32", "max_uint64", "min_int16", "min_uint16", "min_uint32", "min_uint64",
		"pow_types_float32_uint32", "pow_types_float32_uint64")
	add("training-mode Dropout draws numpy's random mask; only inference (or ratio 0) is supported",
		"training_dropout", "training_dropout_default", "training_dropout_default_mask", "training_dropout_mask")
	add("training-mode BatchNormalization (batch statistics, running-statistics outputs) is refused: only inference is supported",
		"batchnorm_epsilon_training_mode", "batchnorm_example_training_mode")
	return k
}()

// runBackendModel is the suite's Executor for this package: Import, a
// Session with the default options (every optimisation pass, the integer
// path for QDQ patterns), one Run. A model with an op type OpTypes lacks
// is unsupported.
func runBackendModel(model []byte, inputs []*onnx.Tensor) ([]*onnx.Tensor, error) {
	m, err := onnx.Unmarshal(model)
	if err != nil {
		return nil, err
	}
	for _, op := range onnxbackend.OpTypes(m) {
		if !slices.Contains(OpTypes(), op) {
			return nil, fmt.Errorf("op %s: %w", op, onnxbackend.ErrUnsupported)
		}
	}
	g, err := Import(m)
	if err != nil {
		return nil, err
	}
	s, err := NewSession(g, Options{})
	if err != nil {
		return nil, err
	}
	feeds := map[string]*Tensor{}
	for i, x := range inputs {
		if feeds[m.Graph.Input[i].Name], err = TensorFromONNX(x); err != nil {
			return nil, fmt.Errorf("input %d: %w", i, err)
		}
	}
	res, err := s.Run(feeds)
	if err != nil {
		return nil, err
	}
	out := make([]*onnx.Tensor, len(g.Outputs))
	for i, v := range g.Outputs {
		y, ok := res[v.Name]
		if !ok {
			return nil, fmt.Errorf("output %q missing", v.Name)
		}
		t, err := TensorToONNX(v.Name, y)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", v.Name, err)
		}
		out[i] = &t
	}
	return out, nil
}

// TestONNXBackend runs the ONNX backend test suite (Debian's
// libonnx-testdata): every case whose op types this package implements
// must pass, but for backendKnown.
func TestONNXBackend(t *testing.T) {
	onnxbackend.Check(t, onnxbackend.Cases(t), runBackendModel, backendKnown)
}
