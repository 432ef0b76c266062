package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/idx"
	"github.com/tensorquant/tensorquant/internal/cli/progress"
	"github.com/tensorquant/tensorquant/internal/cli/report"
	"github.com/tensorquant/tensorquant/npy"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/onnx/export"
	"github.com/tensorquant/tensorquant/quantize"
	"github.com/tensorquant/tensorquant/tensor"
)

// listFlag collects a repeated flag.
type listFlag []string

func (f *listFlag) String() string { return strings.Join(*f, " ") }

func (f *listFlag) Set(s string) error {
	*f = append(*f, s)
	return nil
}

// dataFlags are how a command reads data files.
type dataFlags struct {
	shape, preprocess string
}

func (d *dataFlags) register(fs *flagSet) {
	fs.StringVar(&d.shape, "shape", "", "`DIMS` of one sample of raw float32 files, e.g. 3,224,224 (default: the model input's)")
	fs.StringVar(&d.preprocess, "preprocess", "", "`SCALE:SHIFT` applied to float inputs as x*SCALE+SHIFT, one value or one per channel (axis 1) each, e.g. 0.0171,0.0175,0.0174:-2.118,-2.036,-1.804")
}

// options returns the quantize.FileOptions the flags give.
func (d *dataFlags) options() (quantize.FileOptions, error) {
	var o quantize.FileOptions
	if d.shape != "" {
		s, err := parseShape(d.shape)
		if err != nil {
			return o, err
		}
		o.Shape = s
	}
	if d.preprocess != "" {
		scale, shift, ok := strings.Cut(d.preprocess, ":")
		var err error
		if !ok {
			return o, fmt.Errorf("-preprocess %q: want SCALE:SHIFT, e.g. 0.0039216:0", d.preprocess)
		}
		if o.Scale, err = parseFloats(scale); err != nil {
			return o, fmt.Errorf("-preprocess %q: %w", d.preprocess, err)
		}
		if o.Shift, err = parseFloats(shift); err != nil {
			return o, fmt.Errorf("-preprocess %q: %w", d.preprocess, err)
		}
	}
	return o, nil
}

func parseFloats(s string) ([]float32, error) {
	var out []float32
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%q is not a finite number", p)
		}
		out = append(out, float32(v))
	}
	return out, nil
}

// modelFlags are the flags that turn a calibration into a quantized
// model, shared by quantize and merge -model.
type modelFlags struct {
	method     string
	percentile float64
	out        string
	report     string
	json       bool
	eval       listFlag
	labels     string
	quiet      bool
	data       dataFlags

	labelValues []int // -labels, read by prepare
}

func (m *modelFlags) register(fs *flagSet, outUsage string) {
	fs.StringVar(&m.method, "method", "max", "activation calibration `METHOD`: max, entropy, percentile or mse")
	fs.StringVar(&m.out, "o", "", outUsage)
	fs.StringVar(&m.report, "report", "", "write an HTML report (every quantizer's histogram with each method's amax) to `FILE`")
	fs.BoolVar(&m.json, "json", false, "print the result as JSON")
	fs.Var(&m.eval, "eval", "evaluate top-1 on `NAME=FILE` (as -calib; repeat per input) with -labels")
	fs.StringVar(&m.labels, "labels", "", "class labels of the -eval samples: a .npy of integers or an IDX file")
	fs.BoolVar(&m.quiet, "quiet", false, "no progress on stderr")
	m.data.register(fs)
}

// registerPercentile adds -percentile (merge has its own).
func (m *modelFlags) registerPercentile(fs *flagSet) {
	fs.Float64Var(&m.percentile, "percentile", calibrators.DefaultPercentile, "percentile of the percentile method, in (0, 100]")
}

func (m *modelFlags) check() error {
	switch calibrators.Method(m.method) {
	case calibrators.MethodMax, calibrators.MethodEntropy, calibrators.MethodPercentile, calibrators.MethodMSE:
	default:
		return fmt.Errorf("-method %q: want max, entropy, percentile or mse", m.method)
	}
	if !(m.percentile > 0 && m.percentile <= 100) {
		return fmt.Errorf("-percentile %v out of range (0, 100]", m.percentile)
	}
	if (len(m.eval) > 0) != (m.labels != "") {
		return errors.New("-eval and -labels go together")
	}
	return nil
}

