//go:build (!amd64 && !arm64) || !gc || purego

package fakequant

import "github.com/tensorquant/tensorquant/internal/cpufeat"

func scaledE4M3With(_ cpufeat.Impl, dst, src []float32, scale float32) {
	scaledE4M3Generic(dst, src, scale)
}
