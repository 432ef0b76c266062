package main

import (
	"fmt"
	"io"
	"time"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/tensor"
)

// seedX is torch.rand(10) after torch.manual_seed(12345), the example of the
// original toolkit's documentation, as literal float32 values.
var seedX = []float32{0.9817181825637817, 0.8796065449714661, 0.992143452167511, 0.461067259311676,
	0.08321595191955566, 0.17843109369277954, 0.36743152141571045, 0.5676497220993042,
	0.3376067280769348, 0.21194660663604736}

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "[flags]", "tensorquant demo -bits 4", stdout)
	bits := fs.Int("bits", 8, "quantization bit width for the seed example")
	if err := fs.parse(args); err != nil {
		return err
	}
	x, err := tensor.FromSlice(append([]float32{}, seedX...), len(seedX))
	if err != nil {
		return err
	}
	var amax float32
	for _, v := range x.Data {
		amax = max(amax, v)
	}
	f := fakequant.Format{NumBits: *bits, NarrowRange: true}
	if err := f.Validate(); err != nil {
		return err
	}
	a := tensor.Scalar(amax)
	fake, err := fakequant.FakeTensorQuant(x, a, f)
	if err != nil {
		return err
	}
	q, scale, err := fakequant.TensorQuant(x, a, f)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seed example: x = torch.rand(10) with torch.manual_seed(12345), amax = x.abs().max() = %.7g, %s\n", amax, f)
	fmt.Fprintf(stdout, "kernel: %s\n\n", fakequant.Implementation())
	fmt.Fprintf(stdout, "%-12s %-16s %s\n", "x", "fake_quant(x)", "tensor_quant(x)")
	for i := range x.Data {
		fmt.Fprintf(stdout, "%-12.7f %-16.7f %g\n", x.Data[i], fake.Data[i], q.Data[i])
	}
	fmt.Fprintf(stdout, "scale = %.7g\n\n", scale.Data[0])
	return throughputTable(stdout)
}

// throughputTable is a short version of tensorquant bench: the main
// kernels on 64 Ki elements under every kernel family this CPU has, next to
// copy() of the same bytes.
func throughputTable(w io.Writer) error {
	rows, err := benchTable([]string{"FakeQuant", "QuantInt8", "AbsMax"}, []int{64 << 10}, 20*time.Millisecond)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "kernel throughput, one goroutine (tensorquant bench for the full table):")
	printBenchTable(w, rows)
	return nil
}
