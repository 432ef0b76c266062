package graph_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/testkit/models"
	"github.com/tensorquant/tensorquant/onnx"
)

// BenchmarkInt8Models runs resnet18, mobilenet_v2, the encoder,
// mobilenet_v3_small, efficientnet_b0 and the Fashion CNN on one thread
// at batch 1 and 8, three ways: the float model (fp32), its QDQ
// model (internal/testkit/ptqtest) on the integer path (int8) and on the
// float path (qdq-float: Q/DQ as fake quantization). Run it with -count
// to interleave the three, and compare ratios within one run (cpu-ms/op
// is the process's CPU time per run: on a shared machine, steadier than
// the wall time).
func BenchmarkInt8Models(b *testing.B) {
	man := models.Open(b)
	dir := b.TempDir()
	for _, name := range append(slices.Clip(int8Models), "mobilenet_v3_small", "efficientnet_b0", "fashion_cnn") {
		mo, _, qdq := quantizedModel(b, man, name, dir, false)
		fp32, err := mo.Path(17)
		if err != nil {
			b.Fatal(err)
		}
		for _, batch := range []int{1, 8} {
			for _, v := range []struct {
				name, file string
				float      bool
			}{{"fp32", fp32, false}, {"int8", qdq, false}, {"qdq-float", qdq, true}} {
				b.Run(fmt.Sprintf("%s/b%d/%s", name, batch, v.name), func(b *testing.B) {
					g, err := graph.ImportFile(v.file)
					if err != nil {
						b.Fatal(err)
					}
					s, err := graph.NewSession(g, graph.Options{Threads: 1, Float: v.float})
					if err != nil {
						b.Fatal(err)
					}
					feeds := randomFeeds(g, batch)
					if _, err := s.Run(feeds); err != nil {
						b.Fatal(err)
					}
					cpu0 := cpuTime()
					for b.Loop() {
						if _, err := s.Run(feeds); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "items/s")
					b.ReportMetric((cpuTime()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
				})
			}
		}
	}
}

// randomFeeds returns normal random inputs of batch for g's inputs.
func randomFeeds(g *graph.Graph, batch int) map[string]*graph.Tensor {
	feeds := map[string]*graph.Tensor{}
	rng := rand.New(rand.NewPCG(7, uint64(batch)))
	for _, in := range g.Inputs {
		shape := []int{batch}
		for _, d := range in.Shape[1:] {
			shape = append(shape, d.Size)
		}
		x, _ := graph.New(onnx.Float, shape...)
		for i := range x.F32 {
			x.F32[i] = float32(rng.NormFloat64())
		}
		feeds[in.Name] = x
	}
	return feeds
}
