package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/cpufeat"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/onnx"
)

// modelConfig is one cell of the model table: a model at a batch size and
// a thread count.
type modelConfig struct {
	Model   string `json:"model"`
	Batch   int    `json:"batch"`
	Threads int    `json:"threads"`
	// Items per second (batch / median latency) in each round, and the
	// median over the rounds; 0 where the engine did not run.
	Ours     []float64 `json:"ours_items_per_s"`
	ORT      []float64 `json:"ort_items_per_s"`
	Torch    []float64 `json:"torch_items_per_s"`
	OursMed  float64   `json:"ours"`
	ORTMed   float64   `json:"ort"`
	TorchMed float64   `json:"torch"`
	// Items per second of the fastest single run of all rounds: on a
	// loaded machine the run least disturbed by the other processes.
	OursBest  float64 `json:"ours_best"`
	ORTBest   float64 `json:"ort_best"`
	TorchBest float64 `json:"torch_best"`
	latency   time.Duration
	npyPath   string
	onnxPath  string
	session   *graph.Session
	feeds     map[string]*graph.Tensor
}

// modelMemory is the peak memory of a batch-1 run of a model, against the
// budget of issue 12: the weights, twice the largest activation, 50 MB.
type modelMemory struct {
	Model         string `json:"model"`
	PeakRSS       int64  `json:"peak_rss_bytes"`
	LoadPeakRSS   int64  `json:"load_peak_rss_bytes"`
	Weights       int64  `json:"weights_bytes"`
	MaxActivation int64  `json:"largest_activation_bytes"`
	Budget        int64  `json:"budget_bytes"`
}

// benchModelsResult is what bench models -json prints.
type benchModelsResult struct {
	Rows      []*modelConfig `json:"rows"`
	Int8      []*int8Config  `json:"int8_rows,omitempty"`
	Quantized []*int8Model   `json:"quantized,omitempty"`
	Memory    *modelMemory   `json:"memory,omitempty"`
	LoadAvg   []float64      `json:"load_average"`
	Rounds    int            `json:"rounds"`
	Opset     int            `json:"opset"`
	CPUs      int            `json:"cpus"`
	Kernels   string         `json:"kernels"` // kernelFamily
	ORTNote   string         `json:"ort_note,omitempty"`
	TorchNote string         `json:"torch_note,omitempty"`
}

// kernelFamily names the kernel family our runs take on this CPU
// (cpufeat.Selected), "+vnni" where the int8 kernels have AVX-512 VNNI
// and "+avxvnni" where they have AVX-VNNI: a table measured on AVX2 alone
// is not one measured with AVX-512.
func kernelFamily() string {
	k := cpufeat.Selected.String()
	switch {
	case cpufeat.Selected == cpufeat.AVX512 && cpufeat.AVX512VNNI:
		k += "+vnni"
	case cpufeat.Selected == cpufeat.AVX2 && cpufeat.AVXVNNI:
		k += "+avxvnni"
	}
	return k
}

// defaultModels are the models of issue 12's speed table.
var defaultModels = []string{"resnet18", "mobilenet_v2", "encoder", "fashion_cnn"}

