package layers_test

import (
	"fmt"
	"strings"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/data/digits"
	"github.com/tensorquant/tensorquant/layers"
	"github.com/tensorquant/tensorquant/tensor"
)

// The seed's post-training quantization in Go: replace the float layers,
// run the calibration loop over the quantizers by name, and load the
// amaxes.
func ExampleNamedQuantizers() {
	set, err := digits.Load()
	if err != nil {
		panic(err)
	}
	float, err := newCNN(1) // in practice a trained model
	if err != nil {
		panic(err)
	}
	model, err := layers.QuantizeModel(float, layers.ReplaceOptions{Include: []string{"MaxPool2d"}})
	if err != nil {
		panic(err)
	}
	qs, err := layers.NamedQuantizers(model)
	if err != nil {
		panic(err)
	}
	for _, q := range qs {
		q.Quantizer.DisableQuant()
		q.Quantizer.EnableCalib()
	}
	batch := &tensor.Tensor{Shape: []int{256, 1, 8, 8}, Data: set.X.Data[:256*64]}
	if _, err := model.Forward(batch); err != nil {
		panic(err)
	}
	for _, q := range qs {
		if err := q.Quantizer.LoadCalibAmax("max", calibrators.AmaxOptions{}); err != nil {
			panic(err)
		}
		q.Quantizer.DisableCalib()
		q.Quantizer.EnableQuant()
		if strings.HasSuffix(q.Name, "input_quantizer") {
			fmt.Println(q.Name)
		}
	}
	conv, err := layers.Find(model, "features.0")
	if err != nil {
		panic(err)
	}
	fmt.Println(layers.Describe(conv))
	// Output:
	// features.0.input_quantizer
	// features.2.input_quantizer
	// features.3.input_quantizer
	// features.5.input_quantizer
	// classifier.1.input_quantizer
	// QuantConv2d(
	//   1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1)
	//   (input_quantizer): TensorQuantizer(8bit fake per-tensor amax=1.0000 calibrator=MaxCalibrator scale=1.0 quant)
	//   (weight_quantizer): TensorQuantizer(8bit fake axis=0 amax=[0.2368, 0.3333](8) calibrator=MaxCalibrator scale=1.0 quant)
	// )
}

// Every quantized layer is Quant around its float layer: the original's
// QuantConv2d is Quant[*Conv2d], whose float layer (and weights) is Float.
func ExampleQuantize() {
	conv, err := layers.NewConv2d(1, 4, 3, layers.ConvOptions{}, nil) // nil: a fixed seed
	if err != nil {
		panic(err)
	}
	// The quantized type's defaults, as the original's class attributes:
	// inputs per tensor, weights per output channel.
	hist := layers.QuantDesc8BitPerTensor()
	hist.CalibMethod = layers.CalibHistogram
	if err := layers.SetDefaultQuantDescInput[*layers.Conv2d](hist); err != nil {
		panic(err)
	}
	defer layers.SetDefaultQuantDescInput[*layers.Conv2d](layers.QuantDesc8BitPerTensor())
	q, err := layers.Quantize(conv, layers.QuantDescs{})
	if err != nil {
		panic(err)
	}
	qc := q.(*layers.QuantConv2d)
	fmt.Println(qc.Kind(), qc.Float.Weight.Shape)
	fmt.Println(qc.InputQuantizer)
	fmt.Println(qc.WeightQuantizer)
	// Output:
	// QuantConv2d [4 1 3 3]
	// TensorQuantizer(8bit fake per-tensor amax=dynamic calibrator=HistogramCalibrator scale=1.0 quant)
	// TensorQuantizer(8bit fake axis=0 amax=dynamic calibrator=MaxCalibrator scale=1.0 quant)
}
