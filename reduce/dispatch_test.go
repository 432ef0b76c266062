//go:build gc && (amd64 || arm64) && !purego

package reduce

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

// TestDispatchUsesBestFamily fails when the CPU supports a kernel family
// that dispatch does not run, so a broken dispatch cannot hide behind the
// generic fallback.
func TestDispatchUsesBestFamily(t *testing.T) { kerneltest.CheckDispatch(t, implName) }
