package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/histogram"
	"github.com/tensorquant/tensorquant/internal/checked"
	"github.com/tensorquant/tensorquant/internal/cli/progress"
	"github.com/tensorquant/tensorquant/internal/cli/report"
	"github.com/tensorquant/tensorquant/internal/tqfile"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/quantize"
	"github.com/tensorquant/tensorquant/tensor"
)

// amaxFlags choose the amax methods and their options.
type amaxFlags struct {
	methods    string
	percentile float64
	stride     int
	startBin   int
}

func (a *amaxFlags) register(fs *flagSet) {
	fs.StringVar(&a.methods, "methods", "max,entropy,percentile,mse", "comma-separated amax methods")
	fs.Float64Var(&a.percentile, "percentile", calibrators.DefaultPercentile, "percentile for the percentile method, in (0, 100]")
	fs.IntVar(&a.stride, "stride", calibrators.DefaultStride, "candidate stride of the entropy and mse searches (at least 1)")
	fs.IntVar(&a.startBin, "start-bin", calibrators.DefaultStartBin, "first candidate bin of the entropy and mse searches (at least 0)")
}

// check returns an error naming the flag whose value the searches cannot
// use.
func (a *amaxFlags) check() error {
	switch {
	case !(a.percentile > 0 && a.percentile <= 100):
		return fmt.Errorf("-percentile %v out of range (0, 100]", a.percentile)
	case a.stride < 1:
		return fmt.Errorf("-stride %d: want at least 1", a.stride)
	case a.startBin < 0:
		return fmt.Errorf("-start-bin %d is negative", a.startBin)
	}
	return nil
}

type amaxResult struct {
	Method string  `json:"method"`
	Amax   float32 `json:"amax"`
}

func (a *amaxFlags) compute(s *calibrators.Set) ([]amaxResult, error) {
	opts := calibrators.AmaxOptions{Stride: a.stride, StartBin: &a.startBin, Percentile: &a.percentile}
	var out []amaxResult
	for _, m := range strings.Split(a.methods, ",") {
		m = strings.TrimSpace(m)
		amax, err := s.Amax(calibrators.Method(m), opts)
		if err != nil && m == "mse" {
			// Only NumPy's range for a constant first batch, [x-0.5,
			// x+0.5], starts below 0.
			if e := s.Histogram().Edges(); e != nil && e[0] < 0 {
				return nil, fmt.Errorf("method %q: every |x| of the first batch is %g, so -numpy-hist bins from %g and the mse candidates from -start-bin %d on include negative amax values (the original fails too); drop -numpy-hist, raise -start-bin or leave mse out of -methods",
					m, float32(e[0]+0.5), e[0], a.startBin)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("method %q: %w", m, err)
		}
		out = append(out, amaxResult{m, amax.Data[0]})
	}
	return out, nil
}

// outputFlags are where calibrate and merge write their results.
type outputFlags struct {
	save, report string
	json         bool
}

func (o *outputFlags) register(fs *flagSet, saveName, saveUsage string) {
	fs.StringVar(&o.save, saveName, "", saveUsage)
	fs.StringVar(&o.report, "report", "", "write an HTML report (histogram and the amax of each method) to `FILE`")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON")
}

// finish computes the amax of every method and writes the requested
// outputs: the table (or JSON) on stdout, the saved state, the report.
func (o *outputFlags) finish(s *calibrators.Set, a *amaxFlags, title string, inputs []string, stdout io.Writer) error {
	res, err := a.compute(s)
	if err != nil {
		return err
	}
	hist := s.Histogram()
	edges := hist.Edges()
	lo, hi := edges[0], edges[len(edges)-1]
	if o.save != "" {
		if err := s.Save(o.save); err != nil {
			return err
		}
	}
	if o.report != "" {
		r := report.Report{
			Title: "tensorquant " + title,
			Notes: []string{fmt.Sprintf("%d values from %s; %d bins over [%.6g, %.6g].", s.Values(), strings.Join(inputs, ", "), hist.NumBins(), lo, hi)},
			Table: report.Table{Columns: []string{"method", "amax"}},
		}
		h := report.Histogram{Name: "input", Counts: hist.Counts(), Edges: edges}
		for _, x := range res {
			r.Table.Rows = append(r.Table.Rows, []string{x.Method, fmtAmax(x.Amax)})
			h.Amax = append(h.Amax, report.Marker{Label: x.Method, Value: float64(x.Amax)})
		}
		r.Quantizers = []report.Histogram{h}
		if err := report.WriteFile(o.report, r); err != nil {
			return err
		}
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Values int64        `json:"values"`
			Bins   int          `json:"bins"`
			Range  [2]float64   `json:"range"`
			Amax   []amaxResult `json:"amax"`
		}{s.Values(), hist.NumBins(), [2]float64{lo, hi}, res})
	}
	fmt.Fprintf(stdout, "%d values, histogram of |x|: %d bins over [%.6g, %.6g]\n\n", s.Values(), hist.NumBins(), lo, hi)
	fmt.Fprintf(stdout, "%-12s %s\n", "method", "amax")
	for _, x := range res {
		note := ""
		if x.Method == "percentile" {
			note = fmt.Sprintf("   (%gth percentile)", a.percentile)
		}
		fmt.Fprintf(stdout, "%-12s %s%s\n", x.Method, fmtAmax(x.Amax), note)
	}
	return nil
}

