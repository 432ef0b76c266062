package main

import (
	"fmt"
	"io"
	"time"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/quantize"
)

// The calibration data of bench models -int8: calibSamples standard-normal
// samples (seed calibSeed, not the timed inputs' 7) in batches of
// calibBatch.
const (
	calibSamples = 8
	calibBatch   = 4
	calibSeed    = 8
)

// int8Model is a reference model quantized by bench models: the QDQ file
// written and which of its layers our integer path runs in int8.
type int8Model struct {
	Model string `json:"model"`
	Path  string `json:"-"`
	// Quantizers is the number of Q/DQ pairs Place put in.
	Quantizers int `json:"quantizers"`
	// Arithmetic is what tensorquant run -bench says of the QDQ model:
	// "int8 in N of M quantized layers (...)".
	Arithmetic string  `json:"arithmetic"`
	Seconds    float64 `json:"quantize_seconds"`
}

// int8Config is one cell of the int8 tables: the quantized model at the
// batch size and thread count of a float row, whose our and ONNX
// Runtime's fp32 figures the ratios use.
type int8Config struct {
	Model   string `json:"model"`
	Batch   int    `json:"batch"`
	Threads int    `json:"threads"`
	// Items per second in each round and their medians: our session on
	// the QDQ model on the integer path (graph.Options default) and on
	// the float path (Options.Float), ONNX Runtime on the QDQ file.
	Int8        []float64 `json:"int8_items_per_s"`
	QDQFloat    []float64 `json:"qdq_float_items_per_s"`
	ORTQDQ      []float64 `json:"ort_qdq_items_per_s"`
	Int8Med     float64   `json:"int8"`
	QDQFloatMed float64   `json:"qdq_float"`
	ORTQDQMed   float64   `json:"ort_qdq"`
	// Fastest single run of all rounds, as in the float rows.
	Int8Best     float64 `json:"int8_best"`
	QDQFloatBest float64 `json:"qdq_float_best"`
	ORTQDQBest   float64 `json:"ort_qdq_best"`
	// The ratios of the medians: our int8 over our fp32 (the float row's
	// OursMed), and over ONNX Runtime's faster path, ORTFaster ("fp32"
	// for the float model, "qdq" for the QDQ file); 0 and "" where a
	// figure is missing.
	Int8VsFP32 float64 `json:"int8_vs_fp32"`
	Int8VsORT  float64 `json:"int8_vs_ort"`
	ORTFaster  string  `json:"ort_faster,omitempty"`
	fp32       *modelConfig
	int8, flt  *modelConfig
}

// quantizeForBench quantizes the float model name in path with quantize's
// defaults (Place with the default placement, Calibrate on calibSamples
// seeded samples, amax "max", Apply), writes the QDQ model to out and
// returns what it made. It returns the errors of those steps, of reading
// the model and of writing out.
func quantizeForBench(name, path, out string) (*int8Model, error) {
	start := time.Now()
	g, err := graph.ImportFile(path)
	if err != nil {
		return nil, err
	}
	plan, err := quantize.Place(g, quantize.Options{})
	if err != nil {
		return nil, err
	}
	feeds, err := benchInputs(g, calibSamples, calibSeed)
	if err != nil {
		return nil, err
	}
	data, err := quantize.Tensors(feeds)
	if err != nil {
		return nil, err
	}
	om, _, err := calibrateApply(plan, data, quantize.CalibrateOptions{BatchSize: calibBatch}, calibrators.MethodMax, calibrators.AmaxOptions{})
	if err != nil {
		return nil, err
	}
	if err := onnx.WriteFile(out, om); err != nil {
		return nil, err
	}
	q, err := graph.ImportFile(out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", out, err)
	}
	s, err := graph.NewSession(q, graph.Options{Threads: 1})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", out, err)
	}
	return &int8Model{Model: name, Path: out, Quantizers: len(plan.Sites), Arithmetic: arithmetic(s, false),
		Seconds: time.Since(start).Seconds()}, nil
}

