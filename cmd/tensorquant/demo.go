package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/data/digits"
	"github.com/tensorquant/tensorquant/fakequant"
	"github.com/tensorquant/tensorquant/internal/atomicfile"
	"github.com/tensorquant/tensorquant/internal/cli/progress"
	"github.com/tensorquant/tensorquant/internal/cli/report"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/onnx"
	"github.com/tensorquant/tensorquant/onnx/export"
	"github.com/tensorquant/tensorquant/tensor"
)

// seedX is torch.rand(10) after torch.manual_seed(12345), the example of the
// original toolkit's documentation, as literal float32 values.
var seedX = []float32{0.9817181825637817, 0.8796065449714661, 0.992143452167511, 0.461067259311676,
	0.08321595191955566, 0.17843109369277954, 0.36743152141571045, 0.5676497220993042,
	0.3376067280769348, 0.21194660663604736}

// demoConfig holds the demo's flags.
type demoConfig struct {
	out, report  string
	epochs, bits int
	seed         uint64
	quiet, json  bool
}

// demoRow is one line of the result table.
type demoRow struct {
	Method    string  `json:"method"`
	Top1      float64 `json:"top1"`
	Delta     float64 `json:"delta_vs_float"`
	Seconds   float64 `json:"seconds"`
	ONNXBytes int64   `json:"onnx_bytes,omitempty"`
	Note      string  `json:"note,omitempty"`
}

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "[flags]", "tensorquant demo -out /tmp/demo -report /tmp/demo/report.html", stdout)
	var c demoConfig
	fs.StringVar(&c.out, "out", ".", "`DIR` for tensorquant-demo.onnx")
	fs.StringVar(&c.report, "report", "", "write the calibration report (histograms, amax of each method, accuracy table) to `FILE`")
	fs.IntVar(&c.epochs, "epochs", 10, "float training epochs (fine-tuning takes 10% of them)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the weights, the data split and the shuffling")
	fs.IntVar(&c.bits, "bits", 8, "activation and weight bit width of the post-training rows")
	fs.BoolVar(&c.quiet, "quiet", false, "print only the result table (no seed example, no progress)")
	fs.BoolVar(&c.json, "json", false, "print the result table as JSON (implies -quiet)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := checkEpochs(c.epochs); err != nil {
		return err
	}
	if c.bits < 2 || c.bits > 16 {
		return fmt.Errorf("-bits %d out of range [2, 16]", c.bits)
	}
	if st, err := os.Stat(c.out); err != nil || !st.IsDir() {
		return fmt.Errorf("-out %s is not a directory", c.out)
	}
	if c.json {
		c.quiet = true
	}
	var log io.Writer = stderr
	if c.quiet {
		log = nil
	} else if err := seedExample(stdout, c.bits); err != nil {
		return err
	}
	d, err := newDemo(c, log)
	if err != nil {
		return err
	}
	rows, err := d.run()
	if err != nil {
		return err
	}
	if c.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	printDemoTable(stdout, d, rows)
	return nil
}

// checkEpochs checks the -epochs flag of demo and export: training the
// digits CNN takes 1 to 1000 epochs (0 would keep the random weights).
func checkEpochs(n int) error {
	if n < 1 || n > 1000 {
		return fmt.Errorf("-epochs %d out of range [1, 1000]", n)
	}
	return nil
}

// seedExample prints the original documentation's first example: torch's
// seeded rand(10) through FakeTensorQuant and TensorQuant.
func seedExample(w io.Writer, bits int) error {
	x, err := tensor.FromSlice(append([]float32{}, seedX...), len(seedX))
	if err != nil {
		return err
	}
	var amax float32
	for _, v := range x.Data {
		amax = max(amax, v)
	}
	f := fakequant.Format{NumBits: bits, NarrowRange: true}
	a := tensor.Scalar(amax)
	fake, err := fakequant.FakeTensorQuant(x, a, f)
	if err != nil {
		return err
	}
	q, scale, err := fakequant.TensorQuant(x, a, f)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "seed example: x = torch.rand(10) with torch.manual_seed(12345), amax = x.abs().max() = %.7g, %s\n", amax, f)
	fmt.Fprintf(w, "kernel: %s\n\n", fakequant.Implementation())
	fmt.Fprintf(w, "%-12s %-16s %s\n", "x", "fake_quant(x)", "tensor_quant(x)")
	for i := range x.Data {
		fmt.Fprintf(w, "%-12.7f %-16.7f %g\n", x.Data[i], fake.Data[i], q.Data[i])
	}
	fmt.Fprintf(w, "scale = %.7g\n\n", scale.Data[0])
	return nil
}

