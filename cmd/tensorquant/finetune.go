package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/graph"
	"github.com/tensorquant/tensorquant/internal/cli/progress"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/onnx/export"
	"github.com/tensorquant/tensorquant/quantize"
)

// runFinetune fine-tunes an ONNX model (quantization-aware when it is a
// QDQ model, or a float model that -method quantizes first) on a data set
// and writes it back as ONNX.
func runFinetune(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("finetune", "-data X.npy -labels Y.npy -o OUT.onnx [flags] MODEL.qdq.onnx",
		"tensorquant finetune -data train_x.npy -labels train_y.npy -epochs 2 -lr 1e-4 -o model.ft.onnx model.qdq.onnx\n\n"+
			"Quantization-aware fine-tuning with the original toolkit's recipe: about 10% of the\n"+
			"model's original training schedule (-epochs) at 1% of its learning rate (-lr),\n"+
			"annealed along a cosine to 1% of that over the run, batch by batch. The weights\n"+
			"and biases of Conv, ConvTranspose, Gemm and MatMul, the scale and bias of\n"+
			"BatchNormalization and LayerNormalization and the biases added after a MatMul\n"+
			"train (weights stored as integer codes train as floats and are quantized again);\n"+
			"the scales of every QuantizeLinear/DequantizeLinear pair stay fixed and their\n"+
			"gradient is the original's straight-through one. BatchNormalization keeps its\n"+
			"running statistics. The output is the model with the trained weights, node for\n"+
			"node, which ONNX Runtime runs.\n\n"+
			"-data holds the inputs, samples along the first axis, as quantize -calib reads them: a\n"+
			".npy file, a .npz archive with one array per input name, a directory of those, an IDX\n"+
			"file (MNIST family, plain or gzip), or raw float32 with -shape (one sample's dims), once\n"+
			"per input as NAME=FILE for a model of several; -preprocess SCALE:SHIFT computes\n"+
			"x*SCALE+SHIFT first (per channel with comma-separated lists: 0.017,0.018,0.017:-2.1,-2.0,-1.8),\n"+
			"as quantize does.\n"+
			"-labels holds the targets: class labels (.npy of integers or IDX) for a\n"+
			"classifier (cross-entropy on the output [N, C]), or float values of the\n"+
			"output's shape (.npy; mean squared error), for example an encoder's float\n"+
			"outputs written by tensorquant run.\n\n"+
			"A float model is fine-tuned as it is, or, with -method, quantized first as\n"+
			"tensorquant quantize quantizes it (the same placement and -format flags; calibrated\n"+
			"on -calib, default the -data files, in batches of -calib-batch) and then fine-tuned\n"+
			"quantization-aware: the original toolkit's workflow, calibrate and then fine-tune.\n"+
			"  tensorquant finetune -method percentile -data train_x.npy -labels train_y.npy -o model.ft.onnx model.onnx", stdout)
	var data listFlag
	fs.Var(&data, "data", "the training inputs `FILE` (.npy, .npz, directory, IDX, or raw float32 with -shape), or NAME=FILE per model input")
	labelsPath := fs.String("labels", "", "the training targets `FILE`: class labels (.npy integers or IDX), or output values (.npy floats)")
	out := fs.String("o", "", "write the fine-tuned model to `OUT.onnx`")
	epochs := fs.Int("epochs", 1, "epochs over the data (the recipe: about 10% of the original training's)")
	lr := fs.Float64("lr", 1e-4, "learning rate at the start (the recipe: 1% of the original training's); annealed to 1% of it")
	batch := fs.Int("batch", 32, "samples per step")
	optName := fs.String("optimizer", "sgd", "sgd (momentum -momentum) or adam")
	momentum := fs.Float64("momentum", 0.9, "SGD momentum")
	decay := fs.Float64("weight-decay", 0, "L2 weight decay")
	seed := fs.Uint64("seed", 1, "seed of the sample shuffling")
	threads := fs.Int("threads", 0, "bound the cores used to `N` (0: all)")
	var df dataFlags
	df.register(fs)
	outName := fs.String("output", "", "the graph output the loss is computed on (default: the first)")
	maxMem := fs.Int64("max-memory", 0, "bound the `BYTES` one step holds (its activations and gradients; 0: max(1 GiB, 64 × the weights and the batch), -1: none)")
	jsonOut := fs.Bool("json", false, "print the summary as JSON")
	quiet := fs.Bool("quiet", false, "no progress on stderr")
	var (
		m          modelFlags // -method and -percentile
		place      placeFlags
		calib      listFlag
		calibBatch = fs.Int("calib-batch", quantize.DefaultBatchSize, "with -method: samples per calibration batch, in file order (quantize's -batch)")
		workers    = fs.Int("workers", 0, "with -method: batches calibrated at once (0: one per core); the result does not depend on it")
	)
	fs.StringVar(&m.method, "method", "", "quantize the float model first, calibrating its activations with `METHOD`: max, entropy, percentile or mse")
	m.registerPercentile(fs)
	place.register(fs)
	fs.Var(&calib, "calib", "with -method: calibration data `FILE` as quantize -calib takes it (default: the -data file)")
	if err := fs.parseModel(args, threads); err != nil {
		return err
	}
	if m.method != "" {
		if err := m.check(); err != nil {
			return err
		}
	} else {
		for _, name := range append(slices.Clone(placeFlagNames), "percentile", "calib", "calib-batch", "workers") {
			if isSet(fs, name) {
				return fmt.Errorf("-%s is for quantizing a float model first: give -method", name)
			}
		}
	}
	switch {
	case len(data) == 0:
		return errors.New("no training data: give -data FILE")
	case *labelsPath == "":
		return errors.New("no targets: give -labels FILE")
	case *out == "":
		return errors.New("no output file: give -o OUT.onnx")
	case *epochs < 1:
		return fmt.Errorf("-epochs %d: want at least 1", *epochs)
	case !(*lr > 0) || *lr > 1e6:
		return fmt.Errorf("-lr %v: want a positive learning rate", *lr)
	case *batch < 1:
		return fmt.Errorf("-batch %d: want at least 1", *batch)
	case *optName != "sgd" && *optName != "adam":
		return fmt.Errorf("-optimizer %q: want sgd or adam", *optName)
	case *calibBatch < 1:
		return fmt.Errorf("-calib-batch %d: want at least 1", *calibBatch)
	case *workers < 0:
		return fmt.Errorf("-workers %d is negative", *workers)
	}
	if err := place.check(fs); err != nil {
		return err
	}
	// Before the training run, not after it: the directory the output
	// goes to must exist.
	if st, err := os.Stat(filepath.Dir(*out)); err != nil || !st.IsDir() {
		return fmt.Errorf("-o %s: %s is not a directory", *out, filepath.Dir(*out))
	}
	fo, err := df.options()
	if err != nil {
		return err
	}
	if *threads > 0 {
		runtime.GOMAXPROCS(*threads)
	}
	var w io.Writer = stderr
	if *quiet {
		w = nil
	}
	var (
		g   *graph.Graph
		ptq *quantize.Calibration
	)
	if m.method == "" {
		g, err = graph.ImportFileRaw(fs.Arg(0))
	} else {
		if len(calib) == 0 {
			calib = data
		}
		g, ptq, err = quantizeFirst(fs.Arg(0), &m, &place, calib, fo, quantize.CalibrateOptions{BatchSize: *calibBatch, Workers: *workers}, w)
	}
	if err != nil {
		return err
	}
	tr, err := graph.NewTrainer(g, graph.TrainOptions{Threads: *threads, Output: *outName, MaxMemory: *maxMem})
	if err != nil {
		return err
	}
	inputs, err := readAll(&graph.Graph{Inputs: tr.Inputs()}, data, fo)
	if err != nil {
		return err
	}
	target, err := readTargets(*labelsPath)
	if err != nil {
		return err
	}
	n := inputs[tr.Inputs()[0].Name].Shape[0]
	if len(target.Shape) == 0 || target.Shape[0] != n {
		return fmt.Errorf("%s: %v targets for %d samples", *labelsPath, target.Shape, n)
	}
	params := tr.Params()
	var opt layers.Optimizer
	if *optName == "adam" {
		c := layers.DefaultAdam(*lr)
		c.WeightDecay = *decay
		opt, err = layers.NewAdam(params, c)
	} else {
		opt, err = layers.NewSGD(params, layers.SGDConfig{LR: *lr, Momentum: *momentum, WeightDecay: *decay})
	}
	if err != nil {
		return err
	}
	steps := (n + *batch - 1) / *batch
	bar := progress.New(w, "finetune", *epochs*steps)
	start := time.Now()
	losses, err := tr.Fit(inputs, target, layers.FitConfig{Epochs: *epochs, BatchSize: *batch, Optimizer: opt, Seed: *seed,
		BatchSchedule: layers.NewCosineAnnealing(*lr, *epochs*steps),
		Progress: func(p layers.Progress) {
			bar.Update(p.Epoch*p.Batches+p.Batch, fmt.Sprintf("epoch %d/%d loss %.4f", p.Epoch+1, p.Epochs, p.EpochLoss))
		}})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	bar.Done(fmt.Sprintf("loss %.4f", losses[len(losses)-1]))
	trained, err := tr.Trained()
	if err != nil {
		return err
	}
	om, err := export.Graph(trained)
	if err != nil {
		return err
	}
	if err := onnx.WriteFile(*out, om); err != nil {
		return err
	}
	summary := struct {
		Model      string    `json:"model"`
		Output     string    `json:"output"`
		Samples    int       `json:"samples"`
		Epochs     int       `json:"epochs"`
		Batch      int       `json:"batch"`
		Optimizer  string    `json:"optimizer"`
		LR         float64   `json:"lr"`
		Params     []string  `json:"params"`
		EpochLoss  []float64 `json:"epoch_loss"`
		Seconds    float64   `json:"seconds"`
		PerSecond  float64   `json:"samples_per_second"`
		Parameters int       `json:"parameter_values"`
		Method     string    `json:"method,omitempty"`
		Quantizers int       `json:"quantizers,omitempty"`
		Calibrated int       `json:"calibration_samples,omitempty"`
	}{Model: fs.Arg(0), Output: *out, Samples: n, Epochs: *epochs, Batch: *batch, Optimizer: *optName, LR: *lr,
		EpochLoss: losses, Seconds: elapsed.Seconds(), PerSecond: float64(n**epochs) / elapsed.Seconds(), Method: m.method}
	if ptq != nil {
		summary.Quantizers, summary.Calibrated = len(ptq.Plan().Sites), ptq.Samples()
	}
	for _, p := range params {
		summary.Params = append(summary.Params, p.Name)
		summary.Parameters += len(p.Value.Data)
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", " ")
		return enc.Encode(summary)
	}
	if ptq != nil {
		fmt.Fprintf(stdout, "quantized %s first: %d quantizers, %s, calibrated with %s on %d samples\n", fs.Arg(0), summary.Quantizers,
			place.options.Format, m.method, summary.Calibrated)
	}
	fmt.Fprintf(stdout, "fine-tuned %d parameters (%d values) on %d samples: %d epoch(s) of %d steps, batch %d, %s lr %g (cosine to %g)\n",
		len(params), summary.Parameters, n, *epochs, steps, *batch, *optName, *lr, *lr/100)
	loss := make([]string, len(losses))
	for i, l := range losses {
		loss[i] = fmt.Sprintf("%.4f", l)
	}
	fmt.Fprintf(stdout, "epoch loss: %s\n", strings.Join(loss, " "))
	fmt.Fprintf(stdout, "%.1f samples/s (%.2fs); wrote %s\n", summary.PerSecond, summary.Seconds, *out)
	return nil
}