// runBenchModels is bench models: our throughput on the reference models
// of make models, with ONNX Runtime's and PyTorch's measured in the same
// run.
func runBenchModels(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench models", "[flags]",
		"tensorquant bench models -models resnet18,fashion_cnn -batches 1,8 -threads 1,2\n\n"+
			"For each reference model of make models found in -dir (<model>/op<opset>.onnx),\n"+
			"batch size and thread count, in each of -rounds rounds: our throughput (a\n"+
			"session with Options.Threads, warm-up runs, then runs for -time), ONNX\n"+
			"Runtime's (node tools/onnxcheck/ort-npy.js --bench, as many runs, intra-op\n"+
			"threads T, optimisation all) right after it, and once per round PyTorch's for\n"+
			"every cell (scripts/bench-baselines.py --engines torch). items/s = batch /\n"+
			"median latency; each cell is the median of the rounds. A second table gives\n"+
			"batch / the fastest single run's latency over all rounds, the run least\n"+
			"disturbed by other processes on a loaded machine. The memory line is the\n"+
			"peak resident memory during batch-1 runs of the first model on one thread,\n"+
			"against the weights + twice the largest activation + 50 MB.\n\n"+
			"With -int8 (the default), each model is also quantized at run time as\n"+
			"tensorquant quantize does by default (quantize.Place, Calibrate on 8 seeded\n"+
			"N(0, 1) samples in batches of 4, amax \"max\", Apply) and written as a QDQ\n"+
			"file; in each cell and round, right after the float engines, our session on\n"+
			"it on the integer path (int8) and on the float path (qdq-float, Q/DQ as fake\n"+
			"quantization), then ONNX Runtime on the same file. The int8 tables give\n"+
			"int8/fp32 (ours) and int8/ORT against ONNX Runtime's faster path (its fp32\n"+
			"model or the QDQ file, named in the last column).", stdout)
	dir := fs.String("dir", "", "the fixture `DIR` of make models (default $TQ_MODELS_DIR, else testdata/models)")
	modelsFlag := fs.String("models", strings.Join(defaultModels, ","), "comma-separated models (those absent from -dir are skipped)")
	batchesFlag := fs.String("batches", "1,8", "comma-separated batch sizes")
	threadsFlag := fs.String("threads", "1,"+strconv.Itoa(runtime.NumCPU()), "comma-separated thread counts")
	opset := fs.Int("opset", 17, "the opset of the model files")
	rounds := fs.Int("rounds", 3, "interleaved rounds")
	per := fs.Duration("time", 2*time.Second, "measuring time of each engine in each cell and round")
	ortScript := fs.String("ort", filepath.Join("tools", "onnxcheck", "ort-npy.js"), "ONNX Runtime's bench `script` (empty: do not run ONNX Runtime)")
	torchScript := fs.String("torch", filepath.Join("scripts", "bench-baselines.py"), "PyTorch's bench `script`, run with /usr/bin/python3 (empty: do not run PyTorch)")
	mem := fs.Bool("mem", true, "measure the peak memory of batch-1 runs of the first model")
	withInt8 := fs.Bool("int8", true, "also quantize each model and time it on our integer and float paths and in ONNX Runtime (the int8 tables)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	batches, err := positiveInts("-batches", *batchesFlag, 1<<12)
	if err != nil {
		return err
	}
	threads, err := positiveInts("-threads", *threadsFlag, 1<<10)
	if err != nil {
		return err
	}
	switch {
	case *rounds < 1:
		return fmt.Errorf("-rounds %d: want at least 1", *rounds)
	case *per <= 0:
		return fmt.Errorf("-time %v is not positive", *per)
	}
	if *dir == "" {
		*dir = os.Getenv("TQ_MODELS_DIR")
		if *dir == "" {
			*dir = filepath.Join("testdata", "models")
		}
	}
	var names []string
	for _, m := range strings.Split(*modelsFlag, ",") {
		m = strings.TrimSpace(m)
		if _, err := os.Stat(filepath.Join(*dir, m, fmt.Sprintf("op%d.onnx", *opset))); err == nil {
			names = append(names, m)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("none of the models %s has an op%d.onnx in %s (make models generates them)", *modelsFlag, *opset, *dir)
	}
	tmp, err := os.MkdirTemp("", "tensorquant-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	res := &benchModelsResult{Rounds: *rounds, Opset: *opset, CPUs: runtime.NumCPU(), Kernels: kernelFamily()}
	ort := *ortScript != ""
	if ort {
		if _, err := exec.LookPath("node"); err != nil {
			ort, res.ORTNote = false, "node not found: no ONNX Runtime column"
		} else if _, err := os.Stat(*ortScript); err != nil {
			ort, res.ORTNote = false, fmt.Sprintf("%s not found: no ONNX Runtime column", *ortScript)
		}
	}
	torch := *torchScript != ""
	if torch {
		if _, err := os.Stat(*torchScript); err != nil {
			torch, res.TorchNote = false, fmt.Sprintf("%s not found: no PyTorch column", *torchScript)
		} else if err := exec.Command("/usr/bin/python3", "-c", "import torch, numpy").Run(); err != nil {
			torch, res.TorchNote = false, "/usr/bin/python3 cannot import torch and numpy: no PyTorch column"
		}
	}
	if *mem {
		if res.Memory, err = measureMemory(*dir, names[0], *opset); err != nil {
			return err
		}
	}
	for _, name := range names {
		path := filepath.Join(*dir, name, fmt.Sprintf("op%d.onnx", *opset))
		var qm *int8Model
		if *withInt8 {
			if qm, err = quantizeForBench(name, path, filepath.Join(tmp, name+".qdq.onnx")); err != nil {
				return fmt.Errorf("%s: quantizing: %w", path, err)
			}
			res.Quantized = append(res.Quantized, qm)
			fmt.Fprintf(stderr, "quantized %s in %.1fs: %s\n", name, qm.Seconds, qm.Arithmetic)
		}
		for _, t := range threads {
			g, err := graph.ImportFile(path)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			s, err := graph.NewSession(g, graph.Options{Threads: t})
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			for _, b := range batches {
				c := &modelConfig{Model: name, Batch: b, Threads: t, session: s, onnxPath: path}
				if c.feeds, err = benchInputs(s.Graph(), b, 7); err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				c.npyPath = filepath.Join(tmp, fmt.Sprintf("%s-b%d.npy", name, b))
				for _, x := range c.feeds {
					a, err := npy.New(x.F32, x.Shape...)
					if err != nil {
						return err
					}
					if err := npy.WriteArrayFile(c.npyPath, a); err != nil {
						return err
					}
				}
				res.Rows = append(res.Rows, c)
				if qm != nil {
					q, err := newInt8Config(qm, c)
					if err != nil {
						return err
					}
					res.Int8 = append(res.Int8, q)
				}
			}
		}
	}
	res.LoadAvg = append(res.LoadAvg, loadAverage())
	for r := range *rounds {
		for _, c := range res.Rows {
			ips, best, lat, err := timeOurs(c, *per)
			if err != nil {
				return fmt.Errorf("%s batch %d: %w", c.Model, c.Batch, err)
			}
			c.Ours, c.latency, c.OursBest = append(c.Ours, ips), lat, max(c.OursBest, best)
			if ort {
				runs := max(10, int(*per/max(lat, time.Microsecond)))
				ips, best, err := timeORT(*ortScript, c, runs)
				if err != nil {
					return err
				}
				c.ORT, c.ORTBest = append(c.ORT, ips), max(c.ORTBest, best)
			}
			fmt.Fprintf(stderr, "round %d/%d %-12s b%-3d t%-2d ours %10.1f/s  ort %10.1f/s\n", r+1, *rounds, c.Model, c.Batch, c.Threads, c.Ours[r], last(c.ORT))
			if q := int8Of(res.Int8, c); q != nil {
				if err := q.time(*per, ort, *ortScript); err != nil {
					return err
				}
				fmt.Fprintf(stderr, "round %d/%d %-12s b%-3d t%-2d int8 %10.1f/s  qdq-float %10.1f/s  ort qdq %10.1f/s\n", r+1, *rounds, c.Model, c.Batch, c.Threads,
					q.Int8[r], q.QDQFloat[r], last(q.ORTQDQ))
			}
		}
		if torch {
			if err := timeTorch(*torchScript, *dir, *opset, names, batches, threads, *per, res.Rows, tmp); err != nil {
				return err
			}
		}
	}
	res.LoadAvg = append(res.LoadAvg, loadAverage())
	for _, c := range res.Rows {
		c.OursMed, c.ORTMed, c.TorchMed = median(c.Ours), median(c.ORT), median(c.Torch)
	}
	for _, q := range res.Int8 {
		q.summarize()
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	printModelTable(stdout, res)
	return nil
}

// positiveInts parses a comma-separated list of integers in [1, hi].
func positiveInts(flag, s string, hi int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 || v > hi {
			return nil, fmt.Errorf("%s: %q is not an integer in [1, %d]", flag, f, hi)
		}
		out = append(out, v)
	}
	return out, nil
}

// benchInputs returns a standard-normal input (seeded by seed and batch)
// of the graph's one input shape with the first dimension set to batch.
func benchInputs(g *graph.Graph, batch int, seed uint64) (map[string]*graph.Tensor, error) {
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("the model has %d inputs; bench models runs models of one input", len(g.Inputs))
	}
	in := g.Inputs[0]
	if in.DType != onnx.Float || len(in.Shape) == 0 {
		return nil, fmt.Errorf("input %q is %v%s; bench models wants a FLOAT input with a batch dimension", in.Name, in.DType, graph.ShapeString(in.Shape))
	}
	shape := []int{batch}
	for _, d := range in.Shape[1:] {
		if !d.Known() {
			return nil, fmt.Errorf("input %q has shape %s: only the first dimension may be unknown", in.Name, graph.ShapeString(in.Shape))
		}
		shape = append(shape, d.Size)
	}
	x, err := graph.New(onnx.Float, shape...)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, uint64(batch)))
	for i := range x.F32 {
		x.F32[i] = float32(rng.NormFloat64())
	}
	return map[string]*graph.Tensor{in.Name: x}, nil
}

