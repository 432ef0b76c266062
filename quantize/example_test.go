package quantize_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/onnx/export"
	"github.com/tensorquant/tensorquant/quantize"
)

// mlp returns a small float model, as torch.onnx.export writes a
// Linear-ReLU-Linear: x [N, 4] → Gemm (weight [8, 4]) → Relu → Gemm
// (weight [3, 8]).
func mlp() *graph.Graph {
	r := rand.New(rand.NewPCG(1, 2))
	weight := func(name string, rows, cols int) onnx.Tensor {
		v := make([]float32, rows*cols)
		for i := range v {
			v[i] = float32(r.NormFloat64() / 2)
		}
		t, _ := onnx.NewTensor(name, []int64{int64(rows), int64(cols)}, v)
		return t
	}
	transB := onnx.IntAttr("transB", 1)
	m := &onnx.Model{OpsetImport: []onnx.OperatorSetID{{Version: 13}}, Graph: &onnx.Graph{
		Input:       []onnx.ValueInfo{onnx.TensorValueInfo("input", onnx.Float, onnx.DimParam("N"), onnx.DimValue(4))},
		Output:      []onnx.ValueInfo{onnx.TensorValueInfo("output", onnx.Float, onnx.DimParam("N"), onnx.DimValue(3))},
		Initializer: []onnx.Tensor{weight("fc1.weight", 8, 4), weight("fc2.weight", 3, 8)},
		Node: []onnx.Node{
			onnx.NewNode("Gemm", "/fc1/Gemm", []string{"input", "fc1.weight"}, []string{"h"}, transB),
			onnx.NewNode("Relu", "/relu/Relu", []string{"h"}, []string{"r"}),
			onnx.NewNode("Gemm", "/fc2/Gemm", []string{"r", "fc2.weight"}, []string{"output"}, transB),
		},
	}}
	g, err := graph.Import(m)
	if err != nil {
		panic(err)
	}
	return g
}

// samples returns n samples of 4 values.
func samples(n int) quantize.Data {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 4*n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	t, _ := graph.Floats(x, n, 4)
	d, err := quantize.Tensors(map[string]*graph.Tensor{"input": t})
	if err != nil {
		panic(err)
	}
	return d
}

// The original toolkit's post-training quantization of an imported model:
// place the quantizers, calibrate the activations on data, pick a method,
// write the QDQ model.
func ExamplePlace() {
	g := mlp()
	plan, err := quantize.Place(g, quantize.Options{}) // the original's placement, INT8
	if err != nil {
		panic(err)
	}
	for _, s := range plan.Sites {
		fmt.Printf("%-28s %-10s axis %d\n", s.Name, s.Kind, s.Axis)
	}
	c, err := plan.Calibrate(samples(256), quantize.CalibrateOptions{BatchSize: 64})
	if err != nil {
		panic(err)
	}
	for _, m := range []calibrators.Method{calibrators.MethodMax, calibrators.MethodPercentile} {
		amax, err := c.Amax(m, calibrators.AmaxOptions{})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%-10s input amax %.4f, hidden amax %.4f\n", m, amax[0].Data[0], amax[2].Data[0])
	}
	amax, _ := c.Amax(calibrators.MethodMax, calibrators.AmaxOptions{})
	q, err := plan.Apply(amax)
	if err != nil {
		panic(err)
	}
	m, err := export.Graph(q) // onnx.WriteFile("model.qdq.onnx", m) writes it
	if err != nil {
		panic(err)
	}
	counts := map[string]int{}
	for _, n := range m.Graph.Node {
		counts[n.OpType]++
	}
	fmt.Println("opset", m.OpsetImport[0].Version, "nodes", counts)
	// Output:
	// /fc1/Gemm/input_quantizer    activation axis -1
	// /fc1/Gemm/weight_quantizer   weight     axis 0
	// /fc2/Gemm/input_quantizer    activation axis -1
	// /fc2/Gemm/weight_quantizer   weight     axis 0
	// max        input amax 3.3201, hidden amax 4.9007
	// percentile input amax 3.3195, hidden amax 4.8998
	// opset 13 nodes map[DequantizeLinear:4 Gemm:2 QuantizeLinear:4 Relu:1]
}

// Calibrating on many machines: each calibrates a shard of the batches
// (saving it with WriteFile, restoring it with ReadFile), and Merge joins
// them into what one run collects.
func ExampleMerge() {
	g := mlp()
	plan, _ := quantize.Place(g, quantize.Options{UnsignedAfterReLU: true})
	data := samples(256)
	var parts []*quantize.Calibration
	for shard := range 4 {
		c, err := plan.Calibrate(data, quantize.CalibrateOptions{BatchSize: 32, Shard: shard, Shards: 4})
		if err != nil {
			panic(err)
		}
		b, _ := c.MarshalBinary() // a file in between: WriteFile, ReadFile
		restored, err := quantize.Unmarshal(g, b)
		if err != nil {
			panic(err)
		}
		parts = append(parts, restored)
	}
	merged, err := quantize.Merge(parts...)
	if err != nil {
		panic(err)
	}
	one, _ := plan.Calibrate(data, quantize.CalibrateOptions{BatchSize: 32})
	a, _ := merged.Amax(calibrators.MethodEntropy, calibrators.AmaxOptions{})
	b, _ := one.Amax(calibrators.MethodEntropy, calibrators.AmaxOptions{})
	// Gaussian data grow the histograms after batch 0, in shards before
	// the last: a merge cannot promise one run's histograms exactly there
	// (an element within a rounding error of a bin edge may be binned in
	// the neighbouring bin), and says so; the amax are one run's here.
	fmt.Println("complete:", merged.Complete(), "batches:", merged.Batches(), "tensors maybe inexact:", len(merged.Inexact()))
	fmt.Printf("entropy amax merged %.4f %.4f, one run %.4f %.4f\n", a[0].Data[0], a[2].Data[0], b[0].Data[0], b[2].Data[0])
	fmt.Println("unsigned:", plan.Sites[2].Unsigned)
	// Output:
	// complete: true batches: 8 tensors maybe inexact: 2
	// entropy amax merged 3.3213 4.3711, one run 3.3213 4.3711
	// unsigned: true
}