// quantizeFirst quantizes the float model in path as tensorquant quantize
// does with the same flags (placement, calibration on the data files
// specs, the amax of m's method) and returns the quantized model as
// graph.ImportFileRaw would read it from the file quantize writes, with
// its calibration. Progress goes to w (nil: none).
func quantizeFirst(path string, m *modelFlags, place *placeFlags, specs []string, fo quantize.FileOptions, co quantize.CalibrateOptions,
	w io.Writer) (*graph.Graph, *quantize.Calibration, error) {
	g, err := graph.ImportFile(path)
	if err != nil {
		return nil, nil, err
	}
	plan, err := place.place(g, m.method)
	if err != nil {
		return nil, nil, err
	}
	data, err := quantize.OpenFiles(g, specs, fo)
	if err != nil {
		return nil, nil, err
	}
	defer data.Close()
	bar := progress.New(w, "calibrate", (data.Len()+co.BatchSize-1)/co.BatchSize)
	co.Progress = func(done, _ int) { bar.Update(done, "") }
	om, c, err := calibrateApply(plan, data, co, calibrators.Method(m.method), calibrators.AmaxOptions{Percentile: &m.percentile})
	if err != nil {
		return nil, nil, err
	}
	bar.Done(fmt.Sprintf("%d samples", data.Len()))
	raw, err := graph.ImportRaw(om)
	if err != nil {
		return nil, nil, err
	}
	return raw, c, nil
}