// demo is one run of the seed's workflow on the digits data set.
type demo struct {
	c           demoConfig
	log         io.Writer
	train, test digits.Set
	calib       []*tensor.Tensor // calibration batches
	float       *layers.Checkpoint
	floatAcc    float64
	report      report.Report
	// onnxPath and ckptPath are the files written, or "".
	onnxPath, ckptPath string
}

const (
	demoLR        = 0.01
	demoBatch     = 32
	calibBatches  = 4
	calibBatchLen = 128
)

func newDemo(c demoConfig, log io.Writer) (*demo, error) {
	set, err := digits.Load()
	if err != nil {
		return nil, err
	}
	train, test, err := set.Split(0.2, c.seed)
	if err != nil {
		return nil, err
	}
	d := &demo{c: c, log: log, train: train, test: test}
	// Calibration data: the first training images, a few batches of them,
	// as the original's examples calibrate on a few training batches.
	per := digits.Height * digits.Width
	for b := range calibBatches {
		t, err := tensor.FromSlice(train.X.Data[b*calibBatchLen*per:(b+1)*calibBatchLen*per], calibBatchLen, 1, digits.Height, digits.Width)
		if err != nil {
			return nil, err
		}
		d.calib = append(d.calib, t)
	}
	return d, nil
}

// cnn builds the demo's small CNN: two 3x3 convolutions with ReLU and max
// pooling, then a linear classifier.
func (d *demo) cnn() (layers.Layer, error) {
	rng := rand.New(rand.NewPCG(d.c.seed, 99))
	c1, err := layers.NewConv2d(1, 8, 3, layers.ConvOptions{Padding: 1}, rng)
	if err != nil {
		return nil, err
	}
	p1, err := layers.NewMaxPool2d(2, layers.PoolOptions{})
	if err != nil {
		return nil, err
	}
	c2, err := layers.NewConv2d(8, 16, 3, layers.ConvOptions{Padding: 1}, rng)
	if err != nil {
		return nil, err
	}
	p2, err := layers.NewMaxPool2d(2, layers.PoolOptions{})
	if err != nil {
		return nil, err
	}
	fc, err := layers.NewLinear(16*2*2, digits.Classes, true, rng)
	if err != nil {
		return nil, err
	}
	return layers.NewNamedSequential(
		layers.Named{Name: "features", Layer: layers.NewSequential(c1, layers.NewReLU(), p1, c2, layers.NewReLU(), p2)},
		layers.Named{Name: "classifier", Layer: layers.NewSequential(layers.NewFlatten(1, -1), fc)})
}

// trainFloat trains the float CNN and keeps its weights and accuracy.
func (d *demo) trainFloat() error {
	model, err := d.cnn()
	if err != nil {
		return err
	}
	if err := d.fit("train float", model, d.c.epochs, demoLR); err != nil {
		return err
	}
	if d.float, err = layers.Capture(model); err != nil {
		return err
	}
	d.floatAcc, err = d.accuracy(model)
	return err
}

// deployable returns the model tensorquant export writes when it is given
// no checkpoint: the float CNN, 8-bit max calibration, then the seed's
// fine-tuning recipe.
func (d *demo) deployable() (layers.Layer, error) {
	if err := d.trainFloat(); err != nil {
		return nil, err
	}
	m, err := d.quantized(descs(layers.QuantDesc8BitPerTensor(), func(*layers.QuantDescriptor) {}), "max")
	if err != nil {
		return nil, err
	}
	return m, d.fit("fine-tune", m, max(1, d.c.epochs/10), demoLR/100)
}

// quantStructure returns the quantized demo CNN with 8-bit max-calibrated
// descriptors and no amax yet: the structure a demo checkpoint loads into.
func (d *demo) quantStructure() (layers.Layer, error) {
	model, err := d.cnn()
	if err != nil {
		return nil, err
	}
	o := descs(layers.QuantDesc8BitPerTensor(), func(*layers.QuantDescriptor) {})
	o.Include = []string{"MaxPool2d"}
	return layers.QuantizeModel(model, o)
}