// fmtAmax prints a float32 exactly (the shortest digits that round-trip).
func fmtAmax(v float32) string { return strconv.FormatFloat(float64(v), 'g', -1, 32) }

func runCalibrate(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("calibrate", "[flags] FILE...",
		"tensorquant calibrate -bits 8 -report act.html -save act.tqcal activations.npy\n\n"+
			"To calibrate shards in parallel, calibrate a representative seed batch first,\n"+
			"start every shard from it, and merge:\n"+
			"  tensorquant calibrate -save seed.tqcal big.npy\n"+
			"  tensorquant calibrate -fork seed.tqcal -save shard1.tqcal shard1.npy   (on each machine)\n"+
			"  tensorquant merge -o all.tqcal seed.tqcal shard1.tqcal shard2.tqcal", stdout)
	var (
		shape     = fs.String("shape", "", "`DIMS` of raw little-endian float32 files, e.g. 64,3,32,32 (.npy files carry their own)")
		batchRows = fs.Int("batch-rows", 0, "split each file along its first axis into batches of `N` rows (0: one batch per file)")
		bins      = fs.Int("bins", calibrators.DefaultNumBins, "histogram bins")
		bits      = fs.Int("bits", calibrators.DefaultNumBits, "quantization bit width the amax is for")
		unsigned  = fs.Bool("unsigned", false, "unsigned quantization")
		skipZeros = fs.Bool("skip-zeros", false, "leave exact zeros out of the histogram")
		numpyHist = fs.Bool("numpy-hist", false, "use the original's NumPy histogram path (torch_hist=False)")
		fork      = fs.String("fork", "", "start from the bins of a saved calibrator `STATE` (its Fork: same bins, no counts), so that shards calibrated on different machines merge exactly; the histogram flags then come from STATE")
		quiet     = fs.Bool("quiet", false, "no progress on stderr")
		amax      amaxFlags
		out       outputFlags
	)
	amax.register(fs)
	out.register(fs, "save", "save the calibrator state to `FILE` (for tensorquant merge)")
	if err := fs.parse(args); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		return errors.New("no input files (try -h)")
	}
	if *batchRows < 0 {
		return fmt.Errorf("-batch-rows %d is negative", *batchRows)
	}
	if *bins < 1 || *bins > histogram.MaxBins {
		return fmt.Errorf("-bins %d out of range [1, %d]", *bins, histogram.MaxBins)
	}
	if err := (fakequant.Format{NumBits: *bits, Unsigned: *unsigned}).Validate(); err != nil {
		return fmt.Errorf("-bits %d: %w", *bits, err)
	}
	if err := amax.check(); err != nil {
		return err
	}
	var rawShape []int
	if *shape != "" {
		var err error
		if rawShape, err = parseShape(*shape); err != nil {
			return err
		}
	}
	var set *calibrators.Set
	if *fork != "" {
		seed, err := calibrators.LoadSet(*fork)
		if err != nil {
			return err
		}
		set = seed.Fork()
	} else {
		var err error
		set, err = calibrators.NewSet(calibrators.HistogramOptions{NumBins: *bins, NumBits: *bits, Unsigned: *unsigned,
			SkipZeros: *skipZeros, NumpyHist: *numpyHist})
		if err != nil {
			return err
		}
	}
	var w io.Writer = stderr
	if *quiet {
		w = nil
	}
	bar := progress.New(w, "calibrate", len(files))
	for i, path := range files {
		x, err := readInput(path, rawShape)
		if err != nil {
			return err
		}
		for _, batch := range batches(x, *batchRows) {
			if err := set.Collect(batch); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		bar.Update(i+1, filepath.Base(path))
	}
	bar.Done(fmt.Sprintf("%d values", set.Values()))
	return out.finish(set, &amax, "calibration report", files, stdout)
}

// readInput reads a .npy file, or a raw float32 file when shape is given.
func readInput(path string, shape []int) (*tensor.Tensor, error) {
	if strings.HasSuffix(path, ".npy") || shape == nil {
		if shape != nil {
			return nil, fmt.Errorf("%s: -shape is for raw float32 files, a .npy file has its own shape", path)
		}
		return npy.ReadFile(path)
	}
	return npy.ReadRawFile(path, shape)
}

