//go:build gc && !purego

package reduce

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// absMax dispatches AbsMax to the kernel family in cpufeat.Selected.
func absMax(x []float32) float32 {
	switch cpufeat.Selected {
	default:
		return absMaxGeneric(x)
	}
}

// implName names the family absMax really runs for cpufeat.Selected.
func implName() string {
	switch cpufeat.Selected {
	default:
		return "generic"
	}
}
