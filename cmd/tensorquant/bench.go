package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/histogram"
	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/reduce"
)

// benchKernel is one kernel of the throughput table: run(n) processes the
// first n elements of buffers set up once by the table.
type benchKernel struct {
	name string
	run  func(b *benchBufs, n int)
}

// benchBufs are the inputs and outputs every kernel reads and writes.
type benchBufs struct {
	src, dst, dy []float32
	q            []int8
	counts       []int64
	chanAmax     []float32
}

func newBenchBufs(n int) *benchBufs {
	b := &benchBufs{src: make([]float32, n), dst: make([]float32, n), dy: make([]float32, n), q: make([]int8, n),
		counts: make([]int64, 2048), chanAmax: make([]float32, 64)}
	s := uint32(12345)
	for i := range b.src {
		s = s*1664525 + 1013904223
		b.src[i] = float32(s>>8)/(1<<23) - 1
		b.dy[i] = b.src[i] / 2
	}
	for i := range b.chanAmax {
		b.chanAmax[i] = 1
	}
	return b
}

func benchKernels() []benchKernel {
	return []benchKernel{
		{"FakeQuant", func(b *benchBufs, n int) { fakequant.FakeQuant(b.dst[:n], b.src[:n], 1, fakequant.Int8) }},
		{"FakeQuantPerChannel", func(b *benchBufs, n int) {
			fakequant.FakeQuantPerChannel(b.dst[:n], b.src[:n], b.chanAmax, n/len(b.chanAmax), fakequant.Int8)
		}},
		{"QuantInt8", func(b *benchBufs, n int) { fakequant.QuantInt8(b.q[:n], b.src[:n], 1, fakequant.Int8) }},
		{"Dequant", func(b *benchBufs, n int) { fakequant.Dequant(b.dst[:n], b.q[:n], 127) }},
		{"STE", func(b *benchBufs, n int) { fakequant.STE(b.dst[:n], b.src[:n], b.dy[:n], 0.9) }},
		{"AbsMax", func(b *benchBufs, n int) { reduce.AbsMax(b.src[:n]) }},
		{"FakeQuantFP8", func(b *benchBufs, n int) { fakequant.FakeQuantFP8(b.dst[:n], b.src[:n], 1, fakequant.E4M3FN) }},
		{"ScaledE4M3", func(b *benchBufs, n int) { fakequant.ScaledE4M3(b.dst[:n], b.src[:n], 1) }},
		{"Histogram", func(b *benchBufs, n int) { histogram.HistcAbs(b.counts, b.src[:n], 0, 1) }},
	}
}

// benchRow is one measured row of the table.
type benchRow struct {
	Kernel   string  `json:"kernel"`
	N        int     `json:"n"`
	Impl     string  `json:"impl"`
	Selected bool    `json:"selected"`
	GElems   float64 `json:"g_elements_per_s"`
	GBps     float64 `json:"gb_per_s"`
	VsCopy   float64 `json:"vs_copy"`
	VsGo     float64 `json:"vs_generic"`
}

// measure returns the elements per second of f(n): the best of three runs
// of at least d each.
func measure(f func(), n int, d time.Duration) float64 {
	f()
	best := 0.0
	for range 3 {
		iters, start := 0, time.Now()
		for time.Since(start) < d {
			f()
			iters++
		}
		best = max(best, float64(iters)*float64(n)/time.Since(start).Seconds())
	}
	return best
}

// benchTable measures every kernel in names at every size under every
// kernel family this CPU runs, next to copy() of the same float32 elements.
func benchTable(names []string, sizes []int, d time.Duration) ([]benchRow, error) {
	all := benchKernels()
	var ks []benchKernel
	for _, name := range names {
		i := slices.IndexFunc(all, func(k benchKernel) bool { return strings.EqualFold(k.name, name) })
		if i < 0 {
			return nil, fmt.Errorf("unknown kernel %q", name)
		}
		ks = append(ks, all[i])
	}
	b := newBenchBufs(slices.Max(sizes))
	var rows []benchRow
	for _, k := range ks {
		for _, n := range sizes {
			if n < len(b.chanAmax) || n%len(b.chanAmax) != 0 {
				return nil, fmt.Errorf("size %d is not a multiple of %d", n, len(b.chanAmax))
			}
			copyRate := measure(func() { copy(b.dst[:n], b.src[:n]) }, n, d)
			var generic float64
			for _, impl := range cpufeat.Available() {
				restore := cpufeat.Use(impl)
				r := measure(func() { k.run(b, n) }, n, d)
				restore()
				if impl == cpufeat.Generic {
					generic = r
				}
				rows = append(rows, benchRow{Kernel: k.name, N: n, Impl: impl.String(), Selected: impl == cpufeat.Best,
					GElems: r / 1e9, GBps: 4 * r / 1e9, VsCopy: r / copyRate, VsGo: r / generic})
			}
			rows = append(rows, benchRow{Kernel: k.name, N: n, Impl: "copy()", GElems: copyRate / 1e9,
				GBps: 4 * copyRate / 1e9, VsCopy: 1, VsGo: copyRate / generic})
		}
	}
	return rows, nil
}

func printBenchTable(w io.Writer, rows []benchRow) {
	fmt.Fprintf(w, "%-20s %9s %-8s %9s %8s %8s %10s\n", "kernel", "n", "impl", "Gelem/s", "GB/s", "x copy", "x generic")
	prev := ""
	for _, r := range rows {
		name, n := r.Kernel, strconv.Itoa(r.N)
		if key := r.Kernel + n; key == prev {
			name, n = "", ""
		} else {
			prev = key
		}
		impl := r.Impl
		if r.Selected {
			impl += "*"
		}
		fmt.Fprintf(w, "%-20s %9s %-8s %9.2f %8.1f %8.2f %10.2f\n", name, n, impl, r.GElems, r.GBps, r.VsCopy, r.VsGo)
	}
}

func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "models" {
		return runBenchModels(args[1:], stdout, stderr)
	}
	fs := newFlags("bench", "[flags] | bench models [flags] (tensorquant bench models -h)", "tensorquant bench -kernels FakeQuant,QuantInt8 -sizes 65536,16777216", stdout)
	var names []string
	for _, k := range benchKernels() {
		names = append(names, k.name)
	}
	kernels := fs.String("kernels", strings.Join(names, ","), "comma-separated kernels to measure")
	sizesFlag := fs.String("sizes", "4096,65536,1048576,16777216", "comma-separated element counts (multiples of 64)")
	per := fs.Duration("time", 30*time.Millisecond, "measuring time of each run (each row is the best of three)")
	asJSON := fs.Bool("json", false, "print the rows as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	var sizes []int
	for _, s := range strings.Split(*sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 || n > 1<<28 {
			return fmt.Errorf("-sizes: %q is not an element count in [1, 2^28]", s)
		}
		sizes = append(sizes, n)
	}
	if *per <= 0 {
		return fmt.Errorf("-time %v is not positive", *per)
	}
	rows, err := benchTable(strings.Split(*kernels, ","), sizes, *per)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rows)
	}
	fmt.Fprintf(stdout, "kernel throughput, one goroutine; Gelem/s = float32 elements per second, GB/s of float32 input; * = the family dispatch selects (%s)\n", cpufeat.Best)
	printBenchTable(stdout, rows)
	return nil
}
