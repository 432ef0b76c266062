package layers

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tensorquant/tensorquant/tensor"
)

// TestTensorQuantizerAmaxGrowsOutput: a quantizer whose fixed amax has
// shape (1,) on a 0-d input returns a (1,)-shaped output, as the original's
// fake_tensor_quant(inputs, amax) does, and its gradient comes back 0-d.
// Before, Forward refused: "amax shape [1] would broadcast input shape []
// to [1]".
func TestTensorQuantizerAmaxGrowsOutput(t *testing.T) {
	d := QuantDesc8BitPerTensor()
	d.Amax, d.AmaxShape = []float32{1}, []int{1}
	for _, fake := range []bool{true, false} {
		d.FakeQuant = fake
		q := must(NewTensorQuantizer(d))
		y, err := q.Forward(tensor.Scalar(0.5))
		if err != nil {
			t.Fatalf("fake %v: %v", fake, err)
		}
		// Full range (the descriptor's default) for fake quantization:
		// round(0.5*127) = 64, 64/127; real quantization keeps the code.
		want := []float32{math.Float32frombits(1057030660)}
		if !fake {
			want = []float32{64}
		}
		if d := cmp.Diff([]int{1}, y.Shape); d != "" {
			t.Errorf("fake %v: output shape (-want +got):\n%s", fake, d)
		}
		if d := cmp.Diff(want, y.Data); d != "" {
			t.Errorf("fake %v: output (-want +got):\n%s", fake, d)
		}
		g, err := q.Backward(&tensor.Tensor{Shape: []int{1}, Data: []float32{3}})
		if err != nil {
			t.Fatalf("fake %v: Backward: %v", fake, err)
		}
		if len(g.Shape) != 0 || g.Data[0] != 3 {
			t.Errorf("fake %v: gradient %v %v, want [] [3]", fake, g.Shape, g.Data)
		}
		if _, err := q.Backward(tensor.Scalar(3)); err == nil {
			t.Errorf("fake %v: Backward accepted a gradient shaped like the input, not the output", fake)
		}
	}
}
