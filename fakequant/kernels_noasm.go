//go:build (!amd64 && !arm64) || !gc || purego

package fakequant

func fakeQuant(dst, src []float32, sq, so, lo, hi float32) {
	fakeQuantGeneric(dst, src, sq, so, lo, hi)
}

func fakeQuantVec(dst, src, sq, so []float32, lo, hi float32) {
	fakeQuantVecGeneric(dst, src, sq, so, lo, hi)
}

func quantInt8(dst []int8, src []float32, sq, lo, hi float32) {
	quantInt8Generic(dst, src, sq, lo, hi)
}

func quantLinear(dst []byte, src []float32, scale, lo, hi float32, zp int32) {
	quantLinearGeneric(dst, src, scale, lo, hi, zp)
}

func dequantInt8(dst []float32, src []int8, so float32) { dequantInt8Generic(dst, src, so) }

func ste(dst, x, dy []float32, amax float32) { steGeneric(dst, x, dy, amax) }
