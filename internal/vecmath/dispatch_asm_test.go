//go:build gc && !purego && (amd64 || arm64)

package vecmath

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/testkit/kerneltest"
)

func TestDispatch(t *testing.T) { kerneltest.CheckDispatch(t, implName) }