// prepare checks, before the long work, what would otherwise fail after
// it: the output files can be written (out: the model's output path) and
// -labels can be read.
func (m *modelFlags) prepare(out string) error {
	for _, p := range []string{out, m.report} {
		if err := checkOutput(p); err != nil {
			return err
		}
	}
	if m.labels != "" {
		l, err := readLabels(m.labels)
		if err != nil {
			return err
		}
		m.labelValues = l
	}
	return nil
}

// qdqPath is the default output of a model: MODEL.qdq.onnx.
func qdqPath(model string) string { return strings.TrimSuffix(model, ".onnx") + ".qdq.onnx" }

// checkOutput returns an error when a file cannot be written at path: an
// existing one that is not a regular file, or a missing directory. An
// empty path is not checked.
func checkOutput(path string) error {
	if path == "" {
		return nil
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file (%s)", path, kindOf(st.Mode()))
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return fmt.Errorf("%s: no directory %s to write it in", path, filepath.Dir(path))
	}
	return nil
}

// kindOf names a file mode's type.
func kindOf(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a pipe"
	case m&(os.ModeDevice|os.ModeCharDevice) != 0:
		return "a device"
	default:
		return "not a regular file"
	}
}

func (m *modelFlags) progressTo(stderr io.Writer) io.Writer {
	if m.quiet {
		return nil
	}
	return stderr
}

