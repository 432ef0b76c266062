package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/tensor"
)

// seedX is torch.rand(10) after torch.manual_seed(12345), the example of the
// original toolkit's documentation, as literal float32 values.
var seedX = []float32{0.9817181825637817, 0.8796065449714661, 0.992143452167511, 0.461067259311676,
	0.08321595191955566, 0.17843109369277954, 0.36743152141571045, 0.5676497220993042,
	0.3376067280769348, 0.21194660663604736}

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bits := fs.Int("bits", 8, "quantization bit width for the seed example")
	if err := fs.Parse(args); err != nil {
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

// throughputTable times FakeQuant on 64 Ki elements with every kernel family
// this CPU has, next to copy() of the same bytes.
func throughputTable(w io.Writer) error {
	const n = 64 << 10
	src, dst := make([]float32, n), make([]float32, n)
	for i := range src {
		src[i] = float32(i%255-127) / 100
	}
	rate := func(f func()) float64 {
		f()
		iters, start := 0, time.Now()
		for time.Since(start) < 100*time.Millisecond {
			f()
			iters++
		}
		return float64(iters) * n / time.Since(start).Seconds() / 1e9
	}
	copyRate := rate(func() { copy(dst, src) })
	fmt.Fprintf(w, "FakeQuant throughput, %d float32 elements, one core:\n", n)
	fmt.Fprintf(w, "%-10s %12s %10s\n", "kernel", "G elem/s", "vs copy()")
	for _, impl := range cpufeat.Available() {
		restore := cpufeat.Use(impl)
		r := rate(func() { fakequant.FakeQuant(dst, src, 1.27, fakequant.Int8) })
		restore()
		fmt.Fprintf(w, "%-10s %12.2f %9.2fx\n", impl, r, r/copyRate)
	}
	fmt.Fprintf(w, "%-10s %12.2f %9.2fx\n", "copy()", copyRate, 1.0)
	return nil
}