// batches splits x along its first axis into batches of rows rows (the last
// may be shorter); rows 0 (or a 0-d x) gives x itself.
func batches(x *tensor.Tensor, rows int) []*tensor.Tensor {
	if rows == 0 || len(x.Shape) == 0 || x.Shape[0] <= rows {
		return []*tensor.Tensor{x}
	}
	per := x.Numel() / x.Shape[0]
	var out []*tensor.Tensor
	for r := 0; r < x.Shape[0]; r += rows {
		n := min(rows, x.Shape[0]-r)
		shape := append([]int{n}, x.Shape[1:]...)
		out = append(out, &tensor.Tensor{Shape: shape, Data: x.Data[r*per : (r+n)*per]})
	}
	return out
}

func parseShape(s string) ([]int, error) {
	var shape []int
	for _, p := range strings.Split(s, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("-shape %q: %q is not a dimension", s, p)
		}
		shape = append(shape, d)
	}
	if _, err := checked.Product(shape, 4); err != nil { // float32 values
		return nil, fmt.Errorf("-shape %q: %w", s, err)
	}
	return shape, nil
}

func runMerge(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("merge", "[flags] STATE...",
		"tensorquant merge -o all.tqcal -report all.html seed.tqcal shard1.tqcal shard2.tqcal\n\n"+
			"The states come from tensorquant calibrate -save; shards merge exactly when each was\n"+
			"calibrated with -fork from the same seed state (see tensorquant calibrate -h).\n\n"+
			"With -model, the states are a model's calibration shards (tensorquant quantize -shard I/N -save),\n"+
			"and merge writes the quantized model, as tensorquant quantize would from one run over all the data:\n"+
			"  tensorquant merge -model model.onnx -method entropy -o model.qdq.onnx s0.tqq s1.tqq s2.tqq s3.tqq", stdout)
	var (
		amax  amaxFlags
		out   outputFlags
		m     modelFlags
		model = fs.String("model", "", "merge the quantization states of `MODEL.onnx` (tensorquant quantize -shard -save) and write the quantized model to -o")
	)
	amax.register(fs)
	out.register(fs, "o", "save the merged calibrator state to `FILE` (with -model: write the quantized model there, default MODEL.qdq.onnx)")
	fs.StringVar(&m.method, "method", "max", "with -model: activation calibration `METHOD`: max, entropy, percentile or mse")
	fs.Var(&m.eval, "eval", "with -model: evaluate top-1 on `NAME=FILE` (as quantize -calib; repeat per input) with -labels")
	fs.StringVar(&m.labels, "labels", "", "with -model: class labels of the -eval samples (.npy of integers or IDX)")
	fs.BoolVar(&m.quiet, "quiet", false, "no progress on stderr")
	m.data.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		return errors.New("no state files (try -h)")
	}
	if err := amax.check(); err != nil {
		return err
	}
	if *model != "" {
		m.percentile, m.out, m.report, m.json = amax.percentile, out.save, out.report, out.json
		if err := m.check(); err != nil {
			return err
		}
		return mergeModel(*model, files, &m, stdout, stderr)
	}
	if m.method != "max" || len(m.eval) > 0 {
		return errors.New("-method and -eval are for merging a model's states: give -model MODEL.onnx")
	}
	merged, err := calibrators.MergeFiles(files...)
	if err != nil {
		if _, qerr := tqfile.QuantizationState.ReadFile(files[0]); qerr == nil {
			return fmt.Errorf("%s is a model's quantization state (tensorquant quantize -save): give -model MODEL.onnx", files[0])
		}
		return err
	}
	return out.finish(merged, &amax, "merged calibration report", files, stdout)
}

// mergeModel merges a model's quantization states (every shard, once)
// and writes the quantized model.
func mergeModel(model string, files []string, m *modelFlags, stdout, stderr io.Writer) error {
	if m.out == "" {
		m.out = qdqPath(model)
	}
	if err := m.prepare(m.out); err != nil {
		return err
	}
	g, err := graph.ImportFile(model)
	if err != nil {
		return err
	}
	var parts []*quantize.Calibration
	for _, f := range files {
		c, err := quantize.ReadFile(g, f)
		if err != nil {
			return err
		}
		parts = append(parts, c)
	}
	start := time.Now()
	c, err := quantize.Merge(parts...)
	if err != nil {
		return err
	}
	if !c.Complete() {
		have, n := c.Shards()
		var missing []string
		for i := range n {
			if !slices.Contains(have, i) {
				missing = append(missing, fmt.Sprintf("%d/%d", i, n))
			}
		}
		return fmt.Errorf("shards %s missing: merge every shard of the data", strings.Join(missing, ", "))
	}
	res := &result{Model: model, Samples: c.Samples(), BatchSize: c.BatchSize(), Batches: c.Batches(),
		Seconds: map[string]float64{"calibration": 0, "merge": time.Since(start).Seconds()}}
	return m.finish(c, res, stdout, stderr)
}
