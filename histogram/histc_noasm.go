//go:build (!amd64 && !arm64) || !gc || purego

package histogram

func histcKernel(sub []uint32, x []float32, p *histcParams) { histcGeneric(sub, x, p) }

func implName() string { return "generic" }