func runQuantize(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("quantize", "-calib FILE.npy -method max|entropy|percentile|mse [flags] MODEL.onnx",
		"tensorquant quantize -calib calib.npy -method entropy -report r.html -eval test_x.npy -labels test_y.npy model.onnx\n\n"+
			"writes model.qdq.onnx: QuantizeLinear/DequantizeLinear pairs where the original toolkit puts them\n"+
			"(the input and per-channel weight of every Conv, ConvTranspose, Gemm and MatMul with a constant\n"+
			"weight, the input of average pooling), INT8 symmetric, zero point 0, scale amax/127 (TensorRT's\n"+
			"explicit quantization; ONNX Runtime loads it too). -calib takes .npy (first axis the sample), .npz\n"+
			"keyed by input name, a directory of either, raw float32 (with -shape) or IDX files, once per input\n"+
			"as NAME=FILE for a model of several. Batches of -batch samples are taken in file order and are part\n"+
			"of the result (the histograms fix their bin width on the first batch), the number of workers is not.\n\n"+
			"On many machines, calibrate slice I (from 0) of N on each and merge the states into the model:\n"+
			"  tensorquant quantize -calib data/ -shard 0/4 -save s0.tqq model.onnx    (and 1/4, 2/4, 3/4)\n"+
			"  tensorquant merge -model model.onnx -method entropy -o model.qdq.onnx s0.tqq s1.tqq s2.tqq s3.tqq", stdout)
	var (
		m       modelFlags
		calib   listFlag
		place   placeFlags
		batch   = fs.Int("batch", quantize.DefaultBatchSize, "samples per calibration batch, in file order (part of the result)")
		shard   = fs.String("shard", "", "calibrate slice `I/N` (I from 0) of the batches only and save the state (-save) for tensorquant merge")
		save    = fs.String("save", "", "save the calibration state to `STATE` (for tensorquant merge)")
		workers = fs.Int("workers", 0, "batches calibrated at once (0: one per core); the result does not depend on it")
	)
	fs.Var(&calib, "calib", "calibration data `FILE` (.npy, .npz, directory, raw, IDX), or NAME=FILE per model input")
	m.register(fs, "write the quantized model to `OUT.onnx` (default MODEL.qdq.onnx)")
	m.registerPercentile(fs)
	place.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("want one model file after the flags, got %d (try -h)", fs.NArg())
	}
	if err := m.check(); err != nil {
		return err
	}
	switch {
	case len(calib) == 0:
		return errors.New("no calibration data: give -calib FILE")
	case *batch < 1:
		return fmt.Errorf("-batch %d: want at least 1", *batch)
	case *workers < 0:
		return fmt.Errorf("-workers %d is negative", *workers)
	case *shard != "" && *save == "":
		return errors.New("-shard writes a calibration state: give -save STATE")
	case *shard != "" && (m.out != "" || m.report != "" || len(m.eval) > 0 || m.method != "max"):
		return errors.New("-shard only calibrates and saves its state; tensorquant merge -model takes -method and writes the model, the report and the evaluation")
	}
	if err := place.check(fs); err != nil {
		return err
	}
	var shardI, shardN int
	if *shard != "" {
		i, n, ok := strings.Cut(*shard, "/")
		var e1, e2 error
		shardI, e1 = strconv.Atoi(i)
		shardN, e2 = strconv.Atoi(n)
		if !ok || e1 != nil || e2 != nil || shardN < 1 || shardI < 0 || shardI >= shardN {
			return fmt.Errorf("-shard %q: want I/N with 0 <= I < N", *shard)
		}
	}
	fo, err := m.data.options()
	if err != nil {
		return err
	}
	lowGCPercent()
	modelPath := fs.Arg(0)
	g, err := graph.ImportFile(modelPath)
	if err != nil {
		return err
	}
	plan, err := place.place(g, m.method)
	if err != nil {
		return err
	}
	if m.out == "" && shardN == 0 {
		m.out = qdqPath(modelPath)
	}
	if err := m.prepare(m.out); err != nil {
		return err
	}
	if err := checkOutput(*save); err != nil {
		return err
	}
	data, err := quantize.OpenFiles(g, calib, fo)
	if err != nil {
		return err
	}
	defer data.Close()
	nb := (data.Len() + *batch - 1) / *batch
	if shardN > 0 {
		nb = (shardI+1)*nb/shardN - shardI*nb/shardN
	}
	bar := progress.New(m.progressTo(stderr), "calibrate", nb)
	start := time.Now()
	c, err := plan.Calibrate(data, quantize.CalibrateOptions{BatchSize: *batch, Workers: *workers, Shard: shardI, Shards: shardN,
		Progress: func(done, _ int) { bar.Update(done, "") }})
	if err != nil {
		return err
	}
	bar.Done(fmt.Sprintf("%d samples", data.Len()))
	res := &result{Model: modelPath, Samples: c.Samples(), BatchSize: c.BatchSize(), Batches: c.Batches(),
		Seconds: map[string]float64{"calibration": time.Since(start).Seconds()}}
	if *save != "" {
		if err := c.WriteFile(*save); err != nil {
			return err
		}
		res.State = *save
	}
	if shardN > 0 {
		res.Shard = fmt.Sprintf("%d/%d", shardI, shardN)
		return res.print(stdout, m.json, nil)
	}
	return m.finish(c, res, stdout, stderr)
}

// calibrationGCPercent is the garbage collector's target while quantize
// runs, unless $GOGC sets one. Calibration's garbage is a few large
// buffers per batch (inputs, activations) and its heap holds few
// pointers, so collecting when the heap has grown by 10% instead of Go's
// default 100% costs no measurable CPU time and keeps the peak memory
// near the live memory, which does not grow with the data: resnet18 on
// 256 and 1,024 samples peaks at 649 and 688 MB instead of 996 and 1,227
// MB (BENCHMARKS.md, "Peak memory").
const calibrationGCPercent = 10

// lowGCPercent sets calibrationGCPercent unless $GOGC is set.
func lowGCPercent() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(calibrationGCPercent)
	}
}

// placeFlags are the flags that place the quantizers of a float model
// and choose their format, shared by quantize and finetune (which
// quantizes a float model first).
type placeFlags struct {
	format, exclude, opTypes, exclTypes, weightMethod string
	block                                             int
	residual, actMatMul, perTensor, unsignedReLU      bool
	options                                           quantize.Options // set by check
}

// placeFlagNames are the flags placeFlags registers.
var placeFlagNames = []string{"format", "block", "exclude", "op-types", "exclude-op-types", "residual-add", "activation-matmul",
	"per-tensor-weights", "unsigned-relu", "weight-method"}

