package graph_test

import (
	"fmt"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/testkit/models"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/tensor"
)

// BenchmarkEncoder runs the reference transformer encoders of `make
// models` (2 layers, d 256, 4 heads, ff 1024, GELU; sequence 128), opset
// 17, at batch 1 and 8 on 1 and 2 threads; the metric seq/s is
// sequences per second, the figure BENCHMARKS.md compares with ONNX
// Runtime and PyTorch.
func BenchmarkEncoder(b *testing.B) {
	man := models.Open(b)
	for _, name := range []string{"encoder", "encoder_prenorm"} {
		mo, err := man.Model(name)
		if err != nil {
			b.Fatal(err)
		}
		path, err := mo.Path(17)
		if err != nil {
			b.Fatal(err)
		}
		m, err := onnx.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		g, err := graph.Import(m)
		if err != nil {
			b.Fatal(err)
		}
		for _, batch := range []int{1, 8} {
			x := tensor.New(batch, 128, 256)
			for i := range x.Data {
				x.Data[i] = float32(i%97)/48 - 1
			}
			feeds := map[string]*graph.Tensor{"input": graph.Float(x)}
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("%s/b=%d/threads=%d", name, batch, threads), func(b *testing.B) {
					s, err := graph.NewSession(g, graph.Options{Threads: threads})
					if err != nil {
						b.Fatal(err)
					}
					if _, err := s.Run(feeds); err != nil {
						b.Fatal(err)
					}
					for b.Loop() {
						if _, err := s.Run(feeds); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "seq/s")
				})
			}
		}
	}
}
