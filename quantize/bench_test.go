package quantize

import (
	"testing"

	"github.com/tensorquant/tensorquant/tensor"
)

// BenchmarkCalibrateCNN calibrates the vector cnn on its 128 samples
// repeated ten times, in batches of 32 (collection only; the amax searches
// are Amax's).
func BenchmarkCalibrateCNN(b *testing.B) {
	g, x, _ := loadPTQ(b, "cnn")
	p, err := Place(g, Options{})
	if err != nil {
		b.Fatal(err)
	}
	big := &tensor.Tensor{Shape: append([]int{10 * x.Shape[0]}, x.Shape[1:]...)}
	for range 10 {
		big.Data = append(big.Data, x.Data...)
	}
	d := inputData(b, g, big)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Calibrate(d, CalibrateOptions{BatchSize: 32}); err != nil {
			b.Fatal(err)
		}
	}
}
