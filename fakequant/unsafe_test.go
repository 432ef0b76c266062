package fakequant

import "unsafe"

// unsafeF32 reinterprets a []uint32 as []float32 (same size and alignment).
func unsafeF32(u []uint32) []float32 {
	if len(u) == 0 {
		return []float32{}
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&u[0])), len(u))
}
