//go:build (!amd64 && !arm64) || !gc || purego

package reduce

func absMax(x []float32) float32 { return absMaxGeneric(x) }
