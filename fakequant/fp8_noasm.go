//go:build (!amd64 && !arm64) || !gc || purego

package fakequant

func encodeFP8(dst []uint8, src []float32, scale float32, p *fp8Params, saturate bool) {
	encodeFP8Generic(dst, src, scale, p, saturate)
}

func decodeFP8(dst []float32, src []uint8, scale float32, p *fp8Params) {
	decodeFP8Generic(dst, src, scale, p)
}

func fakeQuantFP8(dst, src []float32, scale float32, p *fp8Params) {
	fakeQuantFP8Generic(dst, src, scale, p)
}