// timeOurs runs the cell's session twice to warm up, then for at least d
// (and 5 runs), and returns items/s at the median latency and at the
// fastest run's, and the median latency.
func timeOurs(c *modelConfig, d time.Duration) (med, best float64, lat time.Duration, err error) {
	for range 2 {
		if _, err := c.session.Run(c.feeds); err != nil {
			return 0, 0, 0, err
		}
	}
	var times []time.Duration
	start := time.Now()
	for len(times) < 5 || time.Since(start) < d {
		t0 := time.Now()
		if _, err := c.session.Run(c.feeds); err != nil {
			return 0, 0, 0, err
		}
		times = append(times, time.Since(t0))
	}
	slices.Sort(times)
	lat = times[len(times)/2]
	return float64(c.Batch) / lat.Seconds(), float64(c.Batch) / times[0].Seconds(), lat, nil
}

// timeORT runs ort-npy.js --bench on the cell's model and input and
// returns ONNX Runtime's items/s at its median latency and at its fastest
// run's.
func timeORT(script string, c *modelConfig, runs int) (med, best float64, err error) {
	cmd := exec.Command("node", script, fmt.Sprintf("--bench=%d", runs), "--warmup=5", fmt.Sprintf("--threads=%d", c.Threads),
		"--opt=all", c.onnxPath, c.npyPath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("ONNX Runtime on %s: %v: %s", c.onnxPath, err, strings.TrimSpace(stderr.String()))
	}
	var r struct {
		MedianMs float64 `json:"median_ms"`
		MinMs    float64 `json:"min_ms"`
		Batch    int     `json:"batch"`
	}
	if err := json.Unmarshal(out, &r); err != nil || r.MedianMs <= 0 || r.MinMs <= 0 {
		return 0, 0, fmt.Errorf("ONNX Runtime on %s printed %q", c.onnxPath, strings.TrimSpace(string(out)))
	}
	return float64(r.Batch) / (r.MedianMs / 1e3), float64(r.Batch) / (r.MinMs / 1e3), nil
}

