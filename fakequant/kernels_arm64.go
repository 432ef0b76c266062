//go:build gc && !purego

package fakequant

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// The dispatchers send each kernel to the family in cpufeat.Selected.

func fakeQuant(dst, src []float32, sq, so, lo, hi float32) {
	switch cpufeat.Selected {
	default:
		fakeQuantGeneric(dst, src, sq, so, lo, hi)
	}
}

func fakeQuantVec(dst, src, sq, so []float32, lo, hi float32) {
	switch cpufeat.Selected {
	default:
		fakeQuantVecGeneric(dst, src, sq, so, lo, hi)
	}
}

func quantInt8(dst []int8, src []float32, sq, lo, hi float32) {
	switch cpufeat.Selected {
	default:
		quantInt8Generic(dst, src, sq, lo, hi)
	}
}

func dequantInt8(dst []float32, src []int8, so float32) {
	switch cpufeat.Selected {
	default:
		dequantInt8Generic(dst, src, so)
	}
}

func ste(dst, x, dy []float32, amax float32) {
	switch cpufeat.Selected {
	default:
		steGeneric(dst, x, dy, amax)
	}
}

// implName names the family the dispatchers really use for cpufeat.Selected.
func implName() string {
	switch cpufeat.Selected {
	default:
		return "generic"
	}
}
