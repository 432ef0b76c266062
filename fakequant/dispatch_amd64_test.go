//go:build gc && !purego

package fakequant

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/kerneltest"
)

func TestDispatchUsesBestFamily(t *testing.T) { kerneltest.CheckDispatch(t, implName) }
