//go:build (!amd64 && !arm64) || !gc || purego

package gemm

import "github.com/tensorquant/tensorquant/internal/cpufeat"

func selectKernel() kernel {
	return kernel{impl: cpufeat.Generic, mr: mrGeneric, nr: nrGeneric, mc: 64 * mrGeneric}
}

func microKernel(_ cpufeat.Impl, k int, a, b, c []float32, ldc int, acc bool) {
	kernelGeneric(k, a, b, c, ldc, acc)
}

// hasFinishKernel: no family here has a micro-kernel with a fused
// epilogue; Gemm applies it after the micro-kernel.
func hasFinishKernel(cpufeat.Impl) bool { return false }

// microKernelFinish is finishTileGeneric (no family here fuses the
// epilogue).
func microKernelFinish(kern kernel, ep *Epilogue, _ *tileFinish, k int, a, b, c []float32, ldc int, acc bool, i, j, rows int) {
	finishTileGeneric(kern, ep, k, a, b, c, ldc, acc, i, j, rows)
}

// microKernelTiles is microKernel on the tiles of rows rows one below
// the other, one call each (tilesGeneric).
func microKernelTiles(kern kernel, k int, a, b, c []float32, ldc int, acc bool, rows int) {
	tilesGeneric(kern, k, a, b, c, ldc, acc, rows)
}

// transposeBlocks: the generic code packs.
func transposeBlocks([]float32, int, []float32, int, int) int { return 0 }

// transpose6Blocks: the generic code packs.
func transpose6Blocks([]float32, []float32, int, int) int { return 0 }
