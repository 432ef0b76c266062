package main

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/cli/progress"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/quantize"
)

// inputFlags collects the -i flags of run.
type inputFlags []string

func (f *inputFlags) String() string { return strings.Join(*f, " ") }

func (f *inputFlags) Set(s string) error {
	*f = append(*f, s)
	return nil
}

// runRun runs an ONNX model on .npy inputs and writes its outputs as .npy
// files, or benchmarks it (-bench).
func runRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "-i NAME=FILE.npy [-i NAME2=FILE2.npy ...] -o DIR [flags] MODEL.onnx",
		"tensorquant run -i input=image.npy -o out resnet18.onnx\n\n"+
			"With one graph input, -i FILE.npy suffices. Each graph output is written as\n"+
			"DIR/<output name>.npy in its own dtype (float32, float64, int64, int32, int8,\n"+
			"uint8, bool; INT4/UINT4 as int8/uint8, FP8 decoded to float32). In the file\n"+
			"name, every byte of the output name other than A-Z a-z 0-9 _ - . (and a\n"+
			"leading .) is written %XX, as in URLs: /head/Gemm_output_0 gives\n"+
			"%2Fhead%2FGemm_output_0.npy; a file name longer than 200 bytes is cut to 200 and\n"+
			"followed by ~ and 16 hex digits of the output name's SHA-256.\n\n"+
			"  tensorquant run -i x.npy -bench 100 -threads 1 model.onnx\n"+
			"runs the model once to warm up, then 100 times, and prints the median latency\n"+
			"and the throughput: inputs (the first input's first dimension) per second at the\n"+
			"median latency; with -profile, then each node's share of the time (the nodes\n"+
			"of the optimised graph, fused ones named as the first node they replace).\n\n"+
			"A QDQ model (QuantizeLinear/DequantizeLinear around its layers) runs its\n"+
			"quantized Conv, Gemm and MatMul layers in int8 arithmetic (int32 sums,\n"+
			"requantized as ONNX QLinearConv does); -float runs the same file in float,\n"+
			"Q/DQ as fake quantization, as ONNX Runtime runs it node by node. tensorquant\n"+
			"info lists which layers run in int8.", stdout)
	var inputs inputFlags
	fs.Var(&inputs, "i", "graph input `NAME=FILE.npy` (repeat for each input; FILE.npy alone for a model with one input)")
	outDir := fs.String("o", "", "write each graph output as `DIR`/<output name>.npy (created if missing; optional with -bench)")
	threads := fs.Int("threads", 0, "bound the cores used to `N` (0: all)")
	bench := fs.Int("bench", 0, "after a warm-up run, run the model `N` times and print the median latency and the throughput")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	float := fs.Bool("float", false, "run quantized (QDQ) layers in float, Q/DQ as fake quantization, instead of int8 arithmetic")
	profile := fs.Bool("profile", false, "with -bench, print the time of each node (mean per run, share of the sum) after the benchmark")
	if err := fs.parseModel(args, threads); err != nil {
		return err
	}
	switch {
	case *bench < 0:
		return fmt.Errorf("-bench %d is negative", *bench)
	case *profile && *bench == 0:
		return errors.New("-profile needs -bench N")
	case *outDir == "" && *bench == 0:
		return errors.New("no output directory: give -o DIR (or -bench N)")
	}
	if *threads > 0 {
		runtime.GOMAXPROCS(*threads)
	}
	nthreads := runtime.GOMAXPROCS(0)
	g, err := graph.ImportFile(fs.Arg(0))
	if err != nil {
		return err
	}
	feeds, err := readFeeds(g, inputs)
	if err != nil {
		return err
	}
	s, err := graph.NewSession(g, graph.Options{Threads: *threads, Float: *float, Profile: *profile})
	if err != nil {
		return err
	}
	// The session's graph has the same inputs and outputs, and holds
	// only the constants it runs with (int8 layers: their packed codes):
	// the imported graph's float copies of the weights can go.
	g = s.Graph()
	out, err := s.Run(feeds)
	if err != nil {
		return err
	}
	if *outDir != "" {
		if err := writeOutputs(*outDir, g, out, stdout); err != nil {
			return err
		}
	}
	if *bench == 0 {
		return nil
	}
	var w io.Writer = stderr
	if *quiet {
		w = nil
	}
	s.ResetProfile() // the warm-up run's times out
	if err := benchmark(s, feeds, batchOf(g, feeds), nthreads, *bench, w, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "arithmetic: %s\n", arithmetic(s, *float))
	if *profile {
		printProfile(stdout, s.Profile(), *bench)
	}
	rss, ok := residentBytes()
	runtime.KeepAlive(s) // its weights are what the figure is about
	if ok {
		fmt.Fprintf(stdout, "memory: %.1f MiB resident (after a garbage collection)\n", float64(rss)/(1<<20))
	}
	return nil
}

