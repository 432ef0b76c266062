//go:build (!amd64 && !arm64) || !gc || purego

package fakequant

import "github.com/tensorquant/tensorquant/internal/cpufeat"

func encodeFP8With(_ cpufeat.Impl, dst []uint8, src []float32, scale float32, p *fp8Params, saturate bool) {
	encodeFP8Generic(dst, src, scale, p, saturate)
}

func decodeFP8With(_ cpufeat.Impl, dst []float32, src []uint8, scale float32, p *fp8Params) {
	decodeFP8Generic(dst, src, scale, p)
}

func fakeQuantFP8With(_ cpufeat.Impl, dst, src []float32, scale float32, p *fp8Params) {
	fakeQuantFP8Generic(dst, src, scale, p)
}

// fp8ImplName names the code the FP8 dispatch runs for family i.
func fp8ImplName(cpufeat.Impl) string { return "generic" }
