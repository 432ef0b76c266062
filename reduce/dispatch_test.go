//go:build gc && (amd64 || arm64) && !purego

package reduce

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// TestDispatchUsesBestFamily fails when AbsMax does not run the family
// this CPU should run at a length: AVX2 from 8 Mi elements on where
// AVX-512 is selected and cpufeat.SizeSwitch holds (BENCHMARKS.md).
func TestDispatchUsesBestFamily(t *testing.T) {
	kerneltest.CheckDispatch(t, kerneltest.Dispatch{Kernel: "AbsMax", Family: family, AVX2From: 8 << 20})
}