func (p *placeFlags) register(fs *flagSet) {
	fs.StringVar(&p.format, "format", "int8", "`FORMAT` of the quantized model: int8 (opset 13), fp8 (E4M3, opset 19) or int4 (weights; opset 21)")
	fs.IntVar(&p.block, "block", 32, "int4: weight block size along the reduction axis (0: per channel)")
	fs.StringVar(&p.exclude, "exclude", "", "leave float the nodes whose name matches `REGEX` (RE2, unanchored)")
	fs.StringVar(&p.opTypes, "op-types", "", "comma-separated op types to quantize (default "+strings.Join(quantize.DefaultOpTypes, ",")+")")
	fs.StringVar(&p.exclTypes, "exclude-op-types", "", "comma-separated op types to leave float")
	fs.BoolVar(&p.residual, "residual-add", false, "quantize the inputs of residual Adds (the shortcut of a Conv's Add), as TensorRT recommends")
	fs.BoolVar(&p.actMatMul, "activation-matmul", false, "quantize both inputs of MatMuls of two computed values (attention)")
	fs.BoolVar(&p.perTensor, "per-tensor-weights", false, "one amax per weight instead of one per output channel")
	fs.BoolVar(&p.unsignedReLU, "unsigned-relu", false, "quantize activations that come from a Relu as UINT8")
	fs.StringVar(&p.weightMethod, "weight-method", "max", "per-channel weight calibration: max, percentile or mse")
}

// check reads the flags into quantize.Options; it returns an error for
// -block without -format int4 and for an -exclude that does not compile.
func (p *placeFlags) check(fs *flagSet) error {
	o := quantize.Options{NodesToExclude: p.exclude, QuantizeResidualAdd: p.residual, QuantizeActivationMatMul: p.actMatMul,
		PerTensorWeights: p.perTensor, UnsignedAfterReLU: p.unsignedReLU, Format: quantize.Format(p.format),
		WeightMethod: calibrators.Method(p.weightMethod), OpTypesToQuantize: splitList(p.opTypes), OpTypesToExclude: splitList(p.exclTypes)}
	if o.Format == quantize.Int4 {
		o.BlockSize = p.block
	} else if isSet(fs, "block") {
		return fmt.Errorf("-block %d is for -format int4 (weights in blocks), not %s", p.block, o.Format)
	}
	if _, err := regexp.Compile(p.exclude); err != nil {
		return fmt.Errorf("-exclude %q: %w", p.exclude, err)
	}
	p.options = o
	return nil
}

// place places the quantizers of the float graph g (quantize.Place) for
// activations calibrated with method; it returns Place's errors and one
// for a method the format cannot use.
func (p *placeFlags) place(g *graph.Graph, method string) (*quantize.Plan, error) {
	plan, err := quantize.Place(g, p.options)
	if err != nil {
		return nil, err
	}
	if p.options.Format == quantize.FP8 && calibrators.Method(method) == calibrators.MethodEntropy {
		return nil, errors.New("-method entropy with -format fp8: the entropy search is defined on integer levels (use max, percentile or mse)")
	}
	return plan, nil
}

