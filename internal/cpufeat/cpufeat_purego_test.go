//go:build purego

package cpufeat

import "testing"

func TestPuregoIsGeneric(t *testing.T) {
	if Best != Generic || len(Available()) != 1 {
		t.Fatalf("purego build: Best = %v, Available = %v", Best, Available())
	}
}
