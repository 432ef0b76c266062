//go:build (!amd64 && !arm64) || !gc || purego

package histogram

func histcKernel(sub []uint32, x []float32, p *histcParams) (all bool) {
	histcGeneric(sub, x, p)
	return false
}