// isSet reports whether the flag name was given.
func isSet(fs *flagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

// result is what quantize and merge -model print (-json: as it is).
type result struct {
	Model       string             `json:"model"`
	Output      string             `json:"output,omitempty"`
	State       string             `json:"state,omitempty"`
	Shard       string             `json:"shard,omitempty"`
	Format      string             `json:"format,omitempty"`
	Opset       int                `json:"opset,omitempty"`
	Method      string             `json:"method,omitempty"`
	Percentile  float64            `json:"percentile,omitempty"`
	Samples     int                `json:"samples"`
	BatchSize   int                `json:"batch_size"`
	Batches     int                `json:"batches"`
	Seconds     map[string]float64 `json:"seconds"`
	Quantizers  []quantizerResult  `json:"quantizers,omitempty"`
	Unquantized []unquantized      `json:"unquantized,omitempty"`
	Inexact     []string           `json:"inexact,omitempty"`
	Eval        *evalResult        `json:"eval,omitempty"`
}

type quantizerResult struct {
	Name     string             `json:"name"`
	Node     string             `json:"node"`
	OpType   string             `json:"op_type"`
	Input    int                `json:"input"`
	Value    string             `json:"value"`
	Kind     string             `json:"kind"`
	Axis     *int               `json:"axis,omitempty"`
	Unsigned bool               `json:"unsigned,omitempty"`
	Amax     []float32          `json:"amax"`
	Methods  map[string]float32 `json:"methods,omitempty"`
}

type unquantized struct {
	Node   string `json:"node"`
	OpType string `json:"op_type"`
	Reason string `json:"reason"`
}

type evalResult struct {
	Samples int                `json:"samples"`
	Top1    map[string]float64 `json:"top1"`
	Notes   []string           `json:"notes,omitempty"`
}

// methods are the activation methods the table and the report show.
var methods = []calibrators.Method{calibrators.MethodMax, calibrators.MethodEntropy, calibrators.MethodPercentile, calibrators.MethodMSE}

// finish computes the amax of every method, writes the quantized model
// with the chosen one, the report, the evaluation and the summary.
func (m *modelFlags) finish(c *quantize.Calibration, res *result, stdout, stderr io.Writer) error {
	plan := c.Plan()
	if m.out == "" {
		m.out = qdqPath(res.Model)
	}
	start := time.Now()
	ao := calibrators.AmaxOptions{Percentile: &m.percentile}
	byMethod := map[calibrators.Method][]*tensor.Tensor{}
	for _, meth := range methods {
		a, err := c.Amax(meth, ao)
		if err != nil {
			if meth == calibrators.Method(m.method) {
				return err
			}
			continue // shown as "-" (entropy with FP8)
		}
		byMethod[meth] = a
	}
	amax := byMethod[calibrators.Method(m.method)]
	res.Seconds["amax"] = time.Since(start).Seconds()
	q, err := plan.Apply(amax)
	if err != nil {
		return err
	}
	om, err := export.Graph(q)
	if err != nil {
		return err
	}
	if err := onnx.WriteFile(m.out, om); err != nil {
		return err
	}
	res.Output, res.Format, res.Opset, res.Method = m.out, string(plan.Options.Format), q.Opsets[""], m.method
	if m.method == string(calibrators.MethodPercentile) {
		res.Percentile = m.percentile
	}
	res.Inexact = c.Inexact()
	for i, s := range plan.Sites {
		qr := quantizerResult{Name: s.Name, Node: s.Node, OpType: s.OpType, Input: s.Input, Value: s.Value, Kind: s.Kind.String(),
			Unsigned: s.Unsigned, Amax: amax[i].Data}
		if s.Kind == quantize.Weight {
			axis := s.Axis
			qr.Axis = &axis
		} else {
			qr.Methods = map[string]float32{}
			for meth, a := range byMethod {
				qr.Methods[string(meth)] = a[i].Data[0]
			}
		}
		res.Quantizers = append(res.Quantizers, qr)
	}
	for _, u := range plan.Unquantized {
		res.Unquantized = append(res.Unquantized, unquantized{u.Node, u.OpType, u.Reason})
	}
	if m.report != "" {
		if err := writeQuantReport(m.report, c, res, byMethod); err != nil {
			return err
		}
	}
	if len(m.eval) > 0 {
		ev, err := m.evaluate(plan.Graph(), q, m.out, stderr)
		if err != nil {
			return err
		}
		res.Eval = ev
	}
	return res.print(stdout, m.json, byMethod)
}

// print writes the result: JSON, or a summary and a table of the amax of
// every method per activation quantizer.
func (r *result) print(w io.Writer, asJSON bool, byMethod map[calibrators.Method][]*tensor.Tensor) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	fmt.Fprintf(w, "%s: %d samples in %d batches of %d, calibrated in %.2fs\n", r.Model, r.Samples, r.Batches, r.BatchSize, r.Seconds["calibration"])
	if r.Shard != "" {
		fmt.Fprintf(w, "shard %s saved to %s: merge the shards with tensorquant merge -model MODEL -o OUT.onnx STATES...\n", r.Shard, r.State)
		return nil
	}
	acts, weights := 0, 0
	for _, q := range r.Quantizers {
		if q.Kind == "weight" {
			weights++
		} else {
			acts++
		}
	}
	fmt.Fprintf(w, "%d quantizers (%d activations, %d weights), %s, opset %d; %d compute nodes left float\n\n", len(r.Quantizers), acts, weights, r.Format, r.Opset, len(r.Unquantized))
	width := len("quantizer")
	for _, q := range r.Quantizers {
		width = max(width, len(q.Name))
	}
	fmt.Fprintf(w, "%-*s", width, "quantizer")
	for _, meth := range methods {
		mark := " "
		if string(meth) == r.Method {
			mark = "*"
		}
		fmt.Fprintf(w, "  %-13s", string(meth)+mark)
	}
	fmt.Fprintln(w)
	for _, q := range r.Quantizers {
		fmt.Fprintf(w, "%-*s", width, q.Name)
		if q.Kind == "weight" {
			lo, hi := slices.Min(q.Amax), slices.Max(q.Amax)
			if len(q.Amax) == 1 {
				fmt.Fprintf(w, "  weight, per tensor: %s\n", fmtAmax(hi))
			} else {
				fmt.Fprintf(w, "  weight, %d channels: %s to %s\n", len(q.Amax), fmtAmax(lo), fmtAmax(hi))
			}
			continue
		}
		for _, meth := range methods {
			v, ok := q.Methods[string(meth)]
			s := "-"
			if ok {
				s = fmtAmax(v)
			}
			fmt.Fprintf(w, "  %-13s", s)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nwrote %s (%s", r.Output, r.Method)
	if r.Percentile != 0 {
		fmt.Fprintf(w, " %g", r.Percentile)
	}
	fmt.Fprintln(w, ")")
	for _, why := range r.Inexact {
		fmt.Fprintf(w, "note: the merged shards may differ from one run: %s\n", why)
	}
	if r.Eval != nil {
		fmt.Fprintf(w, "\ntop-1 on %d samples:\n", r.Eval.Samples)
		for _, k := range []string{"float", "quantized", "ort_quantized", "ort_quantized_optimized"} {
			if v, ok := r.Eval.Top1[k]; ok {
				fmt.Fprintf(w, "  %-42s %6.2f%%\n", evalLabels[k], 100*v)
			}
		}
		for _, n := range r.Eval.Notes {
			fmt.Fprintf(w, "  (%s)\n", n)
		}
	}
	return nil
}

var evalLabels = map[string]string{
	"float":                   "float model (tensorquant)",
	"quantized":               "quantized model (tensorquant)",
	"ort_quantized":           "quantized file in ONNX Runtime (op by op)",
	"ort_quantized_optimized": "quantized file in ONNX Runtime (optimized)",
}

// writeQuantReport writes the HTML report: a table of every quantizer's
// amax and, per calibrated tensor, its histogram with each method's amax.
func writeQuantReport(path string, c *quantize.Calibration, res *result, byMethod map[calibrators.Method][]*tensor.Tensor) error {
	plan := c.Plan()
	r := report.Report{
		Title: "tensorquant quantize: " + filepath.Base(res.Model),
		Notes: []string{fmt.Sprintf("%d samples in %d batches of %d; %s, opset %d; written with %s to %s.", res.Samples, res.Batches, res.BatchSize,
			res.Format, res.Opset, res.Method, res.Output)},
		Table: report.Table{Columns: []string{"quantizer", "kind"}},
	}
	for _, meth := range methods {
		r.Table.Columns = append(r.Table.Columns, string(meth))
	}
	for _, q := range res.Quantizers {
		row := []string{q.Name, q.Kind}
		for _, meth := range methods {
			switch v, ok := q.Methods[string(meth)]; {
			case q.Kind == "weight" && meth == calibrators.MethodMax:
				row = append(row, fmt.Sprintf("%d: %s to %s", len(q.Amax), fmtAmax(slices.Min(q.Amax)), fmtAmax(slices.Max(q.Amax))))
			case ok:
				row = append(row, fmtAmax(v))
			default:
				row = append(row, "")
			}
		}
		r.Table.Rows = append(r.Table.Rows, row)
	}
	for g, grp := range plan.Groups {
		h := c.Histogram(g)
		var names []string
		first := -1
		for i, s := range plan.Sites {
			if s.Group == g {
				names = append(names, s.Name)
				if first < 0 {
					first = i
				}
			}
		}
		hist := report.Histogram{Name: strings.Join(names, ", ") + " (" + grp.Value + ")", Counts: h.Counts(), Edges: h.Edges()}
		for _, meth := range methods {
			if a, ok := byMethod[meth]; ok {
				hist.Amax = append(hist.Amax, report.Marker{Label: string(meth), Value: float64(a[first].Data[0])})
			}
		}
		r.Quantizers = append(r.Quantizers, hist)
	}
	return report.WriteFile(path, r)
}

// evaluate returns the top-1 accuracy of the float graph and of the
// quantized graph q (written to path) on the -eval data, with ONNX
// Runtime's on the written file when tools/onnxcheck is found.
func (m *modelFlags) evaluate(float, q *graph.Graph, path string, stderr io.Writer) (*evalResult, error) {
	fo, err := m.data.options()
	if err != nil {
		return nil, err
	}
	data, err := quantize.OpenFiles(float, m.eval, fo)
	if err != nil {
		return nil, err
	}
	defer data.Close()
	labels := m.labelValues
	if labels == nil {
		if labels, err = readLabels(m.labels); err != nil {
			return nil, err
		}
	}
	if len(labels) != data.Len() {
		return nil, fmt.Errorf("-labels %s: %d labels for %d samples", m.labels, len(labels), data.Len())
	}
	ev := &evalResult{Samples: data.Len(), Top1: map[string]float64{}}
	for _, c := range []struct {
		key string
		g   *graph.Graph
	}{{"float", float}, {"quantized", q}} {
		acc, err := top1(c.g, data, labels, progress.New(m.progressTo(stderr), "eval "+c.key, data.Len()))
		if err != nil {
			return nil, err
		}
		ev.Top1[c.key] = acc
	}
	dir, why := onnxcheckDir()
	if dir == "" {
		ev.Notes = append(ev.Notes, "ONNX Runtime not run: "+why)
		return ev, nil
	}
	tmp, err := os.MkdirTemp("", "tensorquant-eval")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	feeds, err := data.Read(0, data.Len())
	if err != nil {
		return nil, err
	}
	var inputs []string
	for _, in := range float.Inputs {
		a, err := arrayOf(feeds[in.Name])
		if err != nil {
			return nil, err
		}
		p := filepath.Join(tmp, fmt.Sprintf("in%d.npy", len(inputs)))
		if err := npy.WriteArrayFile(p, a); err != nil {
			return nil, err
		}
		inputs = append(inputs, in.Name+"="+p)
	}
	for _, c := range []struct{ key, opt string }{{"ort_quantized", "disabled"}, {"ort_quantized_optimized", "all"}} {
		out := filepath.Join(tmp, c.opt)
		args := append([]string{filepath.Join(dir, "ort-npy.js"), "--opt=" + c.opt, "--threads=" + strconv.Itoa(runtime.GOMAXPROCS(0)), "-o", out, path}, inputs...)
		if b, err := exec.Command("node", args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ONNX Runtime on %s: %v: %s", path, err, strings.TrimSpace(string(b)))
		}
		logits, err := npy.ReadFile(filepath.Join(out, outputFile(q.Outputs[0].Name)))
		if err != nil {
			return nil, err
		}
		correct, err := countCorrect(logits, labels, 0)
		if err != nil {
			return nil, fmt.Errorf("ONNX Runtime's output: %w", err)
		}
		ev.Top1[c.key] = float64(correct) / float64(len(labels))
	}
	return ev, nil
}

// onnxcheckDir returns tools/onnxcheck, from $TENSORQUANT_ONNXCHECK or the
// current directory and its parents, when ONNX Runtime is installed there
// and node runs; else "" and why not.
func onnxcheckDir() (string, string) {
	if _, err := exec.LookPath("node"); err != nil {
		return "", "node is not installed"
	}
	var cands []string
	if d := os.Getenv("TENSORQUANT_ONNXCHECK"); d != "" {
		cands = append(cands, d)
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			cands = append(cands, filepath.Join(d, "tools", "onnxcheck"))
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, d := range cands {
		if _, err := os.Stat(filepath.Join(d, "node_modules", "onnxruntime-node")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "ort-npy.js")); err == nil {
				return d, ""
			}
		}
	}
	return "", "tools/onnxcheck with onnxruntime-node not found here or above (set TENSORQUANT_ONNXCHECK)"
}

// readLabelArray reads a file of labels or targets: a .npy array, or an
// IDX file of integers (as int64).
func readLabelArray(path string) (*npy.Array, error) {
	a, err := npy.ReadArrayFile(path)
	if err == nil || !errors.Is(err, npy.ErrFormat) {
		return a, err
	}
	ia, err := idx.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: neither a .npy nor an IDX file of labels: %w", path, err)
	}
	ints, err := ia.Ints()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	v := make([]int64, len(ints))
	for i, x := range ints {
		v[i] = int64(x)
	}
	return npy.New(v, ia.Shape...)
}

// readLabels reads class labels: a .npy array of integers or an IDX file.
func readLabels(path string) ([]int, error) {
	a, err := readLabelArray(path)
	if err != nil {
		return nil, err
	}
	v, err := npy.Values[int64](a)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out, nil
}

// readTargets reads training targets: class labels (a .npy array of
// integers, or an IDX file) as INT64, or values (a .npy array of floats,
// for the mean squared error) as FLOAT.
func readTargets(path string) (*graph.Tensor, error) {
	a, err := readLabelArray(path)
	if err != nil {
		return nil, err
	}
	dt := onnx.Int64
	if a.DType == npy.Float32 || a.DType == npy.Float64 {
		dt = onnx.Float
	}
	t, err := quantize.FromArray(a, dt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// top1 runs g over the data in batches of evalBatch, a batch per core at
// once, and returns the fraction of samples whose largest output (the
// first output, [N, classes]) is at the label.
func top1(g *graph.Graph, data quantize.Data, labels []int, bar *progress.Bar) (float64, error) {
	const evalBatch = 256
	workers := runtime.GOMAXPROCS(0)
	// The float path: what the QDQ graph defines, equal to ONNX Runtime
	// node by node (the int8 path is within a step or two of it).
	s, err := graph.NewSession(g, graph.Options{Threads: 1, Float: true})
	if err != nil {
		return 0, err
	}
	type job struct {
		lo    int
		feeds map[string]*graph.Tensor
	}
	jobs := make(chan job)
	var (
		mu      sync.Mutex
		correct int
		done    int
		first   error
		wg      sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				out, err := s.Run(j.feeds)
				var n int
				if err == nil {
					var logits *tensor.Tensor
					if logits, err = out[g.Outputs[0].Name].AsFloat(); err == nil {
						n, err = countCorrect(logits, labels, j.lo)
					}
				}
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				correct += n
				done += samplesOf(j.feeds)
				bar.Update(done, "")
				mu.Unlock()
			}
		}()
	}
	for lo := 0; lo < data.Len(); lo += evalBatch {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			break
		}
		feeds, err := data.Read(lo, min(data.Len(), lo+evalBatch))
		if err != nil {
			mu.Lock()
			first = err
			mu.Unlock()
			break
		}
		jobs <- job{lo, feeds}
	}
	close(jobs)
	wg.Wait()
	bar.Done("")
	if first != nil {
		return 0, first
	}
	return float64(correct) / float64(len(labels)), nil
}

// samplesOf returns the number of samples of a batch of feeds.
func samplesOf(feeds map[string]*graph.Tensor) int {
	for _, t := range feeds {
		return t.Shape[0]
	}
	return 0
}

// countCorrect counts the rows of logits [n, classes] whose largest value
// (the first of equal ones) is at labels[lo+row].
func countCorrect(logits *tensor.Tensor, labels []int, lo int) (int, error) {
	if len(logits.Shape) != 2 || lo+logits.Shape[0] > len(labels) {
		return 0, fmt.Errorf("top-1 needs logits of shape [samples, classes], the model's output is %v", logits.Shape)
	}
	n, k := logits.Shape[0], logits.Shape[1]
	correct := 0
	for i := range n {
		row := logits.Data[i*k : (i+1)*k]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == labels[lo+i] {
			correct++
		}
	}
	return correct, nil
}
