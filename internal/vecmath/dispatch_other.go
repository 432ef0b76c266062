//go:build (!amd64 && !arm64) || !gc || purego

package vecmath

// Without assembly the tables stay empty and every slice runs the generic
// code; coverLen is never consulted, and the reductions do nothing.
func coverLen(int) int { return 0 }

func maxBlocks(*[lanes]float32, []float32) int                                 { return 0 }
func sumBlocks(*[lanes]float32, []float32) int                                 { return 0 }
func sqDevBlocks(*[lanes]float32, []float32, float32) int                      { return 0 }
func expSumBlocks(*[lanes]float32, []float32, []float32, float32, float32) int { return 0 }

// softmaxRow reports false: the generic code runs Softmax.
func softmaxRow(_, _ []float32, _ float32) bool { return false }

// normRow reports false: the generic code runs LayerNorm.
func normRow(_, _, _, _ []float32, _ float32) (mean, invStd float32, ok bool) { return 0, 0, false }