// exportSize returns the size of model's ONNX encoding (QDQ, weights as
// codes, the lowest opset its quantizers allow), and writes it to path
// when path is not empty.
func exportSize(model layers.Layer, path string) (int64, error) {
	m, err := export.Model(model, export.Options{InputShape: demoInputShape, Weights: export.WeightsQuantized})
	if err != nil {
		return 0, err
	}
	b, err := onnx.Marshal(m)
	if err != nil {
		return 0, err
	}
	if path != "" {
		if err := atomicfile.WriteBytes(path, b); err != nil {
			return 0, err
		}
	}
	return int64(len(b)), nil
}

// demoInputShape is one digits image, without the batch dimension.
var demoInputShape = []int{1, digits.Height, digits.Width}

// fit trains model with Adam and cosine annealing (to 1% of lr), reporting
// progress as label.
func (d *demo) fit(label string, model layers.Layer, epochs int, lr float64) error {
	params, err := layers.NamedParams(model)
	if err != nil {
		return err
	}
	opt, err := layers.NewAdam(params, layers.DefaultAdam(lr))
	if err != nil {
		return err
	}
	batches := (d.train.Len() + demoBatch - 1) / demoBatch
	bar := progress.New(d.log, label, epochs*batches)
	var last float64
	_, err = layers.Fit(model, d.train.X, d.train.Labels, layers.FitConfig{Epochs: epochs, BatchSize: demoBatch,
		Optimizer: opt, Schedule: layers.NewCosineAnnealing(lr, epochs), Seed: d.c.seed,
		Progress: func(p layers.Progress) {
			last = p.EpochLoss
			bar.Update(p.Epoch*p.Batches+p.Batch, fmt.Sprintf("epoch %d/%d loss %.4f", p.Epoch+1, p.Epochs, p.EpochLoss))
		}})
	if err != nil {
		return err
	}
	bar.Done(fmt.Sprintf("loss %.4f", last))
	return nil
}

func (d *demo) accuracy(model layers.Layer) (float64, error) {
	return layers.Accuracy(model, d.test.X, d.test.Labels, 256)
}

// quantized returns a copy of the float model with its layers replaced as o
// says (max pooling included), calibrated with method.
func (d *demo) quantized(o layers.ReplaceOptions, method calibrators.Method) (layers.Layer, error) {
	model, err := d.cnn()
	if err != nil {
		return nil, err
	}
	if err := d.float.Restore(model); err != nil {
		return nil, err
	}
	o.Include = []string{"MaxPool2d"}
	if model, err = layers.QuantizeModel(model, o); err != nil {
		return nil, err
	}
	bar := progress.New(d.log, "calibrate "+string(method), len(d.calib))
	if err := layers.Calibrate(model, d.calib, method, calibrators.AmaxOptions{}, func(done, _ int) { bar.Update(done, "") }); err != nil {
		return nil, err
	}
	bar.Done("")
	return model, nil
}

// descs returns ReplaceOptions with the given activation descriptor and
// the weights of Conv2d and Linear quantized per channel as mod says.
func descs(input layers.QuantDescriptor, mod func(*layers.QuantDescriptor)) layers.ReplaceOptions {
	conv, lin := layers.QuantDesc8BitConv2dWeightPerChannel(), layers.QuantDesc8BitLinearWeightPerRow()
	mod(&conv)
	mod(&lin)
	return layers.ReplaceOptions{Input: &input, Descs: map[string]layers.QuantDescs{"Conv2d": {Weight: &conv}, "Linear": {Weight: &lin}}}
}

