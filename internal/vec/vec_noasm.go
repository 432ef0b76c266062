//go:build (!amd64 && !arm64) || !gc || purego

package vec

import "github.com/tensorquant/tensorquant/internal/cpufeat"

// reluGradAsm has no kernel here: ReluGrad runs reluGradGeneric.
func reluGradAsm(_, _, _ []float32) bool { return false }

func hasAsm(cpufeat.Impl) bool { return false }

func finishAsm(_, _, _ []float32, _, _, _ float32) bool { return false }

func finishRowsAsm(_ []float32, _ int, _ []float32, _, _, _ int, _ []float32, _ int, _ []float32, _ int, _, _ float32) bool {
	return false
}
