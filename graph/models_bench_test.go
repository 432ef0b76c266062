package graph_test

import (
	"fmt"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/testkit/models"
	"github.com/tensorquant/tensorquant/onnx"
)

// BenchmarkModels runs the reference models of `make models` (opset 17) at
// batch 1 and 8 on one thread and on every thread; b.N counts runs, and
// items/s is reported, with best-items/s (the batch over the fastest
// single run, as scripts/bench-baselines.py's "best", which sees through
// other processes on a shared machine) and the CPU time per run.
func BenchmarkModels(b *testing.B) {
	man := models.Open(b)
	for _, name := range []string{"resnet18", "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0", "fashion_cnn", "encoder", "encoder_prenorm"} {
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
		for _, threads := range []int{1, 2} {
			for _, batch := range []int{1, 8} {
				b.Run(fmt.Sprintf("%s/b%d/t%d", name, batch, threads), func(b *testing.B) {
					g, err := graph.Import(m)
					if err != nil {
						b.Fatal(err)
					}
					s, err := graph.NewSession(g, graph.Options{Threads: threads})
					if err != nil {
						b.Fatal(err)
					}
					feeds := randomFeeds(g, batch)
					if _, err := s.Run(feeds); err != nil {
						b.Fatal(err)
					}
					cpu0 := cpuTime()
					best := time.Duration(math.MaxInt64)
					for b.Loop() {
						t0 := time.Now()
						if _, err := s.Run(feeds); err != nil {
							b.Fatal(err)
						}
						best = min(best, time.Since(t0))
					}
					b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "items/s")
					b.ReportMetric(float64(batch)/best.Seconds(), "best-items/s")
					b.ReportMetric((cpuTime()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
				})
			}
		}
	}
}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