func (d *demo) run() ([]demoRow, error) {
	var rows []demoRow
	add := func(method string, model layers.Layer, start time.Time, note string) (float64, error) {
		secs := time.Since(start).Seconds()
		acc, err := d.accuracy(model)
		if err != nil {
			return 0, err
		}
		rows = append(rows, demoRow{Method: method, Top1: acc, Delta: acc - d.floatAcc, Seconds: secs, Note: note})
		return acc, nil
	}

	// 1. Float training.
	start := time.Now()
	if err := d.trainFloat(); err != nil {
		return nil, err
	}
	rows = append(rows, demoRow{Method: "float", Top1: d.floatAcc, Seconds: time.Since(start).Seconds()})
	floatModel, err := d.cnn()
	if err != nil {
		return nil, err
	}
	if err := d.float.Restore(floatModel); err != nil {
		return nil, err
	}
	if rows[0].ONNXBytes, err = exportSize(floatModel, ""); err != nil {
		return nil, err
	}

	// 2. Post-training quantization: activations per tensor with each
	// calibration method, weights per channel with max.
	bits := d.c.bits
	act := layers.QuantDesc8BitPerTensor()
	act.NumBits = bits
	weightBits := func(q *layers.QuantDescriptor) { q.NumBits = bits }
	type ptq struct {
		method calibrators.Method
		model  layers.Layer
		acc    float64
	}
	var results []ptq
	for _, method := range []calibrators.Method{"max", "entropy", "percentile", "mse"} {
		start := time.Now()
		in := act.Clone()
		if method != calibrators.MethodMax {
			in.CalibMethod = layers.CalibHistogram
		}
		m, err := d.quantized(descs(in, weightBits), method)
		if err != nil {
			return nil, fmt.Errorf("%s calibration: %w", method, err)
		}
		name := fmt.Sprintf("int%d PTQ, %s", bits, method)
		if method == "percentile" {
			name += " 99.99"
		}
		acc, err := add(name, m, start, "")
		if err != nil {
			return nil, err
		}
		results = append(results, ptq{method, m, acc})
	}
	// The network input holds only the 17 pixel levels of the data set: on
	// that spiky histogram the KL search keeps amax = 1/16 (the original's
	// search does the same). Calibrating that one quantizer with max, as is
	// common for a network's input, repairs the entropy model.
	if ent := results[1]; ent.acc < results[0].acc-0.01 {
		start := time.Now()
		if err := copyAmax(results[0].model, ent.model, "features.0.input_quantizer"); err != nil {
			return nil, err
		}
		acc, err := add(fmt.Sprintf("int%d PTQ, entropy (input quantizer: max)", bits), ent.model, start,
			"the network input has 17 levels: entropy picks amax 1/16 there")
		if err != nil {
			return nil, err
		}
		results[1].acc = acc
	}
	best := results[0]
	for _, r := range results[1:] {
		if r.acc > best.acc {
			best = r
		}
	}
	if err := d.addReport(results[0].model, results[1].model); err != nil {
		return nil, err
	}

	// 3. Quantization-aware fine-tuning of the best, with the seed's recipe:
	// 10% of the schedule at 1% of the learning rate, cosine annealing.
	qatEpochs := max(1, d.c.epochs/10)
	start = time.Now()
	if err := d.fit("fine-tune "+string(best.method), best.model, qatEpochs, demoLR/100); err != nil {
		return nil, err
	}
	if _, err := add(fmt.Sprintf("int%d QAT (best PTQ: %s)", bits, best.method), best.model, start, ""); err != nil {
		return nil, err
	}
	if bits == 8 {
		// The deployable result: the fine-tuned model as ONNX (QDQ, opset
		// 13) and as a checkpoint for tensorquant export.
		d.onnxPath = filepath.Join(d.c.out, "tensorquant-demo.onnx")
		n, err := exportSize(best.model, d.onnxPath)
		if err != nil {
			return nil, err
		}
		rows[len(rows)-1].ONNXBytes = n
		if best.method == calibrators.MethodMax {
			d.ckptPath = filepath.Join(d.c.out, "tensorquant-demo.tqckpt")
			if err := layers.SaveCheckpoint(d.ckptPath, best.model); err != nil {
				return nil, err
			}
		}
	}

	// 4. Lower-precision weights with 8-bit activations calibrated by the
	// best method: 4-bit per channel (PTQ, then QAT), FP8 E4M3, INT4 blocks.
	act8 := layers.QuantDesc8BitPerTensor()
	if best.method != calibrators.MethodMax {
		act8.CalibMethod = layers.CalibHistogram
	}
	variants := []struct {
		name string
		mod  func(*layers.QuantDescriptor)
		qat  bool
	}{
		{"int4 weights, int8 act, PTQ", func(q *layers.QuantDescriptor) { q.NumBits = 4 }, true},
		{"fp8 e4m3 weights, int8 act, PTQ", func(q *layers.QuantDescriptor) { q.Format = layers.FormatE4M3 }, false},
		{"int4 block-32 weights, int8 act, PTQ", func(q *layers.QuantDescriptor) { q.NumBits, q.Axis, q.BlockSize = 4, nil, 32 }, false},
	}
	for _, v := range variants {
		start := time.Now()
		m, err := d.quantized(descs(act8, v.mod), best.method)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.name, err)
		}
		if _, err := add(v.name, m, start, ""); err != nil {
			return nil, err
		}
		if rows[len(rows)-1].ONNXBytes, err = exportSize(m, ""); err != nil {
			return nil, fmt.Errorf("%s: export: %w", v.name, err)
		}
		if v.qat {
			start := time.Now()
			if err := d.fit("fine-tune int4", m, qatEpochs, demoLR/100); err != nil {
				return nil, err
			}
			if _, err := add("int4 weights, int8 act, QAT", m, start, ""); err != nil {
				return nil, err
			}
			rows[len(rows)-1].ONNXBytes = rows[len(rows)-2].ONNXBytes
		}
	}
	if d.c.report != "" {
		for _, r := range rows {
			d.report.Table.Rows = append(d.report.Table.Rows, []string{r.Method, fmt.Sprintf("%.2f%%", 100*r.Top1),
				fmt.Sprintf("%+.2f", 100*r.Delta), fmt.Sprintf("%.2f s", r.Seconds)})
		}
		if err := report.WriteFile(d.c.report, d.report); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// copyAmax sets the amax of the quantizer called name in dst to its amax
// in src.
func copyAmax(src, dst layers.Layer, name string) error {
	find := func(m layers.Layer) (*layers.TensorQuantizer, error) {
		qs, err := layers.NamedQuantizers(m)
		if err != nil {
			return nil, err
		}
		for _, q := range qs {
			if q.Name == name {
				return q.Quantizer, nil
			}
		}
		return nil, fmt.Errorf("no quantizer %s", name)
	}
	s, err := find(src)
	if err != nil {
		return err
	}
	d, err := find(dst)
	if err != nil {
		return err
	}
	return d.SetAmax(s.Amax())
}

// addReport prepares the calibration report: for every activation
// quantizer, the histogram it collected and the amax of each method.
func (d *demo) addReport(maxModel, histModel layers.Layer) error {
	if d.c.report == "" {
		return nil
	}
	d.report = report.Report{
		Title: "tensorquant demo: calibration of the digits CNN",
		Notes: []string{fmt.Sprintf("%d calibration images; activations per tensor, weights per channel; %d-bit.", calibBatches*calibBatchLen, d.c.bits)},
		Table: report.Table{Columns: []string{"method", "top-1", "Δ vs float (points)", "time"}},
	}
	maxQs, err := layers.NamedQuantizers(maxModel)
	if err != nil {
		return err
	}
	histQs, err := layers.NamedQuantizers(histModel)
	if err != nil {
		return err
	}
	for i, q := range histQs {
		h, ok := q.Quantizer.Calibrator().(*calibrators.Histogram)
		if !ok {
			continue
		}
		r := report.Histogram{Name: q.Name, Counts: h.Counts(), Edges: h.Edges()}
		if a := maxQs[i].Quantizer.Amax(); a != nil && a.Numel() == 1 {
			r.Amax = append(r.Amax, report.Marker{Label: "max", Value: float64(a.Data[0])})
		}
		for _, m := range []calibrators.Method{"entropy", "percentile", "mse"} {
			a, err := h.ComputeAmax(m, calibrators.AmaxOptions{})
			if err != nil {
				return fmt.Errorf("%s: %w", q.Name, err)
			}
			r.Amax = append(r.Amax, report.Marker{Label: string(m), Value: float64(a.Data[0])})
		}
		d.report.Quantizers = append(d.report.Quantizers, r)
	}
	return nil
}

func printDemoTable(w io.Writer, d *demo, rows []demoRow) {
	fmt.Fprintf(w, "the seed's workflow on the UCI digits data set (%d train / %d test images), seed %d\n\n", d.train.Len(), d.test.Len(), d.c.seed)
	fmt.Fprintf(w, "%-44s %8s %11s %8s %10s\n", "method", "top-1", "Δ vs float", "time", "ONNX size")
	var notes []string
	for _, r := range rows {
		mark, size := "", ""
		if r.Note != "" {
			notes = append(notes, r.Note)
			mark = fmt.Sprintf(" [%d]", len(notes))
		}
		if r.ONNXBytes > 0 {
			size = fmt.Sprintf("%d B", r.ONNXBytes)
		}
		line := fmt.Sprintf("%-44s %7.2f%% %+11.2f %7.2fs %10s%s", r.Method, 100*r.Top1, 100*r.Delta, r.Seconds, size, mark)
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
	for i, n := range notes {
		fmt.Fprintf(w, "[%d] %s\n", i+1, n)
	}
	fmt.Fprintln(w)
	for _, f := range []string{d.onnxPath, d.ckptPath, d.c.report} {
		if f != "" {
			fmt.Fprintf(w, "wrote %s\n", filepath.Clean(f))
		}
	}
}