// calibrateApply calibrates plan's activations on data with co, computes
// every quantizer's amax with method and o, and returns the QDQ model
// (plan.Apply written by export.Graph) with the calibration. It returns
// the errors of those steps.
func calibrateApply(plan *quantize.Plan, data quantize.Data, co quantize.CalibrateOptions, method calibrators.Method, o calibrators.AmaxOptions) (*onnx.Model, *quantize.Calibration, error) {
	c, err := plan.Calibrate(data, co)
	if err != nil {
		return nil, nil, err
	}
	amax, err := c.Amax(method, o)
	if err != nil {
		return nil, nil, err
	}
	q, err := plan.Apply(amax)
	if err != nil {
		return nil, nil, err
	}
	om, err := export.Graph(q)
	if err != nil {
		return nil, nil, err
	}
	return om, c, nil
}

// readAll reads every sample of the inputs of g from the data files specs
// (quantize.OpenFiles) into memory.
func readAll(g *graph.Graph, specs []string, o quantize.FileOptions) (map[string]*graph.Tensor, error) {
	data, err := quantize.OpenFiles(g, specs, o)
	if err != nil {
		return nil, err
	}
	defer data.Close()
	if data.Len() == 0 {
		return nil, fmt.Errorf("no samples in %s", strings.Join(specs, " "))
	}
	return data.Read(0, data.Len())
}
