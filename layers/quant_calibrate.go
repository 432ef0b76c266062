package layers

import (
	"fmt"

	"github.com/tensorquant/tensorquant/calibrators"
	"github.com/tensorquant/tensorquant/tensor"
)

// Calibrate runs the original toolkit's post-training calibration loop on
// every quantizer of model:
//
//	for each quantizer: DisableQuant(); EnableCalib()
//	model.Forward(batch) for each batch
//	for each quantizer: LoadCalibAmax(...); DisableCalib(); EnableQuant()
//
// Quantizers whose descriptor calibrates with "max" load the max amax;
// histogram quantizers load method (calibrators.MethodEntropy,
// MethodPercentile or MethodMSE) with options o. Disabled quantizers are left alone. Calibrate reports
// progress, if progress is not nil, after each batch.
//
// It returns the first error of a forward pass, or of loading an amax
// (naming the quantizer by its hierarchical name); the quantizers are then
// left in whatever stage they reached.
func Calibrate(model Layer, batches []*tensor.Tensor, method calibrators.Method, o calibrators.AmaxOptions, progress func(done, total int)) error {
	qs, err := NamedQuantizers(model)
	if err != nil {
		return err
	}
	for _, q := range qs {
		if !q.Quantizer.Disabled() {
			q.Quantizer.DisableQuant()
			q.Quantizer.EnableCalib()
		}
	}
	for i, b := range batches {
		if _, err := model.Forward(b); err != nil {
			return fmt.Errorf("layers: calibration batch %d: %w", i, err)
		}
		if progress != nil {
			progress(i+1, len(batches))
		}
	}
	for _, q := range qs {
		if q.Quantizer.Disabled() {
			continue
		}
		m := method
		if q.Quantizer.Descriptor().Method() == CalibMax {
			m = calibrators.MethodMax
		}
		if err := q.Quantizer.LoadCalibAmax(m, o); err != nil {
			return fmt.Errorf("layers: %s: %w", q.Name, err)
		}
		q.Quantizer.DisableCalib()
		q.Quantizer.EnableQuant()
	}
	return nil
}
