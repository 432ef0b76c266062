package calibrators

import (
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/tensor"
)

// TestFormatChecks: the calibrators take a format (NumBits, Unsigned) and
// check it with fakequant.Format.Validate, as every entry point does.
// Before, NewHistogram accepted signed NumBits 1, and CalibrateWeight any
// NumBits and a negative NumBins.
func TestFormatChecks(t *testing.T) {
	for _, o := range []HistogramOptions{{NumBits: 1}, {NumBits: -2}, {NumBits: 33}} {
		if _, err := NewHistogram(o); err == nil || !strings.Contains(err.Error(), "num_bits") {
			t.Errorf("NewHistogram(%+v): %v", o, err)
		}
	}
	if _, err := NewHistogram(HistogramOptions{NumBits: 1, Unsigned: true}); err != nil {
		t.Errorf("NewHistogram unsigned 1 bit: %v", err)
	}
	w := &tensor.Tensor{Shape: []int{2, 4}, Data: []float32{1, -2, 3, 0.5, 0.25, 1, -1, 2}}
	for _, o := range []WeightOptions{{NumBits: 1}, {NumBits: -3}, {NumBits: 40}, {NumBins: -5}, {NumBins: 1 << 30}} {
		o.Axis = []int{0}
		if a, err := CalibrateWeight(w, "mse", o); err == nil {
			t.Errorf("CalibrateWeight(%+v) = %v", o, a)
		}
	}
}
