package graph_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"testing"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/testkit/models"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
)

// Fine-tuning throughput: one step (forward, backward, SGD update) of a
// QDQ model at batch 32, the model quantized as the original toolkit
// places its quantizers (qdqLikeOriginal). scripts/bench-finetune.py runs
// these benchmarks interleaved with PyTorch's QAT of the same models.

// qdqLikeOriginal inserts int8 QuantizeLinear/DequantizeLinear pairs into
// g (not prepared) where the original toolkit's quant_modules puts
// quantizers: per tensor on input 0 of every Conv, Gemm and
// GlobalAveragePool (amax: the largest |x| of that value on calib), per
// output channel on the weight of every Conv and Gemm (axis 0: Gemm
// weights are transB=1, [out, in]; amax per channel). Scales are
// amax/127, zero points 0.
func qdqLikeOriginal(t testing.TB, g *graph.Graph, calib *graph.Tensor) {
	t.Helper()
	var acts []string
	for _, n := range g.Nodes {
		switch n.OpType {
		case "Conv", "Gemm", "GlobalAveragePool":
			acts = append(acts, n.Inputs[0])
		}
	}
	// The activations' amax: the float graph run with them as outputs.
	probe := &graph.Graph{Name: g.Name, Opsets: g.Opsets, Inputs: g.Inputs, Initializers: g.Initializers}
	for _, n := range g.Nodes {
		c := *n
		c.Op = nil
		probe.Nodes = append(probe.Nodes, &c)
	}
	for _, a := range acts {
		probe.Outputs = append(probe.Outputs, graph.ValueSpec{Name: a})
	}
	s, err := graph.NewSession(probe, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	vals, err := s.Run(map[string]*graph.Tensor{g.Inputs[0].Name: calib})
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	pair := func(x string, scale []float32, axis int) string {
		k++
		sn, zn, q, y := fmt.Sprintf("qdq%d_scale", k), fmt.Sprintf("qdq%d_zp", k), fmt.Sprintf("qdq%d_q", k), fmt.Sprintf("qdq%d_y", k)
		shape := []int{len(scale)}
		if len(scale) == 1 {
			shape = []int{}
		}
		g.Initializers[sn] = &graph.Tensor{DType: onnx.Float, Shape: shape, F32: scale}
		g.Initializers[zn] = &graph.Tensor{DType: onnx.Int8, Shape: shape, I8: make([]int8, len(scale))}
		attrs := []onnx.Attribute{onnx.IntAttr("axis", int64(axis))}
		g.Nodes = append(g.Nodes,
			&graph.Node{Name: q, OpType: "QuantizeLinear", Inputs: []string{x, sn, zn}, Outputs: []string{q}, Attrs: attrs},
			&graph.Node{Name: y, OpType: "DequantizeLinear", Inputs: []string{q, sn, zn}, Outputs: []string{y}, Attrs: attrs})
		return y
	}
	amax := func(v []float32) float32 {
		var m float32
		for _, x := range v {
			m = max(m, float32(math.Abs(float64(x))))
		}
		return m
	}
	for _, n := range slices.Clone(g.Nodes) {
		switch n.OpType {
		case "Conv", "Gemm", "GlobalAveragePool":
		default:
			continue
		}
		n.Inputs[0] = pair(n.Inputs[0], []float32{amax(vals[n.Inputs[0]].F32) / 127}, 1)
		if n.OpType == "GlobalAveragePool" {
			continue
		}
		w := g.Initializers[n.Inputs[1]]
		per := w.Len() / w.Shape[0]
		scales := make([]float32, w.Shape[0])
		for c := range scales {
			scales[c] = amax(w.F32[c*per:(c+1)*per]) / 127
		}
		n.Inputs[1] = pair(n.Inputs[1], scales, 0)
	}
}

// benchModel returns a reference model quantized like the original, with
// its input at batch×size (size 0: the model's own), and a batch of
// random inputs with random labels.
func benchModel(b *testing.B, name string, batch, size int) (*graph.Graph, *graph.Tensor, *graph.Tensor) {
	man := models.Open(b)
	mo, err := man.Model(name)
	if err != nil {
		b.Fatal(err)
	}
	path, err := mo.Path(13)
	if err != nil {
		b.Fatal(err)
	}
	g, err := graph.ImportFileRaw(path)
	if err != nil {
		b.Fatal(err)
	}
	in := &g.Inputs[0]
	shape := []int{batch}
	for _, d := range in.Shape[1:] {
		shape = append(shape, d.Size)
	}
	if size > 0 {
		shape[len(shape)-1], shape[len(shape)-2] = size, size
	}
	in.Shape = append([]graph.Dim{in.Shape[0]}, graph.Sizes(shape[1:]...)...) // the batch stays symbolic
	g.Outputs[0].Shape = nil
	rng := rand.New(rand.NewPCG(1, 2))
	x := &graph.Tensor{DType: onnx.Float, Shape: shape, F32: make([]float32, prodInts(shape))}
	for i := range x.F32 {
		x.F32[i] = float32(rng.NormFloat64())
	}
	qdqLikeOriginal(b, g, x)
	y := &graph.Tensor{DType: onnx.Int64, Shape: []int{batch}, I64: make([]int64, batch)}
	for i := range y.I64 {
		y.I64[i] = int64(rng.IntN(10))
	}
	return g, x, y
}

// cpuSeconds returns the CPU time (user and system) the process has
// used: on one thread, images per CPU-second are images per second on an
// idle machine, and other processes on the machine change them little.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func prodInts(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// BenchmarkFinetuneStep times one fine-tuning step (forward, backward,
// SGD with momentum) of the Fashion-MNIST CNN (28×28) and resnet18 at
// 64×64, quantized like the original, batch 32 (TQ_BENCH_BATCH), on 1
// and 2 threads (GOMAXPROCS too: the GEMM's own goroutines); images/s is
// batch / time per step, images/cpu-s batch / CPU time per step.
func BenchmarkFinetuneStep(b *testing.B) {
	batch := 32
	if v, err := strconv.Atoi(os.Getenv("TQ_BENCH_BATCH")); err == nil && v > 0 {
		batch = v
	}
	for _, m := range []struct {
		name string
		size int
	}{{"fashion_cnn", 0}, {"resnet18", 64}} {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("model=%s/threads=%d", m.name, threads), func(b *testing.B) {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(threads))
				g, x, y := benchModel(b, m.name, batch, m.size)
				tr, err := graph.NewTrainer(g, graph.TrainOptions{Threads: threads})
				if err != nil {
					b.Fatal(err)
				}
				opt, err := layers.NewSGD(tr.Params(), layers.SGDConfig{LR: 1e-4, Momentum: 0.9})
				if err != nil {
					b.Fatal(err)
				}
				feeds := map[string]*graph.Tensor{g.Inputs[0].Name: x}
				step := func() {
					if _, err := tr.Grad(feeds, y); err != nil {
						b.Fatal(err)
					}
					if err := opt.Step(); err != nil {
						b.Fatal(err)
					}
				}
				step()
				cpu0 := cpuSeconds()
				for b.Loop() {
					step()
				}
				b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
				if cpu := cpuSeconds() - cpu0; cpu > 0 {
					b.ReportMetric(float64(batch)*float64(b.N)/cpu, "images/cpu-s")
				}
			})
		}
	}
}
