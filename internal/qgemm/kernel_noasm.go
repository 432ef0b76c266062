//go:build (!amd64 && !arm64) || !gc || purego

package qgemm

import "unsafe"

// hasAsm reports whether this build has assembly kernels.
const hasAsm = false

func dot(f family, _, taps, c4 int, ind []unsafe.Pointer, w []int8, c []int32) {
	dotGeneric(geometries[f], taps, c4, ind, w, c)
}

func epiInt32(_ family, p, colTerm, zp []int32, rho int32, out []int32) {
	epiInt32Generic(p, colTerm, zp, rho, out)
}

func epiQuant(_ family, p, colTerm, zp []int32, rho int32, scale []float32, q *quantParams, out []byte) {
	epiQuantGeneric(p, colTerm, zp, rho, scale, q, out)
}

func epiFloat(_ family, p, colTerm, zp []int32, rho int32, scale, bias []float32, out []float32) {
	epiFloatGeneric(p, colTerm, zp, rho, scale, bias, out)
}

func dwRow(f family, taps, c int, ind []unsafe.Pointer, zk int32, w []int16, p []int32) {
	dwGeneric(geometries[f].signed, taps, c, ind, zk, w, p)
}