// residentBytes returns the process's resident memory after a garbage
// collection, where /proc/self/statm tells it (Linux).
func residentBytes() (int64, bool) {
	runtime.GC()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * int64(os.Getpagesize()), true
}

// arithmetic describes how a session runs the model's quantized layers.
func arithmetic(s *graph.Session, float bool) string {
	if float {
		return "float (-float: quantized layers as fake quantization)"
	}
	nodes := s.Int8Nodes()
	if len(nodes) == 0 {
		return "float (no quantized Conv, Gemm or MatMul layers)"
	}
	n := 0
	for _, q := range nodes {
		if q.Int8 {
			n++
		}
	}
	return fmt.Sprintf("int8 in %d of %d quantized layers (tensorquant info lists them)", n, len(nodes))
}

// readFeeds reads the -i files, one per graph input, converted to the
// input's element type.
func readFeeds(g *graph.Graph, inputs []string) (map[string]*graph.Tensor, error) {
	isInput := func(name string) bool {
		return slices.ContainsFunc(g.Inputs, func(s graph.ValueSpec) bool { return s.Name == name })
	}
	files := map[string]string{}
	for _, in := range inputs {
		name, file, ok := strings.Cut(in, "=")
		if !ok || !isInput(name) {
			if len(g.Inputs) != 1 {
				return nil, fmt.Errorf("-i %q: want NAME=FILE.npy with NAME one of the model's inputs %s", in, inputNames(g))
			}
			name, file = g.Inputs[0].Name, in
		}
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("-i: input %q is given twice", name)
		}
		files[name] = file
	}
	feeds := map[string]*graph.Tensor{}
	for _, spec := range g.Inputs {
		file, ok := files[spec.Name]
		if !ok {
			return nil, fmt.Errorf("no file for the model's input %q %v%s (give -i %s=FILE.npy)", spec.Name, spec.DType, graph.ShapeString(spec.Shape), spec.Name)
		}
		a, err := npy.ReadArrayFile(file)
		if err != nil {
			return nil, err
		}
		t, err := quantize.FromArray(a, spec.DType)
		if err != nil {
			return nil, fmt.Errorf("%s: input %q: %w", file, spec.Name, err)
		}
		feeds[spec.Name] = t
	}
	return feeds, nil
}

func inputNames(g *graph.Graph) string {
	names := make([]string, len(g.Inputs))
	for i, s := range g.Inputs {
		names[i] = fmt.Sprintf("%q", s.Name)
	}
	return "(" + strings.Join(names, ", ") + ")"
}

// arrayOf converts a graph output to a .npy array of its own element
// type: INT4 and UINT4 as int8 and uint8, FP8 decoded to float32.
func arrayOf(t *graph.Tensor) (*npy.Array, error) {
	switch t.DType {
	case onnx.Float:
		return npy.New(t.F32, t.Shape...)
	case onnx.Double:
		return npy.New(t.F64, t.Shape...)
	case onnx.Int64:
		return npy.New(t.I64, t.Shape...)
	case onnx.Int32:
		return npy.New(t.I32, t.Shape...)
	case onnx.Int8, onnx.Int4:
		return npy.New(t.I8, t.Shape...)
	case onnx.Uint8, onnx.Uint4:
		return npy.New(t.U8, t.Shape...)
	case onnx.Bool:
		b := make([]bool, len(t.U8))
		for i, v := range t.U8 {
			b[i] = v != 0
		}
		return npy.New(b, t.Shape...)
	case onnx.Float8E4M3FN, onnx.Float8E5M2:
		f := fakequant.E4M3FN
		if t.DType == onnx.Float8E5M2 {
			f = fakequant.E5M2
		}
		v := make([]float32, len(t.U8))
		if err := fakequant.DecodeFP8(v, t.U8, f); err != nil {
			return nil, err
		}
		return npy.New(v, t.Shape...)
	}
	return nil, fmt.Errorf("element type %v has no .npy form", t.DType)
}

