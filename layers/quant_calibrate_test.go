package layers

import (
	"strings"
	"testing"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/tensor"
)

func TestCalibrateProgressAndErrors(t *testing.T) {
	hist := QuantDesc8BitPerTensor()
	hist.CalibMethod = "histogram"
	model := must(QuantizeModel(digitsCNN(t, 1), ReplaceOptions{Input: &hist}))
	batches := []*tensor.Tensor{randTensor(testRNG(1), 4, 1, 8, 8), randTensor(testRNG(2), 4, 1, 8, 8)}
	var calls []int
	if err := Calibrate(model, batches, "percentile", calibrators.AmaxOptions{}, func(done, total int) {
		calls = append(calls, done*10+total)
	}); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 2 || calls[0] != 12 || calls[1] != 22 {
		t.Errorf("progress calls %v, want [12 22]", calls)
	}
	for _, q := range must(NamedQuantizers(model)) {
		if q.Quantizer.Amax() == nil || q.Quantizer.CalibEnabled() || !q.Quantizer.QuantEnabled() {
			t.Errorf("%s: amax %v calib %v quant %v after Calibrate", q.Name, q.Quantizer.Amax(), q.Quantizer.CalibEnabled(), q.Quantizer.QuantEnabled())
		}
	}
	err := Calibrate(model, batches, "bogus", calibrators.AmaxOptions{}, nil)
	if err == nil || !strings.Contains(err.Error(), "features.0.input_quantizer") || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("unknown method: %v", err)
	}
	if err := Calibrate(model, []*tensor.Tensor{randTensor(testRNG(3), 4, 3, 8, 8)}, "max", calibrators.AmaxOptions{}, nil); err == nil || !strings.Contains(err.Error(), "calibration batch 0") {
		t.Errorf("bad batch: %v", err)
	}
}