// timeTorch runs one round of bench-baselines.py for PyTorch alone over
// every cell and appends its items/s to the rows.
func timeTorch(script, dir string, opset int, names []string, batches, threads []int, d time.Duration, rows []*modelConfig, tmp string) error {
	out := filepath.Join(tmp, "torch.json")
	cmd := exec.Command("/usr/bin/python3", script, "--engines", "torch", "--repeat", "1", "--max-load", "1000",
		"--models", strings.Join(names, ","), "--batches", joinInts(batches), "--threads", joinInts(threads),
		"--seconds", strconv.FormatFloat(d.Seconds(), 'f', 3, 64), "--opset", strconv.Itoa(opset), "--json", out, dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("PyTorch (%s): %v: %s", script, err, lastLine(stderr.String()))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	var r struct {
		Rows []struct {
			Model   string    `json:"model"`
			Batch   int       `json:"batch"`
			Threads int       `json:"threads"`
			Torch   []float64 `json:"torch_items_per_s"`
			Best    float64   `json:"torch_best_items_per_s"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("PyTorch (%s): %s: %w", script, out, err)
	}
	for _, t := range r.Rows {
		for _, c := range rows {
			if c.Model == t.Model && c.Batch == t.Batch && c.Threads == t.Threads && len(t.Torch) > 0 {
				c.Torch, c.TorchBest = append(c.Torch, t.Torch[len(t.Torch)-1]), max(c.TorchBest, t.Best)
			}
		}
	}
	return nil
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func last(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

// median returns the median of v, 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// loadAverage returns the 1-minute load average (0 if unknown).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// measureMemory measures the peak resident memory of batch-1 runs of a
// model on one thread: the model is imported and its session made, the
// file and the imported graph dropped and the heap returned to the
// system, the kernel's high-water mark reset (Linux), then the model runs
// 5 times. It also reports the peak of the loading phase. Where the
// high-water mark cannot be reset, PeakRSS is 0.
func measureMemory(dir, name string, opset int) (*modelMemory, error) {
	path := filepath.Join(dir, name, fmt.Sprintf("op%d.onnx", opset))
	m := &modelMemory{Model: name}
	debug.FreeOSMemory()
	resetPeakRSS()
	g, err := graph.ImportFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, t := range g.Initializers {
		m.Weights += tensorBytes(t)
	}
	feeds, err := benchInputs(g, 1, 7)
	if err != nil {
		return nil, err
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if info := g.Info(o); info != nil {
				m.MaxActivation = max(m.MaxActivation, infoBytes(info, 1))
			}
		}
	}
	s, err := graph.NewSession(g, graph.Options{Threads: 1})
	if err != nil {
		return nil, err
	}
	g = nil
	m.LoadPeakRSS = selfPeakRSS()
	runtime.GC()
	debug.FreeOSMemory()
	if resetPeakRSS() {
		for range 5 {
			if _, err := s.Run(feeds); err != nil {
				return nil, err
			}
		}
		m.PeakRSS = selfPeakRSS()
	}
	runtime.KeepAlive(s)
	m.Budget = m.Weights + 2*m.MaxActivation + 50<<20
	return m, nil
}

// tensorBytes returns the bytes of a tensor's elements.
func tensorBytes(t *graph.Tensor) int64 {
	return int64(len(t.F32))*4 + int64(len(t.F64))*8 + int64(len(t.I64))*8 + int64(len(t.I32))*4 + int64(len(t.I8)) + int64(len(t.U8))
}

// infoBytes returns the bytes of a FLOAT value of the given shape with
// unknown dimensions taken as batch (0 if not FLOAT or unknown rank).
func infoBytes(info *graph.Info, batch int) int64 {
	if info.DType != onnx.Float {
		return 0
	}
	n := int64(4)
	for _, d := range info.Shape {
		if d.Known() {
			n *= int64(d.Size)
		} else {
			n *= int64(batch)
		}
	}
	return n
}

// resetPeakRSS resets the kernel's record of the process's peak resident
// memory (VmHWM), and reports whether it could.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// selfPeakRSS returns the process's peak resident memory (VmHWM) in bytes, 0
// if unknown.
func selfPeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// printModelTable prints the table of items/s and ratios, the scaling
// from one thread to the most, and the memory line.
func printModelTable(w io.Writer, res *benchModelsResult) {
	fmt.Fprintf(w, "items/s (batch / median latency), median of %d interleaved rounds; opset-%d files; %d CPUs; %s kernels\n", res.Rounds, res.Opset, res.CPUs, res.Kernels)
	fmt.Fprintf(w, "%-14s %5s %7s %11s %11s %11s %9s %10s\n", "model", "batch", "threads", "ours", "ORT", "PyTorch", "ours/ORT", "ours/torch")
	for _, c := range res.Rows {
		fmt.Fprintf(w, "%-14s %5d %7d %11s %11s %11s %9s %10s\n", c.Model, c.Batch, c.Threads,
			num(c.OursMed), num(c.ORTMed), num(c.TorchMed), ratio(c.OursMed, c.ORTMed), ratio(c.OursMed, c.TorchMed))
	}
	fmt.Fprintf(w, "items/s of the fastest single run of all rounds (the least disturbed on a loaded machine)\n")
	fmt.Fprintf(w, "%-14s %5s %7s %11s %11s %11s %9s %10s\n", "model", "batch", "threads", "ours", "ORT", "PyTorch", "ours/ORT", "ours/torch")
	for _, c := range res.Rows {
		fmt.Fprintf(w, "%-14s %5d %7d %11s %11s %11s %9s %10s\n", c.Model, c.Batch, c.Threads,
			num(c.OursBest), num(c.ORTBest), num(c.TorchBest), ratio(c.OursBest, c.ORTBest), ratio(c.OursBest, c.TorchBest))
	}
	// Scaling: each model and batch from one thread to the most.
	for _, c := range res.Rows {
		if c.Threads != 1 {
			continue
		}
		var top *modelConfig
		for _, d := range res.Rows {
			if d.Model == c.Model && d.Batch == c.Batch && d.Threads > 1 && (top == nil || d.Threads > top.Threads) {
				top = d
			}
		}
		if top != nil {
			fmt.Fprintf(w, "scaling %-14s batch %-3d 1 -> %d threads: ours %s, ORT %s, PyTorch %s\n", c.Model, c.Batch, top.Threads,
				ratio(top.OursMed, c.OursMed), ratio(top.ORTMed, c.ORTMed), ratio(top.TorchMed, c.TorchMed))
		}
	}
	printInt8Table(w, res)
	if m := res.Memory; m != nil {
		peak := "n/a (the high-water mark cannot be reset here)"
		if m.PeakRSS > 0 {
			peak = fmt.Sprintf("%.1f MB", mb(m.PeakRSS))
		}
		fmt.Fprintf(w, "memory %s batch 1, 1 thread: peak RSS %s during runs (%.1f MB while loading); budget %.1f MB = weights %.1f + 2 × largest activation %.1f + 50\n",
			m.Model, peak, mb(m.LoadPeakRSS), mb(m.Budget), mb(m.Weights), mb(m.MaxActivation))
	}
	for _, note := range []string{res.ORTNote, res.TorchNote} {
		if note != "" {
			fmt.Fprintln(w, note)
		}
	}
	fmt.Fprintf(w, "1-minute load average: %.2f before, %.2f after\n", res.LoadAvg[0], res.LoadAvg[len(res.LoadAvg)-1])
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// num formats items/s, "n/a" for none.
func num(v float64) string {
	switch {
	case v == 0:
		return "n/a"
	case v >= 1000:
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// ratio formats a/b with two decimals and x, "-" when either is missing.
func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}
