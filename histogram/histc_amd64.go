//go:build gc && !purego

package histogram

import "github.com/tensorquant/tensorquant/internal/cpufeat"

func histcKernel(sub []uint32, x []float32, p *histcParams) {
	switch cpufeat.Selected {
	default:
		histcGeneric(sub, x, p)
	}
}

func implName() string {
	switch cpufeat.Selected {
	default:
		return "generic"
	}
}