// newInt8Config makes the int8 cell of the float row c: sessions on the
// QDQ model of m on the integer and the float path with c's threads, fed
// c's input. It returns the errors of importing the file and of
// graph.NewSession.
func newInt8Config(m *int8Model, c *modelConfig) (*int8Config, error) {
	q := &int8Config{Model: c.Model, Batch: c.Batch, Threads: c.Threads, fp32: c}
	for _, float := range []bool{false, true} {
		g, err := graph.ImportFile(m.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		s, err := graph.NewSession(g, graph.Options{Threads: c.Threads, Float: float})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		v := &modelConfig{Model: c.Model, Batch: c.Batch, Threads: c.Threads, session: s, feeds: c.feeds,
			npyPath: c.npyPath, onnxPath: m.Path}
		if float {
			q.flt = v
		} else {
			q.int8 = v
		}
	}
	return q, nil
}

// int8Of returns the int8 cell of the float row c, nil if none.
func int8Of(cells []*int8Config, c *modelConfig) *int8Config {
	for _, q := range cells {
		if q.fp32 == c {
			return q
		}
	}
	return nil
}

// time measures one round of the cell: our integer path, our float path,
// then (if ort) ONNX Runtime on the QDQ file with script, each as the
// float rows are measured. It returns the engines' errors.
func (q *int8Config) time(d time.Duration, ort bool, script string) error {
	ips, best, lat, err := timeOurs(q.int8, d)
	if err != nil {
		return fmt.Errorf("%s batch %d int8: %w", q.Model, q.Batch, err)
	}
	q.Int8, q.Int8Best = append(q.Int8, ips), max(q.Int8Best, best)
	if ips, best, _, err = timeOurs(q.flt, d); err != nil {
		return fmt.Errorf("%s batch %d qdq-float: %w", q.Model, q.Batch, err)
	}
	q.QDQFloat, q.QDQFloatBest = append(q.QDQFloat, ips), max(q.QDQFloatBest, best)
	if ort {
		if ips, best, err = timeORT(script, q.int8, max(10, int(d/max(lat, time.Microsecond)))); err != nil {
			return err
		}
		q.ORTQDQ, q.ORTQDQBest = append(q.ORTQDQ, ips), max(q.ORTQDQBest, best)
	}
	return nil
}

// summarize sets the medians and the ratios once every round ran (and
// the float row's medians are set).
func (q *int8Config) summarize() {
	q.Int8Med, q.QDQFloatMed, q.ORTQDQMed = median(q.Int8), median(q.QDQFloat), median(q.ORTQDQ)
	if q.fp32.OursMed > 0 {
		q.Int8VsFP32 = q.Int8Med / q.fp32.OursMed
	}
	if path, v := fasterORT(q.fp32.ORTMed, q.ORTQDQMed); v > 0 {
		q.Int8VsORT, q.ORTFaster = q.Int8Med/v, path
	}
}

// fasterORT returns ONNX Runtime's faster path of the two items/s, fp32
// (the float model) or qdq (the QDQ file), and its items/s; "" and 0
// when neither ran.
func fasterORT(fp32, qdq float64) (string, float64) {
	switch {
	case fp32 == 0 && qdq == 0:
		return "", 0
	case qdq > fp32:
		return "qdq", qdq
	}
	return "fp32", fp32
}

// printInt8Table prints the int8 tables (medians, then fastest runs) and
// the int8 layers of each quantized model; nothing without -int8.
func printInt8Table(w io.Writer, res *benchModelsResult) {
	if len(res.Int8) == 0 {
		return
	}
	fmt.Fprintf(w, "int8: each model quantized at run time (Place, Calibrate on %d seeded N(0, 1) samples, amax max, Apply); the QDQ file on our integer path (int8), our float path (qdq-float) and in ORT\n", calibSamples)
	for _, best := range []bool{false, true} {
		if best {
			fmt.Fprintf(w, "int8 items/s of the fastest single run of all rounds\n")
		} else {
			fmt.Fprintf(w, "int8 items/s (batch / median latency), median of %d interleaved rounds; int8/ORT against ORT's faster path\n", res.Rounds)
		}
		fmt.Fprintf(w, "%-14s %5s %7s %11s %11s %11s %11s %11s %9s %9s %8s\n", "model", "batch", "threads",
			"ours fp32", "ours int8", "qdq-float", "ORT fp32", "ORT QDQ", "int8/fp32", "int8/ORT", "ORT path")
		for _, q := range res.Int8 {
			fp32, i8, flt, ortF, ortQ := q.fp32.OursMed, q.Int8Med, q.QDQFloatMed, q.fp32.ORTMed, q.ORTQDQMed
			if best {
				fp32, i8, flt, ortF, ortQ = q.fp32.OursBest, q.Int8Best, q.QDQFloatBest, q.fp32.ORTBest, q.ORTQDQBest
			}
			path, ortV := fasterORT(ortF, ortQ)
			if path == "" {
				path = "-"
			}
			fmt.Fprintf(w, "%-14s %5d %7d %11s %11s %11s %11s %11s %9s %9s %8s\n", q.Model, q.Batch, q.Threads,
				num(fp32), num(i8), num(flt), num(ortF), num(ortQ), ratio(i8, fp32), ratio(i8, ortV), path)
		}
	}
	for _, m := range res.Quantized {
		fmt.Fprintf(w, "quantized %s: %d quantizers; %s\n", m.Model, m.Quantizers, m.Arithmetic)
	}
}
