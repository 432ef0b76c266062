//go:build gc && !purego

package vecmath

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

func TestDispatch(t *testing.T) { kerneltest.CheckDispatch(t, implName) }