// writeOutputs writes every graph output as DIR/<safe name>.npy and
// lists them on stdout.
func writeOutputs(dir string, g *graph.Graph, out map[string]*graph.Tensor, stdout io.Writer) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	written := map[string]string{}
	for _, spec := range g.Outputs {
		file := outputFile(spec.Name)
		if other, dup := written[file]; dup {
			return fmt.Errorf("outputs %q and %q map to the same file %s", other, spec.Name, file)
		}
		written[file] = spec.Name
		t := out[spec.Name]
		a, err := arrayOf(t)
		if err != nil {
			return fmt.Errorf("output %q: %w", spec.Name, err)
		}
		path := filepath.Join(dir, file)
		if err := npy.WriteArrayFile(path, a); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s %v%v -> %s\n", spec.Name, t.DType, t.Shape, path)
	}
	return nil
}

// maxNameBytes bounds the part of a file name taken from an output name
// (file systems allow 255 bytes).
const maxNameBytes = 200

// outputFile returns the file name of the output called name: the name
// with every byte other than A-Z a-z 0-9 _ - . (and a leading .) written
// as %XX, cut at maxNameBytes and followed by ~ and 16 hex digits of the
// name's SHA-256 when longer, then ".npy". Distinct names up to
// maxNameBytes give distinct files.
func outputFile(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		safe := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' && i > 0
		if safe {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	s := b.String()
	if len(s) > maxNameBytes {
		sum := sha256.Sum256([]byte(name))
		s = s[:maxNameBytes] + "~" + hex.EncodeToString(sum[:8])
	}
	return s + ".npy"
}

// batchOf returns the first input's first dimension (1 for a scalar or a
// model without inputs): the number of inputs one run processes.
func batchOf(g *graph.Graph, feeds map[string]*graph.Tensor) int {
	if len(g.Inputs) == 0 {
		return 1
	}
	if t := feeds[g.Inputs[0].Name]; len(t.Shape) > 0 {
		return t.Shape[0]
	}
	return 1
}

// benchmark runs s n times after the warm-up run the caller made and
// prints the latencies (median, min, p90, p99, max, as
// onnxruntime_perf_test does) and the throughput at the median latency.
func benchmark(s *graph.Session, feeds map[string]*graph.Tensor, batch, threads, n int, progressTo, stdout io.Writer) error {
	bar := progress.New(progressTo, "bench", n)
	times := make([]time.Duration, n)
	start := time.Now()
	for i := range times {
		t0 := time.Now()
		if _, err := s.Run(feeds); err != nil {
			return err
		}
		times[i] = time.Since(t0)
		bar.Update(i+1, "")
	}
	total := time.Since(start)
	bar.Done("")
	slices.Sort(times)
	pct := func(p int) time.Duration { return times[min(n-1, n*p/100)] }
	median := times[n/2]
	if n%2 == 0 {
		median = (times[n/2-1] + times[n/2]) / 2
	}
	fmt.Fprintf(stdout, "runs: %d (after 1 warm-up run), batch %d, %d threads\n", n, batch, threads)
	fmt.Fprintf(stdout, "latency: median %s, min %s, p90 %s, p99 %s, max %s\n",
		ms(median), ms(times[0]), ms(pct(90)), ms(pct(99)), ms(times[n-1]))
	fmt.Fprintf(stdout, "throughput: %.1f inputs/s at the median (%.1f runs/s over all %d)\n",
		float64(batch)/median.Seconds(), float64(n)/total.Seconds(), n)
	return nil
}

// printProfile prints the nodes of a profile of runs runs, the slowest
// first: the mean time per run, its share of the nodes' sum, the op type
// and the node's name.
func printProfile(w io.Writer, p []graph.NodeTime, runs int) {
	var sum time.Duration
	for _, n := range p {
		sum += n.Total
	}
	slices.SortStableFunc(p, func(a, b graph.NodeTime) int { return cmp.Compare(b.Total, a.Total) })
	fmt.Fprintf(w, "profile: %d nodes, %s per run in all (mean of %d runs; chunks of a batch that ran at once added up)\n", len(p), ms(sum/time.Duration(runs)), runs)
	fmt.Fprintf(w, "%12s %7s  %-20s %s\n", "ms/run", "share", "op", "node")
	for _, n := range p {
		share := 0.0
		if sum > 0 {
			share = 100 * float64(n.Total) / float64(sum)
		}
		fmt.Fprintf(w, "%12.3f %6.1f%%  %-20s %s\n", float64(n.Total)/float64(runs)/float64(time.Millisecond), share, n.OpType, n.Name)
	}
}

// ms formats a duration in milliseconds with 3 decimals.
func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond)) }
