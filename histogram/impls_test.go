package histogram

import (
	"testing"

	"github.com/tensorquant/tensorquant/internal/cpufeat"
)

// forEachImpl runs f once per kernel family this machine supports, with the
// package dispatching to that family.
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, i := range cpufeat.Available() {
		restore := cpufeat.Use(i)
		t.Run(i.String(), f)
		restore()
	}
}
