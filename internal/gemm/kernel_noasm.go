//go:build (!amd64 && !arm64) || !gc || purego

package gemm

import "github.com/tensorquant/tensorquant/internal/cpufeat"

func selectKernel() kernel {
	return kernel{impl: cpufeat.Generic, mr: mrGeneric, nr: nrGeneric, mc: 64 * mrGeneric}
}

func microKernel(_ cpufeat.Impl, k int, a, b, c []float32, ldc int, acc bool) {
	kernelGeneric(k, a, b, c, ldc, acc)
}

func transposeBlocks([]float32, int, []float32, int, int) int { return 0 }
