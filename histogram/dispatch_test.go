//go:build gc && (amd64 || arm64) && !purego

package histogram

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// TestDispatchUsesBestFamily fails when the binning does not run the
// family this CPU should run at a length.
func TestDispatchUsesBestFamily(t *testing.T) {
	kerneltest.CheckDispatch(t, kerneltest.Dispatch{Kernel: "histc", Family: family})
}
